/*
 * server.c - the integration API's listener (see include/vppnotify/api.h): a libmicrohttpd
 * daemon of its own with explicit limits, each request's phases (route, API key, body,
 * handler, resumption, the log line), and start and stop with the feed, the webhooks and the
 * manage routes' thread. What handlers call (routes, answers, suspension, accessors, the store
 * pool) is req.c.
 *
 * A request goes: first call → route (404/405) → key (401/403) → body, if any, into a
 * bounded buffer (413) → handler → an answer, or a suspension until vn_api_resume → resume
 * handler → answer. One log line per request when it ends.
 */
#include "req_impl.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/net.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TLS_FILE_MAX   (64 * 1024)
#define DEFAULT_BODY   (1024 * 1024)
#define DEFAULT_HEADER (32 * 1024)

/* ---- request phases ------------------------------------------------------------------- */

static void client_address(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    vn_sockaddr_host(ci ? ci->client_addr : NULL, out, outlen);
}

/* First call: route, then key. An answer may be queued already when this returns. */
static enum MHD_Result on_headers(struct vn_api_req *req, const char *url, const char *method)
{
    struct vn_api *api = req->api;
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    char allow[64] = "";
    int path_found = 0;

    vn_strlcpy(req->method, method, sizeof(req->method));
    req->path = strdup(url);
    req->segs = strdup(url);
    if (!req->path || !req->segs)
        return MHD_NO;
    for (size_t i = 0; i < api->nroutes; i++) {
        const struct vn__api_route *r = &api->routes[i];
        if (!vn__api_route_match(r, url, NULL))
            continue;
        path_found = 1;
        if (strcmp(r->method, m) != 0) {
            if (!strstr(allow, r->method) && strlen(allow) + strlen(r->method) + 8 < sizeof(allow))
                snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                         allow[0] ? ", " : "", r->method);
            continue;
        }
        req->route = r;
        vn__api_route_match(r, url, req);
        break;
    }
    if (!req->route) {
        if (path_found) {
            if (strstr(allow, "GET") && !strstr(allow, "HEAD"))
                vn_strlcpy(allow + strlen(allow), ", HEAD", sizeof(allow) - strlen(allow));
            vn_api_req_add_header(req, MHD_HTTP_HEADER_ALLOW, allow);
            return vn_api_respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED,
                                        "method %s not allowed on '%s'", method, url) == 0
                       ? MHD_YES
                       : MHD_NO;
        }
        return vn_api_respond_error(req, MHD_HTTP_NOT_FOUND, "no route '%s'", url) == 0 ? MHD_YES
                                                                                        : MHD_NO;
    }
    if (req->route->scope != VN_API_PUBLIC) {
        const char *auth = vn_api_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
        enum vn_api_scope have;

        if (vn__api_keys_check(api->keys, auth, &have, req->key_name) != 0)
            return vn_api_respond_error(req, MHD_HTTP_UNAUTHORIZED,
                                        "missing, malformed or unknown API key") == 0
                       ? MHD_YES
                       : MHD_NO;
        req->scope = have;
        if (have < req->route->scope)
            return vn_api_respond_error(req, MHD_HTTP_FORBIDDEN,
                                        "API key '%s' has scope %s; this route needs %s",
                                        req->key_name, vn_api_scope_name(have),
                                        vn_api_scope_name(req->route->scope)) == 0
                       ? MHD_YES
                       : MHD_NO;
    } else {
        /* A public route may still look at a key it was given. */
        const char *auth = vn_api_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
        enum vn_api_scope have;
        if (auth && vn__api_keys_check(api->keys, auth, &have, req->key_name) == 0)
            req->scope = have;
    }
    return MHD_YES;
}

static enum MHD_Result run_handler(struct vn_api_req *req)
{
    int rc;

    if (req->body_too_big)
        return vn_api_respond_error(req, MHD_HTTP_CONTENT_TOO_LARGE,
                                    "request body is larger than the limit of %zu bytes",
                                    req->api->o.max_body) == 0
                   ? MHD_YES
                   : MHD_NO;
    rc = req->route->fn(req->route->ud, req);
    return vn__api_after_handler(req, rc);
}

static enum MHD_Result run_resume(struct vn_api_req *req)
{
    int rc;

    req->phase = PH_BODY; /* neither answered nor suspended, until the handler says */
    rc = req->on_resume(req->route->ud, req);
    return vn__api_after_handler(req, rc);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct vn_api *api = cls;
    struct vn_api_req *req = *con_cls;
    int woken;

    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        req->api = api;
        req->conn = conn;
        req->start_ns = vn_mono_ns();
        req->phase = PH_BODY;
        vn_buf_init(&req->body, api->o.max_body);
        client_address(conn, req->remote, sizeof(req->remote));
        *con_cls = req;
        atomic_fetch_add(&api->in_flight, 1);
        return on_headers(req, url, method);
    }
    switch (req->phase) {
    case PH_BODY:
        if (*upload_data_size) {
            if (!req->body_too_big &&
                vn_buf_append(&req->body, upload_data, *upload_data_size) != 0) {
                req->body_too_big = 1;
                vn_buf_release(&req->body);
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        return run_handler(req);
    case PH_SUSPENDED:
        pthread_mutex_lock(&api->lock);
        woken = req->woken;
        pthread_mutex_unlock(&api->lock);
        if (!woken)
            return MHD_YES; /* a spurious call: still waiting */
        return run_resume(req);
    case PH_DONE:
        break;
    }
    /* Answered already (an early 401, 404 ...): swallow what the client still sends. */
    *upload_data_size = 0;
    return MHD_YES;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct vn_api *api = cls;
    struct vn_api_req *req = *con_cls;

    if (!req)
        return;
    pthread_mutex_lock(&api->lock);
    vn__api_unlist_locked(api, req);
    pthread_mutex_unlock(&api->lock);
    if (req->free_state && req->state)
        req->free_state(req->state);
    {
        struct vn_log_field f[] = {
            VN_LF_S("method", req->method),
            VN_LF_S("path", req->path),
            VN_LF_I("status", req->status),
            VN_LF_S("key", req->key_name[0] ? req->key_name : NULL),
            VN_LF_S("remote", req->remote),
            VN_LF_S("closed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL : "early"),
            VN_LF_D("latency_ms", (double)(vn_mono_ns() - req->start_ns) / 1e6),
        };
        vn_log_fields(req->status >= 500 ? VN_LOG_WARN : VN_LOG_INFO, "api request", f,
                      (int)(sizeof(f) / sizeof(f[0])));
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    vn_buf_release(&req->body);
    free(req->path);
    free(req->segs);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&api->in_flight, 1);
}

/* ---- start and stop ------------------------------------------------------------------- */

static int read_text_file(const char *path, char **out, struct vn_error *err)
{
    struct vn_buf b;
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "re");

    if (!f)
        return vn_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
    vn_buf_init(&b, TLS_FILE_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (vn_buf_append(&b, chunk, n) != 0) {
            fclose(f);
            vn_buf_release(&b);
            return vn_error_set(err, VN_ETOOBIG, "'%s' is larger than %d bytes", path,
                                TLS_FILE_MAX);
        }
    }
    fclose(f);
    *out = vn_buf_detach(&b, NULL);
    if (!*out)
        return vn_error_set(err, VN_EPARSE, "'%s' is empty", path);
    return 0;
}

struct vn_api *vn_api_new(const struct vn_api_options *opts, struct vn_error *err)
{
    struct vn_api *api = calloc(1, sizeof(*api));
    struct vn_store_options so = {0};
    struct vn_store *st;

    if (!api) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    api->o = *opts;
    if (!api->o.threads)
        api->o.threads = 2;
    if (!api->o.max_connections)
        api->o.max_connections = 256;
    if (!api->o.max_body)
        api->o.max_body = DEFAULT_BODY;
    if (!api->o.max_header)
        api->o.max_header = DEFAULT_HEADER;
    if (!api->o.idle_timeout_s)
        api->o.idle_timeout_s = 75;
    if (api->o.key_refresh_ms <= 0)
        api->o.key_refresh_ms = 1000;
    pthread_mutex_init(&api->lock, NULL);
    if (!!opts->tls_cert_file != !!opts->tls_key_file) {
        vn_error_set(err, VN_EUSAGE, "--api-tls-cert and --api-tls-key go together");
        goto fail;
    }
    if (opts->store)
        api->store_opts = *opts->store;
    api->o.store = &api->store_opts;
    api->db = strdup(opts->db ? opts->db : "");
    api->params = strdup(api->store_opts.params ? api->store_opts.params : "");
    api->store_opts.params = api->params;
    if (!api->db || !api->params) {
        vn_error_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    api->o.db = api->db;
    if (opts->webhooks.key_file) {
        api->key_file = strdup(opts->webhooks.key_file);
        if (!api->key_file) {
            vn_error_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        api->o.webhooks.key_file = api->key_file;
    }
    so = api->store_opts;
    so.read_only = 1;
    st = vn_store_open(api->o.db, &so, err);
    if (!st)
        goto fail;
    api->keys = vn__api_keys_new(st, api->o.key_refresh_ms, err);
    if (!api->keys)
        goto fail;
    return api;
fail:
    vn_api_free(api);
    return NULL;
}

int vn_api_start(struct vn_api *api, struct vn_error *err)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    int rc, lfd = -1, mfd;

    if (api->mhd)
        return vn_error_set(err, VN_ECONFLICT, "the API listener is running already");
    if (api->o.tls_cert_file) {
        api->tls_key = calloc(1, TLS_FILE_MAX);
        if (!api->tls_key)
            return vn_error_set(err, -ENOMEM, "out of memory");
        rc = read_text_file(api->o.tls_cert_file, &api->tls_cert, err);
        if (rc)
            return vn_error_prefix(err, "API TLS certificate");
        rc = vn_secret_read_file(api->o.tls_key_file, api->tls_key, TLS_FILE_MAX, err);
        if (rc)
            return vn_error_prefix(err, "API TLS key");
        flags |= MHD_USE_TLS;
    }
    /* Bound here, not by libmicrohttpd, so that a failure names the address tried and bind's
     * reason (ingest/server.c does the same); MHD gets a duplicate, as it closes the socket on
     * some of its failures and not on others. */
    rc = vn_listen_socket(api->o.listen, 256, &lfd, api->address, sizeof(api->address), err);
    if (rc) {
        vn_error_prefix(err, "--api-listen");
        return rc;
    }
    mfd = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
    if (mfd < 0) {
        rc = vn_error_set(err, -errno, "--api-listen %s: dup: %s", api->address, strerror(errno));
        close(lfd);
        return rc;
    }
    {
        /* TLS options only when TLS is on: MHD warns about them otherwise. */
        struct MHD_OptionItem tls[] = {
            {MHD_OPTION_HTTPS_MEM_CERT, 0, api->tls_cert},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, api->tls_key},
            {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
            {MHD_OPTION_END, 0, NULL},
        };
        struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};

        api->mhd = MHD_start_daemon(
            flags, 0, NULL, NULL, handle, api, MHD_OPTION_EXTERNAL_LOGGER, vn_mhd_log, api,
            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mfd, MHD_OPTION_THREAD_POOL_SIZE, api->o.threads,
            MHD_OPTION_CONNECTION_LIMIT, api->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
            api->o.idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, api->o.max_header,
            MHD_OPTION_NOTIFY_COMPLETED, request_completed, api, MHD_OPTION_STRICT_FOR_CLIENT, 1,
            MHD_OPTION_ARRAY, api->tls_cert ? tls : none, MHD_OPTION_END);
    }
    close(lfd);
    if (!api->mhd)
        return vn_error_set(err, VN_ENET,
                            "the API listener did not start on %s (libmicrohttpd's reason is "
                            "logged above)",
                            api->address);
    return 0;
}

const char *vn_api_address(const struct vn_api *api)
{
    return api->address;
}

int vn_api_tls(const struct vn_api *api)
{
    return api->tls_cert != NULL;
}

void vn_api_quiesce(struct vn_api *api, int64_t timeout_ms)
{
    struct timespec pause = {0, 10 * 1000000};
    int64_t deadline = vn_mono_ns() + timeout_ms * 1000000;
    struct vn_api_req *wake[64];
    size_t n;

    if (!api)
        return;
    if (api->mhd) {
        pthread_mutex_lock(&api->lock);
        api->stopping = 1;
        pthread_mutex_unlock(&api->lock);
        MHD_socket fd = MHD_quiesce_daemon(api->mhd);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    /* Requests to Apple and webhook deliveries write through the writer: they end before it
     * does (the request running finishes; those queued are answered 503). */
    vn__api_requests_stop(api->requests);
    api->requests = NULL;
    vn__api_webhooks_stop(api->webhooks); /* freed by vn_api_free, after the feed */
    if (!api->mhd)
        return;
    /* Wake the long polls (in rounds: resuming happens outside the lock). */
    do {
        struct vn_api_req *r;

        n = 0;
        pthread_mutex_lock(&api->lock);
        for (r = api->suspended; r && n < sizeof(wake) / sizeof(wake[0]);) {
            struct vn_api_req *next = r->next;
            if (r->flags & VN_API_WAKE_ON_STOP) {
                vn__api_unlist_locked(api, r);
                r->woken = 1;
                wake[n++] = r;
            }
            r = next;
        }
        pthread_mutex_unlock(&api->lock);
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(wake[i]->conn);
    } while (n == sizeof(wake) / sizeof(wake[0]));
    while (atomic_load(&api->in_flight) > 0 && vn_mono_ns() < deadline)
        nanosleep(&pause, NULL);
    if (atomic_load(&api->in_flight) > 0)
        vn_log_warn("api: %u request(s) still in progress after %lld ms; closing them",
                    atomic_load(&api->in_flight), (long long)timeout_ms);
}

void vn_api_free(struct vn_api *api)
{
    if (!api)
        return;
    if (api->mhd) {
        /* libmicrohttpd must not stop with suspended connections: wake what is left. */
        struct vn_api_req *r;
        pthread_mutex_lock(&api->lock);
        api->stopping = 1;
        while ((r = api->suspended)) {
            vn__api_unlist_locked(api, r);
            r->woken = 1;
            pthread_mutex_unlock(&api->lock);
            MHD_resume_connection(r->conn);
            pthread_mutex_lock(&api->lock);
        }
        pthread_mutex_unlock(&api->lock);
        MHD_stop_daemon(api->mhd);
    }
    vn__api_requests_stop(api->requests);
    vn__api_webhooks_stop(api->webhooks);
    vn__api_feed_free(api->feed); /* no request is left on its wait list; no observer */
    vn__api_webhooks_free(api->webhooks);
    vn__api_keys_free(api->keys);
    for (size_t i = 0; i < api->npool; i++)
        vn_store_free(api->pool[i]);
    if (api->tls_key) {
        vn_wipe(api->tls_key, TLS_FILE_MAX);
        free(api->tls_key);
    }
    free(api->tls_cert);
    free(api->db);
    free(api->params);
    free(api->key_file);
    pthread_mutex_destroy(&api->lock);
    free(api);
}
