/*
 * What only the PostgreSQL backend does: its URL (libpq's parameters beside the store's, errors
 * that name the part and hide a password), the writer lock across connections and its busy
 * timeout, a statement that fails without a savepoint ending the transaction (reported as
 * retry, never committed half), a connection the server drops (unavailable, then reconnect),
 * savepoint commands sent with the job's next statement (each job still alone), optimistic
 * transactions (ids read per batch, writes sent ahead, failures failing it whole), concurrent
 * first opens migrating once, durability settings. Everything every backend does is
 * in tests/unit/test_store_contract*.c, which CTest also runs against PostgreSQL.
 *
 * The server tests need VN_TEST_PG_URL (a store URL without a schema; tests/pg/cluster.sh
 * prints one); CTest sets it and starts the cluster (tests/CMakeLists.txt, fixture "pg"). Each
 * test works in a schema of its own. Raw libpq is used only to act as another client would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include "store_impl.h" /* white-box: the copy catalog */

struct pgfx {
    char schema[48];
    char url[512];
    struct vn_store *st;
};

static const char *base_url(void)
{
    const char *u = getenv("VN_TEST_PG_URL");

    return u && *u ? u : NULL;
}

/* The base URL with more parameters ("&k=v..."). */
static void url_with(char *out, size_t len, const char *more)
{
    snprintf(out, len, "%s%s%s", base_url(), strchr(base_url(), '?') ? "&" : "?", more);
}

static int setup(void **state)
{
    static unsigned serial;
    struct pgfx *f = calloc(1, sizeof(*f));
    struct vn_error err = {0};
    char more[128];

    if (!f || !base_url()) {
        fprintf(stderr, "VN_TEST_PG_URL is not set: run through ctest (pg.* tests)\n");
        free(f);
        return -1;
    }
    snprintf(f->schema, sizeof(f->schema), "pgt%ld_%u", (long)getpid(), ++serial);
    snprintf(more, sizeof(more), "schema=%s", f->schema);
    url_with(f->url, sizeof(f->url), more);
    f->st = vn_store_open(f->url, NULL, &err);
    if (!f->st) {
        fprintf(stderr, "open '%s': %s\n", f->url, err.msg);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct pgfx *f = *state;

    vn_store_free(f->st);
    free(f);
    return 0;
}

/* A raw connection to the test cluster, as another client (a DBA, a monitor) would be. */
static PGconn *raw(void)
{
    const char *keys[] = {"dbname", NULL};
    const char *vals[] = {base_url(), NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static long long raw_int(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v;

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static int insert_note(struct vn_store *st, const char *id)
{
    struct vn_notification_record r;

    memset(&r, 0, sizeof(r));
    r.id = id;
    r.uid = "u1";
    r.type_name = "ASSET_COUNT";
    r.state = VN_NSTATE_APPLIED;
    r.body = "{}";
    r.body_len = 2;
    vn_digest(r.body, r.body_len, r.digest);
    r.received_ms = 1000;
    return vn_store_notification_insert(st, &r);
}

static int count_row(void *ud, const struct vn_row *row)
{
    (void)row;
    (*(size_t *)ud)++;
    return 0;
}

static size_t count_notifications(struct vn_store *st)
{
    size_t n = 0;

    assert_int_equal(vn_store_query(st, VN_Q_NOTIFICATIONS, NULL, count_row, &n), 0);
    return n;
}

/* The server ends the backend of the handle opened with application_name SCHEMA_tag, as an
 * administrator's pg_terminate_backend or a server crash would; returns once it has ended
 * (the server waits for it, up to 10 s), its goodbye sent. */
static void end_backend(const struct pgfx *f, const char *tag)
{
    char sql[256];
    PGconn *c = raw();

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) "
             "FROM pg_stat_activity WHERE application_name = '%s_%s'",
             f->schema, tag);
    assert_int_equal(raw_int(c, sql), 1);
    PQfinish(c);
}

static double elapsed_s(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* ---- URLs (no server needed) ---------------------------------------------------------------- */

static void test_url_errors_name_the_part_and_hide_the_password(void **state)
{
    struct vn_error err = {0};

    (void)state;
    /* Nothing listens there: unavailable, and the password is in no message. */
    assert_null(vn_store_open("postgresql://vpp:s3cret@/vpp?host=/nonexistent/vn&password=s3cret2",
                              NULL, &err));
    assert_int_equal(err.code, VN_EUNAVAIL);
    assert_non_null(strstr(err.msg, "cannot connect to 'postgresql://vpp:***@/vpp?"));
    assert_non_null(strstr(err.msg, "password=***"));
    assert_null(strstr(err.msg, "s3cret"));
    /* libpq refuses a parameter it does not know, by name: the URL's fault (usage). */
    assert_null(vn_store_open("postgresql:///vpp?host=/nonexistent/vn&bogus_option=1", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "bogus_option"));
    /* The store's own parameters are checked before connecting. */
    assert_null(
        vn_store_open("postgres:///vpp?host=/nonexistent/vn&busy_timeout=soon", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "busy_timeout 'soon'"));
    assert_null(vn_store_open("postgresql:///vpp?host=/nonexistent/vn&max_size=1G", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "max_size is SQLite's"));
    assert_null(
        vn_store_open("postgresql:///vpp?host=/nonexistent/vn&schema=Bad-Name", NULL, &err));
    assert_int_equal(err.code, VN_EPARSE);
    assert_non_null(strstr(err.msg, "schema 'Bad-Name'"));
}

/* ---- the server ------------------------------------------------------------------------------ */

static void test_describe_says_durability_and_schema(void **state)
{
    struct pgfx *f = *state;
    char want[80];

    assert_non_null(strstr(vn_store_describe(f->st), "postgresql 1"));
    assert_non_null(strstr(vn_store_describe(f->st), "synchronous_commit=on fsync=on"));
    assert_non_null(strstr(vn_store_describe(f->st), "busy_timeout=5s statement_timeout=1m"));
    snprintf(want, sizeof(want), "schema=%s", f->schema);
    assert_non_null(strstr(vn_store_describe(f->st), want));
}

static void test_writer_lock_makes_a_second_writer_wait_then_unavailable(void **state)
{
    struct pgfx *f = *state;
    struct vn_error err = {0};
    struct vn_store *b;
    struct timespec t0;
    char url[600];
    double took;

    snprintf(url, sizeof(url), "%s&busy_timeout=300ms", f->url);
    b = vn_store_open(url, NULL, &err);
    assert_non_null(b);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "n0"), 0); /* the first write takes the writer lock */
    assert_int_equal(vn_store_begin(b), 0);        /* BEGIN itself waits for nothing */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(insert_note(b, "n1"), VN_EUNAVAIL);
    took = elapsed_s(&t0);
    assert_int_equal(vn_store_last_class(b), VN_STORE_UNAVAILABLE);
    assert_non_null(strstr(vn_store_last_error(b), "database is locked"));
    assert_true(took >= 0.1); /* it waited for the other writer, and gave up */
    assert_true(took < 5.0);
    assert_int_equal(vn_store_rollback(b), 0);
    /* Readers are not blocked by the writer. */
    assert_int_equal(count_notifications(b), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_begin(b), 0);
    assert_int_equal(insert_note(b, "n1"), 0);
    assert_int_equal(vn_store_commit(b), 0);
    assert_int_equal(count_notifications(f->st), 2);
    vn_store_free(b);
}

/* The writer clock's value, as another client reads it. */
static long long clock_of(const struct pgfx *f)
{
    char sql[200];
    PGconn *c = raw();
    long long v;

    snprintf(sql, sizeof(sql), "SELECT value FROM \"%s\".writer_clock WHERE id = 1", f->schema);
    v = raw_int(c, sql);
    PQfinish(c);
    return v;
}

static int repeat_note(struct vn_store *st, const char *id, const char *body, int *conflict);
static void repeats_of(const struct pgfx *f, const char *id, long long *n, long long *conflicts);
static long long raw_count(const struct pgfx *f, const char *table);

/*
 * An optimistic batch whose jobs are all repeats of known ids (the writer's calls, in its
 * order) commits while another instance holds the writer lock: it takes neither the lock nor
 * a clock tick, and marks no change. A batch with a new id in it waits for the lock (and
 * gives up past busy_timeout), then commits once the lock is free.
 */
static void test_repeats_commit_while_another_writer_holds_the_lock(void **state)
{
    struct pgfx *f = *state;
    const char *dup[] = {"dup"}, *fresh[] = {"dup", "fresh"};
    struct vn_error err = {0};
    struct vn_store *b;
    long long n, conflicts, clock0;
    int conflict = -1;
    char url[600], sql[300];
    PGconn *holder;
    PGresult *r;

    snprintf(url, sizeof(url), "%s&busy_timeout=300ms", f->url);
    b = vn_store_open(url, NULL, &err);
    assert_non_null(b);
    assert_int_equal(insert_note(f->st, "dup"), 0);
    clock0 = clock_of(f);
    /* Another instance's transaction holds the writer lock. */
    holder = raw();
    snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(1986950002, hashtext('%s'))",
             f->schema);
    r = PQexec(holder, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);

    assert_int_equal(vn_store_begin(b), 0);
    assert_int_equal(vn_store_optimistic(b), 0);
    assert_int_equal(vn_store_notifications_known(b, dup, 1), 0);
    assert_int_equal(vn_store_clock_tick(b, NULL), 0);
    assert_int_equal(vn_store_savepoint(b), 0);
    assert_int_equal(insert_note(b, "dup"), VN_EDUP);
    assert_int_equal(repeat_note(b, "dup", "{}", &conflict), 0);
    assert_int_equal(vn_store_release(b), 0);
    assert_int_equal(repeat_note(b, "dup", "{\"other\":1}", &conflict), 0);
    assert_int_equal(conflict, 1);
    assert_int_equal(vn_store_commit(b), 0); /* without waiting for the holder */
    repeats_of(f, "dup", &n, &conflicts);
    assert_int_equal(n, 2);
    assert_int_equal(conflicts, 1);
    assert_int_equal(clock_of(f), clock0); /* no tick: nothing was stamped */

    /* A new id needs the lock: its batch waits for it in the tick (where the writer lets
     * what queued meanwhile join), and gives up past busy_timeout. */
    assert_int_equal(vn_store_begin(b), 0);
    assert_int_equal(vn_store_optimistic(b), 0);
    assert_int_equal(vn_store_notifications_known(b, fresh, 2), 0);
    assert_int_equal(vn_store_clock_tick(b, NULL), VN_EUNAVAIL);
    assert_non_null(strstr(vn_store_last_error(b), "database is locked"));
    assert_int_equal(vn_store_rollback(b), 0);
    /* A repeat whose write needs the lock after all (its tick deferred): the same, at the
     * latest at COMMIT. */
    assert_int_equal(vn_store_begin(b), 0);
    assert_int_equal(vn_store_optimistic(b), 0);
    assert_int_equal(vn_store_notifications_known(b, dup, 1), 0);
    assert_int_equal(vn_store_clock_tick(b, NULL), 0);
    assert_int_equal(insert_note(b, "dup"), VN_EDUP);
    assert_int_equal(repeat_note(b, "dup", "{}", &conflict), 0);
    assert_int_equal(insert_note(b, "unlisted"), VN_EUNAVAIL); /* not read: asks at once */
    assert_int_equal(vn_store_rollback(b), 0);
    assert_int_equal(count_notifications(f->st), 1);
    repeats_of(f, "dup", &n, &conflicts);
    assert_int_equal(n, 2); /* nothing of the failed batch */

    r = PQexec(holder, "ROLLBACK");
    PQclear(r);
    PQfinish(holder);
    assert_int_equal(vn_store_begin(b), 0);
    assert_int_equal(vn_store_optimistic(b), 0);
    assert_int_equal(vn_store_notifications_known(b, fresh, 2), 0);
    assert_int_equal(vn_store_clock_tick(b, NULL), 0);
    assert_int_equal(insert_note(b, "dup"), VN_EDUP);
    assert_int_equal(repeat_note(b, "dup", "{}", &conflict), 0);
    assert_int_equal(insert_note(b, "fresh"), 0);
    assert_int_equal(vn_store_commit(b), 0);
    assert_int_equal(count_notifications(f->st), 2);
    repeats_of(f, "dup", &n, &conflicts);
    assert_int_equal(n, 3);
    assert_int_equal(clock_of(f), clock0 + 1); /* the lock's batch ticked */
    vn_store_free(b);
}

/*
 * An optimistic batch's repeats of known ids are kept and written together before COMMIT
 * (known.c): every one lands with its conflict flag, the ones kept before the batch's ids
 * are read again (jobs that joined the batch) included; a rollback drops them all.
 */
static void test_kept_repeats_are_written_whole_or_not_at_all(void **state)
{
    struct pgfx *f = *state;
    const char *first[] = {"r1", "r\"q\\2"}, *again[] = {"r1", "r\"q\\2", "r3"};
    long long n, conflicts;
    int conflict = -1;

    assert_int_equal(insert_note(f->st, "r1"), 0);
    assert_int_equal(insert_note(f->st, "r\"q\\2"), 0);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(vn_store_notifications_known(f->st, first, 2), 0);
    assert_int_equal(repeat_note(f->st, "r1", "{}", &conflict), 0);
    assert_int_equal(conflict, 0);
    assert_int_equal(repeat_note(f->st, "r1", "{\"other\":1}", &conflict), 0);
    assert_int_equal(conflict, 1);
    assert_int_equal(repeat_note(f->st, "r\"q\\2", "{}", &conflict), 0);
    /* The batch's ids read again, as when jobs joined it: what was kept is not lost. */
    assert_int_equal(vn_store_notifications_known(f->st, again, 3), 0);
    assert_int_equal(repeat_note(f->st, "r1", "{\"x\":2}", &conflict), 0);
    assert_int_equal(conflict, 1);
    assert_int_equal(insert_note(f->st, "r3"), 0);
    assert_int_equal(repeat_note(f->st, "r3", "{}", &conflict), 0);
    assert_int_equal(conflict, 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    repeats_of(f, "r1", &n, &conflicts);
    assert_int_equal(n, 3);
    assert_int_equal(conflicts, 2);
    repeats_of(f, "r3", &n, &conflicts);
    assert_int_equal(n, 1);
    assert_int_equal(conflicts, 0);
    assert_int_equal(raw_count(f, "notification_repeats"), 5);

    /* Rolled back: none of the batch's repeats. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(vn_store_notifications_known(f->st, first, 2), 0);
    assert_int_equal(repeat_note(f->st, "r1", "{}", &conflict), 0);
    assert_int_equal(repeat_note(f->st, "r\"q\\2", "{}", &conflict), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(raw_count(f, "notification_repeats"), 5);
    /* And the next transaction of the handle starts with none kept. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(raw_count(f, "notification_repeats"), 5);
}

static void test_failure_without_savepoint_ends_the_transaction_as_retry(void **state)
{
    struct pgfx *f = *state;

    /* A failed item of an event that does not exist: the foreign key refuses it (job). */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "kept"), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(vn_store_event_failed_item(f->st, "no-event", 1, "1", "STDQ", "c", NULL),
                     VN_ESTORE);
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_JOB);
    assert_non_null(strstr(vn_store_last_error(f->st), "23503"));
    /* Under a savepoint the job is undone alone and the transaction goes on. */
    assert_int_equal(vn_store_rollback_to(f->st), 0);
    assert_int_equal(insert_note(f->st, "kept-too"), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(count_notifications(f->st), 2);

    /* Without one the server ends the whole transaction: what follows is a retry of the batch,
     * and COMMIT never reports success for it (PostgreSQL answers it with ROLLBACK). */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(insert_note(f->st, "lost"), 0);
    assert_int_equal(vn_store_event_failed_item(f->st, "no-event", 1, "1", "STDQ", "c", NULL),
                     VN_ESTORE);
    assert_int_equal(insert_note(f->st, "after"), VN_ERETRY);
    assert_int_equal(vn_store_savepoint(f->st), VN_ERETRY);
    assert_int_equal(vn_store_commit(f->st), VN_ERETRY);
    assert_non_null(strstr(vn_store_last_error(f->st), "the transaction was rolled back"));
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(count_notifications(f->st), 2);
    /* The handle is usable again. */
    assert_int_equal(vn_store_ping(f->st), 0);
}

static void test_dropped_connection_loses_the_transaction_then_reconnects(void **state)
{
    struct pgfx *f = *state;
    struct vn_error err = {0};
    struct vn_store *s;
    char url[600], sql[200];
    PGconn *c = raw();

    /* A handle whose server process goes away (a restart, a failover, an idle timeout). */
    snprintf(url, sizeof(url), "%s&application_name=%s_victim", f->url, f->schema);
    s = vn_store_open(url, NULL, &err);
    assert_non_null(s);
    assert_int_equal(insert_note(s, "before"), 0);
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(insert_note(s, "in-flight"), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s_victim'",
             f->schema);
    assert_int_equal(raw_int(c, sql), 1);
    PQfinish(c);

    /* The transaction in flight died with the connection: its commit is unavailable (its
     * outcome unknown to the caller, so nothing of it is acknowledged). */
    assert_int_equal(insert_note(s, "more"), VN_EUNAVAIL);
    assert_int_equal(vn_store_commit(s), VN_EUNAVAIL);
    assert_int_equal(vn_store_last_class(s), VN_STORE_UNAVAILABLE);
    assert_int_equal(vn_store_rollback(s), 0);
    /* The next transaction connects anew by itself (no transaction was open to lose). */
    assert_int_equal(vn_store_ping(s), 0);
    assert_int_equal(count_notifications(s), 1); /* what was committed, not what was in flight */
    assert_int_equal(insert_note(s, "in-flight"), 0);
    /* And an explicit reconnect works as well. */
    assert_int_equal(vn_store_reconnect(s), 0);
    assert_int_equal(vn_store_last_class(s), VN_STORE_OK);
    assert_int_equal(count_notifications(s), 2);
    vn_store_free(s);
}

/* ---- an optimistic batch's asset adjustments, folded (pg/fold.c) ---------------------------- */

struct counts {
    long long t, a, v;
    int ns;
    long long version; /* the row's line pointer in its page: one more per row version */
};

static void asset_of(const struct pgfx *f, PGconn *c, const char *adam, struct counts *out)
{
    char sql[400];
    PGresult *r;

    snprintf(sql, sizeof(sql),
             "SELECT total_count, assigned_count, available_count, needs_sync::int, "
             "  (ctid::text::point)[1]::bigint FROM %s.assets WHERE adam_id = '%s'",
             f->schema, adam);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    out->t = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->a = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    out->v = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    out->ns = (int)strtol(PQgetvalue(r, 0, 3), NULL, 10);
    out->version = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    PQclear(r);
}

/* An asset row as a sync left it (needs_sync false), written by another client. */
static void asset_put(const struct pgfx *f, PGconn *c, const char *adam, long long t, long long a,
                      long long v)
{
    char sql[400];
    PGresult *r;

    snprintf(sql, sizeof(sql),
             "SET search_path = %s; " /* for the tables' triggers */
             "INSERT INTO assets(uid, adam_id, pricing_param, total_count, assigned_count, "
             "  available_count, needs_sync, updated_at) VALUES ('u1', '%s', 'STDQ', %lld, %lld, "
             "  %lld, false, now()); RESET search_path",
             f->schema, adam, t, a, v);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

/* One transaction of the n adjustments d (total, assigned, available) of asset adam,
 * optimistic or guarded: the commit's code. */
static int adjust_all(struct vn_store *s, const char *adam, const long long (*d)[3], size_t n,
                      int optimistic)
{
    int rc;

    assert_int_equal(vn_store_begin(s), 0);
    if (optimistic)
        assert_int_equal(vn_store_optimistic(s), 0);
    for (size_t i = 0; i < n; i++) {
        rc = vn_store_asset_adjust(s, "u1", adam, "STDQ", d[i][0], d[i][1], d[i][2]);
        if (rc) {
            vn_store_rollback(s);
            return rc;
        }
    }
    rc = vn_store_commit(s);
    if (rc)
        assert_int_equal(vn_store_rollback(s), 0);
    return rc;
}

static int total_cb(void *ud, const struct vn_row *row)
{
    for (size_t k = 0; k < row->n; k++)
        if (!strcmp(row->keys[k], "totalCount"))
            *(long long *)ud = row->vals[k].i;
    return 0;
}

/*
 * An optimistic batch's adjustments of one asset are one statement (one row version), and
 * leave exactly what the upserts one by one (a guarded batch) leave: a new row, sums, counts
 * that fall below 0 or assigned above total on the way (needs_sync), a read of the asset in
 * between (which sees the adjustments so far), ledger inserts in between, two assets. Where an
 * upsert would have saturated at the int64 limit, the optimistic batch fails (the writer runs
 * it again guarded) instead of writing another value.
 */
static void test_optimistic_asset_adjustments_fold(void **state)
{
    static const long long news[][3] = {{5, 0, 5}, {1, 0, 1}, {-2, 0, -2}};
    static const long long ten[][3] = {{1, 0, 1}, {1, 0, 1}, {1, 0, 1}, {1, 0, 1}, {1, 0, 1},
                                       {1, 0, 1}, {1, 0, 1}, {1, 0, 1}, {1, 0, 1}, {1, 0, 1}};
    static const long long below[][3] = {{-15, 0, -15}, {10, 0, 10}};
    static const long long above[][3] = {{0, 10, -10}, {0, -10, 10}};
    static const long long quiet[][3] = {{0, 0, 1}, {0, 0, -1}, {0, 1, 0}};
    static const long long edge[][3] = {{5, 0, 0}, {-5, 0, 0}};
    static const struct {
        const char *name;
        const long long (*d)[3];
        size_t n;
        int existing;
    } cases[] = {{"new", news, 3, 0},
                 {"ten", ten, 10, 1},
                 {"below", below, 2, 1},
                 {"above", above, 2, 1},
                 {"quiet", quiet, 3, 1}};
    struct pgfx *f = *state;
    struct vn_filter flt = {.adam_id = "9001"}; /* a filter takes adamIds only */
    struct counts ref, got, before;
    long long seen = 0;
    char ref_name[32], fold_name[32];
    PGconn *c = raw();

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        snprintf(ref_name, sizeof(ref_name), "ref-%s", cases[k].name);
        snprintf(fold_name, sizeof(fold_name), "fold-%s", cases[k].name);
        if (cases[k].existing) {
            asset_put(f, c, ref_name, 10, 3, 7);
            asset_put(f, c, fold_name, 10, 3, 7);
            asset_of(f, c, fold_name, &before);
        }
        /* The folded one first: its new row version takes the page's next line pointer. */
        assert_int_equal(adjust_all(f->st, fold_name, cases[k].d, cases[k].n, 1), 0);
        asset_of(f, c, fold_name, &got);
        assert_int_equal(adjust_all(f->st, ref_name, cases[k].d, cases[k].n, 0), 0);
        asset_of(f, c, ref_name, &ref);
        assert_int_equal(got.t, ref.t);
        assert_int_equal(got.a, ref.a);
        assert_int_equal(got.v, ref.v);
        assert_int_equal(got.ns, ref.ns);
        if (cases[k].existing) /* one new version of the row, not one per adjustment */
            assert_int_equal(got.version, before.version + 1);
    }
    asset_of(f, c, "ref-ten", &ref);
    assert_int_equal(ref.t, 20);
    assert_int_equal(ref.ns, 0);
    asset_of(f, c, "ref-below", &ref);
    assert_int_equal(ref.ns, 1);
    asset_of(f, c, "ref-above", &ref);
    assert_int_equal(ref.ns, 1);

    /* At the int64 limit the upserts saturate: the optimistic batch fails and leaves nothing;
     * the guarded one saturates. */
    asset_put(f, c, "edge", INT64_MAX - 1, 0, 0);
    assert_int_not_equal(adjust_all(f->st, "edge", edge, 2, 1), 0);
    asset_of(f, c, "edge", &got);
    assert_int_equal(got.t, INT64_MAX - 1);
    assert_int_equal(got.ns, 0);
    assert_int_equal(adjust_all(f->st, "edge", edge, 2, 0), 0);
    asset_of(f, c, "edge", &got);
    assert_int_equal(got.t, INT64_MAX - 5);
    assert_int_equal(got.ns, 1);

    /* A read of the asset in between sees the adjustments so far; ledger inserts in between
     * keep them; two assets. */
    asset_put(f, c, "9001", 10, 3, 7);
    asset_put(f, c, "9002", 10, 3, 7);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "9001", "STDQ", 1, 0, 1), 0);
    assert_int_equal(insert_note(f->st, "fold-1"), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "9002", "STDQ", 2, 0, 2), 0);
    assert_int_equal(insert_note(f->st, "fold-2"), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "9001", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_query(f->st, VN_Q_ASSETS, &flt, total_cb, &seen), 0);
    assert_int_equal(seen, 12);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "9001", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    asset_of(f, c, "9001", &got);
    assert_int_equal(got.t, 13);
    assert_int_equal(got.v, 10);
    asset_of(f, c, "9002", &got);
    assert_int_equal(got.t, 12);
    assert_int_equal(count_notifications(f->st), 2);
    PQfinish(c);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/*
 * Random sequences (as test_store_sqlite's test_optimistic_asset_counts_match_the_upserts,
 * int64 edges included): one asset adjusted in guarded transactions, its twin in optimistic
 * ones (run again guarded when the optimistic commit fails, as the writer does), end with the
 * same counts and needs_sync.
 */
static void test_folded_asset_counts_match_the_upserts(void **state)
{
    static const long long small[] = {0, 1, -1, 2, -2, 5, -5, 20};
    static const long long edge[] = {INT64_MAX, INT64_MIN,    INT64_MAX - 1, INT64_MIN + 1,
                                     1LL << 62, -(1LL << 62), 1000,          -1000};
    struct pgfx *f = *state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    const int rounds = 150;
    int reruns = 0;
    char sql[400];
    PGconn *c = raw();

    for (int i = 0; i < rounds; i++) {
        int steps = 1 + (int)(xorshift(&x) % 4), existing = (int)(xorshift(&x) % 2);
        long long seq[4][3], t0 = (long long)(xorshift(&x) % 8), a0 = (long long)(xorshift(&x) % 8);
        char g[16], o[16];
        PGresult *r;

        snprintf(g, sizeof(g), "g%d", i);
        snprintf(o, sizeof(o), "o%d", i);
        for (int k = 0; k < steps; k++)
            for (int m = 0; m < 3; m++)
                seq[k][m] = xorshift(&x) % 4 ? small[xorshift(&x) % 8] : edge[xorshift(&x) % 8];
        if (existing) { /* both start from the same committed row, needs_sync cleared */
            asset_put(f, c, g, t0, a0, t0 - a0);
            asset_put(f, c, o, t0, a0, t0 - a0);
        }
        assert_int_equal(adjust_all(f->st, g, (const long long(*)[3])seq, (size_t)steps, 0), 0);
        if (adjust_all(f->st, o, (const long long(*)[3])seq, (size_t)steps, 1) != 0) {
            reruns++;
            assert_int_equal(adjust_all(f->st, o, (const long long(*)[3])seq, (size_t)steps, 0), 0);
        }
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM %s.assets AS g JOIN %s.assets AS o ON o.adam_id = '%s' "
                 "WHERE g.adam_id = '%s' AND g.total_count = o.total_count AND "
                 "g.assigned_count = o.assigned_count AND g.available_count = o.available_count "
                 "AND g.needs_sync = o.needs_sync",
                 f->schema, f->schema, o, g);
        r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        if (strcmp(PQgetvalue(r, 0, 0), "1") != 0)
            fail_msg("round %d: asset %s differs from its guarded twin %s", i, o, g);
        PQclear(r);
    }
    /* Both ways covered: rounds that folded, and rounds at the edges that ran again. */
    assert_true(reruns > 0);
    assert_true(reruns < rounds / 2);
    PQfinish(c);
}

/*
 * After a restart (here: the server ends the session, as a fast or immediate shutdown does)
 * libpq calls an idle connection good until its next statement fails. A read outside any
 * transaction then runs once more on a new connection (pg/exec.c run_read): answered, not
 * "unavailable". A read inside a transaction is not (the transaction died with the
 * connection), nor is anything when the database is really gone (test_pg_chaos: 503).
 */
static void test_read_after_the_server_ended_the_session_runs_again(void **state)
{
    struct pgfx *f = *state;
    struct vn_error err = {0};
    struct vn_store *s;
    char url[600];
    size_t n = 0;

    snprintf(url, sizeof(url), "%s&application_name=%s_reader", f->url, f->schema);
    s = vn_store_open(url, NULL, &err);
    assert_non_null(s);
    assert_int_equal(insert_note(s, "before"), 0);
    assert_int_equal(count_notifications(s), 1);

    end_backend(f, "reader");
    assert_int_equal(vn_store_query(s, VN_Q_NOTIFICATIONS, NULL, count_row, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(vn_store_last_class(s), VN_STORE_OK);

    /* Twice in a row, and with a statement this connection never prepared. */
    end_backend(f, "reader");
    n = 0;
    assert_int_equal(vn_store_query(s, VN_Q_ASSETS, NULL, count_row, &n), 0);
    assert_int_equal(n, 0);

    /* Inside a transaction: lost with the connection, not run again elsewhere. */
    end_backend(f, "reader");
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(insert_note(s, "in-flight"), 0); /* reconnected at BEGIN: works */
    end_backend(f, "reader");
    n = 0;
    assert_int_equal(vn_store_query(s, VN_Q_NOTIFICATIONS, NULL, count_row, &n), VN_EUNAVAIL);
    assert_int_equal(vn_store_commit(s), VN_EUNAVAIL);
    assert_int_equal(vn_store_rollback(s), 0);

    /* A write outside a transaction after the end: its own transaction begins on a connection
     * made sure of (pg.c pg_begin), once. */
    assert_int_equal(count_notifications(s), 1); /* connected again; in-flight is not there */
    end_backend(f, "reader");
    assert_int_equal(insert_note(s, "after"), 0);
    assert_int_equal(count_notifications(s), 2); /* before, after */
    vn_store_free(s);
}

/*
 * The savepoint commands travel with the job's next statement (one pipeline, pg/exec.c): a job
 * that runs nothing, a job undone before it ran anything, a job whose statement fails in the
 * pipeline, on a fresh handle (its statements prepared on first use), each still alone; then a
 * connection dropped while a savepoint waits to be sent loses the transaction, never half.
 */
static void test_deferred_savepoints_keep_each_job_alone(void **state)
{
    struct pgfx *f = *state;
    struct vn_error err = {0};
    struct vn_store *s;
    char url[600];

    snprintf(url, sizeof(url), "%s&application_name=%s_deferred", f->url, f->schema);
    s = vn_store_open(url, NULL, &err);
    assert_non_null(s);
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0); /* a job that wrote nothing */
    assert_int_equal(vn_store_release(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0); /* a job undone before any statement */
    assert_int_equal(vn_store_rollback_to(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0); /* kept */
    assert_int_equal(insert_note(s, "one"), 0);
    assert_int_equal(vn_store_release(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0); /* its first statement fails: undone alone */
    assert_int_equal(insert_note(s, "undone"), 0);
    assert_int_equal(vn_store_event_failed_item(s, "no-event", 1, "1", "STDQ", "c", NULL),
                     VN_ESTORE);
    assert_non_null(strstr(vn_store_last_error(s), "23503"));
    assert_int_equal(vn_store_rollback_to(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0); /* the statement that fails comes first */
    assert_int_equal(vn_store_event_failed_item(s, "no-event", 1, "1", "STDQ", "c", NULL),
                     VN_ESTORE);
    assert_int_equal(vn_store_rollback_to(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0); /* and the transaction goes on */
    assert_int_equal(insert_note(s, "two"), 0);
    assert_int_equal(insert_note(s, "two"), VN_EDUP);
    assert_int_equal(vn_store_release(s), 0);
    assert_int_equal(vn_store_commit(s), 0);
    assert_int_equal(count_notifications(s), 2);

    /* The server process goes while a job's savepoint is still to be sent. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0);
    assert_int_equal(insert_note(s, "in-flight"), 0);
    assert_int_equal(vn_store_release(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0);
    end_backend(f, "deferred");
    assert_int_equal(insert_note(s, "more"), VN_EUNAVAIL);
    assert_int_equal(vn_store_commit(s), VN_EUNAVAIL);
    assert_int_equal(vn_store_rollback(s), 0);
    assert_int_equal(vn_store_ping(s), 0);
    assert_int_equal(count_notifications(s), 2); /* nothing of the lost transaction */
    vn_store_free(s);
}

/* A repeat of id with body, counted: *conflict says whether it differed from the first. */
static int repeat_note(struct vn_store *st, const char *id, const char *body, int *conflict)
{
    uint8_t d[VN_DIGEST_LEN];

    vn_digest(body, strlen(body), d);
    return vn_store_notification_repeat(st, id, d, conflict);
}

/* Repeats recorded for id, and how many of them conflicted, as another client reads them. */
static void repeats_of(const struct pgfx *f, const char *id, long long *n, long long *conflicts)
{
    char sql[300];
    PGconn *c = raw();

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".notification_repeats WHERE notification_id = '%s'",
             f->schema, id);
    *n = raw_int(c, sql);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".notification_repeats WHERE notification_id = '%s' "
             "AND conflict",
             f->schema, id);
    *conflicts = raw_int(c, sql);
    PQfinish(c);
}

/* The rows of table in the fixture's schema. */
static long long raw_count(const struct pgfx *f, const char *table)
{
    char sql[200];
    PGconn *c = raw();
    long long n;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".%s", f->schema, table);
    n = raw_int(c, sql);
    PQfinish(c);
    return n;
}

/*
 * Optimistic mode (store.h vn_store_optimistic, the writer's group commit on PostgreSQL): the
 * batch's ids read at once decide inserts and repeats without an answer each, an id twice in
 * the batch included; savepoints are no-ops and rolling back to one says "run it again"; a write
 * sent ahead that fails fails the transaction (never committed half); a dropped connection loses
 * it whole; after each, the next transaction is guarded again and works.
 */
static void test_optimistic_transactions(void **state)
{
    struct pgfx *f = *state;
    const char *ids[] = {"old", "new", "new", NULL, "\"odd\\id\""};
    struct vn_error err = {0};
    struct vn_store *s;
    long long n, conflicts;
    int conflict = -1, rc;
    char url[600], sql[200];
    PGconn *c;

    snprintf(url, sizeof(url), "%s&application_name=%s_optimistic", f->url, f->schema);
    s = vn_store_open(url, NULL, &err);
    assert_non_null(s);
    assert_int_equal(vn_store_optimistic(s), VN_ESTORE); /* outside a transaction: refused */
    assert_int_equal(insert_note(s, "old"), 0);

    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_optimistic(s), 0);
    assert_int_equal(vn_store_notifications_known(s, ids, 5), 0);
    assert_int_equal(vn_store_savepoint(s), 0);
    assert_int_equal(insert_note(s, "old"), VN_EDUP);            /* known before */
    assert_int_equal(repeat_note(s, "old", "{}", &conflict), 0); /* the same body */
    assert_int_equal(conflict, 0);
    assert_int_equal(vn_store_release(s), 0);
    assert_int_equal(insert_note(s, "new"), 0);
    assert_int_equal(insert_note(s, "new"), VN_EDUP); /* twice in one batch */
    assert_int_equal(repeat_note(s, "new", "{\"other\":1}", &conflict), 0);
    assert_int_equal(conflict, 1);
    assert_int_equal(insert_note(s, "\"odd\\id\""), 0); /* quoted in the array literal */
    assert_int_equal(insert_note(s, "unlisted"), 0);    /* not read: asked the usual way */
    assert_int_equal(insert_note(s, "unlisted"), VN_EDUP);
    assert_int_equal(vn_store_commit(s), 0);
    assert_int_equal(count_notifications(s), 4);
    repeats_of(f, "old", &n, &conflicts);
    assert_int_equal(n, 1);
    assert_int_equal(conflicts, 0);
    repeats_of(f, "new", &n, &conflicts);
    assert_int_equal(n, 1);
    assert_int_equal(conflicts, 1);

    /* A job that must undo its own writes cannot here: the whole transaction runs again. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_optimistic(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0);
    assert_int_equal(insert_note(s, "kept-not"), 0);
    assert_int_equal(vn_store_rollback_to(s), VN_ERETRY);
    assert_non_null(strstr(vn_store_last_error(s), "optimistic"));
    assert_int_equal(vn_store_rollback(s), 0);
    assert_int_equal(count_notifications(s), 4);

    /* A write sent ahead fails (a foreign key): its call said 0; the next statement that
     * needs an answer (an insert of an id not read) says so, and so does the commit. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_optimistic(s), 0);
    assert_int_equal(insert_note(s, "before-fk"), 0);
    assert_int_equal(vn_store_event_failed_item(s, "no-event", 1, "1", "STDQ", "c", NULL), 0);
    assert_int_equal(insert_note(s, "after-fk"), VN_ESTORE);
    assert_non_null(strstr(vn_store_last_error(s), "23503"));
    assert_int_not_equal(vn_store_commit(s), 0);
    assert_int_equal(vn_store_rollback(s), 0);
    assert_int_equal(count_notifications(s), 4); /* nothing of it */

    /* The same, found only at the commit. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_optimistic(s), 0);
    assert_int_equal(vn_store_event_failed_item(s, "no-event", 1, "1", "STDQ", "c", NULL), 0);
    assert_int_not_equal(vn_store_commit(s), 0);
    assert_non_null(strstr(vn_store_last_error(s), "23503"));
    assert_int_equal(vn_store_rollback(s), 0);
    assert_int_equal(count_notifications(s), 4);

    /* Guarded again: the same failure is the statement's own, at once. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_savepoint(s), 0);
    assert_int_equal(vn_store_event_failed_item(s, "no-event", 1, "1", "STDQ", "c", NULL),
                     VN_ESTORE);
    assert_int_equal(vn_store_rollback_to(s), 0);
    assert_int_equal(insert_note(s, "guarded"), 0);
    assert_int_equal(vn_store_commit(s), 0);
    assert_int_equal(count_notifications(s), 5);

    /* The connection goes with writes sent ahead and unanswered: lost whole, then back. */
    assert_int_equal(vn_store_begin(s), 0);
    assert_int_equal(vn_store_optimistic(s), 0);
    assert_int_equal(vn_store_asset_adjust(s, "u1", "1", "STDQ", 1, 0, 1), 0); /* sent ahead */
    end_backend(f, "optimistic");
    rc = vn_store_asset_adjust(s, "u1", "2", "STDQ", 1, 0, 1); /* buffered, or refused */
    assert_true(rc == 0 || rc == VN_EUNAVAIL);
    assert_int_equal(vn_store_commit(s), VN_EUNAVAIL);
    assert_int_equal(vn_store_rollback(s), 0);
    assert_int_equal(vn_store_ping(s), 0);
    assert_int_equal(count_notifications(s), 5);
    c = raw();
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".assets", f->schema);
    assert_int_equal(raw_int(c, sql), 0); /* nothing of the lost transaction */
    PQfinish(c);
    vn_store_free(s);
}

static struct vn_key_state key_state_of(struct vn_store *st, const struct vn_mirror_scope *k)
{
    struct vn_key_state ks;

    assert_int_equal(vn_store_key_state(st, VN_MT_ASSIGNMENTS, "u1", k, &ks), 0);
    return ks;
}

/*
 * An optimistic transaction that read an assignment key sends its insert, delete and event
 * stamp ahead without waiting, answering from the read; the results are those of the usual
 * way. A statement between the read and the write makes the write ask (a sync that inserted
 * the key: "not inserted"); a row another client inserted behind the writer's back fails the
 * transaction whole (it then runs again guarded), never counts twice.
 */
static void test_optimistic_assignment_writes_answer_from_the_key_read(void **state)
{
    struct pgfx *f = *state;
    struct vn_assignment a1 = {.adam_id = {"9"}, .pricing_param = "STDQ", .serial_number = "S1"};
    struct vn_assignment a2 = {.adam_id = {"9"}, .pricing_param = "STDQ", .serial_number = "S2"};
    struct vn_assignment a3 = {.adam_id = {"9"}, .pricing_param = "STDQ", .serial_number = "S3"};
    struct vn_mirror_scope k1 = {"9", "STDQ", NULL, "S1"}, k2 = {"9", "STDQ", NULL, "S2"};
    struct vn_mirror_scope k3 = {"9", "STDQ", NULL, "S3"};
    struct vn_key_state ks;
    uint8_t d[VN_DIGEST_LEN];
    char sql[300];
    PGconn *c;

    vn_digest("u1", 2, d);
    assert_int_equal(vn_store_location_add(f->st, "u1", "L", d, vn_now_ms()), 0);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(key_state_of(f->st, &k1).present, 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a1), 1);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_ASSIGNMENTS, "u1", &k1, "ev1"), 0);
    ks = key_state_of(f->st, &k1);
    assert_int_equal(ks.present, 1);
    assert_string_equal(ks.event_id, "ev1");
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &a1), 1);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_ASSIGNMENTS, "u1", &k1, "ev2"), 0);
    ks = key_state_of(f->st, &k1); /* its tombstone's */
    assert_int_equal(ks.present, 0);
    assert_string_equal(ks.event_id, "ev2");
    /* A removal of a key never seen: a tombstone with the event. */
    assert_int_equal(key_state_of(f->st, &k3).present, 0);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_ASSIGNMENTS, "u1", &k3, "ev3"), 0);
    /* Read absent, then inserted by another statement: the insert asks, and says 0. */
    assert_int_equal(key_state_of(f->st, &k2).present, 0);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 1, INT64_MAX, &a2), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a2), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(key_state_of(f->st, &k1).present, 0);
    assert_int_equal(key_state_of(f->st, &k2).present, 1);
    ks = key_state_of(f->st, &k3);
    assert_int_equal(ks.present, 0);
    assert_string_equal(ks.event_id, "ev3");

    /* Read absent, then inserted by a raw client (no writer lock): the transaction fails. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(key_state_of(f->st, &k3).present, 0);
    c = raw();
    snprintf(sql, sizeof(sql),
             "SET search_path = \"%s\"; INSERT INTO assignments(uid, adam_id, pricing_param, "
             "serial_number, updated_at) VALUES ('u1', '9', 'STDQ', 'S3', now())",
             f->schema);
    {
        PGresult *r = PQexec(c, sql);

        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("raw insert: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a3), 1); /* sent ahead */
    assert_int_not_equal(vn_store_commit(f->st), 0);
    assert_non_null(strstr(vn_store_last_error(f->st), "23505"));
    assert_int_equal(vn_store_rollback(f->st), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".assignments WHERE serial_number = 'S3'",
             f->schema);
    assert_int_equal(raw_int(c, sql), 1);
    PQfinish(c);
}

/*
 * A job's assignment keys read at once (vn_store_assignment_keys_known): each key's state is
 * then what its own read says (row, tombstone, neither); a key written, or any other write in
 * between (a sync that inserts a key read absent), makes the next read ask again.
 */
static void test_optimistic_key_set_answers_as_each_read(void **state)
{
    struct pgfx *f = *state;
    struct vn_assignment ap = {.adam_id = {"9"}, .pricing_param = "STDQ", .client_user_id = "c1"};
    struct vn_assignment at = {.adam_id = {"9"}, .pricing_param = "STDQ", .serial_number = "T1"};
    struct vn_assignment an = {.adam_id = {"9"}, .pricing_param = "STDQ", .serial_number = "N1"};
    struct vn_mirror_scope keys[3] = {
        {"9", "STDQ", "c1", NULL}, {"9", "STDQ", NULL, "T1"}, {"9", "STDQ", NULL, "N1"}};
    struct vn_key_state before[3], ks;
    uint8_t d[VN_DIGEST_LEN];
    int64_t clock = 0;

    vn_digest("u1", 2, d);
    assert_int_equal(vn_store_location_add(f->st, "u1", "L", d, vn_now_ms()), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &clock), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &ap), 1);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_ASSIGNMENTS, "u1", &keys[0], "evP"), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &at), 1);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &at), 1);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_ASSIGNMENTS, "u1", &keys[1], "evT"), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    for (int i = 0; i < 3; i++)
        before[i] = key_state_of(f->st, &keys[i]);
    assert_int_equal(before[0].present, 1);
    assert_string_equal(before[0].event_id, "evP");
    assert_int_equal(before[1].present, 0);
    assert_string_equal(before[1].event_id, "evT");
    assert_true(before[1].clock > 0);
    assert_int_equal(before[2].clock, 0);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_optimistic(f->st), 0);
    assert_int_equal(vn_store_assignment_keys_known(f->st, "u1", keys, 3), 0);
    for (int i = 2; i >= 0; i--) {
        ks = key_state_of(f->st, &keys[i]);
        assert_int_equal(ks.present, before[i].present);
        assert_int_equal(ks.clock, before[i].clock);
        assert_string_equal(ks.event_id, before[i].event_id);
    }
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &an), 1);
    assert_int_equal(key_state_of(f->st, &keys[2]).present, 1); /* written: asked again */
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 1, INT64_MAX, &at), 1);
    assert_int_equal(key_state_of(f->st, &keys[1]).present, 1); /* another write: asked */
    assert_int_equal(vn_store_commit(f->st), 0);
}

struct opener {
    const char *url;
    int rc;
};

static void *open_one(void *arg)
{
    struct opener *o = arg;
    struct vn_error err = {0};
    struct vn_store *s = vn_store_open(o->url, NULL, &err);

    o->rc = s ? 0 : err.code;
    if (!s)
        fprintf(stderr, "open: %s\n", err.msg);
    vn_store_free(s);
    return NULL;
}

static void test_concurrent_first_opens_migrate_once(void **state)
{
    struct pgfx *f = *state;
    struct opener o[6];
    pthread_t t[6];
    char url[600], sql[200];
    PGconn *c;

    snprintf(url, sizeof(url), "%s_fresh", f->url); /* a schema no one has opened yet */
    for (int i = 0; i < 6; i++) {
        o[i].url = url;
        o[i].rc = -1;
        assert_int_equal(pthread_create(&t[i], NULL, open_one, &o[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(o[i].rc, 0);
    }
    c = raw();
    snprintf(sql, sizeof(sql),
             "SELECT count(*) * 1000 + count(DISTINCT version) FROM %s_fresh.schema_migrations",
             f->schema);
    {
        int cur = 0, want = 0;

        assert_int_equal(vn_store_schema_version(f->st, &cur, &want), 0);
        assert_int_equal(raw_int(c, sql), want * 1000 + want); /* each version once */
    }
    PQfinish(c);
}

/* Another process migrating (holding the migration lock) longer than busy_timeout: an open
 * waits for it (up to statement_timeout), it does not fail after busy_timeout. */
struct lock_holder {
    PGconn *c;
    int held_ms;
};

static void *release_later(void *arg)
{
    struct lock_holder *h = arg;
    struct timespec pause = {h->held_ms / 1000, (long)(h->held_ms % 1000) * 1000000L};

    nanosleep(&pause, NULL);
    PQclear(PQexec(h->c, "SELECT pg_advisory_unlock_all()"));
    return NULL;
}

static void test_open_waits_for_a_long_migration_of_another_process(void **state)
{
    struct pgfx *f = *state;
    struct vn_error err = {0};
    struct lock_holder h = {raw(), 1500};
    struct vn_store *st;
    pthread_t t;
    char url[600], sql[300];

    snprintf(url, sizeof(url), "%s_held", f->url);
    st = vn_store_open(url, NULL, &err); /* the schema exists (and is migrated) */
    assert_non_null(st);
    vn_store_free(st);
    /* The migration lock of the schema, as handle.c takes it (class 'vnmg'). */
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(1986947431, hashtext('%s_held'))",
             f->schema);
    PQclear(PQexec(h.c, sql));
    assert_int_equal(pthread_create(&t, NULL, release_later, &h), 0);
    snprintf(url, sizeof(url), "%s_held&busy_timeout=200ms", f->url);
    st = vn_store_open(url, NULL, &err);
    pthread_join(t, NULL);
    if (!st)
        fprintf(stderr, "open: %s\n", err.msg);
    assert_non_null(st); /* before: "cannot lock ... for its migrations" after 200 ms */
    vn_store_free(st);
    PQfinish(h.c);
}

/* One of two handles that take and give up the mutex "location:race" over and over, each wait
 * a few ms, so that many waits time out just as the other gives the lock up. */
struct contender {
    const char *url;
    int iterations, held_times, failures;
};

static void *contend(void *arg)
{
    struct contender *c = arg;
    struct vn_error err = {0};
    struct vn_store *st = vn_store_open(c->url, NULL, &err);
    int held, lost;

    if (!st) {
        c->failures++;
        return NULL;
    }
    for (int i = 0; i < c->iterations; i++) {
        held = 0;
        if (vn_store_mutex_lock(st, "location:race", i % 3, &held) != 0)
            c->failures++;
        if (held) {
            c->held_times++;
            lost = 0;
            if (vn_store_mutex_unlock(st, "location:race", &lost) != 0 || lost)
                c->failures++;
        }
    }
    /* The handle stays open until the count below: a lock left held would still show. */
    return st;
}

/* store.h vn_store_mutex_lock: a wait that timed out in the instant PostgreSQL granted the
 * lock leaves it held by the session although the statement failed (proc.c LockErrorCleanup);
 * the handle then believed it did not hold it, never gave it up, and every other process
 * waited for it as long as the connection lived (seen: the chaos run stuck, every location's
 * request waiting). Once both contenders gave up what they believe they hold, no lock of the
 * class is held. */
static void test_mutex_granted_as_its_wait_timed_out_is_kept(void **state)
{
    struct pgfx *f = *state;
    struct contender c[2] = {{f->url, 1000, 0, 0}, {f->url, 1000, 0, 0}};
    struct vn_store *st[2];
    pthread_t t[2];
    PGconn *pc = raw();
    PGresult *res;
    char sql[300];
    void *out;

    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, contend, &c[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], &out);
        st[i] = out;
    }
    /* this test's lock only: other tests use the cluster meanwhile */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
             "classid = 1986945392 AND objsubid = 2 AND objid::bigint = "
             "(hashtext('%s/location:race')::bigint & 4294967295)",
             f->schema);
    res = PQexec(pc, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(c[i].failures, 0);
        assert_true(c[i].held_times > 0);
        vn_store_free(st[i]);
    }
    PQfinish(pc);
}

static void test_read_only_open_of_a_new_schema_is_refused(void **state)
{
    struct pgfx *f = *state;
    struct vn_store_options ro = {.read_only = 1};
    struct vn_error err = {0};
    char url[600];

    snprintf(url, sizeof(url), "%s_never", f->url);
    assert_null(vn_store_open(url, &ro, &err));
    assert_non_null(strstr(err.msg, "no vppnotify schema yet"));
}

/* vppnotify store copy must move every column of every table of PostgreSQL's schema too. */
static void test_copy_catalog_covers_every_table_and_column(void **state)
{
    struct pgfx *f = *state;
    PGconn *c = raw();
    const char *params[1] = {f->schema};
    PGresult *r = PQexecParams(c,
                               "SELECT table_name, count(*) FROM information_schema.columns "
                               "WHERE table_schema = $1 AND table_name NOT IN "
                               "('schema_migrations', 'token_epoch', 'health', 'health_probe', "
                               "'leases', 'api_key_epoch', 'change_dirty') "
                               "GROUP BY table_name ORDER BY table_name",
                               1, NULL, params, NULL, NULL, 0);
    char sql[256];

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), (int)vn__copy_table_count);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        const struct vn__copy_table *tab = NULL;

        for (size_t t = 0; t < vn__copy_table_count; t++)
            if (!strcmp(vn__copy_tables[t].name, name))
                tab = &vn__copy_tables[t];
        if (!tab)
            fail_msg("table %s is not in the copy catalog (src/lib/store/copy.c)", name);
        assert_int_equal(strtoll(PQgetvalue(r, i, 1), NULL, 10), (long long)tab->n);
        for (size_t k = 0; k < tab->n; k++) {
            snprintf(sql, sizeof(sql),
                     "SELECT count(*) FROM information_schema.columns WHERE table_schema = '%s' "
                     "AND table_name = '%s' AND column_name = '%s'",
                     f->schema, name, tab->cols[k]);
            if (raw_int(c, sql) != 1)
                fail_msg("column %s.%s of the catalog is not in the schema", name, tab->cols[k]);
        }
    }
    PQclear(r);
    PQfinish(c);
}

/* The SQLSTATE of one statement of a raw client, "ok" when it succeeded (in out). */
static const char *raw_state(PGconn *c, const char *sql, char *out, size_t len)
{
    PGresult *r = PQexec(c, sql);
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    snprintf(out, len, "%s", ok ? "ok" : st ? st : "?");
    PQclear(r);
    return out;
}

/* Migration 10 moved the ledger's CHECKs into domains: any client is still refused a state
 * other than applied/stored and a digest that is not 32 bytes, on insert and on update. */
static void test_ledger_refuses_bad_state_and_digest_from_any_client(void **state)
{
    struct pgfx *f = *state;
    PGconn *c = raw();
    char sql[512], st[8];
    static const char ins[] =
        "INSERT INTO %s.notifications(notification_id, uid, notification_type, state, body, "
        "body_sha256, body_length, received_at) VALUES ('%s', 'u1', 'ASSET_COUNT', '%s', "
        "'\\x7b7d', '\\x%s', 2, now())";
    static const char d32[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    snprintf(sql, sizeof(sql), ins, f->schema, "bad-state", "done", d32);
    assert_string_equal(raw_state(c, sql, st, sizeof(st)), "23514");
    snprintf(sql, sizeof(sql), ins, f->schema, "short-digest", "applied", "0011");
    assert_string_equal(raw_state(c, sql, st, sizeof(st)), "23514");
    snprintf(sql, sizeof(sql), ins, f->schema, "good", "stored", d32);
    assert_string_equal(raw_state(c, sql, st, sizeof(st)), "ok");
    snprintf(sql, sizeof(sql),
             "UPDATE %s.notifications SET state = 'lost' WHERE notification_id = 'good'",
             f->schema);
    assert_string_equal(raw_state(c, sql, st, sizeof(st)), "23514");
    snprintf(sql, sizeof(sql),
             "UPDATE %s.notifications SET body_sha256 = '\\x00' WHERE notification_id = 'good'",
             f->schema);
    assert_string_equal(raw_state(c, sql, st, sizeof(st)), "23514");
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.notifications", f->schema);
    assert_int_equal(raw_int(c, sql), 1);
    PQfinish(c);
    /* The store reads what another client wrote as before. */
    assert_int_equal(count_notifications(f->st), 1);
    assert_int_equal(insert_note(f->st, "good"), VN_EDUP);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_errors_name_the_part_and_hide_the_password),
        T(test_describe_says_durability_and_schema),
        T(test_writer_lock_makes_a_second_writer_wait_then_unavailable),
        T(test_repeats_commit_while_another_writer_holds_the_lock),
        T(test_kept_repeats_are_written_whole_or_not_at_all),
        T(test_failure_without_savepoint_ends_the_transaction_as_retry),
        T(test_dropped_connection_loses_the_transaction_then_reconnects),
        T(test_read_after_the_server_ended_the_session_runs_again),
        T(test_optimistic_asset_adjustments_fold),
        T(test_folded_asset_counts_match_the_upserts),
        T(test_deferred_savepoints_keep_each_job_alone),
        T(test_optimistic_transactions),
        T(test_optimistic_assignment_writes_answer_from_the_key_read),
        T(test_optimistic_key_set_answers_as_each_read),
        T(test_concurrent_first_opens_migrate_once),
        T(test_open_waits_for_a_long_migration_of_another_process),
        T(test_mutex_granted_as_its_wait_timed_out_is_kept),
        T(test_read_only_open_of_a_new_schema_is_refused),
        T(test_copy_catalog_covers_every_table_and_column),
        T(test_ledger_refuses_bad_state_and_digest_from_any_client),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
