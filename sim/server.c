/*
 * server.c - see server.h.
 */
#include "server.h"

#include "config.h"
#include "engine.h"
#include "reqlog.h"
#include "req.h"
#include "router.h"

#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/net.h"
#include "vppnotify/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNECTIONS 512
#define IDLE_TIMEOUT_S  60

struct conn;

struct sim_server {
    const struct sim_config *cfg;
    struct sim_engine *engine;
    struct sim_reqlog *log;
    struct MHD_Daemon *mhd;
    /* Answers held back (the latencyMs fault), in order of due time, and the thread that
     * resumes their connections when due (all at once when stopping). */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    pthread_t holder;
    int have_holder;
    int stopping;
    struct conn *held;
};

enum phase { PH_BODY, PH_WAIT, PH_DONE };

/* One request: allocated on MHD's first call, freed in on_completed (one place). */
struct conn {
    struct sim_server *srv;
    struct MHD_Connection *mc;
    struct sim_req r;
    struct vn_buf body;
    int too_big;
    int phase;        /* enum phase; written by the engine thread when it hands the request back */
    int64_t start_us; /* monotonic: the headers were read */
    int in_flight;    /* a /mdm/v2 request counted in the log's inFlight, not yet ended */
    char agent[96];   /* User-Agent, cut (the request log tells instances apart by it) */
    int64_t due_ns;   /* held: when to resume (monotonic) */
    struct conn *next_held;
};

static void resume_now(struct conn *cs)
{
    __atomic_store_n(&cs->phase, PH_DONE, __ATOMIC_RELEASE);
    MHD_resume_connection(cs->mc);
}

/* Queue cs until its due time: 1, or 0 when the server stops (answer at once). */
static int hold(struct sim_server *s, struct conn *cs, int64_t ms)
{
    struct conn **p;

    pthread_mutex_lock(&s->mu);
    if (s->stopping || !s->have_holder) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    cs->due_ns = vn_mono_ns() + ms * 1000000;
    for (p = &s->held; *p && (*p)->due_ns <= cs->due_ns; p = &(*p)->next_held)
        ;
    cs->next_held = *p;
    *p = cs;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 1;
}

/* The holder thread: resume each held connection when it is due; every one when stopping. */
static void *holder_main(void *arg)
{
    struct sim_server *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct conn *cs = s->held;
        if (cs && (s->stopping || cs->due_ns <= vn_mono_ns())) {
            s->held = cs->next_held;
            pthread_mutex_unlock(&s->mu);
            resume_now(cs);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (s->stopping)
            break;
        if (cs)
            vn_cond_wait_until(&s->cv, &s->mu, cs->due_ns);
        else
            pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The engine is done with the request: let MHD send the answer (engine thread), at once or
 * after the latencyMs fault's time. */
static void resume(struct sim_req *r)
{
    struct conn *cs = r->done_ud;

    if (r->hold_ms > 0 && hold(cs->srv, cs, r->hold_ms))
        return;
    resume_now(cs);
}

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    (void)key;
    (void)value;
    (*(size_t *)cls)++;
    return MHD_YES;
}

struct args_ctx {
    struct sim_req *r;
    size_t cap;
    int failed;
};

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct args_ctx *a = cls;
    struct sim_arg *x;

    (void)kind;
    if (a->r->nargs >= a->cap || !key)
        return MHD_YES;
    x = &a->r->args[a->r->nargs];
    x->key = strdup(key);
    x->value = strdup(value ? value : "");
    if (!x->key || !x->value) {
        free(x->key);
        free(x->value);
        a->failed = 1;
        return MHD_NO;
    }
    a->r->nargs++;
    return MHD_YES;
}

static char *header(struct MHD_Connection *mc, const char *name)
{
    const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, name);
    return v ? strdup(v) : NULL;
}

/* Copy what the handlers may read: 0, or -1 (out of memory). */
static int fill_request(struct conn *cs, const char *method, const char *url)
{
    struct sim_req *r = &cs->r;
    struct args_ctx a = {r, 0, 0};

    vn_strlcpy(r->method, method, sizeof(r->method));
    r->path = strdup(url);
    r->apple = !strncmp(url, SIM_API_PREFIX "/", strlen(SIM_API_PREFIX) + 1);
    r->authorization = header(cs->mc, "Authorization");
    r->content_type = header(cs->mc, "Content-Type");
    r->host = header(cs->mc, "Host");
    r->body = cs->body.len ? vn_buf_str(&cs->body) : NULL;
    r->body_len = cs->body.len;
    MHD_get_connection_values(cs->mc, MHD_GET_ARGUMENT_KIND, count_arg, &a.cap);
    if (a.cap && !(r->args = calloc(a.cap, sizeof(*r->args))))
        return -1;
    MHD_get_connection_values(cs->mc, MHD_GET_ARGUMENT_KIND, copy_arg, &a);
    r->run = sim_router_run;
    r->done = resume;
    r->done_ud = cs;
    return r->path && !a.failed ? 0 : -1;
}

/* An answer decided here, without the engine. */
static void answer_here(struct conn *cs, int status, const char *msg)
{
    struct sim_req *r = &cs->r;

    json_decref(r->resp);
    r->status = status;
    r->resp = json_pack("{s:s}", "error", msg);
    if (status == 503 && r->apple) {
        json_decref(r->resp);
        r->resp = json_pack("{s:i, s:s}", "errorNumber", 9729, "errorMessage",
                            "The service is temporarily unavailable.");
        r->retry_after = 1;
    }
    cs->phase = PH_DONE;
}

/* The request log's entry of cs's request, answered with status at end_us. */
static struct sim_reqlog_entry log_entry(const struct conn *cs, int status, int64_t end_us)
{
    const struct sim_req *r = &cs->r;

    return (struct sim_reqlog_entry){r->method[0] ? r->method : "?",
                                     r->route ? r->route : "(unknown)",
                                     r->path ? r->path : "",
                                     r->uid,
                                     status,
                                     r->apple,
                                     cs->start_us,
                                     end_us,
                                     vn_now_ms(),
                                     cs->agent};
}

/* Send the answer, count it and log it. */
static enum MHD_Result reply(struct conn *cs)
{
    struct sim_req *r = &cs->r;
    struct MHD_Response *resp;
    char *text;
    enum MHD_Result ret;
    int64_t end = vn_mono_ns() / 1000;
    struct sim_reqlog_entry e;

    if (!r->resp) {
        r->status = 500;
        r->resp = json_pack("{s:s}", "error", "no response");
    }
    text = json_dumps(r->resp, JSON_COMPACT);
    if (!text)
        text = strdup("{}");
    resp = MHD_create_response_from_buffer(text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r->retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%lld", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (r->status == 405 && r->allow)
        MHD_add_response_header(resp, "Allow", r->allow);
    ret = MHD_queue_response(cs->mc, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    if (cs->in_flight) {
        cs->in_flight = 0;
        sim_reqlog_end(cs->srv->log);
    }
    e = log_entry(cs, r->status, end);
    sim_reqlog_record(cs->srv->log, &e);
    vn_log_fields(r->status >= 500 ? VN_LOG_WARN : VN_LOG_DEBUG, "request",
                  (struct vn_log_field[]){VN_LF_S("method", e.method), VN_LF_S("path", e.path),
                                          VN_LF_S("uId", r->uid[0] ? r->uid : NULL),
                                          VN_LF_I("status", r->status),
                                          VN_LF_D("ms", (double)(end - cs->start_us) / 1000.0)},
                  5);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct sim_server *s = cls;
    struct conn *cs = *con_cls;
    int rc;

    (void)version;
    if (!cs) {
        int control = !strncmp(url, SIM_CONTROL_PREFIX, strlen(SIM_CONTROL_PREFIX));
        size_t max = (size_t)(control ? s->cfg->max_control_body : s->cfg->max_body);
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
        long long n;
        if (!(cs = calloc(1, sizeof(*cs))))
            return MHD_NO;
        cs->srv = s;
        cs->mc = mc;
        cs->start_us = vn_mono_ns() / 1000;
        vn_strlcpy(cs->agent,
                   MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "User-Agent")
                       ? MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "User-Agent")
                       : "",
                   sizeof(cs->agent));
        vn_buf_init(&cs->body, max);
        *con_cls = cs;
        if (fill_request(cs, method, url) != 0)
            return MHD_NO;
        if (cs->r.apple) {
            cs->in_flight = 1;
            sim_reqlog_begin(s->log);
        }
        if (cl && vn_parse_ll(cl, 0, (long long)max, &n) == VN_ETOOBIG) {
            answer_here(cs, 413, "request body too large");
            return reply(cs);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (cs->phase == PH_BODY && !cs->too_big &&
            vn_buf_append(&cs->body, upload, *upload_size) != 0)
            cs->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    switch (__atomic_load_n(&cs->phase, __ATOMIC_ACQUIRE)) {
    case PH_BODY:
        if (cs->too_big) {
            answer_here(cs, 413, "request body too large");
            return reply(cs);
        }
        cs->r.body = cs->body.len ? vn_buf_str(&cs->body) : NULL;
        cs->r.body_len = cs->body.len;
        /* Suspend, then submit (in that order: the engine may hand it back at once). */
        cs->phase = PH_WAIT;
        MHD_suspend_connection(mc);
        if ((rc = sim_engine_submit(s->engine, &cs->r)) != 0) {
            answer_here(cs, 503,
                        rc == VN_EFULL ? "vppsim is overloaded; retry later"
                                       : "vppsim is stopping");
            MHD_resume_connection(mc);
        }
        return MHD_YES;
    case PH_WAIT:
        return MHD_YES;
    default:
        return reply(cs);
    }
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *cs = *con_cls;

    (void)cls;
    (void)mc;
    (void)toe;
    if (!cs)
        return;
    if (cs->in_flight) {
        sim_reqlog_end(cs->srv->log);
        /* The client went before the answer (killed, or it timed out) after the engine had
         * processed its request: logged all the same, with status 0, ending now (a request
         * whose body never came in full was never processed: not logged). */
        if (__atomic_load_n(&cs->phase, __ATOMIC_ACQUIRE) == PH_DONE) {
            struct sim_reqlog_entry e = log_entry(cs, 0, vn_mono_ns() / 1000);

            sim_reqlog_record(cs->srv->log, &e);
        }
    }
    sim_req_release(&cs->r);
    vn_buf_release(&cs->body);
    free(cs);
    *con_cls = NULL;
}

int sim_server_start(const struct sim_config *cfg, struct sim_engine *e, struct sim_reqlog *log,
                     struct sim_server **out, char *bound, size_t boundlen, struct vn_error *err)
{
    struct sim_server *s = calloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    socklen_t sslen;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    int rc;

    *out = NULL;
    if (!s)
        return vn_error_set(err, VN_ENET, "out of memory");
    if ((rc = vn_listen_resolve(cfg->listen, &ss, &sslen, err))) {
        free(s);
        return rc;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->cfg = cfg;
    s->engine = e;
    s->log = log;
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->holder, NULL, holder_main, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return vn_error_set(err, VN_ENET, "cannot start vppsim's answer holder thread");
    }
    s->have_holder = 1;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                              vn_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        sim_server_stop(s);
        return vn_error_set(err, VN_ENET, "cannot listen on '%s' (address in use?)", cfg->listen);
    }
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    vn_sockaddr_format((struct sockaddr *)&ss, info ? (unsigned)info->port : 0u, bound, boundlen);
    *out = s;
    return 0;
}

void sim_server_stop(struct sim_server *s)
{
    if (!s)
        return;
    /* Held answers go out first: MHD must not stop with suspended connections. */
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->have_holder)
        pthread_join(s->holder, NULL);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
