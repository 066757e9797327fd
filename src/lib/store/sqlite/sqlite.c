/*
 * sqlite.c - the SQLite backend of store.h: opening (file mode, PRAGMAs, migrations),
 * error mapping, the prepared-statement cache and transactions.
 *
 * Durability: journal_mode=WAL and synchronous=FULL, both verified after they are set, so a
 * COMMIT that returns has fsynced the WAL. Every write transaction is BEGIN IMMEDIATE, so a
 * writer waits for the lock (busy_timeout) up front instead of failing mid-way with a deadlock.
 *
 * Statements are prepared once per handle (slot cache, SQLITE_PREPARE_PERSISTENT), always
 * reset after use, and take only bound parameters. The one exception is PRAGMA max_page_count,
 * which SQLite does not let us bind: its value is an integer this file computes.
 *
 * The rest of the backend: write.c (ledger, mirror, events, locations), apple.c (the Apple
 * side), query.c (read queries), schema.c (migrations).
 */
#include "sqlite_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct vn_store_ops sqlite_ops;

/* ---- errors and statements ------------------------------------------------------------- */

int vn__sq_fail(struct vn__sqlite *s, int rc)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_FULL:
        vn__store_set_error(&s->base, "%s", msg);
        return VN_EFULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        vn__store_set_error(&s->base, "database is locked");
        return VN_ESTORE;
    case SQLITE_IOERR:
        s->base.failed_io = 1;
        vn__store_set_error(&s->base, "%s (sqlite extended code %d)", msg, rc);
        return VN_ESTORE;
    default:
        vn__store_set_error(&s->base, "%s", msg);
        return VN_ESTORE;
    }
}

sqlite3_stmt *vn__sq_stmt(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql)
{
    int rc;

    if (s->stmt[slot])
        return s->stmt[slot];
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[slot], NULL);
    if (rc != SQLITE_OK) {
        vn__sq_fail(s, rc);
        sqlite3_finalize(s->stmt[slot]);
        s->stmt[slot] = NULL;
    }
    return s->stmt[slot];
}

int vn__sq_run(struct vn__sqlite *s, sqlite3_stmt *st, int *changed)
{
    int rc = vn__sq_done(s, st);

    if (changed)
        *changed = rc ? 0 : sqlite3_changes(s->db);
    return rc;
}

int vn__sq_collect_text(struct vn__sqlite *s, sqlite3_stmt *st, char ***out, size_t *n)
{
    char **v = NULL, **nv;
    size_t len = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = -ENOMEM;
                goto out;
            }
            v = nv;
        }
        v[len] = strdup((const char *)sqlite3_column_text(st, 0));
        if (!v[len]) {
            rc = -ENOMEM;
            goto out;
        }
        len++;
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
out:
    sqlite3_reset(st);
    if (rc) {
        for (size_t i = 0; i < len; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

int vn__sq_done(struct vn__sqlite *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int out = 0;

    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = vn__sq_fail(s, rc);
    sqlite3_reset(st);
    return out;
}

int vn__sq_text(sqlite3_stmt *st, int i, const char *v)
{
    if (!v)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

const char *vn__sq_now(struct vn__sqlite *s)
{
    if (!s->txn_ms)
        vn_time_iso(vn_now_ms(), s->txn_iso);
    return s->txn_iso;
}

int vn__sq_exec(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql)
{
    sqlite3_stmt *st = vn__sq_stmt(s, slot, sql);

    if (!st)
        return VN_ESTORE;
    return vn__sq_done(s, st);
}

void vn__sq_abort(struct vn__sqlite *s)
{
    char keep[VN_ERROR_MSG_MAX];

    s->txn_ms = 0;
    if (sqlite3_get_autocommit(s->db))
        return;
    memcpy(keep, s->base.last_error, sizeof(keep));
    vn__sq_exec(s, VN_SQ_ROLLBACK, "ROLLBACK");
    memcpy(s->base.last_error, keep, sizeof(keep));
}

/* Run a one-off statement (open time only) and read its first column as an integer. */
static int one_int(struct vn__sqlite *s, const char *sql, long long *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *out = 0;
    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = vn__sq_fail(s, rc);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = vn__sq_fail(s, rc);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* Same, for a text result copied into out. */
static int one_text(struct vn__sqlite *s, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    int rc;

    out[0] = '\0';
    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = vn__sq_fail(s, rc);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);

        vn_strlcpy(out, t ? (const char *)t : "", outlen);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = vn__sq_fail(s, rc);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* ---- opening --------------------------------------------------------------------------- */

/* Create the database file owner-only before SQLite sees it (SQLite would use 0644). */
static int create_file(const char *path, struct vn_error *err)
{
    struct stat sb;
    int fd;

    if (stat(path, &sb) == 0)
        return 0;
    if (errno != ENOENT)
        return vn_error_set(err, VN_ESTORE, "cannot open database '%s': %s", path, strerror(errno));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
        return vn_error_set(err, VN_ESTORE, "cannot create database '%s': %s", path,
                            strerror(errno));
    if (fd >= 0)
        close(fd);
    return 0;
}

static const char *sync_name(long long v)
{
    switch (v) {
    case 0:
        return "off";
    case 1:
        return "normal";
    case 2:
        return "full";
    case 3:
        return "extra";
    default:
        return "unknown";
    }
}

/* Set and verify the connection's PRAGMAs; describe them in s->describe. */
static int configure(struct vn__sqlite *s, const struct vn_store_options *opts, int memory,
                     struct vn_error *err)
{
    char mode[32];
    char sql[96];
    long long sync = 0, fk = 0, page_size = 0, pages;
    int rc;

    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db,
                         opts->busy_timeout_ms > INT_MAX ? INT_MAX : (int)opts->busy_timeout_ms);

    rc = one_text(s, s->read_only ? "PRAGMA journal_mode" : "PRAGMA journal_mode=WAL", mode,
                  sizeof(mode));
    if (rc)
        goto out;
    if (!s->read_only && !memory && strcmp(mode, "wal") != 0) {
        rc = vn_error_set(err, VN_ESTORE,
                          "cannot enable WAL on database '%s' (journal_mode "
                          "is '%s')",
                          s->path, mode);
        goto out;
    }
    rc = one_int(s, "PRAGMA synchronous=FULL", &sync);
    if (!rc)
        rc = one_int(s, "PRAGMA synchronous", &sync);
    if (!rc)
        rc = one_int(s, "PRAGMA foreign_keys=ON", &fk);
    if (!rc)
        rc = one_int(s, "PRAGMA foreign_keys", &fk);
    if (rc)
        goto out;
    if (sync != 2 || fk != 1) {
        rc = vn_error_set(err, VN_ESTORE,
                          "cannot set synchronous=FULL and foreign_keys=ON on "
                          "database '%s'",
                          s->path);
        goto out;
    }
    if (opts->max_db_bytes > 0) {
        rc = one_int(s, "PRAGMA page_size", &page_size);
        if (rc)
            goto out;
        pages = opts->max_db_bytes / (page_size > 0 ? page_size : 4096);
        if (pages < 1)
            pages = 1;
        /* PRAGMA takes no bound parameters: pages is an integer computed here. */
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", pages);
        rc = one_int(s, sql, &pages);
        if (rc)
            goto out;
    }
    snprintf(s->describe, sizeof(s->describe), "sqlite %s '%s' journal_mode=%s synchronous=%s%s",
             sqlite3_libversion(), s->path, mode, sync_name(sync),
             s->read_only ? " read-only" : "");
out:
    if (rc && err && !err->code)
        vn_error_set(err, rc, "cannot configure database '%s': %s", s->path, s->base.last_error);
    return rc;
}

/* The highest migration recorded, 0 for a new database; *tables = user tables present. */
static int read_version(struct vn__sqlite *s, long long *version, long long *tables)
{
    long long has = 0;
    int rc;

    *version = 0;
    rc = one_int(s,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT "
                 "LIKE 'sqlite\\_%' ESCAPE '\\'",
                 tables);
    if (!rc)
        rc = one_int(s,
                     "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = "
                     "'schema_migrations'",
                     &has);
    if (!rc && has)
        rc = one_int(s, "SELECT coalesce(max(version), 0) FROM schema_migrations", version);
    return rc;
}

/* Apply migration number v (1-based) in its own transaction, unless another process did. */
static int apply_migration(struct vn__sqlite *s, long long v)
{
    sqlite3_stmt *st = NULL;
    char *msg = NULL;
    long long now_v, tables;
    char iso[VN_TIME_ISO_LEN];
    int rc;

    rc = vn__sq_exec(s, VN_SQ_BEGIN, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    rc = read_version(s, &now_v, &tables);
    if (rc || now_v >= v)
        goto out;
    rc = sqlite3_exec(s->db,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "  version    INTEGER PRIMARY KEY,"
                      "  applied_at TEXT NOT NULL)",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, vn__sqlite_migrations[v - 1], NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        rc = vn__sq_fail(s, rc);
        if (msg)
            vn__store_set_error(&s->base, "%s", msg);
        goto out;
    }
    rc = sqlite3_prepare_v2(s->db,
                            "INSERT INTO schema_migrations(version, applied_at) "
                            "VALUES (?1, ?2)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = vn__sq_fail(s, rc);
        goto out;
    }
    vn_time_iso(vn_now_ms(), iso);
    sqlite3_bind_int64(st, 1, v);
    sqlite3_bind_text(st, 2, iso, -1, SQLITE_STATIC);
    rc = vn__sq_done(s, st);
out:
    sqlite3_free(msg);
    sqlite3_finalize(st);
    if (!rc)
        rc = vn__sq_exec(s, VN_SQ_COMMIT, "COMMIT");
    if (rc)
        vn__sq_abort(s);
    return rc;
}

/* Bring the schema to this build's version, or check it (read-only). */
static int migrate(struct vn__sqlite *s, struct vn_error *err)
{
    long long v, tables;
    const long long want = vn__sqlite_schema_version;
    int rc;

    rc = read_version(s, &v, &tables);
    if (rc)
        return vn_error_set(err, rc, "cannot read the schema of database '%s': %s", s->path,
                            s->base.last_error);
    if (v > want)
        return vn_error_set(err, VN_ESTORE,
                            "database '%s' has schema version %lld, newer than "
                            "this build's %lld: use a newer vppnotify",
                            s->path, v, want);
    if (v == 0 && tables > 0)
        return vn_error_set(err, VN_ESTORE,
                            "database '%s' is not a vppnotify database (it "
                            "has tables but no schema_migrations)",
                            s->path);
    if (s->read_only) {
        if (v == 0)
            return vn_error_set(err, VN_ESTORE,
                                "database '%s' has no vppnotify schema yet; "
                                "open it read-write once (vppnotify serve) to create it",
                                s->path);
        if (v < want)
            return vn_error_set(err, VN_ESTORE,
                                "database '%s' has schema version %lld, older "
                                "than this build's %lld; open it read-write once to migrate it",
                                s->path, v, want);
    }
    for (; !s->read_only && v < want; v++) {
        rc = apply_migration(s, v + 1);
        if (rc)
            return vn_error_set(err, rc,
                                "cannot migrate database '%s' to schema version %lld: "
                                "%s",
                                s->path, v + 1, s->base.last_error);
    }
    s->schema_current = (int)v;
    return 0;
}

static void sqlite_free(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    size_t i;

    for (i = 0; i < VN_SQ__COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

struct vn_store *vn__store_sqlite_open(const char *path, const struct vn_store_options *opts,
                                       struct vn_error *err)
{
    struct vn__sqlite *s;
    int memory = strcmp(path, ":memory:") == 0;
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc;

    s = calloc(1, sizeof(*s));
    if (!s) {
        vn_error_set(err, -ENOMEM, "cannot open database '%s': out of memory", path);
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->read_only = opts->read_only;
    s->path = strdup(path);
    if (!s->path) {
        rc = vn_error_set(err, -ENOMEM, "cannot open database '%s': out of memory", path);
        goto fail;
    }
    if (!s->read_only && !memory) {
        rc = create_file(path, err);
        if (rc)
            goto fail;
    }
    flags |= s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = vn_error_set(err, VN_ESTORE, "cannot open database '%s': %s", path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (!s->read_only && sqlite3_db_readonly(s->db, "main") == 1) {
        rc = vn_error_set(err, VN_ESTORE,
                          "cannot open database '%s' for writing: "
                          "permission denied",
                          path);
        goto fail;
    }
    vn_error_clear(err);
    rc = configure(s, opts, memory, err);
    if (rc)
        goto fail;
    rc = migrate(s, err);
    if (rc)
        goto fail;
    return &s->base;
fail:
    sqlite_free(&s->base);
    return NULL;
}

static int sqlite_schema_version(struct vn_store *st, int *current, int *expected)
{
    struct vn__sqlite *s = vn__sq(st);
    long long v = 0, tables;
    int rc;

    rc = read_version(s, &v, &tables);
    if (current)
        *current = (int)v;
    if (expected)
        *expected = vn__sqlite_schema_version;
    return rc;
}

static const char *sqlite_describe(struct vn_store *st)
{
    return vn__sq(st)->describe;
}

/* ---- transactions ---------------------------------------------------------------------- */

/*
 * The transaction is gone although the caller did not end it: SQLite rolls the whole
 * transaction back itself after SQLITE_FULL or an I/O error in a statement. Say so, and keep
 * the reason (the failure just before) in the message.
 */
static int rolled_back(struct vn_store *st, const char *what)
{
    char why[VN_ERROR_MSG_MAX];

    vn__sq(st)->txn_ms = 0;
    if (strstr(st->last_error, "the transaction was rolled back"))
        return VN_ESTORE; /* already said (rollback_to, then commit) */
    memcpy(why, st->last_error, sizeof(why));
    vn__store_set_error(st, "%s: the transaction was rolled back%s%s", what,
                        why[0] ? " after: " : "", why);
    return VN_ESTORE;
}

static int sqlite_begin(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    int rc;

    /* SQLite would let BEGIN IMMEDIATE through on a read-only WAL connection and fail later. */
    if (s->read_only) {
        vn__store_set_error(st, "database '%s' is open read-only", s->path);
        return VN_ESTORE;
    }
    if (!sqlite3_get_autocommit(s->db)) {
        vn__store_set_error(st, "a transaction is already open on this handle");
        return VN_ESTORE;
    }
    rc = vn__sq_exec(s, VN_SQ_BEGIN, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    s->txn_ms = vn_now_ms();
    vn_time_iso(s->txn_ms, s->txn_iso);
    return 0;
}

static int sqlite_rollback(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    s->txn_ms = 0;
    if (sqlite3_get_autocommit(s->db))
        return 0;
    return vn__sq_exec(s, VN_SQ_ROLLBACK, "ROLLBACK");
}

static int sqlite_commit(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    int rc;

    if (sqlite3_get_autocommit(s->db))
        return rolled_back(st, "cannot commit");
    rc = vn__sq_exec(s, VN_SQ_COMMIT, "COMMIT");
    if (rc)
        vn__sq_abort(s); /* leave the handle reusable; keep why the commit failed */
    s->txn_ms = 0;
    return rc;
}

static int sqlite_savepoint(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    /* SAVEPOINT outside a transaction would start a deferred one: refuse. */
    if (sqlite3_get_autocommit(s->db)) {
        vn__store_set_error(st, "savepoint outside a transaction");
        return VN_ESTORE;
    }
    return vn__sq_exec(s, VN_SQ_SAVEPOINT, "SAVEPOINT vn_job");
}

static int sqlite_release(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    if (sqlite3_get_autocommit(s->db))
        return rolled_back(st, "cannot release the savepoint");
    return vn__sq_exec(s, VN_SQ_RELEASE, "RELEASE vn_job");
}

static int sqlite_rollback_to(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    int rc;

    /* After SQLITE_FULL or an I/O error SQLite has rolled back the whole transaction. */
    if (sqlite3_get_autocommit(s->db))
        return rolled_back(st, "cannot roll back to the savepoint");
    rc = vn__sq_exec(s, VN_SQ_ROLLBACK_TO, "ROLLBACK TO vn_job");
    if (!rc)
        rc = vn__sq_exec(s, VN_SQ_RELEASE, "RELEASE vn_job");
    return rc;
}

static int sqlite_ping(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    sqlite3_stmt *q;
    int rc;

    rc = sqlite_begin(st);
    if (rc)
        return rc;
    q = vn__sq_stmt(s, VN_SQ_HEALTH,
                    "INSERT INTO health(id, at) VALUES (1, ?1) "
                    "ON CONFLICT(id) DO UPDATE SET at = excluded.at");
    if (!q) {
        rc = VN_ESTORE;
        goto out;
    }
    sqlite3_bind_text(q, 1, s->txn_iso, -1, SQLITE_STATIC);
    rc = vn__sq_done(s, q);
    if (rc)
        goto out;
    /*
     * Room for a large notification: write 64 KiB and undo it. A database at its size limit
     * (or on a full disk) fails here with VN_EFULL, although the tiny update above fits in a
     * page it already has. Undone inside the transaction, it leaves nothing behind.
     */
    rc = vn__sq_exec(s, VN_SQ_SAVEPOINT, "SAVEPOINT vn_job");
    if (rc)
        goto out;
    q = vn__sq_stmt(s, VN_SQ_HEALTH_PROBE,
                    "INSERT INTO health_probe(payload) VALUES (zeroblob(65536))");
    rc = q ? vn__sq_done(s, q) : VN_ESTORE;
    if (rc)
        goto out;
    rc = sqlite_rollback_to(st);
out:
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return sqlite_commit(st);
}

static const struct vn_store_ops sqlite_ops = {
    .name = "sqlite",
    .free = sqlite_free,
    .schema_version = sqlite_schema_version,
    .describe = sqlite_describe,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .savepoint = sqlite_savepoint,
    .release = sqlite_release,
    .rollback_to = sqlite_rollback_to,
    .ping = sqlite_ping,
    .notification_insert = vn__sq_notification_insert,
    .notification_repeat = vn__sq_notification_repeat,
    .notification_set_state = vn__sq_notification_set_state,
    .notification_body = vn__sq_notification_body,
    .stored_ids = vn__sq_stored_ids,
    .quarantine = vn__sq_quarantine,
    .asset_adjust = vn__sq_asset_adjust,
    .assignment_insert = vn__sq_assignment_insert,
    .assignment_delete = vn__sq_assignment_delete,
    .user_upsert = vn__sq_user_upsert,
    .subscription_set_counts = vn__sq_subscription_set_counts,
    .seat_upsert = vn__sq_seat_upsert,
    .seat_delete = vn__sq_seat_delete,
    .location_tested = vn__sq_location_tested,
    .event_note = vn__sq_event_note,
    .event_failed_item = vn__sq_event_failed_item,
    .tokens = vn__sq_tokens,
    .tokens_version = vn__sq_tokens_version,
    .location_add = vn__sq_location_add,
    .location_remove = vn__sq_location_remove,
    .location_rotate = vn__sq_location_rotate,
    .query = vn__sq_query,
    .location_unrotate = vn__sq_location_unrotate,
    .config_ensure = vn__sq_config_ensure,
    .location_apple = vn__sq_location_apple,
    .apple_uids = vn__sq_apple_uids,
    .location_update = vn__sq_location_update,
    .sync_asset = vn__sq_sync_asset,
    .sync_assignment = vn__sq_sync_assignment,
    .sync_user = vn__sq_sync_user,
    .sync_subscription = vn__sq_sync_subscription,
    .sync_seat = vn__sq_sync_seat,
    .sync_sweep = vn__sq_sync_sweep,
    .sync_state_get = vn__sq_sync_state_get,
    .sync_state_put = vn__sq_sync_state_put,
    .event_track = vn__sq_event_track,
    .events_tracking = vn__sq_events_tracking,
    .event_tracking_update = vn__sq_event_tracking_update,
};
