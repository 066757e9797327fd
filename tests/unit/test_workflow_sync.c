/*
 * Unit tests of the sync workflow (workflow_sync.h) through the library API: one location or
 * every location with an sToken made equal to Apple's records, each reported through the
 * callback as it is done; a location that fails is reported and counted while the others go
 * on; nothing to sync is not an error; the same workflow on serve's threaded writer.
 *
 * Apple's side is the real vppsim binary of this build tree on 127.0.0.1 port 0
 * (workflow_test.h), seeded through /_sim/seed; a revoked sToken (/_sim/token) makes one
 * location fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vppnotify/workflow_location.h"
#include "vppnotify/workflow_sync.h"
#include "workflow_test.h"

/* A location known to vppnotify with its sToken, seeded at vppsim with n users, each holding
 * a license of adamId 100. */
static void seeded(struct wfx *f, char uid[VN_ID_MAX + 1], int n)
{
    struct vn_stoken tok = {0};
    struct vn_set_stoken_result sr;
    struct vn_error err = {0};
    struct vn_buf b;
    uint8_t d[VN_DIGEST_LEN];

    sim_location(f, NULL, uid, &tok);
    vn_digest(uid, strlen(uid), d);
    assert_int_equal(vn_store_location_add(f->st, uid, "Main", d, vn_now_ms()), 0);
    if (vn_workflow_set_stoken(&f->wf, uid, &tok, &sr, &err) != 0)
        fail_msg("set-stoken: %s", err.msg);
    vn_stoken_release(&tok);
    vn_buf_init(&b, 1 << 20);
    vn_buf_printf(&b,
                  "{\"uId\":\"%s\",\"assets\":[{\"adamId\":\"100\",\"totalCount\":%d}],"
                  "\"users\":[",
                  uid, n + 5);
    for (int i = 0; i < n; i++)
        vn_buf_printf(&b, "%s{\"clientUserId\":\"u%d\"}", i ? "," : "", i);
    vn_buf_puts(&b, "],\"assignments\":[");
    for (int i = 0; i < n; i++)
        vn_buf_printf(&b, "%s{\"adamId\":\"100\",\"clientUserId\":\"u%d\"}", i ? "," : "", i);
    vn_buf_puts(&b, "]}");
    sim_ctl(f, "POST", "/_sim/seed", vn_buf_str(&b), NULL);
    vn_buf_release(&b);
}

/* What the callback heard, per location. */
struct heard {
    int n;
    char uid[4][VN_ID_MAX + 1];
    int rc[4];
    long long users_fetched[4], assignments_added[4];
    char kind[4][16];
    char err[4][VN_ERROR_MSG_MAX];
};

static void on_done(void *ud, const char *uid, int rc, const struct vn_sync_report *r,
                    const struct vn_error *err)
{
    struct heard *h = ud;
    int i = h->n++;

    if (i >= 4)
        return;
    vn_strlcpy(h->uid[i], uid, sizeof(h->uid[0]));
    h->rc[i] = rc;
    if (rc) {
        assert_null(r);
        vn_strlcpy(h->err[i], err->msg, sizeof(h->err[0]));
        return;
    }
    h->users_fetched[i] = r->t[VN_MT_USERS].fetched;
    h->assignments_added[i] = r->t[VN_MT_ASSIGNMENTS].added;
    vn_strlcpy(h->kind[i], r->kind, sizeof(h->kind[0]));
}

static void test_one_location(void **state)
{
    struct wfx *f = *state;
    struct vn_workflow_sync_result r;
    struct vn_error err = {0};
    struct heard h = {0};
    char uid[VN_ID_MAX + 1];

    seeded(f, uid, 30);
    struct vn_workflow_sync_options o = {.uid = uid, .full = 1, .done = on_done, .ud = &h};
    assert_int_equal(vn_workflow_sync(&f->wf, &o, &r, &err), 0);
    assert_int_equal(r.locations, 1);
    assert_int_equal(r.failed, 0);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.uid[0], uid);
    assert_string_equal(h.kind[0], "full");
    assert_int_equal(h.users_fetched[0], 30);
    assert_int_equal(h.assignments_added[0], 30);
    assert_int_equal(query_rows(f->st, VN_Q_ASSIGNMENTS, uid), 30);
    assert_int_equal(query_rows(f->st, VN_Q_USERS, uid), 30);

    /* Again: nothing new (a delta, as no full one was asked for). */
    o.full = 0;
    h.n = 0;
    assert_int_equal(vn_workflow_sync(&f->wf, &o, &r, &err), 0);
    assert_int_equal(h.assignments_added[0], 0);
    assert_int_equal(query_rows(f->st, VN_Q_ASSIGNMENTS, uid), 30);
}

/* Every location with an sToken; one fails (Apple revoked its sToken), the other is synced. */
static void test_every_location_and_one_fails(void **state)
{
    struct wfx *f = *state;
    struct vn_workflow_sync_result r;
    struct vn_error err = {0};
    struct heard h = {0};
    uint8_t d[VN_DIGEST_LEN] = {9};
    char a[VN_ID_MAX + 1], b[VN_ID_MAX + 1], body[128];
    const char *bad;
    int ia;

    seeded(f, a, 3);
    seeded(f, b, 4);
    assert_int_equal(vn_store_location_add(f->st, "77", "no sToken", d, vn_now_ms()), 0);
    snprintf(body, sizeof(body), "{\"uId\":\"%s\",\"action\":\"revoke\"}", b);
    sim_ctl(f, "POST", "/_sim/token", body, NULL);

    struct vn_workflow_sync_options o = {.full = 1, .done = on_done, .ud = &h};
    assert_int_equal(vn_workflow_sync(&f->wf, &o, &r, &err), VN_EAPPLE);
    assert_int_equal(r.locations, 2);
    assert_int_equal(r.failed, 1);
    assert_int_equal(h.n, 2);
    ia = strcmp(h.uid[0], a) == 0 ? 0 : 1;
    assert_string_equal(h.uid[ia], a);
    assert_int_equal(h.rc[ia], 0);
    assert_int_equal(h.users_fetched[ia], 3);
    assert_string_equal(h.uid[1 - ia], b);
    bad = h.err[1 - ia];
    assert_non_null(strstr(bad, b));
    assert_non_null(strstr(bad, "9625"));
    assert_non_null(strstr(err.msg, b));
    assert_int_equal(query_rows(f->st, VN_Q_ASSIGNMENTS, a), 3);
    assert_int_equal(query_rows(f->st, VN_Q_ASSIGNMENTS, b), 0);
}

static void test_nothing_to_sync(void **state)
{
    struct wfx *f = *state;
    struct vn_workflow_sync_result r;
    struct vn_error err = {0};
    struct heard h = {0};

    struct vn_workflow_sync_options o = {.done = on_done, .ud = &h};
    assert_int_equal(vn_workflow_sync(&f->wf, &o, &r, &err), 0);
    assert_int_equal(r.locations, 0);
    assert_int_equal(h.n, 0);
    o.uid = "nope";
    assert_int_equal(vn_workflow_sync(&f->wf, &o, &r, &err), VN_ENOTFOUND);
    assert_int_equal(r.failed, 1);
    assert_non_null(strstr(err.msg, "no location 'nope'"));
}

/* Inside serve: the pages are BULK jobs of its writer. */
static void test_through_serves_writer(void **state)
{
    struct wfx *f = *state;
    struct vn_workflow_sync_result r;
    struct vn_writer_stats ws;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1];

    seeded(f, uid, 10);
    serve_start(f);
    struct vn_workflow wf = f->wf;
    wf.w = f->serve.w;
    struct vn_workflow_sync_options o = {.uid = uid, .full = 1};
    assert_int_equal(vn_workflow_sync(&wf, &o, &r, &err), 0);
    vn_writer_stats(f->serve.w, &ws);
    assert_true(ws.jobs > 0);
    assert_int_equal(ws.job_failures, 0);
    assert_int_equal(query_rows(f->st, VN_Q_ASSIGNMENTS, uid), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_location, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_every_location_and_one_fails, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_to_sync, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_through_serves_writer, wfx_setup, wfx_teardown),
    };

    if (wfx_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
