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
 * side), query.c (read queries), schema.c (migrations); backend.c puts them together. This
 * file calls none of them: what a transaction must run of theirs (batch.c's rows kept in
 * memory, api.c's change log) it runs through the hooks backend.c installed.
 */
#include "sqlite_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VN_SQ_BUSY_DEFAULT_MS 5000
#define VN_SQ_BUSY_MAX_MS     (600LL * 1000) /* as --db-busy-timeout */
#define VN_SQ_MAX_SIZE_MAX    (1LL << 50)    /* as --max-db-size */

/* ---- errors and statements ------------------------------------------------------------- */

/* The failure class of SQLite's result code rc, as a vn code; the message goes to s. */
static int classify(struct vn__sqlite *s, int rc)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_FULL:
        vn__store_set_error(&s->base, "%s", msg);
        return VN_EFULL;
    case SQLITE_BUSY:
        vn__store_set_error(&s->base, "database is locked");
        /*
         * Outside a transaction (BEGIN IMMEDIATE, a read) SQLite has waited busy_timeout for
         * the other writer: locked past the timeout. Inside one (a COMMIT that cannot get its
         * lock, a snapshot that moved) the batch can simply run again.
         */
        return s->txn_ms || rc == SQLITE_BUSY_SNAPSHOT ? VN_ERETRY : VN_EUNAVAIL;
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_INTERRUPT:
    case SQLITE_PROTOCOL:
    case SQLITE_SCHEMA:
    case SQLITE_ABORT:
        vn__store_set_error(&s->base, "%s", msg);
        return VN_ERETRY;
    case SQLITE_IOERR:
        vn__store_set_error(&s->base, "%s (sqlite extended code %d)", msg, rc);
        return rc == SQLITE_IOERR_NOMEM ? VN_ERETRY : VN_EFATAL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        vn__store_set_error(&s->base, "%s (sqlite extended code %d)", msg, rc);
        return VN_EFATAL;
    case SQLITE_CANTOPEN:
        vn__store_set_error(&s->base, "%s", msg);
        return VN_EUNAVAIL;
    case SQLITE_READONLY:
        vn__store_set_error(&s->base, "%s", msg);
        /* SQLITE_READONLY itself is a write on a read-only handle: misuse. The extended codes
         * (the file moved, cannot lock, cannot recover the WAL) mean the files changed. */
        return rc == SQLITE_READONLY ? VN_ESTORE : VN_EUNAVAIL;
    default:
        vn__store_set_error(&s->base, "%s", msg);
        return VN_ESTORE;
    }
}

int vn__sq_fail(struct vn__sqlite *s, int rc)
{
    int code = classify(s, rc);

    /*
     * SQLite rolls the whole transaction back by itself after some errors (SQLITE_FULL, an
     * I/O error, out of memory). Remember the class of that failure for rolled_back(); a
     * failure that alone would concern one job becomes a retry of the batch, since
     * everything before it in the transaction is gone too.
     */
    if (s->txn_ms && s->db && sqlite3_get_autocommit(s->db)) {
        if (vn_store_class_of(code) == VN_STORE_JOB) {
            char why[VN_ERROR_MSG_MAX];

            memcpy(why, s->base.last_error, sizeof(why));
            vn__store_set_error(&s->base, "%s (the transaction was rolled back)", why);
            code = VN_ERETRY;
        }
        if (!s->lost)
            s->lost = code;
    }
    return code;
}

/*
 * The caller's transaction is gone although the caller did not end it: SQLite rolls the whole
 * transaction back itself after SQLITE_FULL, an I/O error or out of memory in a statement.
 * Say so, keeping the reason (the failure just before) in the message, and return the class
 * of that failure when it was store-wide (full, fatal), else VN_ERETRY: the batch can run
 * again. Stays so (every statement refused) until the caller rolls back or begins anew.
 */
int vn__sq_lost(struct vn__sqlite *s, const char *what)
{
    char why[VN_ERROR_MSG_MAX];
    int code = s->lost ? s->lost : VN_ERETRY;

    if (strstr(s->base.last_error, "the transaction was rolled back"))
        return code; /* already said (rollback_to, then commit) */
    memcpy(why, s->base.last_error, sizeof(why));
    vn__store_set_error(&s->base, "%s: the transaction was rolled back%s%s", what,
                        why[0] ? " after: " : "", why);
    return code;
}

/* The statements that may run while batch.c keeps asset rows: the ledger's and its own. */
static int pending_ok(enum vn__sq_slot slot)
{
    switch (slot) {
    case VN_SQ_NOTIF_INSERT:
    case VN_SQ_NOTIF_REPEAT:
    case VN_SQ_NOTIF_REPEAT_LOG:
    case VN_SQ_ASSET_ADJUST: /* of a key not kept (batch.c said so) */
    case VN_SQ_ASSET_LOAD:
    case VN_SQ_ASSET_STORE:
    case VN_SQ_ASSET_CREATE:
        return 1;
    default:
        return 0;
    }
}

sqlite3_stmt *vn__sq_stmt(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql)
{
    int rc;

    /* Each statement run after SQLite dropped the caller's transaction would commit alone:
     * the head of a batch lost, its tail kept. Refuse until the caller rolls back. */
    if (s->txn_ms && sqlite3_get_autocommit(s->db)) {
        s->stmt_rc = vn__sq_lost(s, "cannot go on");
        return NULL;
    }
    /* Asset rows kept in memory (batch.c) go to the table before any other statement. */
    if (s->nassets && !pending_ok(slot)) {
        rc = s->hooks->pending_flush(s);
        if (rc) {
            s->stmt_rc = rc;
            return NULL;
        }
    }
    if (s->stmt[slot])
        return s->stmt[slot];
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[slot], NULL);
    if (rc != SQLITE_OK) {
        s->stmt_rc = vn__sq_fail(s, rc);
        sqlite3_finalize(s->stmt[slot]);
        s->stmt[slot] = NULL;
    }
    return s->stmt[slot];
}

/*
 * Step st to its end. A write outside any transaction runs in a transaction of its own (what
 * SQLite's autocommit would do), so that the commit's change-log flush (api.c) covers it like
 * every other write. *changed (may be NULL) gets the rows st changed.
 */
static int step_write(struct vn__sqlite *s, sqlite3_stmt *st, int *changed)
{
    int own = 0, rc, out = 0;

    if (!s->read_only && sqlite3_get_autocommit(s->db) && !sqlite3_stmt_readonly(st)) {
        out = s->base.ops->begin(&s->base);
        if (out) {
            sqlite3_reset(st);
            if (changed)
                *changed = 0;
            return out;
        }
        own = 1;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = vn__sq_fail(s, rc);
    if (changed)
        *changed = out ? 0 : sqlite3_changes(s->db);
    sqlite3_reset(st);
    if (own) {
        if (out)
            vn__sq_abort(s);
        else
            out = s->base.ops->commit(&s->base);
    }
    return out;
}

int vn__sq_run(struct vn__sqlite *s, sqlite3_stmt *st, int *changed)
{
    return step_write(s, st, changed);
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
    return step_write(s, st, NULL);
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

void vn__sq_iso(struct vn__sqlite *s, int64_t ms, char out[VN_TIME_ISO_LEN])
{
    /* Years 1970-9999: "YYYY-MM-DDTHH:MM:SS.mmmZ", the milliseconds at 20-22. */
    static const int64_t max_ms = 253402300800000LL;
    int64_t sec = ms / 1000;
    int frac = (int)(ms % 1000);

    if (ms < 0 || ms >= max_ms) {
        vn_time_iso(ms, out);
        return;
    }
    if (sec != s->iso_sec) {
        vn_time_iso(ms, s->iso_buf);
        s->iso_sec = sec;
    }
    memcpy(out, s->iso_buf, VN_TIME_ISO_LEN);
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
}

int vn__sq_exec(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql)
{
    sqlite3_stmt *st = vn__sq_stmt(s, slot, sql);
    int rc, out = 0;

    if (!st)
        return s->stmt_rc;
    /* Transaction control (BEGIN IMMEDIATE is not "read-only" to SQLite): stepped as it is. */
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = vn__sq_fail(s, rc);
    sqlite3_reset(st);
    return out;
}

void vn__sq_abort(struct vn__sqlite *s)
{
    char keep[VN_ERROR_MSG_MAX];

    s->txn_ms = 0;
    s->changes_seq = 0;
    s->hooks->pending_forget(s);
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
static int configure(struct vn__sqlite *s, struct vn_error *err)
{
    char mode[32], busy[32], cap[40] = "";
    char sql[96];
    long long sync = 0, fk = 0, page_size = 0, pages;
    int rc;

    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, s->busy_timeout_ms > INT_MAX ? INT_MAX : (int)s->busy_timeout_ms);

    rc = one_text(s, s->read_only ? "PRAGMA journal_mode" : "PRAGMA journal_mode=WAL", mode,
                  sizeof(mode));
    if (rc)
        goto out;
    if (!s->read_only && !s->memory && strcmp(mode, "wal") != 0) {
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
    if (s->max_db_bytes > 0) {
        rc = one_int(s, "PRAGMA page_size", &page_size);
        if (rc)
            goto out;
        pages = s->max_db_bytes / (page_size > 0 ? page_size : 4096);
        if (pages < 1)
            pages = 1;
        /* PRAGMA takes no bound parameters: pages is an integer computed here. */
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", pages);
        rc = one_int(s, sql, &pages);
        if (rc)
            goto out;
    }
    vn_format_duration(s->busy_timeout_ms, busy, sizeof(busy));
    if (s->max_db_bytes > 0)
        snprintf(cap, sizeof(cap), " max_size=%lld", s->max_db_bytes);
    snprintf(s->describe, sizeof(s->describe),
             "sqlite %s '%s' journal_mode=%s synchronous=%s busy_timeout=%s%s%s",
             sqlite3_libversion(), s->path, mode, sync_name(sync), busy, cap,
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

static void close_db(struct vn__sqlite *s);

void vn__sq_free(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    close_db(s);
    if (s->mutex_tried && s->mutex_fd >= 0)
        close(s->mutex_fd); /* mutex.c's lock file: its locks end with it */
    free(s->path);
    free(s);
}

/*
 * Open s->db on s->path and bring it to this build's schema. create: make the file if it is
 * missing (vn_store_open); without it a missing file is an error (vn_store_reconnect). On
 * failure s->db may be set (the caller closes it) and err says why.
 */
static int connect_db(struct vn__sqlite *s, int create, struct vn_error *err)
{
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc;

    if (!s->read_only && !s->memory && create) {
        rc = create_file(s->path, err);
        if (rc)
            return rc;
    }
    if (s->read_only)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE | (create || s->memory ? SQLITE_OPEN_CREATE : 0);
    rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (rc != SQLITE_OK)
        return vn_error_set(err, rc == SQLITE_CANTOPEN ? VN_EUNAVAIL : VN_ESTORE,
                            "cannot open database '%s': %s", s->path,
                            s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    if (!s->read_only && sqlite3_db_readonly(s->db, "main") == 1)
        return vn_error_set(err, VN_ESTORE,
                            "cannot open database '%s' for writing: "
                            "permission denied",
                            s->path);
    vn_error_clear(err);
    rc = configure(s, err);
    if (!rc)
        rc = migrate(s, err);
    return rc;
}

static void close_db(struct vn__sqlite *s)
{
    size_t i;

    for (i = 0; i < VN_SQ__COUNT; i++) {
        sqlite3_finalize(s->stmt[i]);
        s->stmt[i] = NULL;
    }
    sqlite3_close(s->db);
    s->db = NULL;
}

/*
 * Process-wide settings, before SQLite initialises (the first open): no memory statistics.
 * Nothing here reads them (sqlite3_memory_used), and keeping them takes a global mutex around
 * every allocation SQLite makes: Debian's build has no lookaside, so a statement's cursors and
 * a trigger's frame are malloc'd at each run (about 100 allocations per ASSET_COUNT). If
 * SQLite was initialised already, the call is refused and nothing changes.
 */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void sqlite_process_config(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct vn_store *vn__sq_open(struct vn__store_url *u, const struct vn_store_options *opts,
                             const struct vn_store_ops *ops, const struct vn__sq_hooks *hooks,
                             struct vn_error *err)
{
    const char *path = u->target;
    struct vn__sqlite *s;
    int rc;

    pthread_once(&sqlite_once, sqlite_process_config);
    s = calloc(1, sizeof(*s));
    if (!s) {
        vn_error_set(err, -ENOMEM, "cannot open database '%s': out of memory", path);
        return NULL;
    }
    s->base.ops = ops;
    s->hooks = hooks;
    s->iso_sec = -1;
    s->read_only = opts->read_only;
    s->memory = strcmp(path, ":memory:") == 0;
    rc = vn__store_param_duration(u, "busy_timeout", VN_SQ_BUSY_DEFAULT_MS, VN_SQ_BUSY_MAX_MS,
                                  &s->busy_timeout_ms, err);
    if (!rc)
        rc = vn__store_param_size(u, "max_size", 0, VN_SQ_MAX_SIZE_MAX, &s->max_db_bytes, err);
    if (!rc)
        rc = vn__store_params_done(u, "busy_timeout, max_size", err);
    if (rc)
        goto fail;
    s->path = strdup(path);
    if (!s->path) {
        vn_error_set(err, -ENOMEM, "cannot open database '%s': out of memory", path);
        goto fail;
    }
    rc = connect_db(s, 1, err);
    if (rc)
        goto fail;
    return &s->base;
fail:
    vn__sq_free(&s->base);
    return NULL;
}

int vn__sq_schema_version(struct vn_store *st, int *current, int *expected)
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

const char *vn__sq_describe(struct vn_store *st)
{
    return vn__sq(st)->describe;
}

/* ---- transactions ---------------------------------------------------------------------- */

/*
 * VN_EUNAVAIL when the database file was deleted or replaced since it was opened (rm -rf of
 * its directory): SQLite would go on writing into the unlinked files, and every commit would
 * "succeed" into nothing. One stat(2) of the path, compared with the open file's inode.
 */
static int check_file(struct vn__sqlite *s)
{
    int moved = 0;

    if (s->memory)
        return 0;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
        moved = 0; /* a VFS without the check: nothing to learn */
    if (!moved)
        return 0;
    vn__store_set_error(&s->base,
                        "database file '%s' is gone: deleted or replaced since it was "
                        "opened",
                        s->path);
    return VN_EUNAVAIL;
}

/* A savepoint operation found no transaction: SQLite dropped it (vn__sq_lost), or the caller
 * never began one (misuse). */
static int no_transaction(struct vn__sqlite *s, const char *what)
{
    if (s->txn_ms)
        return vn__sq_lost(s, what);
    vn__store_set_error(&s->base, "%s: no transaction is open", what);
    return VN_ESTORE;
}

int vn__sq_begin(struct vn_store *st)
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
    s->txn_ms = 0; /* a transaction SQLite dropped, and the caller did not roll back */
    s->optimistic = 0;
    s->hooks->pending_forget(s);
    rc = check_file(s);
    if (rc)
        return rc;
    rc = vn__sq_exec(s, VN_SQ_BEGIN, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    s->lost = 0;
    s->txn_ms = vn_now_ms();
    vn__sq_iso(s, s->txn_ms, s->txn_iso);
    return 0;
}

int vn__sq_rollback(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    s->txn_ms = 0;
    s->optimistic = 0;
    s->hooks->pending_forget(s);
    if (sqlite3_get_autocommit(s->db))
        return 0;
    return vn__sq_exec(s, VN_SQ_ROLLBACK, "ROLLBACK");
}

int vn__sq_commit(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    int rc;

    if (sqlite3_get_autocommit(s->db)) {
        if (!s->txn_ms) {
            vn__store_set_error(st, "cannot commit: no transaction is open");
            return VN_ESTORE;
        }
        rc = vn__sq_lost(s, "cannot commit");
        s->txn_ms = 0;
        return rc;
    }
    rc = s->hooks->pending_flush(s); /* rows kept in memory (batch.c) */
    if (!rc)
        rc = s->hooks->before_commit(s); /* the change log, in this transaction (api.c) */
    if (!rc)
        rc = vn__sq_exec(s, VN_SQ_COMMIT, "COMMIT");
    if (rc)
        vn__sq_abort(s); /* leave the handle reusable; keep why the commit failed */
    else
        s->hooks->committed(s);
    s->txn_ms = 0;
    s->optimistic = 0;
    return rc;
}

int vn__sq_savepoint(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    /* SAVEPOINT outside a transaction would start a deferred one: refuse. */
    if (sqlite3_get_autocommit(s->db))
        return no_transaction(s, "cannot open a savepoint");
    if (s->optimistic)
        return 0; /* nothing to undo to: a failure fails the whole transaction */
    return vn__sq_exec(s, VN_SQ_SAVEPOINT, "SAVEPOINT vn_job");
}

/*
 * store.h vn_store_optimistic, until the transaction ends. A savepoint costs no round trip
 * here, but it is not free: SQLite copies every page a job changes that an earlier job of the
 * batch had changed already into its sub-journal (4 KiB each, several per notification), and
 * opens and closes the savepoint's bookkeeping around every job.
 */
int vn__sq_optimistic(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    if (sqlite3_get_autocommit(s->db))
        return no_transaction(s, "cannot run optimistically");
    s->optimistic = 1;
    return 0;
}

int vn__sq_release(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);

    if (sqlite3_get_autocommit(s->db))
        return no_transaction(s, "cannot release the savepoint");
    if (s->optimistic)
        return 0;
    return vn__sq_exec(s, VN_SQ_RELEASE, "RELEASE vn_job");
}

int vn__sq_rollback_to(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    int rc;

    /* After SQLITE_FULL or an I/O error SQLite has rolled back the whole transaction. */
    if (sqlite3_get_autocommit(s->db))
        return no_transaction(s, "cannot roll back to the savepoint");
    if (s->optimistic) {
        vn__store_set_error(st, "a job failed in an optimistic transaction, which has no "
                                "savepoint to roll back to: the whole transaction runs again");
        return VN_ERETRY;
    }
    rc = vn__sq_exec(s, VN_SQ_ROLLBACK_TO, "ROLLBACK TO vn_job");
    if (!rc)
        rc = vn__sq_exec(s, VN_SQ_RELEASE, "RELEASE vn_job");
    return rc;
}

int vn__sq_ping(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    sqlite3_stmt *q;
    int rc;

    rc = vn__sq_begin(st);
    if (rc)
        return rc;
    q = vn__sq_stmt(s, VN_SQ_HEALTH,
                    "INSERT INTO health(id, at) VALUES (1, ?1) "
                    "ON CONFLICT(id) DO UPDATE SET at = excluded.at");
    if (!q) {
        rc = s->stmt_rc;
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
    rc = q ? vn__sq_done(s, q) : s->stmt_rc;
    if (rc)
        goto out;
    rc = vn__sq_rollback_to(st);
out:
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return vn__sq_commit(st);
}

int vn__sq_reconnect(struct vn_store *st)
{
    struct vn__sqlite *s = vn__sq(st);
    sqlite3 *old_db = s->db;
    sqlite3_stmt *old_stmt[VN_SQ__COUNT];
    struct vn_error err = {0};
    struct stat sb;
    int rc;

    if (s->memory)
        return 0; /* nothing to lose the connection to */
    vn__sq_rollback(st);
    s->txn_ms = 0;
    /* A database that has gone is not made anew: that would hide the loss. */
    if (stat(s->path, &sb) != 0) {
        vn__store_set_error(st, "cannot reopen database '%s': %s", s->path, strerror(errno));
        return VN_EUNAVAIL;
    }
    memcpy(old_stmt, s->stmt, sizeof(old_stmt));
    memset(s->stmt, 0, sizeof(s->stmt));
    s->db = NULL;
    rc = connect_db(s, 0, &err);
    if (rc) {
        close_db(s); /* the new connection, if any */
        s->db = old_db;
        memcpy(s->stmt, old_stmt, sizeof(old_stmt));
        vn__store_set_error(st, "%s", err.msg);
        return vn_store_class_of(rc) == VN_STORE_JOB ? VN_EUNAVAIL : rc;
    }
    for (size_t i = 0; i < VN_SQ__COUNT; i++)
        sqlite3_finalize(old_stmt[i]);
    sqlite3_close(old_db);
    return 0;
}
