/*
 * cmd_apple.c - the commands that set up a location's link to Apple (contract section 5):
 * the subscribe flow of `location add --stoken-file`, `location rotate-token` of a subscribed
 * location, `location set-stoken`, and `events track`. Also the helpers every Apple command
 * shares: the client from --apple-url, the sealing key file, a location's session.
 *
 * An sToken is read from a 0600 file, never from argv, and is only ever stored sealed.
 * A notification token handed to Apple here is never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/apple.h"
#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/session.h"
#include "vppnotify/stoken.h"
#include "vppnotify/tracker.h"
#include "vppnotify/util.h"

#define KEY_PATH_MAX 4200

struct vn_apple *vn_cli_apple(const struct vn_cli *c)
{
    struct vn_apple_options o = {
        .base_url = c->apple_url,
        .timeout_ms = c->apple_timeout_ms,
        .config_refresh_ms = c->apple_config_refresh_ms,
        .max_attempts = (int)c->apple_attempts,
        .backoff_ms = c->apple_backoff_ms,
        .backoff_max_ms = c->apple_retry_max_ms < 60000 ? c->apple_retry_max_ms : 60000,
        .retry_after_max_ms = c->apple_retry_max_ms,
    };
    struct vn_error err = {0};
    struct vn_apple *a = vn_apple_new(&o, &err);

    if (!a)
        vn_cli_error("%s", err.msg);
    return a;
}

int vn_cli_key_file(const struct vn_cli *c, char *out, size_t outlen)
{
    struct vn_error err = {0};

    if (c->key_file && *c->key_file) {
        vn_strlcpy(out, c->key_file, outlen);
        return 0;
    }
    if (vn_seal_key_path(c->db, out, outlen, &err) != 0) {
        vn_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

int vn_cli_session(const struct vn_cli *c, struct vn_store *st, struct vn_apple *a,
                   struct vn_session_env *env, char *key_path, size_t key_path_len,
                   struct vn_session *s)
{
    struct vn_error err = {0};

    if (vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    if (vn_cli_key_file(c, key_path, key_path_len) != 0)
        return VN_EXIT_FAIL;
    memset(env, 0, sizeof(*env));
    env->apple = a;
    env->key_file = key_path;
    if (vn_session_open(s, env, st, c->uid, &err) != 0) {
        vn_cli_error("%s", err.msg);
        return VN_EXIT_FAIL;
    }
    return 0;
}

/* ---- shared by subscribe and rotate ------------------------------------------------------- */

/* A URL Apple may be given: https (or loopback http), host and path only, not too long. */
static int check_public_url(const char *url, long long max_len)
{
    struct vn_error err = {0};

    if (!url) {
        vn_cli_error("--public-url is required: the https:// address where Apple reaches "
                     "vppnotify serve (e.g. https://mdm.example.com/notifications)");
        return -1;
    }
    if (vn_apple_url_check(url, &err) != 0) {
        vn_cli_error("--public-url: %s", err.msg);
        return -1;
    }
    if (strpbrk(url, "?#")) {
        vn_cli_error("--public-url '%s': Apple wants a host and a path only (no query, no "
                     "fragment)",
                     url);
        return -1;
    }
    if ((long long)strlen(url) > max_len) {
        vn_cli_error("--public-url is %zu characters; Apple's limit is %lld "
                     "(maxNotificationLength)",
                     strlen(url), max_len);
        return -1;
    }
    return 0;
}

/* The notification token for Apple: --token-file, or a new one. Never printed. */
static int new_token(const struct vn_cli *c, char *tok, size_t cap)
{
    struct vn_error err = {0};

    if (!c->token_file) {
        vn_token_generate(tok);
        return 0;
    }
    if (vn_secret_read_file(c->token_file, tok, cap, &err) != 0 || vn_token_check(tok, &err) != 0) {
        vn_cli_error("token file '%s': %s", c->token_file, err.msg);
        vn_wipe(tok, cap);
        return -1;
    }
    return 0;
}

/* Client Config's POST body: URL, token, every type Service Config lists, our mdmInfo. */
static json_t *config_body(const struct vn_session *s, const struct vn_apple_service *svc,
                           const char *url, const char *token)
{
    json_t *types = json_array();

    for (int i = 0; i < svc->ntypes; i++)
        json_array_append_new(types, json_string(svc->types[i]));
    return json_pack("{s:s, s:s, s:o, s:o}", "notificationUrl", url, "notificationAuthToken", token,
                     "notificationTypes", types, "mdmInfo", vn_mdm_info_json(&s->mdm));
}

/* Record the subscription Apple confirmed (the types it echoes, else the ones we sent). */
static void record_subscription(struct vn_store *st, const char *uid, const char *url,
                                const json_t *answer, const json_t *sent)
{
    struct vn_location_update u = {
        .what = VN_LU_SUBSCRIPTION, .notification_url = url, .subscribed_ms = vn_now_ms()};
    json_t *types = json_object_get(answer, "subscribedNotificationTypes");
    char *text;

    if (!json_is_array(types))
        types = json_object_get(sent, "notificationTypes");
    text = json_dumps(types, JSON_COMPACT);
    u.notification_types = text;
    if (vn_store_location_update(st, uid, &u) != 0)
        vn_log_warn("location %s: subscribed, but cannot record it: %s", uid,
                    vn_store_last_error(st));
    free(text);
}

/* Why a Client Config POST failed, for people; 9728 gets its explanation. */
static void explain_config_failure(const char *uid, const char *url,
                                   const struct vn_apple_failure *why)
{
    if (why->number == VN_APPLE_NOTIFICATION_URL_UNREACHABLE)
        vn_cli_error("Apple could not deliver its TEST_NOTIFICATION to '%s' (error 9728), so "
                     "it refused the subscription of location '%s'. vppnotify serve must "
                     "already answer at that URL, from the Internet, over HTTPS, with this "
                     "database (it accepts the new token at once). Start it, check the URL "
                     "with curl from outside, and run the command again. (%s)",
                     url, uid, why->message);
    else
        vn_cli_error("Apple refused the subscription of location '%s': %s", uid, why->message);
}

/* ---- location add --stoken-file ----------------------------------------------------------- */

int vn_cli_location_subscribe(struct vn_cli *c)
{
    struct vn_stoken tok = {0};
    struct vn_apple_service svc;
    struct vn_apple_failure why;
    struct vn_apple *a = NULL;
    struct vn_store *st = NULL;
    struct vn_session s = {0};
    struct vn_error err = {0};
    struct vn_location_apple existing = {0};
    struct vn_location_update u = {.what = VN_LU_STOKEN};
    json_t *cfg = NULL, *body = NULL, *answer = NULL;
    char key_path[KEY_PATH_MAX], ntok[VN_TOKEN_MAX + 1] = "", uid[VN_ID_MAX + 1], when[32];
    uint8_t key[VN_SEAL_KEY_LEN], digest[VN_DIGEST_LEN], *sealed = NULL;
    size_t sealed_len = 0;
    const char *name, *cfg_uid;
    int rc = VN_EXIT_FAIL, created = 0;
    int64_t exp_ms;

    if (c->uid && vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    if (check_public_url(c->public_url, VN_TOKEN_MAX))
        return VN_EXIT_USAGE;
    if (vn_stoken_read_file(c->stoken_file, &tok, &err) != 0) {
        vn_cli_error("%s", err.msg);
        return VN_EXIT_FAIL;
    }
    if (tok.expires_ms <= vn_now_ms()) {
        vn_time_iso(tok.expires_ms, when);
        vn_cli_error("the sToken in '%s' expired on %s: download a new one from Apple School "
                     "Manager or Apple Business Manager",
                     c->stoken_file, when);
        goto out;
    }
    if (vn_cli_key_file(c, key_path, sizeof(key_path)) != 0 || !(a = vn_cli_apple(c)) ||
        !(st = vn_cli_open_store(c, VN_CLI_DB_CREATE)))
        goto out;
    if (vn_apple_service(a, &svc, &why) != 0) {
        vn_cli_error("cannot read Apple's Service Config: %s", why.message);
        goto out;
    }
    if (check_public_url(c->public_url, svc.limits.max_notification_length))
        goto out;
    if (vn_session_with_token(&s, a, st, c->uid, tok.text, &err) != 0) {
        vn_cli_error("%s", err.msg);
        goto out;
    }
    if (vn_session_call(&s, "GET", "clientConfig", "client/config", NULL, NULL, &cfg, &why)) {
        vn_cli_error("Apple refused the sToken in '%s': %s", c->stoken_file, why.message);
        goto out;
    }
    cfg_uid = json_string_value(json_object_get(cfg, "uId"));
    if (!cfg_uid || !*cfg_uid || strlen(cfg_uid) > VN_ID_MAX) {
        vn_cli_error("Apple's Client Config names no uId for this sToken");
        goto out;
    }
    vn_strlcpy(uid, cfg_uid, sizeof(uid));
    if (c->uid && strcmp(c->uid, uid) != 0) {
        vn_cli_error("the sToken in '%s' belongs to location '%s', not to --uid '%s'",
                     c->stoken_file, uid, c->uid);
        goto out;
    }
    if (vn_store_location_apple(st, uid, &existing) == 0) {
        vn_cli_error("location '%s' already exists; use 'location set-stoken' for a new sToken "
                     "or 'location rotate-token' for a new notification token",
                     uid);
        goto out;
    }
    if (vn_session_foreign_mdm(&s, cfg) && !c->take_over) {
        char *m = vn_json_dump(json_object_get(cfg, "mdmInfo"));
        vn_cli_error("Apple says another MDM manages location '%s' (mdmInfo %s); only one MDM "
                     "should manage a location. Pass --take-over to make vppnotify that MDM",
                     uid, m ? m : "?");
        free(m);
        goto out;
    }
    if (vn_seal_key_load(key_path, 1, key, &err) != 0) {
        vn_cli_error("%s", err.msg);
        goto out;
    }
    rc = vn_seal(key, tok.text, strlen(tok.text), &sealed, &sealed_len);
    vn_wipe(key, sizeof(key));
    if (rc || new_token(c, ntok, sizeof(ntok))) {
        if (rc)
            vn_cli_error("out of memory");
        rc = VN_EXIT_FAIL;
        goto out;
    }
    rc = VN_EXIT_FAIL;
    /* The location and its token are committed before Client Config is POSTed: the running
     * daemon must accept the TEST_NOTIFICATION that Apple delivers during the call. */
    name = c->name ? c->name : json_string_value(json_object_get(cfg, "locationName"));
    vn_digest(ntok, strlen(ntok), digest);
    if (vn_store_location_add(st, uid, name ? name : uid, digest, vn_now_ms()) != 0) {
        vn_cli_error("cannot add location '%s': %s", uid, vn_store_last_error(st));
        goto out;
    }
    created = 1;
    exp_ms = tok.expires_ms;
    if (json_is_string(json_object_get(cfg, "tokenExpirationDate")))
        vn_time_parse(json_string_value(json_object_get(cfg, "tokenExpirationDate")), &exp_ms);
    u.stoken = sealed;
    u.stoken_len = sealed_len;
    u.token_expires_ms = exp_ms;
    u.org_name = tok.org_name;
    if (vn_store_location_update(st, uid, &u) != 0) {
        vn_cli_error("cannot store the sToken of '%s': %s", uid, vn_store_last_error(st));
        goto out;
    }
    vn_session_set_uid(&s, uid, 0);
    body = config_body(&s, &svc, c->public_url, ntok);
    if (vn_session_call(&s, "POST", "clientConfig", "client/config", NULL, body, &answer, &why) !=
        0) {
        explain_config_failure(uid, c->public_url, &why);
        goto out;
    }
    record_subscription(st, uid, c->public_url, answer, body);
    if (vn_session_foreign_mdm(&s, answer))
        vn_cli_error("warning: Apple still echoes another MDM's mdmInfo for '%s'", uid);
    created = 0;
    vn_time_iso(exp_ms, when);
    printf("location %s (%s) subscribed: notifications go to %s (%zu types); its sToken "
           "(%s) expires %s\n",
           uid, name ? name : uid, c->public_url,
           json_array_size(json_object_get(body, "notificationTypes")),
           tok.org_name[0] ? tok.org_name : "organization unknown", when);
    rc = VN_EXIT_OK;
out:
    if (created && vn_store_location_remove(st, uid) != 0)
        vn_cli_error("also cannot remove the half-made location '%s': %s", uid,
                     vn_store_last_error(st));
    vn_wipe(ntok, sizeof(ntok));
    if (sealed) {
        vn_wipe(sealed, sealed_len);
        free(sealed);
    }
    if (body) {
        /* The body holds the notification token: wipe jansson's copy. */
        json_t *t = json_object_get(body, "notificationAuthToken");
        if (json_is_string(t))
            vn_wipe((char *)json_string_value(t), json_string_length(t));
    }
    json_decref(body);
    json_decref(cfg);
    json_decref(answer);
    vn_location_apple_release(&existing);
    vn_session_release(&s);
    vn_stoken_release(&tok);
    vn_store_free(st);
    vn_apple_free(a);
    return rc;
}

/* ---- location rotate-token of a subscribed location ---------------------------------------- */

int vn_cli_location_rotate_subscribed(struct vn_cli *c, struct vn_store *st)
{
    struct vn_apple *a = vn_cli_apple(c);
    struct vn_apple_service svc;
    struct vn_apple_failure why;
    struct vn_session_env env;
    struct vn_session s = {0};
    json_t *body = NULL, *answer = NULL;
    char key_path[KEY_PATH_MAX], ntok[VN_TOKEN_MAX + 1] = "", grace[32], url[VN_URL_MAX + 1];
    uint8_t digest[VN_DIGEST_LEN];
    int64_t now = vn_now_ms();
    int rc;

    if (!a)
        return VN_EXIT_FAIL;
    rc = vn_cli_session(c, st, a, &env, key_path, sizeof(key_path), &s);
    if (rc)
        goto out;
    rc = VN_EXIT_FAIL;
    if (s.loc.takeover[0] && !c->take_over) {
        vn_cli_error("Apple last named another MDM for location '%s' (mdmInfo %s); only one MDM "
                     "should manage a location. Pass --take-over to make vppnotify that MDM",
                     c->uid, s.loc.takeover);
        goto out;
    }
    vn_strlcpy(url, c->public_url ? c->public_url : s.loc.notification_url, sizeof(url));
    if (vn_apple_service(a, &svc, &why) != 0) {
        vn_cli_error("cannot read Apple's Service Config: %s", why.message);
        goto out;
    }
    if (check_public_url(url, svc.limits.max_notification_length) ||
        new_token(c, ntok, sizeof(ntok)))
        goto out;
    vn_digest(ntok, strlen(ntok), digest);
    if (vn_store_location_rotate(st, c->uid, digest, now, now + c->grace_ms) != 0) {
        vn_cli_error("cannot rotate the token of '%s': %s", c->uid, vn_store_last_error(st));
        goto out;
    }
    vn_format_duration(c->grace_ms, grace, sizeof(grace));
    body = config_body(&s, &svc, url, ntok);
    if (vn_session_call(&s, "POST", "clientConfig", "client/config", NULL, body, &answer, &why) !=
        0) {
        if (why.code == VN_EAPPLE) {
            /* Apple answered: it kept the old configuration, so the old token stays. */
            if (vn_store_location_unrotate(st, c->uid, digest) != 0)
                vn_cli_error("also cannot undo the rotation: %s; both tokens stay valid for %s",
                             vn_store_last_error(st), grace);
            explain_config_failure(c->uid, url, &why);
            vn_cli_error("the previous notification token of '%s' stays the current one", c->uid);
        } else {
            vn_cli_error("Apple may or may not have the new token of '%s' (%s): both tokens are "
                         "accepted, the previous one for %s; run rotate-token again before then",
                         c->uid, why.message, grace);
        }
        goto out;
    }
    record_subscription(st, c->uid, url, answer, body);
    fprintf(stderr,
            "location '%s': Apple has its new notification token (for %s); the previous one "
            "stays valid for %s\n",
            c->uid, url, grace);
    rc = VN_EXIT_OK;
out:
    vn_wipe(ntok, sizeof(ntok));
    if (body) {
        json_t *t = json_object_get(body, "notificationAuthToken");
        if (json_is_string(t))
            vn_wipe((char *)json_string_value(t), json_string_length(t));
    }
    json_decref(body);
    json_decref(answer);
    vn_session_release(&s);
    vn_apple_free(a);
    return rc;
}

/* ---- location set-stoken -------------------------------------------------------------------- */

static int cmd_set_stoken(struct vn_cli *c, int argc, char **argv)
{
    struct vn_stoken tok = {0};
    struct vn_apple_failure why;
    struct vn_apple *a = NULL;
    struct vn_store *st = NULL;
    struct vn_session s = {0};
    struct vn_error err = {0};
    struct vn_location_apple loc = {0};
    struct vn_location_update u = {.what = VN_LU_STOKEN};
    json_t *cfg = NULL;
    char key_path[KEY_PATH_MAX], when[32];
    uint8_t key[VN_SEAL_KEY_LEN], *sealed = NULL;
    size_t sealed_len = 0;
    const char *cfg_uid;
    int rc = VN_EXIT_FAIL;

    (void)argc;
    (void)argv;
    if (vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    if (!c->stoken_file) {
        vn_cli_error("--stoken-file is required");
        return VN_EXIT_USAGE;
    }
    if (vn_stoken_read_file(c->stoken_file, &tok, &err) != 0) {
        vn_cli_error("%s", err.msg);
        return VN_EXIT_FAIL;
    }
    if (vn_cli_key_file(c, key_path, sizeof(key_path)) != 0 || !(a = vn_cli_apple(c)) ||
        !(st = vn_cli_open_store(c, VN_CLI_DB_WRITE)))
        goto out;
    if (vn_store_location_apple(st, c->uid, &loc) != 0) {
        vn_cli_error("no location '%s' (location add --stoken-file creates one)", c->uid);
        goto out;
    }
    if (vn_session_with_token(&s, a, st, c->uid, tok.text, &err) != 0) {
        vn_cli_error("%s", err.msg);
        goto out;
    }
    if (vn_session_call(&s, "GET", "clientConfig", "client/config", NULL, NULL, &cfg, &why)) {
        vn_cli_error("Apple refused the sToken in '%s': %s", c->stoken_file, why.message);
        goto out;
    }
    cfg_uid = json_string_value(json_object_get(cfg, "uId"));
    if (!cfg_uid || strcmp(cfg_uid, c->uid) != 0) {
        vn_cli_error("the sToken in '%s' belongs to location '%s', not to '%s'", c->stoken_file,
                     cfg_uid ? cfg_uid : "?", c->uid);
        goto out;
    }
    if (vn_seal_key_load(key_path, 1, key, &err) != 0) {
        vn_cli_error("%s", err.msg);
        goto out;
    }
    if (vn_seal(key, tok.text, strlen(tok.text), &sealed, &sealed_len) != 0) {
        vn_wipe(key, sizeof(key));
        vn_cli_error("out of memory");
        goto out;
    }
    vn_wipe(key, sizeof(key));
    u.stoken = sealed;
    u.stoken_len = sealed_len;
    u.token_expires_ms = tok.expires_ms;
    if (json_is_string(json_object_get(cfg, "tokenExpirationDate")))
        vn_time_parse(json_string_value(json_object_get(cfg, "tokenExpirationDate")),
                      &u.token_expires_ms);
    u.org_name = tok.org_name;
    if (vn_session_foreign_mdm(&s, cfg)) {
        u.what |= VN_LU_TAKEOVER;
        u.takeover = vn_json_dump(json_object_get(cfg, "mdmInfo"));
        vn_cli_error("warning: Apple names another MDM for location '%s' (mdmInfo %s)", c->uid,
                     u.takeover ? u.takeover : "?");
    }
    if (vn_store_location_update(st, c->uid, &u) != 0) {
        vn_cli_error("cannot store the sToken of '%s': %s", c->uid, vn_store_last_error(st));
        free((char *)u.takeover);
        goto out;
    }
    free((char *)u.takeover);
    vn_time_iso(u.token_expires_ms, when);
    printf("location %s: new sToken installed (expires %s); calls to Apple resume\n", c->uid, when);
    rc = VN_EXIT_OK;
out:
    if (sealed) {
        vn_wipe(sealed, sealed_len);
        free(sealed);
    }
    json_decref(cfg);
    vn_location_apple_release(&loc);
    vn_session_release(&s);
    vn_stoken_release(&tok);
    vn_store_free(st);
    vn_apple_free(a);
    return rc;
}

/* ---- events track -----------------------------------------------------------------------------
 */

static int cmd_track(struct vn_cli *c, int argc, char **argv)
{
    struct vn_apple *a = NULL;
    struct vn_store *st = NULL;
    struct vn_session_env env;
    struct vn_session s = {0};
    struct vn_event_track t = {0};
    struct vn_event_status res;
    struct vn_error err = {0};
    char key_path[KEY_PATH_MAX];
    const char *event_id = argv[0];
    int rc = VN_EXIT_FAIL;

    (void)argc;
    if (!*event_id || strlen(event_id) > VN_ID_MAX) {
        vn_cli_error("events track: the eventId must be 1..%d characters", VN_ID_MAX);
        return VN_EXIT_USAGE;
    }
    if (!(a = vn_cli_apple(c)) || !(st = vn_cli_open_store(c, VN_CLI_DB_WRITE)))
        goto out;
    rc = vn_cli_session(c, st, a, &env, key_path, sizeof(key_path), &s);
    if (rc)
        goto out;
    rc = VN_EXIT_FAIL;
    t.event_id = event_id;
    t.uid = c->uid;
    t.requested_ms = vn_now_ms();
    if (vn_store_event_track(st, &t) == VN_EDUP)
        fprintf(stderr, "event %s is tracked already\n", event_id);
    if (vn_tracker_poll(&s, event_id, &res, &err) != 0) {
        vn_cli_error("event '%s': %s", event_id, err.msg);
        goto out;
    }
    printf("%s %s", event_id, res.status);
    if (res.num_requested >= 0)
        printf(" numRequested=%lld numCompleted=%lld", res.num_requested, res.num_completed);
    printf("\n");
    fprintf(stderr, "vppnotify serve follows it from now on (vppnotify events --event-id %s)\n",
            event_id);
    rc = VN_EXIT_OK;
out:
    vn_session_release(&s);
    vn_store_free(st);
    vn_apple_free(a);
    return rc;
}

#define APPLE_OPTS                                                                                 \
    "apple-url", "apple-timeout", "apple-attempts", "apple-backoff", "apple-retry-max",            \
        "apple-config-refresh", "key-file"

static const char *const o_set_stoken[] = {
    "help", "config", "db", "log-level", "log-format", "uid", "stoken-file", APPLE_OPTS, NULL};
static const char *const o_track[] = {"help",       "config", "db",       "log-level",
                                      "log-format", "uid",    APPLE_OPTS, NULL};

const struct vn_command vn_cmd_apple[] = {
    {"location set-stoken", "vppnotify location set-stoken --uid UID --stoken-file FILE",
     "install a new sToken for a location (after it expired, was revoked or renewed); Apple "
     "checks it first",
     o_set_stoken, cmd_set_stoken, 0},
    {"events track", "vppnotify events track EVENTID --uid UID",
     "track an event another program started: serve polls Event Status and re-syncs as for its "
     "own",
     o_track, cmd_track, 1},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
