/*
 * db.c - vppsim's SQLite state: schema (numbered migrations), a prepared-statement cache,
 * small query helpers, versioning and cursors.
 *
 * Versioning. Each location has a change counter (locations.seq). A write takes the next
 * value, stamps every row it inserts or changes with it, and at its end gives each collection
 * it touched a new versionId (a row of `versions`: uid, collection, versionId, seq). So a
 * versionId names "the collection after every write up to seq", and sinceVersionId is simply
 * "rows whose seq is greater". Pagination and deltas are queries, not containers.
 *
 * The schema is documented in docs/VPPSIM.md ("State and schema").
 */
#include "sim.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sim_coll_names[COLL_COUNT] = {
    "assets", "assignments", "users", "subscriptions", "subscriptionAssignments", "admins",
};

const char *const sim_token_kind_names[TOKEN_KIND_COUNT] = {"normal", "read-only", "legacy"};

int sim_token_kind_parse(const char *name)
{
    for (int k = 0; name && k < TOKEN_KIND_COUNT; k++)
        if (!strcmp(name, sim_token_kind_names[k]))
            return k;
    return -1;
}

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
};

#define STMT_CACHE 512

static struct {
    const char *sql;
    sqlite3_stmt *st;
} cache[STMT_CACHE];
static size_t ncache;

int sim_db_open(struct sim *s, const char *path, struct vn_error *err)
{
    int rc, version = 0;
    char *msg = NULL;
    sqlite3_stmt *st;

    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        vn_error_set(err, VN_ESTORE, "cannot open state '%s': %s", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sqlite3_close(s->db);
        s->db = NULL;
        return VN_ESTORE;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (strcmp(path, ":memory:") != 0)
        sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL);
    sqlite3_exec(s->db, "PRAGMA foreign_keys=OFF;", NULL, NULL, NULL);
    if (sqlite3_exec(s->db,
                     "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                     NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st,
                           NULL) == SQLITE_OK) {
        long long v = 0;
        if (sqlite3_step(st) == SQLITE_ROW &&
            vn_parse_ll((const char *)sqlite3_column_text(st, 0), 0, 1000000, &v) == 0)
            version = (int)v;
        sqlite3_finalize(st);
    }
    for (int i = version; i < (int)(sizeof(migrations) / sizeof(migrations[0])); i++) {
        int ok;
        if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(s->db, migrations[i], NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
        if (sqlite3_prepare_v2(s->db,
                               "INSERT OR REPLACE INTO meta(key, value)"
                               " VALUES('schema_version', ?)",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_int(st, 1, i + 1);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        if (!ok || sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
    }
    /* Deliveries that were in flight when a previous run stopped are due again. */
    sqlite3_exec(s->db, "UPDATE notifications SET in_flight = 0 WHERE in_flight = 1", NULL, NULL,
                 NULL);
    return 0;
fail:
    vn_error_set(err, VN_ESTORE, "cannot set up state '%s': %s", path,
                 msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    sqlite3_close(s->db);
    s->db = NULL;
    return VN_ESTORE;
}

void sim_db_close(struct sim *s)
{
    for (size_t i = 0; i < ncache; i++)
        sqlite3_finalize(cache[i].st);
    ncache = 0;
    if (s->db)
        sqlite3_close(s->db);
    s->db = NULL;
}

sqlite3_stmt *sim_stmt(struct sim *s, const char *sql)
{
    sqlite3_stmt *st;

    for (size_t i = 0; i < ncache; i++) {
        if (cache[i].sql == sql || strcmp(cache[i].sql, sql) == 0) {
            sqlite3_reset(cache[i].st);
            sqlite3_clear_bindings(cache[i].st);
            return cache[i].st;
        }
    }
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        vn_log_error("cannot prepare statement: %s: %.120s", sqlite3_errmsg(s->db), sql);
        return NULL;
    }
    if (ncache < STMT_CACHE) {
        cache[ncache].sql = sql;
        cache[ncache].st = st;
        ncache++;
    } else {
        vn_log_error("statement cache full; raise STMT_CACHE");
        abort();
    }
    return st;
}

static void bindv(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int i = 1;

    /* A format that does not match the statement is a programming error: stop loudly. */
    if ((int)strlen(fmt ? fmt : "") != sqlite3_bind_parameter_count(st)) {
        vn_log_error("bug: %d parameters bound to a statement that has %d: %.200s",
                     (int)strlen(fmt ? fmt : ""), sqlite3_bind_parameter_count(st),
                     sqlite3_sql(st));
        abort();
    }

    for (const char *f = fmt; f && *f; f++, i++) {
        switch (*f) {
        case 't': {
            const char *v = va_arg(ap, const char *);
            if (v)
                sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'i':
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'n':
            sqlite3_bind_null(st, i);
            break;
        case 'o': {
            const long long *v = va_arg(ap, const long long *);
            if (v)
                sqlite3_bind_int64(st, i, *v);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        }
    }
}

int sim_exec(struct sim *s, const char *sql, const char *fmt, ...)
{
    va_list ap;
    sqlite3_stmt *st = sim_stmt(s, sql);
    int rc;

    if (!st)
        return VN_ESTORE;
    va_start(ap, fmt);
    bindv(st, fmt, ap);
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        vn_log_error("statement failed: %s: %.120s", sqlite3_errmsg(s->db), sql);
        return VN_ESTORE;
    }
    return 0;
}

int64_t sim_query_int(struct sim *s, int64_t def, const char *sql, const char *fmt, ...)
{
    va_list ap;
    sqlite3_stmt *st = sim_stmt(s, sql);
    int64_t v = def;

    if (!st)
        return def;
    va_start(ap, fmt);
    bindv(st, fmt, ap);
    va_end(ap);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

char *sim_query_text(struct sim *s, const char *sql, const char *fmt, ...)
{
    va_list ap;
    sqlite3_stmt *st = sim_stmt(s, sql);
    char *v = NULL;

    if (!st)
        return NULL;
    va_start(ap, fmt);
    bindv(st, fmt, ap);
    va_end(ap);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return v;
}

json_t *sim_query_json(struct sim *s, const char *sql, const char *fmt, ...)
{
    va_list ap;
    sqlite3_stmt *st = sim_stmt(s, sql);
    json_t *arr;
    int rc;

    if (!st)
        return NULL;
    va_start(ap, fmt);
    bindv(st, fmt, ap);
    va_end(ap);
    arr = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        int nc = sqlite3_column_count(st);
        for (int c = 0; c < nc; c++) {
            const char *name = sqlite3_column_name(st, c);
            int type = sqlite3_column_type(st, c);
            json_t *v = NULL;
            if (type == SQLITE_NULL)
                continue;
            if (!strncmp(name, "j:", 2)) {
                const char *text = (const char *)sqlite3_column_text(st, c);
                v = json_loads(text, 0, NULL);
                name += 2;
            } else if (!strncmp(name, "b:", 2)) {
                v = json_boolean(sqlite3_column_int64(st, c) != 0);
                name += 2;
            } else if (type == SQLITE_INTEGER) {
                v = json_integer(sqlite3_column_int64(st, c));
            } else if (type == SQLITE_FLOAT) {
                v = json_real(sqlite3_column_double(st, c));
            } else {
                v = json_string((const char *)sqlite3_column_text(st, c));
            }
            if (v)
                json_object_set_new(o, name, v);
        }
        json_array_append_new(arr, o);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        vn_log_error("query failed: %s: %.120s", sqlite3_errmsg(s->db), sql);
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int sim_begin(struct sim *s)
{
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : VN_ESTORE;
}

int sim_commit(struct sim *s)
{
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    vn_log_error("commit failed: %s", sqlite3_errmsg(s->db));
    sim_rollback(s);
    return VN_ESTORE;
}

void sim_rollback(struct sim *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

void sim_write_begin(struct sim *s, struct sim_write *w, const char *uid)
{
    vn_strlcpy(w->uid, uid, sizeof(w->uid));
    w->touched = 0;
    sim_exec(s, "UPDATE locations SET seq = seq + 1 WHERE uid = ?", "t", uid);
    w->seq = sim_query_int(s, 0, "SELECT seq FROM locations WHERE uid = ?", "t", uid);
}

int sim_write_end(struct sim *s, struct sim_write *w)
{
    for (int c = 0; c < COLL_COUNT; c++) {
        char v[37];
        if (!(w->touched & (1u << c)))
            continue;
        sim_uuid(s, v);
        if (sim_exec(s, "INSERT INTO versions(uid, coll, version_id, seq) VALUES(?, ?, ?, ?)",
                     "titi", w->uid, (int64_t)c, v, w->seq))
            return VN_ESTORE;
    }
    w->touched = 0;
    return 0;
}

void sim_version_current(struct sim *s, const char *uid, enum sim_coll c, char out[37])
{
    char *v = sim_query_text(s,
                             "SELECT version_id FROM versions WHERE uid = ? AND coll = ?"
                             " ORDER BY seq DESC LIMIT 1",
                             "ti", uid, (int64_t)c);
    vn_strlcpy(out, v ? v : "", 37);
    free(v);
}

int64_t sim_version_seq(struct sim *s, const char *uid, enum sim_coll c, const char *version)
{
    return sim_query_int(s, -1,
                         "SELECT seq FROM versions WHERE uid = ? AND coll = ? AND version_id = ?",
                         "tit", uid, (int64_t)c, version);
}

static void cursor_tag(const char *uid, enum sim_coll c, int64_t offset, char out[17])
{
    unsigned char h[32];
    char text[160];
    int n =
        snprintf(text, sizeof(text), "vppsim-cursor|%s|%d|%lld", uid, (int)c, (long long)offset);

    crypto_hash_sha256(h, (const unsigned char *)text, (unsigned long long)n);
    vn_hex(h, 8, out);
}

void sim_cursor_encode(const char *uid, enum sim_coll c, int64_t offset, char *out, size_t cap)
{
    char tag[17], text[96];
    int n;

    cursor_tag(uid, c, offset, tag);
    n = snprintf(text, sizeof(text), "c1:%d:%lld:%s", (int)c, (long long)offset, tag);
    sodium_bin2base64(out, cap, (const unsigned char *)text, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int sim_cursor_decode(const char *uid, enum sim_coll c, const char *cursor, int64_t *offset)
{
    unsigned char raw[96];
    size_t len = 0;
    char text[97], tag[17], want[17];
    int coll, used = 0;
    long long off;

    if (strlen(cursor) > 120 ||
        sodium_base642bin(raw, sizeof(raw) - 1, cursor, strlen(cursor), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    memcpy(text, raw, len);
    text[len] = '\0';
    if (sscanf(text, "c1:%d:%lld:%16[0-9a-f]%n", &coll, &off, tag, &used) != 3 ||
        (size_t)used != len || coll != (int)c || off < 0)
        return -1;
    cursor_tag(uid, c, off, want);
    if (strcmp(tag, want) != 0)
        return -1;
    *offset = off;
    return 0;
}
