/*
 * test_rejects.c - rejected requests: the store's rows (pruned by count and age, listed newest
 * first, --since and --limit) and the endpoint's bounded record (rejects.h): a window sums
 * rejections of one kind, holds at most keys_max kinds (the rest dropped and counted), and is
 * written by one writer job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define VN_TEST_DIR_PREFIX "/tmp/vn_rejects_"
#include "store_test.h"

#include "../../src/lib/ingest/rejects.h"
#include "vppnotify/writer.h"

struct seen {
    int n;
    char remote[8][48];
    long long count[8];
    const char *claimed[8];
};

static int collect(void *ud, const struct vn_row *row)
{
    struct seen *s = ud;

    if (s->n == 8)
        return 1;
    for (size_t k = 0; k < row->n; k++) {
        if (!strcmp(row->keys[k], "remote"))
            vn_strlcpy(s->remote[s->n], row->vals[k].s, sizeof(s->remote[0]));
        if (!strcmp(row->keys[k], "count"))
            s->count[s->n] = row->vals[k].i;
        if (!strcmp(row->keys[k], "claimedUId"))
            s->claimed[s->n] = row->vals[k].type == VN_V_NULL ? NULL : "set";
    }
    s->n++;
    return 0;
}

static void add(struct vn_store *st, const char *remote, int64_t at, long long max_rows,
                int64_t before)
{
    struct vn_rejection r = {.first_ms = at,
                             .last_ms = at,
                             .remote = remote,
                             .status = 401,
                             .reason = "unknown token",
                             .count = 2};

    assert_int_equal(vn_store_begin(st), 0);
    assert_int_equal(vn_store_rejections_add(st, &r, 1, max_rows, before), 0);
    assert_int_equal(vn_store_commit(st), 0);
}

static void test_store_rows(void **state)
{
    struct fx *f = *state;
    int64_t t0 = 1800000000000LL; /* 2027-01-15 */
    struct seen s = {0};

    add(f->st, "192.0.2.1", t0, 0, 0);
    add(f->st, "192.0.2.2", t0 + 1000, 0, 0);
    add(f->st, "192.0.2.3", t0 + 2000, 0, 0);
    assert_int_equal(vn_store_rejections(f->st, 0, 0, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.remote[0], "192.0.2.3"); /* newest first */
    assert_int_equal(s.count[0], 2);
    assert_null(s.claimed[0]);
    memset(&s, 0, sizeof(s));
    assert_int_equal(vn_store_rejections(f->st, t0 + 1000, 0, collect, &s), 0);
    assert_int_equal(s.n, 2); /* --since */
    memset(&s, 0, sizeof(s));
    assert_int_equal(vn_store_rejections(f->st, 0, 1, collect, &s), 0);
    assert_int_equal(s.n, 1); /* --limit */
    /* At most 2 rows: the two newest stay. */
    add(f->st, "192.0.2.4", t0 + 3000, 2, 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(vn_store_rejections(f->st, 0, 0, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.remote[1], "192.0.2.3");
    /* Older than t0 + 3000 goes. */
    add(f->st, "192.0.2.5", t0 + 4000, 0, t0 + 3500);
    memset(&s, 0, sizeof(s));
    assert_int_equal(vn_store_rejections(f->st, 0, 0, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.remote[0], "192.0.2.5");
}

static void test_record_sums_and_bounds(void **state)
{
    struct fx *f = *state;
    struct vn_writer *w = vn_writer_inline(f->st);
    struct vn_rejects_options o = {.keys_max = 4, .window_ms = 3600000};
    struct vn_rejects *r;
    struct vn_rejects_stats st;
    struct seen s = {0};
    char addr[32];

    assert_non_null(w);
    r = vn_rejects_new(w, &o, NULL);
    assert_non_null(r);
    /* 100 of one kind: one row counting 100. */
    for (int i = 0; i < 100; i++)
        vn_rejects_note(r, "198.51.100.7", 401, "unknown token", NULL, NULL);
    /* The same address with another reason, and a 403 with uIds: two more rows. */
    vn_rejects_note(r, "198.51.100.7", 401, "missing Authorization", NULL, NULL);
    vn_rejects_note(r, "198.51.100.7", 403, "uId of another location", "U1", "U2");
    /* 10 more addresses: one fits (4 kinds a window), 9 are dropped and counted. */
    for (int i = 0; i < 10; i++) {
        snprintf(addr, sizeof(addr), "203.0.113.%d", i);
        vn_rejects_note(r, addr, 401, "unknown token", NULL, NULL);
    }
    vn_rejects_flush(r); /* the inline writer commits at once */
    vn_rejects_stats(r, &st);
    assert_int_equal(st.noted, 112);
    assert_int_equal(st.written, 103);
    assert_int_equal(st.dropped_window, 9);
    assert_int_equal(st.dropped_writer, 0);
    assert_int_equal(vn_store_rejections(f->st, 0, 0, collect, &s), 0);
    assert_int_equal(s.n, 4);
    long long total = 0;
    for (int i = 0; i < s.n; i++)
        total += s.count[i];
    assert_int_equal(total, 103);
    /* A new window takes new kinds again. */
    vn_rejects_note(r, "203.0.113.99", 401, "unknown token", NULL, NULL);
    vn_rejects_flush(r);
    vn_rejects_stats(r, &st);
    assert_int_equal(st.written, 104);
    vn_rejects_free(r);
    vn_writer_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_sums_and_bounds, setup, teardown),
    };
    (void)render; /* store_test.h's, for other tests */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
