/*
 * router.c - see router.h.
 */
#include "router.h"

#include "api_assets.h"
#include "api_config.h"
#include "api_subs.h"
#include "api_users.h"
#include "control.h"
#include "ctx.h"
#include "faults.h"
#include "limits.h"
#include "location.h"
#include "req.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define STOKEN_MAX 4096

struct route {
    const char *path; /* after SIM_API_PREFIX */
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

/* Authenticate the sToken: 0 with r->uid set, or -1 with the error answered. */
static int authenticate(struct sim_req *r)
{
    const char *h = r->authorization, *b64;
    unsigned char *raw = NULL;
    size_t rawlen = 0, b64len;
    json_t *tok = NULL;
    const char *inner;
    struct sim_token_info t;
    int rc = -1, src;

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
    src = sim_token_find(r->ctx->db, inner, &t);
    if (src == VN_ENOTFOUND) {
        sim_error(r, VN_APPLE_LOGIN_REQUIRED);
        goto out;
    }
    if (src) {
        sim_fail_state(r, src);
        goto out;
    }
    if (t.revoked) {
        sim_error(r, VN_APPLE_TOKEN_REVOKED);
        goto out;
    }
    if (t.exp_ms <= vn_now_ms()) {
        sim_error(r, VN_APPLE_TOKEN_EXPIRED);
        goto out;
    }
    vn_strlcpy(r->uid, t.uid, sizeof(r->uid));
    r->token_exp_ms = t.exp_ms;
    r->token_kind = t.kind;
    rc = 0;
out:
    json_decref(tok);
    if (raw)
        sodium_memzero(raw, b64len);
    free(raw);
    return rc;
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

static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    if (!ct || vn_strncasecmp_ascii(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Parse the body of a POST into r->json (an object): 0, or -1 answered. */
static int parse_body(struct sim_req *r)
{
    struct vn_error err = {0};

    if (!r->body || r->body_len == 0) {
        r->json = json_object();
        return 0;
    }
    r->json = vn_json_load(r->body, r->body_len, VN_JSON_DEFAULT_DEPTH, &err);
    if (!r->json || !json_is_object(r->json)) {
        if (r->apple)
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

static void dispatch_api(struct sim_req *r, const char *sub)
{
    struct sim_ctx *c = r->ctx;
    const struct route *rt = NULL;
    struct sim_fault_hit hit;
    sim_handler h;

    r->hold_ms = sim_faults_latency_ms(c->faults);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!strcmp(routes[i].path, sub))
            rt = &routes[i];
    if (!rt) {
        sim_ok(r, json_pack("{s:s}", "errorMessage", "Not found."));
        r->status = 404;
        return;
    }
    r->route = r->path;
    h = !strcmp(r->method, "GET") ? rt->get : !strcmp(r->method, "POST") ? rt->post : NULL;
    if (!h) {
        sim_error(r, VN_APPLE_METHOD_NOT_ALLOWED);
        r->allow = rt->get && rt->post ? "GET, POST" : rt->get ? "GET" : "POST";
        return;
    }
    if (r->body_len > 0 && !is_json_type(r->content_type)) {
        sim_error(r, VN_APPLE_UNSUPPORTED_CONTENT_TYPE);
        return;
    }
    if (sim_faults_api(c->faults, r->path, &hit)) {
        sim_error(r, hit.number);
        r->status = hit.status;
        r->retry_after = hit.retry_after;
        return;
    }
    if (rt->auth) {
        if (authenticate(r) != 0)
            return;
        if (!sim_limits_admit(c->limits, r->uid, vn_mono_ns())) {
            sim_error(r, VN_APPLE_TOO_MANY_REQUESTS);
            r->retry_after = 1;
            return;
        }
        if (!token_allowed(r))
            return;
    }
    if (!strcmp(r->method, "POST") && parse_body(r) != 0)
        return;
    r->envelope = rt->auth;
    h(r);
    if (!r->waiting)
        sim_req_complete(r);
}

void sim_router_run(struct sim_req *r)
{
    size_t cn = strlen(SIM_CONTROL_PREFIX), an = strlen(SIM_API_PREFIX);

    r->route = "(unknown)";
    r->status = 500;
    if (!strncmp(r->path, SIM_CONTROL_PREFIX, cn)) {
        r->route = r->path;
        /* parse_body answers 400 itself when the body is not a JSON object. */
        if (strcmp(r->method, "POST") != 0 || parse_body(r) == 0)
            sim_control(r);
    } else if (!strncmp(r->path, SIM_API_PREFIX "/", an + 1)) {
        dispatch_api(r, r->path + an);
    } else {
        sim_ok(r, json_pack("{s:s}", "errorMessage", "Not found."));
        r->status = 404;
    }
}
