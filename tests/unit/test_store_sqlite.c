/*
 * What only the SQLite backend does: file modes, WAL and PRAGMAs, migrations and their table,
 * URL parameters, busy timeout and size cap, the VFS (a failed fsync), files deleted under it,
 * and the documented columns an MDM reads (docs/SCHEMA.md). A real file database in a
 * temporary directory, so that WAL, file modes and a second connection are real. Everything
 * every backend must do is in test_store_contract.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include "store_impl.h" /* white-box: the copy catalog */

#define VN_TEST_DIR_PREFIX "/tmp/vn_test_sqlite_"
#define VN_TEST_SQLITE_ONLY
#include "store_test.h"

static size_t q(struct vn_store *st, enum vn_query which, const struct vn_filter *f, struct rows *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(vn_store_query(st, which, f, render, r), 0);
    return r->n;
}

static int64_t at(const char *iso)
{
    int64_t ms = 0;

    assert_int_equal(vn_time_parse(iso, &ms), 0);
    return ms;
}

static void record(struct vn_notification_record *r, const char *id, const char *uid,
                   const char *body, int64_t ms)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->uid = uid;
    r->type_name = "ASSET_COUNT";
    r->state = VN_NSTATE_APPLIED;
    r->body = body;
    r->body_len = strlen(body);
    vn_digest(body, r->body_len, r->digest);
    r->received_ms = ms;
}

static int insert_note(struct vn_store *st, const char *id, const char *uid, const char *body,
                       int64_t ms)
{
    struct vn_notification_record r;

    record(&r, id, uid, body, ms);
    return vn_store_notification_insert(st, &r);
}

/* Run one SQL text on a separate raw connection to the file (setup or inspection only). */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *path, const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        vn_strlcpy(out, (const char *)sqlite3_column_text(s, 0), outlen);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static double elapsed_s(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* ---- opening ---------------------------------------------------------------------------- */

static void test_open_creates_owner_only_file_in_wal_full(void **state)
{
    struct fx *f = *state;
    struct stat sb;
    char mode[16], wal[160];

    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* The WAL and shared-memory files SQLite creates take the database file's mode. */
    assert_int_equal(vn_store_ping(f->st), 0);
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* journal_mode is persistent: a fresh connection sees it. synchronous is per connection,
     * so the handle reports what PRAGMA synchronous answered after it set it. */
    raw_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    assert_non_null(strstr(vn_store_describe(f->st), "journal_mode=wal synchronous=full"));
    assert_non_null(strstr(vn_store_describe(f->st), "sqlite 3."));
    assert_non_null(strstr(vn_store_describe(f->st), f->path));
    assert_string_equal(vn_store_last_error(f->st), "");
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_OK);
}

static void test_migrations_recorded_and_idempotent(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    int cur = -1, want = -1;

    assert_int_equal(vn_store_schema_version(f->st, &cur, &want), 0);
    assert_true(want >= 1);
    assert_int_equal(cur, want);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations"), want);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations WHERE applied_at "
                                      "LIKE '____-__-__T__:__:__.___Z'"),
                     want);
    vn_store_free(f->st);
    f->st = vn_store_open(f->path, NULL, &err);
    assert_non_null(f->st);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations"), want);
    assert_int_equal(vn_store_schema_version(f->st, &cur, &want), 0);
    assert_int_equal(cur, want);
}

static void test_newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store_options ro = {.read_only = 1};

    vn_store_free(f->st);
    f->st = NULL;
    raw_exec(f->path, "INSERT INTO schema_migrations(version, applied_at) VALUES (99, 'x')");
    assert_null(vn_store_open(f->path, NULL, &err));
    assert_int_equal(err.code, VN_ESTORE);
    assert_non_null(strstr(err.msg, "newer"));
    assert_non_null(strstr(err.msg, "99"));
    vn_error_clear(&err);
    assert_null(vn_store_open(f->path, &ro, &err));
    assert_non_null(strstr(err.msg, "newer"));
}

static void test_foreign_database_is_refused(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    char other[160];

    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    raw_exec(other, "CREATE TABLE users(x)");
    assert_null(vn_store_open(other, NULL, &err));
    assert_int_equal(err.code, VN_ESTORE);
    assert_non_null(strstr(err.msg, "not a vppnotify database"));
    /* Nothing of ours was added to it. */
    assert_int_equal(raw_int(other, "SELECT count(*) FROM sqlite_schema"), 1);
}

static void test_read_only_never_creates(void **state)
{
    struct fx *f = *state;
    struct vn_store_options ro = {.read_only = 1};
    struct vn_error err = {0};
    char missing[160];

    /* Read-only never creates a database. */
    snprintf(missing, sizeof(missing), "%s/missing.db", f->dir);
    assert_null(vn_store_open(missing, &ro, &err));
    assert_int_equal(err.code, VN_EUNAVAIL);
    assert_non_null(strstr(err.msg, "missing.db"));
    assert_int_equal(access(missing, F_OK), -1);
}

static void test_urls(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store *s;
    char url[200];

    snprintf(url, sizeof(url), "sqlite:%s", f->path);
    s = vn_store_open(url, NULL, &err);
    assert_non_null(s);
    assert_non_null(strstr(vn_store_describe(s), f->path));
    assert_null(strstr(vn_store_describe(s), "sqlite:"));
    vn_store_free(s);

    assert_null(vn_store_open("sqlite:", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_null(vn_store_open("sqlite:?busy_timeout=1s", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "empty database path"));
}

static void test_url_parameters(void **state)
{
    struct fx *f = *state;
    struct vn_store_options o = {.params = "busy_timeout=7s&max_size=1G"};
    struct vn_error err = {0};
    struct vn_store *s;
    char url[300];

    /* The path is what precedes '?'; the parameters configure the backend. */
    snprintf(url, sizeof(url), "%s?busy_timeout=1500ms&max_size=64M", f->path);
    s = vn_store_open(url, NULL, &err);
    assert_non_null(s);
    assert_non_null(strstr(vn_store_describe(s), "busy_timeout=1500ms max_size=67108864"));
    assert_non_null(strstr(vn_store_describe(s), f->path));
    assert_null(strstr(vn_store_describe(s), "?"));
    vn_store_free(s);

    /* Defaults: 5 s, no cap. */
    assert_non_null(strstr(vn_store_describe(f->st), "busy_timeout=5s"));
    assert_null(strstr(vn_store_describe(f->st), "max_size"));

    /* Options' parameters apply beneath the URL's own: the URL wins, the rest stays. */
    snprintf(url, sizeof(url), "sqlite:%s?busy_timeout=2s", f->path);
    s = vn_store_open(url, &o, &err);
    assert_non_null(s);
    assert_non_null(strstr(vn_store_describe(s), "busy_timeout=2s max_size=1073741824"));
    vn_store_free(s);

    /* Percent-escapes are decoded in values. */
    snprintf(url, sizeof(url), "%s?busy_timeout=3%%73", f->path);
    s = vn_store_open(url, NULL, &err);
    assert_non_null(s);
    assert_non_null(strstr(vn_store_describe(s), "busy_timeout=3s"));
    vn_store_free(s);

    /* Errors name the parameter, its value and the limit; nothing is opened or created. */
    snprintf(url, sizeof(url), "%s/new.db?busy_timout=1s", f->dir);
    assert_null(vn_store_open(url, NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "unknown parameter 'busy_timout'"));
    assert_non_null(strstr(err.msg, "sqlite takes: busy_timeout, max_size"));
    snprintf(url, sizeof(url), "%s/new.db", f->dir);
    assert_int_equal(access(url, F_OK), -1);

    snprintf(url, sizeof(url), "%s?busy_timeout=soon", f->path);
    assert_null(vn_store_open(url, NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "busy_timeout 'soon' is not a duration from 0 to 10m"));
    snprintf(url, sizeof(url), "%s?busy_timeout=11m", f->path);
    assert_null(vn_store_open(url, NULL, &err));
    assert_non_null(strstr(err.msg, "busy_timeout '11m'"));
    snprintf(url, sizeof(url), "%s?max_size=-1", f->path);
    assert_null(vn_store_open(url, NULL, &err));
    assert_non_null(strstr(err.msg, "max_size '-1' is not a size"));
    snprintf(url, sizeof(url), "%s?max_size", f->path);
    assert_null(vn_store_open(url, NULL, &err));
    assert_non_null(strstr(err.msg, "parameter 'max_size' has no value"));
    snprintf(url, sizeof(url), "%s?Max_Size=1", f->path);
    assert_null(vn_store_open(url, NULL, &err));
    assert_non_null(strstr(err.msg, "'Max_Size' is not a parameter name"));
    snprintf(url, sizeof(url), "%s?busy_timeout=1%%0", f->path);
    assert_null(vn_store_open(url, NULL, &err));
    assert_non_null(strstr(err.msg, "value of 'busy_timeout' has a bad %-escape"));
    snprintf(url, sizeof(url), "%s?busy_timeout=%%00", f->path);
    assert_null(vn_store_open(url, NULL, &err));
    assert_non_null(strstr(err.msg, "bad %-escape"));
    o.params = "nonsense=1";
    assert_null(vn_store_open(f->path, &o, &err));
    assert_non_null(strstr(err.msg, "unknown parameter 'nonsense'"));
}

static void test_url_password_is_never_shown(void **state)
{
    struct vn_error err = {0};

    (void)state;
    /* Errors of a URL quote it without its password (PostgreSQL's: tests/pg/). */
    assert_null(vn_store_open("sqlite:/x/vn.db?password=hunter2&mode=1", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "password=***&mode=1"));
    assert_null(strstr(err.msg, "hunter2"));
}

/* ---- transactions ----------------------------------------------------------------------- */

static void test_ping_writes_health(void **state)
{
    struct fx *f = *state;
    char at1[64];

    assert_int_equal(vn_store_ping(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM health"), 1);
    raw_text(f->path, "SELECT at FROM health", at1, sizeof(at1));
    assert_int_equal(strlen(at1), 24);
    assert_int_equal(at1[23], 'Z');
    assert_int_equal(vn_store_ping(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM health"), 1);
    /* Not inside another transaction: ping is its own. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_ping(f->st), VN_ESTORE);
    assert_int_equal(vn_store_rollback(f->st), 0);
}

static void test_busy_writer_fails_within_busy_timeout(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    char url[200];
    struct vn_store *b;

    snprintf(url, sizeof(url), "sqlite:%s?busy_timeout=200ms", f->path);
    b = vn_store_open(url, NULL, &err);
    struct timespec t0;
    double took;

    assert_non_null(b);
    assert_int_equal(vn_store_begin(f->st), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(vn_store_begin(b), VN_EUNAVAIL); /* locked past the timeout */
    took = elapsed_s(&t0);
    assert_string_equal(vn_store_last_error(b), "database is locked");
    assert_int_equal(vn_store_last_class(b), VN_STORE_UNAVAILABLE);
    /* It waited for the other writer (busy_timeout), and gave up instead of hanging. */
    assert_true(took >= 0.1);
    assert_true(took < 5.0);
    /* Readers are not blocked by a writer in WAL mode. */
    {
        struct rows r;

        assert_int_equal(q(b, VN_Q_NOTIFICATIONS, NULL, &r), 0);
    }
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(vn_store_begin(b), 0);
    assert_int_equal(vn_store_commit(b), 0);
    vn_store_free(b);
}

static void test_max_db_bytes_gives_full(void **state)
{
    struct fx *f = *state;
    struct vn_store_options o = {0};
    struct vn_error err = {0};
    struct stat sb;
    struct rows r;
    char body[8192], id[32], params[64];
    int i, rc = 0;

    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    vn_store_free(f->st);
    assert_int_equal(stat(f->path, &sb), 0); /* the last close checkpointed the WAL */
    /* As --max-db-size passes it: a parameter of the options (the URL has none). */
    snprintf(params, sizeof(params), "max_size=%lld", (long long)sb.st_size + 16 * 4096);
    o.params = params;
    f->st = vn_store_open(f->path, &o, &err);
    assert_non_null(f->st);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "small", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    for (i = 0; i < 200 && rc == 0; i++) {
        snprintf(id, sizeof(id), "big-%d", i);
        assert_int_equal(vn_store_savepoint(f->st), 0); /* one job of a group commit */
        rc = insert_note(f->st, id, "u1", body, 2);
        if (rc == 0)
            assert_int_equal(vn_store_release(f->st), 0);
    }
    assert_int_equal(rc, VN_EFULL);
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_FULL);
    assert_true(i > 1); /* some fitted: the limit is the size given, not zero */
    assert_non_null(strstr(vn_store_last_error(f->st), "full"));
    /* SQLite rolled the whole transaction back: the batch fails, and says why, with the class
     * of the cause (full, not a retry that would fail the same way). */
    assert_int_equal(vn_store_rollback_to(f->st), VN_EFULL);
    assert_non_null(strstr(vn_store_last_error(f->st), "rolled back after: "));
    assert_non_null(strstr(vn_store_last_error(f->st), "full"));
    /* Nothing runs in the lost transaction's place: each statement would commit alone. */
    assert_int_equal(insert_note(f->st, "orphan", "u1", "{}", 3), VN_EFULL);
    assert_int_equal(vn_store_savepoint(f->st), VN_EFULL);
    assert_int_equal(vn_store_commit(f->st), VN_EFULL);
    assert_int_equal(vn_store_rollback(f->st), 0);
    /* The handle is still usable and what was committed is intact. */
    assert_int_equal(vn_store_ping(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 1);
    assert_non_null(strstr(r.text[0], "notificationId=small "));
}

/* ---- a VFS that fails fsync on demand, to see an I/O error as the daemon would ---------- */

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
};

static sqlite3_vfs *g_real_vfs;
static int g_fail_sync; /* 0, or the code every xSync returns */

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
    if (g_fail_sync)
        return g_fail_sync;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int shim_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int shim_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods shim_io = {
    2, /* no xFetch/xUnfetch: memory-mapped I/O stays off */
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_reserved,
    shim_file_control,
    shim_sector_size,
    shim_device,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    NULL,
    NULL,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    struct shim_file *p = (struct shim_file *)f;
    int rc;

    p->real = (sqlite3_file *)(p + 1);
    rc = g_real_vfs->xOpen(g_real_vfs, name, p->real, flags, out_flags);
    f->pMethods = p->real->pMethods ? &shim_io : NULL;
    return rc;
}
static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return g_real_vfs->xDelete(g_real_vfs, name, sync_dir);
}
static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return g_real_vfs->xAccess(g_real_vfs, name, flags, out);
}
static int shim_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return g_real_vfs->xFullPathname(g_real_vfs, name, n, out);
}
static int shim_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return g_real_vfs->xRandomness(g_real_vfs, n, out);
}
static int shim_sleep(sqlite3_vfs *vfs, int us)
{
    return g_real_vfs->xSleep(g_real_vfs, us);
}
static int shim_current_time(sqlite3_vfs *vfs, double *t)
{
    return g_real_vfs->xCurrentTime(g_real_vfs, t);
}
static int shim_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return g_real_vfs->xGetLastError(g_real_vfs, n, out);
}
static int shim_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
    return g_real_vfs->xCurrentTimeInt64(g_real_vfs, t);
}

static void test_failed_fsync_is_fatal_and_sticky(void **state)
{
    struct fx *f = *state;
    static sqlite3_vfs shim;
    struct vn_error err = {0};
    struct vn_store *s;

    g_real_vfs = sqlite3_vfs_find(NULL);
    assert_non_null(g_real_vfs);
    memset(&shim, 0, sizeof(shim));
    shim.iVersion = 2;
    shim.szOsFile = (int)sizeof(struct shim_file) + g_real_vfs->szOsFile;
    shim.mxPathname = g_real_vfs->mxPathname;
    shim.zName = "vn_fail_sync";
    shim.xOpen = shim_open;
    shim.xDelete = shim_delete;
    shim.xAccess = shim_access;
    shim.xFullPathname = shim_full_pathname;
    shim.xRandomness = shim_randomness;
    shim.xSleep = shim_sleep;
    shim.xCurrentTime = shim_current_time;
    shim.xGetLastError = shim_last_error;
    shim.xCurrentTimeInt64 = shim_current_time64;
    assert_int_equal(sqlite3_vfs_register(&shim, 1), SQLITE_OK);

    s = vn_store_open(f->path, NULL, &err); /* the default VFS is now the shim */
    assert_non_null(s);

    /* A COMMIT that fails busy leaves SQLite's transaction open: the store rolls it back so
     * the handle is reusable, what it held is not there, and the caller is told to run the
     * batch again. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(insert_note(s, "busy", "u1", "{}", 1), 0);
    g_fail_sync = SQLITE_BUSY;
    assert_int_equal(vn_store_commit(s), VN_ERETRY);
    g_fail_sync = 0;
    assert_string_equal(vn_store_last_error(s), "database is locked");
    assert_int_equal(vn_store_last_class(s), VN_STORE_RETRY);
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_commit(s), 0);
    assert_int_equal(insert_note(s, "busy", "u1", "{}", 1), 0); /* it was never committed */

    /* A failed fsync is an I/O error: the class is fatal. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(insert_note(s, "n1", "u1", "{}", 1), 0);
    g_fail_sync = SQLITE_IOERR_FSYNC;
    assert_int_equal(vn_store_commit(s), VN_EFATAL);
    g_fail_sync = 0;
    assert_int_equal(vn_store_last_class(s), VN_STORE_FATAL);
    assert_non_null(strstr(vn_store_last_error(s), "extended code 1034")); /* IOERR_FSYNC */
    /* The class stays fatal: the handle refuses everything but rollback and free (the daemon
     * stops), and a reconnect does not launder it. */
    assert_int_equal(vn_store_rollback(s), 0);
    assert_int_equal(vn_store_begin(s), VN_EFATAL);
    assert_int_equal(insert_note(s, "n2", "u1", "{}", 2), VN_EFATAL);
    assert_int_equal(vn_store_ping(s), VN_EFATAL);
    assert_int_equal(vn_store_reconnect(s), VN_EFATAL);
    assert_int_equal(vn_store_last_class(s), VN_STORE_FATAL);
    assert_non_null(strstr(vn_store_last_error(s), "extended code 1034"));
    /* Nothing of the failed commit is there; another handle is not marked and works. */
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_OK);
    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", 1), 0);
    assert_int_equal(insert_note(f->st, "n2", "u1", "{}", 2), 0);
    vn_store_free(s);
    sqlite3_vfs_unregister(&shim);
}

/* Remove the database's files (as rm -rf of its directory does, keeping the directory). */
static void remove_db_files(const struct fx *f)
{
    char p[160];

    assert_int_equal(unlink(f->path), 0);
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
}

static void test_deleted_database_is_unavailable_until_reconnected(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store *fresh;
    struct rows r;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "before", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    remove_db_files(f);

    /* SQLite would go on writing into the unlinked files: the store says it is unavailable. */
    assert_int_equal(vn_store_begin(f->st), VN_EUNAVAIL);
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_UNAVAILABLE);
    assert_non_null(strstr(vn_store_last_error(f->st), "is gone"));
    assert_non_null(strstr(vn_store_last_error(f->st), f->path));
    assert_int_equal(vn_store_ping(f->st), VN_EUNAVAIL);
    /* Reconnecting does not create a new, empty database in its place. */
    assert_int_equal(vn_store_reconnect(f->st), VN_EUNAVAIL);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_int_equal(vn_store_begin(f->st), VN_EUNAVAIL);

    /* Once a database is there again (the operator restored or made one), a reconnect finds
     * it, and the handle works on it. */
    fresh = vn_store_open(f->path, NULL, &err);
    assert_non_null(fresh);
    vn_store_free(fresh);
    assert_int_equal(vn_store_reconnect(f->st), 0);
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_OK);
    assert_string_equal(vn_store_last_error(f->st), "");
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 0); /* the new database */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "after", "u1", "{}", 2), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_ping(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications"), 1);
}

static void test_moved_database_is_unavailable_while_away(void **state)
{
    struct fx *f = *state;
    char away[160];

    snprintf(away, sizeof(away), "%s/away.db", f->dir);
    assert_int_equal(rename(f->path, away), 0);
    assert_int_equal(vn_store_ping(f->st), VN_EUNAVAIL);
    assert_int_equal(rename(away, f->path), 0);
    assert_int_equal(vn_store_ping(f->st), 0);
}

/* ---- the documented columns (docs/SCHEMA.md) -------------------------------------------- */

static void test_ledger_columns(void **state)
{
    struct fx *f = *state;
    struct vn_notification_record r;

    record(&r, "n1", "u1", "{\"a\":1}", at("2026-11-25T19:06:53.123Z"));
    r.event_id = "ev1";
    r.state = VN_NSTATE_STORED;
    r.error = "unknown notification type";
    assert_int_equal(vn_store_notification_insert(f->st, &r), 0);
    assert_int_equal(raw_int(f->path, "SELECT body_length FROM notifications"), 7);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications WHERE "
                                      "event_id = 'ev1' AND length(body_sha256) = 32 AND "
                                      "state = 'stored' AND error = 'unknown notification type' "
                                      "AND received_at = '2026-11-25T19:06:53.123Z'"),
                     1);
    /* Applied by a replay: the reason goes. */
    assert_int_equal(vn_store_notification_set_state(f->st, "n1", VN_NSTATE_APPLIED, NULL), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications WHERE error IS NULL "
                                      "AND state = 'applied'"),
                     1);
}

/*
 * The ledger's received_at, formatted from a cache of the last second (sqlite.c vn__sq_iso):
 * right across a second's end, back to an earlier second, and at the first second of a
 * minute, hour and year.
 */
static void test_received_at_across_seconds(void **state)
{
    struct fx *f = *state;
    static const char *const times[] = {
        "2026-11-25T19:06:53.999Z", "2026-11-25T19:06:54.000Z", "2026-11-25T19:06:54.007Z",
        "2026-11-25T19:06:53.040Z", "2026-12-31T23:59:59.999Z", "2027-01-01T00:00:00.000Z",
        "2027-01-01T00:00:00.100Z", "1970-01-01T00:00:00.001Z",
    };
    char id[16], sql[160], got[40];

    assert_int_equal(vn_store_begin(f->st), 0);
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        snprintf(id, sizeof(id), "t%zu", i);
        assert_int_equal(insert_note(f->st, id, "u1", "{}", at(times[i])), 0);
    }
    assert_int_equal(vn_store_commit(f->st), 0);
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        snprintf(sql, sizeof(sql),
                 "SELECT received_at FROM notifications WHERE notification_id = 't%zu'", i);
        raw_text(f->path, sql, got, sizeof(got));
        assert_string_equal(got, times[i]);
    }
}

/*
 * Optimistic mode on SQLite (store.h vn_store_optimistic, the writer's group commits): refused
 * outside a transaction; savepoints become no-ops, so a job cannot undo its own writes and
 * rolling back to one says "run it all again"; the rollback then leaves nothing; the next
 * transaction is guarded again, where a job's failure is its own.
 */
static void test_optimistic_transactions(void **state)
{
    struct fx *f = *state;

    assert_int_equal(vn_store_optimistic(f->st), VN_ESTORE); /* no transaction */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "a", "u1", "{}", 1000), 0);
    assert_int_equal(vn_store_release(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "b", "u1", "{}", 1000), 0);
    assert_int_equal(insert_note(f->st, "b", "u1", "{}", 1000), VN_EDUP); /* read as ever */
    assert_int_equal(vn_store_rollback_to(f->st), VN_ERETRY);
    assert_non_null(strstr(vn_store_last_error(f->st), "optimistic"));
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications"), 0);

    /* Committed whole when nothing failed. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(insert_note(f->st, "a", "u1", "{}", 1000), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications"), 1);

    /* Guarded again: one job's writes undone alone, the others' kept. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "c", "u1", "{}", 1000), 0);
    assert_int_equal(vn_store_rollback_to(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "d", "u1", "{}", 1000), 0);
    assert_int_equal(vn_store_release(f->st), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications WHERE "
                                      "notification_id = 'c'"),
                     0);
}

/*
 * Migration 16: the change log's key-change triggers name their key columns. An UPDATE that
 * changes a key still marks the old key and the new one; one that changes only data marks the
 * key once, as before.
 */
static void test_key_change_still_marks_both_keys(void **state)
{
    struct fx *f = *state;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM change_dirty"), 0); /* flushed */
    raw_exec(f->path, "UPDATE assets SET adam_id = '2' WHERE adam_id = '1'");
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM change_dirty WHERE kind = 'asset' "
                                      "AND ((k1 = '1' AND existed = 1) OR "
                                      "(k1 = '2' AND existed = 0))"),
                     2);
    raw_exec(f->path, "DELETE FROM change_dirty; UPDATE assets SET total_count = 5");
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM change_dirty WHERE kind = 'asset' "
                                      "AND k1 = '2' AND existed = 1"),
                     1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM change_dirty"), 1);
}

/*
 * batch.c: in an optimistic transaction the asset counts are kept in memory and written once.
 * The result must be what the upserts give, one by one: the same deltas (overflow edges, new
 * and existing assets, sums leaving the range and coming back) applied to one asset in guarded
 * transactions and to its twin in optimistic ones end with the same counts and needsSync.
 */
static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_optimistic_asset_counts_match_the_upserts(void **state)
{
    struct fx *f = *state;
    /* Mostly small deltas (so that each condition of needsSync decides some rounds alone),
     * a quarter at the edges of int64. */
    static const long long small[] = {0, 1, -1, 2, -2, 5, -5, 20};
    static const long long edge[] = {INT64_MAX, INT64_MIN,    INT64_MAX - 1, INT64_MIN + 1,
                                     1LL << 62, -(1LL << 62), 1000,          -1000};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char g[16], o[16], sql[96];
    const int rounds = 400;

    for (int i = 0; i < rounds; i++) {
        int steps = 1 + (int)(xorshift(&x) % 4), existing = (int)(xorshift(&x) % 2);
        long long seq[4][3], t0 = (long long)(xorshift(&x) % 8), a0 = (long long)(xorshift(&x) % 8);

        snprintf(g, sizeof(g), "g%d", i);
        snprintf(o, sizeof(o), "o%d", i);
        for (int k = 0; k < steps; k++)
            for (int c = 0; c < 3; c++)
                seq[k][c] = xorshift(&x) % 4 ? small[xorshift(&x) % 8] : edge[xorshift(&x) % 8];
        if (existing) { /* both start from the same committed row, needsSync cleared */
            assert_int_equal(vn_store_begin(f->st), 0);
            assert_int_equal(vn_store_asset_adjust(f->st, "u1", g, "STDQ", t0, a0, t0 - a0), 0);
            assert_int_equal(vn_store_asset_adjust(f->st, "u1", o, "STDQ", t0, a0, t0 - a0), 0);
            assert_int_equal(vn_store_commit(f->st), 0);
            snprintf(sql, sizeof(sql),
                     "UPDATE assets SET needs_sync = 0 WHERE adam_id IN ('%s', '%s')", g, o);
            raw_exec(f->path, sql);
        }
        assert_int_equal(vn_store_begin(f->st), 0);
        for (int k = 0; k < steps; k++)
            assert_int_equal(
                vn_store_asset_adjust(f->st, "u1", g, "STDQ", seq[k][0], seq[k][1], seq[k][2]), 0);
        assert_int_equal(vn_store_commit(f->st), 0);
        assert_int_equal(vn_store_begin(f->st), 0);
        assert_int_equal(vn_store_optimistic(f->st), 0);
        for (int k = 0; k < steps; k++)
            assert_int_equal(
                vn_store_asset_adjust(f->st, "u1", o, "STDQ", seq[k][0], seq[k][1], seq[k][2]), 0);
        assert_int_equal(vn_store_commit(f->st), 0);
    }
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM assets AS g JOIN assets AS o "
                                      "ON o.adam_id = 'o' || substr(g.adam_id, 2) "
                                      "WHERE g.adam_id LIKE 'g%'"),
                     rounds);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM assets AS g JOIN assets AS o "
                                      "ON o.adam_id = 'o' || substr(g.adam_id, 2) "
                                      "WHERE g.adam_id LIKE 'g%' AND "
                                      "(g.total_count IS NOT o.total_count OR "
                                      "g.assigned_count IS NOT o.assigned_count OR "
                                      "g.available_count IS NOT o.available_count OR "
                                      "g.needs_sync IS NOT o.needs_sync OR "
                                      "typeof(o.total_count) <> 'integer')"),
                     0);
    /* Some rounds did saturate and flag a sync (the test covers the edges it means to). */
    assert_true(raw_int(f->path, "SELECT count(*) FROM assets WHERE adam_id LIKE 'o%' AND "
                                 "total_count IN (9223372036854775807, -9223372036854775808)") > 0);
    /* The change log's last change of each optimistic asset shows its final counts. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM assets AS a WHERE a.adam_id LIKE 'o%' "
                                      "AND (SELECT c.row ->> '$.totalCount' FROM changes AS c "
                                      "WHERE c.kind = 'asset' AND c.row ->> '$.adamId' = "
                                      "a.adam_id ORDER BY c.seq DESC LIMIT 1) IS NOT "
                                      "a.total_count"),
                     0);
}

/*
 * The rows kept in memory are the truth only until another statement looks: a read on the
 * same handle inside the transaction sees every adjustment so far; a rollback forgets them;
 * the writes of a transaction with several assets all land.
 */
static void test_optimistic_asset_counts_seen_before_the_commit(void **state)
{
    struct fx *f = *state;
    struct vn_filter flt = {.adam_id = "1"};
    struct rows r;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 1, 0, 1), 0);
    assert_int_equal(q(f->st, VN_Q_ASSETS, &flt, &r), 1);
    assert_non_null(strstr(r.text[0], "totalCount=3"));
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 2, 0, 2), 0);
    for (int i = 0; i < 20; i++) { /* more assets than are kept at once */
        char adam[8];
        snprintf(adam, sizeof(adam), "a%d", i);
        assert_int_equal(vn_store_asset_adjust(f->st, "u1", adam, "STDQ", i, 0, i), 0);
        assert_int_equal(vn_store_asset_adjust(f->st, "u1", adam, "STDQ", 1, 0, 1), 0);
    }
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT total_count FROM assets WHERE adam_id = '1'"), 5);
    assert_int_equal(raw_int(f->path, "SELECT sum(total_count) FROM assets WHERE adam_id "
                                      "LIKE 'a%'"),
                     190 + 20);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 100, 0, 100), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(raw_int(f->path, "SELECT total_count FROM assets WHERE adam_id = '1'"), 6);
}

static void test_quarantine_keeps_capped_body_and_original_length(void **state)
{
    struct fx *f = *state;
    struct vn_filter fl = {.limit = 1};
    struct rows rows;

    assert_int_equal(vn_store_quarantine(f->st, at("2026-11-25T19:06:53.000Z"), "10.0.0.7",
                                         "body is not JSON", "{not js", 7, 70000),
                     0);
    assert_int_equal(vn_store_quarantine(f->st, at("2026-11-25T19:06:54.000Z"), NULL,
                                         "envelope lacks uId", "", 0, 0),
                     0);
    assert_int_equal(q(f->st, VN_Q_QUARANTINE, NULL, &rows), 2);
    assert_string_equal(rows.text[0], "id=1 receivedAt=2026-11-25T19:06:53.000Z "
                                      "remoteAddr=10.0.0.7 reason=body is not JSON "
                                      "bodyLength=70000");
    assert_string_equal(rows.text[1], "id=2 receivedAt=2026-11-25T19:06:54.000Z "
                                      "remoteAddr=null reason=envelope lacks uId bodyLength=0");
    assert_int_equal(raw_int(f->path, "SELECT length(body) FROM quarantine WHERE id = 1"), 7);
    assert_int_equal(q(f->st, VN_Q_QUARANTINE, &fl, &rows), 1);
}

/* Counts stay integers (issue 10 item 9): SQLite would store an overflowing sum as REAL. */
static void test_counts_stay_integers_past_int64(void **state)
{
    struct fx *f = *state;
    char type[64];

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", INT64_MAX, 0, INT64_MAX), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", INT64_MAX, 0, INT64_MAX), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 0, INT64_MIN, 0), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 0, -1, 0), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    raw_text(f->path,
             "SELECT typeof(total_count) || typeof(assigned_count) || typeof(available_count) "
             "FROM assets",
             type, sizeof(type));
    assert_string_equal(type, "integerintegerinteger");
    assert_int_equal(raw_int(f->path, "SELECT total_count = 9223372036854775807 AND "
                                      "assigned_count = -9223372036854775807 - 1 AND needs_sync "
                                      "FROM assets"),
                     1);
}

/* The migrations, as the backend applies them (src/lib/store/sqlite/schema.c). */
extern const char *const vn__sqlite_migrations[];

/* A database where an overflow before issue 10 left REAL counts: migration 5 makes them the
 * nearest integers (CAST saturates) and marks the asset for a sync. */
static void test_migration_5_turns_real_counts_into_integers(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    char type[40];

    /* A database an older release left at schema 4 (built by hand: the migrations after 5
     * need not run twice), where an overflow made a count REAL. */
    vn_store_free(f->st);
    f->st = NULL;
    unlink(f->path);
    raw_exec(f->path, "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY,"
                      " applied_at TEXT NOT NULL);");
    for (int v = 1; v <= 4; v++) {
        char rec[128];
        raw_exec(f->path, vn__sqlite_migrations[v - 1]);
        snprintf(rec, sizeof(rec),
                 "INSERT INTO schema_migrations VALUES (%d, '2026-01-01T00:00:00.000Z')", v);
        raw_exec(f->path, rec);
    }
    raw_exec(f->path, "INSERT INTO assets(uid, adam_id, pricing_param, total_count, "
                      "assigned_count, available_count, needs_sync, updated_at) VALUES "
                      "('u1', '1', 'STDQ', 5, 1, 4, 0, '2026-01-01T00:00:00.000Z'),"
                      "('u1', '2', 'STDQ', 7, 0, 7, 0, '2026-01-01T00:00:00.000Z');"
                      "UPDATE assets SET total_count = 9223372036854775807 + 10, "
                      "available_count = -9223372036854775807 - 10 WHERE adam_id = '1';");
    raw_text(f->path, "SELECT typeof(total_count) FROM assets WHERE adam_id = '1'", type,
             sizeof(type));
    assert_string_equal(type, "real");

    f->st = vn_store_open(f->path, NULL, &err);
    assert_non_null(f->st);
    raw_text(f->path,
             "SELECT group_concat(typeof(total_count) || typeof(available_count), ',') FROM assets",
             type, sizeof(type));
    assert_string_equal(type, "integerinteger,integerinteger");
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM assets WHERE adam_id = '1' AND "
                                      "total_count = 9223372036854775807 AND assigned_count = 1 "
                                      "AND available_count = -9223372036854775807 - 1 AND "
                                      "needs_sync = 1"),
                     1);
    /* The other asset is untouched. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM assets WHERE adam_id = '2' AND "
                                      "total_count = 7 AND needs_sync = 0"),
                     1);
}

/* Tables a copy leaves out on purpose (copy.c). */
static int not_copied(const char *table)
{
    static const char *const derived[] = {"schema_migrations", "token_epoch", "health",
                                          "health_probe",      "leases",      "api_key_epoch",
                                          "change_dirty"};

    for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
        if (!strcmp(table, derived[i]))
            return 1;
    return 0;
}

/* vppnotify store copy must move every column of every table: the catalog is held against the
 * tables of a new database (a column added by a migration and not to copy.c fails here). */
static void test_copy_catalog_covers_every_table_and_column(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *tables = NULL, *cols = NULL;
    size_t seen = 0;

    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &cols, NULL),
        SQLITE_OK);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        const struct vn__copy_table *tab = NULL;
        size_t n = 0;

        if (not_copied(name))
            continue;
        for (size_t t = 0; t < vn__copy_table_count; t++)
            if (!strcmp(vn__copy_tables[t].name, name))
                tab = &vn__copy_tables[t];
        if (!tab)
            fail_msg("table %s is not in the copy catalog (src/lib/store/copy.c)", name);
        sqlite3_bind_text(cols, 1, name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(cols) == SQLITE_ROW) {
            const char *col = (const char *)sqlite3_column_text(cols, 0);
            int found = 0;

            for (size_t k = 0; k < tab->n; k++)
                found |= !strcmp(tab->cols[k], col);
            if (!found)
                fail_msg("column %s.%s is not in the copy catalog", name, col);
            n++;
        }
        sqlite3_reset(cols);
        assert_int_equal(n, tab->n); /* and the catalog names no column the table lacks */
        seen++;
    }
    assert_int_equal(seen, vn__copy_table_count);
    sqlite3_finalize(cols);
    sqlite3_finalize(tables);
    sqlite3_close(db);
}

/* A database left at schema 3 by an older release, with counted repeats, is migrated to the
 * repeats log without losing a count (regression: migration 4 moved the counters). */
static void test_migration_4_keeps_repeat_counts(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    char path[160];
    struct rows r;
    sqlite3 *db;

    vn_store_free(f->st);
    f->st = NULL;
    snprintf(path, sizeof(path), "%s/old.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY,"
                                  " applied_at TEXT NOT NULL);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    for (int v = 1; v <= 3; v++) {
        char rec[128];
        assert_int_equal(sqlite3_exec(db, vn__sqlite_migrations[v - 1], NULL, NULL, NULL),
                         SQLITE_OK);
        snprintf(rec, sizeof(rec),
                 "INSERT INTO schema_migrations VALUES (%d, '2026-01-01T00:00:00.000Z')", v);
        assert_int_equal(sqlite3_exec(db, rec, NULL, NULL, NULL), SQLITE_OK);
    }
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO notifications(notification_id, uid, notification_type, state,"
                     " body, body_sha256, body_length, received_at, duplicates, conflicts) VALUES"
                     " ('a', 'u1', 'ASSET_COUNT', 'applied', x'7b7d', randomblob(32), 2,"
                     "  '2026-01-01T00:00:00.000Z', 3, 1),"
                     " ('b', 'u1', 'ASSET_COUNT', 'applied', x'7b7d', randomblob(32), 2,"
                     "  '2026-01-01T00:00:01.000Z', 0, 0)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    f->st = vn_store_open(path, NULL, &err);
    assert_non_null(f->st);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 2);
    assert_non_null(strstr(r.text[0], "notificationId=a "));
    assert_non_null(strstr(r.text[0], "duplicates=3 conflicts=1"));
    assert_non_null(strstr(r.text[1], "notificationId=b "));
    assert_non_null(strstr(r.text[1], "duplicates=0 conflicts=0"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_creates_owner_only_file_in_wal_full),
        T(test_migrations_recorded_and_idempotent),
        T(test_newer_schema_is_refused),
        T(test_foreign_database_is_refused),
        T(test_read_only_never_creates),
        T(test_urls),
        T(test_url_parameters),
        T(test_url_password_is_never_shown),
        T(test_ping_writes_health),
        T(test_busy_writer_fails_within_busy_timeout),
        T(test_max_db_bytes_gives_full),
        T(test_failed_fsync_is_fatal_and_sticky),
        T(test_deleted_database_is_unavailable_until_reconnected),
        T(test_moved_database_is_unavailable_while_away),
        T(test_ledger_columns),
        T(test_received_at_across_seconds),
        T(test_optimistic_transactions),
        T(test_key_change_still_marks_both_keys),
        T(test_optimistic_asset_counts_match_the_upserts),
        T(test_optimistic_asset_counts_seen_before_the_commit),
        T(test_quarantine_keeps_capped_body_and_original_length),
        T(test_counts_stay_integers_past_int64),
        T(test_migration_5_turns_real_counts_into_integers),
        T(test_migration_4_keeps_repeat_counts),
        T(test_copy_catalog_covers_every_table_and_column),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
