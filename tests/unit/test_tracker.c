/*
 * Unit tests of the event tracker's decision (a pure function of an event's state and the
 * time, tracker.c) and of the store operations behind tracking and sync
 * (src/lib/store/sqlite/apple.c) on a real database file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/tracker.h"
#include "vppnotify/util.h"

#define S 1000LL
static const struct vn_tracker_config cfg = {
    .quiet_ms = 300 * S, .poll_ms = 30 * S, .stall_ms = 600 * S, .deferred_poll_ms = 3600 * S};

#define T0 1800000000000LL /* the request */

static struct vn_tracked_event ev(void)
{
    struct vn_tracked_event e = {.event_id = "e",
                                 .uid = "u",
                                 .kind = "assets",
                                 .type = "ASSOCIATE",
                                 .expected = 250,
                                 .requested_ms = T0,
                                 .num_requested = -1,
                                 .num_completed = -1};
    return e;
}

static enum vn_track_action act(const struct vn_tracked_event *e, int64_t now)
{
    return vn_tracker_decide(e, &cfg, now).action;
}

static void test_complete_without_poll(void **state)
{
    struct vn_tracked_event e = ev();

    (void)state;
    e.succeeded = 250;
    e.last_notified_ms = T0 + 2 * S;
    assert_int_equal(act(&e, T0 + 3 * S), VN_TRACK_COMPLETE);
    e.succeeded = 240;
    e.failed = 10; /* 9709: FAILED, still every item notified */
    assert_int_equal(act(&e, T0 + 3 * S), VN_TRACK_COMPLETE);
    e.failed = 9;
    assert_int_equal(act(&e, T0 + 3 * S), VN_TRACK_WAIT);
}

static void test_quiet_then_poll(void **state)
{
    struct vn_tracked_event e = ev();
    struct vn_track_decision d;

    (void)state;
    d = vn_tracker_decide(&e, &cfg, T0 + 299 * S);
    assert_int_equal(d.action, VN_TRACK_WAIT);
    assert_int_equal(d.due_ms, T0 + 300 * S);
    assert_int_equal(act(&e, T0 + 300 * S), VN_TRACK_POLL);
    /* A notification restarts the quiet period. */
    e.succeeded = 100;
    e.last_notified_ms = T0 + 200 * S;
    assert_int_equal(act(&e, T0 + 300 * S), VN_TRACK_WAIT);
    assert_int_equal(act(&e, T0 + 500 * S), VN_TRACK_POLL);
}

static void test_pending_interval_and_stall(void **state)
{
    struct vn_tracked_event e = ev();

    (void)state;
    e.status = "PENDING";
    e.polls = 1;
    e.last_poll_ms = T0 + 300 * S;
    assert_int_equal(act(&e, T0 + 329 * S), VN_TRACK_WAIT);
    assert_int_equal(act(&e, T0 + 330 * S), VN_TRACK_POLL);
    /* Never more often than the interval, whatever the time. */
    for (int64_t t = T0 + 300 * S; t < T0 + 330 * S; t += S)
        assert_int_not_equal(act(&e, t), VN_TRACK_POLL);
    assert_int_equal(act(&e, T0 + 600 * S), VN_TRACK_STALL);
    e.stalled = 1;
    e.last_poll_ms = T0 + 590 * S;
    assert_int_equal(act(&e, T0 + 600 * S), VN_TRACK_WAIT); /* stalled: still polled on */
    assert_int_equal(act(&e, T0 + 620 * S), VN_TRACK_POLL);
}

static void test_deferred_never_stalls(void **state)
{
    struct vn_tracked_event e = ev();

    (void)state;
    e.kind = "subscriptions";
    e.type = "DISASSOCIATE";
    e.expected = 1;
    e.deferred = 1;
    e.status = "PENDING";
    e.last_poll_ms = T0 + 300 * S;
    assert_int_equal(act(&e, T0 + 86400 * S), VN_TRACK_POLL);
    e.last_poll_ms = T0 + 86400 * S;
    assert_int_equal(act(&e, T0 + 86400 * S + 1800 * S), VN_TRACK_WAIT); /* hourly, not 30 s */
    assert_int_equal(act(&e, T0 + 86400 * S + 3600 * S), VN_TRACK_POLL);
    e.succeeded = 1; /* the period ended: the notification came */
    assert_int_equal(act(&e, T0 + 90000 * S), VN_TRACK_COMPLETE);
}

static void test_final_status(void **state)
{
    struct vn_tracked_event e = ev();

    (void)state;
    e.expected = 0; /* revoke, or events track: the count is not known */
    e.status = "COMPLETE";
    e.num_requested = 3;
    e.num_completed = 3;
    e.last_poll_ms = T0 + 300 * S;
    e.succeeded = 3;
    e.last_notified_ms = T0 + 5 * S;
    assert_int_equal(act(&e, T0 + 300 * S), VN_TRACK_FINISH);
    e.succeeded = 1; /* two items were never notified: quiet since the last one, then missing */
    assert_int_equal(act(&e, T0 + 300 * S), VN_TRACK_WAIT);
    assert_int_equal(act(&e, T0 + 305 * S), VN_TRACK_MISSING);
    /* Polled early (events track): notifications still on their way get the quiet time. */
    e.requested_ms = T0 + 290 * S;
    assert_int_equal(act(&e, T0 + 300 * S), VN_TRACK_WAIT);
    assert_int_equal(act(&e, T0 + 590 * S), VN_TRACK_MISSING);
    /*
     * Seen PENDING before (two polls), COMPLETE at this poll long after the request: Apple is
     * sending the notifications now, so they get the quiet period from the poll (this was
     * "missing" at once, and a needless re-sync ran while the notifications arrived).
     */
    e = ev();
    e.status = "COMPLETE";
    e.polls = 2;
    e.last_poll_ms = T0 + 700 * S;
    e.num_requested = 250;
    e.num_completed = 250;
    assert_int_equal(act(&e, T0 + 700 * S), VN_TRACK_WAIT);
    assert_int_equal(vn_tracker_decide(&e, &cfg, T0 + 700 * S).due_ms, T0 + 1000 * S);
    assert_int_equal(act(&e, T0 + 1000 * S), VN_TRACK_MISSING);
    /* FAILED with every item notified, failures included. */
    e = ev();
    e.status = "FAILED";
    e.num_requested = 15;
    e.num_completed = 10;
    e.succeeded = 10;
    e.failed = 4;
    e.expected = 0;
    assert_int_equal(act(&e, T0 + 400 * S), VN_TRACK_MISSING);
    e.failed = 5;
    assert_int_equal(act(&e, T0 + 400 * S), VN_TRACK_FINISH);
}

/* ---- the store behind it ---------------------------------------------------------------- */

struct fx {
    char dir[64], path[128];
    struct vn_store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vn_error err = {0};
    uint8_t d[VN_DIGEST_LEN] = {1};

    vn_strlcpy(f->dir, "/tmp/vn_test_tracker_XXXXXX", sizeof(f->dir));
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/vn.db", f->dir);
    f->st = vn_store_open(f->path, NULL, &err);
    if (!f->st || vn_store_location_add(f->st, "u1", "One", d, vn_now_ms()) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[256];

    vn_store_free(f->st);
    for (const char *ext = ""; ext; ext = !*ext ? "-wal" : !strcmp(ext, "-wal") ? "-shm" : NULL) {
        snprintf(p, sizeof(p), "%s%s", f->path, ext);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

struct seen {
    int n;
    char id[8][64];
    long long succeeded[8], expected[8], polls[8];
    char status[8][16];
};

static int on_event(void *ud, const struct vn_tracked_event *e)
{
    struct seen *s = ud;

    vn_strlcpy(s->id[s->n], e->event_id, sizeof(s->id[0]));
    s->succeeded[s->n] = e->succeeded;
    s->expected[s->n] = e->expected;
    s->polls[s->n] = e->polls;
    vn_strlcpy(s->status[s->n], e->status ? e->status : "", sizeof(s->status[0]));
    s->n++;
    return 0;
}

static void test_store_tracking(void **state)
{
    struct fx *f = *state;
    struct vn_event_track t = {.event_id = "ev1",
                               .uid = "u1",
                               .kind = "assets",
                               .type = "ASSOCIATE",
                               .request = "{}",
                               .expected = 4,
                               .requested_ms = vn_now_ms()};
    struct vn_event_note note = {.event_id = "ev1",
                                 .uid = "u1",
                                 .notification_type = "ASSET_MANAGEMENT",
                                 .action = "ASSOCIATE",
                                 .succeeded = 3,
                                 .ms = vn_now_ms()};
    struct vn_event_tracking_update u = {
        .what = VN_ETU_POLL, .status = "PENDING", .num_requested = 4, .num_completed = 0};
    struct seen s = {0};

    assert_int_equal(vn_store_event_track(f->st, &t), 0);
    assert_int_equal(vn_store_event_track(f->st, &t), VN_EDUP);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_event_note(f->st, &note), 0); /* what ingest does */
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_event_tracking_update(f->st, "ev1", &u), 0);
    assert_int_equal(vn_store_events_tracking(f->st, NULL, on_event, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.id[0], "ev1");
    assert_int_equal(s.succeeded[0], 3);
    assert_int_equal(s.expected[0], 4);
    assert_int_equal(s.polls[0], 1);
    assert_string_equal(s.status[0], "PENDING");
    u = (struct vn_event_tracking_update){
        .what = VN_ETU_DONE, .status = "COMPLETE", .num_requested = -1, .num_completed = 4};
    assert_int_equal(vn_store_event_tracking_update(f->st, "ev1", &u), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(vn_store_events_tracking(f->st, NULL, on_event, &s), 0);
    assert_int_equal(s.n, 0); /* done: no longer tracked */
    assert_int_equal(vn_store_event_tracking_update(f->st, "nope", &u), VN_ENOTFOUND);
}

static void test_store_sync_marks_and_sweep(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a1 = {.adam_id = {"10"}, .serial_number = "S1"};
    struct vn_assignment a2 = {.adam_id = {"10"}, .serial_number = "S2"};
    struct vn_assignment a3 = {.adam_id = {"11"}, .client_user_id = "c1"};
    struct vn_user u = {.client_user_id = "c1", .email = "a@b.c", .status = "Registered"};
    struct vn_mirror_scope scope = {.adam_id = "10"};
    long long removed = -1;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a1), 1); /* from a notification */
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &a3), 1);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 0, 1, -1), 0);
    /* Generation 7 sees S2 and not S1. */
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 7, INT64_MAX, &a2), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 7, INT64_MAX, &a2), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 7, INT64_MAX, "10", "STDQ", 5, 1, 4), 2);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 7, INT64_MAX, "10", "STDQ", 5, 1, 4), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 7, INT64_MAX, "12", NULL, 1, 0, 1), 1);
    assert_int_equal(vn_store_sync_user(f->st, "u1", 7, INT64_MAX, &u), 1);
    u.email = NULL; /* a sync writes what Apple says, absent fields included */
    assert_int_equal(vn_store_sync_user(f->st, "u1", 7, INT64_MAX, &u), 2);
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 7, INT64_MAX, &scope, 0, &removed), 0);
    assert_int_equal(removed, 1); /* S1; c1's assignment of 11 is outside the scope */
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSETS, "u1", 7, INT64_MAX, NULL, 0, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &a1), 0); /* gone */
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &a3), 1); /* kept */
}

static void test_store_location_apple(void **state)
{
    struct fx *f = *state;
    struct vn_location_apple l;
    uint8_t box[40] = {9, 8, 7};
    struct vn_location_update u = {.what = VN_LU_STOKEN,
                                   .stoken = box,
                                   .stoken_len = 40,
                                   .token_expires_ms = 1900000000000LL,
                                   .org_name = "Org"};
    struct vn_sync_state st = {.last_full_ms = 1800000000000LL}, back;
    char **uids;
    size_t n;
    uint8_t d2[VN_DIGEST_LEN] = {2};

    assert_int_equal(vn_store_location_update(f->st, "u1", &u), 0);
    assert_int_equal(vn_store_location_update(f->st, "nope", &u), VN_ENOTFOUND);
    u = (struct vn_location_update){.what = VN_LU_STATUS | VN_LU_TAKEOVER,
                                    .token_status = "expired",
                                    .token_error = "9621",
                                    .takeover = "{\"id\":\"x\"}"};
    assert_int_equal(vn_store_location_update(f->st, "u1", &u), 0);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_int_equal(l.stoken_len, 40);
    assert_memory_equal(l.stoken, box, 40);
    assert_string_equal(l.org_name, "Org");
    assert_string_equal(l.token_status, "expired");
    assert_string_equal(l.takeover, "{\"id\":\"x\"}");
    assert_int_equal(l.token_expires_ms, 1900000000000LL);
    vn_location_apple_release(&l);
    assert_int_equal(vn_store_apple_uids(f->st, &uids, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(uids[0], "u1");
    free(uids[0]);
    free(uids);
    /* A new sToken makes the status ok again. */
    u = (struct vn_location_update){.what = VN_LU_STOKEN, .stoken = box, .stoken_len = 40};
    assert_int_equal(vn_store_location_update(f->st, "u1", &u), 0);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_string_equal(l.token_status, "ok");
    assert_string_equal(l.token_error, "");
    vn_location_apple_release(&l);

    assert_int_equal(vn_store_sync_state_get(f->st, "u1", &back), 0);
    assert_int_equal(back.last_full_ms, 0);
    vn_strlcpy(st.assignments_version, "v1", sizeof(st.assignments_version));
    assert_int_equal(vn_store_sync_state_put(f->st, "u1", &st), 0);
    assert_int_equal(vn_store_sync_state_get(f->st, "u1", &back), 0);
    assert_int_equal(back.last_full_ms, 1800000000000LL);
    assert_string_equal(back.assignments_version, "v1");

    /* A rotation Apple refused is undone: the previous token is current again. */
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d2, vn_now_ms(), vn_now_ms() + 1000), 0);
    assert_int_equal(vn_store_location_unrotate(f->st, "u1", d2), 0);
    assert_int_equal(vn_store_location_unrotate(f->st, "u1", d2), VN_ENOTFOUND);
}

static int count_tokens(void *ud, const struct vn_token_row *row)
{
    int *n = ud;

    *n += row->expires_ms == 0 ? 1 : 100;
    return 0;
}

static void test_store_unrotate_leaves_one_current(void **state)
{
    struct fx *f = *state;
    uint8_t d2[VN_DIGEST_LEN] = {2};
    int n = 0;

    assert_int_equal(vn_store_location_rotate(f->st, "u1", d2, vn_now_ms(), vn_now_ms() + 60000),
                     0);
    assert_int_equal(vn_store_location_unrotate(f->st, "u1", d2), 0);
    assert_int_equal(vn_store_tokens(f->st, vn_now_ms(), count_tokens, &n), 0);
    assert_int_equal(n, 1); /* one current token, none in grace */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_without_poll),
        cmocka_unit_test(test_quiet_then_poll),
        cmocka_unit_test(test_pending_interval_and_stall),
        cmocka_unit_test(test_deferred_never_stalls),
        cmocka_unit_test(test_final_status),
        cmocka_unit_test_setup_teardown(test_store_tracking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_sync_marks_and_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_location_apple, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_unrotate_leaves_one_current, setup, teardown),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
