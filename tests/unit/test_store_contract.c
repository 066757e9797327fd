/*
 * The store contract: what every backend of store.h must do, tested through store.h alone (no
 * SQL, no backend header), so that a second backend runs the same suite. This file: opening,
 * transactions, failure classes, the ledger, locations and tokens, the mirror and its queries;
 * test_store_contract_apple.c: the Apple side. Run against another backend with:
 *
 *   VN_TEST_STORE_URL='postgresql://.../vn?schema={test}' build/tests/test_store_contract
 *
 * Without VN_TEST_STORE_URL each test gets a new SQLite file ({dir}/vn.db); store_test.h says
 * how the URL is expanded. SQLite-only behaviour (file modes, WAL, PRAGMAs, the VFS, URL
 * parameters of the SQLite backend) is in test_store_sqlite.c.
 *
 * Query results are checked as a user sees them: each row rendered "key=value ..." in the
 * order of its keys (see render()).
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

#define VN_TEST_DIR_PREFIX "/tmp/vn_test_contract_"
#include "store_test.h"

#include "store_contract_test.h"

/* ---- opening ------------------------------------------------------------------------------- */

static void test_schema_is_current(void **state)
{
    struct fx *f = *state;
    int cur = -1, want = -1;

    assert_int_equal(vn_store_schema_version(f->st, &cur, &want), 0);
    assert_true(want >= 1);
    assert_int_equal(cur, want);
    assert_string_equal(vn_store_last_error(f->st), "");
    assert_int_equal(vn_store_last_class(f->st), VN_STORE_OK);
    assert_non_null(vn_store_describe(f->st));
}

static void test_read_only_handle_refuses_writes(void **state)
{
    struct fx *f = *state;
    struct vn_store_options ro = {.read_only = 1};
    struct vn_error err = {0};
    struct vn_store *r;
    struct rows rows;
    int cur, want;

    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", at("2026-01-02T03:04:05.006Z")), 0);
    r = vn_store_open(f->url, &ro, &err);
    assert_non_null(r);
    assert_non_null(strstr(vn_store_describe(r), "read-only"));
    assert_int_equal(vn_store_schema_version(r, &cur, &want), 0);
    assert_int_equal(cur, want);
    assert_int_equal(q(r, VN_Q_NOTIFICATIONS, NULL, &rows), 1);
    assert_int_equal(vn_store_begin(r), VN_ESTORE);
    assert_non_null(strstr(vn_store_last_error(r), "read-only"));
    assert_int_equal(vn_store_last_class(r), VN_STORE_JOB);
    assert_int_equal(insert_note(r, "n2", "u1", "{}", 0), VN_ESTORE);
    assert_int_equal(vn_store_ping(r), VN_ESTORE);
    vn_store_free(r);
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &rows), 1);
}

/* ---- transactions and failure classes ------------------------------------------------------ */

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

static void test_ping_commits_on_its_own(void **state)
{
    struct fx *f = *state;

    assert_int_equal(vn_store_ping(f->st), 0);
    assert_int_equal(vn_store_ping(f->st), 0);
    /* Not inside another transaction: ping is its own. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_ping(f->st), VN_ESTORE);
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(vn_store_ping(f->st), 0);
}

static void test_second_handle_sees_committed_data_only(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store *b = vn_store_open(f->url, NULL, &err);
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
    /* The new connection takes a transaction. */
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

/* ---- the ledger ---------------------------------------------------------------------------- */

static void test_ledger_insert_and_duplicate(void **state)
{
    struct fx *f = *state;
    struct vn_notification_record r;
    struct vn_filter fl = {0};
    struct rows rows;
    char *body = NULL;
    size_t len = 0;
    int conflict = -1;

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
    /* The first body is the one kept, with its digest and event. */
    assert_int_equal(vn_store_notification_body(f->st, "n1", &body, &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(body, "{\"a\":1}", 7);
    free(body);
    assert_int_equal(vn_store_notification_repeat(f->st, "n1", r.digest, &conflict), 0);
    assert_int_equal(conflict, 0);
    fl.event_id = "ev1";
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, &fl, &rows), 1);
    fl.event_id = "ev2";
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, &fl, &rows), 0);
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
    char *got = NULL, **ids = NULL;
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
    assert_int_equal(vn_store_stored_ids(f->st, NULL, &ids, &len), 0);
    assert_int_equal(len, 0);
    free(ids);
    /* Back to stored (replay of an apply that failed again), with the reason. */
    assert_int_equal(vn_store_notification_set_state(f->st, "n1", VN_NSTATE_STORED, "again"), 0);
    assert_int_equal(vn_store_notification_set_state(f->st, "n1", VN_NSTATE_STORED, "again"),
                     VN_ECONFLICT);
    assert_int_equal(vn_store_stored_ids(f->st, "u1", &ids, &len), 0);
    assert_int_equal(len, 1);
    assert_string_equal(ids[0], "n1");
    free(ids[0]);
    free(ids);
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

static void test_quarantine_keeps_reason_and_original_length(void **state)
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
    assert_int_equal(q(f->st, VN_Q_QUARANTINE, &fl, &rows), 1);
}

/* ---- locations and tokens ------------------------------------------------------------------ */

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
    assert_int_equal(tokens(f->st, 0, &t), 2); /* whatever their deadline: two are left */

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
    struct toks t;
    struct rows rows;

    digest_of("token-one-0123456789", d1);
    digest_of("token-two-0123456789", d2);
    assert_int_equal(vn_store_location_add(f->st, "u1", "L", d1, now - 10000), 0);
    /* Rotated with a grace window that has already passed by now. */
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d2, now - 5000, now - 1000), 0);
    assert_int_equal(tokens(f->st, 0, &t), 2); /* kept, past its grace */
    assert_int_equal(tokens(f->st, now, &t), 1);
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
    /* The other location's event keeps its errors and failed items. */
    assert_int_equal(q(f->st, VN_Q_EVENT_FAILED_ITEMS, NULL, &rows), 1);
    assert_string_equal(rows.text[0], "eventId=ev2 uId=u2 errorNumber=9709 adamId=1 "
                                      "pricingParam=STDQ clientUserId=c1 serialNumber=null");
    assert_int_equal(q(f->st, VN_Q_EVENTS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "errors=[{\"errorNumber\":9709,"));
    assert_int_equal(tokens(f->st, 1, &t), 1);
    assert_string_equal(t.uid[0], "u2");
    /* The ledger and quarantine are the record: they stay. */
    assert_int_equal(q(f->st, VN_Q_NOTIFICATIONS, NULL, &rows), 2);
    assert_int_equal(q(f->st, VN_Q_QUARANTINE, NULL, &rows), 1);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
}

/* ---- mirror primitives and queries --------------------------------------------------------- */

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

/* ---- operations: /metrics, the dashboard ------------------------------------------------- */

static int track(struct vn_store *st, const char *id, int64_t ms)
{
    struct vn_event_track t = {.event_id = id, .uid = "u1", .requested_ms = ms};

    return vn_store_event_track(st, &t);
}

static int update(struct vn_store *st, const char *id, unsigned what, const char *status,
                  const char *resync, int64_t ms)
{
    struct vn_event_tracking_update u = {.what = what,
                                         .status = status,
                                         .num_requested = -1,
                                         .num_completed = -1,
                                         .resync = resync,
                                         .now_ms = ms};

    return vn_store_event_tracking_update(st, id, &u);
}

static void test_operations_gauges_and_recent(void **state)
{
    struct fx *f = *state;
    const int64_t now = at("2026-03-10T12:00:00.000Z"), day = 86400LL * 1000;
    struct vn_event_counts c;
    struct rows r;
    int64_t ms = -1;

    /* Latest notification per location: its receive time to the millisecond, 0 for none. */
    assert_int_equal(vn_store_last_notification(f->st, "u1", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(insert_note(f->st, "n1", "u1", "{}", at("2026-03-10T11:00:00.250Z")), 0);
    assert_int_equal(insert_note(f->st, "n2", "u1", "{}", at("2026-03-10T11:30:00.125Z")), 0);
    assert_int_equal(insert_note(f->st, "n3", "u2", "{}", at("2026-03-10T11:45:00.000Z")), 0);
    assert_int_equal(insert_note(f->st, "n0", "u2", "{}", at("2026-03-10T11:45:00.000Z")), 0);
    assert_int_equal(vn_store_notification_set_state(f->st, "n2", VN_NSTATE_STORED, "no asset"), 0);
    assert_int_equal(vn_store_last_notification(f->st, "u1", &ms), 0);
    assert_int_equal(ms, at("2026-03-10T11:30:00.125Z"));
    assert_int_equal(vn_store_last_notification(f->st, "nobody", &ms), 0);
    assert_int_equal(ms, 0);

    /* Recent: newest first (ties by id, descending), at most limit rows. */
    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_recent_notifications(f->st, 3, render, &r), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.text[0], "notificationId=n3 notificationType=ASSET_COUNT uId=u2 "
                                   "receivedAt=2026-03-10T11:45:00.000Z state=applied "
                                   "error=null");
    assert_string_equal(r.text[1], "notificationId=n0 notificationType=ASSET_COUNT uId=u2 "
                                   "receivedAt=2026-03-10T11:45:00.000Z state=applied "
                                   "error=null");
    assert_string_equal(r.text[2], "notificationId=n2 notificationType=ASSET_COUNT uId=u1 "
                                   "receivedAt=2026-03-10T11:30:00.125Z state=stored "
                                   "error=no asset");
    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_recent_notifications(f->st, 0, render, &r), 0);
    assert_int_equal(r.n, 4); /* out of 1..1000: 1000 */

    /* Event gauges: pending, stalled, missing until a re-sync is done, FAILED in 24 hours. */
    memset(&c, 0xff, sizeof(c));
    assert_int_equal(vn_store_event_counts(f->st, now, &c), 0);
    assert_true(c.pending == 0 && c.stalled == 0 && c.missing == 0 && c.failed == 0);
    assert_int_equal(track(f->st, "e-pending", now - 60000), 0);
    assert_int_equal(track(f->st, "e-stalled", now - 60000), 0);
    assert_int_equal(update(f->st, "e-stalled", VN_ETU_STALLED, NULL, NULL, now), 0);
    assert_int_equal(track(f->st, "e-missing", now - day), 0);
    assert_int_equal(
        update(f->st, "e-missing", VN_ETU_DONE | VN_ETU_MISSING, "COMPLETE", NULL, now - 5), 0);
    assert_int_equal(track(f->st, "e-resynced", now - day), 0);
    assert_int_equal(update(f->st, "e-resynced", VN_ETU_DONE | VN_ETU_MISSING | VN_ETU_RESYNC,
                            "COMPLETE", "done", now - 5),
                     0);
    assert_int_equal(track(f->st, "e-failed", now - day), 0);
    assert_int_equal(update(f->st, "e-failed", VN_ETU_DONE, "FAILED", NULL, now - 1000), 0);
    assert_int_equal(track(f->st, "e-failed-old", now - 3 * day), 0);
    assert_int_equal(update(f->st, "e-failed-old", VN_ETU_DONE, "FAILED", NULL, now - 2 * day), 0);
    assert_int_equal(vn_store_event_counts(f->st, now, &c), 0);
    assert_int_equal(c.pending, 1);
    assert_int_equal(c.stalled, 1);
    assert_int_equal(c.missing, 1);
    assert_int_equal(c.failed, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_schema_is_current),
        T(test_read_only_handle_refuses_writes),
        T(test_rollback_is_safe_without_a_transaction),
        T(test_savepoint_rollback_to_undoes_one_notification_only),
        T(test_ping_commits_on_its_own),
        T(test_second_handle_sees_committed_data_only),
        T(test_reconnect_rolls_back_and_keeps_data),
        T(test_failure_classes),
        T(test_ledger_insert_and_duplicate),
        T(test_ledger_repeat_counts_duplicates_and_conflicts),
        T(test_ledger_set_state_and_body),
        T(test_stored_ids_oldest_first),
        T(test_quarantine_keeps_reason_and_original_length),
        T(test_location_add_and_duplicate),
        T(test_token_rotate_grace_and_expiry),
        T(test_location_expired_token_not_counted),
        T(test_location_remove_deletes_mirror_keeps_record),
        T(test_assignment_insert_delete_report_real_changes),
        T(test_query_keys_and_filters),
        T(test_callback_stop_value_is_returned),
        T(test_operations_gauges_and_recent),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
