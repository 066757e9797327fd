/*
 * api_config.c - see api_config.h.
 */
#include "api_config.h"

#include "ctx.h"
#include "engine.h"
#include "events.h"
#include "limits.h"
#include "location.h"
#include "outbox.h"
#include "req.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const notification_types[] = {
    "ASSET_MANAGEMENT",        "USER_MANAGEMENT",    "USER_ASSOCIATED", "ASSET_COUNT",
    "SUBSCRIPTION_MANAGEMENT", "SUBSCRIPTION_COUNT", "UNLIMITED_ASSET",
};

#define NTYPES (sizeof(notification_types) / sizeof(notification_types[0]))

void api_service_config(struct sim_req *r)
{
    struct sim_ctx *c = r->ctx;
    json_t *codes = json_array(), *types = json_array(), *urls = json_object();
    const struct vn_apple_error_info *errs;
    const char *host = r->host;
    char base[300];
    int n;
    static const struct {
        const char *key, *path;
    } url_keys[] = {
        {"clientConfig", "client/config"},
        {"createUsers", "users/create"},
        {"updateUsers", "users/update"},
        {"retireUsers", "users/retire"},
        {"getUsers", "users"},
        {"getAssets", "assets"},
        {"getAssignments", "assignments"},
        {"associateAssets", "assets/associate"},
        {"disassociateAssets", "assets/disassociate"},
        {"revokeAssets", "assets/revoke"},
        {"eventStatus", "status"},
        {"getSubscriptions", "subscriptions"},
        {"getSubscriptionAssignments", "subscriptions/assignments"},
        {"associateSubscriptions", "subscriptions/associate"},
        {"disassociateSubscriptions", "subscriptions/disassociate"},
        {"enableSubscriptions", "subscriptions/enable"},
        {"disableSubscriptions", "subscriptions/disable"},
        {"getSubscriptionAdmins", "subscriptions/admins"},
        {"addSubscriptionAdmins", "subscriptions/admins/add"},
        {"removeSubscriptionAdmins", "subscriptions/admins/remove"},
    };

    errs = vn_apple_errors(&n);
    for (int i = 0; i < n; i++)
        json_array_append_new(codes, json_pack("{s:i, s:s}", "errorNumber", errs[i].number,
                                               "errorMessage", errs[i].message));
    for (size_t i = 0; i < NTYPES; i++)
        json_array_append_new(types, json_string(notification_types[i]));
    if (!host || !*host || strlen(host) > 200 ||
        host[strspn(host, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:[]-")])
        host = c->bound;
    snprintf(base, sizeof(base), "http://%s/mdm/v2/", host);
    for (size_t i = 0; i < sizeof(url_keys) / sizeof(url_keys[0]); i++) {
        char u[400];
        snprintf(u, sizeof(u), "%s%s", base, url_keys[i].path);
        json_object_set_new(urls, url_keys[i].key, json_string(u));
    }
    json_object_set_new(
        urls, "invitationEmail",
        json_string("https://buy.itunes.apple.com/WebObjects/MZFinance.woa/wa/"
                    "associateVPPUserWithITSAccount?inviteCode=%25inviteCode%25&mt=8"));
    json_object_set_new(
        urls, "contentMetadataLookup",
        json_string(
            "https://uclient-api.itunes.apple.com/WebObjects/MZStorePlatform.woa/wa/lookup"));
    sim_ok(r, json_pack("{s:o, s:o, s:o, s:o}", "errorCodes", codes, "limits",
                        sim_limits_json(c->limits), "notificationTypes", types, "urls", urls));
}

void api_client_config_get(struct sim_req *r)
{
    json_t *o = NULL;
    int rc = sim_loc_client_config(r->ctx->db, r->uid, &o);

    if (rc)
        sim_fail_state(r, rc);
    else
        sim_ok(r, o);
}

int sim_url_acceptable(const char *url)
{
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL, *extra = NULL;
    int rc = -1;

    if (!h)
        return -1;
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
        goto out;
    /* Apple: the URL "should contain only host and path (no query string)". */
    if (curl_url_get(h, CURLUPART_QUERY, &extra, 0) == CURLUE_OK ||
        curl_url_get(h, CURLUPART_FRAGMENT, &extra, 0) == CURLUE_OK ||
        curl_url_get(h, CURLUPART_USER, &extra, 0) == CURLUE_OK || strpbrk(url, "?#"))
        goto out;
    if (!strcmp(scheme, "https"))
        rc = 0;
    else if (!strcmp(scheme, "http") &&
             (!strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "[::1]")))
        rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(extra);
    curl_url_cleanup(h);
    return rc;
}

static int allowed_type(const char *t)
{
    if (!strcmp(t, "TEST_NOTIFICATION"))
        return 1;
    for (size_t i = 0; i < NTYPES; i++)
        if (!strcmp(t, notification_types[i]))
            return 1;
    return 0;
}

/* Store the accepted change and answer the stored Client Config. */
static void configure(struct sim_req *r, const struct sim_config_change *ch)
{
    json_t *o = NULL;
    int rc;

    if ((rc = sim_loc_configure(r->ctx->db, r->uid, ch)) ||
        (rc = sim_loc_client_config(r->ctx->db, r->uid, &o))) {
        sim_fail_state(r, rc);
        return;
    }
    sim_ok(r, o);
}

/* The change a POST asked for, from what it kept while its TEST_NOTIFICATION was out. */
static void change_from(const json_t *keep, struct sim_config_change *ch)
{
    memset(ch, 0, sizeof(*ch));
    ch->url = json_string_value(json_object_get(keep, "url"));
    ch->token = json_string_value(json_object_get(keep, "token"));
    ch->clear = json_is_true(json_object_get(keep, "clear"));
    ch->types = json_object_get(keep, "types");
    ch->mdm = json_object_get(keep, "mdm");
}

/* The TEST_NOTIFICATION came back: record it, then keep the old configuration (9728) or
 * store the new one. */
static void tested(struct sim_req *r, const struct sim_attempt *a)
{
    struct sim_config_change ch;
    int rc;

    change_from(r->keep, &ch);
    rc = sim_outbox_test_record(r->ctx, r->uid, json_string_value(json_object_get(r->keep, "nid")),
                                json_string_value(json_object_get(r->keep, "body")), ch.url,
                                ch.token, a);
    if (rc) {
        sim_fail_state(r, rc);
    } else if (!a->ok) {
        vn_log_fields(VN_LOG_INFO, "test notification failed",
                      (struct vn_log_field[]){VN_LF_S("uId", r->uid), VN_LF_S("reason", a->why)},
                      2);
        sim_error(r, VN_APPLE_NOTIFICATION_URL_UNREACHABLE);
    } else {
        ch.tested_ms = a->time_ms;
        configure(r, &ch);
    }
    sim_req_complete(r);
}

/* Validate notificationTypes into *types (a new array without TEST_NOTIFICATION; NULL when
 * absent): 0, or -1 answered. */
static int read_types(struct sim_req *r, json_t **types)
{
    json_t *in = json_object_get(r->json, "notificationTypes"), *v;
    size_t i;

    *types = NULL;
    if (!in || json_is_null(in))
        return 0;
    if (!json_is_array(in)) {
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                       "Invalid argument: notificationTypes must be an array.");
        return -1;
    }
    *types = json_array();
    json_array_foreach(in, i, v)
    {
        if (!json_is_string(v) || !allowed_type(json_string_value(v))) {
            json_decref(*types);
            *types = NULL;
            sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                           "Invalid argument: unknown notification type.");
            return -1;
        }
        if (strcmp(json_string_value(v), "TEST_NOTIFICATION") != 0)
            json_array_append(*types, v);
    }
    return 0;
}

/* Validate mdmInfo: 0 (*mdm borrowed, NULL when absent), or -1 answered. */
static int read_mdm(struct sim_req *r, json_t **mdm)
{
    struct sim_limits *l = r->ctx->limits;
    json_t *m = json_object_get(r->json, "mdmInfo");
    const char *id, *name, *meta;

    *mdm = NULL;
    if (!m || json_is_null(m))
        return 0;
    id = json_string_value(json_object_get(m, "id"));
    name = json_string_value(json_object_get(m, "name"));
    meta = json_string_value(json_object_get(m, "metadata"));
    if (!json_is_object(m) || !id || !name || !meta) {
        sim_error(r, VN_APPLE_MDM_INFO_INCOMPLETE);
        return -1;
    }
    if ((long long)strlen(id) > sim_limit(l, LIM_MAX_MDM_ID_LENGTH)) {
        sim_error(r, VN_APPLE_MDM_ID_TOO_LONG);
        return -1;
    }
    if ((long long)strlen(name) > sim_limit(l, LIM_MAX_MDM_NAME_LENGTH)) {
        sim_error(r, VN_APPLE_MDM_NAME_TOO_LONG);
        return -1;
    }
    if ((long long)strlen(meta) > sim_limit(l, LIM_MAX_MDM_METADATA_LENGTH)) {
        sim_error(r, VN_APPLE_MDM_METADATA_TOO_LONG);
        return -1;
    }
    *mdm = m;
    return 0;
}

void api_client_config_post(struct sim_req *r)
{
    struct sim_ctx *c = r->ctx;
    json_t *url = json_object_get(r->json, "notificationUrl");
    json_t *tok = json_object_get(r->json, "notificationAuthToken");
    json_t *types = NULL, *mdm = NULL, *keep;
    long long maxlen = sim_limit(c->limits, LIM_MAX_NOTIFICATION_LENGTH);
    const char *u = NULL, *t = NULL;
    char nid[37], *body = NULL;
    int clear = 0, rc;

    if (read_types(r, &types) < 0)
        return;
    url = json_is_null(url) ? NULL : url;
    tok = json_is_null(tok) ? NULL : tok;
    if ((url && !json_is_string(url)) || (tok && !json_is_string(tok))) {
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                       "Invalid argument: notificationUrl and notificationAuthToken are strings.");
        goto out;
    }
    if (!url != !tok) {
        sim_error(r, VN_APPLE_NOTIFICATION_URL_AND_TOKEN);
        goto out;
    }
    if (url) {
        u = json_string_value(url);
        t = json_string_value(tok);
        if ((long long)strlen(u) > maxlen || (long long)strlen(t) > maxlen) {
            sim_error(r, VN_APPLE_NOTIFICATION_TOO_LONG);
            goto out;
        }
        clear = !*u && !*t;
        if (!clear && (!*t || sim_url_acceptable(u) != 0)) {
            sim_error(r, !*t ? VN_APPLE_NOTIFICATION_URL_AND_TOKEN
                             : VN_APPLE_NOTIFICATION_URL_NOT_HTTPS);
            goto out;
        }
    }
    if (read_mdm(r, &mdm) < 0)
        goto out;
    keep = json_pack("{s:b}", "clear", clear);
    if (types)
        json_object_set(keep, "types", types);
    if (mdm)
        json_object_set(keep, "mdm", mdm);
    if (!url || clear) {
        struct sim_config_change ch;
        change_from(keep, &ch);
        configure(r, &ch);
        json_decref(keep);
        goto out;
    }
    /* A TEST_NOTIFICATION first: the answer waits for the receiver's (engine.h). */
    if ((rc = sim_outbox_test_body(c, r->uid, nid, &body))) {
        json_decref(keep);
        sim_fail_state(r, rc);
        goto out;
    }
    json_object_set_new(keep, "url", json_string(u));
    json_object_set_new(keep, "token", json_string(t));
    json_object_set_new(keep, "nid", json_string(nid));
    json_object_set_new(keep, "body", json_string(body));
    json_decref(r->keep);
    r->keep = keep;
    if (sim_engine_wait_tested(c->engine, r, u, t, body, tested) != 0) {
        sim_error(r, VN_APPLE_SERVICE_UNAVAILABLE);
        r->retry_after = 1;
    }
out:
    free(body);
    json_decref(types);
}

void api_status(struct sim_req *r)
{
    const char *id = sim_arg(r, "eventId");
    json_t *ev = NULL;
    int rc;

    /* [decision: apple-api.md documents 9708 for an unknown eventId and nothing for a missing
     * one; a missing required parameter is an invalid argument, 9602.] */
    if (!id || !*id) {
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                       "Invalid argument: eventId is required.");
        return;
    }
    rc = sim_event_status(r->ctx, r->uid, id, &ev);
    if (rc == VN_ENOTFOUND)
        sim_error(r, VN_APPLE_EVENT_NOT_FOUND);
    else if (rc)
        sim_fail_state(r, rc);
    else
        sim_ok(r, ev);
}
