/*
 * db.c - see db.h. The schema (numbered migrations, applied at open and recorded in
 * meta.schema_version) is documented in docs/VPPSIM.md ("State and schema").
 */
#include "db.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const migrations[] = {
    /* 1: the whole model. */
    ("CREATE TABLE locations("
     " uid TEXT PRIMARY KEY, org_name TEXT NOT NULL, location_name TEXT NOT NULL,"
     " country TEXT NOT NULL, website_url TEXT NOT NULL, default_platform TEXT NOT NULL,"
     " seq INTEGER NOT NULL DEFAULT 0, subscription_mgmt INTEGER NOT NULL DEFAULT 0,"
     " notification_url TEXT, notification_auth_token TEXT,"
     " notification_types TEXT NOT NULL DEFAULT '[]',"
     " mdm_id TEXT, mdm_name TEXT, mdm_metadata TEXT,"
     " created_ms INTEGER NOT NULL, last_test_ms INTEGER);"
     "CREATE TABLE tokens(token TEXT PRIMARY KEY, uid TEXT NOT NULL, stoken TEXT NOT NULL,"
     " exp_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);"
     "CREATE TABLE versions(uid TEXT NOT NULL, coll INTEGER NOT NULL, version_id TEXT NOT NULL,"
     " seq INTEGER NOT NULL, PRIMARY KEY(uid, coll, version_id));"
     "CREATE INDEX versions_seq ON versions(uid, coll, seq);"
     "CREATE TABLE assets(uid TEXT NOT NULL, adam_id TEXT NOT NULL, pricing_param TEXT NOT NULL,"
     " product_type TEXT NOT NULL, total INTEGER NOT NULL, assigned INTEGER NOT NULL DEFAULT 0,"
     " retired INTEGER NOT NULL DEFAULT 0, device_assignable INTEGER NOT NULL,"
     " revocable INTEGER NOT NULL, platforms TEXT NOT NULL, unlimited INTEGER NOT NULL DEFAULT 0,"
     " seq INTEGER NOT NULL, PRIMARY KEY(uid, adam_id, pricing_param));"
     "CREATE TABLE assignments(id INTEGER PRIMARY KEY, uid TEXT NOT NULL, adam_id TEXT NOT NULL,"
     " pricing_param TEXT NOT NULL, client_user_id TEXT, serial_number TEXT,"
     " seq INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX assignments_user ON assignments(uid, adam_id, pricing_param,"
     " client_user_id) WHERE client_user_id IS NOT NULL;"
     "CREATE UNIQUE INDEX assignments_serial ON assignments(uid, adam_id, pricing_param,"
     " serial_number) WHERE serial_number IS NOT NULL;"
     "CREATE INDEX assignments_cuid ON assignments(uid, client_user_id);"
     "CREATE INDEX assignments_sn ON assignments(uid, serial_number);"
     "CREATE INDEX assignments_seq ON assignments(uid, seq);"
     "CREATE TABLE users(id INTEGER PRIMARY KEY, uid TEXT NOT NULL, client_user_id TEXT NOT NULL,"
     " email TEXT, managed_apple_id TEXT, invite_code TEXT, id_hash TEXT,"
     " status TEXT NOT NULL, seq INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX users_active ON users(uid, client_user_id) WHERE status <> 'Retired';"
     "CREATE INDEX users_cuid ON users(uid, client_user_id);"
     "CREATE INDEX users_seq ON users(uid, seq);"
     "CREATE TABLE subscriptions(uid TEXT NOT NULL, adam_id INTEGER NOT NULL,"
     " parent_adam_id INTEGER, status TEXT NOT NULL, period_end TEXT NOT NULL,"
     " total_renewing INTEGER NOT NULL, total_expiring INTEGER NOT NULL, seq INTEGER NOT NULL,"
     " PRIMARY KEY(uid, adam_id));"
     "CREATE TABLE sub_assignments(uid TEXT NOT NULL, adam_id INTEGER NOT NULL,"
     " client_user_id TEXT NOT NULL, renewing INTEGER NOT NULL, seat_renewing INTEGER NOT NULL,"
     " deferred_event TEXT, seq INTEGER NOT NULL, PRIMARY KEY(uid, adam_id, client_user_id));"
     "CREATE TABLE sub_admins(uid TEXT NOT NULL, adam_id INTEGER NOT NULL,"
     " client_user_id TEXT NOT NULL, seq INTEGER NOT NULL,"
     " PRIMARY KEY(uid, adam_id, client_user_id));"
     "CREATE TABLE events(event_id TEXT PRIMARY KEY, uid TEXT NOT NULL, kind TEXT NOT NULL,"
     " event_type TEXT NOT NULL, status TEXT NOT NULL, num_requested INTEGER NOT NULL,"
     " num_completed INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL, failures TEXT,"
     " processed INTEGER NOT NULL DEFAULT 0, due_ms INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL, completed_ms INTEGER);"
     "CREATE INDEX events_todo ON events(processed, due_ms);"
     "CREATE TABLE notifications(id INTEGER PRIMARY KEY, notification_id TEXT NOT NULL UNIQUE,"
     " uid TEXT NOT NULL, type TEXT NOT NULL, event_id TEXT, body TEXT NOT NULL,"
     " url TEXT NOT NULL, auth_token TEXT NOT NULL, state TEXT NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0, first_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL,"
     " in_flight INTEGER NOT NULL DEFAULT 0, dup_left INTEGER NOT NULL DEFAULT 0,"
     " created_ms INTEGER NOT NULL, last_status INTEGER);"
     "CREATE INDEX notifications_due ON notifications(state, in_flight, next_ms);"
     "CREATE TABLE deliveries(id INTEGER PRIMARY KEY, notification_id TEXT NOT NULL,"
     " uid TEXT NOT NULL, type TEXT NOT NULL, event_id TEXT, attempt INTEGER NOT NULL,"
     " duplicate INTEGER NOT NULL DEFAULT 0, status INTEGER NOT NULL, error TEXT,"
     " time_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL);"),
    /* 2: events are processed in steps of --event-batch tasks. */
    ("ALTER TABLE events ADD COLUMN next_task INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE events ADD COLUMN num_failed INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE events ADD COLUMN fail_state TEXT;"
     "ALTER TABLE events ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0;"),
    /* 3: kinds of token (sim_token_kind_names); existing tokens are normal. */
    ("ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'normal'"
     " CHECK(kind IN ('normal', 'read-only', 'legacy'));"),
    /* 4: a subscription seat held through group membership (9817 when assigned directly). */
    ("ALTER TABLE sub_assignments ADD COLUMN via_group INTEGER NOT NULL DEFAULT 0;"),
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

struct sim_db {
    sqlite3 *db;
    int64_t run;
    int schema;
    sqlite3_stmt *slot[SIM_DB_SLOTS];
};

/* Slot numbers handed out so far (process-wide: a slot names a statement text). */
static int slots_used;

/* Log SQLite's error for a statement once; returns VN_ESTORE. */
static int db_fail(struct sim_db *db, const char *what, const char *sql)
{
    vn_log_error("state %s failed: %s (%.80s)", what, sqlite3_errmsg(db->db), sql ? sql : "");
    return VN_ESTORE;
}

/* Run a fixed statement of the open sequence and read the first column of its first row as an
 * integer (*out stays as it was when there is no row). 0 or VN_ESTORE. */
static int open_int(struct sim_db *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, "statement", sql);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(db, "statement", sql);
}

static int open_exec(struct sim_db *db, const char *sql, struct vn_error *err, const char *path)
{
    char *msg = NULL;

    if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    vn_error_set(err, VN_ESTORE, "cannot set up state '%s': %s", path,
                 msg ? msg : sqlite3_errmsg(db->db));
    sqlite3_free(msg);
    return VN_ESTORE;
}

static int set_meta(struct sim_db *db, const char *key, int64_t value)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(db, "meta", key);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(db, "meta", key);
}

int sim_db_open(const char *path, struct sim_db **out, struct vn_error *err)
{
    struct sim_db *db = calloc(1, sizeof(*db));
    int64_t version = 0, run = 0;
    int rc;

    *out = NULL;
    if (!db)
        return vn_error_set(err, VN_ESTORE, "cannot open state '%s': out of memory", path);
    rc = sqlite3_open_v2(path, &db->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        vn_error_set(err, VN_ESTORE, "cannot open state '%s': %s", path,
                     db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(db->db, 5000);
    if (strcmp(path, ":memory:") != 0 &&
        open_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err, path))
        goto fail;
    if (open_exec(db,
                  "PRAGMA foreign_keys=OFF;"
                  "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                  err, path))
        goto fail;
    if (open_int(db, "SELECT value FROM meta WHERE key = 'schema_version'", &version) ||
        open_int(db, "SELECT value FROM meta WHERE key = 'runs'", &run)) {
        vn_error_set(err, VN_ESTORE, "cannot read state '%s': %s", path, sqlite3_errmsg(db->db));
        goto fail;
    }
    if (version > NMIGRATIONS) {
        vn_error_set(err, VN_ESTORE,
                     "state '%s' has schema version %lld, newer than this vppsim's %d", path,
                     (long long)version, NMIGRATIONS);
        goto fail;
    }
    for (int i = (int)version; i < NMIGRATIONS; i++) {
        if (open_exec(db, "BEGIN", err, path) || open_exec(db, migrations[i], err, path))
            goto fail;
        if (set_meta(db, "schema_version", i + 1) || open_exec(db, "COMMIT", err, path)) {
            vn_error_set(err, VN_ESTORE, "cannot migrate state '%s' to version %d: %s", path, i + 1,
                         sqlite3_errmsg(db->db));
            goto fail;
        }
    }
    db->schema = NMIGRATIONS;
    db->run = run + 1;
    /* A delivery that was in flight when the previous run stopped is due again: at worst the
     * receiver gets it twice, as Apple's own retries can do. */
    if (set_meta(db, "runs", db->run) ||
        open_exec(db, "UPDATE notifications SET in_flight = 0 WHERE in_flight = 1", err, path)) {
        vn_error_set(err, VN_ESTORE, "cannot set up state '%s': %s", path, sqlite3_errmsg(db->db));
        goto fail;
    }
    *out = db;
    return 0;
fail:
    sqlite3_close(db->db);
    free(db);
    return VN_ESTORE;
}

void sim_db_close(struct sim_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < SIM_DB_SLOTS; i++)
        sqlite3_finalize(db->slot[i]);
    sqlite3_close(db->db);
    free(db);
}

int64_t sim_db_run(const struct sim_db *db)
{
    return db->run;
}

int sim_db_schema(const struct sim_db *db)
{
    return db->schema;
}

int sim_db_prepare(struct sim_db *db, struct sim_sql *sql, struct sim_stmt *q)
{
    int slot = __atomic_load_n(&sql->slot, __ATOMIC_ACQUIRE);

    memset(q, 0, sizeof(*q));
    q->db = db;
    q->text = sql->text;
    if (slot == 0) {
        int mine = __atomic_add_fetch(&slots_used, 1, __ATOMIC_RELAXED), none = 0;
        /* Two threads may race for the first use; the first number stored wins. */
        if (__atomic_compare_exchange_n(&sql->slot, &none, mine, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            slot = mine;
        else
            slot = none;
    }
    if (slot > SIM_DB_SLOTS) {
        vn_log_error("state statement failed: more than %d statements; raise SIM_DB_SLOTS (%.80s)",
                     SIM_DB_SLOTS, sql->text);
        return VN_ESTORE;
    }
    if (!db->slot[slot - 1]) {
        if (sqlite3_prepare_v3(db->db, sql->text, -1, SQLITE_PREPARE_PERSISTENT,
                               &db->slot[slot - 1], NULL) != SQLITE_OK) {
            sqlite3_finalize(db->slot[slot - 1]);
            db->slot[slot - 1] = NULL;
            return db_fail(db, "prepare", sql->text);
        }
    } else {
        sqlite3_reset(db->slot[slot - 1]);
        sqlite3_clear_bindings(db->slot[slot - 1]);
    }
    q->st = db->slot[slot - 1];
    return 0;
}

static void bound(struct sim_stmt *q, int rc, int i)
{
    if (rc != SQLITE_OK && q->rc == 0) {
        vn_log_error("state binding failed: parameter %d: %s (%.80s)", i, sqlite3_errstr(rc),
                     q->text);
        q->rc = VN_ESTORE;
    }
}

void sim_bind_text(struct sim_stmt *q, int i, const char *v)
{
    bound(q, v ? sqlite3_bind_text(q->st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(q->st, i),
          i);
}

void sim_bind_int(struct sim_stmt *q, int i, int64_t v)
{
    bound(q, sqlite3_bind_int64(q->st, i, v), i);
}

void sim_bind_null(struct sim_stmt *q, int i)
{
    bound(q, sqlite3_bind_null(q->st, i), i);
}

void sim_bind_opt_int(struct sim_stmt *q, int i, const int64_t *v)
{
    if (v)
        sim_bind_int(q, i, *v);
    else
        sim_bind_null(q, i);
}

int sim_stmt_step(struct sim_stmt *q)
{
    int rc;

    if (q->rc) {
        sqlite3_reset(q->st);
        return q->rc;
    }
    rc = sqlite3_step(q->st);
    if (rc == SQLITE_ROW)
        return SIM_ROW;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q->st);
        return 0;
    }
    db_fail(q->db, "query", q->text);
    sqlite3_reset(q->st);
    q->rc = VN_ESTORE;
    return VN_ESTORE;
}

int64_t sim_col_int(const struct sim_stmt *q, int col)
{
    return sqlite3_column_int64(q->st, col);
}

const char *sim_col_text(const struct sim_stmt *q, int col)
{
    return (const char *)sqlite3_column_text(q->st, col);
}

int sim_col_null(const struct sim_stmt *q, int col)
{
    return sqlite3_column_type(q->st, col) == SQLITE_NULL;
}

void sim_stmt_reset(struct sim_stmt *q)
{
    sqlite3_reset(q->st);
}

int sim_stmt_exec(struct sim_stmt *q, int *changed)
{
    int rc;

    while ((rc = sim_stmt_step(q)) == SIM_ROW)
        ;
    if (changed)
        *changed = rc ? 0 : sqlite3_changes(q->db->db);
    return rc;
}

int sim_stmt_int(struct sim_stmt *q, int64_t *out)
{
    int rc = sim_stmt_step(q);

    if (rc != SIM_ROW)
        return rc ? rc : VN_ENOTFOUND;
    if (sim_col_null(q, 0))
        rc = VN_ENOTFOUND;
    else {
        *out = sim_col_int(q, 0);
        rc = 0;
    }
    sqlite3_reset(q->st);
    return rc;
}

int sim_stmt_text(struct sim_stmt *q, char **out)
{
    int rc = sim_stmt_step(q);

    *out = NULL;
    if (rc != SIM_ROW)
        return rc ? rc : VN_ENOTFOUND;
    rc = 0;
    if (sim_col_null(q, 0))
        rc = VN_ENOTFOUND;
    else if (!(*out = strdup(sim_col_text(q, 0))))
        rc = VN_ESTORE;
    sqlite3_reset(q->st);
    return rc;
}

/* One column of the current row as JSON (NULL for a NULL value), renaming j:/b: columns. */
static json_t *column_json(sqlite3_stmt *st, int c, const char **name)
{
    int type = sqlite3_column_type(st, c);

    *name = sqlite3_column_name(st, c);
    if (type == SQLITE_NULL)
        return NULL;
    if (!strncmp(*name, "j:", 2)) {
        *name += 2;
        return json_loads((const char *)sqlite3_column_text(st, c), JSON_DECODE_ANY, NULL);
    }
    if (!strncmp(*name, "b:", 2)) {
        *name += 2;
        return json_boolean(sqlite3_column_int64(st, c) != 0);
    }
    if (type == SQLITE_INTEGER)
        return json_integer(sqlite3_column_int64(st, c));
    if (type == SQLITE_FLOAT)
        return json_real(sqlite3_column_double(st, c));
    return json_string((const char *)sqlite3_column_text(st, c));
}

int sim_stmt_rows(struct sim_stmt *q, json_t **out)
{
    json_t *arr = json_array();
    int rc;

    *out = NULL;
    while ((rc = sim_stmt_step(q)) == SIM_ROW) {
        json_t *o = json_object();
        int nc = sqlite3_column_count(q->st);
        for (int c = 0; c < nc; c++) {
            const char *name;
            json_t *v = column_json(q->st, c, &name);
            if (v)
                json_object_set_new(o, name, v);
        }
        json_array_append_new(arr, o);
    }
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int run_fixed(struct sim_db *db, const char *sql)
{
    struct sim_stmt q;
    int rc;

    if (!strcmp(sql, "BEGIN IMMEDIATE"))
        rc = SIM_PREPARE(db, &q, "BEGIN IMMEDIATE");
    else if (!strcmp(sql, "COMMIT"))
        rc = SIM_PREPARE(db, &q, "COMMIT");
    else
        rc = SIM_PREPARE(db, &q, "ROLLBACK");
    return rc ? rc : sim_stmt_exec(&q, NULL);
}

int sim_db_begin(struct sim_db *db)
{
    return run_fixed(db, "BEGIN IMMEDIATE");
}

int sim_db_commit(struct sim_db *db)
{
    int rc = run_fixed(db, "COMMIT");

    if (rc)
        sim_db_rollback(db);
    return rc;
}

void sim_db_rollback(struct sim_db *db)
{
    if (!sqlite3_get_autocommit(db->db))
        run_fixed(db, "ROLLBACK");
}

int64_t sim_db_last_id(struct sim_db *db)
{
    return sqlite3_last_insert_rowid(db->db);
}
