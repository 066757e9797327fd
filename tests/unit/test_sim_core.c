/*
 * test_sim_core.c - unit tests of vppsim's subtle pieces: opaque cursors (9812), the
 * deterministic generator behind --seed, time scaling, and versioning (sinceVersionId).
 *
 * vppsim is a program, not a library, so this test compiles the two self-contained sources
 * it checks (sim/rng.c and sim/db.c) into itself instead of linking them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../sim/db.c"
#include "../../sim/rng.c"

#include <sodium.h>

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
    struct sim a, b, c;
    char ua[37], ub[37], uc[37];

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    sim_rng_init(&a, 42);
    sim_rng_init(&b, 42);
    sim_rng_init(&c, 43);
    for (int i = 0; i < 100; i++) { /* cross the 1 KiB pool boundary */
        sim_uuid(&a, ua);
        sim_uuid(&b, ub);
        sim_uuid(&c, uc);
        assert_string_equal(ua, ub);
        assert_string_not_equal(ua, uc);
    }
    assert_int_equal(strlen(ua), 36);
    assert_int_equal(ua[14], '4');
    assert_true(strchr("89ab", ua[19]) != NULL);
}

static void uniform_and_chance(void **state)
{
    struct sim s;
    int seen[7] = {0};

    (void)state;
    memset(&s, 0, sizeof(s));
    sim_rng_init(&s, 7);
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
}

static void time_scale(void **state)
{
    struct sim s;

    (void)state;
    memset(&s, 0, sizeof(s));
    s.time_scale = 0.01;
    assert_int_equal(sim_scaled_ms(&s, 60000), 600);   /* Apple's 1 minute */
    assert_int_equal(sim_scaled_ms(&s, 300000), 3000); /* 5 minutes */
    s.time_scale = 0;
    assert_int_equal(sim_scaled_ms(&s, 300000), 0);
    s.time_scale = 1;
    assert_int_equal(sim_scaled_ms(&s, -5), 0);
}

static void retry_schedule_inside_apple_window(void **state)
{
    struct sim s;

    (void)state;
    memset(&s, 0, sizeof(s));
    sim_rng_init(&s, 3);
    s.time_scale = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t a2 = sim_retry_offset_ms(&s, 2), a3 = sim_retry_offset_ms(&s, 3);
        assert_true(a2 >= 60000 && a2 <= 90000);
        assert_true(a3 >= 180000 && a3 <= 240000);
    }
    s.time_scale = 0.01;
    for (int i = 0; i < 1000; i++) {
        int64_t a2 = sim_retry_offset_ms(&s, 2), a3 = sim_retry_offset_ms(&s, 3);
        assert_true(a2 >= 600 && a2 <= 900);
        assert_true(a3 >= 1800 && a3 <= 2400);
    }
}

static void versions_name_writes(void **state)
{
    struct sim s;
    struct sim_write w;
    char v0[37], v1[37], v2[37];
    json_t *rows;

    (void)state;
    memset(&s, 0, sizeof(s));
    sim_rng_init(&s, 1);
    assert_int_equal(sim_db_open(&s, ":memory:", NULL), 0);
    assert_int_equal(sim_exec(&s,
                              "INSERT INTO locations(uid, org_name, location_name, country,"
                              " website_url, default_platform, created_ms)"
                              " VALUES('1', 'o', 'l', 'US', 'w', 'p', 0)",
                              ""),
                     0);
    sim_exec(&s, "INSERT INTO versions(uid, coll, version_id, seq) VALUES('1', ?, 'v-0', 0)", "i",
             (int64_t)COLL_USERS);
    sim_version_current(&s, "1", COLL_USERS, v0);
    assert_string_equal(v0, "v-0");

    /* A write that touches users gives users (only) a new versionId. */
    sim_write_begin(&s, &w, "1");
    assert_int_equal(w.seq, 1);
    sim_exec(
        &s, "INSERT INTO users(uid, client_user_id, status, seq) VALUES('1', 'a', 'Registered', ?)",
        "i", w.seq);
    sim_write_touch(&w, COLL_USERS);
    assert_int_equal(sim_write_end(&s, &w), 0);
    sim_version_current(&s, "1", COLL_USERS, v1);
    assert_string_not_equal(v1, v0);
    sim_version_current(&s, "1", COLL_ASSETS, v2);
    assert_string_equal(v2, "");

    /* sinceVersionId = rows with seq greater than the version's. */
    assert_int_equal(sim_version_seq(&s, "1", COLL_USERS, v0), 0);
    assert_int_equal(sim_version_seq(&s, "1", COLL_USERS, v1), 1);
    assert_int_equal(sim_version_seq(&s, "1", COLL_ASSETS, v1), -1);
    assert_int_equal(sim_version_seq(&s, "2", COLL_USERS, v1), -1);
    assert_int_equal(sim_query_int(&s, -1, "SELECT COUNT(*) FROM users WHERE seq > ?", "i",
                                   sim_version_seq(&s, "1", COLL_USERS, v1)),
                     0);

    /* Row conversion: b: booleans, j: JSON, NULLs left out. */
    rows = sim_query_json(
        &s, "SELECT 1 AS \"b:yes\", '[1,2]' AS \"j:list\", NULL AS gone, 'x' AS s", "");
    assert_non_null(rows);
    {
        char *text = json_dumps(json_array_get(rows, 0), JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(text, "{\"list\":[1,2],\"s\":\"x\",\"yes\":true}");
        free(text);
    }
    json_decref(rows);
    sim_db_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cursor_round_trip),
        cmocka_unit_test(seeded_generator_is_deterministic),
        cmocka_unit_test(uniform_and_chance),
        cmocka_unit_test(time_scale),
        cmocka_unit_test(retry_schedule_inside_apple_window),
        cmocka_unit_test(versions_name_writes),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
