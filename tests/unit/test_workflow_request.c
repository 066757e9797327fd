/*
 * Unit tests of the request workflows (workflow_request.h) through the library API: a request
 * split at Apple's limits, sent, and every eventId tracked; duplicates and empty requests
 * refused before anything is sent; a plan that fails part-way reports the eventIds that went
 * out (and they are tracked); a location whose sToken Apple refused makes no call, nor one
 * whose lock another process holds past the wait; events
 * track for an event another program started; the same workflow on serve's threaded writer.
 *
 * Apple's side is the real vppsim binary of this build tree on 127.0.0.1 port 0
 * (workflow_test.h): its limits are lowered through /_sim/limits to make splits small, and a
 * forced 503 (/_sim/faults, set from the progress callback after the first request went out)
 * makes the second request of a plan fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vppnotify/workflow_location.h"
#include "vppnotify/workflow_request.h"
#include "workflow_test.h"

/* A location known to vppnotify with its sToken (set-stoken; no subscription needed). */
static void imported(struct wfx *f, char uid[VN_ID_MAX + 1], struct vn_stoken *tok)
{
    struct vn_set_stoken_result sr;
    struct vn_error err = {0};
    uint8_t d[VN_DIGEST_LEN];

    sim_location(f, NULL, uid, tok);
    vn_digest(uid, strlen(uid), d);
    assert_int_equal(vn_store_location_add(f->st, uid, "Main", d, vn_now_ms()), 0);
    if (vn_workflow_set_stoken(&f->wf, uid, tok, &sr, &err) != 0)
        fail_msg("set-stoken: %s", err.msg);
}

/* What the progress callbacks heard. */
struct heard {
    struct wfx *f;
    size_t planned;
    struct vn_apple_limits limits;
    int sent;
    char ids[16][VN_ID_MAX + 1];
    long long expected[16];
    const char *fault_after_first; /* a /_sim/faults body to post after the first request */
};

static void on_planned(void *ud, size_t n, const struct vn_apple_limits *l)
{
    struct heard *h = ud;

    h->planned = n;
    h->limits = *l;
}

static void on_sent(void *ud, const char *event_id, const struct vn_manage_request *req)
{
    struct heard *h = ud;

    if (h->sent < 16) {
        vn_strlcpy(h->ids[h->sent], event_id, sizeof(h->ids[0]));
        h->expected[h->sent] = req->expected;
    }
    if (h->sent++ == 0 && h->fault_after_first)
        sim_ctl(h->f, "POST", "/_sim/faults", h->fault_after_first, NULL);
}

/* The tracked event's expectedItems ("" when it is not tracked). */
static void tracked(struct vn_store *st, const char *event_id, char *out, size_t len)
{
    struct vn_filter flt = {.event_id = event_id};

    if (query_value(st, VN_Q_EVENTS, &flt, "tracked", out, len) == 0 || strcmp(out, "true"))
        out[0] = '\0';
    else
        query_value(st, VN_Q_EVENTS, &flt, "expectedItems", out, len);
}

static void test_split_at_the_limits_and_tracked(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_request_result r;
    struct vn_error err = {0};
    struct heard h = {.f = f};
    struct vn_request_progress p = {.planned = on_planned, .sent = on_sent, .ud = &h};
    struct vn_manage_asset assets[5];
    const char *serials[] = {"S1", "S2", "S3"};
    char uid[VN_ID_MAX + 1], body[512], v[64];

    sim_ctl(f, "POST", "/_sim/limits", "{\"maxAssets\":2,\"maxSerialNumbers\":2}", NULL);
    imported(f, uid, &tok);
    snprintf(body, sizeof(body),
             "{\"uId\":\"%s\",\"assets\":[{\"adamId\":\"1\",\"totalCount\":9},{\"adamId\":\"2\","
             "\"totalCount\":9},{\"adamId\":\"3\",\"totalCount\":9},{\"adamId\":\"4\","
             "\"totalCount\":9},{\"adamId\":\"5\",\"totalCount\":9}]}",
             uid);
    sim_ctl(f, "POST", "/_sim/seed", body, NULL);
    for (int i = 0; i < 5; i++) {
        char text[8];
        snprintf(text, sizeof(text), "%d", i + 1);
        assert_int_equal(vn_manage_asset_parse(text, &assets[i], &err), 0);
    }
    struct vn_manage m = {.op = VN_MO_ASSETS_ASSOCIATE,
                          .assets = assets,
                          .nassets = 5,
                          .serials = serials,
                          .nserials = 3};
    assert_int_equal(vn_workflow_request(&f->wf, uid, &m, &p, &r, &err), 0);

    /* 3 asset chunks x 2 serial chunks. */
    assert_int_equal(r.planned, 6);
    assert_int_equal(r.sent, 6);
    assert_int_equal(h.planned, 6);
    assert_int_equal(h.limits.max_assets, 2);
    assert_int_equal(r.limits.max_serial_numbers, 2);
    assert_int_equal(h.sent, 6);
    for (size_t i = 0; i < r.sent; i++) {
        assert_string_equal(r.event_ids[i], h.ids[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(r.event_ids[i], r.event_ids[j]);
        tracked(f->st, r.event_ids[i], v, sizeof(v));
        assert_int_equal(strtoll(v, NULL, 10), h.expected[i]);
        assert_true(h.expected[i] > 0);
    }
    assert_int_equal(sim_requests(f, "POST", "/mdm/v2/assets/associate"), 6);
    vn_request_result_release(&r);
    assert_null(r.event_ids);
    vn_stoken_release(&tok);
}

static void test_refused_before_sending(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_request_result r;
    struct vn_error err = {0};
    const char *dup[] = {"S1", "S2", "S1"};
    struct vn_manage_asset a;
    char uid[VN_ID_MAX + 1];

    imported(f, uid, &tok);
    assert_int_equal(vn_manage_asset_parse("1", &a, &err), 0);
    struct vn_manage m = {
        .op = VN_MO_ASSETS_ASSOCIATE, .assets = &a, .nassets = 1, .serials = dup, .nserials = 3};
    assert_int_equal(vn_workflow_request(&f->wf, uid, &m, NULL, &r, &err), VN_EDUP);
    assert_non_null(strstr(err.msg, "assets ASSOCIATE"));
    assert_non_null(strstr(err.msg, "'S1'"));
    assert_int_equal(r.sent, 0);
    m.nserials = 0;
    assert_int_equal(vn_workflow_request(&f->wf, uid, &m, NULL, &r, &err), VN_EUSAGE);
    struct vn_manage u = {.op = VN_MO_USERS_CREATE};
    assert_int_equal(vn_workflow_request(&f->wf, uid, &u, NULL, &r, &err), VN_EUSAGE);
    assert_int_equal(sim_requests(f, "POST", "/mdm/v2/assets/associate"), 0);
    assert_int_equal(vn_workflow_request(&f->wf, "nope", &m, NULL, &r, &err), VN_ENOTFOUND);
    assert_int_equal(query_rows(f->st, VN_Q_EVENTS, uid), 0);
    vn_request_result_release(&r);
    vn_stoken_release(&tok);
}

/* The second request of three fails: the first one's eventId is reported and tracked, the
 * third is not sent. */
static void test_partial_failure_names_what_was_sent(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_request_result r;
    struct vn_error err = {0};
    struct heard h = {.f = f,
                      .fault_after_first = "{\"http503\":{\"count\":5,\"retryAfter\":0,\"path\":"
                                           "\"/mdm/v2/users/create\"}}"};
    struct vn_request_progress p = {.planned = on_planned, .sent = on_sent, .ud = &h};
    struct vn_manage_user people[5] = {{"u1", NULL, NULL},
                                       {"u2", NULL, NULL},
                                       {"u3", NULL, NULL},
                                       {"u4", NULL, NULL},
                                       {"u5", NULL, NULL}};
    char uid[VN_ID_MAX + 1], v[64];

    sim_ctl(f, "POST", "/_sim/limits", "{\"maxUsers\":2}", NULL);
    imported(f, uid, &tok);
    struct vn_manage m = {.op = VN_MO_USERS_CREATE, .people = people, .npeople = 5};
    assert_int_equal(vn_workflow_request(&f->wf, uid, &m, &p, &r, &err), VN_EAPPLE);
    assert_non_null(strstr(err.msg, "9729"));
    assert_int_equal(r.planned, 3);
    assert_int_equal(r.sent, 1);
    assert_string_equal(r.event_ids[0], h.ids[0]);
    tracked(f->st, r.event_ids[0], v, sizeof(v));
    assert_string_equal(v, "2");
    assert_int_equal(query_rows(f->st, VN_Q_EVENTS, uid), 1);
    vn_request_result_release(&r);
    vn_stoken_release(&tok);
}

/* Apple refused the location's sToken before (9625): no call is made until a new one. */
static void test_refused_stoken_makes_no_call(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_request_result r;
    struct vn_error err = {0};
    struct vn_manage_user one = {"u1", NULL, NULL};
    char uid[VN_ID_MAX + 1], body[128];
    long long calls;

    imported(f, uid, &tok);
    snprintf(body, sizeof(body), "{\"uId\":\"%s\",\"action\":\"revoke\"}", uid);
    sim_ctl(f, "POST", "/_sim/token", body, NULL);
    struct vn_manage m = {.op = VN_MO_USERS_CREATE, .people = &one, .npeople = 1};
    assert_int_equal(vn_workflow_request(&f->wf, uid, &m, NULL, &r, &err), VN_EAPPLE);
    assert_non_null(strstr(err.msg, "9625"));
    assert_null(r.event_ids);
    calls = sim_requests(f, "POST", "/mdm/v2/users/create");
    assert_int_equal(vn_workflow_request(&f->wf, uid, &m, NULL, &r, &err), VN_EAUTH);
    assert_non_null(strstr(err.msg, "set-stoken"));
    assert_int_equal(sim_requests(f, "POST", "/mdm/v2/users/create"), calls);
    vn_request_result_release(&r);
    vn_stoken_release(&tok);
}

/* Another process holds the location's lock (here another handle on the database, as the CLI
 * beside serve): a call that may not wait (--apple-lock-wait 0) fails at once without a
 * request, and so does one whose wait runs out, each saying which location, how long it
 * waited and what to do; a wait of a process that stops is given up; once the lock is given
 * up the call goes through. */
static void test_lock_held_elsewhere(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_request_result r;
    struct vn_error err = {0};
    struct vn_manage_user one = {"u1", NULL, NULL};
    struct vn_store *other;
    struct vn_workflow wf = f->wf;
    char uid[VN_ID_MAX + 1], name[VN_ID_MAX + 16], want[VN_ID_MAX + 64];
    int held = 0, lost = 0;

    imported(f, uid, &tok);
    other = vn_store_open(f->db, NULL, &err);
    assert_non_null(other);
    snprintf(name, sizeof(name), "location:%s", uid);
    assert_int_equal(vn_store_mutex_lock(other, name, 0, &held), 0);
    assert_int_equal(held, 1);
    struct vn_manage m = {.op = VN_MO_USERS_CREATE, .people = &one, .npeople = 1};
    snprintf(want, sizeof(want), "location %s: another process or instance is calling Apple", uid);

    wf.apple = apple_new_waiting(f->sim, VN_APPLE_NO_WAIT);
    assert_int_equal(vn_workflow_request(&wf, uid, &m, NULL, &r, &err), VN_ERETRY);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "waited 0s"));
    assert_non_null(strstr(err.msg, "try again later, or allow a longer wait with "
                                    "--apple-lock-wait"));
    assert_int_equal(r.sent, 0);
    vn_request_result_release(&r);
    vn_apple_free(wf.apple);

    wf.apple = apple_new_waiting(f->sim, 200);
    assert_int_equal(vn_workflow_request(&wf, uid, &m, NULL, &r, &err), VN_ERETRY);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "waited 200ms"));
    vn_request_result_release(&r);
    vn_apple_free(wf.apple);

    /* serve stopping (vn_apple_drain): a wait of a minute is given up, without a request */
    wf.apple = apple_new_waiting(f->sim, 60000);
    vn_apple_drain(wf.apple);
    assert_int_equal(vn_workflow_request(&wf, uid, &m, NULL, &r, &err), VN_ESHUTDOWN);
    assert_non_null(strstr(err.msg, "stopped while waiting for its lock"));
    vn_request_result_release(&r);
    vn_apple_free(wf.apple);
    assert_int_equal(sim_requests(f, "POST", "/mdm/v2/users/create"), 0);

    wf.apple = apple_new_waiting(f->sim, 200);
    assert_int_equal(vn_store_mutex_unlock(other, name, &lost), 0);
    assert_int_equal(lost, 0);
    if (vn_workflow_request(&wf, uid, &m, NULL, &r, &err) != 0)
        fail_msg("users create once the lock was given up: %s", err.msg);
    assert_int_equal(r.sent, 1);
    assert_int_equal(sim_requests(f, "POST", "/mdm/v2/users/create"), 1);
    vn_request_result_release(&r);
    vn_apple_free(wf.apple);
    vn_store_free(other);
    vn_stoken_release(&tok);
}

/* An event another program started: tracked, polled once; a second time it is known. */
static void test_track(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_track_result t;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1], event_id[VN_ID_MAX + 1], v[64];
    json_t *o = NULL;

    imported(f, uid, &tok);
    assert_int_equal(sim_http(f, "POST", "/mdm/v2/users/create", tok.text,
                              "{\"users\":[{\"clientUserId\":\"u1\"}]}", &o),
                     200);
    vn_strlcpy(event_id, json_string_value(json_object_get(o, "eventId")), sizeof(event_id));
    json_decref(o);

    assert_int_equal(vn_workflow_track(&f->wf, uid, event_id, &t, &err), 0);
    assert_int_equal(t.already, 0);
    assert_true(!strcmp(t.status.status, "PENDING") || !strcmp(t.status.status, "COMPLETE"));
    {
        struct vn_filter flt = {.event_id = event_id};
        query_value(f->st, VN_Q_EVENTS, &flt, "tracked", v, sizeof(v));
        assert_string_equal(v, "true");
        query_value(f->st, VN_Q_EVENTS, &flt, "polls", v, sizeof(v));
        assert_string_equal(v, "1");
    }
    assert_int_equal(vn_workflow_track(&f->wf, uid, event_id, &t, &err), 0);
    assert_int_equal(t.already, 1);

    assert_int_equal(vn_workflow_track(&f->wf, uid, "no-such-event", &t, &err), VN_EAPPLE);
    assert_non_null(strstr(err.msg, "9708"));
    assert_int_equal(vn_workflow_track(&f->wf, uid, "", &t, &err), VN_EUSAGE);
    vn_stoken_release(&tok);
}

/* The same workflow with serve's writer, as the HTTP API's manage routes run it. */
static void test_through_serves_writer(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_request_result r;
    struct vn_writer_stats ws;
    struct vn_error err = {0};
    struct vn_manage_user people[3] = {{"u1", NULL, NULL}, {"u2", NULL, NULL}, {"u3", NULL, NULL}};
    char uid[VN_ID_MAX + 1], v[64];

    sim_ctl(f, "POST", "/_sim/limits", "{\"maxUsers\":2}", NULL);
    imported(f, uid, &tok);
    serve_start(f);
    struct vn_workflow wf = f->wf;
    wf.w = f->serve.w;
    struct vn_manage m = {.op = VN_MO_USERS_CREATE, .people = people, .npeople = 3};
    assert_int_equal(vn_workflow_request(&wf, uid, &m, NULL, &r, &err), 0);
    assert_int_equal(r.sent, 2);
    vn_writer_stats(f->serve.w, &ws);
    assert_true(ws.jobs >= 2);
    for (size_t i = 0; i < r.sent; i++) {
        tracked(f->st, r.event_ids[i], v, sizeof(v));
        assert_string_equal(v, i == 0 ? "2" : "1");
    }
    vn_request_result_release(&r);
    vn_stoken_release(&tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_split_at_the_limits_and_tracked, wfx_setup,
                                        wfx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_before_sending, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_partial_failure_names_what_was_sent, wfx_setup,
                                        wfx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_stoken_makes_no_call, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_lock_held_elsewhere, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_track, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_through_serves_writer, wfx_setup, wfx_teardown),
    };

    if (wfx_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
