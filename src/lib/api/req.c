/*
 * req.c - the integration API's request side that handlers use (include/vppnotify/api.h):
 * mounting routes and matching paths, answers, suspension and resumption, the request's
 * accessors, and the pool of read-only store handles. The listener itself (daemon, request
 * phases, start and stop) is server.c; both share req_impl.h.
 */
#include "req_impl.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routes --------------------------------------------------------------------------- */

static int method_ok(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(m, known[i]) == 0)
            return 1;
    return 0;
}

int vn_api_mount(struct vn_api *api, const char *method, const char *pattern,
                 enum vn_api_scope scope, vn_api_handler handler, void *ud)
{
    struct vn__api_route *r;
    size_t n;

    if (api->mhd)
        return VN_ECONFLICT;
    if (api->nroutes == MAX_ROUTES)
        return VN_ETOOBIG;
    n = pattern ? strlen(pattern) : 0;
    if (!method || !method_ok(method) || !handler || n == 0 || n >= MAX_PATTERN ||
        pattern[0] != '/' || scope > VN_API_MANAGE)
        return VN_EPARSE;
    r = &api->routes[api->nroutes];
    memset(r, 0, sizeof(*r));
    vn_strlcpy(r->method, method, sizeof(r->method));
    vn_strlcpy(r->pattern, pattern, sizeof(r->pattern));
    if (n >= 2 && strcmp(pattern + n - 2, "/*") == 0) {
        r->prefix = 1;
        r->pattern[n - 1] = '\0'; /* keep the '/' */
    }
    r->scope = scope;
    r->fn = handler;
    r->ud = ud;
    api->nroutes++;
    return 0;
}

/*
 * Does path match the route's pattern? On a match with "{name}" segments, req's args point
 * into req->segs (a copy of the path cut at '/').
 */
int vn__api_route_match(const struct vn__api_route *r, const char *path, struct vn_api_req *req)
{
    const char *p = r->pattern, *q = path;

    if (r->prefix)
        return strncmp(path, r->pattern, strlen(r->pattern)) == 0 ||
               (strlen(path) + 1 == strlen(r->pattern) &&
                strncmp(path, r->pattern, strlen(path)) == 0);
    if (!strchr(r->pattern, '{'))
        return strcmp(path, r->pattern) == 0;
    if (req)
        req->nargs = 0;
    while (*p && *q) {
        if (*p == '{') {
            const char *pe = strchr(p, '}'), *qe = strchr(q, '/');
            size_t qn = qe ? (size_t)(qe - q) : strlen(q);
            if (!pe || qn == 0)
                return 0;
            if (req && req->nargs < MAX_ARGS) {
                size_t off = (size_t)(q - path);
                req->arg_names[req->nargs] = p + 1;
                req->arg_len[req->nargs] = (size_t)(pe - p - 1);
                req->segs[off + qn] = '\0';
                req->arg_vals[req->nargs] = req->segs + off;
                req->nargs++;
            }
            p = pe + 1;
            q += qn;
            continue;
        }
        if (*p != *q)
            return 0;
        p++;
        q++;
    }
    return *p == '\0' && *q == '\0';
}

/* ---- answers -------------------------------------------------------------------------- */

int vn_api_req_add_header(struct vn_api_req *req, const char *name, const char *value)
{
    struct vn__api_header *h;

    if (req->nheaders == MAX_HEADERS)
        return VN_ETOOBIG;
    h = &req->headers[req->nheaders];
    h->name = strdup(name);
    h->value = strdup(value);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return -ENOMEM;
    }
    req->nheaders++;
    return 0;
}

int vn_api_respond(struct vn_api_req *req, unsigned status, const char *content_type,
                   const void *body, size_t len)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return -ENOMEM;
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < req->nheaders; i++)
        MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    ret = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    req->status = status;
    req->phase = PH_DONE;
    return ret == MHD_YES ? 0 : VN_ENET;
}

int vn_api_respond_json(struct vn_api_req *req, unsigned status, json_t *body)
{
    char *text;
    int rc;

    if (!body)
        return -ENOMEM;
    text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!text)
        return -ENOMEM;
    rc = vn_api_respond(req, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

int vn_api_respond_error(struct vn_api_req *req, unsigned status, const char *fmt, ...)
{
    char msg[VN_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (status == MHD_HTTP_UNAUTHORIZED)
        vn_api_req_add_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"vppnotify\"");
    return vn_api_respond_json(req, status, json_pack("{ss}", "error", msg));
}

/* The handler returned without answering and without suspending, or failed. */
enum MHD_Result vn__api_after_handler(struct vn_api_req *req, int rc)
{
    if (req->phase == PH_DONE || (rc == 0 && req->phase == PH_SUSPENDED))
        return MHD_YES;
    if (req->phase == PH_SUSPENDED)
        return MHD_YES; /* failed after suspending: its resume answers */
    vn_log_error("api: %s %s: the handler gave no answer (%s)", req->method, req->path,
                 rc ? vn_strerror(rc) : "none");
    return vn_api_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error") == 0
               ? MHD_YES
               : MHD_NO;
}

/* ---- suspension ----------------------------------------------------------------------- */

void vn__api_unlist_locked(struct vn_api *api, struct vn_api_req *req)
{
    if (!req->in_list)
        return;
    if (req->prev)
        req->prev->next = req->next;
    else
        api->suspended = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
    req->in_list = 0;
}

int vn_api_suspend(struct vn_api_req *req, vn_api_handler on_resume, void *state,
                   void (*free_state)(void *state), unsigned flags)
{
    struct vn_api *api = req->api;
    int wake_now = 0;

    if (req->free_state && req->state && req->state != state)
        req->free_state(req->state);
    req->on_resume = on_resume;
    req->state = state;
    req->free_state = free_state;
    req->flags = flags;
    req->phase = PH_SUSPENDED;
    pthread_mutex_lock(&api->lock);
    req->woken = 0;
    if (api->stopping && (flags & VN_API_WAKE_ON_STOP)) {
        req->woken = 1;
        wake_now = 1;
    } else {
        req->prev = NULL;
        req->next = api->suspended;
        if (api->suspended)
            api->suspended->prev = req;
        api->suspended = req;
        req->in_list = 1;
    }
    pthread_mutex_unlock(&api->lock);
    MHD_suspend_connection(req->conn);
    if (wake_now)
        MHD_resume_connection(req->conn);
    return 0;
}

void vn_api_resume(struct vn_api_req *req)
{
    struct vn_api *api = req->api;
    int wake;

    pthread_mutex_lock(&api->lock);
    wake = req->in_list;
    if (wake) {
        vn__api_unlist_locked(api, req);
        req->woken = 1;
    }
    pthread_mutex_unlock(&api->lock);
    /* Still suspended here, so the request cannot have ended under us. */
    if (wake)
        MHD_resume_connection(req->conn);
}

void *vn_api_req_state(const struct vn_api_req *req)
{
    return req->state;
}

int vn_api_req_stopping(const struct vn_api_req *req)
{
    int stopping;

    pthread_mutex_lock(&req->api->lock);
    stopping = req->api->stopping;
    pthread_mutex_unlock(&req->api->lock);
    return stopping;
}

/* ---- request accessors ---------------------------------------------------------------- */

const char *vn_api_req_method(const struct vn_api_req *req)
{
    return req->method;
}

const char *vn_api_req_path(const struct vn_api_req *req)
{
    return req->path;
}

const char *vn_api_req_arg(const struct vn_api_req *req, const char *name)
{
    for (size_t i = 0; i < req->nargs; i++)
        if (strlen(name) == req->arg_len[i] &&
            strncmp(req->arg_names[i], name, req->arg_len[i]) == 0)
            return req->arg_vals[i];
    return NULL;
}

const char *vn_api_req_query(const struct vn_api_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct unknown_arg {
    const char *const *allowed;
    const char *found;
};

static enum MHD_Result find_unknown(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct unknown_arg *u = cls;

    for (size_t i = 0; u->allowed[i]; i++)
        if (strcmp(key, u->allowed[i]) == 0)
            return MHD_YES;
    u->found = key;
    return MHD_NO;
}

const char *vn_api_req_query_unknown(const struct vn_api_req *req, const char *const *allowed)
{
    struct unknown_arg u = {allowed, NULL};

    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, find_unknown, &u);
    return u.found;
}

const char *vn_api_req_header(const struct vn_api_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *vn_api_req_body(const struct vn_api_req *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return vn_buf_str(&req->body);
}

enum vn_api_scope vn_api_req_scope(const struct vn_api_req *req)
{
    return req->scope;
}

const char *vn_api_req_key_name(const struct vn_api_req *req)
{
    return req->key_name;
}

const char *vn_api_req_remote(const struct vn_api_req *req)
{
    return req->remote;
}

struct vn_api *vn_api_req_api(const struct vn_api_req *req)
{
    return req->api;
}

void vn__api_own_feed(struct vn_api *api, struct vn__api_feed *fd)
{
    api->feed = fd;
}

void vn__api_own_webhooks(struct vn_api *api, struct vn__api_webhooks *wh)
{
    api->webhooks = wh;
}

void vn__api_own_requests(struct vn_api *api, struct vn__api_requests *rq)
{
    api->requests = rq;
}

struct vn__api_requests *vn__api_requests_of(struct vn_api *api)
{
    return api->requests;
}

const struct vn_api_options *vn__api_options(const struct vn_api *api)
{
    return &api->o;
}

int vn_api_authenticate(struct vn_api *api, const char *header, enum vn_api_scope *scope,
                        char *name)
{
    return vn__api_keys_check(api->keys, header, scope, name);
}

/* ---- the store pool ------------------------------------------------------------------- */

struct vn_store *vn_api_store_acquire(struct vn_api *api)
{
    struct vn_store_options so = {0};
    struct vn_error err = {0};
    struct vn_store *st = NULL;

    pthread_mutex_lock(&api->lock);
    if (api->npool)
        st = api->pool[--api->npool];
    pthread_mutex_unlock(&api->lock);
    if (st)
        return st;
    so = api->store_opts;
    so.read_only = 1;
    st = vn_store_open(api->o.db, &so, &err);
    if (!st)
        vn_log_error("api: cannot open the store: %s", err.msg);
    return st;
}

void vn_api_store_release(struct vn_api *api, struct vn_store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&api->lock);
    if (api->npool < POOL_MAX) {
        api->pool[api->npool++] = st;
        st = NULL;
    }
    pthread_mutex_unlock(&api->lock);
    vn_store_free(st);
}
