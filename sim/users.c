/*
 * users.c - Get Users and users create / update / retire: validation (9720, 9714, 9715,
 * 9717) and the business rules of the event (9716 for an existing active user, 9609 for an
 * unknown one). Users are history-preserving: retiring keeps the row (status Retired), and
 * creating the same clientUserId again adds a new row, so there is at most one active row per
 * clientUserId and any number of retired ones.
 */
#include "sim.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/util.h"

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

void api_users_get(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *cuid = sim_arg(r, "clientUserId");
    int active = 0, retired = 0;
    long long since;
    struct sim_page pg;
    int64_t count;
    json_t *rows, *out;
    char ver[37];

    if (sim_arg_bool(r, "activeOnly", &active) < 0 || sim_arg_bool(r, "retiredOnly", &retired) < 0)
        return;
    if (sim_since(r, COLL_USERS, &since) < 0)
        return;
    if (sim_arg(r, "pageIndex") && strcmp(sim_arg(r, "pageIndex"), "0") &&
        sim_faults_version_change(s))
        sim_state_perturb(s, r->uid, COLL_USERS);
    count = sim_query_int(s, 0, "SELECT COUNT(*)" USER_WHERE, "ttiio", r->uid, cuid,
                          (int64_t)active, (int64_t)retired, since >= 0 ? &since : NULL);
    if (sim_page_setup(r, count, &pg) < 0)
        return;
    rows = sim_query_json(s, "SELECT " USER_COLUMNS USER_WHERE " ORDER BY id LIMIT ?6 OFFSET ?7",
                          "ttiioii", r->uid, cuid, (int64_t)active, (int64_t)retired,
                          since >= 0 ? &since : NULL, pg.limit, pg.offset);
    if (!rows) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    sim_version_current(s, r->uid, COLL_USERS, ver);
    out = json_object();
    sim_page_fields(out, &pg, json_array_size(rows));
    json_object_set_new(out, "users", rows);
    json_object_set_new(out, "versionId", json_string(ver));
    sim_ok(r, out);
}

json_t *sim_user_json(struct sim *s, const char *uid, const char *client_user_id)
{
    json_t *rows = sim_query_json(s,
                                  "SELECT " USER_COLUMNS " FROM users WHERE uid = ? AND"
                                  " client_user_id = ? ORDER BY status <> 'Retired' DESC, id DESC"
                                  " LIMIT 1",
                                  "tt", uid, client_user_id);
    json_t *u = json_incref(json_array_get(rows, 0));

    json_decref(rows);
    return u;
}

/* A plausible email address: one '@', something before it, a dot in the domain, no spaces. */
static int email_ok(const char *e)
{
    const char *at = strchr(e, '@');

    if (!at || at == e || strchr(at + 1, '@') || strpbrk(e, " \t\r\n<>,;\"") || strlen(e) > 254)
        return 0;
    return strchr(at + 1, '.') && at[1] != '.' && e[strlen(e) - 1] != '.';
}

void api_users_manage(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *op = strrchr(r->path, '/') + 1;
    const char *type = !strcmp(op, "create")   ? "CREATE"
                       : !strcmp(op, "update") ? "UPDATE"
                                               : "RETIRE";
    json_t *users = json_object_get(r->json, "users"), *norm, *seen, *u, *req;
    size_t i;
    char id[37];

    if (!users || json_is_null(users) || (json_is_array(users) && !json_array_size(users))) {
        sim_error(r, VN_APPLE_USERS_REQUIRED);
        return;
    }
    if (!json_is_array(users)) {
        sim_error(r, VN_APPLE_INVALID_ARGUMENT);
        return;
    }
    if ((long long)json_array_size(users) > sim_limit(s, LIM_MAX_USERS)) {
        sim_error(r, VN_APPLE_TOO_MANY_USERS);
        return;
    }
    norm = json_array();
    seen = json_object();
    json_array_foreach(users, i, u)
    {
        const char *cuid = json_string_value(json_object_get(u, "clientUserId"));
        json_t *email = json_object_get(u, "email"), *maid = json_object_get(u, "managedAppleId");
        json_t *n;
        if (!json_is_object(u) || !cuid || !*cuid || strlen(cuid) > 256 ||
            (email && !json_is_null(email) && !json_is_string(email)) ||
            (maid && !json_is_null(maid) && !json_is_string(maid))) {
            json_decref(norm);
            json_decref(seen);
            sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                           "Invalid argument: each user needs a clientUserId string.");
            return;
        }
        if (json_object_get(seen, cuid)) {
            json_decref(norm);
            json_decref(seen);
            sim_error_info(r, VN_APPLE_DUPLICATE_USERS, json_pack("{s:[s]}", "clientUserIds", cuid),
                           NULL);
            return;
        }
        json_object_set_new(seen, cuid, json_true());
        if (json_is_string(email) && strcmp(type, "RETIRE") &&
            !email_ok(json_string_value(email))) {
            json_decref(norm);
            json_decref(seen);
            sim_error_info(r, VN_APPLE_INVALID_EMAIL, json_pack("{s:[s]}", "clientUserIds", cuid),
                           NULL);
            return;
        }
        n = json_pack("{s:s}", "clientUserId", cuid);
        if (json_is_string(email) && strcmp(type, "RETIRE"))
            json_object_set(n, "email", email);
        if (json_is_string(maid) && strcmp(type, "RETIRE"))
            json_object_set(n, "managedAppleId", maid);
        json_array_append_new(norm, n);
    }
    json_decref(seen);
    req = json_pack("{s:o}", "users", norm);
    if (sim_event_create(s, r->uid, "users", type, (int64_t)json_array_size(norm), req, id)) {
        json_decref(req);
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    json_decref(req);
    sim_ok(r, json_pack("{s:s}", "eventId", id));
}

/* ---------------------------------------------------------------------------------------- */

static void id_hash(struct sim *s, char out[64])
{
    unsigned char b[20];

    sim_rng_bytes(s, b, sizeof(b));
    sodium_bin2base64(out, 64, b, sizeof(b), sodium_base64_VARIANT_ORIGINAL);
}

static json_t *request_item(const json_t *u)
{
    json_t *o = json_pack("{s:O}", "clientUserId", json_object_get(u, "clientUserId"));

    if (json_object_get(u, "email"))
        json_object_set(o, "email", json_object_get(u, "email"));
    return o;
}

void sim_users_process(struct sim *s, const char *uid, const char *type, json_t *req,
                       struct sim_outcome *o)
{
    json_t *users = json_object_get(req, "users"), *u;
    struct sim_write w;
    size_t i;

    sim_write_begin(s, &w, uid);
    json_array_foreach(users, i, u)
    {
        const char *cuid = json_string_value(json_object_get(u, "clientUserId"));
        const char *email = json_string_value(json_object_get(u, "email"));
        const char *maid = json_string_value(json_object_get(u, "managedAppleId"));
        int64_t active;
        char hash[64];

        if (!sim_outcome_turn(o))
            continue;
        active = sim_query_int(s, 0,
                               "SELECT id FROM users WHERE uid = ? AND"
                               " client_user_id = ? AND status <> 'Retired'",
                               "tt", uid, cuid);
        if (!strcmp(type, "CREATE")) {
            if (active) {
                json_t *cur = sim_user_json(s, uid, cuid);
                sim_outcome_fail(o, VN_APPLE_USER_EXISTS, cur ? cur : request_item(u), NULL, NULL,
                                 cuid, NULL);
                continue;
            }
            if (maid) {
                id_hash(s, hash);
                sim_exec(s,
                         "INSERT INTO users(uid, client_user_id, email, managed_apple_id,"
                         " id_hash, status, seq) VALUES(?, ?, ?, ?, ?, 'Associated', ?)",
                         "ttttti", uid, cuid, email, maid, hash, w.seq);
            } else {
                char code[33];
                sim_hex_token(s, 16, code);
                sim_exec(s,
                         "INSERT INTO users(uid, client_user_id, email, invite_code, status, seq)"
                         " VALUES(?, ?, ?, ?, 'Registered', ?)",
                         "tttti", uid, cuid, email, code, w.seq);
            }
        } else if (!active) {
            sim_outcome_fail(o, VN_APPLE_USER_NOT_FOUND, request_item(u), NULL, NULL, cuid, NULL);
            continue;
        } else if (!strcmp(type, "UPDATE")) {
            if (email)
                sim_exec(s, "UPDATE users SET email = ?, seq = ? WHERE id = ?", "tii", email, w.seq,
                         active);
            if (maid) {
                id_hash(s, hash);
                sim_exec(s,
                         "UPDATE users SET managed_apple_id = ?, status = 'Associated',"
                         " id_hash = COALESCE(id_hash, ?), seq = ? WHERE id = ?",
                         "ttii", maid, hash, w.seq, active);
            }
            sim_exec(s, "UPDATE users SET seq = ? WHERE id = ?", "ii", w.seq, active);
        } else {
            sim_exec(s, "UPDATE users SET status = 'Retired', seq = ? WHERE id = ?", "ii", w.seq,
                     active);
        }
        sim_write_touch(&w, COLL_USERS);
        sim_outcome_ok(o, sim_user_json(s, uid, cuid));
    }
    sim_write_end(s, &w);
}
