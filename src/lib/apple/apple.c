/* apple.c - see include/vppnotify/apple.h. */
#include "vppnotify/apple.h"
#include "vppnotify/apple_errors.h"
#include "vppnotify/buf.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/metrics.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESPONSE_MAX (64LL << 20) /* the largest answer read (a page is a few hundred KB) */
#define MAX_BUCKETS  1024
#define MAX_URLS     64
#define DEFAULT_RATE 15

struct bucket {
    char uid[264];
    double tokens;
    int64_t last_ns;       /* last refill */
    int64_t not_before_ns; /* backoff: no request for this location before then */
    int64_t used_ns;       /* for eviction */
};

struct url_entry {
    char key[48];
    char *url; /* owned */
};

#define POOL_MAX 8 /* idle easy handles kept (more threads than this make new ones) */

struct vn_apple {
    struct vn_apple_options o;
    char *base;  /* owned, without a trailing '/' */
    char ua[96]; /* User-Agent */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* a bucket may have room, or we were cancelled */
    int cancelled;
    int draining; /* vn_apple_drain */

    /* Service Config, guarded by mu. */
    struct vn_apple_service svc;
    struct url_entry urls[MAX_URLS];
    size_t nurls;
    int64_t svc_mono_ns;        /* when it was read (monotonic); 0: never */
    int64_t svc_failed_mono_ns; /* when a read last failed: no new try for 30 s */
    int svc_fetching;

    struct bucket buckets[MAX_BUCKETS];
    size_t nbuckets;
    int64_t service_not_before_ns; /* backoff of the unauthenticated Service Config */

    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

    /*
     * Easy handles between calls, each with its connections kept alive, guarded by mu. A call
     * takes one (the last put back first, so a thread tends to meet its own connection again)
     * and puts it back after curl_easy_reset: options go, live connections stay. libcurl does
     * not support one connection cache shared by concurrent threads, hence a pool of handles
     * rather than CURL_LOCK_DATA_CONNECT.
     */
    CURL *pool[POOL_MAX];
    size_t npool;
};

/* ---- pure helpers --------------------------------------------------------------------- */

void vn_apple_limits_default(struct vn_apple_limits *l)
{
    *l = (struct vn_apple_limits){
        .max_assets = 25,
        .max_client_user_ids = 1000,
        .max_serial_numbers = 1000,
        .max_revoke_client_user_ids = 100,
        .max_revoke_serial_numbers = 100,
        .max_users = 100,
        .max_subscriptions = 25,
        .max_subscription_client_user_ids = 1000,
        .max_notification_length = 512,
        .max_mdm_name_length = 100,
        .max_mdm_id_length = 100,
        .max_mdm_metadata_length = 255,
        .max_request_per_second = DEFAULT_RATE,
    };
}

int vn_apple_retryable(int http_status, int number)
{
    if (number == VN_APPLE_TOO_MANY_REQUESTS || number == VN_APPLE_INTERNAL_ERROR ||
        number == VN_APPLE_SERVICE_UNAVAILABLE || number == VN_APPLE_MAINTENANCE)
        return 1;
    return http_status == 429 || (http_status >= 500 && http_status <= 599);
}

long long vn_apple_backoff_ms(int attempt, long long base_ms, long long cap_ms,
                              long long retry_after_ms, long long retry_cap_ms, uint32_t rnd)
{
    long long ceiling = base_ms > 0 ? base_ms : 1;

    if (retry_after_ms > 0)
        return retry_after_ms < retry_cap_ms ? retry_after_ms : retry_cap_ms;
    for (int i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    if (ceiling <= 0)
        return 0;
    /* Full jitter: uniform in [0, ceiling]. */
    return (long long)(((unsigned long long)rnd * (unsigned long long)(ceiling + 1)) >> 32);
}

void vn_apple_explain(struct vn_apple_failure *why, int http_status, int number,
                      const char *apple_msg, const char *what)
{
    const struct vn_apple_error_info *e = number ? vn_apple_error_lookup(number) : NULL;

    if (!why)
        return;
    why->http_status = http_status;
    why->number = number;
    why->name = number ? (e ? e->name : "UNKNOWN_ERROR") : NULL;
    if (number)
        snprintf(why->message, sizeof(why->message), "%s: Apple error %d %s (HTTP %d): %s%s%s%s",
                 what, number, why->name, http_status,
                 apple_msg && *apple_msg ? apple_msg
                 : e                     ? e->message
                                         : "no message",
                 e && e->advice ? " (what to do: " : "", e && e->advice ? e->advice : "",
                 e && e->advice ? ")" : "");
    else
        snprintf(why->message, sizeof(why->message), "%s: HTTP %d without an Apple error body",
                 what, http_status);
}

int vn_apple_url_check(const char *url, struct vn_error *err)
{
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = VN_EPARSE;

    if (!h)
        return vn_error_set(err, -ENOMEM, "out of memory");
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        vn_error_set(err, VN_EPARSE, "'%s' is not a URL", url);
        goto out;
    }
    if (!strcmp(scheme, "https") ||
        (!strcmp(scheme, "http") &&
         (!strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "[::1]"))))
        rc = 0;
    else
        vn_error_set(err, VN_EPARSE,
                     "URL '%s' must use https (plain http only to 127.0.0.1, ::1 or localhost)",
                     url);
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(h);
    return rc;
}

int vn_apple_query_add(struct vn_buf *q, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = vn_buf_printf(q, "%s%s=", q->len ? "&" : "", name);

    for (const unsigned char *p = (const unsigned char *)value; !rc && *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = vn_buf_append(q, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = vn_buf_append(q, e, 3);
        }
    }
    return rc;
}

/* ---- life cycle --------------------------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    struct vn_apple *a = ud;
    (void)h;
    (void)access;
    pthread_mutex_lock(&a->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct vn_apple *a = ud;
    (void)h;
    pthread_mutex_unlock(&a->share_mu[data]);
}

struct vn_apple *vn_apple_new(const struct vn_apple_options *opts, struct vn_error *err)
{
    struct vn_apple *a;
    pthread_condattr_t ca;
    size_t n;

    if (!opts->base_url || vn_apple_url_check(opts->base_url, err) != 0) {
        if (!opts->base_url)
            vn_error_set(err, VN_EUSAGE, "no Apple URL given");
        vn_error_prefix(err, "--apple-url");
        return NULL;
    }
    a = calloc(1, sizeof(*a));
    if (!a || !(a->base = strdup(opts->base_url))) {
        free(a);
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    n = strlen(a->base);
    while (n > 0 && a->base[n - 1] == '/')
        a->base[--n] = '\0';
    a->o = *opts;
    a->o.base_url = a->base;
    a->o.instance = NULL; /* only in ua */
    if (opts->instance && *opts->instance)
        snprintf(a->ua, sizeof(a->ua), "vppnotify/%s (instance %.40s)", VN_VERSION, opts->instance);
    else
        snprintf(a->ua, sizeof(a->ua), "vppnotify/%s", VN_VERSION);
    if (a->o.timeout_ms <= 0)
        a->o.timeout_ms = 30000;
    if (a->o.config_refresh_ms <= 0)
        a->o.config_refresh_ms = 300000;
    if (a->o.max_attempts <= 0)
        a->o.max_attempts = 6;
    if (a->o.backoff_ms <= 0)
        a->o.backoff_ms = 1000;
    if (a->o.backoff_max_ms <= 0)
        a->o.backoff_max_ms = 60000;
    if (a->o.retry_after_max_ms <= 0)
        a->o.retry_after_max_ms = 300000;
    if (a->o.lock_wait_ms == 0)
        a->o.lock_wait_ms = VN_APPLE_LOCK_WAIT_MS;
    else if (a->o.lock_wait_ms < 0)
        a->o.lock_wait_ms = 0;
    vn_apple_limits_default(&a->svc.limits);
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&a->share_mu[i], NULL);
    a->share = curl_share_init();
    if (a->share) {
        curl_share_setopt(a->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(a->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(a->share, CURLSHOPT_USERDATA, a);
        curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    return a;
}

void vn_apple_free(struct vn_apple *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->npool; i++)
        curl_easy_cleanup(a->pool[i]);
    if (a->share)
        curl_share_cleanup(a->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&a->share_mu[i]);
    for (size_t i = 0; i < a->nurls; i++)
        free(a->urls[i].url);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a->base);
    free(a);
}

void vn_apple_cancel(struct vn_apple *a)
{
    pthread_mutex_lock(&a->mu);
    a->cancelled = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void vn_apple_drain(struct vn_apple *a)
{
    pthread_mutex_lock(&a->mu);
    a->draining = 1;
    pthread_mutex_unlock(&a->mu);
}

int vn_apple_draining(struct vn_apple *a)
{
    int draining;

    pthread_mutex_lock(&a->mu);
    draining = a->draining || a->cancelled;
    pthread_mutex_unlock(&a->mu);
    return draining;
}

long long vn_apple_lock_wait_ms(const struct vn_apple *a)
{
    return a->o.lock_wait_ms; /* set once by vn_apple_new */
}

int vn_apple_cancelled(struct vn_apple *a)
{
    int cancelled;

    pthread_mutex_lock(&a->mu);
    cancelled = a->cancelled;
    pthread_mutex_unlock(&a->mu);
    return cancelled;
}

/* ---- rate limiting and backoff (all under a->mu) ------------------------------------------ */

static struct bucket *bucket_of(struct vn_apple *a, const char *uid, int64_t now)
{
    struct bucket *b = NULL;
    size_t i;

    for (i = 0; i < a->nbuckets; i++)
        if (!strcmp(a->buckets[i].uid, uid))
            return &a->buckets[i];
    if (a->nbuckets < MAX_BUCKETS) {
        b = &a->buckets[a->nbuckets++];
    } else { /* bounded: reuse the least recently used location's bucket */
        b = &a->buckets[0];
        for (i = 1; i < a->nbuckets; i++)
            if (a->buckets[i].used_ns < b->used_ns)
                b = &a->buckets[i];
    }
    memset(b, 0, sizeof(*b));
    vn_strlcpy(b->uid, uid, sizeof(b->uid));
    b->tokens = (double)a->svc.limits.max_request_per_second;
    b->last_ns = now;
    return b;
}

/* Take one request's worth of the location's budget, waiting as long as needed. */
static int acquire(struct vn_apple *a, const char *uid)
{
    int rc = 0;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        int64_t now = vn_mono_ns(), until;
        /* 90% of Apple's limit: Apple counts arrivals, and the network bunches requests
         * that left evenly spaced. */
        double rate = 0.9 * (double)a->svc.limits.max_request_per_second;
        struct bucket *b;

        if (a->cancelled) {
            rc = VN_ESHUTDOWN;
            break;
        }
        if (rate < 0.5)
            rate = 0.5;
        if (!uid) {
            if (a->service_not_before_ns <= now)
                break;
            vn_cond_wait_until(&a->cv, &a->mu, a->service_not_before_ns);
            continue;
        }
        b = bucket_of(a, uid, now);
        b->used_ns = now;
        b->tokens += (double)(now - b->last_ns) / 1e9 * rate;
        if (b->tokens > rate)
            b->tokens = rate;
        b->last_ns = now;
        if (b->not_before_ns > now) {
            until = b->not_before_ns;
        } else if (b->tokens < 1.0) {
            until = now + (int64_t)((1.0 - b->tokens) / rate * 1e9) + 1;
        } else {
            b->tokens -= 1.0;
            break;
        }
        vn_cond_wait_until(&a->cv, &a->mu, until);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* Nobody calls this location (or Service Config) for delay_ms from now. */
static void hold_off(struct vn_apple *a, const char *uid, long long delay_ms)
{
    int64_t until = vn_mono_ns() + delay_ms * 1000000;

    pthread_mutex_lock(&a->mu);
    if (!uid) {
        if (until > a->service_not_before_ns)
            a->service_not_before_ns = until;
    } else {
        struct bucket *b = bucket_of(a, uid, vn_mono_ns());
        if (until > b->not_before_ns)
            b->not_before_ns = until;
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---- one HTTP exchange -------------------------------------------------------------------- */

struct exchange {
    struct vn_apple *a;
    struct vn_buf body;
    long long retry_after_ms;
    long status;
    CURLcode curl;
    long new_connections; /* connections the transfer opened (0: it reused one) */
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct exchange *x = ud;

    return vn_buf_append(&x->body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct exchange *x = ud;
    size_t len = size * n;
    const char *name = "retry-after:";

    if (len > strlen(name) && vn_strncasecmp_ascii(p, name, strlen(name)) == 0) {
        char v[128];
        size_t k = len - strlen(name);
        long long secs;
        time_t when;
        if (k >= sizeof(v))
            k = sizeof(v) - 1;
        memcpy(v, p + strlen(name), k);
        v[k] = '\0';
        while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
            v[--k] = '\0';
        if (vn_parse_ll(v + strspn(v, " "), 0, 86400 * 7, &secs) == 0) {
            x->retry_after_ms = secs * 1000;
        } else if ((when = curl_getdate(v + strspn(v, " "), NULL)) != (time_t)-1) {
            long long d = (long long)when * 1000 - vn_now_ms();
            x->retry_after_ms = d > 0 ? d : 0;
        }
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct exchange *x = ud;
    int stop;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    pthread_mutex_lock(&x->a->mu);
    stop = x->a->cancelled;
    pthread_mutex_unlock(&x->a->mu);
    return stop;
}

/* An easy handle from the pool (options reset, connections kept), or a new one. */
static CURL *handle_take(struct vn_apple *a)
{
    CURL *c = NULL;

    pthread_mutex_lock(&a->mu);
    if (a->npool)
        c = a->pool[--a->npool];
    pthread_mutex_unlock(&a->mu);
    if (c) {
        curl_easy_reset(c);
        return c;
    }
    return curl_easy_init();
}

static void handle_put(struct vn_apple *a, CURL *c)
{
    curl_easy_reset(c); /* no option, the Authorization header list included, outlives a call */
    pthread_mutex_lock(&a->mu);
    if (a->npool < POOL_MAX) {
        a->pool[a->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&a->mu);
    if (c)
        curl_easy_cleanup(c);
}

static void perform(struct vn_apple *a, const char *url, const char *method, const char *stoken,
                    const char *body, struct exchange *x)
{
    CURL *c = handle_take(a);
    struct curl_slist *h = NULL;
    char *auth = NULL;
    size_t alen = 0;

    x->new_connections = 0;
    x->status = 0;
    x->retry_after_ms = 0;
    x->errbuf[0] = '\0';
    vn_buf_reset(&x->body);
    if (!c) {
        x->curl = CURLE_OUT_OF_MEMORY;
        return;
    }
    h = curl_slist_append(h, "Accept: application/json");
    if (body)
        h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (stoken) {
        alen = strlen(stoken) + 32;
        auth = malloc(alen);
        if (auth) {
            snprintf(auth, alen, "Authorization: Bearer %s", stoken);
            h = curl_slist_append(h, auth);
        }
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
    }
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)a->o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(a->o.timeout_ms < 10000 ? a->o.timeout_ms : 10000));
    curl_easy_setopt(c, CURLOPT_USERAGENT, a->ua);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (a->share)
        curl_easy_setopt(c, CURLOPT_SHARE, a->share);
    x->curl = !auth && stoken ? CURLE_OUT_OF_MEMORY : curl_easy_perform(c);
    if (x->curl == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &x->new_connections);
    handle_put(a, c); /* first: the handle must not point at the list wiped below */
    /* curl_slist_append copied the Authorization line: wipe that copy too. */
    for (struct curl_slist *p = h; p; p = p->next)
        vn_wipe(p->data, strlen(p->data));
    curl_slist_free_all(h);
    if (auth) {
        vn_wipe(auth, alen);
        free(auth);
    }
}

/* ---- Service Config ----------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t off;
} limit_keys[] = {
#define L(n, f)                                                                                    \
    {                                                                                              \
        n, offsetof(struct vn_apple_limits, f)                                                     \
    }
    L("maxAssets", max_assets),
    L("maxClientUserIds", max_client_user_ids),
    L("maxSerialNumbers", max_serial_numbers),
    L("maxRevokeClientUserIds", max_revoke_client_user_ids),
    L("maxRevokeSerialNumbers", max_revoke_serial_numbers),
    L("maxUsers", max_users),
    L("maxSubscriptions", max_subscriptions),
    L("maxSubscriptionClientUserIds", max_subscription_client_user_ids),
    L("maxNotificationLength", max_notification_length),
    L("maxMdmNameLength", max_mdm_name_length),
    L("maxMdmIdLength", max_mdm_id_length),
    L("maxMdmMetadataLength", max_mdm_metadata_length),
    L("maxRequestPerSecond", max_request_per_second),
#undef L
};

static int call(struct vn_apple *a, const struct vn_apple_request *req, int use_config,
                int attempts, json_t **out, struct vn_apple_failure *why);

/* Take a Service Config answer into the cache (a->mu held). Unknown keys are ignored; a URL
 * that is not https (or loopback http) is ignored too and its path under the base is used. */
static void take_config(struct vn_apple *a, json_t *cfg)
{
    json_t *limits = json_object_get(cfg, "limits"),
           *types = json_object_get(cfg, "notificationTypes");
    json_t *urls = json_object_get(cfg, "urls"), *v;
    const char *k;
    size_t i;

    for (i = 0; i < sizeof(limit_keys) / sizeof(limit_keys[0]); i++) {
        v = json_object_get(limits, limit_keys[i].name);
        if (json_is_integer(v) && json_integer_value(v) > 0)
            *(long long *)((char *)&a->svc.limits + limit_keys[i].off) = json_integer_value(v);
    }
    if (json_is_array(types)) {
        a->svc.ntypes = 0;
        json_array_foreach(types, i, v)
        {
            if (json_is_string(v) && a->svc.ntypes < VN_APPLE_MAX_TYPES &&
                json_string_length(v) < sizeof(a->svc.types[0]))
                vn_strlcpy(a->svc.types[a->svc.ntypes++], json_string_value(v),
                           sizeof(a->svc.types[0]));
        }
    }
    if (json_is_object(urls)) {
        for (i = 0; i < a->nurls; i++)
            free(a->urls[i].url);
        a->nurls = 0;
        json_object_foreach(urls, k, v)
        {
            if (!json_is_string(v) || a->nurls == MAX_URLS || strlen(k) >= sizeof(a->urls[0].key))
                continue;
            if (vn_apple_url_check(json_string_value(v), NULL) != 0) {
                vn_log_warn("apple: ignoring Service Config URL %s (not https)", k);
                continue;
            }
            vn_strlcpy(a->urls[a->nurls].key, k, sizeof(a->urls[0].key));
            a->urls[a->nurls].url = strdup(json_string_value(v));
            if (a->urls[a->nurls].url)
                a->nurls++;
        }
    }
    a->svc.fetched_ms = vn_now_ms();
    a->svc_mono_ns = vn_mono_ns();
}

/* Read Service Config when it is missing or stale. Only one thread fetches; the others go on
 * with what is cached. 0, a negative code (the read failed), or 1 (a read failed less than
 * 30 s ago: not tried again yet). */
static int refresh_config(struct vn_apple *a, struct vn_apple_failure *why)
{
    struct vn_apple_request req = {.method = "GET", .path = "service/config"};
    json_t *cfg = NULL;
    int rc;

    int64_t now = vn_mono_ns();
    int have;

    pthread_mutex_lock(&a->mu);
    if ((a->svc_mono_ns && now - a->svc_mono_ns < a->o.config_refresh_ms * 1000000) ||
        a->svc_fetching) {
        pthread_mutex_unlock(&a->mu);
        return 0;
    }
    if (a->svc_failed_mono_ns && now - a->svc_failed_mono_ns < 30 * 1000000000LL) {
        pthread_mutex_unlock(&a->mu);
        if (why) {
            memset(why, 0, sizeof(*why));
            why->code = VN_ENET;
            snprintf(why->message, sizeof(why->message),
                     "Service Config could not be read less than 30 s ago");
        }
        return 1; /* not tried again yet */
    }
    a->svc_fetching = 1;
    have = a->svc_mono_ns != 0;
    pthread_mutex_unlock(&a->mu);

    /* A refresh tries once: the cached copy serves meanwhile. The first read tries harder. */
    rc = call(a, &req, 0, have ? 1 : 0, &cfg, why);
    pthread_mutex_lock(&a->mu);
    a->svc_fetching = 0;
    a->svc_failed_mono_ns = rc ? vn_mono_ns() : 0;
    if (!rc) {
        take_config(a, cfg);
        vn_log_debug("apple: Service Config read (%d notification types, %lld requests/s)",
                     a->svc.ntypes, a->svc.limits.max_request_per_second);
    }
    pthread_cond_broadcast(&a->cv); /* vn_apple_service waits for a first read */
    pthread_mutex_unlock(&a->mu);
    json_decref(cfg);
    return rc;
}

int vn_apple_service(struct vn_apple *a, struct vn_apple_service *out, struct vn_apple_failure *why)
{
    struct vn_apple_failure local;
    int rc;

    if (!why)
        why = &local;
    rc = refresh_config(a, why);
    if (rc > 0)
        rc = VN_ENET;
    pthread_mutex_lock(&a->mu);
    /* Another thread is reading it for the first time: wait for its outcome (its call ends
     * within its attempts' timeouts). */
    while (!rc && !a->svc_mono_ns && a->svc_fetching && !a->cancelled)
        vn_cond_wait_until(&a->cv, &a->mu, vn_mono_ns() + 1000000000LL);
    *out = a->svc;
    if (!rc && !a->svc_mono_ns) {
        rc = VN_ENET;
        memset(why, 0, sizeof(*why));
        why->code = a->cancelled ? VN_ESHUTDOWN : VN_ENET;
        snprintf(why->message, sizeof(why->message),
                 a->cancelled ? "stopped before Service Config was read"
                              : "Service Config could not be read (another thread tried)");
        rc = why->code;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* The URL of a request: Service Config's for the endpoint, else base + "/" + path. Owned. */
static char *request_url(struct vn_apple *a, const struct vn_apple_request *req)
{
    const char *u = NULL;
    struct vn_buf b;

    vn_buf_init(&b, 16384);
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; req->endpoint && i < a->nurls; i++)
        if (!strcmp(a->urls[i].key, req->endpoint))
            u = a->urls[i].url;
    if (u)
        vn_buf_puts(&b, u);
    else
        vn_buf_printf(&b, "%s/%s", a->base, req->path);
    pthread_mutex_unlock(&a->mu);
    if (req->query && *req->query)
        vn_buf_printf(&b, "?%s", req->query);
    return vn_buf_detach(&b, NULL);
}

/* ---- the call ----------------------------------------------------------------------------- */

static int call(struct vn_apple *a, const struct vn_apple_request *req, int use_config,
                int attempts, json_t **out, struct vn_apple_failure *why)
{
    struct vn_apple_failure local;
    struct exchange x = {.a = a};
    char *url = NULL, *body = NULL, what[160];
    int post = !strcmp(req->method, "POST"), rc = VN_ENET;

    if (!why)
        why = &local;
    memset(why, 0, sizeof(*why));
    *out = NULL;
    snprintf(what, sizeof(what), "%s %s", req->method, req->path);
    if (use_config) {
        struct vn_apple_failure ignore;
        if (refresh_config(a, &ignore) < 0 && ignore.code != VN_ESHUTDOWN)
            vn_log_warn("apple: cannot read Service Config (%s); using the last known values",
                        ignore.message);
    }
    if (req->body && !(body = json_dumps(req->body, JSON_COMPACT))) {
        why->code = -ENOMEM;
        snprintf(why->message, sizeof(why->message), "%s: out of memory", what);
        return -ENOMEM;
    }
    url = request_url(a, req);
    vn_buf_init(&x.body, RESPONSE_MAX);
    if (attempts <= 0 || attempts > a->o.max_attempts)
        attempts = a->o.max_attempts;
    for (int attempt = 1; attempt <= attempts; attempt++) {
        json_t *j = NULL, *num;
        int retry = 0, answered;

        rc = acquire(a, req->uid);
        if (rc) {
            snprintf(why->message, sizeof(why->message), "%s: stopped", what);
            break;
        }
        if (req->before_attempt &&
            (rc = req->before_attempt(req->before_attempt_ud, attempt, a->o.timeout_ms, why)) != 0)
            break;
        why->attempts = attempt;
        perform(a, url ? url : "", req->method, req->stoken, post ? (body ? body : "{}") : NULL,
                &x);
        answered = x.curl == CURLE_OK;
        vn_log_debug("apple: %s: HTTP %ld on a %s connection", what, x.status,
                     x.new_connections ? "new" : "reused");
        vn_metrics_apple_request(req->endpoint ? req->endpoint : req->path,
                                 answered ? (int)x.status : 0);
        if (!answered) {
            int cancelled;
            pthread_mutex_lock(&a->mu);
            cancelled = a->cancelled;
            pthread_mutex_unlock(&a->mu);
            rc = cancelled ? VN_ESHUTDOWN : VN_ENET;
            why->http_status = 0;
            why->number = 0;
            why->name = NULL;
            snprintf(why->message, sizeof(why->message), "%s: cannot reach Apple at '%s': %s", what,
                     a->base, x.errbuf[0] ? x.errbuf : curl_easy_strerror(x.curl));
            /* A POST may have reached Apple before the connection broke: never repeat it. */
            retry = !cancelled && !post;
        } else {
            if (x.body.len)
                j = vn_json_load(vn_buf_str(&x.body), x.body.len, 64, NULL);
            num = json_object_get(j, "errorNumber");
            if (json_is_integer(num)) {
                rc = VN_EAPPLE;
                vn_apple_explain(why, (int)x.status, (int)json_integer_value(num),
                                 json_string_value(json_object_get(j, "errorMessage")), what);
                retry = vn_apple_retryable((int)x.status, why->number);
            } else if (x.status < 200 || x.status > 299) {
                rc = VN_EAPPLE;
                vn_apple_explain(why, (int)x.status, 0, NULL, what);
                retry = vn_apple_retryable((int)x.status, 0);
            } else if (!json_is_object(j)) {
                rc = VN_EPARSE;
                why->http_status = (int)x.status;
                snprintf(why->message, sizeof(why->message),
                         "%s: the answer (HTTP %ld, %zu bytes) is not a JSON object", what,
                         x.status, x.body.len);
            } else {
                *out = j;
                j = NULL;
                rc = 0;
            }
            json_decref(j);
        }
        if (rc == 0 || !retry || attempt == attempts)
            break;
        {
            long long delay = vn_apple_backoff_ms(attempt, a->o.backoff_ms, a->o.backoff_max_ms,
                                                  x.retry_after_ms, a->o.retry_after_max_ms,
                                                  (uint32_t)vn_random_uniform(UINT32_MAX));
            vn_log_fields(VN_LOG_WARN, "apple: retrying",
                          (struct vn_log_field[]){
                              VN_LF_S("request", what), VN_LF_S("uId", req->uid),
                              VN_LF_I("status", why->http_status),
                              VN_LF_I("errorNumber", why->number), VN_LF_I("attempt", attempt),
                              VN_LF_I("retryAfterMs", x.retry_after_ms), VN_LF_I("waitMs", delay),
                              VN_LF_S("error", why->message)},
                          8);
            vn_metrics_apple_backoff(!answered                 ? VN_BACKOFF_UNREACHABLE
                                     : why->http_status >= 500 ? VN_BACKOFF_SERVER_ERROR
                                                               : VN_BACKOFF_RATE_LIMITED);
            hold_off(a, req->uid, delay);
        }
    }
    if (rc && why->attempts > 1 && rc != VN_ESHUTDOWN) {
        size_t n = strlen(why->message);
        snprintf(why->message + n, sizeof(why->message) - n, " (after %d attempts)", why->attempts);
    }
    why->code = rc;
    vn_buf_release(&x.body);
    free(url);
    free(body);
    return rc;
}

int vn_apple_call(struct vn_apple *a, const struct vn_apple_request *req, json_t **out,
                  struct vn_apple_failure *why)
{
    return call(a, req, 1, 0, out, why);
}
