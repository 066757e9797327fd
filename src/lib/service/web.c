/*
 * web.c - the operator's routes on the API listener: /metrics, /healthz details, and the
 * dashboard's login, sessions and logout (include/vppnotify/dashboard.h). The page itself is
 * rendered by dashboard.c.
 */
#include "dashboard_impl.h"
#include "vppnotify/api.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/ingest.h"
#include "vppnotify/log.h"
#include "vppnotify/metrics.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX (64u << 20) /* the text of one scrape, at most */
#define COOKIE      "vn_session"
#define SESSION_LEN VN_TOKEN_LEN

struct session {
    int used;
    uint8_t id_digest[VN_DIGEST_LEN]; /* of the cookie value: the value itself is not kept */
    char key[VN_API_KEY_LEN + 1];     /* the API key it was opened with (checked on each use) */
    char name[VN_API_NAME_MAX + 1];
    int64_t created_ms, expires_ms;
};

struct vn_dashboard {
    struct vn_api *api;
    struct vn_dashboard_options o;
    pthread_rwlock_t detach; /* write-held by vn_dashboard_detach; o.ingest and o.health_* */
    pthread_mutex_t mu;      /* the sessions */
    struct session s[VN_DASHBOARD_SESSIONS];
};

/* ---- /metrics and /healthz ------------------------------------------------------------- */

static int get_metrics(void *ud, struct vn_api_req *req)
{
    struct vn_dashboard *d = ud;
    struct vn_error err = {0};
    struct vn_store *st;
    struct vn_buf b;
    int rc;

    vn_buf_init(&b, METRICS_MAX);
    pthread_rwlock_rdlock(&d->detach);
    if (d->o.ingest) {
        struct vn_ingest_stats s;
        vn_ingest_stats(d->o.ingest, &s);
        vn_metrics_queue_depth(s.queued);
    }
    pthread_rwlock_unlock(&d->detach);
    rc = vn_metrics_render(&b);
    st = rc == 0 ? vn_api_store_acquire(d->api) : NULL;
    if (rc == 0 && !st)
        rc = vn_error_set(&err, VN_ESTORE, "cannot open the store for the gauges");
    if (rc == 0)
        rc = vn_metrics_render_store(&b, st, vn_now_ms(), d->o.max_assets, &err);
    if (st)
        vn_api_store_release(d->api, st);
    if (rc) {
        vn_log_error("/metrics: %s", err.msg[0] ? err.msg : vn_strerror(rc));
        vn_buf_release(&b);
        return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "metrics unavailable: %s",
                                    err.msg[0] ? err.msg : vn_strerror(rc));
    }
    rc = vn_api_respond(req, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                        vn_buf_str(&b), b.len);
    vn_buf_release(&b);
    return rc;
}

static int get_health(void *ud, struct vn_api_req *req)
{
    struct vn_dashboard *d = ud;
    struct vn_ingest_stats s = {0};
    json_t *body;
    int ok = 1;

    pthread_rwlock_rdlock(&d->detach);
    if (d->o.ingest) {
        vn_ingest_stats(d->o.ingest, &s);
        ok = !s.store_failed && s.last_commit_ok;
    }
    body = json_pack("{ss ss sI sI sI sI sI sI sI}", "status", ok ? "ok" : "unavailable", "store",
                     s.store_failed     ? "failed"
                     : s.last_commit_ok ? "writable"
                                        : "unavailable",
                     "queued", (json_int_t)s.queued, "applied", (json_int_t)s.applied, "duplicates",
                     (json_int_t)s.duplicates, "stored", (json_int_t)s.stored, "quarantined",
                     (json_int_t)s.quarantined, "unavailable", (json_int_t)s.unavailable, "commits",
                     (json_int_t)s.commits);
    if (body && !ok && s.last_error[0])
        json_object_set_new(body, "error", json_string(s.last_error));
    if (body && d->o.health_extra)
        d->o.health_extra(d->o.health_ud, body);
    pthread_rwlock_unlock(&d->detach);
    return vn_api_respond_json(req, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* ---- sessions ---------------------------------------------------------------------------- */

/* The value of cookie name in a Cookie header, copied to out; 0 or VN_ENOTFOUND. */
static int cookie_value(const char *header, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p = header;

    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        if (!strncmp(p, name, n) && p[n] == '=') {
            const char *v = p + n + 1;
            size_t len = strcspn(v, ";");
            if (len == 0 || len >= outlen)
                return VN_ENOTFOUND;
            memcpy(out, v, len);
            out[len] = '\0';
            return 0;
        }
        p = strchr(p, ';');
    }
    return VN_ENOTFOUND;
}

static void session_clear(struct session *s)
{
    vn_wipe(s, sizeof(*s));
}

/* The session of the request's cookie, if valid: its key and name copied out. Expired
 * sessions and sessions whose key no longer authenticates are ended here. */
static int session_find(struct vn_dashboard *d, struct vn_api_req *req, char *name, size_t namelen,
                        int *slot)
{
    const char *cookie = vn_api_req_header(req, "Cookie");
    char value[SESSION_LEN + 8], bearer[VN_API_KEY_LEN + 16];
    uint8_t digest[VN_DIGEST_LEN];
    int64_t now = vn_now_ms();
    enum vn_api_scope scope;
    int found = -1;

    if (!cookie || cookie_value(cookie, COOKIE, value, sizeof(value)) != 0 ||
        strlen(value) != SESSION_LEN)
        return VN_ENOTFOUND;
    vn_digest(value, strlen(value), digest);
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < VN_DASHBOARD_SESSIONS; i++) {
        struct session *s = &d->s[i];
        if (!s->used)
            continue;
        if (s->expires_ms <= now) {
            session_clear(s);
            continue;
        }
        if (vn_ct_equal(s->id_digest, digest, VN_DIGEST_LEN))
            found = i;
    }
    if (found >= 0) {
        snprintf(bearer, sizeof(bearer), "Bearer %s", d->s[found].key);
        vn_strlcpy(name, d->s[found].name, namelen);
    }
    pthread_mutex_unlock(&d->mu);
    if (found < 0)
        return VN_ENOTFOUND;
    /* The key must still be valid (not revoked) and of scope read or more. */
    if (vn_api_authenticate(d->api, bearer, &scope, NULL) != 0 || scope < VN_API_READ) {
        pthread_mutex_lock(&d->mu);
        if (d->s[found].used && vn_ct_equal(d->s[found].id_digest, digest, VN_DIGEST_LEN))
            session_clear(&d->s[found]);
        pthread_mutex_unlock(&d->mu);
        vn_wipe(bearer, sizeof(bearer));
        return VN_ENOTFOUND;
    }
    vn_wipe(bearer, sizeof(bearer));
    *slot = found;
    return 0;
}

/* Open a session for key; the cookie value goes to out. */
static void session_open(struct vn_dashboard *d, const char *key, const char *name,
                         char out[SESSION_LEN + 1])
{
    int64_t now = vn_now_ms();
    int slot = 0;

    vn_token_generate(out);
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < VN_DASHBOARD_SESSIONS; i++) {
        if (!d->s[i].used || d->s[i].expires_ms <= now) {
            slot = i;
            break;
        }
        if (d->s[i].created_ms < d->s[slot].created_ms)
            slot = i; /* all in use: the oldest goes */
    }
    session_clear(&d->s[slot]);
    d->s[slot].used = 1;
    vn_digest(out, strlen(out), d->s[slot].id_digest);
    vn_strlcpy(d->s[slot].key, key, sizeof(d->s[slot].key));
    vn_strlcpy(d->s[slot].name, name, sizeof(d->s[slot].name));
    d->s[slot].created_ms = now;
    d->s[slot].expires_ms = now + d->o.session_ms;
    pthread_mutex_unlock(&d->mu);
}

/* ---- pages -------------------------------------------------------------------------------- */

/* Headers every page gets: no script, no frame, nothing from elsewhere. */
static void page_headers(struct vn_api_req *req)
{
    vn_api_req_add_header(req, "Content-Security-Policy",
                          "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    vn_api_req_add_header(req, "X-Content-Type-Options", "nosniff");
    vn_api_req_add_header(req, "Referrer-Policy", "no-referrer");
}

static int respond_page(struct vn_api_req *req, unsigned status, struct vn_buf *b)
{
    int rc;

    page_headers(req);
    rc = vn_api_respond(req, status, "text/html; charset=utf-8", vn_buf_str(b), b->len);
    vn_buf_release(b);
    return rc;
}

static int login_page(struct vn_api_req *req, unsigned status, const char *message)
{
    struct vn_buf b;
    int rc;

    vn_buf_init(&b, 1 << 20);
    rc = vn__dashboard_login(&b, message);
    if (rc) {
        vn_buf_release(&b);
        return rc;
    }
    return respond_page(req, status, &b);
}

static int get_index(void *ud, struct vn_api_req *req)
{
    struct vn_dashboard *d = ud;
    struct vn__dashboard_view v = {.max_assets = d->o.max_assets};
    struct vn_store *st;
    struct vn_buf b;
    int slot, rc;

    if (session_find(d, req, v.user, sizeof(v.user), &slot) != 0)
        return login_page(req, MHD_HTTP_OK, NULL);
    pthread_rwlock_rdlock(&d->detach);
    if (d->o.ingest)
        vn_ingest_stats(d->o.ingest, &v.ingest);
    v.have_ingest = d->o.ingest != NULL;
    pthread_rwlock_unlock(&d->detach);
    vn_metrics_totals(&v.totals);
    v.now_ms = vn_now_ms();
    st = vn_api_store_acquire(d->api);
    if (!st)
        return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "the store cannot be read");
    vn_buf_init(&b, 16u << 20);
    rc = vn__dashboard_render(&b, st, &v);
    vn_api_store_release(d->api, st);
    if (rc) {
        vn_buf_release(&b);
        return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "the dashboard cannot be rendered: %s", vn_strerror(rc));
    }
    return respond_page(req, MHD_HTTP_OK, &b);
}

/* Decode one application/x-www-form-urlencoded field of body into out. 0 or VN_ENOTFOUND. */
static int form_field(const char *body, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p = body;

    while (p && *p) {
        if (!strncmp(p, name, n) && p[n] == '=') {
            size_t k = 0;
            for (p += n + 1; *p && *p != '&'; p++) {
                int c = (unsigned char)*p;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && p[1] && p[2]) {
                    char hex[3] = {p[1], p[2], 0};
                    char *end;
                    long v = strtol(hex, &end, 16);
                    if (*end)
                        return VN_EPARSE;
                    c = (int)v;
                    p += 2;
                }
                if (k + 1 >= outlen)
                    return VN_ETOOBIG;
                out[k++] = (char)c;
            }
            out[k] = '\0';
            return 0;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return VN_ENOTFOUND;
}

static int redirect_home(struct vn_api_req *req)
{
    vn_api_req_add_header(req, "Location", "/");
    return vn_api_respond(req, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", "", 0);
}

static int post_login(void *ud, struct vn_api_req *req)
{
    struct vn_dashboard *d = ud;
    char key[VN_API_KEY_LEN + 8], bearer[VN_API_KEY_LEN + 16], name[VN_API_NAME_MAX + 1];
    char sid[SESSION_LEN + 1], cookie[256];
    enum vn_api_scope scope;
    size_t len;
    const char *body = vn_api_req_body(req, &len);
    int rc;

    if (form_field(body, "key", key, sizeof(key)) != 0 || !key[0])
        return login_page(req, MHD_HTTP_OK, "Enter an API key.");
    snprintf(bearer, sizeof(bearer), "Bearer %s", key);
    rc = vn_api_authenticate(d->api, bearer, &scope, name);
    vn_wipe(bearer, sizeof(bearer));
    if (rc != 0 || scope < VN_API_READ) {
        vn_wipe(key, sizeof(key));
        vn_log_warn("dashboard: login refused (unknown or revoked key) from %s",
                    vn_api_req_remote(req));
        /* 200: the form again, with why (a browser shows a form; 401 is for API clients). */
        return login_page(req, MHD_HTTP_OK, "That key is not valid: unknown, revoked or mistyped.");
    }
    session_open(d, key, name, sid);
    vn_wipe(key, sizeof(key));
    snprintf(cookie, sizeof(cookie),
             COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", sid,
             (long long)(d->o.session_ms / 1000), d->o.secure_cookie ? "; Secure" : "");
    vn_wipe(sid, sizeof(sid));
    vn_api_req_add_header(req, "Set-Cookie", cookie);
    vn_wipe(cookie, sizeof(cookie));
    vn_log_info("dashboard: '%s' logged in from %s", name, vn_api_req_remote(req));
    return redirect_home(req);
}

static int post_logout(void *ud, struct vn_api_req *req)
{
    struct vn_dashboard *d = ud;
    char name[VN_API_NAME_MAX + 1];
    int slot;

    if (session_find(d, req, name, sizeof(name), &slot) == 0) {
        pthread_mutex_lock(&d->mu);
        session_clear(&d->s[slot]);
        pthread_mutex_unlock(&d->mu);
    }
    vn_api_req_add_header(req, "Set-Cookie",
                          COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    return redirect_home(req);
}

/* ---- mounting ----------------------------------------------------------------------------- */

struct vn_dashboard *vn_dashboard_mount(struct vn_api *api, const struct vn_dashboard_options *o,
                                        struct vn_error *err)
{
    struct vn_dashboard *d = calloc(1, sizeof(*d));
    int rc = 0;

    if (!d) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    d->api = api;
    if (o)
        d->o = *o;
    if (d->o.max_assets <= 0)
        d->o.max_assets = 10000;
    if (d->o.session_ms <= 0)
        d->o.session_ms = 8LL * 3600 * 1000;
    pthread_mutex_init(&d->mu, NULL);
    pthread_rwlock_init(&d->detach, NULL);
    if (rc == 0)
        rc = vn_api_mount(api, "GET", "/metrics", VN_API_READ, get_metrics, d);
    if (rc == 0)
        rc = vn_api_mount(api, "GET", "/healthz", VN_API_READ, get_health, d);
    if (rc == 0)
        rc = vn_api_mount(api, "GET", "/", VN_API_PUBLIC, get_index, d);
    if (rc == 0)
        rc = vn_api_mount(api, "POST", "/login", VN_API_PUBLIC, post_login, d);
    if (rc == 0)
        rc = vn_api_mount(api, "POST", "/logout", VN_API_PUBLIC, post_logout, d);
    if (rc) {
        vn_error_set(err, rc, "cannot mount the dashboard's routes: %s", vn_strerror(rc));
        vn_dashboard_free(d);
        return NULL;
    }
    return d;
}

void vn_dashboard_detach(struct vn_dashboard *d)
{
    if (!d)
        return;
    pthread_rwlock_wrlock(&d->detach);
    d->o.ingest = NULL;
    d->o.health_extra = NULL;
    d->o.health_ud = NULL;
    pthread_rwlock_unlock(&d->detach);
}

void vn_dashboard_free(struct vn_dashboard *d)
{
    if (!d)
        return;
    vn_wipe(d->s, sizeof(d->s));
    pthread_rwlock_destroy(&d->detach);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
