/*
 * httpd.c - see include/vppnotify/httpd.h: the requests (routes, phases, answers, logs). The
 * server's life (start, connections, TLS, reload, stop) is in server.c; httpd_impl.h is what
 * the two share.
 */
#include "vppnotify/httpd.h"
#include "conn.h"
#include "httpd_impl.h"
#include "framing.h"
#include "rejects.h"
#include "vppnotify/auth.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/ingest.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/metrics.h"
#include "vppnotify/net.h"
#include "vppnotify/notification.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * After a 413 sent while the body was still arriving, what the client still sends is read and
 * dropped before the connection closes (a lingering close, as nginx's): closing with unread
 * data makes the kernel send a reset, and a client still writing may then never read the
 * answer. Bounded in bytes (DISCARD_FACTOR times the limit, at least DISCARD_MIN) and in
 * time (DISCARD_MS after the answer), whichever comes first.
 */
#define DISCARD_FACTOR 4
#define DISCARD_MIN    (8u << 20)
#define DISCARD_MS     2000

struct limits {
    size_t max_body, max_depth, quarantine_max;
    unsigned retry_after_s, max_per_ip;
    int64_t read_timeout_ms;
};

enum route { ROUTE_NOTIFY, ROUTE_HEALTH };
/* PH_NEW: request line seen, headers not yet; PH_AUTH: suspended until the token checker
 * confirmed a token that was not in its snapshot; PH_DRAIN: answered while the body was still
 * arriving (413): what comes is read and dropped, then the connection closes. */
enum phase { PH_NEW, PH_AUTH, PH_BODY, PH_WAIT, PH_DONE, PH_DRAIN };

/*
 * Per-request state: allocated when the request line arrives (the URI log callback, which
 * measures the target before libmicrohttpd unescapes it), freed in request_completed (one
 * place).
 */
struct request {
    struct vn_httpd *h;
    struct MHD_Connection *conn;
    struct vn_conn *track; /* the connection's deadlines (conn.h); NULL if untracked */
    struct limits lim;     /* the live limits when the request started */
    size_t url_raw_len;    /* strlen of the target as it arrived */
    int counted;           /* in h->in_flight (its headers were complete) */
    int close;             /* answer with Connection: close */
    enum route route;
    enum phase phase;
    char early_error[256];   /* the message of an answer decided before the body's end */
    char uid[VN_ID_MAX + 1]; /* the token's location */
    char remote[64];         /* the client: the peer, or X-Forwarded-For's behind a proxy */
    char peer[64];           /* the peer, when it is a trusted proxy (logged as via=) */
    int proxied;             /* the peer is a trusted proxy */
    int client_counted;      /* in the per-client count (vn_conns_client_enter) */
    struct sockaddr_storage client;
    struct vn_buf body;
    size_t seen; /* body bytes received, kept or not */
    int64_t start_ns;
    int64_t drain_end_ns; /* PH_DRAIN: close once this passes */
    struct vn_notification *n;
    char reason[VN_ERROR_MSG_MAX]; /* why a body was quarantined */
    struct vn_ingest_job job;
    atomic_int job_done;
    struct vn__resume_slot *slot; /* its thread's (NULL: the writer resumes it itself) */
    struct request *resume_next;  /* on slot->head */
    int in_hold;                  /* counted in slot->held (its thread resumed it from the list) */
    int logged;                   /* its notification's line is out (log_notification) */
    struct vn_auth_wait auth_wait;
    atomic_int auth_done;
    int auth_rc; /* why a confirmation could not be queued */
};

/* ---- responses --------------------------------------------------------------------------- */

/* Queue text (malloc'd; owned from here) as the JSON answer of r. */
static enum MHD_Result respond_text(struct request *r, unsigned status, char *text)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (!text)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"vppnotify\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->route == ROUTE_HEALTH ? "GET" : "POST");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", r->lim.retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->phase = PH_DONE;
    vn_conn_set_phase(r->track, VN_CONN_BUSY);
    vn_metrics_http_status(status);
    if (r->route == ROUTE_NOTIFY)
        vn_metrics_ingest_latency(vn_mono_ns() - r->start_ns);
    return ret;
}

static enum MHD_Result respond_json(struct request *r, unsigned status, json_t *body)
{
    char *text = vn_json_dump(body);

    json_decref(body);
    return respond_text(r, status, text);
}

/*
 * The answer of an applied or duplicate notification, {"notificationId":ID,"status":STATUS},
 * byte for byte what vn_json_dump writes for that object (sorted keys; jansson's escapes:
 * the two-character ones, other control characters as \u00XX, everything else as it came:
 * the parser let only valid UTF-8 without NUL through). Built by hand because it is the answer
 * of nearly every request: jansson's object, pack and dump cost ~1 us each time.
 */
static char *ok_body(const char *id, const char *status)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t idlen = strlen(id), cap = idlen * 6 + strlen(status) + 48, n = 0;
    char *out = malloc(cap);

    if (!out)
        return NULL;
    memcpy(out, "{\"notificationId\":\"", 19);
    n = 19;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc) {
            out[n++] = esc[0];
            out[n++] = esc[1];
        } else if (*p < 0x20) {
            const char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            memcpy(out + n, u, sizeof(u));
            n += sizeof(u);
        } else {
            out[n++] = (char)*p;
        }
    }
    n += (size_t)snprintf(out + n, cap - n, "\",\"status\":\"%s\"}", status);
    return out;
}

static double elapsed_ms(const struct request *r)
{
    return (double)(vn_mono_ns() - r->start_ns) / 1e6;
}

static void log_rejected_line(struct request *r, unsigned status, const char *why)
{
    struct vn_log_field f[] = {
        VN_LF_I("status", status),          VN_LF_S("error", why),
        VN_LF_S("remote", r->remote),       VN_LF_S("via", r->proxied ? r->peer : NULL),
        VN_LF_I("bytes", (int64_t)r->seen), VN_LF_D("latency_ms", elapsed_ms(r)),
    };
    vn_log_fields(status >= 500 ? VN_LOG_ERROR : VN_LOG_WARN, "request rejected", f,
                  (int)(sizeof(f) / sizeof(f[0])));
}

/* 401/403 are recorded (rejects.h); who sends them decides how many there are. */
static void record_rejection(struct request *r, unsigned status, const char *reason,
                             const char *claimed_uid, const char *token_uid)
{
    if (r->h->rejects)
        vn_rejects_note(r->h->rejects, r->remote, (int)status, reason, claimed_uid, token_uid);
}

/* 401 and 403 lines: at most AUTH_LINES_MAX per 10 s each, then one line saying how many were
 * left out (`vppnotify rejections` lists them all). Other statuses are not limited. */
#define AUTH_LINES_MAX 20

static int auth_line_allowed(struct vn_httpd *h, unsigned *skipped)
{
    int64_t now = vn_now_ms();
    int ok;

    pthread_mutex_lock(&h->authlog.lock);
    if (now - h->authlog.window_ms >= 10000) {
        *skipped = h->authlog.skipped;
        h->authlog.window_ms = now;
        h->authlog.lines = 0;
        h->authlog.skipped = 0;
    }
    ok = h->authlog.lines < AUTH_LINES_MAX;
    if (ok)
        h->authlog.lines++;
    else
        h->authlog.skipped++;
    pthread_mutex_unlock(&h->authlog.lock);
    return ok;
}

/* The one log line of a request that carried no notification we could read. */
static void log_rejected(struct request *r, unsigned status, const char *why)
{
    unsigned skipped = 0;

    if (status == MHD_HTTP_UNAUTHORIZED || status == MHD_HTTP_FORBIDDEN) {
        int ok = auth_line_allowed(r->h, &skipped);
        if (skipped)
            vn_log_warn("%u more requests were rejected with 401/403 in 10 s and not logged one "
                        "by one ('vppnotify rejections' lists them)",
                        skipped);
        if (!ok)
            return;
    }
    log_rejected_line(r, status, why);
}

static enum MHD_Result respond_error(struct request *r, unsigned status, const char *msg)
{
    log_rejected(r, status, msg);
    return respond_json(r, status, json_pack("{ss}", "error", msg));
}

/* The one log line of a notification (contract: id, type, uId, outcome, latency). status 0:
 * never answered (no status; unanswered= says why). */
static void log_notification(struct request *r, unsigned status, const char *unanswered)
{
    const struct vn_notification *n = r->n;
    const struct vn_ingest_job *j = &r->job;
    struct vn_log_field f[] = {
        VN_LF_S("id", n->id),
        VN_LF_S("type", n->type_name),
        VN_LF_S("uid", n->uid),
        VN_LF_S("event", n->event_id),
        VN_LF_S("outcome", vn_outcome_name(j->outcome)),
        status ? VN_LF_I("status", status) : VN_LF_S("status", NULL),
        VN_LF_S("unanswered", status ? NULL : unanswered),
        VN_LF_I("items", (int64_t)n->n_items),
        VN_LF_S("conflict", j->outcome == VN_OUTCOME_DUPLICATE && j->conflict ? "yes" : NULL),
        VN_LF_S("error", j->outcome == VN_OUTCOME_STORED || j->outcome == VN_OUTCOME_UNAVAILABLE
                             ? j->error
                             : NULL),
        VN_LF_S("remote", r->remote),
        VN_LF_S("via", r->proxied ? r->peer : NULL),
        VN_LF_D("latency_ms", elapsed_ms(r)),
    };
    enum vn_log_level lvl = VN_LOG_INFO;

    r->logged = 1;
    if (j->outcome == VN_OUTCOME_UNAVAILABLE)
        lvl = VN_LOG_ERROR;
    else if (!status || j->outcome == VN_OUTCOME_STORED ||
             (j->conflict && j->outcome == VN_OUTCOME_DUPLICATE))
        lvl = VN_LOG_WARN; /* unanswered: the sender will send it again */
    vn_log_fields(lvl, "notification", f, (int)(sizeof(f) / sizeof(f[0])));
}

/* Why /healthz said 503: in the log (the answer itself says no more than "unavailable"), at
 * most every 10 s. */
static void log_unhealthy(struct vn_httpd *h, const char *why)
{
    int64_t now = vn_now_ms(), last = atomic_load(&h->health_logged_ms);

    if (now - last < 10000 || !atomic_compare_exchange_strong(&h->health_logged_ms, &last, now))
        return;
    vn_log_warn("healthz: unavailable: %s", why);
}

/* Answer a request whose job the writer finished. */
static enum MHD_Result respond_outcome(struct request *r)
{
    const struct vn_ingest_job *j = &r->job;

    if (j->kind == VN_JOB_PING) {
        struct vn_ingest_stats s;
        vn_ingest_stats(r->h->ingest, &s);
        /* Public and minimal (issue 12): the status only; details are on the API listener. */
        if (j->outcome != VN_OUTCOME_OK || s.store_failed) {
            log_unhealthy(r->h, s.store_failed ? s.last_error : j->error);
            return respond_json(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                                json_pack("{ss}", "status", "unavailable"));
        }
        return respond_json(r, MHD_HTTP_OK, json_pack("{ss}", "status", "ok"));
    }
    if (j->kind == VN_JOB_QUARANTINE) {
        if (j->outcome != VN_OUTCOME_QUARANTINED)
            return respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "the body could not be kept in quarantine; retry later");
        log_rejected(r, MHD_HTTP_BAD_REQUEST, r->reason);
        vn_metrics_notification(VN_NT_UNKNOWN, VN_OUTCOME_QUARANTINED);
        return respond_json(r, MHD_HTTP_BAD_REQUEST,
                            json_pack("{ss ss}", "error", r->reason, "status", "quarantined"));
    }
    vn_metrics_notification(r->n->type,
                            j->outcome == VN_OUTCOME_NONE ? VN_OUTCOME_UNAVAILABLE : j->outcome);
    switch (j->outcome) {
    case VN_OUTCOME_APPLIED:
    case VN_OUTCOME_DUPLICATE:
        log_notification(r, MHD_HTTP_OK, NULL);
        return respond_text(r, MHD_HTTP_OK, ok_body(r->n->id, vn_outcome_name(j->outcome)));
    case VN_OUTCOME_STORED:
        log_notification(r, MHD_HTTP_ACCEPTED, NULL);
        return respond_json(r, MHD_HTTP_ACCEPTED,
                            json_pack("{ss ss ss}", "status", "stored", "notificationId", r->n->id,
                                      "reason", j->error));
    default:
        log_notification(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL);
        return respond_json(
            r, MHD_HTTP_SERVICE_UNAVAILABLE,
            json_pack("{ss ss}", "error", "not stored; retry later", "notificationId", r->n->id));
    }
}

/* ---- the writer's callback and submission ------------------------------------------------ */

/* This thread's slot; with make, one is made when there is none (NULL when all are taken). */
static struct vn__resume_slot *thread_slot(struct vn_httpd *h, int make)
{
    pthread_t self = pthread_self();
    unsigned n = atomic_load(&h->nslots);
    struct vn__resume_slot *s = NULL;

    for (unsigned i = 0; i < n; i++)
        if (pthread_equal(h->slots[i].thread, self))
            return &h->slots[i];
    if (!make)
        return NULL;
    pthread_mutex_lock(&h->slots_lock);
    n = atomic_load(&h->nslots);
    if (n < VN_RESUME_SLOTS) {
        s = &h->slots[n];
        s->thread = self;
        pthread_mutex_init(&s->lock, NULL);
        s->head = NULL;
        atomic_store(&s->leader_out, 0);
        s->held = 0;
        atomic_store(&h->nslots, n + 1);
    }
    pthread_mutex_unlock(&h->slots_lock);
    return s;
}

/*
 * Take a slot's list (its leader is out no more) and resume every connection of it. own: the
 * caller is the slot's thread, which holds its log until each of them has been answered or
 * has gone (hold_done); the leader's answer, when it comes in that time, joins the hold too.
 * Another thread (vn__httpd_resume_all) holds nothing: a hold is the calling thread's.
 */
static void resume_list(struct vn__resume_slot *s, int own)
{
    struct request *r;
    unsigned n = 0;

    pthread_mutex_lock(&s->lock);
    r = s->head;
    s->head = NULL;
    atomic_store(&s->leader_out, 0);
    pthread_mutex_unlock(&s->lock);
    for (struct request *p = r; own && p; p = p->resume_next) {
        p->in_hold = 1;
        n++;
    }
    if (n && s->held == 0)
        vn_log_hold();
    s->held += n;
    while (r) {
        struct request *next = r->resume_next;
        r->resume_next = NULL;
        MHD_resume_connection(r->conn);
        r = next;
    }
}

/*
 * A connection of its thread's hold was answered or has gone (on that thread: its handler or
 * its completed callback, whichever comes first; libmicrohttpd calls one of them for every
 * resumed connection, also when its thread stops): the last one ends the hold.
 */
static void hold_done(struct request *r)
{
    if (!r->in_hold)
        return;
    r->in_hold = 0;
    if (--r->slot->held == 0)
        vn_log_release();
}

void vn__httpd_resume_listed(struct vn_httpd *h)
{
    struct vn__resume_slot *s = thread_slot(h, 0);

    if (s && atomic_load(&s->leader_out))
        resume_list(s, 1);
}

void vn__httpd_resume_all(struct vn_httpd *h)
{
    unsigned n = atomic_load(&h->nslots);

    for (unsigned i = 0; i < n; i++)
        resume_list(&h->slots[i], 0);
}

/*
 * The writer's callback, after the COMMIT: the first connection of a batch per libmicrohttpd
 * thread is resumed here, the others are listed for their thread, which resumes them when the
 * first one's callback runs (vn__httpd_resume_listed). One wake-up and one eventfd write of the
 * writer per thread and batch, instead of one per notification.
 */
static void job_done(struct vn_ingest_job *job)
{
    struct request *r = job->ud;
    struct vn__resume_slot *s = r->slot;
    int lead = 1;

    atomic_store(&r->job_done, 1);
    if (s) {
        pthread_mutex_lock(&s->lock);
        lead = !atomic_load(&s->leader_out);
        if (lead) {
            atomic_store(&s->leader_out, 1);
        } else {
            r->resume_next = s->head;
            s->head = r;
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (lead)
        MHD_resume_connection(r->conn);
}

/* Suspend, then submit (in that order: the writer may resume us at once). */
static enum MHD_Result submit(struct request *r)
{
    int rc;

    r->job.done = job_done;
    r->job.ud = r;
    r->slot = thread_slot(r->h, 1);
    r->job.received_ms = vn_now_ms();
    r->phase = PH_WAIT;
    vn_conn_set_phase(r->track, VN_CONN_BUSY);
    MHD_suspend_connection(r->conn);
    rc = vn_ingest_submit(r->h->ingest, &r->job);
    if (rc) {
        /* Not queued: answer 503 ourselves when the connection comes back. */
        r->job.outcome = VN_OUTCOME_UNAVAILABLE;
        vn_strlcpy(r->job.error, rc == VN_EFULL ? "ingest queue full" : "shutting down",
                   sizeof(r->job.error));
        atomic_store(&r->job_done, 1);
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

/* ---- request phases ---------------------------------------------------------------------- */

struct vn_conn *vn__httpd_track(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

static const struct sockaddr *peer_address(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    return ci ? ci->client_addr : NULL;
}

int vn__httpd_is_trusted(void *ud, const struct sockaddr *sa)
{
    struct vn_httpd *h = ud;

    return vn_cidr_match(h->trusted, h->ntrusted, sa);
}

#define XFF_VALUES_MAX 16

struct xff {
    const char *v[XFF_VALUES_MAX];
    size_t n;
    int too_many;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct xff *x = cls;

    (void)kind;
    if (!key || !value || strlen(key) != 15 || vn_strncasecmp_ascii(key, "X-Forwarded-For", 15))
        return MHD_YES;
    if (x->n == XFF_VALUES_MAX) {
        x->too_many = 1;
        return MHD_NO;
    }
    x->v[x->n++] = value;
    return MHD_YES;
}

/*
 * A request from a trusted proxy: the client is X-Forwarded-For's rightmost untrusted hop
 * (net.h); limits, logs and rejections use it. At most --max-per-ip of its requests are in
 * flight at once (the proxy's own connections are not limited per address). 0, or an answer
 * has been queued.
 */
static enum MHD_Result forwarded_client(struct request *r, int *answered)
{
    struct xff x = {{0}, 0, 0};
    int rc;

    *answered = 0;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_xff, &x);
    rc = vn_forwarded_client(x.v, x.n, r->h->trusted, r->h->ntrusted, peer_address(r->conn),
                             &r->client);
    vn_sockaddr_host((struct sockaddr *)&r->client, r->remote, sizeof(r->remote));
    if (rc || x.too_many)
        vn_log_debug("X-Forwarded-For from %s is not a list of addresses; the client is taken "
                     "as %s",
                     r->peer, r->remote);
    rc = vn_conns_client_enter(r->h->conns, (struct sockaddr *)&r->client);
    if (rc == 0) {
        r->client_counted = 1;
        return MHD_YES;
    }
    *answered = 1;
    snprintf(r->early_error, sizeof(r->early_error),
             "too many requests in progress from %s (--max-per-ip %u)", r->remote,
             r->lim.max_per_ip);
    return respond_error(r, MHD_HTTP_TOO_MANY_REQUESTS, r->early_error);
}

/* "application/json", optionally followed by parameters ("; charset=utf-8"). */
static int content_type_ok(const char *ct)
{
    size_t n = strlen("application/json");

    if (!ct)
        return 1;
    while (*ct == ' ')
        ct++;
    if (vn_strncasecmp_ascii(ct, "application/json", n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* First call: route and check headers. Returns MHD_YES/NO; an answer may already be queued. */
static enum MHD_Result authenticate(struct request *r);
static enum MHD_Result after_auth(struct request *r);

static enum MHD_Result on_headers(struct request *r, const char *url, const char *method)
{
    struct vn_httpd *h = r->h;

    if (strcmp(url, "/healthz") == 0) {
        r->route = ROUTE_HEALTH;
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        return MHD_YES;
    }
    if (strcmp(url, h->o.path) != 0)
        return respond_error(r, MHD_HTTP_NOT_FOUND, "not found");
    r->route = ROUTE_NOTIFY;
    if (strcmp(method, "POST") != 0)
        return respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    return authenticate(r);
}

/* The checker confirmed (or not) a token that was not in the snapshot: look up again. */
static void auth_done(struct vn_auth_wait *w)
{
    struct request *r = w->ud;

    atomic_store(&r->auth_done, 1);
    MHD_resume_connection(r->conn);
}

/*
 * The token selects the location. A token not in the snapshot may be a minute old: the
 * connection waits (suspended, no thread held) for a version check, then the lookup is
 * repeated; a second miss is final (401).
 */
static enum MHD_Result authenticate(struct request *r)
{
    struct vn_httpd *h = r->h;
    int rc = vn_auth_lookup(
        h->auth,
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        r->uid);

    if (rc == VN_ENOTFOUND && r->phase != PH_AUTH) {
        r->phase = PH_AUTH;
        r->auth_wait.done = auth_done;
        r->auth_wait.ud = r;
        MHD_suspend_connection(r->conn);
        rc = vn_auth_confirm(h->auth, &r->auth_wait);
        if (rc) {
            /* Not queued: answer ourselves when the connection comes back. */
            r->auth_rc = rc;
            atomic_store(&r->auth_done, 1);
            MHD_resume_connection(r->conn);
        }
        return MHD_YES;
    }
    r->phase = PH_BODY;
    if (r->auth_rc)
        return respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                             r->auth_rc == VN_EFULL
                                 ? "too many unknown tokens waiting to be checked; retry later"
                                 : "shutting down; retry later");
    if (rc != 0) {
        const char *hdr =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        record_rejection(r, MHD_HTTP_UNAUTHORIZED,
                         !hdr                 ? "missing Authorization"
                         : rc == VN_ENOTFOUND ? "unknown token"
                                              : "malformed Authorization",
                         NULL, NULL);
        return respond_error(r, MHD_HTTP_UNAUTHORIZED, "missing, malformed or unknown token");
    }
    return after_auth(r);
}

/* The rest of the header checks of an authenticated notification. */
static enum MHD_Result after_auth(struct request *r)
{
    const char *cl, *ct;

    cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        long long n;
        if (vn_parse_ll(cl, 0, (long long)r->lim.max_body, &n) == VN_ETOOBIG) {
            snprintf(r->early_error, sizeof(r->early_error),
                     "Content-Length %s is larger than the limit of %zu bytes", cl,
                     r->lim.max_body);
            return respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE, r->early_error);
        }
        if (n > 0 && vn_buf_reserve(&r->body, (size_t)n) != 0)
            return MHD_NO;
    }
    ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!content_type_ok(ct))
        return respond_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                             "Content-Type must be application/json");
    return MHD_YES;
}

/* PH_DRAIN: how many body bytes in all are read (and dropped) before the connection closes. */
static size_t discard_max(const struct request *r)
{
    size_t n =
        r->lim.max_body > SIZE_MAX / DISCARD_FACTOR ? SIZE_MAX : r->lim.max_body * DISCARD_FACTOR;

    return n < DISCARD_MIN ? DISCARD_MIN : n;
}

static enum MHD_Result on_body(struct request *r, const char *data, size_t *size)
{
    size_t n = *size;

    *size = 0;
    r->seen += n;
    if (vn_mono_ns() - r->start_ns > r->lim.read_timeout_ms * 1000000) {
        log_rejected(r, 408, "body not received within the read timeout; connection closed");
        return MHD_NO;
    }
    if (vn_buf_append(&r->body, data, n) != 0) {
        /* Over the limit while reading (a chunked body): answer 413 now, then read and drop
         * what the client still sends (bounded: DISCARD_*), so that it can read the answer
         * before the connection closes (RFC 9112 section 9.6). */
        json_t *body;
        char *text;
        int rc = -1;

        snprintf(r->early_error, sizeof(r->early_error),
                 "body is larger than the limit of %zu bytes", r->lim.max_body);
        vn_buf_release(&r->body);
        log_rejected(r, MHD_HTTP_CONTENT_TOO_LARGE, r->early_error);
        body = json_pack("{ss}", "error", r->early_error);
        text = body ? vn_json_dump(body) : NULL;
        json_decref(body);
        if (text)
            rc = vn_framing_answer_now(r->conn, MHD_HTTP_CONTENT_TOO_LARGE, text);
        if (rc == 0)
            vn_metrics_http_status(MHD_HTTP_CONTENT_TOO_LARGE);
        free(text);
        r->phase = PH_DRAIN;
        r->drain_end_ns = vn_mono_ns() + (int64_t)DISCARD_MS * 1000000;
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    return MHD_YES;
}

/* The whole body is here: parse and hand over to the writer. */
static enum MHD_Result on_complete(struct request *r)
{
    struct vn_parse_limits limits = {.max_depth = r->lim.max_depth};
    struct vn_error err = {0};
    int rc;

    if (r->route == ROUTE_HEALTH) {
        r->job.kind = VN_JOB_PING;
        return submit(r);
    }
    rc = vn_notification_parse(vn_buf_str(&r->body), r->body.len, &limits, &r->n, &err);
    if (rc == VN_EPARSE) {
        vn_strlcpy(r->reason, err.msg, sizeof(r->reason));
        r->job.kind = VN_JOB_QUARANTINE;
        r->job.body = vn_buf_str(&r->body);
        r->job.original_len = r->body.len;
        r->job.body_len = r->body.len < r->lim.quarantine_max ? r->body.len : r->lim.quarantine_max;
        r->job.remote = r->remote;
        r->job.reason = r->reason;
        return submit(r);
    }
    if (rc)
        return respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (strcmp(r->n->uid, r->uid) != 0) {
        char msg[VN_ID_MAX + 96];
        snprintf(msg, sizeof(msg), "uId '%s' is not the location of this token", r->n->uid);
        record_rejection(r, MHD_HTTP_FORBIDDEN, "uId of another location", r->n->uid, r->uid);
        return respond_error(r, MHD_HTTP_FORBIDDEN, msg);
    }
    r->job.kind = VN_JOB_NOTIFICATION;
    r->job.n = r->n;
    r->job.body = vn_buf_str(&r->body);
    r->job.body_len = r->body.len;
    vn_digest(r->job.body, r->job.body_len, r->job.digest);
    return submit(r);
}

/* The request line has arrived: the request's state starts here (see struct request). */
void *vn__httpd_request_new(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct vn_httpd *h = cls;
    struct request *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL; /* the handler then closes the connection */
    r->h = h;
    r->conn = conn;
    r->url_raw_len = uri ? strlen(uri) : 0;
    r->start_ns = vn_mono_ns();
    r->phase = PH_NEW;
    r->lim.max_body = atomic_load(&h->live.max_body);
    r->lim.max_depth = atomic_load(&h->live.max_depth);
    r->lim.quarantine_max = atomic_load(&h->live.quarantine_max);
    r->lim.retry_after_s = atomic_load(&h->live.retry_after_s);
    r->lim.max_per_ip = atomic_load(&h->live.max_per_ip);
    r->lim.read_timeout_ms = atomic_load(&h->live.read_timeout_ms);
    vn_buf_init(&r->body, r->lim.max_body);
    vn_sockaddr_host(peer_address(conn), r->remote, sizeof(r->remote));
    if (h->ntrusted && vn__httpd_is_trusted(h, peer_address(conn))) {
        r->proxied = 1;
        vn_strlcpy(r->peer, r->remote, sizeof(r->peer));
    }
    r->track = vn__httpd_track(conn);
    return r;
}

enum MHD_Result vn__httpd_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct vn_httpd *h = cls;
    struct request *r = *con_cls;
    unsigned bad;

    (void)conn;
    vn__httpd_resume_listed(h);
    if (!r)
        return MHD_NO;
    switch (r->phase) {
    case PH_NEW:
        r->phase = PH_BODY;
        r->counted = 1;
        atomic_fetch_add(&h->in_flight, 1);
        vn_conn_set_phase(r->track, VN_CONN_BODY);
        if (r->proxied) {
            int answered;
            enum MHD_Result ret = forwarded_client(r, &answered);
            if (answered)
                return ret;
        }
        bad = vn_framing_check(conn, method, url, version, r->url_raw_len, r->early_error,
                               sizeof(r->early_error));
        if (bad) {
            r->close = 1;
            return respond_error(r, bad, r->early_error);
        }
        return on_headers(r, url, method);
    case PH_AUTH:
        if (!atomic_load(&r->auth_done))
            return MHD_YES; /* spurious call; still waiting for the checker */
        return authenticate(r);
    case PH_BODY:
        if (*upload_data_size)
            return on_body(r, upload_data, upload_data_size);
        return on_complete(r);
    case PH_WAIT: {
        enum MHD_Result ret;
        if (!atomic_load(&r->job_done))
            return MHD_YES; /* spurious call; still waiting for the writer */
        ret = respond_outcome(r);
        hold_done(r);
        return ret;
    }
    case PH_DRAIN:
        r->seen += *upload_data_size;
        if (*upload_data_size == 0 || r->seen > discard_max(r) || vn_mono_ns() > r->drain_end_ns)
            return MHD_NO; /* the end, or enough: close (the answer is out already) */
        *upload_data_size = 0;
        return MHD_YES;
    case PH_DONE:
        break;
    }
    /* A response is queued already; swallow whatever body the client still sends. */
    *upload_data_size = 0;
    return MHD_YES;
}

/* Why a request ended without an answer, as its line says it (unanswered=). libmicrohttpd
 * reports a client that closed its side as an abort, a read error or "with error", depending
 * on where it noticed: all three are the connection's end. */
static const char *unanswered_why(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    default:
        return "connection-closed";
    }
}

void vn__httpd_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                 enum MHD_RequestTerminationCode toe)
{
    struct vn_httpd *h = cls;
    struct request *r = *con_cls;

    vn__httpd_resume_listed(h);
    if (!r)
        return;
    /* A notification done but never answered (the connection ended first: the client gave up,
     * or serve stopped; it will be sent again). Its line still says what became of it. */
    if (r->phase == PH_WAIT && atomic_load(&r->job_done) && r->job.kind == VN_JOB_NOTIFICATION &&
        !r->logged)
        log_notification(r, 0, unanswered_why(toe));
    hold_done(r);
    /* A kept-alive connection now waits for its next request's headers. */
    vn_conn_set_phase(r->track, VN_CONN_HEADERS);
    if (r->counted)
        atomic_fetch_sub(&h->in_flight, 1);
    if (r->client_counted)
        vn_conns_client_leave(h->conns, (struct sockaddr *)&r->client);
    vn_notification_free(r->n);
    vn_buf_release(&r->body);
    free(r);
    *con_cls = NULL;
}
