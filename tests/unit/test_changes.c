/*
 * Unit tests of the change log (store.h, "the integration API's tables") through store.h only,
 * so a second backend runs them unchanged (VN_TEST_STORE_URL, store_test.h): every write
 * primitive appends its change in the transaction that makes it, one per key and transaction,
 * rendered exactly as the read queries show the row; nothing of a rolled-back job or
 * transaction; seqs in commit order; the observer; retention.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VN_TEST_DIR_PREFIX "/tmp/vn_changes_"
#include "store_test.h"
#include "vppnotify/rows.h"
#include "vppnotify/secret.h"

#define MAXCH 256

struct log {
    size_t n;
    int64_t seq[MAXCH];
    char kind[MAXCH][32], op[MAXCH][16], uid[MAXCH][64];
    char key[MAXCH][256], row[MAXCH][2048];
};

static int collect(void *ud, const struct vn_change *c)
{
    struct log *l = ud;

    if (l->n >= MAXCH)
        return 1;
    l->seq[l->n] = c->seq;
    vn_strlcpy(l->kind[l->n], c->kind, sizeof(l->kind[0]));
    vn_strlcpy(l->op[l->n], c->op, sizeof(l->op[0]));
    vn_strlcpy(l->uid[l->n], c->uid ? c->uid : "", sizeof(l->uid[0]));
    vn_strlcpy(l->key[l->n], c->key, sizeof(l->key[0]));
    vn_strlcpy(l->row[l->n], c->row ? c->row : "", sizeof(l->row[0]));
    l->n++;
    return 0;
}

/* The changes after seq `after`, into l. */
static void read_log(struct vn_store *st, int64_t after, struct log *l)
{
    memset(l, 0, sizeof(*l));
    assert_int_equal(vn_store_changes(st, after, MAXCH, collect, l), 0);
}

static int64_t head(struct vn_store *st)
{
    struct vn_changes_head h;

    assert_int_equal(vn_store_changes_head(st, &h), 0);
    return h.last_seq;
}

/* "kind op key" of change i, for compact assertions. */
static const char *brief(const struct log *l, size_t i)
{
    static char buf[512];

    snprintf(buf, sizeof(buf), "%s %s %s", l->kind[i], l->op[i], l->key[i]);
    return buf;
}

static struct vn_assignment device(const char *adam, const char *serial)
{
    struct vn_assignment a = {.pricing_param = "STDQ", .serial_number = serial};

    vn_strlcpy(a.adam_id.s, adam, sizeof(a.adam_id.s));
    return a;
}

/* The row of change i equals the read query's JSON object of that key (nulls left out, as
 * the API leaves them out). */
struct find {
    const char *field, *value; /* the row to compare with: its field equals value */
    const char *field2, *value2;
    char *json;
};

static int find_row(void *ud, const struct vn_row *row)
{
    struct find *f = ud;
    json_t *obj = vn_row_json(row);
    const char *v = json_string_value(json_object_get(obj, f->field));
    const char *v2 = f->field2 ? json_string_value(json_object_get(obj, f->field2)) : NULL;

    if (v && !strcmp(v, f->value) && (!f->field2 || (v2 && !strcmp(v2, f->value2))))
        f->json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    return 0;
}

static void assert_row_is_query(struct vn_store *st, const char *row_text, enum vn_query q,
                                const char *field, const char *value, const char *field2,
                                const char *value2)
{
    struct vn_filter flt = {0};
    struct find f = {field, value, field2, value2, NULL};
    json_t *row = json_loads(row_text, 0, NULL);
    char *got;

    assert_non_null(row);
    vn_json_drop_nulls(row);
    got = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
    assert_int_equal(vn_store_query(st, q, &flt, find_row, &f), 0);
    assert_non_null(f.json);
    assert_string_equal(got, f.json);
    free(got);
    free(f.json);
    json_decref(row);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_mirror_changes_in_their_transaction(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a1 = device("10", "S1"), a2 = device("10", "S2");
    struct vn_user u = {.client_user_id = "c1", .email = "c1@example.com", .status = "Registered"};
    struct vn_counts c = {1, 2, 3, 4};
    struct vn_seat seat = {.client_user_id = "c1", .renewing = 1};
    struct log l;

    vn_strlcpy(seat.adam_id.s, "77", sizeof(seat.adam_id.s));
    assert_int_equal(head(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 5, 0, 5), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a1), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a2), 1);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 0, 2, -2), 0);
    assert_int_equal(vn_store_user_upsert(f->st, "u1", &u, NULL), 0);
    assert_int_equal(vn_store_subscription_set_counts(f->st, "u1", "77", NULL, &c), 0);
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &seat), 1);
    /* Nothing is in the log before the commit. */
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 0);
    assert_int_equal(vn_store_commit(f->st), 0);

    /* One change per key (the asset touched twice is one insert with its final counts). */
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 6);
    assert_string_equal(brief(&l, 0), "asset insert {\"uId\":\"u1\",\"adamId\":\"10\","
                                      "\"pricingParam\":\"STDQ\"}");
    assert_string_equal(brief(&l, 1), "assignment insert {\"uId\":\"u1\",\"adamId\":\"10\","
                                      "\"pricingParam\":\"STDQ\",\"serialNumber\":\"S1\"}");
    assert_string_equal(brief(&l, 2), "assignment insert {\"uId\":\"u1\",\"adamId\":\"10\","
                                      "\"pricingParam\":\"STDQ\",\"serialNumber\":\"S2\"}");
    assert_string_equal(brief(&l, 3), "user insert {\"uId\":\"u1\",\"clientUserId\":\"c1\"}");
    assert_string_equal(brief(&l, 4), "subscription insert {\"uId\":\"u1\",\"adamId\":\"77\"}");
    assert_string_equal(brief(&l, 5), "subscriptionAssignment insert {\"uId\":\"u1\","
                                      "\"adamId\":\"77\",\"clientUserId\":\"c1\"}");
    for (size_t i = 1; i < l.n; i++)
        assert_true(l.seq[i] > l.seq[i - 1]);
    assert_int_equal(head(f->st), l.seq[5]);
    for (size_t i = 0; i < l.n; i++)
        assert_string_equal(l.uid[i], "u1");
    /* Each row is the read query's object. */
    assert_row_is_query(f->st, l.row[0], VN_Q_ASSETS, "adamId", "10", NULL, NULL);
    assert_non_null(strstr(l.row[0], "\"totalCount\":5,\"assignedCount\":2,"
                                     "\"availableCount\":3,\"needsSync\":true")); /* created */
    assert_row_is_query(f->st, l.row[1], VN_Q_ASSIGNMENTS, "serialNumber", "S1", NULL, NULL);
    assert_row_is_query(f->st, l.row[3], VN_Q_USERS, "clientUserId", "c1", NULL, NULL);
    assert_row_is_query(f->st, l.row[4], VN_Q_SUBSCRIPTIONS, "adamId", "77", NULL, NULL);
    assert_row_is_query(f->st, l.row[5], VN_Q_SUBSCRIPTION_ASSIGNMENTS, "adamId", "77", NULL, NULL);

    /* Updates and deletes; a row that comes and goes within one transaction is no change. */
    {
        struct vn_assignment a3 = device("10", "S3");
        int64_t before = head(f->st);

        assert_int_equal(vn_store_begin(f->st), 0);
        assert_int_equal(vn_store_assignment_delete(f->st, "u1", &a1), 1);
        assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a3), 1);
        assert_int_equal(vn_store_assignment_delete(f->st, "u1", &a3), 1);
        assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 0, -1, 1), 0);
        assert_int_equal(vn_store_seat_delete(f->st, "u1", &seat), 1);
        assert_int_equal(vn_store_user_upsert(f->st, "u1", &u, "Retired"), 0);
        assert_int_equal(vn_store_commit(f->st), 0);
        read_log(f->st, before, &l);
        assert_int_equal(l.n, 4);
        assert_string_equal(l.op[0], "update"); /* the asset */
        assert_string_equal(brief(&l, 1), "assignment delete {\"uId\":\"u1\",\"adamId\":\"10\","
                                          "\"pricingParam\":\"STDQ\",\"serialNumber\":\"S1\"}");
        assert_string_equal(l.row[1], "");
        assert_string_equal(brief(&l, 2), "user update {\"uId\":\"u1\",\"clientUserId\":\"c1\"}");
        assert_non_null(strstr(l.row[2], "\"status\":\"Retired\""));
        assert_string_equal(l.op[3], "delete"); /* the seat */
    }
}

static void test_rolled_back_work_leaves_no_change(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a1 = device("10", "S1"), a2 = device("10", "S2");
    struct log l;

    /* A job rolled back to its savepoint: its change is gone, the batch's other job stays. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a1), 1);
    assert_int_equal(vn_store_release(f->st), 0);
    assert_int_equal(vn_store_savepoint(f->st), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a2), 1);
    assert_int_equal(vn_store_rollback_to(f->st), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 1);
    assert_non_null(strstr(l.key[0], "\"S1\""));

    /* A whole transaction rolled back: nothing, and the next one goes on from the same seq. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a2), 1);
    assert_int_equal(vn_store_rollback(f->st), 0);
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &a1), 1);
    assert_int_equal(vn_store_commit(f->st), 0);
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 2);
    assert_true(l.seq[1] > l.seq[0]);
    assert_string_equal(brief(&l, 1), "assignment delete {\"uId\":\"u1\",\"adamId\":\"10\","
                                      "\"pricingParam\":\"STDQ\",\"serialNumber\":\"S1\"}");
}

static void test_events_and_their_lifecycle(void **state)
{
    struct fx *f = *state;
    struct vn_event_note note = {.event_id = "ev1",
                                 .uid = "u1",
                                 .notification_type = "ASSET_MANAGEMENT",
                                 .action = "ASSOCIATE",
                                 .succeeded = 2,
                                 .ms = vn_now_ms()};
    struct vn_event_track tr = {.event_id = "ev1",
                                .uid = "u1",
                                .kind = "assets",
                                .type = "ASSOCIATE",
                                .expected = 3,
                                .requested_ms = vn_now_ms()};
    struct vn_event_tracking_update up = {.what = VN_ETU_STALLED, .now_ms = vn_now_ms()};
    struct log l;
    int64_t before;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_event_track(f->st, &tr), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(brief(&l, 0), "event insert {\"eventId\":\"ev1\"}");
    assert_string_equal(l.uid[0], "u1");

    /* Two notes and a failure in one transaction: one update with the final counters. */
    before = head(f->st);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_event_note(f->st, &note), 0);
    note.succeeded = 0;
    note.failed = 1;
    note.error_number = 9610;
    note.error_message = "not enough licenses";
    assert_int_equal(vn_store_event_note(f->st, &note), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    read_log(f->st, before, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.op[0], "update");
    assert_row_is_query(f->st, l.row[0], VN_Q_EVENTS, "eventId", "ev1", NULL, NULL);
    assert_non_null(strstr(l.row[0], "\"notifications\":2,\"succeeded\":2,\"failed\":1"));
    assert_non_null(strstr(l.row[0], "\"errorNumber\":9610"));

    /* Stalled, then completed: each an update followed by its lifecycle change. */
    before = head(f->st);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_event_tracking_update(f->st, "ev1", &up), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    up.what = VN_ETU_DONE;
    up.status = "COMPLETE";
    up.num_requested = 3;
    up.num_completed = 3;
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_event_tracking_update(f->st, "ev1", &up), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    read_log(f->st, before, &l);
    assert_int_equal(l.n, 4);
    assert_string_equal(brief(&l, 0), "event update {\"eventId\":\"ev1\"}");
    assert_string_equal(brief(&l, 1), "event stalled {\"eventId\":\"ev1\"}");
    assert_string_equal(brief(&l, 2), "event update {\"eventId\":\"ev1\"}");
    assert_string_equal(brief(&l, 3), "event completed {\"eventId\":\"ev1\"}");
    assert_string_equal(l.row[2], l.row[3]);
    assert_non_null(strstr(l.row[3], "\"status\":\"COMPLETE\""));
    assert_row_is_query(f->st, l.row[3], VN_Q_EVENTS, "eventId", "ev1", NULL, NULL);
}

static void test_locations(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a1 = device("10", "S1");
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN];
    struct vn_location_update u = {.what = VN_LU_STATUS,
                                   .token_status = "revoked",
                                   .token_error = "9625",
                                   .now_ms = vn_now_ms()};
    struct log l;
    int64_t before;

    vn_digest("token-one", 9, d1);
    vn_digest("token-two", 9, d2);
    assert_int_equal(vn_store_location_add(f->st, "u1", "one", d1, vn_now_ms()), 0);
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(brief(&l, 0), "location insert {\"uId\":\"u1\"}");
    assert_row_is_query(f->st, l.row[0], VN_Q_LOCATIONS, "uId", "u1", NULL, NULL);
    assert_non_null(strstr(l.row[0], "\"tokenCount\":1"));

    /* A rotation: tokenCount 2 during the grace window. */
    before = head(f->st);
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d2, vn_now_ms(), vn_now_ms() + 60000),
                     0);
    read_log(f->st, before, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.op[0], "update");
    assert_non_null(strstr(l.row[0], "\"tokenCount\":2"));

    /* Token status (Apple said 9625). */
    before = head(f->st);
    assert_int_equal(vn_store_location_update(f->st, "u1", &u), 0);
    read_log(f->st, before, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(brief(&l, 0), "location update {\"uId\":\"u1\"}");
    assert_row_is_query(f->st, l.row[0], VN_Q_LOCATIONS, "uId", "u1", NULL, NULL);

    /* Removing the location deletes its rows: each is a change. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a1), 1);
    assert_int_equal(vn_store_commit(f->st), 0);
    before = head(f->st);
    assert_int_equal(vn_store_location_remove(f->st, "u1"), 0);
    read_log(f->st, before, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(brief(&l, 0), "assignment delete {\"uId\":\"u1\",\"adamId\":\"10\","
                                      "\"pricingParam\":\"STDQ\",\"serialNumber\":\"S1\"}");
    assert_string_equal(brief(&l, 1), "location delete {\"uId\":\"u1\"}");
}

static void test_sync_marks_are_no_changes(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a1 = device("10", "S1");
    struct log l;
    int64_t before;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 1, INT64_MAX, "10", "STDQ", 5, 1, 4), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 1, INT64_MAX, &a1), 1);
    assert_int_equal(vn_store_commit(f->st), 0);
    read_log(f->st, 0, &l);
    assert_int_equal(l.n, 2);
    /* The same records again (a later sync that finds nothing new): no change at all. */
    before = head(f->st);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 2, INT64_MAX, "10", "STDQ", 5, 1, 4), 0);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 2, INT64_MAX, &a1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    read_log(f->st, before, &l);
    assert_int_equal(l.n, 0);
    /* A sweep that removes the assignment: one delete. */
    {
        long long removed = 0;
        struct vn_mirror_scope scope = {0};

        assert_int_equal(vn_store_begin(f->st), 0);
        assert_int_equal(
            vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 3, INT64_MAX, &scope, 0, &removed),
            0);
        assert_int_equal(vn_store_commit(f->st), 0);
        assert_int_equal(removed, 1);
        read_log(f->st, before, &l);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.op[0], "delete");
    }
}

static int64_t observed;
static int observed_calls;

static void observe(void *ud, int64_t seq)
{
    observed = seq;
    observed_calls++;
}

static void test_observer_and_retention(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_changes_head h;
    struct vn_store *other;
    struct log l;
    int64_t last;

    vn_store_changes_observe(observe, NULL);
    observed = 0;
    observed_calls = 0;
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "1", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(observed_calls, 1);
    assert_int_equal(observed, head(f->st));
    /* A commit without changes, and a rollback, say nothing. */
    assert_int_equal(vn_store_ping(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "2", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(observed_calls, 1);
    vn_store_changes_observe(NULL, NULL);

    /* Retention: a handle prunes what is older than the retention at its first commit, and
     * keeps the newest change; readers learn what is gone from pruned_through. */
    assert_int_equal(vn_store_changes_head(f->st, &h), 0);
    assert_int_equal(h.pruned_through, 0);
    assert_int_equal(h.retention_ms, 30LL * 86400 * 1000);
    assert_int_equal(vn_store_changes_set_retention(f->st, 1), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "3", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    last = head(f->st);
    {
        /* Polled, not slept: the clock must pass the newest change's time by 1 ms. */
        int64_t until = vn_now_ms() + 2;
        while (vn_now_ms() < until)
            ;
    }
    other = vn_store_open(f->url, NULL, &err);
    assert_non_null(other);
    assert_int_equal(vn_store_begin(other), 0);
    assert_int_equal(vn_store_asset_adjust(other, "u1", "4", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(other), 0);
    assert_int_equal(vn_store_changes_head(other, &h), 0);
    assert_true(h.pruned_through >= last);
    read_log(other, 0, &l);
    assert_true(l.n >= 1);
    assert_true(l.seq[0] > h.pruned_through);
    assert_string_equal(brief(&l, l.n - 1), "asset insert {\"uId\":\"u1\",\"adamId\":\"4\","
                                            "\"pricingParam\":\"STDQ\"}");
    vn_store_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mirror_changes_in_their_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_work_leaves_no_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_their_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_marks_are_no_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observer_and_retention, setup, teardown),
    };

    (void)render; /* store_test.h's text renderer: this file compares JSON instead */
    vn_secret_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
