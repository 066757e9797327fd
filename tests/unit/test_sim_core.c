/*
 * test_sim_core.c - unit tests of vppsim's subtle pieces: opaque cursors (9812), the seeded
 * generator behind --seed (streams per run, keyed draws), time scaling and the retry window,
 * versioning (sinceVersionId), the state handle (statement slots, typed binding, errors that
 * are returned and never defaults), the request log's overlap count, and the fault settings.
 *
 * vppsim is a program, not a library, so this test compiles the self-contained sources it
 * checks into itself instead of linking them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../sim/db.c"
#include "../../sim/faults.c"
#include "../../sim/limits.c"
#include "../../sim/location.c"
#include "../../sim/reqlog.c"
#include "../../sim/rng.c"

#include <sodium.h>
#include <unistd.h>

static void cursor_round_trip(void **state)
{
    char cur[200];
    int64_t off = -1;

    (void)state;
    sim_cursor_encode("2049000000000001", COLL_SUBSCRIPTIONS, 1000, cur, sizeof(cur));
    assert_int_equal(sim_cursor_decode("2049000000000001", COLL_SUBSCRIPTIONS, cur, &off), 0);
    assert_int_equal(off, 1000);
    /* Bound to its location and endpoint. */
    assert_int_equal(sim_cursor_decode("2049000000000002", COLL_SUBSCRIPTIONS, cur, &off), -1);
    assert_int_equal(sim_cursor_decode("2049000000000001", COLL_ADMINS, cur, &off), -1);
    /* A changed character, garbage, empty, over-long. */
    cur[3] = cur[3] == 'A' ? 'B' : 'A';
    assert_int_equal(sim_cursor_decode("2049000000000001", COLL_SUBSCRIPTIONS, cur, &off), -1);
    assert_int_equal(sim_cursor_decode("2049000000000001", COLL_SUBSCRIPTIONS, "garbage!", &off),
                     -1);
    assert_int_equal(sim_cursor_decode("2049000000000001", COLL_SUBSCRIPTIONS, "", &off), -1);
    memset(cur, 'A', 150);
    cur[150] = '\0';
    assert_int_equal(sim_cursor_decode("2049000000000001", COLL_SUBSCRIPTIONS, cur, &off), -1);
}

static void seeded_generator_is_deterministic(void **state)
{
    struct sim_rng a, b, c, d;
    char ua[37], ub[37], uc[37], ud[37];

    (void)state;
    sim_rng_init(&a, 42, 1);
    sim_rng_init(&b, 42, 1);
    sim_rng_init(&c, 43, 1);
    sim_rng_init(&d, 42, 2);        /* the same seed after a restart: another stream */
    for (int i = 0; i < 100; i++) { /* cross the 1 KiB pool boundary */
        sim_uuid(&a, ua);
        sim_uuid(&b, ub);
        sim_uuid(&c, uc);
        sim_uuid(&d, ud);
        assert_string_equal(ua, ub);
        assert_string_not_equal(ua, uc);
        assert_string_not_equal(ua, ud);
    }
    assert_int_equal(strlen(ua), 36);
    assert_int_equal(ua[14], '4');
    assert_true(strchr("89ab", ua[19]) != NULL);
    assert_int_equal(sim_rng_seed(&a), 42);
    sim_rng_release(&a);
    sim_rng_release(&b);
    sim_rng_release(&c);
    sim_rng_release(&d);
}

static void seed_zero_draws_a_seed(void **state)
{
    struct sim_rng a, b;
    char ua[37], ub[37];

    (void)state;
    sim_rng_init(&a, 0, 1);
    assert_true(sim_rng_seed(&a) != 0);
    /* The printed seed replays the run. */
    sim_rng_init(&b, sim_rng_seed(&a), 1);
    sim_uuid(&a, ua);
    sim_uuid(&b, ub);
    assert_string_equal(ua, ub);
    sim_rng_release(&a);
    sim_rng_release(&b);
}

static void keyed_draws_ignore_the_stream(void **state)
{
    struct sim_rng a, b;
    char u[37];
    double x;

    (void)state;
    sim_rng_init(&a, 5, 1);
    sim_rng_init(&b, 5, 7);
    x = sim_rng_keyed(&a, "drop", "n-1", 0);
    for (int i = 0; i < 50; i++)
        sim_uuid(&a, u); /* other draws in between change nothing */
    assert_true(x >= 0 && x < 1);
    assert_true(sim_rng_keyed(&a, "drop", "n-1", 0) == x);
    assert_true(sim_rng_keyed(&b, "drop", "n-1", 0) == x); /* nor does the run */
    assert_true(sim_rng_keyed(&a, "drop", "n-2", 0) != x);
    assert_true(sim_rng_keyed(&a, "delay", "n-1", 0) != x);
    assert_true(sim_rng_keyed(&a, "drop", "n-1", 1) != x);
    sim_rng_release(&a);
    sim_rng_release(&b);
}

static void uniform_and_chance(void **state)
{
    struct sim_rng s;
    int seen[7] = {0};

    (void)state;
    sim_rng_init(&s, 7, 0);
    for (int i = 0; i < 7000; i++) {
        uint64_t v = sim_rng_uniform(&s, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 700 && seen[i] < 1300);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sim_rng_chance(&s, 0), 0);
        assert_int_equal(sim_rng_chance(&s, 1), 1);
        double d = sim_rng_double(&s);
        assert_true(d >= 0 && d < 1);
    }
    sim_rng_release(&s);
}

static void time_scale(void **state)
{
    (void)state;
    assert_int_equal(sim_scaled_ms(0.01, 60000), 600);   /* Apple's 1 minute */
    assert_int_equal(sim_scaled_ms(0.01, 300000), 3000); /* 5 minutes */
    assert_int_equal(sim_scaled_ms(0, 300000), 0);
    assert_int_equal(sim_scaled_ms(1, -5), 0);
}

static void retry_schedule_inside_apple_window(void **state)
{
    struct sim_rng s;

    (void)state;
    sim_rng_init(&s, 3, 0);
    for (int i = 0; i < 1000; i++) {
        int64_t a2 = sim_retry_offset_ms(1, sim_rng_double(&s), 2);
        int64_t a3 = sim_retry_offset_ms(1, sim_rng_double(&s), 3);
        assert_true(a2 >= 60000 && a2 <= 90000);
        assert_true(a3 >= 180000 && a3 <= 240000);
    }
    for (int i = 0; i < 1000; i++) {
        int64_t a2 = sim_retry_offset_ms(0.01, sim_rng_double(&s), 2);
        int64_t a3 = sim_retry_offset_ms(0.01, sim_rng_double(&s), 3);
        assert_true(a2 >= 600 && a2 <= 900);
        assert_true(a3 >= 1800 && a3 <= 2400);
    }
    /* The ends of the window, and a unit out of range clamped into it. */
    assert_int_equal(sim_retry_offset_ms(1, 0, 2), 60000);
    assert_true(sim_retry_offset_ms(1, 1.5, 3) <= 240000);
    sim_rng_release(&s);
}

/* One statement run on db: 0 or its error. */
static int run(struct sim_db *db, const char *sql)
{
    struct sim_sql s = {sql, 0};
    struct sim_stmt q;
    int rc = sim_db_prepare(db, &s, &q);

    return rc ? rc : sim_stmt_exec(&q, NULL);
}

static void versions_name_writes(void **state)
{
    struct sim_rng rng;
    struct sim_db *db = NULL;
    struct sim_write w;
    struct sim_stmt q;
    char v0[37], v1[37], v2[37];
    int64_t seq = -1, n = -1;
    json_t *rows = NULL;

    (void)state;
    sim_rng_init(&rng, 1, 0);
    assert_int_equal(sim_db_open(":memory:", &db, NULL), 0);
    assert_int_equal(sim_db_run(db), 1);
    assert_int_equal(run(db, "INSERT INTO locations(uid, org_name, location_name, country,"
                             " website_url, default_platform, created_ms)"
                             " VALUES('1', 'o', 'l', 'US', 'w', 'p', 0)"),
                     0);
    assert_int_equal(SIM_PREPARE(db, &q,
                                 "INSERT INTO versions(uid, coll, version_id, seq)"
                                 " VALUES('1', ?1, 'v-0', 0)"),
                     0);
    sim_bind_int(&q, 1, COLL_USERS);
    assert_int_equal(sim_stmt_exec(&q, NULL), 0);
    assert_int_equal(sim_version_current(db, "1", COLL_USERS, v0), 0);
    assert_string_equal(v0, "v-0");

    /* A write that touches users gives users (only) a new versionId. */
    assert_int_equal(sim_write_begin(db, &w, "1"), 0);
    assert_int_equal(w.seq, 1);
    assert_int_equal(SIM_PREPARE(db, &q,
                                 "INSERT INTO users(uid, client_user_id, status, seq)"
                                 " VALUES('1', 'a', 'Registered', ?1)"),
                     0);
    sim_bind_int(&q, 1, w.seq);
    assert_int_equal(sim_stmt_exec(&q, NULL), 0);
    sim_write_touch(&w, COLL_USERS);
    assert_int_equal(sim_write_end(db, &rng, &w), 0);
    assert_int_equal(sim_version_current(db, "1", COLL_USERS, v1), 0);
    assert_string_not_equal(v1, v0);
    assert_int_equal(sim_version_current(db, "1", COLL_ASSETS, v2), 0);
    assert_string_equal(v2, "");

    /* sinceVersionId = rows with seq greater than the version's; an unknown one is not 0. */
    assert_int_equal(sim_version_seq(db, "1", COLL_USERS, v0, &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(sim_version_seq(db, "1", COLL_USERS, v1, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(sim_version_seq(db, "1", COLL_ASSETS, v1, &seq), VN_ENOTFOUND);
    assert_int_equal(sim_version_seq(db, "2", COLL_USERS, v1, &seq), VN_ENOTFOUND);
    assert_int_equal(SIM_PREPARE(db, &q, "SELECT COUNT(*) FROM users WHERE seq > ?1"), 0);
    sim_bind_int(&q, 1, 1);
    assert_int_equal(sim_stmt_int(&q, &n), 0);
    assert_int_equal(n, 0);

    /* Row conversion: b: booleans, j: JSON, NULLs left out. */
    assert_int_equal(SIM_PREPARE(db, &q,
                                 "SELECT 1 AS \"b:yes\", '[1,2]' AS \"j:list\", NULL AS gone,"
                                 " 'x' AS s"),
                     0);
    assert_int_equal(sim_stmt_rows(&q, &rows), 0);
    {
        char *text = json_dumps(json_array_get(rows, 0), JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(text, "{\"list\":[1,2],\"s\":\"x\",\"yes\":true}");
        free(text);
    }
    json_decref(rows);
    sim_db_close(db);
    sim_rng_release(&rng);
}

/* Regression: a failed query used to answer a default (0, NULL) as if it had succeeded, and a
 * full statement cache aborted the process. Now every failure is a returned error. */
static void errors_are_returned(void **state)
{
    struct sim_db *db = NULL;
    struct sim_sql bad = {"SELECT nothing FROM nowhere", 0};
    struct sim_stmt q;
    int64_t n = 42;
    char *text = (char *)"unchanged";
    json_t *rows = NULL;

    (void)state;
    assert_int_equal(sim_db_open(":memory:", &db, NULL), 0);
    /* A statement that cannot be prepared: VN_ESTORE, again on the next try. */
    assert_int_equal(sim_db_prepare(db, &bad, &q), VN_ESTORE);
    assert_int_equal(sim_db_prepare(db, &bad, &q), VN_ESTORE);
    /* No row is VN_ENOTFOUND, not a default. */
    assert_int_equal(SIM_PREPARE(db, &q, "SELECT seq FROM locations WHERE uid = ?1"), 0);
    sim_bind_text(&q, 1, "missing");
    assert_int_equal(sim_stmt_int(&q, &n), VN_ENOTFOUND);
    assert_int_equal(n, 42);
    assert_int_equal(SIM_PREPARE(db, &q, "SELECT org_name FROM locations WHERE uid = ?1"), 0);
    sim_bind_text(&q, 1, "missing");
    assert_int_equal(sim_stmt_text(&q, &text), VN_ENOTFOUND);
    assert_null(text);
    /* A binding that does not fit the statement fails the step, not silently. */
    assert_int_equal(SIM_PREPARE(db, &q, "SELECT ?1"), 0);
    sim_bind_int(&q, 2, 7);
    assert_int_equal(sim_stmt_int(&q, &n), VN_ESTORE);
    /* A constraint violation is an error of the step; the statement is usable again after. */
    assert_int_equal(run(db, "INSERT INTO meta(key, value) VALUES('k', NULL)"), VN_ESTORE);
    assert_int_equal(SIM_PREPARE(db, &q, "SELECT ?1 AS v"), 0);
    sim_bind_text(&q, 1, "again");
    assert_int_equal(sim_stmt_rows(&q, &rows), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "v")), "again");
    json_decref(rows);
    sim_db_close(db);
}

static void statements_live_in_each_handle(void **state)
{
    struct sim_db *a = NULL, *b = NULL;
    struct sim_sql s = {"SELECT ?1 + 1", 0};
    struct sim_stmt qa, qb;
    int64_t x = 0, y = 0;

    (void)state;
    assert_int_equal(sim_db_open(":memory:", &a, NULL), 0);
    assert_int_equal(sim_db_open(":memory:", &b, NULL), 0);
    assert_int_equal(sim_db_prepare(a, &s, &qa), 0);
    assert_true(s.slot > 0);
    assert_int_equal(sim_db_prepare(b, &s, &qb), 0);
    assert_ptr_not_equal(qa.st, qb.st); /* one slot number, one statement per handle */
    sim_bind_int(&qa, 1, 1);
    sim_bind_int(&qb, 1, 10);
    assert_int_equal(sim_stmt_int(&qa, &x), 0);
    assert_int_equal(sim_stmt_int(&qb, &y), 0);
    assert_int_equal(x, 2);
    assert_int_equal(y, 11);
    /* More texts than slots: an error, never an abort. */
    {
        struct sim_sql many[SIM_DB_SLOTS + 1];
        int failed = 0;
        for (int i = 0; i < SIM_DB_SLOTS + 1; i++) {
            many[i].text = "SELECT 1";
            many[i].slot = 0;
            failed |= sim_db_prepare(a, &many[i], &qa) == VN_ESTORE;
        }
        assert_true(failed);
    }
    sim_db_close(a);
    sim_db_close(b);
}

static void runs_are_counted(void **state)
{
    char path[] = "/tmp/test_sim_core.XXXXXX";
    struct sim_db *db = NULL;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    assert_int_equal(sim_db_open(path, &db, NULL), 0);
    assert_int_equal(sim_db_run(db), 1);
    assert_int_equal(sim_db_schema(db), NMIGRATIONS);
    sim_db_close(db);
    assert_int_equal(sim_db_open(path, &db, NULL), 0);
    assert_int_equal(sim_db_run(db), 2);
    sim_db_close(db);
    unlink(path);
    {
        char wal[64];
        snprintf(wal, sizeof(wal), "%s-wal", path);
        unlink(wal);
        snprintf(wal, sizeof(wal), "%s-shm", path);
        unlink(wal);
    }
}

static void request_log_overlaps(void **state)
{
    struct sim_reqlog *l = NULL;
    json_t *out;
    struct sim_reqlog_entry e = {"GET",
                                 "/mdm/v2/assets",
                                 "/mdm/v2/assets",
                                 "A",
                                 200,
                                 1,
                                 0,
                                 0,
                                 0,
                                 "vppnotify/1 (instance a1)\x01"};

    (void)state;
    assert_int_equal(sim_reqlog_new(4, &l), 0);
    /* A: [0,10) then [10,20): back to back, no overlap. B: [5,15) overlaps A but is another
     * location. */
    e.start_mono_us = 0, e.end_mono_us = 10;
    sim_reqlog_record(l, &e);
    e.start_mono_us = 10, e.end_mono_us = 20;
    sim_reqlog_record(l, &e);
    e.uid = "B", e.start_mono_us = 5, e.end_mono_us = 15;
    sim_reqlog_record(l, &e);
    out = sim_reqlog_entries(l, "A", 0, 100);
    assert_int_equal(json_integer_value(json_object_get(out, "maxConcurrent")), 1);
    assert_int_equal(json_array_size(json_object_get(out, "entries")), 2);
    /* The User-Agent tells instances apart; a control character becomes '?'. */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(out, "entries"), 0), "userAgent")),
                        "vppnotify/1 (instance a1)?");
    json_decref(out);
    /* A third request of A inside the second: two at once. */
    e.uid = "A", e.start_mono_us = 12, e.end_mono_us = 13;
    sim_reqlog_record(l, &e);
    out = sim_reqlog_entries(l, NULL, 0, 100);
    assert_int_equal(json_integer_value(json_object_get(out, "maxConcurrent")), 2);
    json_decref(out);
    /* The ring keeps the last 4 and counts what it dropped. */
    e.start_mono_us = 30, e.end_mono_us = 31;
    sim_reqlog_record(l, &e);
    out = sim_reqlog_entries(l, NULL, 0, 100);
    assert_int_equal(json_integer_value(json_object_get(out, "dropped")), 1);
    assert_int_equal(json_array_size(json_object_get(out, "entries")), 4);
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(json_object_get(out, "entries"), 0), "id")),
                     2);
    json_decref(out);
    out = sim_reqlog_entries(l, NULL, 4, 100);
    assert_int_equal(json_array_size(json_object_get(out, "entries")), 1);
    json_decref(out);
    /* Counters: every request, reset after reading. */
    out = sim_reqlog_counters(l, 1);
    assert_int_equal(json_integer_value(json_object_get(out, "total")), 5);
    json_decref(out);
    out = sim_reqlog_counters(l, 0);
    assert_int_equal(json_integer_value(json_object_get(out, "total")), 0);
    json_decref(out);
    sim_reqlog_free(l);
}

static void fault_settings(void **state)
{
    struct sim_config cfg;
    struct sim_rng rng;
    struct sim_faults *f = NULL;
    struct sim_fault_hit hit;
    struct vn_error err = {0};
    json_t *body;
    int number = 0;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.fault_delay_by_ms = 30000;
    cfg.fault_retry_after = 1;
    sim_rng_init(&rng, 9, 1);
    assert_int_equal(sim_faults_new(&cfg, &rng, &f, &err), 0);
    assert_int_equal(sim_faults_api(f, "/mdm/v2/assets", &hit), 0);
    /* 500/9603 with Retry-After, counted, for one path. */
    body = json_loads("{\"http500\":{\"count\":2,\"retryAfter\":9,\"path\":\"/mdm/v2/assets\"}}", 0,
                      NULL);
    assert_int_equal(sim_faults_update(f, body, &err), 0);
    json_decref(body);
    assert_int_equal(sim_faults_api(f, "/mdm/v2/users", &hit), 0);
    assert_int_equal(sim_faults_api(f, "/mdm/v2/assets", &hit), 1);
    assert_int_equal(hit.status, 500);
    assert_int_equal(hit.number, 9603);
    assert_int_equal(hit.retry_after, 9);
    assert_int_equal(sim_faults_api(f, "/mdm/v2/assets", &hit), 1);
    assert_int_equal(sim_faults_api(f, "/mdm/v2/assets", &hit), 0);
    /* Any synchronous Apple error: 9634 is 410, without Retry-After. */
    body = json_loads("{\"apiError\":{\"errorNumber\":9634,\"probability\":1}}", 0, NULL);
    assert_int_equal(sim_faults_update(f, body, &err), 0);
    json_decref(body);
    assert_int_equal(sim_faults_api(f, "/mdm/v2/users", &hit), 1);
    assert_int_equal(hit.status, 410);
    assert_int_equal(hit.retry_after, 0);
    /* Bad input names the field and value, and changes nothing. */
    body = json_loads("{\"drop\":0.5,\"apiError\":{\"errorNumber\":9644}}", 0, NULL);
    assert_int_equal(sim_faults_update(f, body, &err), VN_EPARSE);
    assert_non_null(strstr(err.msg, "9644"));
    json_decref(body);
    body = json_loads("{\"asyncError\":{\"errorNumber\":9623,\"count\":1}}", 0, NULL);
    assert_int_equal(sim_faults_update(f, body, &err), VN_EPARSE);
    json_decref(body);
    body = sim_faults_json(f);
    assert_true(json_real_value(json_object_get(body, "drop")) == 0);
    json_decref(body);
    /* Async errors: the next task of the kind, then no more. */
    body = json_loads("{\"asyncError\":{\"errorNumber\":9644,\"count\":1,\"kind\":\"users\"}}", 0,
                      NULL);
    assert_int_equal(sim_faults_update(f, body, &err), 0);
    json_decref(body);
    assert_int_equal(sim_faults_async(f, "assets", "e", 0, &number), 0);
    assert_int_equal(sim_faults_async(f, "users", "e", 0, &number), 1);
    assert_int_equal(number, 9644);
    assert_int_equal(sim_faults_async(f, "users", "e", 1, &number), 0);
    /* Notification faults are keyed by the notification: the same answer every time. */
    body = json_loads("{\"reset\":true,\"drop\":0.5}", 0, NULL);
    assert_int_equal(sim_faults_update(f, body, &err), 0);
    json_decref(body);
    {
        struct sim_nfault a, b;
        int drops = 0;
        for (int i = 0; i < 200; i++) {
            char id[16];
            snprintf(id, sizeof(id), "n%d", i);
            sim_faults_notification(f, id, &a);
            sim_faults_notification(f, id, &b);
            assert_int_equal(a.drop, b.drop);
            drops += a.drop;
        }
        assert_true(drops > 60 && drops < 140);
    }
    sim_faults_free(f);
    sim_rng_release(&rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cursor_round_trip),
        cmocka_unit_test(seeded_generator_is_deterministic),
        cmocka_unit_test(seed_zero_draws_a_seed),
        cmocka_unit_test(keyed_draws_ignore_the_stream),
        cmocka_unit_test(uniform_and_chance),
        cmocka_unit_test(time_scale),
        cmocka_unit_test(retry_schedule_inside_apple_window),
        cmocka_unit_test(versions_name_writes),
        cmocka_unit_test(errors_are_returned),
        cmocka_unit_test(runs_are_counted),
        cmocka_unit_test(request_log_overlaps),
        cmocka_unit_test(fault_settings),
        /* Last: it uses up the process's statement slots. */
        cmocka_unit_test(statements_live_in_each_handle),
    };

    if (sodium_init() < 0)
        return 1;
    vn_log_setup(VN_LOG_ERROR, VN_LOG_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
