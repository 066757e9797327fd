/*
 * users.c - see users.h.
 */
#include "users.h"

#include "ctx.h"
#include "db.h"
#include "location.h"
#include "outbox.h"
#include "outcome.h"
#include "rng.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define USER_COLUMNS                                                                               \
    "client_user_id AS clientUserId, email, invite_code AS inviteCode, id_hash AS idHash,"         \
    " status"

#define USER_WHERE                                                                                 \
    " FROM users WHERE uid = ?1 AND (?2 IS NULL OR client_user_id = ?2)"                           \
    " AND (?3 = 0 OR status <> 'Retired') AND (?4 = 0 OR status = 'Retired')"                      \
    " AND (?5 IS NULL OR seq > ?5)"

static void bind_filter(struct sim_stmt *q, const char *uid, const struct sim_user_filter *f)
{
    sim_bind_text(q, 1, uid);
    sim_bind_text(q, 2, f->client_user_id);
    sim_bind_int(q, 3, f->active_only != 0);
    sim_bind_int(q, 4, f->retired_only != 0);
    sim_bind_opt_int(q, 5, f->since_seq);
}

int sim_users_count(struct sim_ctx *c, const char *uid, const struct sim_user_filter *f, int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT COUNT(*)" USER_WHERE)))
        return rc;
    bind_filter(&q, uid, f);
    return sim_stmt_int(&q, n);
}

int sim_users_list(struct sim_ctx *c, const char *uid, const struct sim_user_filter *f,
                   int64_t limit, int64_t offset, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT " USER_COLUMNS USER_WHERE " ORDER BY id LIMIT ?6 OFFSET ?7")))
        return rc;
    bind_filter(&q, uid, f);
    sim_bind_int(&q, 6, limit);
    sim_bind_int(&q, 7, offset);
    return sim_stmt_rows(&q, out);
}

int sim_user_json(struct sim_ctx *c, const char *uid, const char *client_user_id, json_t **out)
{
    struct sim_stmt q;
    json_t *rows = NULL;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT " USER_COLUMNS " FROM users WHERE uid = ?1 AND"
                          " client_user_id = ?2 ORDER BY status <> 'Retired' DESC, id DESC"
                          " LIMIT 1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, client_user_id);
    if ((rc = sim_stmt_rows(&q, &rows)))
        return rc;
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *out ? 0 : VN_ENOTFOUND;
}

int sim_user_associated(struct sim_ctx *c, const char *uid, const char *client_user_id, int *yes)
{
    struct sim_stmt q;
    int64_t n = 0;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM users WHERE uid = ?1 AND client_user_id = ?2 AND"
                          " status = 'Associated'")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, client_user_id);
    rc = sim_stmt_int(&q, &n);
    *yes = n > 0;
    return rc;
}

/* ---- business rules ---------------------------------------------------------------------- */

static void id_hash(struct sim_ctx *c, char out[64])
{
    unsigned char b[20];

    sim_rng_bytes(c->rng, b, sizeof(b));
    sodium_bin2base64(out, 64, b, sizeof(b), sodium_base64_VARIANT_ORIGINAL);
}

/* The element of a failure: the user's current row when it has one (with its status), else
 * the requested {clientUserId, email} [decision: Apple documents no status for a user that
 * does not exist]. */
static int failure_item(struct sim_ctx *c, const char *uid, const json_t *u, json_t **out)
{
    const char *cuid = json_string_value(json_object_get(u, "clientUserId"));
    int rc = sim_user_json(c, uid, cuid, out);

    if (rc != VN_ENOTFOUND)
        return rc;
    *out = json_pack("{s:s}", "clientUserId", cuid);
    if (json_object_get(u, "email"))
        json_object_set(*out, "email", json_object_get(u, "email"));
    return 0;
}

static int fail_user(struct sim_ctx *c, const char *uid, const json_t *u, int number,
                     struct sim_outcome *o)
{
    json_t *it = NULL;
    int rc = failure_item(c, uid, u, &it);

    if (rc == 0)
        sim_outcome_fail(o, number, it, NULL, NULL,
                         json_string_value(json_object_get(u, "clientUserId")), NULL);
    return rc;
}

/* 0 and *id of the active row of cuid (0 if none). */
static int active_row(struct sim_ctx *c, const char *uid, const char *cuid, int64_t *id)
{
    struct sim_stmt q;
    int rc;

    *id = 0;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT id FROM users WHERE uid = ?1 AND client_user_id = ?2 AND"
                          " status <> 'Retired'")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, cuid);
    rc = sim_stmt_int(&q, id);
    return rc == VN_ENOTFOUND ? 0 : rc;
}

/* 0 and *taken: another active user of the location (not cuid) holds managedAppleId maid. */
static int maid_taken(struct sim_ctx *c, const char *uid, const char *cuid, const char *maid,
                      int *taken)
{
    struct sim_stmt q;
    int64_t n = 0;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM users WHERE uid = ?1 AND managed_apple_id = ?2"
                          " AND client_user_id <> ?3 AND status <> 'Retired'")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, maid);
    sim_bind_text(&q, 3, cuid);
    rc = sim_stmt_int(&q, &n);
    *taken = n > 0;
    return rc;
}

static int create_user(struct sim_ctx *c, struct sim_write *w, const char *cuid, const char *email,
                       const char *maid)
{
    struct sim_stmt q;
    char hash[64], code[33];
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO users(uid, client_user_id, email, managed_apple_id,"
                          " invite_code, id_hash, status, seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
                          " ?7, ?8)")))
        return rc;
    if (maid)
        id_hash(c, hash);
    else
        sim_hex_token(c->rng, 16, code);
    sim_bind_text(&q, 1, w->uid);
    sim_bind_text(&q, 2, cuid);
    sim_bind_text(&q, 3, email);
    sim_bind_text(&q, 4, maid);
    sim_bind_text(&q, 5, maid ? NULL : code);
    sim_bind_text(&q, 6, maid ? hash : NULL);
    sim_bind_text(&q, 7, maid ? "Associated" : "Registered");
    sim_bind_int(&q, 8, w->seq);
    return sim_stmt_exec(&q, NULL);
}

static int update_user(struct sim_ctx *c, struct sim_write *w, int64_t id, const char *email,
                       const char *maid)
{
    struct sim_stmt q;
    char hash[64];
    int rc;

    id_hash(c, hash);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE users SET email = COALESCE(?1, email),"
                          " managed_apple_id = COALESCE(?2, managed_apple_id),"
                          " status = CASE WHEN ?2 IS NULL THEN status ELSE 'Associated' END,"
                          " id_hash = CASE WHEN ?2 IS NULL THEN id_hash"
                          "  ELSE COALESCE(id_hash, ?3) END, seq = ?4 WHERE id = ?5")))
        return rc;
    sim_bind_text(&q, 1, email);
    sim_bind_text(&q, 2, maid);
    sim_bind_text(&q, 3, hash);
    sim_bind_int(&q, 4, w->seq);
    sim_bind_int(&q, 5, id);
    return sim_stmt_exec(&q, NULL);
}

static int retire_user(struct sim_ctx *c, struct sim_write *w, int64_t id)
{
    struct sim_stmt q;
    int rc;

    if ((rc =
             SIM_PREPARE(c->db, &q, "UPDATE users SET status = 'Retired', seq = ?1 WHERE id = ?2")))
        return rc;
    sim_bind_int(&q, 1, w->seq);
    sim_bind_int(&q, 2, id);
    return sim_stmt_exec(&q, NULL);
}

/* One task: one user of the request. */
static int user_task(struct sim_ctx *c, struct sim_write *w, const char *type, const json_t *u,
                     struct sim_outcome *o)
{
    const char *cuid = json_string_value(json_object_get(u, "clientUserId"));
    const char *email = json_string_value(json_object_get(u, "email"));
    const char *maid = json_string_value(json_object_get(u, "managedAppleId"));
    int64_t active;
    int taken = 0, number, rc;
    json_t *now = NULL;

    if (sim_outcome_injected(o, &number))
        return fail_user(c, w->uid, u, number, o);
    if ((rc = active_row(c, w->uid, cuid, &active)))
        return rc;
    if (!strcmp(type, "CREATE") && active)
        return fail_user(c, w->uid, u, VN_APPLE_USER_EXISTS, o);
    if (strcmp(type, "CREATE") && !active)
        return fail_user(c, w->uid, u, VN_APPLE_USER_NOT_FOUND, o);
    if (maid && strcmp(type, "RETIRE") && (rc = maid_taken(c, w->uid, cuid, maid, &taken)))
        return rc;
    if (taken)
        return fail_user(c, w->uid, u, VN_APPLE_ACCOUNT_ALREADY_ASSOCIATED, o);
    if (!strcmp(type, "CREATE"))
        rc = create_user(c, w, cuid, email, maid);
    else if (!strcmp(type, "UPDATE"))
        rc = update_user(c, w, active, email, maid);
    else
        rc = retire_user(c, w, active);
    if (rc || (rc = sim_user_json(c, w->uid, cuid, &now)))
        return rc;
    sim_write_touch(w, COLL_USERS);
    sim_outcome_ok(o, now);
    return 0;
}

int sim_users_process(struct sim_ctx *c, const char *uid, const char *type, const json_t *req,
                      struct sim_outcome *o)
{
    json_t *users = json_object_get(req, "users"), *u;
    struct sim_write w;
    size_t i;
    int rc;

    if ((rc = sim_write_begin(c->db, &w, uid)))
        return rc;
    json_array_foreach(users, i, u)
    {
        if (sim_outcome_turn(o) && (rc = user_task(c, &w, type, u, o)))
            return rc;
    }
    return sim_write_end(c->db, c->rng, &w);
}

/* ---- invitation acceptance --------------------------------------------------------------- */

static int accept_one(struct sim_ctx *c, struct sim_write *w, const char *cuid, json_t *accepted,
                      int *done)
{
    struct sim_stmt q;
    int64_t id = 0;
    char hash[64];
    json_t *now = NULL;
    int rc;

    *done = 0;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT id FROM users WHERE uid = ?1 AND client_user_id = ?2 AND"
                          " status = 'Registered'")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_text(&q, 2, cuid);
    if ((rc = sim_stmt_int(&q, &id)))
        return rc == VN_ENOTFOUND ? 0 : rc;
    id_hash(c, hash);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE users SET status = 'Associated', id_hash = ?1, seq = ?2"
                          " WHERE id = ?3")))
        return rc;
    sim_bind_text(&q, 1, hash);
    sim_bind_int(&q, 2, w->seq);
    sim_bind_int(&q, 3, id);
    if ((rc = sim_stmt_exec(&q, NULL)) || (rc = sim_user_json(c, w->uid, cuid, &now)))
        return rc;
    json_array_append_new(accepted, now);
    *done = 1;
    return 0;
}

int sim_users_accept(struct sim_ctx *c, const char *uid, const json_t *ids, json_t **accepted,
                     json_t **skipped)
{
    struct sim_write w;
    size_t i;
    json_t *v;
    int rc;

    *accepted = json_array();
    *skipped = json_array();
    if ((rc = sim_db_begin(c->db)))
        goto fail;
    sim_notify_batch_begin(c);
    if ((rc = sim_write_begin(c->db, &w, uid)))
        goto rollback;
    json_array_foreach(ids, i, v)
    {
        int done;
        if ((rc = accept_one(c, &w, json_string_value(v), *accepted, &done)))
            goto rollback;
        if (!done)
            json_array_append(*skipped, v);
    }
    if (json_array_size(*accepted)) {
        json_t *base = json_object();
        sim_write_touch(&w, COLL_USERS);
        rc = sim_notify_split(c, uid, "USER_ASSOCIATED", NULL, base, "associatedUsers", *accepted);
        json_decref(base);
        if (rc)
            goto rollback;
    }
    if ((rc = sim_write_end(c->db, c->rng, &w)) || (rc = sim_notify_batch_end(c)) ||
        (rc = sim_db_commit(c->db)))
        goto fail;
    return 0;
rollback:
    sim_notify_batch_end(c);
    sim_db_rollback(c->db);
fail:
    sim_db_rollback(c->db);
    json_decref(*accepted);
    json_decref(*skipped);
    *accepted = *skipped = NULL;
    return rc;
}
