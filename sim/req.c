/*
 * req.c - see req.h.
 */
#include "req.h"

#include "config.h"
#include "ctx.h"
#include "faults.h"
#include "location.h"
#include "state.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIFTEEN_DAYS_MS (15LL * 24 * 3600 * 1000)

void sim_req_release(struct sim_req *r)
{
    free(r->path);
    free(r->authorization);
    free(r->content_type);
    free(r->host);
    for (size_t i = 0; i < r->nargs; i++) {
        free(r->args[i].key);
        free(r->args[i].value);
    }
    free(r->args);
    json_decref(r->json);
    json_decref(r->resp);
    json_decref(r->keep);
    r->path = r->authorization = r->content_type = r->host = NULL;
    r->args = NULL;
    r->nargs = 0;
    r->json = r->resp = r->keep = NULL;
}

const char *sim_arg(const struct sim_req *r, const char *name)
{
    for (size_t i = 0; i < r->nargs; i++)
        if (!strcmp(r->args[i].key, name))
            return r->args[i].value;
    return NULL;
}

json_t *sim_arg_list(const struct sim_req *r, const char *name)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < r->nargs; i++) {
        if (strcmp(r->args[i].key, name) != 0)
            continue;
        for (const char *p = r->args[i].value; *p;) {
            size_t n = strcspn(p, ",");
            if (n)
                json_array_append_new(arr, json_stringn(p, n));
            p += n;
            if (*p == ',')
                p++;
        }
    }
    return arr;
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
        if (r->apple)
            sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                           "Invalid argument: integer expected.");
        else
            sim_fail(r, 400, "%s '%s': expected an integer from %lld to %lld", name, a, min, max);
        return -1;
    }
    return 1;
}

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

void sim_fail_state(struct sim_req *r, int rc)
{
    if (r->apple) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR); /* 500 */
        r->retry_after = 1;
    } else {
        sim_fail(r, 500, "vppsim's state failed: %s (see vppsim's log)", vn_strerror(rc));
    }
}

void sim_ok(struct sim_req *r, json_t *obj)
{
    json_decref(r->resp);
    r->status = obj ? 200 : 500;
    r->resp = obj ? obj : json_pack("{s:s}", "error", "out of memory");
}

void sim_req_complete(struct sim_req *r)
{
    struct sim_ctx *c = r->ctx;
    json_t *mdm = NULL;
    int rc;

    if (!r->envelope || r->status != 200 || !json_is_object(r->resp))
        return;
    if ((rc = sim_loc_mdm_info(c->db, r->uid, &mdm))) {
        sim_fail_state(r, rc);
        return;
    }
    json_object_set_new(r->resp, "uId", json_string(r->uid));
    if (strcmp(c->cfg->token_expiration_field, "always") == 0 ||
        r->token_exp_ms - vn_now_ms() < FIFTEEN_DAYS_MS) {
        char t[VN_TIME_ISO_LEN];
        vn_time_apple(r->token_exp_ms, t);
        json_object_set_new(r->resp, "tokenExpirationDate", json_string(t));
    }
    if (mdm)
        json_object_set_new(r->resp, "mdmInfo", mdm);
}

int sim_page_setup(struct sim_req *r, int64_t count, struct sim_page *p)
{
    long long idx = 0;
    int64_t size = r->ctx->cfg->page_size;

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

int sim_page_next(const struct sim_req *r)
{
    const char *p = sim_arg(r, "pageIndex");
    return p && strcmp(p, "0") != 0;
}

int sim_req_since(struct sim_req *r, int coll, int64_t *seq)
{
    const char *v = sim_arg(r, "sinceVersionId");
    int rc;

    *seq = -1;
    if (!v)
        return 0;
    rc = sim_version_seq(r->ctx->db, r->uid, (enum sim_coll)coll, v, seq);
    if (rc == VN_ENOTFOUND)
        sim_error(r, VN_APPLE_INVALID_VERSION_ID);
    else if (rc)
        sim_fail_state(r, rc);
    return rc ? -1 : 0;
}

int sim_req_version_fault(struct sim_req *r, int coll)
{
    int rc;

    if (!sim_faults_version_change(r->ctx->faults))
        return 0;
    if ((rc = sim_state_perturb(r->ctx, r->uid, (enum sim_coll)coll))) {
        sim_fail_state(r, rc);
        return -1;
    }
    return 0;
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
