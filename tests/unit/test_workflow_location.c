/*
 * Unit tests of the location workflows (workflow_location.h) through the library API: subscribe,
 * rotate (subscribed and not), set-stoken, taking a location over, add and remove.
 *
 * Apple's side is the real vppsim binary of this build tree, started by each test on 127.0.0.1
 * port 0 (workflow_test.h); it delivers the TEST_NOTIFICATION of Client Config synchronously and
 * refuses with 9728 when nothing answers. The notifications are received by an in-process serve
 * (the one writer, ingest, the token cache, the HTTP server) on the same database. Faults vppsim
 * makes on request: a read-only sToken (every POST 403/9637), a revoked or renewed one; a network
 * failure is vppsim stopped before the call.
 *
 * The workflows run through the CLI's door (an inline writer on the test's handle) and, where it
 * matters, through serve's (its threaded writer, as the HTTP API's routes will).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vppnotify/workflow_location.h"
#include "workflow_test.h"

/* The location's row of `location list` as a user reads it. */
static void location_value(struct vn_store *st, const char *uid, const char *key, char *out,
                           size_t len)
{
    struct vn_filter flt = {.uid = uid};

    query_value(st, VN_Q_LOCATIONS, &flt, key, out, len);
}

static void test_subscribe_receives_the_test_notification(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1], v[1024];
    json_t *svc;

    sim_location(f, "{\"locationName\":\"Main campus\",\"orgName\":\"Example School\"}", uid, &tok);
    serve_start(f);
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = f->serve.url};
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), 0);

    /* The result. */
    assert_string_equal(r.uid, uid);
    assert_string_equal(r.name, "Main campus");
    assert_string_equal(r.org_name, "Example School");
    assert_string_equal(r.url, f->serve.url);
    assert_true(r.token_expires_ms > vn_now_ms());
    assert_int_equal(r.foreign_mdm, 0);
    assert_string_equal(r.other_mdm, "");
    sim_ctl(f, "GET", "/mdm/v2/service/config", NULL, &svc);
    assert_int_equal(r.ntypes, json_array_size(json_object_get(svc, "notificationTypes")));
    json_decref(svc);

    /* The location, its subscription, and the TEST_NOTIFICATION that serve received during
     * the Client Config call (the token was committed before it). */
    location_value(f->st, uid, "tokenStatus", v, sizeof(v));
    assert_string_equal(v, "ok");
    location_value(f->st, uid, "notificationUrl", v, sizeof(v));
    assert_string_equal(v, f->serve.url);
    location_value(f->st, uid, "lastTestNotificationAt", v, sizeof(v));
    assert_true(v[0] != '\0');
    {
        struct vn_filter flt = {.type_name = "TEST_NOTIFICATION", .state = "applied"};
        assert_int_equal(query_value(f->st, VN_Q_NOTIFICATIONS, &flt, "uId", v, sizeof(v)), 1);
        assert_string_equal(v, uid);
    }
    sim_state_str(f, uid, "notificationUrl", v, sizeof(v));
    assert_string_equal(v, f->serve.url);
    assert_int_equal(tokens_of(f->st, uid, NULL).n, 1);

    /* Twice: refused, nothing changed. */
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), VN_EDUP);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_int_equal(tokens_of(f->st, uid, NULL).n, 1);
    vn_stoken_release(&tok);
}

/* The same workflow with serve's own writer, as the HTTP API runs it: the TEST_NOTIFICATION's
 * ingest job and the workflow's jobs share the one writer. */
static void test_subscribe_through_serves_writer(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_writer_stats ws;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1], v[64];

    sim_location(f, NULL, uid, &tok);
    serve_start(f);
    struct vn_workflow wf = f->wf;
    wf.w = f->serve.w;
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = f->serve.url, .name = "Annex"};
    assert_int_equal(vn_workflow_subscribe(&wf, &in, &r, &err), 0);
    assert_string_equal(r.name, "Annex");
    location_value(f->st, uid, "lastTestNotificationAt", v, sizeof(v));
    assert_true(v[0] != '\0');
    vn_writer_stats(f->serve.w, &ws);
    /* mdmInfo, location with its sToken (one job), TEST_NOTIFICATION, subscription: every
     * one a job. */
    assert_true(ws.jobs >= 4);
    assert_int_equal(ws.job_failures, 0);
    vn_stoken_release(&tok);
}

/* 9728: nothing answers at the URL. Apple refuses; nothing of the location is left. */
static void test_subscribe_refused_leaves_nothing(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_error err = {0};
    struct vn_location_apple loc = {0};
    char uid[VN_ID_MAX + 1], v[64];

    sim_location(f, NULL, uid, &tok);
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = "http://127.0.0.1:1/n"};
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), VN_EAPPLE);
    assert_non_null(strstr(err.msg, "9728"));
    assert_non_null(strstr(err.msg, "TEST_NOTIFICATION"));
    assert_non_null(strstr(err.msg, "not kept"));
    assert_int_equal(vn_store_location_apple(f->st, uid, &loc), VN_ENOTFOUND);
    assert_int_equal(query_rows(f->st, VN_Q_LOCATIONS, NULL), 0);
    assert_int_equal(tokens_of(f->st, uid, NULL).n, 0);
    sim_state_str(f, uid, "notificationUrl", v, sizeof(v));
    assert_string_equal(v, "");

    /* Then with serve running: it works, nothing of the first attempt in the way. */
    serve_start(f);
    in.public_url = f->serve.url;
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), 0);
    vn_stoken_release(&tok);
}

/* Refused before Apple is asked: a bad URL, an expired sToken, another location's sToken. */
static void test_subscribe_refuses_bad_input(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1];
    long long calls;

    sim_location(f, NULL, uid, &tok);
    calls = sim_requests(f, "GET", "/mdm/v2/client/config");
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = "http://example.com/n"};
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "must use https"));
    in.public_url = "https://example.com/n?k=v";
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "no query"));
    in.public_url = "https://example.com/n";
    in.token = "short";
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), VN_EUSAGE);
    in.token = NULL;
    tok.expires_ms = vn_now_ms() - 1000;
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), VN_EAUTH);
    assert_non_null(strstr(err.msg, "expired"));
    assert_int_equal(sim_requests(f, "GET", "/mdm/v2/client/config"), calls);
    tok.expires_ms = vn_now_ms() + 86400000;
    in.uid = "1234";
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), VN_EPARSE);
    assert_non_null(strstr(err.msg, "belongs to location"));
    assert_int_equal(query_rows(f->st, VN_Q_LOCATIONS, NULL), 0);
    vn_stoken_release(&tok);
}

/* Another MDM (another database: another mdmInfo id) wants the location: refused without
 * take_over, done with it; the first instance sees the takeover on its next call, is refused
 * a re-subscription without take_over and takes the location back with it. */
static void test_takeover(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_set_stoken_result sr;
    struct vn_rotate_result rr;
    struct vn_error err = {0};
    struct wserve serve_b = {0};
    struct other b;
    char uid[VN_ID_MAX + 1], mdm_a[64], mdm_b[64], v[1024];

    sim_location(f, NULL, uid, &tok);
    serve_start(f);
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = f->serve.url};
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), 0);
    sim_state_str(f, uid, "mdmId", mdm_a, sizeof(mdm_a));
    assert_int_equal(strlen(mdm_a), VN_UUID_LEN);

    other_open(f, "b", &b);
    serve_start_on(b.db, &serve_b);
    struct vn_subscribe_input inb = {.stoken = &tok, .public_url = serve_b.url};
    assert_int_equal(vn_workflow_subscribe(&b.wf, &inb, &r, &err), VN_ECONFLICT);
    assert_non_null(strstr(err.msg, "another MDM manages location"));
    assert_non_null(strstr(err.msg, mdm_a));
    assert_non_null(strstr(r.other_mdm, mdm_a));
    assert_int_equal(query_rows(b.st, VN_Q_LOCATIONS, NULL), 0);
    inb.take_over = 1;
    assert_int_equal(vn_workflow_subscribe(&b.wf, &inb, &r, &err), 0);
    sim_state_str(f, uid, "mdmId", mdm_b, sizeof(mdm_b));
    assert_string_not_equal(mdm_b, mdm_a);
    sim_state_str(f, uid, "notificationUrl", v, sizeof(v));
    assert_string_equal(v, serve_b.url);

    /* A's next call (a set-stoken here) sees B's mdmInfo: a takeover, recorded. */
    assert_int_equal(vn_workflow_set_stoken(&f->wf, uid, &tok, &sr, &err), 0);
    assert_non_null(strstr(sr.other_mdm, mdm_b));
    location_value(f->st, uid, "tokenStatus", v, sizeof(v));
    assert_string_equal(v, "takeover");

    /* A takes it back: refused without take_over, done with it; Apple echoes A again. */
    struct vn_rotate_input ri = {.uid = uid, .grace_ms = 60000};
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), VN_ECONFLICT);
    assert_non_null(strstr(err.msg, mdm_b));
    ri.take_over = 1;
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), 0);
    assert_int_equal(rr.subscribed, 1);
    sim_state_str(f, uid, "mdmId", v, sizeof(v));
    assert_string_equal(v, mdm_a);
    sim_state_str(f, uid, "notificationUrl", v, sizeof(v));
    assert_string_equal(v, f->serve.url);
    location_value(f->st, uid, "tokenStatus", v, sizeof(v));
    assert_string_equal(v, "ok");

    serve_stop_on(&serve_b);
    other_close(&b);
    vn_stoken_release(&tok);
}

/* A subscribed location's rotation: Apple gets the new token (proved by a delivery that only
 * the new token opens), the previous one is kept for the grace window. */
static void test_rotate_subscribed(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_rotate_result rr;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1], body[256], v[64];
    const char *given = "rotated-token-0123456789-abcdefghijklmnop";

    sim_location(f, NULL, uid, &tok);
    serve_start(f);
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = f->serve.url};
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), 0);

    struct vn_rotate_input ri = {.uid = uid, .grace_ms = 3600000, .token = given};
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), 0);
    assert_int_equal(rr.subscribed, 1);
    assert_int_equal(rr.generated, 0);
    assert_string_equal(rr.token, "");
    assert_string_equal(rr.url, f->serve.url);
    struct tokens t = tokens_of(f->st, uid, given);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.found_current, 1);

    /* No grace: only the new token is valid; a purchase's ASSET_COUNT is accepted by serve only
     * if vppsim delivers it with the new token. */
    ri.grace_ms = 0;
    ri.token = NULL;
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), 0);
    assert_int_equal(tokens_of(f->st, uid, NULL).n, 1);
    snprintf(body, sizeof(body), "{\"uId\":\"%s\",\"adamId\":\"100\",\"count\":3}", uid);
    sim_ctl(f, "POST", "/_sim/purchase", body, NULL);
    sim_ctl(f, "POST", "/_sim/settle?timeout=30", NULL, NULL);
    {
        struct vn_filter flt = {.uid = uid, .type_name = "ASSET_COUNT", .state = "applied"};
        assert_int_equal(query_value(f->st, VN_Q_NOTIFICATIONS, &flt, "uId", v, sizeof(v)), 1);
    }
    vn_stoken_release(&tok);
}

/* Apple refuses the new configuration (a read-only sToken: every POST is 403/9637): the
 * rotation is undone and the previous token is the only, current one again. */
static void test_rotate_refused_is_undone(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_rotate_result rr;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1], body[128];
    const char *first = "first-token-0123456789-abcdefghijklmnopqr";
    const char *second = "second-token-0123456789-abcdefghijklmnopq";

    sim_location(f, NULL, uid, &tok);
    serve_start(f);
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = f->serve.url, .token = first};
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), 0);
    snprintf(body, sizeof(body), "{\"uId\":\"%s\",\"action\":\"read-only\"}", uid);
    sim_ctl(f, "POST", "/_sim/token", body, NULL);

    struct vn_rotate_input ri = {.uid = uid, .grace_ms = 3600000, .token = second};
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), VN_EAPPLE);
    assert_int_equal(rr.unrotated, 1);
    assert_int_equal(rr.subscribed, 0);
    assert_non_null(strstr(err.msg, "9637"));
    assert_non_null(strstr(err.msg, "previous notification token stays the current one"));
    struct tokens t = tokens_of(f->st, uid, first);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.found_current, 1);
    assert_int_equal(tokens_of(f->st, uid, second).found, 0);
    vn_stoken_release(&tok);
}

/* No answer from Apple (vppsim gone): it may have the new token or not, so both stay valid. */
static void test_rotate_unanswered_keeps_both(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0};
    struct vn_subscribe_result r;
    struct vn_rotate_result rr;
    struct vn_error err = {0};
    char uid[VN_ID_MAX + 1];
    const char *first = "first-token-0123456789-abcdefghijklmnopqr";
    const char *second = "second-token-0123456789-abcdefghijklmnopq";

    sim_location(f, NULL, uid, &tok);
    serve_start(f);
    struct vn_subscribe_input in = {.stoken = &tok, .public_url = f->serve.url, .token = first};
    assert_int_equal(vn_workflow_subscribe(&f->wf, &in, &r, &err), 0);
    sim_stop(f); /* Service Config stays cached in the client */

    struct vn_rotate_input ri = {.uid = uid, .grace_ms = 3600000, .token = second};
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), VN_ENET);
    assert_int_equal(rr.unrotated, 0);
    assert_non_null(strstr(err.msg, "may or may not"));
    assert_non_null(strstr(err.msg, "1h"));
    struct tokens t = tokens_of(f->st, uid, second);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.found_current, 1);
    assert_int_equal(tokens_of(f->st, uid, first).found, 1);
    vn_stoken_release(&tok);
}

/* A location without a subscription: a new token to show once, the old one in grace; a public
 * URL without an sToken is refused; an unknown location is named. */
static void test_rotate_local(void **state)
{
    struct wfx *f = *state;
    struct vn_rotate_result rr;
    struct vn_error err = {0};
    uint8_t d[VN_DIGEST_LEN];
    const char *old = "old-token-0123456789-abcdefghijklmnopqrst";

    vn_digest(old, strlen(old), d);
    assert_int_equal(vn_store_location_add(f->st, "42", "Local", d, vn_now_ms()), 0);
    struct vn_rotate_input ri = {.uid = "42", .grace_ms = 60000};
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), 0);
    assert_int_equal(rr.generated, 1);
    assert_int_equal(rr.subscribed, 0);
    assert_int_equal(strlen(rr.token), VN_TOKEN_LEN);
    assert_int_equal(tokens_of(f->st, "42", rr.token).found_current, 1);
    struct tokens t = tokens_of(f->st, "42", old);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.found, 1);
    assert_int_equal(t.found_current, 0);
    vn_wipe(rr.token, sizeof(rr.token));

    ri.public_url = "https://mdm.example.com/n";
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "no sToken"));
    ri.uid = "nope";
    ri.public_url = NULL;
    assert_int_equal(vn_workflow_rotate(&f->wf, &ri, &rr, &err), VN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no location 'nope'"));
}

/* set-stoken: Apple checks the sToken first; a revoked location resumes with a renewed one. */
static void test_set_stoken(void **state)
{
    struct wfx *f = *state;
    struct vn_stoken tok = {0}, other = {0}, renewed = {0};
    struct vn_set_stoken_result sr;
    struct vn_error err = {0};
    uint8_t d[VN_DIGEST_LEN] = {1};
    char uid[VN_ID_MAX + 1], uid2[VN_ID_MAX + 1], body[128], v[64];
    json_t *o;

    sim_location(f, "{\"orgName\":\"Example School\"}", uid, &tok);
    sim_location(f, NULL, uid2, &other);
    assert_int_equal(vn_workflow_set_stoken(&f->wf, uid, &tok, &sr, &err), VN_ENOTFOUND);
    assert_int_equal(vn_store_location_add(f->st, uid, "Imported", d, vn_now_ms()), 0);
    assert_int_equal(vn_workflow_set_stoken(&f->wf, uid, &other, &sr, &err), VN_EPARSE);
    assert_non_null(strstr(err.msg, "belongs to location"));
    location_value(f->st, uid, "tokenStatus", v, sizeof(v));
    assert_string_equal(v, "");

    assert_int_equal(vn_workflow_set_stoken(&f->wf, uid, &tok, &sr, &err), 0);
    assert_true(sr.token_expires_ms > vn_now_ms());
    assert_string_equal(sr.other_mdm, "");
    location_value(f->st, uid, "tokenStatus", v, sizeof(v));
    assert_string_equal(v, "ok");
    location_value(f->st, uid, "orgName", v, sizeof(v));
    assert_string_equal(v, "Example School");

    /* Apple renews it (the old one is revoked): the new one is checked and installed. */
    snprintf(body, sizeof(body), "{\"uId\":\"%s\",\"action\":\"renew\"}", uid);
    sim_ctl(f, "POST", "/_sim/token", body, &o);
    assert_int_equal(
        vn_stoken_parse(json_string_value(json_object_get(o, "sToken")), &renewed, &err), 0);
    json_decref(o);
    assert_int_equal(vn_workflow_set_stoken(&f->wf, uid, &tok, &sr, &err), VN_EAPPLE);
    assert_non_null(strstr(err.msg, "9625"));
    assert_int_equal(vn_workflow_set_stoken(&f->wf, uid, &renewed, &sr, &err), 0);
    location_value(f->st, uid, "tokenStatus", v, sizeof(v));
    assert_string_equal(v, "ok");
    vn_stoken_release(&tok);
    vn_stoken_release(&other);
    vn_stoken_release(&renewed);
}

/* A location without Apple's side: added with a token made here (shown once) or given, the
 * same uId refused, removed with its tokens. */
static void test_add_and_remove(void **state)
{
    struct wfx *f = *state;
    struct vn_location_add_result r;
    struct vn_error err = {0};
    const char *given = "given-token-0123456789-abcdefghijklmnopqr";
    char v[64];

    assert_int_equal(vn_workflow_location_add(&f->wf, "41", "Annex", NULL, &r, &err), 0);
    assert_int_equal(r.generated, 1);
    assert_int_equal(tokens_of(f->st, "41", r.token).found_current, 1);
    location_value(f->st, "41", "name", v, sizeof(v));
    assert_string_equal(v, "Annex");
    assert_int_equal(vn_workflow_location_add(&f->wf, "41", NULL, NULL, &r, &err), VN_EDUP);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_int_equal(r.generated, 0);
    assert_string_equal(r.token, "");
    assert_int_equal(vn_workflow_location_add(&f->wf, "42", NULL, "short", &r, &err), VN_EUSAGE);
    assert_int_equal(vn_workflow_location_add(&f->wf, "42", NULL, given, &r, &err), 0);
    assert_int_equal(r.generated, 0);
    assert_string_equal(r.token, "");
    assert_int_equal(tokens_of(f->st, "42", given).found_current, 1);
    location_value(f->st, "42", "name", v, sizeof(v));
    assert_string_equal(v, "42");

    assert_int_equal(vn_workflow_location_remove(&f->wf, "42", &err), 0);
    assert_int_equal(tokens_of(f->st, "42", NULL).n, 0);
    assert_int_equal(vn_workflow_location_remove(&f->wf, "42", &err), VN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no location '42'"));
    assert_int_equal(query_rows(f->st, VN_Q_LOCATIONS, NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe_receives_the_test_notification, wfx_setup,
                                        wfx_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_through_serves_writer, wfx_setup,
                                        wfx_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_refused_leaves_nothing, wfx_setup,
                                        wfx_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_refuses_bad_input, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_takeover, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_rotate_subscribed, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_rotate_refused_is_undone, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_rotate_unanswered_keeps_both, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_rotate_local, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_set_stoken, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_add_and_remove, wfx_setup, wfx_teardown),
    };

    if (wfx_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
