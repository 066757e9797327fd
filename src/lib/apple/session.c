/* session.c - see include/vppnotify/session.h. */
#include "vppnotify/session.h"
#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MDM_ID_KEY "mdm_info_id"

struct ensure {
    const char *fresh;
    char *id; /* owned */
};

static int ensure_id(struct vn_store *st, void *ud)
{
    struct ensure *e = ud;

    free(e->id);
    e->id = NULL;
    return vn_store_config_ensure(st, MDM_ID_KEY, e->fresh, &e->id);
}

int vn_mdm_info_load(struct vn_store *st, struct vn_writer *w, struct vn_mdm_info *out,
                     struct vn_error *err)
{
    char fresh[VN_UUID_LEN + 1], *id = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    /* Read first: creating it is a write, needed once in the life of the database. */
    rc = vn_store_config_ensure(st, MDM_ID_KEY, NULL, &id);
    if (rc == VN_ENOTFOUND) {
        struct ensure e = {.fresh = fresh};
        struct vn_error werr = {0};
        vn_uuid(fresh);
        rc = vn_writer_call(w, ensure_id, &e, &werr);
        id = e.id;
        if (rc)
            return vn_error_set(err, rc, "cannot create this instance's mdmInfo id: %s", werr.msg);
    }
    if (rc)
        return vn_error_set(err, rc, "cannot read this instance's mdmInfo id: %s",
                            vn_store_last_error(st));
    vn_strlcpy(out->id, id, sizeof(out->id));
    free(id);
    vn_strlcpy(out->name, "vppnotify", sizeof(out->name));
    snprintf(out->metadata, sizeof(out->metadata), "vppnotify %s", VN_VERSION);
    return 0;
}

json_t *vn_mdm_info_json(const struct vn_mdm_info *m)
{
    return json_pack("{s:s, s:s, s:s}", "id", m->id, "name", m->name, "metadata", m->metadata);
}

static int load_key(struct vn_session_env *env, struct vn_error *err)
{
    if (env->have_key)
        return 0;
    if (!env->key_file)
        return vn_error_set(err, VN_EUSAGE, "no key file for the stored sTokens");
    if (vn_seal_key_load(env->key_file, 0, env->key, err) != 0)
        return err ? err->code : VN_ENOTFOUND;
    env->have_key = 1;
    return 0;
}

int vn_session_open(struct vn_session *s, struct vn_session_env *env, struct vn_store *st,
                    const char *uid, struct vn_error *err)
{
    int rc;

    memset(s, 0, sizeof(*s));
    s->apple = env->apple;
    s->st = st;
    s->w = env->writer;
    s->leases = env->leases;
    if (!s->w && !(s->w = s->own_w = vn_writer_inline(st)))
        return vn_error_set(err, -ENOMEM, "out of memory");
    vn_strlcpy(s->uid, uid, sizeof(s->uid));
    rc = vn_store_location_apple(st, uid, &s->loc);
    if (rc == VN_ENOTFOUND) {
        vn_error_set(err, rc, "no location '%s'", uid);
        goto fail;
    }
    if (rc) {
        vn_error_set(err, rc, "cannot read location '%s': %s", uid, vn_store_last_error(st));
        goto fail;
    }
    if (!s->loc.stoken) {
        rc = vn_error_set(err, VN_ENOTFOUND,
                          "location '%s' has no sToken (location add --stoken-file, or "
                          "location set-stoken)",
                          uid);
        goto fail;
    }
    if (!strcmp(s->loc.token_status, "expired") || !strcmp(s->loc.token_status, "revoked")) {
        rc = vn_error_set(err, VN_EAUTH,
                          "the sToken of location '%s' is %s (%s); no call is made until a new "
                          "one is installed: vppnotify location set-stoken --uid %s "
                          "--stoken-file FILE",
                          uid, s->loc.token_status,
                          s->loc.token_error[0] ? s->loc.token_error : "Apple refused it", uid);
        goto fail;
    }
    rc = load_key(env, err);
    if (!rc)
        rc = vn_unseal(env->key, s->loc.stoken, s->loc.stoken_len, &s->stoken, err);
    if (!rc)
        rc = vn_mdm_info_load(st, s->w, &s->mdm, err);
    if (rc)
        goto fail;
    s->record = 1;
    return 0;
fail:
    vn_session_release(s);
    return rc;
}

int vn_session_with_token(struct vn_session *s, struct vn_apple *a, struct vn_store *st,
                          struct vn_writer *w, const char *uid, const char *stoken,
                          struct vn_error *err)
{
    int rc;

    memset(s, 0, sizeof(*s));
    s->apple = a;
    s->st = st;
    if (uid)
        vn_strlcpy(s->uid, uid, sizeof(s->uid));
    s->stoken = strdup(stoken);
    s->w = w;
    if (!s->w)
        s->w = s->own_w = vn_writer_inline(st);
    if (!s->stoken || !s->w) {
        vn_session_release(s);
        return vn_error_set(err, -ENOMEM, "out of memory");
    }
    rc = vn_mdm_info_load(st, s->w, &s->mdm, err);
    if (rc)
        vn_session_release(s);
    return rc;
}

void vn_session_set_uid(struct vn_session *s, const char *uid, int record)
{
    vn_strlcpy(s->uid, uid, sizeof(s->uid));
    s->record = record;
}

void vn_session_release(struct vn_session *s)
{
    if (s->stoken) {
        vn_wipe(s->stoken, strlen(s->stoken));
        free(s->stoken);
    }
    vn_location_apple_release(&s->loc);
    vn_writer_free(s->own_w);
    memset(s, 0, sizeof(*s));
}

struct loc_record {
    const char *uid;
    const struct vn_location_update *u;
};

static int loc_record_run(struct vn_store *st, void *ud)
{
    struct loc_record *r = ud;

    return vn_store_location_update(st, r->uid, r->u);
}

int vn_location_record(struct vn_writer *w, const char *uid, const struct vn_location_update *u,
                       struct vn_error *err)
{
    struct loc_record r = {uid, u};

    return vn_writer_call(w, loc_record_run, &r, err);
}

int vn_session_foreign_mdm(const struct vn_session *s, const json_t *answer)
{
    const char *id = json_string_value(json_object_get(json_object_get(answer, "mdmInfo"), "id"));

    return id && strcmp(id, s->mdm.id) != 0;
}

/* What an answer says about the location, written to the store (best effort: a failure to
 * record is logged, the call's result stands). */
static void record_answer(struct vn_session *s, const json_t *out)
{
    struct vn_location_update u = {0};
    const char *exp = json_string_value(json_object_get(out, "tokenExpirationDate"));
    json_t *mdm = json_object_get(out, "mdmInfo");
    struct vn_error err = {0};
    int64_t ms;
    char *foreign = NULL;

    if (exp && vn_time_parse(exp, &ms) == 0 && (ms / 1000 != s->loc.token_expires_ms / 1000)) {
        u.what |= VN_LU_EXPIRES;
        u.token_expires_ms = ms;
        s->loc.token_expires_ms = ms;
    }
    if (vn_session_foreign_mdm(s, out)) {
        foreign = vn_json_dump(mdm);
        if (foreign && strcmp(foreign, s->loc.takeover) != 0) {
            u.what |= VN_LU_TAKEOVER;
            u.takeover = foreign;
            vn_strlcpy(s->loc.takeover, foreign, sizeof(s->loc.takeover));
            vn_log_fields(VN_LOG_WARN,
                          "takeover: another MDM manages this location (Apple echoed its "
                          "mdmInfo); only one MDM should manage a location",
                          (struct vn_log_field[]){VN_LF_S("uId", s->uid),
                                                  VN_LF_S("mdmInfo", foreign),
                                                  VN_LF_S("ours", s->mdm.id)},
                          3);
        }
    } else if (json_is_object(mdm) && s->loc.takeover[0]) {
        u.what |= VN_LU_TAKEOVER; /* ours again: the takeover is over */
        u.takeover = NULL;
        s->loc.takeover[0] = '\0';
        vn_log_info("location %s: Apple echoes this instance's mdmInfo again", s->uid);
    }
    if (u.what && vn_location_record(s->w, s->uid, &u, &err) != 0)
        vn_log_warn("location %s: cannot record the answer's token date or mdmInfo: %s", s->uid,
                    err.msg);
    free(foreign);
}

static void record_token_refused(struct vn_session *s, const struct vn_apple_failure *why)
{
    struct vn_location_update u = {.what = VN_LU_STATUS};
    struct vn_error err = {0};

    u.token_status = why->number == VN_APPLE_TOKEN_EXPIRED ? "expired" : "revoked";
    u.token_error = why->message;
    vn_strlcpy(s->loc.token_status, u.token_status, sizeof(s->loc.token_status));
    vn_log_fields(VN_LOG_ERROR,
                  "the location's sToken was refused; no more calls for it until a new one is "
                  "installed (location set-stoken)",
                  (struct vn_log_field[]){VN_LF_S("uId", s->uid), VN_LF_S("status", u.token_status),
                                          VN_LF_I("errorNumber", why->number)},
                  3);
    if (vn_location_record(s->w, s->uid, &u, &err) != 0)
        vn_log_warn("location %s: cannot record the token status: %s", s->uid, err.msg);
}

/* 1 when the session's lease (if it has leases) is not held: why says so. */
static int lease_lapsed(struct vn_session *s, struct vn_apple_failure *why)
{
    if (!s->leases || !s->uid[0] || vn_leases_held(s->leases, s->uid))
        return 0;
    memset(why, 0, sizeof(*why));
    why->code = VN_ESHUTDOWN;
    snprintf(why->message, sizeof(why->message),
             "location %s: this instance no longer holds its lease: another instance does "
             "its Apple work",
             s->uid);
    return 1;
}

/* The wait for the location's lock or fence ran out (session.h): VN_ERETRY, why says which
 * location, what held it, how long this call waited, and what to do. */
static int lock_busy(struct vn_session *s, const char *what, const char *holds, int64_t wait_ms,
                     struct vn_apple_failure *why)
{
    char waited[32];

    vn_format_duration(wait_ms, waited, sizeof(waited));
    memset(why, 0, sizeof(*why));
    why->code = VN_ERETRY;
    snprintf(why->message, sizeof(why->message),
             "%s: location %s: another process or instance is calling Apple for it (%s); "
             "waited %s for it (--apple-lock-wait): no request made; try again later, or "
             "allow a longer wait with --apple-lock-wait",
             what, s->uid, holds, waited);
    return VN_ERETRY;
}

/* The wait ended because the process stops (apple.h vn_apple_drain): VN_ESHUTDOWN. */
static int lock_stopped(struct vn_session *s, const char *what, struct vn_apple_failure *why)
{
    memset(why, 0, sizeof(*why));
    why->code = VN_ESHUTDOWN;
    snprintf(why->message, sizeof(why->message),
             "%s: location %s: stopped while waiting for its lock (no request made)", what, s->uid);
    return VN_ESHUTDOWN;
}

/* A wait for the lock is made of slices this long, so that a process that stops gives it up
 * soon (no request was made: nothing is lost). On PostgreSQL each slice waits in line again. */
#define LOCK_SLICE_MS 500

/* Take the location's mutex (session.h): 0, or the failure (why says it). The first try does
 * not wait; a call that must wait says so once (info), so that a command that seems to hang
 * tells why. */
static int lock_location(struct vn_session *s, const char *name, const char *what,
                         struct vn_apple_failure *why)
{
    int64_t wait_ms = vn_apple_lock_wait_ms(s->apple);
    int64_t deadline_ns = vn_mono_ns() + wait_ms * 1000000;
    int held = 0, rc;

    rc = vn_store_mutex_lock(s->st, name, 0, &held);
    if (rc == 0 && !held && wait_ms > 0) {
        char wait[32];
        vn_format_duration(wait_ms, wait, sizeof(wait));
        vn_log_info("%s: location %s: another process or instance is calling Apple for it; "
                    "waiting up to %s for its lock (--apple-lock-wait)",
                    what, s->uid, wait);
    }
    while (rc == 0 && !held) {
        int64_t left_ms = (deadline_ns - vn_mono_ns()) / 1000000;
        if (left_ms <= 0)
            return lock_busy(s, what, "it holds the location's lock in the database", wait_ms, why);
        if (vn_apple_draining(s->apple))
            return lock_stopped(s, what, why);
        rc = vn_store_mutex_lock(s->st, name, left_ms < LOCK_SLICE_MS ? left_ms : LOCK_SLICE_MS,
                                 &held);
    }
    if (rc == 0)
        return 0;
    memset(why, 0, sizeof(*why));
    why->code = rc;
    snprintf(why->message, sizeof(why->message),
             "%s: location %s: cannot take its lock in the database (no request made): %s", what,
             s->uid, vn_store_last_error(s->st));
    return rc;
}

static void unlock_location(struct vn_session *s, const char *name, const char *what)
{
    int lost = 0, rc = vn_store_mutex_unlock(s->st, name, &lost);

    if (rc && !lost)
        vn_log_warn("location %s: cannot give its lock up: %s (it ends with the connection)",
                    s->uid, vn_store_last_error(s->st));
    else if (lost)
        vn_log_fields(VN_LOG_WARN,
                      "the location's lock in the database ended during a request to Apple (the "
                      "connection to the database broke): another process may have called "
                      "Apple for it meanwhile",
                      (struct vn_log_field[]){VN_LF_S("uId", s->uid), VN_LF_S("request", what)}, 2);
}

/*
 * The fence of a location's requests (session.h): the store's fence of the mutex
 * "location:<uId>" (store.h vn_store_mutex_fence), taken by one call under a token of its own
 * before each attempt, for as long as that attempt can last, and given up after the call. The
 * mutex orders the callers; the fence is what keeps a request that outlives its caller's
 * mutex (the database connection broke, or the process died, while Apple was still answering)
 * alone: the next caller waits for the fence's release or expiry.
 */
#define FENCE_MARGIN_MS 2000 /* beyond the attempt's timeout: its answer's handling, clocks */
#define FENCE_POLL_MS   20

struct fence {
    struct vn_session *s;
    const char *what; /* the request, for messages (borrowed) */
    char name[VN_ID_MAX + 24];
    char token[48];
    int taken;
};

static int fence_attempt(void *ud, int attempt, int64_t attempt_ms, struct vn_apple_failure *why)
{
    struct fence *f = ud;
    struct vn_session *s = f->s;
    int64_t wait_ms = vn_apple_lock_wait_ms(s->apple);
    int64_t deadline_ns = vn_mono_ns() + wait_ms * 1000000;
    int held = 0, rc;

    (void)attempt;
    for (;;) {
        rc = vn_store_mutex_fence(s->st, f->name, f->token, attempt_ms + FENCE_MARGIN_MS, &held);
        if (rc == 0 && held) {
            f->taken = 1;
            return 0;
        }
        memset(why, 0, sizeof(*why));
        if (rc) {
            why->code = rc;
            snprintf(why->message, sizeof(why->message),
                     "location %s: cannot record its request in the database (no request made): "
                     "%s",
                     s->uid, vn_store_last_error(s->st));
            return rc;
        }
        if (vn_apple_draining(s->apple))
            return lock_stopped(s, f->what, why);
        if (vn_mono_ns() >= deadline_ns)
            return lock_busy(s, f->what,
                             "its request is still in flight: the location's request fence in "
                             "the database",
                             wait_ms, why);
        {
            struct timespec pause = {0, FENCE_POLL_MS * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
}

static void fence_init(struct fence *f, struct vn_session *s, const char *what)
{
    uint8_t r[8];
    char hex[2 * sizeof(r) + 1];

    memset(f, 0, sizeof(*f));
    f->s = s;
    f->what = what;
    snprintf(f->name, sizeof(f->name), "location:%s", s->uid);
    vn_random_bytes(r, sizeof(r));
    vn_hex(r, sizeof(r), hex);
    snprintf(f->token, sizeof(f->token), "%ld.%s", (long)getpid(), hex);
}

static void fence_release(struct fence *f)
{
    int held = 0;

    if (f->taken && vn_store_mutex_fence(f->s->st, f->name, f->token, 0, &held) != 0)
        vn_log_warn("location %s: cannot give its request fence up: %s (it ends at its expiry)",
                    f->s->uid, vn_store_last_error(f->s->st));
    f->taken = 0;
}

int vn_session_call(struct vn_session *s, const char *method, const char *endpoint,
                    const char *path, const char *query, const json_t *body, json_t **out,
                    struct vn_apple_failure *why)
{
    struct vn_apple_failure local;
    struct vn_apple_request req = {
        .uid = s->uid[0] ? s->uid : "(new location)",
        .stoken = s->stoken,
        .method = method,
        .endpoint = endpoint,
        .path = path,
        .query = query,
        .body = body,
    };
    char name[VN_ID_MAX + 16], what[160];
    struct fence fence;
    int rc, locked = 0;

    if (!why)
        why = &local;
    *out = NULL;
    if (lease_lapsed(s, why))
        return VN_ESHUTDOWN;
    snprintf(what, sizeof(what), "%s %s", method, path);
    if (s->uid[0]) {
        snprintf(name, sizeof(name), "location:%s", s->uid);
        if ((rc = lock_location(s, name, what, why)) != 0)
            return rc;
        locked = 1;
        /* The wait may have outlasted the lease. */
        if (lease_lapsed(s, why)) {
            unlock_location(s, name, what);
            return VN_ESHUTDOWN;
        }
        fence_init(&fence, s, what);
        req.before_attempt = fence_attempt;
        req.before_attempt_ud = &fence;
    }
    rc = vn_apple_call(s->apple, &req, out, why);
    if (locked) {
        fence_release(&fence);
        unlock_location(s, name, what);
    }
    if (!s->record)
        return rc;
    if (rc == 0)
        record_answer(s, *out);
    else if (rc == VN_EAPPLE &&
             (why->number == VN_APPLE_TOKEN_EXPIRED || why->number == VN_APPLE_TOKEN_REVOKED))
        record_token_refused(s, why);
    return rc;
}
