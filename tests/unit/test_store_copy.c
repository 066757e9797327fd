/*
 * vppnotify store copy through store.h (vn_store_copy, vn_store_compare): every table of one
 * store into an empty one and back, compared table by table and query by query, on whatever
 * backend VN_TEST_STORE_URL names (the copies are SQLite files; with PostgreSQL under test
 * this is PostgreSQL -> SQLite -> PostgreSQL, see store_test.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#define VN_TEST_DIR_PREFIX "/tmp/vn_test_copy_"
#include "store_test.h"

#include "store_contract_test.h"

/* Something in every table of the catalog. */
/* The cursor of a webhook endpoint, into the int64_t at ud. */
static int webhook_cursor(void *ud, const struct vn_webhook *w)
{
    *(int64_t *)ud = w->cursor;
    return 0;
}

static void fill(struct vn_store *st)
{
    const struct vn_rejection rej[] = {
        {1790000007000LL, 1790000007500LL, "192.0.2.9", 401, "unknown token", NULL, NULL, 3},
        {1790000008000LL, 1790000008000LL, "192.0.2.10", 403, "uId of another location", "u2", "u1",
         1}};
    static const uint8_t sealed[] = {0, 1, 2, 0xff};
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN];
    struct vn_assignment user = {.pricing_param = "STDQ", .client_user_id = "c1"};
    struct vn_assignment dev = {.pricing_param = "PLUS", .serial_number = "SER1"};
    struct vn_assignment gone = {.pricing_param = "STDQ", .serial_number = "SER2"};
    const struct vn_mirror_scope user_key = {
        .adam_id = "10", .pricing_param = "STDQ", .client_user_id = "c1"};
    const struct vn_mirror_scope never_had = {.adam_id = "7", .client_user_id = "c9"};
    int64_t clk = 0;
    struct vn_user u = {.client_user_id = "c1", .email = "c1@example.com", .status = "Registered"};
    struct vn_seat seat = {.client_user_id = "c1", .renewing = 0};
    struct vn_counts c = {1, 2, 3, 4};
    struct vn_event_note e = {.event_id = "ev1",
                              .uid = "u1",
                              .notification_type = "ASSET_MANAGEMENT",
                              .action = "ASSOCIATE",
                              .succeeded = 1,
                              .failed = 1,
                              .error_number = 9709,
                              .error_message = "not enough",
                              .ms = 1790000000123LL};
    struct vn_event_track tr = {.event_id = "ev1",
                                .uid = "u1",
                                .kind = "assets",
                                .type = "ASSOCIATE",
                                .request = "{\"assets\":[]}",
                                .expected = 2,
                                .requested_ms = 1790000000000LL};
    struct vn_event_tracking_update tu = {.what = VN_ETU_POLL | VN_ETU_STALLED,
                                          .status = "PENDING",
                                          .num_requested = 2,
                                          .num_completed = 1,
                                          .failures = "[{\"x\":1}]",
                                          .poll_error = "slow",
                                          .now_ms = 1790000001000LL};
    struct vn_location_update lu = {.what = VN_LU_STOKEN | VN_LU_SUBSCRIPTION | VN_LU_TAKEOVER,
                                    .stoken = sealed,
                                    .stoken_len = sizeof(sealed),
                                    .org_name = "School",
                                    .token_expires_ms = 4000000000000LL,
                                    .notification_url = "https://mdm.example/n",
                                    .notification_types = "[\"ASSET_COUNT\"]",
                                    .subscribed_ms = 1790000002000LL,
                                    .takeover = "{\"id\":\"other\"}",
                                    .now_ms = 1790000003000LL};
    struct vn_sync_state ss = {.last_full_ms = 1790000004000LL, .last_kind = "full"};
    struct vn_notification_record r;
    char *v = NULL;
    int conflict;

    vn_strlcpy(user.adam_id.s, "10", sizeof(user.adam_id.s));
    vn_strlcpy(dev.adam_id.s, "9", sizeof(dev.adam_id.s));
    vn_strlcpy(gone.adam_id.s, "9", sizeof(gone.adam_id.s));
    vn_strlcpy(seat.adam_id.s, "7", sizeof(seat.adam_id.s));
    vn_strlcpy(ss.assignments_version, "v1", sizeof(ss.assignments_version));
    vn_strlcpy(ss.last_drift, "{\"assets\":{}}", sizeof(ss.last_drift));
    digest_of("token-one-0123456789", d1);
    digest_of("token-two-0123456789", d2);
    assert_int_equal(vn_store_location_add(st, "u1", "Main", d1, 1790000000000LL), 0);
    assert_int_equal(vn_store_location_rotate(st, "u1", d2, 1790000000000LL, 4000000000000LL), 0);
    assert_int_equal(vn_store_location_tested(st, "u1", 1790000000500LL), 0);
    assert_int_equal(vn_store_location_update(st, "u1", &lu), 0);
    assert_int_equal(vn_store_config_ensure(st, "mdm_id", "abc", &v), 0);
    free(v);
    assert_int_equal(vn_store_begin(st), 0);
    /* Convergence: rows stamped with a writer clock past 0, the event of a row's last change,
     * a tombstone of a delete and one of a removal the mirror never had, a key to verify. */
    assert_int_equal(vn_store_clock_tick(st, &clk), 0);
    assert_true(clk > 0);
    record(&r, "n1", "u1", "{\"a\":1}", 1790000000100LL);
    r.event_id = "ev1";
    assert_int_equal(vn_store_notification_insert(st, &r), 0);
    assert_int_equal(vn_store_notification_repeat(st, "n1", r.digest, &conflict), 0);
    record(&r, "n2", "u1", "", 1790000000200LL); /* an empty body */
    r.state = VN_NSTATE_STORED;
    r.error = "unknown type";
    assert_int_equal(vn_store_notification_insert(st, &r), 0);
    assert_int_equal(vn_store_asset_adjust(st, "u1", "10", "STDQ", 5, 1, 4), 0);
    assert_int_equal(vn_store_assignment_insert(st, "u1", &user), 1);
    assert_int_equal(vn_store_assignment_insert(st, "u1", &dev), 1);
    assert_int_equal(vn_store_assignment_insert(st, "u1", &gone), 1);
    assert_int_equal(vn_store_assignment_delete(st, "u1", &gone), 1);
    assert_int_equal(vn_store_key_event(st, VN_MT_ASSIGNMENTS, "u1", &user_key, "ev1"), 0);
    assert_int_equal(vn_store_key_event(st, VN_MT_SEATS, "u1", &never_had, "ev1"), 0);
    assert_int_equal(vn_store_verify_add(st, VN_MT_SEATS, "u1", &never_had, "test"), 0);
    assert_int_equal(vn_store_user_upsert(st, "u1", &u, NULL), 0);
    assert_int_equal(vn_store_subscription_set_counts(st, "u1", "7", "70", &c), 0);
    assert_int_equal(vn_store_seat_upsert(st, "u1", &seat), 1);
    assert_int_equal(vn_store_event_note(st, &e), 0);
    assert_int_equal(vn_store_event_failed_item(st, "ev1", 9709, "10", "STDQ", "c2", NULL), 0);
    assert_int_equal(vn_store_sync_asset(st, "u1", 3, INT64_MAX, "11", NULL, 2, 0, 2), 1);
    assert_int_equal(vn_store_commit(st), 0);
    assert_int_equal(
        vn_store_quarantine(st, 1790000000300LL, "10.0.0.7", "not JSON", "{x", 2, 70000), 0);
    assert_int_equal(vn_store_sync_state_put(st, "u1", &ss), 0);
    assert_int_equal(vn_store_event_track(st, &tr), 0);
    assert_int_equal(vn_store_event_tracking_update(st, "ev1", &tu), 0);
    digest_of("vnk_0123456789abcdef", d1);
    assert_int_equal(vn_store_api_key_add(st, "mdm", "read", d1, "vnk_012345", 1790000005000LL), 0);
    assert_int_equal(vn_store_api_key_revoke(st, "mdm", 1790000006000LL), 0);
    assert_int_equal(vn_store_changes_set_retention(st, 3600000), 0);
    assert_int_equal(vn_store_begin(st), 0);
    assert_int_equal(vn_store_rejections_add(st, rej, 2, 0, 0), 0);
    assert_int_equal(vn_store_commit(st), 0);
    /* A webhook endpoint (its secret sealed bytes) with a failed delivery, and an
     * Idempotency-Key's kept answer. */
    {
        struct vn_webhook_state ws = {.expect_cursor = 0,
                                      .cursor = 0,
                                      .active = 1,
                                      .attempts = 1,
                                      .failing_since_ms = 1790000007000LL,
                                      .next_attempt_ms = 1790000008000LL,
                                      .last_attempt_ms = 1790000007000LL,
                                      .last_status = 500,
                                      .last_error = "HTTP 500"};
        struct vn_webhook_attempt wa = {.seq = 1,
                                        .message_id = "msg_1_x",
                                        .type = "asset.created",
                                        .attempt = 1,
                                        .at_ms = 1790000007000LL,
                                        .status = 500,
                                        .error = "HTTP 500",
                                        .duration_ms = 12};
        int64_t wid = 0;
        uint8_t h[VN_DIGEST_LEN];
        int64_t cursor = 0;

        assert_int_equal(vn_store_webhook_add(st, "https://mdm.example/hook", "asset", sealed,
                                              sizeof(sealed), 1790000006500LL, &wid),
                         0);
        assert_int_equal(vn_store_webhooks(st, wid, webhook_cursor, &cursor), 0);
        ws.expect_cursor = ws.cursor = cursor;
        wa.endpoint_id = wid;
        digest_of("POST /v1/assets/associate", h);
        assert_int_equal(vn_store_begin(st), 0);
        assert_int_equal(vn_store_webhook_update(st, wid, &ws, &wa, 1), 0);
        assert_int_equal(vn_store_idempotency_begin(st, "mdm", "key-1", h, 1790000009000LL), 0);
        assert_int_equal(vn_store_idempotency_finish(st, "mdm", "key-1", 202, "{\"ok\":true}"), 0);
        assert_int_equal(vn_store_commit(st), 0);
    }
}

/* Every query of a store, rendered, as one text. */
static void everything(struct vn_store *st, char *out, size_t len)
{
    static const enum vn_query all[] = {VN_Q_ASSETS,
                                        VN_Q_ASSIGNMENTS,
                                        VN_Q_USERS,
                                        VN_Q_SUBSCRIPTIONS,
                                        VN_Q_SUBSCRIPTION_ASSIGNMENTS,
                                        VN_Q_EVENTS,
                                        VN_Q_NOTIFICATIONS,
                                        VN_Q_LOCATIONS,
                                        VN_Q_QUARANTINE,
                                        VN_Q_EVENT_FAILED_ITEMS};
    struct rows r;
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        q(st, all[i], NULL, &r);
        for (size_t k = 0; k < r.n; k++)
            used += (size_t)snprintf(out + used, len - used, "%s\n", r.text[k]);
        assert_true(used < len);
    }
    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_rejections(st, 0, 0, render, &r), 0);
    for (size_t k = 0; k < r.n; k++)
        used += (size_t)snprintf(out + used, len - used, "%s\n", r.text[k]);
    assert_true(used < len);
}

static struct vn_store *new_sqlite(struct fx *f, const char *name)
{
    struct vn_error err = {0};
    char path[200];
    struct vn_store *s;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    s = vn_store_open(path, NULL, &err);
    assert_non_null(s);
    return s;
}

static void test_copy_keeps_every_table_and_is_verified(void **state)
{
    struct fx *f = *state;
    static char before[16384], after[16384];
    struct vn_store_copy_report rep;
    struct vn_error err = {0};
    struct vn_store *copy = new_sqlite(f, "copy.db");
    char *body = NULL;
    size_t len = 0;

    fill(f->st);
    assert_int_equal(vn_store_copy(f->st, copy, &rep, &err), 0);
    assert_true(rep.n >= 16);
    for (size_t t = 0; t < rep.n; t++) /* something in every table: the test covers each */
        if (rep.tables[t].rows == 0)
            fail_msg("table %s was empty in the source", rep.tables[t].name);
    assert_int_equal(vn_store_compare(f->st, copy, &rep, &err), 0);

    /* A user sees the same installation. */
    everything(f->st, before, sizeof(before));
    everything(copy, after, sizeof(after));
    assert_string_equal(before, after);
    /* The change log came along, with its numbers: a feed reader goes on where it was, and
     * the copy itself added no change. */
    {
        struct vn_changes_head ha, hb;

        assert_int_equal(vn_store_changes_head(f->st, &ha), 0);
        assert_int_equal(vn_store_changes_head(copy, &hb), 0);
        assert_true(ha.last_seq > 0);
        assert_int_equal(ha.last_seq, hb.last_seq);
        assert_int_equal(hb.retention_ms, 3600000);
    }
    assert_int_equal(vn_store_notification_body(copy, "n1", &body, &len), 0);
    assert_int_equal(len, 7);
    free(body);

    /* Ids go on after the copied ones: a new quarantine row is id 2 on both. */
    assert_int_equal(vn_store_quarantine(f->st, 1, NULL, "later", "", 0, 0), 0);
    assert_int_equal(vn_store_quarantine(copy, 1, NULL, "later", "", 0, 0), 0);
    assert_int_equal(vn_store_compare(f->st, copy, &rep, &err), 0);

    /* A difference anywhere is found and named. */
    assert_int_equal(vn_store_begin(copy), 0);
    assert_int_equal(vn_store_asset_adjust(copy, "u1", "10", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(copy), 0);
    assert_int_equal(vn_store_compare(f->st, copy, &rep, &err), VN_ECONFLICT);
    assert_non_null(strstr(err.msg, "table assets differs"));
    vn_store_free(copy);
}

static void test_copy_back_and_into_a_non_empty_store(void **state)
{
    struct fx *f = *state;
    struct vn_store_copy_report rep;
    struct vn_error err = {0};
    struct vn_store *copy = new_sqlite(f, "copy.db");
    struct vn_store *back;
    char url[600];

    fill(f->st);
    assert_int_equal(vn_store_copy(f->st, copy, &rep, &err), 0);
    /* Never into a store that has data: that would merge two installations. */
    assert_int_equal(vn_store_copy(f->st, copy, &rep, &err), VN_ECONFLICT);
    assert_non_null(strstr(err.msg, "not empty"));
    /* Back into a new store of the kind under test. */
    snprintf(url, sizeof(url), "%s", f->url);
    if (strstr(url, "{") == NULL && strncmp(url, "postgres", 8) == 0) {
        /* a PostgreSQL URL: another schema of the same database */
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "_back");
    } else {
        snprintf(url, sizeof(url), "%s/back.db", f->dir);
    }
    back = vn_store_open(url, NULL, &err);
    assert_non_null(back);
    if (vn_store_copy(copy, back, &rep, &err) != 0)
        fail_msg("%s", err.msg);
    if (vn_store_compare(f->st, back, &rep, &err) != 0)
        fail_msg("%s", err.msg);
    vn_store_free(back);
    vn_store_free(copy);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_copy_keeps_every_table_and_is_verified),
        T(test_copy_back_and_into_a_non_empty_store),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
