/*
 * Unit tests of the store (store.h) on its SQLite backend, with a real file database in a
 * temporary directory so that WAL, file modes and a second connection are real.
 *
 * Query results are checked as a user sees them: each row rendered "key=value ..." in the
 * order of its keys (see render()).
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

#define VN_TEST_DIR_PREFIX "/tmp/vn_test_store_"
#include "store_test.h"

static size_t q(struct vn_store *st, enum vn_query which, const struct vn_filter *f, struct rows *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(vn_store_query(st, which, f, render, r), 0);
    return r->n;
}

static void digest_of(const char *token, uint8_t d[VN_DIGEST_LEN])
{
    vn_digest(token, strlen(token), d);
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

static void test_read_only_open(void **state)
{
    struct fx *f = *state;
    struct vn_store_options ro = {.read_only = 1};
    struct vn_error err = {0};
    struct vn_store *r;
    struct rows rows;
    char missing[160];
    int cur, want;

    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", at("2026-01-02T03:04:05.006Z")), 0);
    r = vn_store_open(f->path, &ro, &err);
    assert_non_null(r);
    assert_non_null(strstr(vn_store_describe(r), "read-only"));
    assert_int_equal(vn_store_schema_version(r, &cur, &want), 0);
    assert_int_equal(cur, want);
    assert_int_equal(q(r, VN_Q_NOTIFICATIONS, NULL, &rows), 1);
    assert_int_equal(vn_store_begin(r), VN_ESTORE);
    assert_int_equal(insert_note(r, "n2", "u1", "{}", 0), VN_ESTORE);
    assert_int_equal(vn_store_ping(r), VN_ESTORE);
    assert_non_null(strstr(vn_store_last_error(r), "read-only"));
    vn_store_free(r);

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

    assert_null(vn_store_open("postgresql://db.example/vpp", NULL, &err));
    assert_int_equal(err.code, VN_ENOTSUP);
    assert_string_equal(err.msg, "PostgreSQL support is not built yet; use a file path");
    vn_error_clear(&err);
    assert_null(vn_store_open("postgres://db.example/vpp", NULL, &err));
    assert_int_equal(err.code, VN_ENOTSUP);

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
    assert_null(vn_store_open("postgresql://vpp:s3cret@db.example:5432/vpp?password=s3cret2&x=1",
                              NULL, &err));
    assert_int_equal(err.code, VN_ENOTSUP);
    assert_null(strstr(err.msg, "s3cret"));
    /* Errors of a URL quote it without its password. */
    assert_null(vn_store_open("sqlite:/x/vn.db?password=hunter2&mode=1", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "password=***&mode=1"));
    assert_null(strstr(err.msg, "hunter2"));
}

/* ---- transactions ----------------------------------------------------------------------- */

static void test_rollback_is_safe_without_a_transaction(void **state)
{
    struct fx *f = *state;
    struct rows r;

    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), VN_ESTORE); /* not inside a transaction */
    assert_int_equal(vn_store_commit(f->st), VN_ESTORE);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), VN_ESTORE); /* one at a time */
    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 1);
}

static void test_savepoint_rollback_to_undoes_one_notification_only(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a = {.pricing_param = "STDQ", .client_user_id = "c1"};
    struct rows r;

    vn_strlcpy(a.adam_id.s, "100", sizeof(a.adam_id.s));
    assert_int_equal(vn_store_begin(f->st), 0);
    /* job 1: kept */
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "job1", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a), 1);
    assert_int_equal(vn_store_release(f->st), 0);
    /* job 2: fails half-way and is undone */
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "job2", "u1", "{}", 2), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "100", "STDQ", 5, 0, 5), 0);
    assert_int_equal(vn_store_rollback_to(f->st), 0);
    /* job 3: after the rollback, the transaction goes on */
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "job3", "u1", "{}", 3), 0);
    assert_int_equal(vn_store_release(f->st), 0);
    assert_int_equal(vn_store_commit(f->st), 0);

    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 2);
    assert_non_null(strstr(r.text[0], "notificationId=job1 "));
    assert_non_null(strstr(r.text[1], "notificationId=job3 "));
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, NULL, &r), 1);
    assert_int_equal(q(f->st, VN_Q_ASSETS, NULL, &r), 0);
}

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

static void test_second_handle_sees_committed_data_only(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store *b = vn_store_open(f->path, NULL, &err);
    struct rows r;

    assert_non_null(b);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", 1), 0);
    assert_int_equal(q(b, VN_Q_NOTIFICATIONS, NULL, &r), 0); /* not committed yet */
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(q(b, VN_Q_NOTIFICATIONS, NULL, &r), 1);
    /* The ledger's key holds across handles: the second writer gets VN_EDUP. */
    assert_int_equal(insert_note(b, "n1", "u1", "{}", 2), VN_EDUP);
    vn_store_free(b);
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

static void test_reconnect_rolls_back_and_keeps_data(void **state)
{
    struct fx *f = *state;
    struct rows r;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "kept", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "open", "u1", "{}", 2), 0);
    assert_int_equal(vn_store_reconnect(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 1);
    assert_non_null(strstr(r.text[0], "notificationId=kept "));
    /* The new connection keeps the durability settings and takes a transaction. */
    assert_non_null(strstr(vn_store_describe(f->st), "journal_mode=wal synchronous=full"));
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "open", "u1", "{}", 2), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
}

static void test_failure_classes(void **state)
{
    struct fx *f = *state;

    (void)f;
    assert_int_equal(vn_store_class_of(0), VN_STORE_OK);
    assert_int_equal(vn_store_class_of(1), VN_STORE_OK);
    assert_int_equal(vn_store_class_of(VN_ERETRY), VN_STORE_RETRY);
    assert_int_equal(vn_store_class_of(VN_EUNAVAIL), VN_STORE_UNAVAILABLE);
    assert_int_equal(vn_store_class_of(VN_EFULL), VN_STORE_FULL);
    assert_int_equal(vn_store_class_of(VN_EFATAL), VN_STORE_FATAL);
    assert_int_equal(vn_store_class_of(VN_ESTORE), VN_STORE_JOB);
    assert_int_equal(vn_store_class_of(VN_EDUP), VN_STORE_JOB);
    assert_int_equal(vn_store_class_of(VN_ENOTFOUND), VN_STORE_JOB);
    assert_string_equal(vn_store_class_name(VN_STORE_OK), "ok");
    assert_string_equal(vn_store_class_name(VN_STORE_JOB), "job");
    assert_string_equal(vn_store_class_name(VN_STORE_RETRY), "retry");
    assert_string_equal(vn_store_class_name(VN_STORE_UNAVAILABLE), "unavailable");
    assert_string_equal(vn_store_class_name(VN_STORE_FULL), "full");
    assert_string_equal(vn_store_class_name(VN_STORE_FATAL), "fatal");

    /* A job-level failure leaves the transaction usable: the next job commits. */
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_OK);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "a", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_release(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(insert_note(f->st, "a", "u1", "{}", 1), VN_EDUP);
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_JOB);
    assert_int_equal(vn_store_rollback_to(f->st), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    /* Misuse is a job-level failure, not a lost transaction. */
    assert_int_equal(vn_store_commit(f->st), VN_ESTORE);
    assert_non_null(strstr(vn_store_last_error(f->st), "no transaction is open"));
    assert_int_equal(vn_store_rollback_to(f->st), VN_ESTORE);
}

/* ---- the ledger ------------------------------------------------------------------------- */

static void test_ledger_insert_and_duplicate(void **state)
{
    struct fx *f = *state;
    struct vn_notification_record r;
    struct rows rows;

    record(&r, "n1", "u1", "{\"a\":1}", at("2026-11-25T19:06:53.123Z"));
    r.type_name = "ASSET_MANAGEMENT";
    r.event_id = "ev1";
    assert_int_equal(vn_store_notification_insert(f->st, &r), 0);
    r.body = "{\"other\":2}";
    r.body_len = strlen(r.body);
    assert_int_equal(vn_store_notification_insert(f->st, &r), VN_EDUP);
    assert_non_null(strstr(vn_store_last_error(f->st), "'n1'"));
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &rows), 1);
    assert_string_equal(rows.text[0],
                        "notificationId=n1 notificationType=ASSET_MANAGEMENT uId=u1 "
                        "receivedAt=2026-11-25T19:06:53.123Z state=applied duplicates=0 "
                        "conflicts=0");
    /* The first body is the one kept. */
    assert_int_equal(raw_int(f->path, "SELECT body_length FROM notifications"), 7);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications WHERE "
                                      "event_id = 'ev1' AND length(body_sha256) = 32"),
                     1);
}

static void test_ledger_repeat_counts_duplicates_and_conflicts(void **state)
{
    struct fx *f = *state;
    struct vn_notification_record r;
    uint8_t other[VN_DIGEST_LEN];
    struct rows rows;
    int conflict = -1;

    record(&r, "n1", "u1", "{}", 1000);
    assert_int_equal(vn_store_notification_insert(f->st, &r), 0);
    assert_int_equal(vn_store_notification_repeat(f->st, "n1", r.digest, &conflict), 0);
    assert_int_equal(conflict, 0);
    digest_of("{\"different\":true}", other);
    assert_int_equal(vn_store_notification_repeat(f->st, "n1", other, &conflict), 0);
    assert_int_equal(conflict, 1);
    assert_int_equal(vn_store_notification_repeat(f->st, "n1", r.digest, NULL), 0);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "duplicates=3 conflicts=1"));
    assert_int_equal(vn_store_notification_repeat(f->st, "nope", r.digest, &conflict),
                     VN_ENOTFOUND);
}

static void test_ledger_set_state_and_body(void **state)
{
    struct fx *f = *state;
    static const char body[] = "{\"x\":\"a\0b\"}"; /* a NUL inside: bytes, not a C string */
    struct vn_notification_record r;
    struct vn_filter fl = {0};
    struct rows rows;
    char *got = NULL;
    size_t len = 0;

    record(&r, "n1", "u1", "", 5);
    r.body = body;
    r.body_len = sizeof(body) - 1;
    r.type_name = "UNLIMITED_ASSET";
    r.state = VN_NSTATE_STORED;
    r.error = "unknown notification type";
    assert_int_equal(vn_store_notification_insert(f->st, &r), 0);
    assert_int_equal(vn_store_notification_body(f->st, "n1", &got, &len), 0);
    assert_int_equal(len, sizeof(body) - 1);
    assert_memory_equal(got, body, len);
    assert_int_equal(got[len], '\0');
    free(got);
    assert_int_equal(vn_store_notification_body(f->st, "nope", &got, &len), VN_ENOTFOUND);
    assert_null(got);

    fl.state = "stored";
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, &fl, &rows), 1);
    assert_int_equal(vn_store_notification_set_state(f->st, "n1", VN_NSTATE_APPLIED, NULL), 0);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, &fl, &rows), 0);
    fl.state = "applied";
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, &fl, &rows), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM notifications WHERE error IS NULL"), 1);
    assert_int_equal(vn_store_notification_set_state(f->st, "nope", VN_NSTATE_APPLIED, NULL),
                     VN_ENOTFOUND);
}

static void test_stored_ids_oldest_first(void **state)
{
    struct fx *f = *state;
    struct vn_notification_record r;
    const char *ids[] = {"c", "a", "b", "d"};
    const int64_t when[] = {3000, 1000, 2000, 500};
    const char *uids[] = {"u1", "u1", "u1", "u2"};
    char **got = NULL;
    size_t n = 0, i;

    for (i = 0; i < 4; i++) {
        record(&r, ids[i], uids[i], "{}", when[i]);
        r.state = VN_NSTATE_STORED;
        assert_int_equal(vn_store_notification_insert(f->st, &r), 0);
    }
    record(&r, "applied", "u1", "{}", 10);
    assert_int_equal(vn_store_notification_insert(f->st, &r), 0);

    assert_int_equal(vn_store_stored_ids(f->st, "u1", &got, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(got[0], "a");
    assert_string_equal(got[1], "b");
    assert_string_equal(got[2], "c");
    for (i = 0; i < n; i++)
        free(got[i]);
    free(got);

    assert_int_equal(vn_store_stored_ids(f->st, NULL, &got, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(got[0], "d");
    for (i = 0; i < n; i++)
        free(got[i]);
    free(got);

    assert_int_equal(vn_store_stored_ids(f->st, "nobody", &got, &n), 0);
    assert_int_equal(n, 0);
    free(got);
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

/* ---- locations and tokens --------------------------------------------------------------- */

struct toks {
    size_t n;
    char uid[8][32];
    uint8_t digest[8][VN_DIGEST_LEN];
    int64_t expires[8];
};

static int collect_token(void *ud, const struct vn_token_row *row)
{
    struct toks *t = ud;

    if (t->n >= 8)
        return 1;
    vn_strlcpy(t->uid[t->n], row->uid, sizeof(t->uid[0]));
    memcpy(t->digest[t->n], row->digest, VN_DIGEST_LEN);
    t->expires[t->n] = row->expires_ms;
    t->n++;
    return 0;
}

static size_t tokens(struct vn_store *st, int64_t now, struct toks *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(vn_store_tokens(st, now, collect_token, t), 0);
    return t->n;
}

static void test_location_add_and_duplicate(void **state)
{
    struct fx *f = *state;
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN];
    int64_t now = at("2026-11-25T10:00:00.000Z");
    struct toks t;
    struct rows rows;

    digest_of("token-one-0123456789", d1);
    digest_of("token-two-0123456789", d2);
    assert_int_equal(vn_store_location_add(f->st, "u1", "Main campus", d1, now), 0);
    assert_int_equal(vn_store_location_add(f->st, "u1", "again", d2, now), VN_EDUP);
    assert_non_null(strstr(vn_store_last_error(f->st), "'u1'"));
    /* A token selects one location: the same token for another location is refused. */
    assert_int_equal(vn_store_location_add(f->st, "u2", NULL, d1, now), VN_EDUP);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
    assert_string_equal(rows.text[0], "uId=u1 name=Main campus tokenCount=1 "
                                      "lastTestNotificationAt=null");
    assert_int_equal(tokens(f->st, now, &t), 1);
    assert_string_equal(t.uid[0], "u1");
    assert_memory_equal(t.digest[0], d1, VN_DIGEST_LEN);
    assert_int_equal(t.expires[0], 0);

    assert_int_equal(vn_store_location_tested(f->st, "u1", at("2026-11-25T10:00:01.500Z")), 0);
    assert_int_equal(vn_store_location_tested(f->st, "nope", now), VN_ENOTFOUND);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "lastTestNotificationAt=2026-11-25T10:00:01.500Z"));
}

static void test_token_rotate_grace_and_expiry(void **state)
{
    struct fx *f = *state;
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN], d3[VN_DIGEST_LEN];
    int64_t now = vn_now_ms();
    int64_t grace = now + 3600 * 1000;
    struct toks t;
    struct rows rows;

    digest_of("token-one-0123456789", d1);
    digest_of("token-two-0123456789", d2);
    digest_of("token-three-0123456789", d3);
    assert_int_equal(vn_store_location_add(f->st, "u1", "L", d1, now), 0);
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d2, now, grace), 0);

    assert_int_equal(tokens(f->st, now, &t), 2);
    assert_memory_equal(t.digest[0], d1, VN_DIGEST_LEN); /* old, in grace */
    assert_int_equal(t.expires[0], grace);
    assert_memory_equal(t.digest[1], d2, VN_DIGEST_LEN); /* new, current */
    assert_int_equal(t.expires[1], 0);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "tokenCount=2"));

    /* After the grace window the old token is skipped. */
    assert_int_equal(tokens(f->st, grace, &t), 1);
    assert_memory_equal(t.digest[0], d2, VN_DIGEST_LEN);

    /* A second rotation drops the oldest: one current, at most one previous. */
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d3, now, grace), 0);
    assert_int_equal(tokens(f->st, now, &t), 2);
    assert_memory_equal(t.digest[0], d2, VN_DIGEST_LEN);
    assert_memory_equal(t.digest[1], d3, VN_DIGEST_LEN);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM location_tokens"), 2);

    /* No grace: the old token stops at once. */
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d1, now, now), 0);
    assert_int_equal(tokens(f->st, now, &t), 1);
    assert_memory_equal(t.digest[0], d1, VN_DIGEST_LEN);

    assert_int_equal(vn_store_location_rotate(f->st, "nope", d2, now, grace), VN_ENOTFOUND);
    /* Failed calls leave no transaction open. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
}

static void test_location_expired_token_not_counted(void **state)
{
    struct fx *f = *state;
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN];
    int64_t now = vn_now_ms();
    struct rows rows;

    digest_of("token-one-0123456789", d1);
    digest_of("token-two-0123456789", d2);
    assert_int_equal(vn_store_location_add(f->st, "u1", "L", d1, now - 10000), 0);
    /* Rotated with a grace window that has already passed by now. */
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d2, now - 5000, now - 1000), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM location_tokens"), 2);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "tokenCount=1"));
}

static void test_location_remove_deletes_mirror_keeps_record(void **state)
{
    struct fx *f = *state;
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN];
    struct vn_assignment a = {.pricing_param = "STDQ", .serial_number = "SER1"};
    struct vn_assignment b = {.pricing_param = "STDQ", .client_user_id = "c1"};
    struct vn_user u = {.client_user_id = "c1", .status = "Registered"};
    struct vn_seat seat = {.client_user_id = "c1", .renewing = 1};
    struct vn_counts c = {1, 2, 3, 4};
    struct vn_event_note e = {.event_id = "ev1",
                              .uid = "u1",
                              .notification_type = "X",
                              .failed = 1,
                              .error_number = 9709};
    struct toks t;
    struct rows rows;
    enum vn_query mirror[] = {VN_Q_ASSETS,
                              VN_Q_ASSIGNMENTS,
                              VN_Q_USERS,
                              VN_Q_SUBSCRIPTIONS,
                              VN_Q_SUBSCRIPTION_ASSIGNMENTS,
                              VN_Q_EVENTS};
    size_t i;

    vn_strlcpy(a.adam_id.s, "1", sizeof(a.adam_id.s));
    vn_strlcpy(b.adam_id.s, "1", sizeof(b.adam_id.s));
    vn_strlcpy(seat.adam_id.s, "7", sizeof(seat.adam_id.s));
    digest_of("token-one-0123456789", d1);
    digest_of("token-two-0123456789", d2);
    assert_int_equal(vn_store_location_add(f->st, "u1", "L1", d1, 1), 0);
    assert_int_equal(vn_store_location_add(f->st, "u2", "L2", d2, 1), 0);
    for (i = 0; i < 2; i++) {
        const char *uid = i ? "u2" : "u1";

        e.event_id = i ? "ev2" : "ev1";
        e.uid = uid;
        assert_int_equal(vn_store_begin(f->st), 0);
        assert_int_equal(vn_store_asset_adjust(f->st, uid, "1", "STDQ", 5, 0, 5), 0);
        assert_int_equal(vn_store_assignment_insert(f->st, uid, &a), 1);
        assert_int_equal(vn_store_assignment_insert(f->st, uid, &b), 1);
        assert_int_equal(vn_store_user_upsert(f->st, uid, &u, NULL), 0);
        assert_int_equal(vn_store_subscription_set_counts(f->st, uid, "7", NULL, &c), 0);
        assert_int_equal(vn_store_seat_upsert(f->st, uid, &seat), 1);
        assert_int_equal(vn_store_event_note(f->st, &e), 0);
        assert_int_equal(
            vn_store_event_failed_item(f->st, e.event_id, 9709, "1", "STDQ", "c1", NULL), 0);
        assert_int_equal(insert_note(f->st, i ? "n2" : "n1", uid, "{}", 1), 0);
        assert_int_equal(vn_store_commit(f->st), 0);
    }
    assert_int_equal(vn_store_quarantine(f->st, 1, NULL, "bad", "x", 1, 1), 0);

    assert_int_equal(vn_store_location_remove(f->st, "u1"), 0);
    assert_int_equal(vn_store_location_remove(f->st, "u1"), VN_ENOTFOUND);
    for (i = 0; i < sizeof(mirror) / sizeof(mirror[0]); i++) {
        struct vn_filter fl = {.uid = "u1"};

        assert_int_equal(q(f->st, mirror[i], &fl, &rows), 0);
        fl.uid = "u2";
        assert_true(q(f->st, mirror[i], &fl, &rows) >= 1);
    }
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM event_errors"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM event_failed_items"), 1);
    assert_int_equal(tokens(f->st, 1, &t), 1);
    assert_string_equal(t.uid[0], "u2");
    /* The ledger and quarantine are the record: they stay. */
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &rows), 2);
    assert_int_equal(q(f->st, VN_Q_QUARANTINE, NULL, &rows), 1);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
}

/* ---- mirror primitives and queries ------------------------------------------------------ */

static void test_assignment_insert_delete_report_real_changes(void **state)
{
    struct fx *f = *state;
    struct vn_assignment user = {.pricing_param = "STDQ", .client_user_id = "c1"};
    struct vn_assignment dev = {.pricing_param = "STDQ", .serial_number = "c1"};
    struct vn_assignment both = {
        .pricing_param = "STDQ", .client_user_id = "c", .serial_number = "s"};
    struct vn_assignment none = {.pricing_param = "STDQ"};

    vn_strlcpy(user.adam_id.s, "5", sizeof(user.adam_id.s));
    vn_strlcpy(dev.adam_id.s, "5", sizeof(dev.adam_id.s));
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &user), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &user), 0);
    /* A serial equal to a clientUserId is another assignment (device, not user). */
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &dev), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u2", &user), 1); /* per location */
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &user), 1);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &user), 0);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &dev), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &both), VN_EPARSE);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &none), VN_EPARSE);
}

static void test_query_keys_and_filters(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a1 = {.pricing_param = "STDQ", .client_user_id = "c1"};
    struct vn_assignment a2 = {.pricing_param = "PLUS", .serial_number = "SER9"};
    struct vn_user u1 = {.client_user_id = "c1",
                         .email = "c1@example.com",
                         .invite_code = "I",
                         .status = "Registered"};
    struct vn_user u2 = {.client_user_id = "c2", .id_hash = "H", .status = "Associated"};
    struct vn_seat s1 = {.client_user_id = "c1", .renewing = 1};
    struct vn_seat s2 = {.client_user_id = "c2", .renewing = 0};
    struct vn_counts c = {15, 5, 100, 20};
    struct vn_event_note e1 = {.event_id = "ev1",
                               .uid = "u1",
                               .notification_type = "ASSET_MANAGEMENT",
                               .action = "ASSOCIATE",
                               .succeeded = 3,
                               .ms = 1000};
    struct vn_event_note e2 = {.event_id = "ev2",
                               .uid = "u2",
                               .notification_type = "USER_MANAGEMENT",
                               .action = "CREATE",
                               .failed = 2,
                               .error_number = 9600,
                               .error_message = "bad",
                               .ms = 2000};
    struct vn_filter fl;
    struct rows r;

    vn_strlcpy(a1.adam_id.s, "10", sizeof(a1.adam_id.s));
    vn_strlcpy(a2.adam_id.s, "9", sizeof(a2.adam_id.s));
    vn_strlcpy(s1.adam_id.s, "12345", sizeof(s1.adam_id.s));
    vn_strlcpy(s2.adam_id.s, "12345", sizeof(s2.adam_id.s));
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 10, 0, 10), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "9", "PLUS", 4, 0, 4), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u2", "10", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a1), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a2), 1);
    assert_int_equal(vn_store_user_upsert(f->st, "u1", &u1, NULL), 0);
    assert_int_equal(vn_store_user_upsert(f->st, "u1", &u2, NULL), 0);
    assert_int_equal(vn_store_subscription_set_counts(f->st, "u1", "12345", "54321", &c), 0);
    assert_int_equal(vn_store_subscription_set_counts(f->st, "u1", "2", NULL, &c), 0);
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &s1), 1);
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &s2), 1);
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &s2), 0); /* nothing changed */
    assert_int_equal(vn_store_event_note(f->st, &e1), 0);
    assert_int_equal(vn_store_event_note(f->st, &e2), 0);
    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);

    /* assets: adamIds in numeric order ("9" before "10") */
    assert_int_equal(q(f->st, VN_Q_ASSETS, NULL, &r), 3);
    assert_string_equal(r.text[0], "uId=u1 adamId=9 pricingParam=PLUS totalCount=4 "
                                   "assignedCount=0 availableCount=4 needsSync=true");
    assert_string_equal(r.text[1], "uId=u1 adamId=10 pricingParam=STDQ totalCount=10 "
                                   "assignedCount=0 availableCount=10 needsSync=true");
    memset(&fl, 0, sizeof(fl));
    fl.uid = "u1";
    fl.adam_id = "10";
    assert_int_equal(q(f->st, VN_Q_ASSETS, &fl, &r), 1);
    fl.uid = NULL;
    assert_int_equal(q(f->st, VN_Q_ASSETS, &fl, &r), 2);
    fl.limit = 1;
    assert_int_equal(q(f->st, VN_Q_ASSETS, &fl, &r), 1);

    /* assignments: the absent one of clientUserId/serialNumber is null */
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, NULL, &r), 2);
    assert_string_equal(r.text[0], "uId=u1 adamId=9 pricingParam=PLUS clientUserId=null "
                                   "serialNumber=SER9");
    assert_string_equal(r.text[1], "uId=u1 adamId=10 pricingParam=STDQ clientUserId=c1 "
                                   "serialNumber=null");
    memset(&fl, 0, sizeof(fl));
    fl.serial_number = "SER9";
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, &fl, &r), 1);
    memset(&fl, 0, sizeof(fl));
    fl.client_user_id = "c1";
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, &fl, &r), 1);
    fl.adam_id = "9";
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, &fl, &r), 0);

    /* users */
    assert_int_equal(q(f->st, VN_Q_USERS, NULL, &r), 2);
    assert_string_equal(r.text[0], "uId=u1 clientUserId=c1 email=c1@example.com inviteCode=I "
                                   "idHash=null status=Registered");
    assert_string_equal(r.text[1], "uId=u1 clientUserId=c2 email=null inviteCode=null "
                                   "idHash=H status=Associated");
    memset(&fl, 0, sizeof(fl));
    fl.client_user_id = "c2";
    assert_int_equal(q(f->st, VN_Q_USERS, &fl, &r), 1);
    fl.uid = "u2";
    assert_int_equal(q(f->st, VN_Q_USERS, &fl, &r), 0);

    /* subscriptions: dotted keys for the nested counts */
    assert_int_equal(q(f->st, VN_Q_SUBSCRIPTIONS, NULL, &r), 2);
    assert_string_equal(r.text[0], "uId=u1 adamId=2 parentAdamId=null "
                                   "counts.available.renewing=15 counts.available.expiring=5 "
                                   "counts.total.renewing=100 counts.total.expiring=20");
    assert_string_equal(r.text[1], "uId=u1 adamId=12345 parentAdamId=54321 "
                                   "counts.available.renewing=15 counts.available.expiring=5 "
                                   "counts.total.renewing=100 counts.total.expiring=20");
    memset(&fl, 0, sizeof(fl));
    fl.adam_id = "2";
    assert_int_equal(q(f->st, VN_Q_SUBSCRIPTIONS, &fl, &r), 1);

    /* subscription assignments */
    assert_int_equal(q(f->st, VN_Q_SUBSCRIPTION_ASSIGNMENTS, NULL, &r), 2);
    assert_string_equal(r.text[0], "uId=u1 adamId=12345 clientUserId=c1 renewing=true");
    assert_string_equal(r.text[1], "uId=u1 adamId=12345 clientUserId=c2 renewing=false");
    memset(&fl, 0, sizeof(fl));
    fl.client_user_id = "c2";
    assert_int_equal(q(f->st, VN_Q_SUBSCRIPTION_ASSIGNMENTS, &fl, &r), 1);
    fl.adam_id = "1";
    assert_int_equal(q(f->st, VN_Q_SUBSCRIPTION_ASSIGNMENTS, &fl, &r), 0);

    /* events: errors is a JSON array, empty when there are none */
    assert_int_equal(q(f->st, VN_Q_EVENTS, NULL, &r), 2);
    assert_string_equal(r.text[0], "eventId=ev1 uId=u1 notificationType=ASSET_MANAGEMENT "
                                   "type=ASSOCIATE notifications=1 succeeded=3 failed=0 "
                                   "errors=[]");
    assert_string_equal(r.text[1], "eventId=ev2 uId=u2 notificationType=USER_MANAGEMENT "
                                   "type=CREATE notifications=1 succeeded=0 failed=2 "
                                   "errors=[{\"errorNumber\":9600,\"errorMessage\":\"bad\","
                                   "\"count\":2}]");
    memset(&fl, 0, sizeof(fl));
    fl.event_id = "ev2";
    assert_int_equal(q(f->st, VN_Q_EVENTS, &fl, &r), 1);
    memset(&fl, 0, sizeof(fl));
    fl.type_name = "ASSET_MANAGEMENT";
    assert_int_equal(q(f->st, VN_Q_EVENTS, &fl, &r), 1);
    assert_non_null(strstr(r.text[0], "eventId=ev1 "));
    fl.uid = "u2";
    assert_int_equal(q(f->st, VN_Q_EVENTS, &fl, &r), 0);

    /* notifications */
    memset(&fl, 0, sizeof(fl));
    fl.type_name = "ASSET_COUNT";
    fl.uid = "u1";
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, &fl, &r), 1);
    fl.type_name = "USER_ASSOCIATED";
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, &fl, &r), 0);
}

static void test_callback_stop_value_is_returned(void **state)
{
    struct fx *f = *state;

    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", 1), 0);
    assert_int_equal(insert_note(f->st, "n2", "u1", "{}", 2), 0);
    /* render() stops with 1 when full; a callback's non-zero value comes back. */
    {
        struct rows *r = calloc(1, sizeof(*r));

        assert_non_null(r);
        r->n = MAXROWS;
        assert_int_equal(vn_store_query(f->st, VN_Q_NOTIFICATIONS, NULL, render, r), 1);
        free(r);
    }
    /* The statement was reset: the same query runs again. */
    {
        struct rows r;

        assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &r), 2);
    }
}

/* The migrations, as the backend applies them (src/lib/store/sqlite/schema.c). */
extern const char *const vn__sqlite_migrations[];

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
        T(test_read_only_open),
        T(test_urls),
        T(test_url_parameters),
        T(test_url_password_is_never_shown),
        T(test_rollback_is_safe_without_a_transaction),
        T(test_savepoint_rollback_to_undoes_one_notification_only),
        T(test_ping_writes_health),
        T(test_second_handle_sees_committed_data_only),
        T(test_busy_writer_fails_within_busy_timeout),
        T(test_max_db_bytes_gives_full),
        T(test_failed_fsync_is_fatal_and_sticky),
        T(test_deleted_database_is_unavailable_until_reconnected),
        T(test_moved_database_is_unavailable_while_away),
        T(test_reconnect_rolls_back_and_keeps_data),
        T(test_failure_classes),
        T(test_ledger_insert_and_duplicate),
        T(test_ledger_repeat_counts_duplicates_and_conflicts),
        T(test_ledger_set_state_and_body),
        T(test_stored_ids_oldest_first),
        T(test_quarantine_keeps_capped_body_and_original_length),
        T(test_location_add_and_duplicate),
        T(test_token_rotate_grace_and_expiry),
        T(test_location_expired_token_not_counted),
        T(test_location_remove_deletes_mirror_keeps_record),
        T(test_assignment_insert_delete_report_real_changes),
        T(test_query_keys_and_filters),
        T(test_callback_stop_value_is_returned),
        T(test_migration_4_keeps_repeat_counts),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
