/*
 * server.c - vppsim's HTTP front: libmicrohttpd daemon, routing of Apple's v2 paths and of
 * the /_sim/ control API, bodies (bounded), 404/405/415, sToken authentication, the per-location
 * rate limit (429/9646), what each kind of token may call (403/9637, 9647), request counters,
 * and the JSON answer.
 *
 * MHD runs one thread per connection (bounded by a connection limit), so a handler that waits
 * (the synchronous TEST_NOTIFICATION of Client Config, /_sim/settle) does not stall others.
 */
#include "sim.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/net.h"
#include "vppnotify/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_PREFIX      "/mdm/v2"
#define CONTROL_PREFIX  "/_sim/"
#define MAX_CONNECTIONS 256
#define STOKEN_MAX      4096

struct route {
    const char *path; /* after API_PREFIX */
    sim_handler get;
    sim_handler post;
    int auth;
};

static const struct route routes[] = {
    {"/service/config", api_service_config, NULL, 0},
    {"/client/config", api_client_config_get, api_client_config_post, 1},
    {"/assets", api_assets_get, NULL, 1},
    {"/assets/associate", NULL, api_assets_manage, 1},
    {"/assets/disassociate", NULL, api_assets_manage, 1},
    {"/assets/revoke", NULL, api_assets_manage, 1},
    {"/assignments", api_assignments_get, NULL, 1},
    {"/users", api_users_get, NULL, 1},
    {"/users/create", NULL, api_users_manage, 1},
    {"/users/update", NULL, api_users_manage, 1},
    {"/users/retire", NULL, api_users_manage, 1},
    {"/status", api_status, NULL, 1},
    {"/subscriptions/enable", NULL, api_subs_enable, 1},
    {"/subscriptions/disable", NULL, api_subs_disable, 1},
    {"/subscriptions", api_subs_get, NULL, 1},
    {"/subscriptions/assignments", api_subs_assignments_get, NULL, 1},
    {"/subscriptions/associate", NULL, api_subs_manage, 1},
    {"/subscriptions/disassociate", NULL, api_subs_manage, 1},
    {"/subscriptions/admins", api_subs_admins_get, NULL, 1},
    {"/subscriptions/admins/add", NULL, api_subs_admins_manage, 1},
    {"/subscriptions/admins/remove", NULL, api_subs_admins_manage, 1},
};

struct conn {
    struct vn_buf body;
    int too_big;
};

/* ---------------------------------------------------------------------------------------- */

void sim_error_info(struct sim_req *r, int number, json_t *info, const char *msg)
{
    const struct vn_apple_error_info *e = vn_apple_error_lookup(number);

    json_decref(r->resp);
    r->status = e && e->http_status ? e->http_status : 400;
    r->resp = json_pack("{s:i, s:s}", "errorNumber", number, "errorMessage",
                        msg ? msg
                        : e ? e->message
                            : "Error.");
    if (info)
        json_object_set_new(r->resp, "errorInfo", info);
    r->envelope = 0;
}

void sim_error(struct sim_req *r, int number)
{
    sim_error_info(r, number, NULL, NULL);
}

void sim_fail(struct sim_req *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_decref(r->resp);
    r->status = status;
    r->resp = json_pack("{s:s}", "error", msg);
    r->envelope = 0;
}

void sim_ok(struct sim_req *r, json_t *obj)
{
    json_decref(r->resp);
    r->status = 200;
    r->resp = obj;
}

const char *sim_header(struct sim_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *sim_arg(struct sim_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct list_ctx {
    const char *name;
    json_t *arr;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct list_ctx *c = cls;
    (void)kind;
    if (!key || strcmp(key, c->name) != 0 || !value)
        return MHD_YES;
    for (const char *p = value; *p;) {
        size_t n = strcspn(p, ",");
        if (n)
            json_array_append_new(c->arr, json_stringn(p, n));
        p += n;
        if (*p == ',')
            p++;
    }
    return MHD_YES;
}

json_t *sim_arg_list(struct sim_req *r, const char *name)
{
    struct list_ctx c = {name, json_array()};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
    return c.arr;
}

int sim_arg_bool(struct sim_req *r, const char *name, int *v)
{
    const char *a = sim_arg(r, name);

    if (!a)
        return 0;
    if (!strcmp(a, "true") || !strcmp(a, "1")) {
        *v = 1;
        return 1;
    }
    if (!strcmp(a, "false") || !strcmp(a, "0")) {
        *v = 0;
        return 1;
    }
    sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL, "Invalid argument: boolean expected.");
    return -1;
}

int sim_arg_int(struct sim_req *r, const char *name, long long min, long long max, long long *v)
{
    const char *a = sim_arg(r, name);

    if (!a)
        return 0;
    if (vn_parse_ll(a, min, max, v) != 0) {
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL, "Invalid argument: integer expected.");
        return -1;
    }
    return 1;
}

int sim_page_setup(struct sim_req *r, int64_t count, struct sim_page *p)
{
    long long idx = 0;
    int64_t size = r->sim->cfg->page_size;

    if (sim_arg_int(r, "pageIndex", 0, 1000000000, &idx) < 0)
        return -1;
    p->total_pages = count == 0 ? 1 : (count + size - 1) / size;
    if (idx >= p->total_pages) {
        sim_error(r, VN_APPLE_PAGE_INDEX_OUT_OF_RANGE);
        return -1;
    }
    p->index = idx;
    p->limit = size;
    p->offset = idx * size;
    return 0;
}

void sim_page_fields(json_t *obj, const struct sim_page *p, size_t size)
{
    json_object_set_new(obj, "currentPageIndex", json_integer(p->index));
    if (p->index + 1 < p->total_pages)
        json_object_set_new(obj, "nextPageIndex", json_integer(p->index + 1));
    json_object_set_new(obj, "size", json_integer((json_int_t)size));
    json_object_set_new(obj, "totalPages", json_integer(p->total_pages));
}

int sim_strings_ok(const json_t *v)
{
    size_t i;
    json_t *e;

    if (!v || json_is_null(v))
        return 1;
    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || !json_string_length(e))
            return 0;
    }
    return 1;
}

int sim_strings_dup(const json_t *v)
{
    json_t *seen = json_object(), *e;
    size_t i;
    int dup = 0;

    json_array_foreach(v, i, e)
    {
        const char *k = json_string_value(e);
        if (!k)
            continue;
        if (json_object_get(seen, k)) {
            dup = 1;
            break;
        }
        json_object_set_new(seen, k, json_true());
    }
    json_decref(seen);
    return dup;
}

int sim_since(struct sim_req *r, enum sim_coll c, long long *seq)
{
    const char *v = sim_arg(r, "sinceVersionId");
    int64_t s;

    *seq = -1;
    if (!v)
        return 0;
    s = sim_version_seq(r->sim, r->uid, c, v);
    if (s < 0) {
        sim_error(r, VN_APPLE_INVALID_VERSION_ID);
        return -1;
    }
    *seq = s;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */

/* Authenticate the sToken: 0 with r->uid set, or -1 with the error answered. Locked. */
static int authenticate(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    const char *b64;
    unsigned char *raw = NULL;
    size_t rawlen = 0, b64len;
    json_t *tok = NULL;
    const char *inner;
    sqlite3_stmt *st;
    int rc = -1;

    if (!h || !*h) {
        sim_error(r, VN_APPLE_LOGIN_REQUIRED);
        return -1;
    }
    if (vn_strncasecmp_ascii(h, "Bearer ", 7) != 0 || !h[7] || strchr(h + 7, ' ')) {
        sim_error(r, VN_APPLE_INVALID_AUTH_HEADER);
        return -1;
    }
    b64 = h + 7;
    b64len = strlen(b64);
    if (b64len > STOKEN_MAX) {
        sim_error(r, VN_APPLE_LOGIN_REQUIRED);
        return -1;
    }
    raw = malloc(b64len + 1);
    if (!raw || (sodium_base642bin(raw, b64len, b64, b64len, " \t\r\n", &rawlen, NULL,
                                   sodium_base64_VARIANT_ORIGINAL) != 0 &&
                 sodium_base642bin(raw, b64len, b64, b64len, " \t\r\n", &rawlen, NULL,
                                   sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)) {
        sim_error(r, VN_APPLE_LOGIN_REQUIRED);
        goto out;
    }
    tok = vn_json_load((const char *)raw, rawlen, 4, NULL);
    inner = json_string_value(json_object_get(tok, "token"));
    if (!inner) {
        sim_error(r, VN_APPLE_LOGIN_REQUIRED);
        goto out;
    }
    st = sim_stmt(s, "SELECT uid, exp_ms, revoked, kind FROM tokens WHERE token = ?");
    sqlite3_bind_text(st, 1, inner, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        sim_error(r, VN_APPLE_LOGIN_REQUIRED);
        goto out;
    }
    vn_strlcpy(r->uid, (const char *)sqlite3_column_text(st, 0), sizeof(r->uid));
    r->token_exp_ms = sqlite3_column_int64(st, 1);
    r->token_kind = sim_token_kind_parse((const char *)sqlite3_column_text(st, 3));
    if (r->token_kind < 0)
        r->token_kind = TOKEN_NORMAL; /* the schema's CHECK allows no other value */
    if (sqlite3_column_int(st, 2)) {
        sqlite3_reset(st);
        r->uid[0] = '\0';
        sim_error(r, VN_APPLE_TOKEN_REVOKED);
        goto out;
    }
    sqlite3_reset(st);
    if (r->token_exp_ms <= vn_now_ms()) {
        r->uid[0] = '\0';
        sim_error(r, VN_APPLE_TOKEN_EXPIRED);
        goto out;
    }
    rc = 0;
out:
    json_decref(tok);
    if (raw)
        sodium_memzero(raw, b64len);
    free(raw);
    return rc;
}

/* Token bucket per location: maxRequestPerSecond tokens, refilled continuously. Locked. */
static int rate_limited(struct sim *s, const char *uid)
{
    double cap = (double)sim_limit(s, LIM_MAX_REQUEST_PER_SECOND);
    int64_t now = vn_mono_ns();
    struct sim_bucket *b = NULL;

    if (cap <= 0)
        return 0;
    for (size_t i = 0; i < s->nbuckets; i++)
        if (!strcmp(s->buckets[i].uid, uid))
            b = &s->buckets[i];
    if (!b) {
        if (s->nbuckets == SIM_MAX_BUCKETS)
            s->nbuckets = 0; /* bounded: forget everyone rather than grow */
        b = &s->buckets[s->nbuckets++];
        vn_strlcpy(b->uid, uid, sizeof(b->uid));
        b->tokens = cap;
        b->last_ns = now;
    }
    b->tokens += (double)(now - b->last_ns) / 1e9 * cap;
    if (b->tokens > cap)
        b->tokens = cap;
    b->last_ns = now;
    if (b->tokens < 1.0)
        return 1;
    b->tokens -= 1.0;
    return 0;
}

/* What the token's kind allows: 1, or 0 with 403 answered. A legacy token may call nothing
 * that needs a token (9647); a read-only token every GET and no POST (9637) [decision: Apple
 * names only Get Assets, Get Assignments and Get Users as allowed, and no error]. */
static int token_allowed(struct sim_req *r)
{
    if (r->token_kind == TOKEN_LEGACY) {
        sim_error(r, VN_APPLE_LEGACY_TOKEN);
        return 0;
    }
    if (r->token_kind == TOKEN_READ_ONLY && strcmp(r->method, "GET") != 0) {
        sim_error(r, VN_APPLE_FACILITATOR_NOT_ALLOWED);
        return 0;
    }
    return 1;
}

static void count_request(struct sim *s, const char *method, const char *path, int status)
{
    struct sim_counter *c = NULL;

    s->requests_total++;
    for (size_t i = 0; i < s->ncounters; i++) {
        struct sim_counter *x = &s->counters[i];
        if (x->status == status && !strcmp(x->method, method) && !strcmp(x->path, path)) {
            c = x;
            break;
        }
    }
    if (!c) {
        if (s->ncounters == SIM_MAX_COUNTERS)
            return;
        c = &s->counters[s->ncounters++];
        vn_strlcpy(c->method, method, sizeof(c->method));
        vn_strlcpy(c->path, path, sizeof(c->path));
        c->status = status;
        c->count = 0;
    }
    c->count++;
}

static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    if (!ct || vn_strncasecmp_ascii(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Parse the body of a POST into r->json (an object): 0, or -1 answered. */
static int parse_body(struct sim_req *r, int apple)
{
    struct vn_error err = {0};

    if (!r->body || r->body_len == 0) {
        r->json = json_object();
        return 0;
    }
    r->json = vn_json_load(r->body, r->body_len, VN_JSON_DEFAULT_DEPTH, &err);
    if (!r->json || !json_is_object(r->json)) {
        if (apple)
            sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                           "Invalid argument: the body must be a JSON object.");
        else
            sim_fail(r, 400, "the body must be a JSON object: %s",
                     r->json ? "not an object" : err.msg);
        json_decref(r->json);
        r->json = NULL;
        return -1;
    }
    return 0;
}

static void dispatch_api(struct sim_req *r, const char *sub, const char **route_name)
{
    struct sim *s = r->sim;
    const struct route *rt = NULL;
    sim_handler h;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!strcmp(routes[i].path, sub))
            rt = &routes[i];
    if (!rt) {
        json_decref(r->resp);
        r->status = 404;
        r->resp = json_pack("{s:s}", "errorMessage", "Not found.");
        return;
    }
    *route_name = r->path;
    h = !strcmp(r->method, "GET") ? rt->get : !strcmp(r->method, "POST") ? rt->post : NULL;
    if (!h) {
        sim_error(r, VN_APPLE_METHOD_NOT_ALLOWED);
        r->allow = rt->get && rt->post ? "GET, POST" : rt->get ? "GET" : "POST";
        return;
    }
    if (r->body_len > 0 &&
        !is_json_type(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type"))) {
        sim_error(r, VN_APPLE_UNSUPPORTED_CONTENT_TYPE);
        return;
    }
    if (sim_faults_api(s, r))
        return;
    if (rt->auth) {
        if (authenticate(r) != 0)
            return;
        if (rate_limited(s, r->uid)) {
            sim_error(r, VN_APPLE_TOO_MANY_REQUESTS);
            r->retry_after = 1;
            return;
        }
        if (!token_allowed(r))
            return;
    }
    if (!strcmp(r->method, "POST") && parse_body(r, 1) != 0)
        return;
    r->envelope = rt->auth;
    h(r);
}

static enum MHD_Result answer(struct MHD_Connection *c, struct sim_req *r)
{
    struct MHD_Response *resp;
    char *text;
    enum MHD_Result ret;

    if (!r->resp) {
        r->status = 500;
        r->resp = json_pack("{s:s}", "error", "no response");
    }
    text = json_dumps(r->resp, JSON_COMPACT);
    if (!text)
        text = strdup("{}");
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r->retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%lld", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (r->status == 405 && r->allow)
        MHD_add_response_header(resp, "Allow", r->allow);
    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result simple(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct sim_req r = {0};
    enum MHD_Result ret;

    r.status = (int)status;
    r.resp = json_pack("{s:s}", "error", msg);
    ret = answer(c, &r);
    json_decref(r.resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct sim *s = cls;
    struct conn *cs = *con_cls;
    struct sim_req r;
    const char *route_name = "(unknown)";
    int control = !strncmp(url, CONTROL_PREFIX, strlen(CONTROL_PREFIX));
    size_t max = (size_t)(control ? s->cfg->max_control_body : s->cfg->max_body);
    enum MHD_Result ret;
    int64_t t0;

    (void)version;
    if (!cs) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        long long n;
        cs = calloc(1, sizeof(*cs));
        if (!cs)
            return MHD_NO;
        vn_buf_init(&cs->body, max);
        *con_cls = cs;
        if (cl && vn_parse_ll(cl, 0, (long long)max, &n) == VN_ETOOBIG)
            return simple(c, 413, "request body too large");
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cs->too_big && vn_buf_append(&cs->body, upload_data, *upload_size) != 0)
            cs->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (cs->too_big)
        return simple(c, 413, "request body too large");

    memset(&r, 0, sizeof(r));
    r.sim = s;
    r.conn = c;
    r.method = method;
    r.path = url;
    r.body = cs->body.len ? vn_buf_str(&cs->body) : NULL;
    r.body_len = cs->body.len;
    r.status = 500;
    t0 = vn_mono_ns();

    pthread_mutex_lock(&s->mu);
    if (control) {
        route_name = url;
        /* parse_body answers 400 itself when the body is not a JSON object. */
        if (strcmp(method, "POST") != 0 || parse_body(&r, 0) == 0)
            sim_control(&r);
    } else if (!strncmp(url, API_PREFIX "/", strlen(API_PREFIX) + 1)) {
        dispatch_api(&r, url + strlen(API_PREFIX), &route_name);
    } else {
        r.status = 404;
        r.resp = json_pack("{s:s}", "errorMessage", "Not found.");
    }
    if (r.envelope && r.status == 200 && json_is_object(r.resp))
        api_envelope(s, r.uid, r.token_exp_ms, r.resp);
    count_request(s, method, route_name, r.status);
    pthread_mutex_unlock(&s->mu);

    vn_log_fields(r.status >= 500 ? VN_LOG_WARN : VN_LOG_DEBUG, "request",
                  (struct vn_log_field[]){VN_LF_S("method", method), VN_LF_S("path", url),
                                          VN_LF_S("uId", r.uid[0] ? r.uid : NULL),
                                          VN_LF_I("status", r.status),
                                          VN_LF_D("ms", (double)(vn_mono_ns() - t0) / 1e6)},
                  5);
    ret = answer(c, &r);
    json_decref(r.json);
    json_decref(r.resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *cs = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (cs) {
        vn_buf_release(&cs->body);
        free(cs);
        *con_cls = NULL;
    }
}

int sim_server_start(struct sim *s, struct vn_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc;
    const union MHD_DaemonInfo *info;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

    if ((rc = vn_listen_resolve(s->cfg->listen, &ss, &sslen, err)))
        return rc;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->httpd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                                vn_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->httpd)
        return vn_error_set(err, VN_ENET, "cannot listen on '%s' (address in use?)",
                            s->cfg->listen);
    info = MHD_get_daemon_info(s->httpd, MHD_DAEMON_INFO_BIND_PORT);
    vn_sockaddr_format((struct sockaddr *)&ss, info ? (unsigned)info->port : 0u, s->bound,
                       sizeof(s->bound));
    return 0;
}

void sim_server_stop(struct sim *s)
{
    if (s->httpd)
        MHD_stop_daemon(s->httpd);
    s->httpd = NULL;
}
