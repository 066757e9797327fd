/*
 * webhook.c - webhooks per the Standard Webhooks specification (contract section 8): every
 * change of the log, and every completed, failed or stalled event, as a signed message to
 * each endpoint (`vppnotify webhook add`), at least once and in sequence order per endpoint.
 *
 * The outbox is the change log itself: an endpoint's cursor (store.h) says how far it got, so
 * a message is queued by the same commit that logs its change, and nothing is lost to a
 * kill -9 (the cursor moves only after the endpoint answered 2xx; a crash sends the last
 * messages again, which the webhook-id lets a receiver recognise).
 *
 * One thread per active endpoint, so a slow or failing endpoint delays only itself; a
 * supervisor thread starts and stops them as endpoints come and go (the CLI adds them in
 * another process). A message that fails is retried, alone and in order, with exponential
 * backoff (base --webhook-backoff, doubling, at most an hour apart) for --webhook-retry-for
 * (24 h); then, or at once on 410 Gone, the endpoint is disabled (webhook redeliver enables
 * it again from that message). The cursor and the delivery log are written by the one writer.
 *
 * A message: body {"type","timestamp","data"} where data is the change as GET /v1/changes
 * shows it; headers webhook-id ("msg_<seq>_<prefix>", the same on every retry, after a
 * restart and from every instance: the prefix is the database's, instance_config's
 * webhook_msg_prefix),
 * webhook-timestamp (Unix seconds of the attempt) and webhook-signature
 * "v1,<base64(HMAC-SHA256(key, id.timestamp.body))>", key the bytes of the endpoint's secret
 * ("whsec_<base64>"). libcurl: timeouts, no redirects followed, http(s) only; the secret is
 * unsealed only to sign and never logged.
 *
 * Several instances on one PostgreSQL database: every instance runs a worker per endpoint, but
 * only the one holding the endpoint's lease "webhook:<id>" (lease.h, a struct vn_leases of
 * the webhooks' own with the locations' rules and --lease-ttl) sends: held is checked before
 * each message, so a holder that lost its lease stops within ttl / 2 of its last renewal and
 * its last POST ends before another instance can take over (keep --webhook-timeout below
 * --lease-ttl / 2). The taker starts from the cursor in the database: messages sent but not
 * yet recorded by a holder that died are sent again (same webhook-id), never skipped, and no
 * two instances send to one endpoint at once, so the first delivery of each message keeps
 * sequence order. The cursor's compare-and-set (expect_cursor) refuses a stale holder's write.
 * On SQLite (one instance) there is no lease.
 */
#include "api_impl.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/lease.h"
#include "vppnotify/log.h"
#include "vppnotify/rows.h"
#include "vppnotify/stoken.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH          50 /* changes read, and messages sent, between cursor writes */
#define LINGER_MS      10 /* after a batch that was not full, the next read is this much later */
#define BACKOFF_CAP_MS (3600 * 1000)
#define SECRET_MAX     256
#define KEY_MAX        64
#define RESPONSE_MAX   (64 * 1024) /* read of an endpoint's answer; the rest is discarded */
#define MSG_PREFIX_KEY "webhook_msg_prefix" /* instance_config: the database's message id part */
#define LEASE_POLL_MS  100 /* a worker without its endpoint's lease looks again this often */

struct worker {
    struct vn__api_webhooks *wh;
    int64_t id;
    pthread_t thread;
    atomic_int done; /* the thread has ended (the supervisor joins it) */
    struct worker *next;
};

struct vn__api_webhooks {
    struct vn_api *api;
    struct vn_webhook_options o;
    uint8_t seal_key[VN_SEAL_KEY_LEN];
    char instance[16];
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a stop, a worker ended */
    pthread_cond_t commit_cond; /* a commit (or a stop), for the threads waiting for one */
    int commit_waiters;         /* threads in wait_until for a commit: only they are woken */
    int stop;
    uint64_t commits; /* bumped by every commit that logged changes */
    struct worker *workers;
    pthread_t supervisor;
    int started;
    struct vn_store *st;      /* the supervisor's read handle */
    struct vn_leases *leases; /* PostgreSQL: who delivers to which endpoint; NULL: we do */
    char user_agent[96];
};

/* ---- signing ------------------------------------------------------------------------------ */

int vn_webhook_secret_key(const char *secret, uint8_t *key, size_t cap, size_t *len)
{
    const char *b64 = secret;
    size_t n = 0;

    if (strncmp(b64, "whsec_", 6) == 0)
        b64 += 6;
    if (sodium_base642bin(key, cap, b64, strlen(b64), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n < 24 || n > 64)
        return VN_EPARSE;
    *len = n;
    return 0;
}

int vn_webhook_sign(const uint8_t *key, size_t keylen, const char *id, long long ts,
                    const char *body, size_t body_len, char *out, size_t outlen)
{
    crypto_auth_hmacsha256_state h;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char prefix[128];
    int n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, ts);

    if (n < 0 || (size_t)n >= sizeof(prefix) || outlen < 4 + 45)
        return VN_ETOOBIG;
    crypto_auth_hmacsha256_init(&h, key, keylen);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)prefix, (size_t)n);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&h, mac);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, outlen - 3, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(&h, sizeof(h));
    return 0;
}

/* "asset.created", "event.completed", ... */
static void message_type(const char *kind, const char *op, char *out, size_t outlen)
{
    const char *verb = op;

    if (strcmp(op, "insert") == 0)
        verb = "created";
    else if (strcmp(op, "update") == 0)
        verb = "updated";
    else if (strcmp(op, "delete") == 0)
        verb = "deleted";
    snprintf(out, outlen, "%s.%s", kind, verb);
}

/* Does the endpoint's kinds filter ("asset,event.completed") take this change? */
static int wanted(const char *kinds, const char *kind, const char *type)
{
    const char *p = kinds;

    if (!kinds || !*kinds)
        return 1;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((strlen(kind) == n && strncmp(p, kind, n) == 0) ||
            (strlen(type) == n && strncmp(p, type, n) == 0))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* ---- one endpoint ------------------------------------------------------------------------- */

struct endpoint {
    char url[1024];
    char kinds[512];
    uint8_t sealed[SECRET_MAX + 64];
    size_t sealed_len;
    struct vn_webhook w; /* its strings point into this struct */
    int found;
    char lease_key[24]; /* its id, the key of its lease */
};

static int load_row(void *ud, const struct vn_webhook *w)
{
    struct endpoint *e = ud;

    e->w = *w;
    vn_strlcpy(e->url, w->url, sizeof(e->url));
    e->w.url = e->url;
    vn_strlcpy(e->kinds, w->kinds ? w->kinds : "", sizeof(e->kinds));
    e->w.kinds = w->kinds ? e->kinds : NULL;
    e->sealed_len = w->secret_len < sizeof(e->sealed) ? w->secret_len : 0;
    memcpy(e->sealed, w->secret, e->sealed_len);
    e->w.secret = e->sealed;
    e->w.secret_len = e->sealed_len;
    e->found = 1;
    return 0;
}

/* The endpoint's signing key, from its sealed secret. */
static int endpoint_key(struct vn__api_webhooks *wh, const struct endpoint *e, uint8_t *key,
                        size_t *keylen)
{
    struct vn_error err = {0};
    char *plain = NULL;
    int rc;

    rc = vn_unseal(wh->seal_key, e->sealed, e->sealed_len, &plain, &err);
    if (rc == 0) {
        rc = vn_webhook_secret_key(plain, key, KEY_MAX, keylen);
        sodium_memzero(plain, strlen(plain));
        free(plain);
    }
    return rc;
}

struct page {
    const struct endpoint *e;
    struct vn_change_copy {
        int64_t seq;
        char type[64];
        char kind[32];
        char *body; /* the message, owned */
    } c[BATCH];
    size_t n;
    int rc;
};

static int add_message(void *ud, const struct vn_change *c)
{
    struct page *p = ud;
    struct vn_change_copy *m = &p->c[p->n];
    json_t *key, *row = NULL, *data, *msg;

    m->seq = c->seq;
    vn_strlcpy(m->kind, c->kind, sizeof(m->kind));
    message_type(c->kind, c->op, m->type, sizeof(m->type));
    m->body = NULL;
    p->n++;
    if (!wanted(p->e->w.kinds, m->kind, m->type))
        return 0; /* the cursor passes it by */
    key = json_loads(c->key, 0, NULL);
    if (c->row && (row = json_loads(c->row, 0, NULL)) && json_is_object(row))
        vn_json_drop_nulls(row);
    data = json_pack("{sI ss ss ss so so}", "seq", (json_int_t)c->seq, "at", c->at, "kind", c->kind,
                     "op", c->op, "key", key ? key : json_object(), "row", row ? row : json_null());
    msg = data ? json_pack("{ss ss so}", "type", m->type, "timestamp", c->at, "data", data) : NULL;
    m->body = msg ? json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(msg);
    if (!m->body) {
        p->rc = -ENOMEM;
        return 1;
    }
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    size_t *got = ud;

    *got += size * n;
    return *got > RESPONSE_MAX ? 0 : size * n; /* stop reading a huge answer */
}

/* The options of every message of a batch to endpoint e (its connection stays open between
 * messages and batches: curl_easy_reset keeps it). */
static void curl_setup(struct vn__api_webhooks *wh, CURL *c, const struct endpoint *e)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not followed */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)wh->o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(wh->o.timeout_ms < 5000 ? wh->o.timeout_ms : 5000));
    curl_easy_setopt(c, CURLOPT_USERAGENT, wh->user_agent);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
}

/* POST one message (after curl_setup). Returns the HTTP status, or 0 with err set when there
 * was no answer. */
static long post(CURL *c, const uint8_t *key, size_t keylen, const char *id, const char *body,
                 char *err, size_t errlen)
{
    char sig[128], h_id[160], h_ts[64], h_sig[160];
    long long ts = (long long)(vn_now_ms() / 1000);
    struct curl_slist *h = NULL;
    size_t got = 0;
    long status = 0;
    CURLcode rc;

    if (vn_webhook_sign(key, keylen, id, ts, body, strlen(body), sig, sizeof(sig)) != 0) {
        vn_strlcpy(err, "cannot sign the message", errlen);
        return 0;
    }
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", ts);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, h_id);
    h = curl_slist_append(h, h_ts);
    h = curl_slist_append(h, h_sig);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (!status)
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL); /* h is freed now */
    curl_slist_free_all(h);
    sodium_memzero(sig, sizeof(sig));
    sodium_memzero(h_sig, sizeof(h_sig));
    return status;
}

/* The next wait after the attempts-th failure: base doubling, at most an hour. */
static int64_t backoff_ms(const struct vn__api_webhooks *wh, long long attempts)
{
    int64_t d = wh->o.backoff_ms > 0 ? wh->o.backoff_ms : 1000;

    for (long long i = 1; i < attempts && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    return d < BACKOFF_CAP_MS ? d : BACKOFF_CAP_MS;
}

struct update {
    int64_t id;
    struct vn_webhook_state s;
    struct vn_webhook_attempt a[BATCH];
    size_t n;
};

static int run_update(struct vn_store *st, void *ud)
{
    struct update *u = ud;

    return vn_store_webhook_update(st, u->id, &u->s, u->a, u->n);
}

/* Wait until until_ms (wall clock), or, with on_commit, a commit after seen; or the stop.
 * 1 when stopping. A commit wakes only the threads waiting for one (commit_cond): under a
 * stream of group commits (one a millisecond) the supervisor and the workers lingering
 * between batches would otherwise be woken, and sleep again, once per commit each. */
static int wait_until(struct vn__api_webhooks *wh, int64_t until_ms, int on_commit, uint64_t seen)
{
    pthread_cond_t *cv = on_commit ? &wh->commit_cond : &wh->cond;
    int stop;

    pthread_mutex_lock(&wh->lock);
    wh->commit_waiters += on_commit != 0;
    while (!wh->stop && !(on_commit && wh->commits != seen)) {
        int64_t left = until_ms - vn_now_ms();
        struct timespec ts;
        int64_t at;
        if (left <= 0)
            break;
        at = vn_mono_ns() + left * 1000000;
        ts.tv_sec = (time_t)(at / 1000000000);
        ts.tv_nsec = (long)(at % 1000000000);
        pthread_cond_timedwait(cv, &wh->lock, &ts);
    }
    wh->commit_waiters -= on_commit != 0;
    stop = wh->stop;
    pthread_mutex_unlock(&wh->lock);
    return stop;
}

static uint64_t commits_seen(struct vn__api_webhooks *wh)
{
    uint64_t n;

    pthread_mutex_lock(&wh->lock);
    n = wh->commits;
    pthread_mutex_unlock(&wh->lock);
    return n;
}

/* Deliver one batch of an endpoint. Returns when it must wait: *wait_ms until when (0: for a
 * commit), or -1 when the endpoint is gone or disabled. *full: the batch read BATCH changes
 * (more may be waiting). */
static int deliver_batch(struct vn__api_webhooks *wh, struct vn_store *st, CURL *curl, int64_t id,
                         int64_t *wait_ms, int *full)
{
    struct endpoint *e = calloc(1, sizeof(*e));
    struct page *p = calloc(1, sizeof(*p));
    struct update *u = calloc(1, sizeof(*u));
    uint8_t key[KEY_MAX];
    size_t keylen = 0;
    int64_t now = vn_now_ms();
    struct vn_error err = {0};
    int rc = 0;

    *wait_ms = 0;
    *full = 0;
    if (!e || !p || !u) {
        rc = -ENOMEM;
        goto out;
    }
    if (vn_store_webhooks(st, id, load_row, e) != 0 || !e->found || !e->w.active) {
        rc = -1; /* removed or disabled: the worker ends */
        goto out;
    }
    snprintf(e->lease_key, sizeof(e->lease_key), "%lld", (long long)id);
    if (e->w.next_attempt_ms > now) {
        *wait_ms = e->w.next_attempt_ms;
        goto out;
    }
    if (endpoint_key(wh, e, key, &keylen) != 0) {
        vn_log_error("webhook %lld: its secret cannot be unsealed (another key file?); "
                     "disabling it",
                     (long long)id);
        u->s = (struct vn_webhook_state){.expect_cursor = e->w.cursor,
                                         .cursor = e->w.cursor,
                                         .disabled_reason = "the secret cannot be unsealed with "
                                                            "this key file"};
        u->id = id;
        vn_writer_call(wh->o.writer, run_update, u, NULL);
        rc = -1;
        goto out;
    }
    p->e = e;
    if (vn_store_changes(st, e->w.cursor, BATCH, add_message, p) != 0 || p->rc) {
        vn_log_warn("webhook %lld: cannot read the change log: %s", (long long)id,
                    vn_store_last_error(st));
        *wait_ms = now + 1000;
        goto out;
    }
    if (p->n == 0)
        goto out; /* nothing new: wait for a commit */

    u->id = id;
    u->s.expect_cursor = e->w.cursor;
    u->s.cursor = e->w.cursor;
    u->s.active = 1;
    u->s.attempts = e->w.attempts;
    u->s.failing_since_ms = e->w.failing_since_ms;
    *full = p->n == BATCH;
    curl_setup(wh, curl, e);
    for (size_t i = 0; i < p->n; i++) {
        struct vn_change_copy *m = &p->c[i];
        struct vn_webhook_attempt *a;
        char msg_id[64], why[256] = "";
        int64_t t0;
        long status;

        if (!m->body) {
            u->s.cursor = m->seq; /* filtered out */
            continue;
        }
        if (!vn_leases_held(wh->leases, e->lease_key))
            break; /* another instance may take the endpoint over now: not one more message */
        snprintf(msg_id, sizeof(msg_id), "msg_%lld_%s", (long long)m->seq, wh->instance);
        t0 = vn_mono_ns();
        status = post(curl, key, keylen, msg_id, m->body, why, sizeof(why));
        a = &u->a[u->n++];
        a->endpoint_id = id;
        a->seq = m->seq;
        a->message_id = strdup(msg_id);
        a->type = strdup(m->type);
        a->attempt = u->s.attempts + 1;
        a->at_ms = vn_now_ms();
        a->status = (int)status;
        a->duration_ms = (vn_mono_ns() - t0) / 1000000;
        a->ok = status >= 200 && status < 300;
        u->s.last_attempt_ms = a->at_ms;
        u->s.last_status = (int)status;
        if (a->ok) {
            u->s.cursor = m->seq;
            u->s.attempts = 0;
            u->s.failing_since_ms = 0;
            u->s.delivered++;
            u->s.last_error = NULL;
            continue;
        }
        if (!why[0])
            snprintf(why, sizeof(why), "HTTP %ld", status);
        a->error = strdup(why);
        u->s.last_error = a->error;
        u->s.attempts++;
        if (!u->s.failing_since_ms)
            u->s.failing_since_ms = a->at_ms;
        if (status == 410) {
            u->s.active = 0;
            u->s.disabled_reason = "the endpoint answered 410 Gone";
        } else if (a->at_ms - u->s.failing_since_ms >= wh->o.retry_for_ms) {
            u->s.active = 0;
            u->s.disabled_reason = "failing for longer than --webhook-retry-for: gave up "
                                   "(vppnotify webhook redeliver sends it again)";
        } else {
            u->s.next_attempt_ms = a->at_ms + backoff_ms(wh, u->s.attempts);
        }
        vn_log_fields(VN_LOG_WARN, "webhook delivery failed",
                      (struct vn_log_field[]){VN_LF_I("webhook", id), VN_LF_I("seq", m->seq),
                                              VN_LF_S("type", m->type), VN_LF_S("error", why),
                                              VN_LF_I("attempt", a->attempt),
                                              VN_LF_S("disabled", u->s.active ? NULL : "yes")},
                      6);
        break; /* in order: nothing after it until it went through */
    }
    if (u->n == 0 && u->s.cursor == e->w.cursor) {
        *wait_ms = vn_now_ms() + 100; /* the lease lapsed before the first message */
        goto out;
    }
    rc = vn_writer_call(wh->o.writer, run_update, u, &err);
    if (rc == VN_ECONFLICT || rc == VN_ENOTFOUND) {
        rc = 0; /* redelivered, moved or removed by the CLI meanwhile: read it again */
    } else if (rc) {
        vn_log_warn("webhook %lld: cannot record its deliveries (%s); they will be sent again",
                    (long long)id, err.msg);
        *wait_ms = vn_now_ms() + 1000;
        rc = 0;
    } else if (!u->s.active) {
        rc = -1;
    } else if (u->s.next_attempt_ms) {
        *wait_ms = u->s.next_attempt_ms;
    } else {
        *wait_ms = vn_now_ms(); /* more may be waiting: go on at once */
    }
out:
    sodium_memzero(key, sizeof(key));
    if (p)
        for (size_t i = 0; i < p->n; i++)
            free(p->c[i].body);
    if (u)
        for (size_t i = 0; i < u->n; i++) {
            free((char *)u->a[i].message_id);
            free((char *)u->a[i].type);
            free((char *)u->a[i].error);
        }
    free(e);
    free(p);
    free(u);
    return rc;
}

static int endpoint_active(struct vn_store *st, int64_t id)
{
    struct endpoint *e = calloc(1, sizeof(*e));
    int active = 1; /* on a read error: keep the worker, look again */

    if (e && vn_store_webhooks(st, id, load_row, e) == 0)
        active = e->found && e->w.active;
    free(e);
    return active;
}

static void *worker_main(void *arg)
{
    struct worker *k = arg;
    struct vn__api_webhooks *wh = k->wh;
    struct vn_store *st = vn_api_store_acquire(wh->api);
    CURL *curl = curl_easy_init();
    char key[24];
    int64_t check_ms = 0; /* without the lease: when to see whether the endpoint still is */

    snprintf(key, sizeof(key), "%lld", (long long)k->id);
    while (st && curl) {
        uint64_t seen = commits_seen(wh);
        int64_t until, started = vn_now_ms();
        int full = 0;

        if (!vn_leases_held(wh->leases, key)) {
            /* Another instance delivers (or nobody yet): look again soon, and end within a
             * second when the endpoint is removed or disabled. */
            if (vn_now_ms() >= check_ms) {
                if (!endpoint_active(st, k->id))
                    break;
                check_ms = vn_now_ms() + 1000;
            }
            if (wait_until(wh, vn_now_ms() + LEASE_POLL_MS, 0, 0))
                break;
            continue;
        }
        if (deliver_batch(wh, st, curl, k->id, &until, &full) != 0)
            break;
        /* Under a stream of commits, read the log in batches of several commits, not once per
         * commit: a message waits at most LINGER_MS more, and the cursor and the delivery log
         * are written once per batch (a writer job), not once per commit. */
        if (!full && until != 0 && until <= vn_now_ms() &&
            wait_until(wh, started + LINGER_MS, 0, 0))
            break;
        /* Nothing new: a commit of this process wakes it; another process's, the second. */
        if (wait_until(wh, until ? until : vn_now_ms() + 1000, until == 0, seen))
            break;
    }
    curl_easy_cleanup(curl);
    vn_api_store_release(wh->api, st);
    atomic_store(&k->done, 1);
    pthread_mutex_lock(&wh->lock);
    pthread_cond_broadcast(&wh->cond);
    pthread_mutex_unlock(&wh->lock);
    return NULL;
}

/* ---- the supervisor ---------------------------------------------------------------------- */

struct ids {
    int64_t id[256];
    size_t n;
};

static int collect_active(void *ud, const struct vn_webhook *w)
{
    struct ids *ids = ud;

    if (w->active && ids->n < sizeof(ids->id) / sizeof(ids->id[0]))
        ids->id[ids->n++] = w->id;
    return 0;
}

/* The lease thread's list: the active endpoints' ids. */
static int lease_keys(struct vn_store *st, void *ud, char ***keys, size_t *n)
{
    struct ids ids = {{0}, 0};
    char **v;
    int rc;

    (void)ud;
    *keys = NULL;
    *n = 0;
    rc = vn_store_webhooks(st, 0, collect_active, &ids);
    if (rc || ids.n == 0)
        return rc;
    v = calloc(ids.n, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < ids.n; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)ids.id[i]);
        if (!(v[i] = strdup(key))) {
            while (i--)
                free(v[i]);
            free(v);
            return -ENOMEM;
        }
    }
    *keys = v;
    *n = ids.n;
    return 0;
}

/* Join the workers that ended; with all, stop and join every one. Under no lock. */
static void reap(struct vn__api_webhooks *wh, int all)
{
    struct worker **pp = &wh->workers;

    while (*pp) {
        struct worker *k = *pp;
        if (all || atomic_load(&k->done)) {
            pthread_join(k->thread, NULL);
            *pp = k->next;
            free(k);
        } else {
            pp = &k->next;
        }
    }
}

struct ensure_prefix {
    const char *fresh;
    char *value; /* owned */
};

static int ensure_prefix(struct vn_store *st, void *ud)
{
    struct ensure_prefix *e = ud;

    free(e->value);
    e->value = NULL;
    return vn_store_config_ensure(st, MSG_PREFIX_KEY, e->fresh, &e->value);
}

/*
 * The database's part of every message id, made once in its life and kept in the store: a
 * message sent again after a restart (kill -9 before its cursor was written), or by another
 * instance on the same PostgreSQL database, has the same webhook-id, so a receiver that
 * dedupes by it sees one message. A new database starts at seq 1 again with another prefix.
 * 0 when wh->instance is set.
 */
static int load_prefix(struct vn__api_webhooks *wh)
{
    struct ensure_prefix e = {0};
    struct vn_error err = {0};
    char fresh[13];
    uint8_t r[6];
    int rc;

    rc = vn_store_config_ensure(wh->st, MSG_PREFIX_KEY, NULL, &e.value);
    if (rc == VN_ENOTFOUND) {
        randombytes_buf(r, sizeof(r));
        vn_hex(r, sizeof(r), fresh);
        e.fresh = fresh;
        rc = vn_writer_call(wh->o.writer, ensure_prefix, &e, &err);
    }
    if (!rc && e.value && strlen(e.value) < sizeof(wh->instance))
        vn_strlcpy(wh->instance, e.value, sizeof(wh->instance));
    else if (!rc)
        rc = VN_ESTORE;
    if (rc)
        vn_log_warn("webhooks: cannot read or make the message id prefix (%s); retrying",
                    err.msg[0] ? err.msg : vn_store_last_error(wh->st));
    free(e.value);
    return rc;
}

static void *supervisor_main(void *arg)
{
    struct vn__api_webhooks *wh = arg;

    for (;;) {
        struct ids ids = {{0}, 0};

        reap(wh, 0);
        if ((wh->instance[0] || load_prefix(wh) == 0) &&
            vn_store_webhooks(wh->st, 0, collect_active, &ids) == 0) {
            for (size_t i = 0; i < ids.n; i++) {
                struct worker *k;
                int running = 0;
                for (k = wh->workers; k; k = k->next)
                    running |= k->id == ids.id[i];
                if (running)
                    continue;
                k = calloc(1, sizeof(*k));
                if (!k)
                    break;
                k->wh = wh;
                k->id = ids.id[i];
                if (pthread_create(&k->thread, NULL, worker_main, k) != 0) {
                    free(k);
                    break;
                }
                k->next = wh->workers;
                wh->workers = k;
            }
        }
        /* Endpoints added or enabled by the CLI are found within a second. */
        if (wait_until(wh, vn_now_ms() + 1000, 0, 0))
            break;
    }
    reap(wh, 1);
    return NULL;
}

/* Several instances on one database: the endpoints' leases (lease.h), same ttl and holder as
 * the locations'. */
static int start_leases(struct vn__api_webhooks *wh, struct vn_error *err)
{
    const struct vn_api_options *ao = vn__api_options(wh->api);
    char holder[VN_LEASE_HOLDER_MAX] = "";
    struct vn_leases_options lo = {
        .db = ao->db,
        .holder = holder,
        .ttl_ms = wh->o.lease_ttl_ms > 0 ? wh->o.lease_ttl_ms : 60000,
        .kind = "webhook",
        .list = lease_keys,
        .doing = "delivers the endpoint's webhooks",
        .key_field = "webhook",
    };

    if (ao->store)
        lo.store = *ao->store;
    lo.store.read_only = 0; /* the API's handles read; a lease is a write */
    if (wh->o.instance && *wh->o.instance)
        vn_lease_holder_of(holder, wh->o.instance);
    if (wh->o.timeout_ms > lo.ttl_ms / 2)
        vn_log_warn("--webhook-timeout (%lld ms) is more than half of --lease-ttl (%lld ms): a "
                    "delivery begun just before an endpoint's lease lapses could still run when "
                    "another instance takes the endpoint over",
                    (long long)wh->o.timeout_ms, (long long)lo.ttl_ms);
    wh->leases = vn_leases_start(&lo, err);
    if (!wh->leases) {
        vn_error_prefix(err, "webhooks");
        return err && err->code ? err->code : VN_ESTORE;
    }
    return 0;
}

struct vn__api_webhooks *
vn__api_webhooks_start(struct vn_api *api, const struct vn_webhook_options *o, struct vn_error *err)
{
    struct vn__api_webhooks *wh = calloc(1, sizeof(*wh));
    pthread_condattr_t ca;
    int rc;

    if (!wh) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    wh->api = api;
    wh->o = *o;
    if (wh->o.timeout_ms <= 0)
        wh->o.timeout_ms = 10000;
    if (wh->o.retry_for_ms <= 0)
        wh->o.retry_for_ms = 24LL * 3600 * 1000;
    pthread_mutex_init(&wh->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wh->cond, &ca);
    pthread_cond_init(&wh->commit_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!o->writer || !o->key_file) {
        vn_error_set(err, VN_EUSAGE, "webhooks need the writer and the key file");
        goto fail;
    }
    rc = vn_seal_key_load(o->key_file, 1, wh->seal_key, err);
    if (rc)
        goto fail;
    wh->st = vn_api_store_acquire(api);
    if (!wh->st) {
        vn_error_set(err, VN_ESTORE, "webhooks cannot open the store");
        goto fail;
    }
    if (o->instance && *o->instance)
        snprintf(wh->user_agent, sizeof(wh->user_agent), "vppnotify/%s (instance %s)", VN_VERSION,
                 o->instance);
    else
        snprintf(wh->user_agent, sizeof(wh->user_agent), "vppnotify/%s", VN_VERSION);
    if (vn_store_shared(wh->st) && start_leases(wh, err) != 0)
        goto fail;
    if (pthread_create(&wh->supervisor, NULL, supervisor_main, wh) != 0) {
        vn_error_set(err, -EAGAIN, "cannot start the webhook thread");
        goto fail;
    }
    wh->started = 1;
    return wh;
fail:
    vn__api_webhooks_free(wh);
    return NULL;
}

void vn__api_webhooks_committed(void *ud)
{
    struct vn__api_webhooks *wh = ud;

    pthread_mutex_lock(&wh->lock);
    wh->commits++;
    if (wh->commit_waiters)
        pthread_cond_broadcast(&wh->commit_cond);
    pthread_mutex_unlock(&wh->lock);
}

void vn__api_webhooks_stop(struct vn__api_webhooks *wh)
{
    if (!wh || !wh->started)
        return;
    pthread_mutex_lock(&wh->lock);
    wh->stop = 1;
    pthread_cond_broadcast(&wh->cond);
    pthread_cond_broadcast(&wh->commit_cond);
    pthread_mutex_unlock(&wh->lock);
    pthread_join(wh->supervisor, NULL);
    wh->started = 0;
    vn_leases_stop(wh->leases); /* the workers have ended: another instance may take over */
    wh->leases = NULL;
}

void vn__api_webhooks_free(struct vn__api_webhooks *wh)
{
    if (!wh)
        return;
    vn__api_webhooks_stop(wh);
    vn_leases_stop(wh->leases); /* a start that failed */
    vn_api_store_release(wh->api, wh->st);
    sodium_memzero(wh->seal_key, sizeof(wh->seal_key));
    pthread_cond_destroy(&wh->cond);
    pthread_cond_destroy(&wh->commit_cond);
    pthread_mutex_destroy(&wh->lock);
    free(wh);
}
