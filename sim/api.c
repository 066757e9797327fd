/*
 * api.c - Service Config, Client Config (with the synchronous TEST_NOTIFICATION), Event
 * Status, the common response envelope, and the Service Config limits.
 */
#include "sim.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <stdlib.h>
#include <string.h>

#define FIFTEEN_DAYS_MS (15LL * 24 * 3600 * 1000)

static const char *const notification_types[] = {
    "ASSET_MANAGEMENT",        "USER_MANAGEMENT",    "USER_ASSOCIATED", "ASSET_COUNT",
    "SUBSCRIPTION_MANAGEMENT", "SUBSCRIPTION_COUNT", "UNLIMITED_ASSET",
};

/* ---------------------------------------------------------------------------------------- */

void sim_limits_defaults(struct sim *s)
{
    static const struct sim_limit defaults[LIM_COUNT] = {
        {"maxAssets", 25},
        {"maxClientUserIds", 1000},
        {"maxSerialNumbers", 1000},
        {"maxRevokeClientUserIds", 100},
        {"maxRevokeSerialNumbers", 100},
        {"maxUsers", 100},
        {"maxSubscriptions", 25},
        {"maxSubscriptionClientUserIds", 1000},
        {"maxNotificationLength", 512},
        {"maxMdmNameLength", 100},
        {"maxMdmIdLength", 100},
        {"maxMdmMetadataLength", 255},
        {"maxRequestPerSecond", 15},
    };
    memcpy(s->limits, defaults, sizeof(defaults));
}

long long sim_limit(const struct sim *s, enum sim_limit_id id)
{
    return s->limits[id].value;
}

int sim_limit_set(struct sim *s, const char *name, long long value)
{
    for (int i = 0; i < LIM_COUNT; i++) {
        if (!strcmp(s->limits[i].name, name)) {
            s->limits[i].value = value;
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------- */

void api_envelope(struct sim *s, const char *uid, int64_t token_exp_ms, json_t *obj)
{
    sqlite3_stmt *st;

    json_object_set_new(obj, "uId", json_string(uid));
    if (strcmp(s->cfg->token_expiration_field, "always") == 0 ||
        token_exp_ms - vn_now_ms() < FIFTEEN_DAYS_MS) {
        char t[VN_TIME_ISO_LEN];
        vn_time_apple(token_exp_ms, t);
        json_object_set_new(obj, "tokenExpirationDate", json_string(t));
    }
    st = sim_stmt(s, "SELECT mdm_id, mdm_name, mdm_metadata FROM locations WHERE uid = ?");
    sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        json_object_set_new(obj, "mdmInfo",
                            json_pack("{s:s, s:s, s:s}", "id", sqlite3_column_text(st, 0), "name",
                                      sqlite3_column_text(st, 1), "metadata",
                                      sqlite3_column_text(st, 2)));
    sqlite3_reset(st);
}

int api_subscribed(struct sim *s, const char *uid, const char *type)
{
    char *types = sim_query_text(s,
                                 "SELECT notification_types FROM locations WHERE uid = ? AND"
                                 " notification_url IS NOT NULL",
                                 "t", uid);
    json_t *arr = types ? json_loads(types, 0, NULL) : NULL;
    size_t i;
    json_t *v;
    int yes = 0;

    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), type))
            yes = 1;
    }
    json_decref(arr);
    free(types);
    return yes;
}

/* ---------------------------------------------------------------------------------------- */

void api_service_config(struct sim_req *r)
{
    struct sim *s = r->sim;
    json_t *codes = json_array(), *limits = json_object(), *types = json_array(),
           *urls = json_object();
    const struct vn_apple_error_info *errs;
    const char *host = sim_header(r, "Host");
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
    for (int i = 0; i < LIM_COUNT; i++)
        json_object_set_new(limits, s->limits[i].name, json_integer(s->limits[i].value));
    for (size_t i = 0; i < sizeof(notification_types) / sizeof(notification_types[0]); i++)
        json_array_append_new(types, json_string(notification_types[i]));
    if (!host || !*host || strlen(host) > 200 ||
        host[strspn(host, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:[]-")])
        host = s->bound;
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
    sim_ok(r, json_pack("{s:o, s:o, s:o, s:o}", "errorCodes", codes, "limits", limits,
                        "notificationTypes", types, "urls", urls));
}

/* The Client Config of a location (owned JSON, without the envelope). Locked. */
static json_t *client_config(struct sim *s, const char *uid)
{
    json_t *rows = sim_query_json(
        s,
        "SELECT country AS countryISO2ACode, default_platform AS defaultPlatform,"
        " location_name AS locationName, website_url AS websiteURL,"
        " notification_url AS notificationUrl, notification_auth_token AS notificationAuthToken,"
        " notification_types AS \"j:subscribedNotificationTypes\""
        " FROM locations WHERE uid = ?",
        "t", uid);
    json_t *o = json_incref(json_array_get(rows, 0));

    json_decref(rows);
    return o ? o : json_object();
}

void api_client_config_get(struct sim_req *r)
{
    sim_ok(r, client_config(r->sim, r->uid));
}

static int allowed_type(const char *t)
{
    if (!strcmp(t, "TEST_NOTIFICATION"))
        return 1;
    for (size_t i = 0; i < sizeof(notification_types) / sizeof(notification_types[0]); i++)
        if (!strcmp(t, notification_types[i]))
            return 1;
    return 0;
}

void api_client_config_post(struct sim_req *r)
{
    struct sim *s = r->sim;
    json_t *types = json_object_get(r->json, "notificationTypes");
    json_t *url = json_object_get(r->json, "notificationUrl");
    json_t *tok = json_object_get(r->json, "notificationAuthToken");
    json_t *mdm = json_object_get(r->json, "mdmInfo");
    json_t *stored_types = NULL;
    long long maxlen = sim_limit(s, LIM_MAX_NOTIFICATION_LENGTH);
    const char *u = NULL, *t = NULL;
    char *types_text = NULL;
    int clear = 0;
    size_t i;
    json_t *v;

    if (types && !json_is_null(types)) {
        if (!json_is_array(types)) {
            sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                           "Invalid argument: notificationTypes must be an array.");
            return;
        }
        stored_types = json_array();
        json_array_foreach(types, i, v)
        {
            if (!json_is_string(v) || !allowed_type(json_string_value(v))) {
                json_decref(stored_types);
                sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                               "Invalid argument: unknown notification type.");
                return;
            }
            if (strcmp(json_string_value(v), "TEST_NOTIFICATION") != 0)
                json_array_append(stored_types, v);
        }
    }
    if (url && json_is_null(url))
        url = NULL;
    if (tok && json_is_null(tok))
        tok = NULL;
    if ((url && !json_is_string(url)) || (tok && !json_is_string(tok))) {
        json_decref(stored_types);
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                       "Invalid argument: notificationUrl and notificationAuthToken are strings.");
        return;
    }
    if (!url != !tok) {
        json_decref(stored_types);
        sim_error(r, VN_APPLE_NOTIFICATION_URL_AND_TOKEN);
        return;
    }
    if (url) {
        u = json_string_value(url);
        t = json_string_value(tok);
        if ((long long)strlen(u) > maxlen || (long long)strlen(t) > maxlen) {
            json_decref(stored_types);
            sim_error(r, VN_APPLE_NOTIFICATION_TOO_LONG);
            return;
        }
        clear = !*u && !*t;
        if (!clear && (!*t || sim_url_acceptable(u) != 0)) {
            json_decref(stored_types);
            sim_error(r, !*t ? VN_APPLE_NOTIFICATION_URL_AND_TOKEN
                             : VN_APPLE_NOTIFICATION_URL_NOT_HTTPS);
            return;
        }
    }
    if (mdm && !json_is_null(mdm)) {
        const char *id = json_string_value(json_object_get(mdm, "id"));
        const char *name = json_string_value(json_object_get(mdm, "name"));
        const char *meta = json_string_value(json_object_get(mdm, "metadata"));
        if (!json_is_object(mdm) || !id || !name || !meta) {
            json_decref(stored_types);
            sim_error(r, VN_APPLE_MDM_INFO_INCOMPLETE);
            return;
        }
        if ((long long)strlen(id) > sim_limit(s, LIM_MAX_MDM_ID_LENGTH)) {
            json_decref(stored_types);
            sim_error(r, VN_APPLE_MDM_ID_TOO_LONG);
            return;
        }
        if ((long long)strlen(name) > sim_limit(s, LIM_MAX_MDM_NAME_LENGTH)) {
            json_decref(stored_types);
            sim_error(r, VN_APPLE_MDM_NAME_TOO_LONG);
            return;
        }
        if ((long long)strlen(meta) > sim_limit(s, LIM_MAX_MDM_METADATA_LENGTH)) {
            json_decref(stored_types);
            sim_error(r, VN_APPLE_MDM_METADATA_TOO_LONG);
            return;
        }
    } else {
        mdm = NULL;
    }
    if (url && !clear) {
        char why[256];
        /* Releases sim->mu while the receiver answers. */
        if (sim_notify_test(s, r->uid, u, t, why, sizeof(why)) != 0) {
            vn_log_fields(VN_LOG_INFO, "test notification failed",
                          (struct vn_log_field[]){VN_LF_S("uId", r->uid), VN_LF_S("reason", why)},
                          2);
            json_decref(stored_types);
            sim_error(r, VN_APPLE_NOTIFICATION_URL_UNREACHABLE);
            return;
        }
        sim_exec(s,
                 "UPDATE locations SET notification_url = ?, notification_auth_token = ?,"
                 " last_test_ms = ? WHERE uid = ?",
                 "ttit", u, t, vn_now_ms(), r->uid);
    } else if (clear) {
        sim_exec(s,
                 "UPDATE locations SET notification_url = NULL, notification_auth_token = NULL"
                 " WHERE uid = ?",
                 "t", r->uid);
    }
    if (stored_types) {
        types_text = json_dumps(stored_types, JSON_COMPACT);
        sim_exec(s, "UPDATE locations SET notification_types = ? WHERE uid = ?", "tt", types_text,
                 r->uid);
        free(types_text);
        json_decref(stored_types);
    }
    if (mdm)
        sim_exec(s, "UPDATE locations SET mdm_id = ?, mdm_name = ?, mdm_metadata = ? WHERE uid = ?",
                 "tttt", json_string_value(json_object_get(mdm, "id")),
                 json_string_value(json_object_get(mdm, "name")),
                 json_string_value(json_object_get(mdm, "metadata")), r->uid);
    sim_ok(r, client_config(s, r->uid));
}

void api_status(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *id = sim_arg(r, "eventId");
    json_t *rows, *ev;

    if (!id || !*id) {
        sim_error(r, VN_APPLE_EVENT_NOT_FOUND);
        return;
    }
    rows = sim_query_json(s,
                          "SELECT status AS eventStatus, event_type AS eventType,"
                          " num_requested AS numRequested, num_completed AS numCompleted,"
                          " failures AS \"j:failures\" FROM events"
                          " WHERE event_id = ? AND uid = ?",
                          "tt", id, r->uid);
    ev = json_array_get(rows, 0);
    if (!ev) {
        json_decref(rows);
        sim_error(r, VN_APPLE_EVENT_NOT_FOUND);
        return;
    }
    sim_ok(r, json_incref(ev));
    json_decref(rows);
}
