/* location.c - see include/vppnotify/workflow_location.h. */
#include "vppnotify/workflow_location.h"
#include "vppnotify/apple.h"
#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/session.h"
#include "vppnotify/stoken.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"
#include "workflow_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks ----------------------------------------------------------------------------- */

int vn_workflow_check_public_url(const char *url, struct vn_error *err)
{
    struct vn_error why = {0};

    if (!url || !*url)
        return vn_error_set(err, VN_EUSAGE,
                            "no public URL: the https:// address where Apple reaches vppnotify "
                            "serve (e.g. https://mdm.example.com/notifications)");
    if (vn_apple_url_check(url, &why) != 0)
        return vn_error_set(err, VN_EUSAGE, "public URL: %s", why.msg);
    if (strpbrk(url, "?#"))
        return vn_error_set(err, VN_EUSAGE,
                            "public URL '%s': Apple wants a host and a path only (no query, no "
                            "fragment)",
                            url);
    if (strlen(url) > VN_URL_MAX)
        return vn_error_set(err, VN_EUSAGE, "public URL is %zu characters; at most %d", strlen(url),
                            VN_URL_MAX);
    return 0;
}

/* Within Apple's maxNotificationLength (known once Service Config was read). */
static int check_url_limit(const char *url, long long max_len, struct vn_error *err)
{
    if ((long long)strlen(url) > max_len)
        return vn_error_set(err, VN_ETOOBIG,
                            "the public URL is %zu characters; Apple's limit is %lld "
                            "(maxNotificationLength)",
                            strlen(url), max_len);
    return 0;
}

/* The notification token for Apple: the one given, or a new one. Never logged. */
static int new_token(const char *given, char tok[VN_TOKEN_MAX + 1], int *generated,
                     struct vn_error *err)
{
    struct vn_error why = {0};

    *generated = 0;
    if (!given) {
        vn_token_generate(tok);
        *generated = 1;
        return 0;
    }
    if (vn_token_check(given, &why) != 0)
        return vn_error_set(err, VN_EUSAGE, "notification token: %s", why.msg);
    vn_strlcpy(tok, given, VN_TOKEN_MAX + 1);
    return 0;
}

/* Seal the sToken text with the key of wf (created when missing). *sealed owned: wipe, free. */
static int seal_stoken(const struct vn_workflow *wf, const char *text, uint8_t **sealed,
                       size_t *len, struct vn_error *err)
{
    uint8_t key[VN_SEAL_KEY_LEN];
    int rc;

    rc = vn_seal_key_load(wf->key_file, 1, key, err);
    if (rc)
        return rc;
    rc = vn_seal(key, text, strlen(text), sealed, len);
    vn_wipe(key, sizeof(key));
    if (rc)
        return vn_error_set(err, rc, "out of memory");
    return 0;
}

/* ---- writer jobs ------------------------------------------------------------------------ */

struct loc_job {
    const char *uid;
    const char *name;
    const uint8_t *digest;
    int64_t now_ms, grace_until_ms;
    const struct vn_location_update *link; /* NULL, or the sToken written with the location */
};

static int add_run(struct vn_store *st, void *ud)
{
    struct loc_job *j = ud;

    if (j->link)
        return vn_store_location_add_linked(st, j->uid, j->name, j->digest, j->now_ms, j->link);
    return vn_store_location_add(st, j->uid, j->name, j->digest, j->now_ms);
}

static int remove_run(struct vn_store *st, void *ud)
{
    struct loc_job *j = ud;

    return vn_store_location_remove(st, j->uid);
}

static int rotate_run(struct vn_store *st, void *ud)
{
    struct loc_job *j = ud;

    return vn_store_location_rotate(st, j->uid, j->digest, j->now_ms, j->grace_until_ms);
}

static int unrotate_run(struct vn_store *st, void *ud)
{
    struct loc_job *j = ud;

    return vn_store_location_unrotate(st, j->uid, j->digest);
}

/* ---- Client Config ---------------------------------------------------------------------- */

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

/* Free a body, wiping jansson's copy of the notification token first. */
static void body_free(json_t *body)
{
    if (body)
        vn__wf_json_wipe(body, "notificationAuthToken");
    json_decref(body);
}

/* Record the subscription Apple confirmed (the types it echoes, else the ones we sent). */
static int record_subscription(struct vn_writer *w, const char *uid, const char *url,
                               const json_t *answer, const json_t *sent, size_t *ntypes,
                               struct vn_error *err)
{
    struct vn_location_update u = {
        .what = VN_LU_SUBSCRIPTION, .notification_url = url, .subscribed_ms = vn_now_ms()};
    json_t *types = json_object_get(answer, "subscribedNotificationTypes");
    char *text;
    int rc;

    if (!json_is_array(types))
        types = json_object_get(sent, "notificationTypes");
    *ntypes = json_array_size(json_object_get(sent, "notificationTypes"));
    text = json_dumps(types, JSON_COMPACT);
    u.notification_types = text;
    rc = vn_location_record(w, uid, &u, err);
    free(text);
    return rc;
}

/* Why a Client Config POST failed, for people; 9728 gets its explanation. note (may be "")
 * says what became of the local state; it comes before Apple's words, which may be long. */
static int config_failure(const char *uid, const char *url, const struct vn_apple_failure *why,
                          const char *note, struct vn_error *err)
{
    if (why->number == VN_APPLE_NOTIFICATION_URL_UNREACHABLE)
        return vn_error_set(err, why->code,
                            "Apple could not deliver its TEST_NOTIFICATION to '%s' (error 9728), "
                            "so it refused the subscription of location '%s'%s. vppnotify serve "
                            "must already answer at that URL, from the Internet, over HTTPS, "
                            "with this database (it accepts the new token at once). Start it, "
                            "check the URL with curl from outside, and try again. (%s)",
                            url, uid, note, why->message);
    return vn_error_set(err, why->code, "Apple refused the subscription of location '%s'%s: %s",
                        uid, note, why->message);
}

/* GET Client Config with the session's sToken: the answer (owned) and its uId. */
static int read_config(struct vn_session *s, json_t **cfg, char uid[VN_ID_MAX + 1],
                       struct vn_error *err)
{
    struct vn_apple_failure why;
    const char *cfg_uid;

    *cfg = NULL;
    if (vn_session_call(s, "GET", "clientConfig", "client/config", NULL, NULL, cfg, &why) != 0)
        return vn_error_set(err, why.code, "Apple refused the sToken: %s", why.message);
    cfg_uid = json_string_value(json_object_get(*cfg, "uId"));
    if (!cfg_uid || !*cfg_uid || strlen(cfg_uid) > VN_ID_MAX)
        return vn_error_set(err, VN_EAPPLE, "Apple's Client Config names no uId for this sToken");
    vn_strlcpy(uid, cfg_uid, VN_ID_MAX + 1);
    return 0;
}

/* The token's expiry as Client Config states it, else the sToken's own. */
static int64_t config_expiry(const json_t *cfg, int64_t fallback)
{
    const char *exp = json_string_value(json_object_get(cfg, "tokenExpirationDate"));
    int64_t ms = fallback;

    if (exp)
        vn_time_parse(exp, &ms);
    return ms;
}

/* ---- add, remove ----------------------------------------------------------------------- */

int vn_workflow_location_add(const struct vn_workflow *wf, const char *uid, const char *name,
                             const char *token, struct vn_location_add_result *r,
                             struct vn_error *err)
{
    uint8_t digest[VN_DIGEST_LEN];
    struct loc_job job;
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = vn__wf_check_uid(uid, err)) != 0 ||
        (rc = new_token(token, r->token, &r->generated, err)) != 0)
        return rc;
    vn_digest(r->token, strlen(r->token), digest);
    job = (struct loc_job){
        .uid = uid, .name = name ? name : uid, .digest = digest, .now_ms = vn_now_ms()};
    rc = vn__wf_own_txn(wf->w, add_run, &job, err);
    /* VN_EDUP keeps the store's words: the location exists, or the token is another's. */
    if (rc && rc != VN_EDUP)
        vn_error_prefix(err, "cannot add location '%s'", uid);
    if (rc || !r->generated) {
        vn_wipe(r->token, sizeof(r->token));
        r->generated = 0;
    }
    return rc;
}

int vn_workflow_location_remove(const struct vn_workflow *wf, const char *uid, struct vn_error *err)
{
    struct loc_job job = {.uid = uid};
    int rc;

    if ((rc = vn__wf_check_uid(uid, err)) != 0)
        return rc;
    rc = vn__wf_own_txn(wf->w, remove_run, &job, err);
    if (rc == VN_ENOTFOUND)
        return vn_error_set(err, rc, "no location '%s'", uid);
    if (rc)
        vn_error_prefix(err, "cannot remove location '%s'", uid);
    return rc;
}

/* ---- subscribe -------------------------------------------------------------------------- */

int vn_workflow_subscribe(const struct vn_workflow *wf, const struct vn_subscribe_input *in,
                          struct vn_subscribe_result *r, struct vn_error *err)
{
    struct vn_apple_service svc;
    struct vn_apple_failure why;
    struct vn_session s = {0};
    struct vn_location_apple existing = {0};
    struct vn_location_update u = {.what = VN_LU_STOKEN};
    struct loc_job job = {0};
    json_t *cfg = NULL, *body = NULL, *answer = NULL;
    char ntok[VN_TOKEN_MAX + 1] = "", when[VN_TIME_ISO_LEN];
    uint8_t digest[VN_DIGEST_LEN], *sealed = NULL;
    size_t sealed_len = 0;
    const char *name;
    struct vn_error local;
    int rc, created = 0, generated;

    if (!err)
        err = &local;
    memset(r, 0, sizeof(*r));
    if (in->uid && (rc = vn__wf_check_uid(in->uid, err)) != 0)
        return rc;
    if ((rc = vn_workflow_check_public_url(in->public_url, err)) != 0)
        return rc;
    if ((rc = vn__wf_check_apple(wf, err)) != 0)
        return rc;
    if (!in->stoken || !in->stoken->text)
        return vn_error_set(err, VN_EUSAGE, "no sToken given");
    if (in->stoken->expires_ms <= vn_now_ms()) {
        vn_time_iso(in->stoken->expires_ms, when);
        return vn_error_set(err, VN_EAUTH,
                            "the sToken expired on %s: download a new one from Apple School "
                            "Manager or Apple Business Manager",
                            when);
    }
    if ((rc = new_token(in->token, ntok, &generated, err)) != 0)
        return rc;
    vn_strlcpy(r->url, in->public_url, sizeof(r->url));
    vn_strlcpy(r->org_name, in->stoken->org_name, sizeof(r->org_name));

    if (vn_apple_service(wf->apple, &svc, &why) != 0) {
        rc = vn_error_set(err, why.code, "cannot read Apple's Service Config: %s", why.message);
        goto out;
    }
    if ((rc = check_url_limit(in->public_url, svc.limits.max_notification_length, err)) != 0)
        goto out;
    rc = vn_session_with_token(&s, wf->apple, wf->st, wf->w, in->uid, in->stoken->text, err);
    if (rc)
        goto out;
    if ((rc = read_config(&s, &cfg, r->uid, err)) != 0)
        goto out;
    if (in->uid && strcmp(in->uid, r->uid) != 0) {
        rc = vn_error_set(err, VN_EPARSE, "the sToken belongs to location '%s', not to '%s'",
                          r->uid, in->uid);
        goto out;
    }
    rc = vn_store_location_apple(wf->st, r->uid, &existing);
    if (rc != VN_ENOTFOUND) {
        if (rc == 0)
            rc = vn_error_set(err, VN_EDUP, "location '%s' already exists", r->uid);
        else
            vn_error_set(err, rc, "cannot read location '%s': %s", r->uid,
                         vn_store_last_error(wf->st));
        goto out;
    }
    if (vn_session_foreign_mdm(&s, cfg)) {
        char *m = vn_json_dump(json_object_get(cfg, "mdmInfo"));
        vn_strlcpy(r->other_mdm, m ? m : "?", sizeof(r->other_mdm));
        free(m);
        if (!in->take_over) {
            rc = vn_error_set(err, VN_ECONFLICT,
                              "Apple says another MDM manages location '%s' (mdmInfo %s); only "
                              "one MDM should manage a location",
                              r->uid, r->other_mdm);
            goto out;
        }
        vn_log_warn("location %s: taking it over from another MDM (mdmInfo %s)", r->uid,
                    r->other_mdm);
    }
    if ((rc = seal_stoken(wf, in->stoken->text, &sealed, &sealed_len, err)) != 0)
        goto out;

    /* The location, its token and its sealed sToken are committed together (a crash leaves
     * all or none) before Client Config is POSTed: the running serve must accept the
     * TEST_NOTIFICATION that Apple delivers during the call. */
    name = in->name ? in->name : json_string_value(json_object_get(cfg, "locationName"));
    vn_strlcpy(r->name, name && *name ? name : r->uid, sizeof(r->name));
    vn_digest(ntok, strlen(ntok), digest);
    r->token_expires_ms = config_expiry(cfg, in->stoken->expires_ms);
    u.stoken = sealed;
    u.stoken_len = sealed_len;
    u.token_expires_ms = r->token_expires_ms;
    u.org_name = in->stoken->org_name;
    job = (struct loc_job){
        .uid = r->uid, .name = r->name, .digest = digest, .now_ms = vn_now_ms(), .link = &u};
    if ((rc = vn__wf_own_txn(wf->w, add_run, &job, err)) != 0) {
        vn_error_prefix(err, "cannot add location '%s' with its sToken", r->uid);
        goto out;
    }
    created = 1;
    vn_session_set_uid(&s, r->uid, 0);
    body = config_body(&s, &svc, in->public_url, ntok);
    if (!body) {
        rc = vn_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (vn_session_call(&s, "POST", "clientConfig", "client/config", NULL, body, &answer, &why)) {
        struct vn_error rerr = {0};
        char note[VN_ID_MAX + 300];
        /* Apple kept no configuration: nothing of the location may stay. */
        created = 0;
        if (vn__wf_own_txn(wf->w, remove_run, &job, &rerr) != 0)
            snprintf(note, sizeof(note), " (and the location cannot be removed again: %s)",
                     rerr.msg);
        else
            vn_strlcpy(note, " (the location was not kept)", sizeof(note));
        rc = config_failure(r->uid, in->public_url, &why, note, err);
        goto out;
    }
    created = 0; /* Apple has it now: from here on the location stays */
    if (record_subscription(wf->w, r->uid, in->public_url, answer, body, &r->ntypes, err) != 0) {
        /* Apple delivers to the location's token whatever happens: keep it, say so. */
        vn_log_warn("location %s: subscribed, but cannot record it: %s", r->uid, err->msg);
        vn_error_clear(err);
    }
    r->foreign_mdm = vn_session_foreign_mdm(&s, answer);
    vn_log_info("location %s subscribed at %s (%zu types)", r->uid, r->url, r->ntypes);
    rc = 0;
out:
    if (created) {
        struct vn_error rerr = {0};
        if (vn__wf_own_txn(wf->w, remove_run, &job, &rerr) != 0)
            vn__wf_error_append(err, "; also cannot remove the half-made location '%s': %s", r->uid,
                                rerr.msg);
        else
            vn__wf_error_append(err, "; the location was not kept (nothing of it is left)");
    }
    vn_wipe(ntok, sizeof(ntok));
    if (sealed) {
        vn_wipe(sealed, sealed_len);
        free(sealed);
    }
    body_free(body);
    json_decref(cfg);
    json_decref(answer);
    vn_location_apple_release(&existing);
    vn_session_release(&s);
    return rc;
}

/* ---- rotate ----------------------------------------------------------------------------- */

/* A location without a subscription: the new token is current, the previous one in grace. */
static int rotate_local(const struct vn_workflow *wf, const struct vn_rotate_input *in,
                        struct vn_rotate_result *r, struct vn_error *err)
{
    uint8_t digest[VN_DIGEST_LEN];
    struct loc_job job;
    int rc, generated;

    rc = new_token(in->token, r->token, &generated, err);
    if (rc)
        return rc;
    vn_digest(r->token, strlen(r->token), digest);
    job = (struct loc_job){.uid = in->uid,
                           .digest = digest,
                           .now_ms = vn_now_ms(),
                           .grace_until_ms = r->grace_until_ms};
    rc = vn__wf_own_txn(wf->w, rotate_run, &job, err);
    if (rc) {
        vn_wipe(r->token, sizeof(r->token));
        if (rc == VN_ENOTFOUND)
            return vn_error_set(err, rc, "no location '%s'", in->uid);
        return vn_error_prefix(err, "cannot rotate the token of '%s'", in->uid);
    }
    r->generated = generated;
    if (!generated)
        vn_wipe(r->token, sizeof(r->token)); /* the caller's own: nothing to show */
    return 0;
}

/* A subscribed location: the new token goes to Apple; undone when Apple refuses it. */
static int rotate_subscribed(const struct vn_workflow *wf, const struct vn_rotate_input *in,
                             struct vn_rotate_result *r, struct vn_error *err)
{
    struct vn_apple_service svc;
    struct vn_apple_failure why;
    struct vn_session_env env;
    struct vn_session s = {0};
    struct loc_job job;
    json_t *body = NULL, *answer = NULL;
    char ntok[VN_TOKEN_MAX + 1] = "", grace[32];
    uint8_t digest[VN_DIGEST_LEN];
    int rc, generated;

    vn__wf_env(wf, &env);
    rc = vn_session_open(&s, &env, wf->st, in->uid, err);
    if (rc)
        goto out;
    if (s.loc.takeover[0] && !in->take_over) {
        rc = vn_error_set(err, VN_ECONFLICT,
                          "Apple last named another MDM for location '%s' (mdmInfo %s); only "
                          "one MDM should manage a location",
                          in->uid, s.loc.takeover);
        goto out;
    }
    vn_strlcpy(r->url, in->public_url ? in->public_url : s.loc.notification_url, sizeof(r->url));
    if ((rc = vn_workflow_check_public_url(r->url, err)) != 0)
        goto out;
    if (vn_apple_service(wf->apple, &svc, &why) != 0) {
        rc = vn_error_set(err, why.code, "cannot read Apple's Service Config: %s", why.message);
        goto out;
    }
    if ((rc = check_url_limit(r->url, svc.limits.max_notification_length, err)) != 0 ||
        (rc = new_token(in->token, ntok, &generated, err)) != 0)
        goto out;
    vn_digest(ntok, strlen(ntok), digest);
    job = (struct loc_job){.uid = in->uid,
                           .digest = digest,
                           .now_ms = vn_now_ms(),
                           .grace_until_ms = r->grace_until_ms};
    if ((rc = vn__wf_own_txn(wf->w, rotate_run, &job, err)) != 0) {
        vn_error_prefix(err, "cannot rotate the token of '%s'", in->uid);
        goto out;
    }
    vn_format_duration(in->grace_ms, grace, sizeof(grace));
    body = config_body(&s, &svc, r->url, ntok);
    if (!body) {
        rc = vn_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (vn_session_call(&s, "POST", "clientConfig", "client/config", NULL, body, &answer, &why)) {
        rc = why.code;
        if (why.code == VN_EAPPLE) {
            /* Apple answered: it kept the previous configuration, so the previous token
             * stays the current one. */
            struct vn_error uerr = {0};
            char note[VN_ERROR_MSG_MAX];
            if (vn__wf_own_txn(wf->w, unrotate_run, &job, &uerr) != 0) {
                snprintf(note, sizeof(note),
                         " (and the rotation cannot be undone: %.200s; both tokens stay valid "
                         "for %s)",
                         uerr.msg, grace);
            } else {
                r->unrotated = 1;
                vn_strlcpy(note, " (its previous notification token stays the current one)",
                           sizeof(note));
            }
            config_failure(in->uid, r->url, &why, note, err);
        } else {
            vn_error_set(err, rc,
                         "Apple may or may not have the new token of '%s' (%s): both tokens "
                         "are accepted, the previous one for %s; rotate again before then",
                         in->uid, why.message, grace);
        }
        goto out;
    }
    if (record_subscription(wf->w, in->uid, r->url, answer, body, &(size_t){0}, err) != 0) {
        vn_log_warn("location %s: Apple has its new token, but the subscription cannot be "
                    "recorded: %s",
                    in->uid, err->msg);
        vn_error_clear(err);
    }
    r->subscribed = 1;
    vn_log_info("location %s: Apple has its new notification token (for %s)", in->uid, r->url);
    rc = 0;
out:
    vn_wipe(ntok, sizeof(ntok));
    body_free(body);
    json_decref(answer);
    vn_session_release(&s);
    vn__wf_env_release(&env);
    return rc;
}

int vn_workflow_rotate(const struct vn_workflow *wf, const struct vn_rotate_input *in,
                       struct vn_rotate_result *r, struct vn_error *err)
{
    struct vn_location_apple loc = {0};
    struct vn_error local;
    int rc, subscribed;

    if (!err)
        err = &local;
    memset(r, 0, sizeof(*r));
    if ((rc = vn__wf_check_uid(in->uid, err)) != 0)
        return rc;
    if (in->grace_ms < 0)
        return vn_error_set(err, VN_EUSAGE, "grace %lld ms: must not be negative",
                            (long long)in->grace_ms);
    r->grace_until_ms = vn_now_ms() + in->grace_ms;
    rc = vn_store_location_apple(wf->st, in->uid, &loc);
    if (rc == VN_ENOTFOUND)
        return vn_error_set(err, rc, "no location '%s'", in->uid);
    if (rc)
        return vn_error_set(err, rc, "cannot read location '%s': %s", in->uid,
                            vn_store_last_error(wf->st));
    /* Subscribed with Apple (or an sToken to subscribe it at public_url): Apple gets it. */
    subscribed = loc.stoken && (loc.notification_url[0] || in->public_url);
    rc = !loc.stoken && in->public_url ? VN_EUSAGE : 0;
    vn_location_apple_release(&loc);
    if (rc)
        return vn_error_set(err, rc,
                            "location '%s' has no sToken to subscribe it with at the public URL "
                            "(install one first: set-stoken)",
                            in->uid);
    if (!subscribed)
        return rotate_local(wf, in, r, err);
    if ((rc = vn__wf_check_apple(wf, err)) != 0)
        return rc;
    return rotate_subscribed(wf, in, r, err);
}

/* ---- set-stoken ------------------------------------------------------------------------- */

int vn_workflow_set_stoken(const struct vn_workflow *wf, const char *uid,
                           const struct vn_stoken *stoken, struct vn_set_stoken_result *r,
                           struct vn_error *err)
{
    struct vn_session s = {0};
    struct vn_location_apple loc = {0};
    struct vn_location_update u = {.what = VN_LU_STOKEN};
    json_t *cfg = NULL;
    char cfg_uid[VN_ID_MAX + 1];
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    char *other = NULL;
    struct vn_error local;
    int rc;

    if (!err)
        err = &local;
    memset(r, 0, sizeof(*r));
    if ((rc = vn__wf_check_uid(uid, err)) != 0 || (rc = vn__wf_check_apple(wf, err)) != 0)
        return rc;
    if (!stoken || !stoken->text)
        return vn_error_set(err, VN_EUSAGE, "no sToken given");
    rc = vn_store_location_apple(wf->st, uid, &loc);
    if (rc) {
        if (rc == VN_ENOTFOUND)
            return vn_error_set(err, rc, "no location '%s'", uid);
        return vn_error_set(err, rc, "cannot read location '%s': %s", uid,
                            vn_store_last_error(wf->st));
    }
    rc = vn_session_with_token(&s, wf->apple, wf->st, wf->w, uid, stoken->text, err);
    if (rc)
        goto out;
    if ((rc = read_config(&s, &cfg, cfg_uid, err)) != 0)
        goto out;
    if (strcmp(cfg_uid, uid) != 0) {
        rc = vn_error_set(err, VN_EPARSE, "the sToken belongs to location '%s', not to '%s'",
                          cfg_uid, uid);
        goto out;
    }
    if ((rc = seal_stoken(wf, stoken->text, &sealed, &sealed_len, err)) != 0)
        goto out;
    u.stoken = sealed;
    u.stoken_len = sealed_len;
    u.token_expires_ms = config_expiry(cfg, stoken->expires_ms);
    u.org_name = stoken->org_name;
    if (vn_session_foreign_mdm(&s, cfg)) {
        other = vn_json_dump(json_object_get(cfg, "mdmInfo"));
        u.what |= VN_LU_TAKEOVER;
        u.takeover = other;
        vn_strlcpy(r->other_mdm, other ? other : "?", sizeof(r->other_mdm));
        vn_log_warn("location %s: Apple names another MDM (mdmInfo %s); only one MDM should "
                    "manage a location",
                    uid, r->other_mdm);
    }
    if ((rc = vn_location_record(wf->w, uid, &u, err)) != 0) {
        vn_error_prefix(err, "cannot store the sToken of '%s'", uid);
        goto out;
    }
    r->token_expires_ms = u.token_expires_ms;
    vn_log_info("location %s: new sToken installed", uid);
out:
    free(other);
    if (sealed) {
        vn_wipe(sealed, sealed_len);
        free(sealed);
    }
    json_decref(cfg);
    vn_location_apple_release(&loc);
    vn_session_release(&s);
    return rc;
}
