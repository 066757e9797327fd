/*
 * test_metrics.c - the metrics module (counters, histograms, the Prometheus text) and the
 * store operations behind /metrics and backups: what a scraper or an operator would read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/stat.h>

#define VN_TEST_DIR_PREFIX "/tmp/vn_metrics_"
#include "store_test.h"

#include "vppnotify/buf.h"
#include "vppnotify/metrics.h"

static char *render_all(void)
{
    struct vn_buf b;
    vn_buf_init(&b, 1 << 20);
    assert_int_equal(vn_metrics_render(&b), 0);
    return vn_buf_detach(&b, NULL);
}

/* The text has exactly this line. */
static void has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line))) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
        p += n;
    }
    fail_msg("line '%s' not in:\n%s", line, text);
}

static void test_counters_count_what_was_recorded(void **state)
{
    char *t;

    (void)state;
    vn_metrics_reset();
    for (int i = 0; i < 3; i++)
        vn_metrics_notification(VN_NT_ASSET_COUNT, VN_OUTCOME_APPLIED);
    vn_metrics_notification(VN_NT_ASSET_COUNT, VN_OUTCOME_DUPLICATE);
    vn_metrics_notification(VN_NT_UNKNOWN, VN_OUTCOME_STORED);
    vn_metrics_notification(VN_NT_UNKNOWN, VN_OUTCOME_QUARANTINED);
    vn_metrics_notification(VN_NT_USER_ASSOCIATED, VN_OUTCOME_UNAVAILABLE);
    vn_metrics_http_status(200);
    vn_metrics_http_status(401);
    vn_metrics_http_status(401);
    vn_metrics_http_status(403);
    vn_metrics_http_status(599); /* not a status of ours: "other" */
    vn_metrics_queue_depth(7);
    vn_metrics_apple_request("getAssets", 200);
    vn_metrics_apple_request("getAssets", 200);
    vn_metrics_apple_request("getAssets", 429);
    vn_metrics_apple_request("status", 0);
    vn_metrics_apple_backoff(VN_BACKOFF_RATE_LIMITED);

    t = render_all();
    has_line(t, "vppnotify_notifications_total{type=\"ASSET_COUNT\",outcome=\"applied\"} 3");
    has_line(t, "vppnotify_notifications_total{type=\"ASSET_COUNT\",outcome=\"duplicate\"} 1");
    has_line(t, "vppnotify_notifications_total{type=\"other\",outcome=\"stored\"} 1");
    has_line(t,
             "vppnotify_notifications_total{type=\"USER_ASSOCIATED\",outcome=\"unavailable\"} 1");
    has_line(t, "vppnotify_notifications_total{type=\"TEST_NOTIFICATION\",outcome=\"applied\"} 0");
    has_line(t, "vppnotify_quarantined_total 1");
    has_line(t, "vppnotify_http_responses_total{code=\"200\"} 1");
    has_line(t, "vppnotify_http_responses_total{code=\"401\"} 2");
    has_line(t, "vppnotify_http_responses_total{code=\"403\"} 1");
    has_line(t, "vppnotify_http_responses_total{code=\"other\"} 1");
    has_line(t, "vppnotify_ingest_queue_depth 7");
    has_line(t, "vppnotify_apple_requests_total{endpoint=\"getAssets\",status=\"200\"} 2");
    has_line(t, "vppnotify_apple_requests_total{endpoint=\"getAssets\",status=\"429\"} 1");
    has_line(t, "vppnotify_apple_requests_total{endpoint=\"status\",status=\"0\"} 1");
    has_line(t, "vppnotify_apple_backoffs_total{reason=\"rate_limited\"} 1");
    has_line(t, "vppnotify_apple_backoffs_total{reason=\"unreachable\"} 0");
    has_line(t, "# TYPE vppnotify_notifications_total counter");
    free(t);

    {
        struct vn_metrics_totals tot;
        vn_metrics_totals(&tot);
        assert_int_equal(tot.applied, 3);
        assert_int_equal(tot.duplicates, 1);
        assert_int_equal(tot.rejected, 3);
    }
}

static void test_histograms_are_cumulative(void **state)
{
    char *t;

    (void)state;
    vn_metrics_reset();
    vn_metrics_ingest_latency(400000);            /* 0.4 ms: first bucket (0.0005) */
    vn_metrics_ingest_latency(500000);            /* exactly 0.5 ms: still le="0.0005" */
    vn_metrics_ingest_latency(3000000);           /* 3 ms: le="0.005" */
    vn_metrics_ingest_latency(60LL * 1000000000); /* 60 s: only +Inf */
    vn_metrics_batch(1);
    vn_metrics_commit(2000000);
    vn_metrics_batch(100);
    vn_metrics_commit(2000000);

    t = render_all();
    has_line(t, "vppnotify_ingest_latency_seconds_bucket{le=\"0.0005\"} 2");
    has_line(t, "vppnotify_ingest_latency_seconds_bucket{le=\"0.0025\"} 2");
    has_line(t, "vppnotify_ingest_latency_seconds_bucket{le=\"0.005\"} 3");
    has_line(t, "vppnotify_ingest_latency_seconds_bucket{le=\"10\"} 3");
    has_line(t, "vppnotify_ingest_latency_seconds_bucket{le=\"+Inf\"} 4");
    has_line(t, "vppnotify_ingest_latency_seconds_count 4");
    has_line(t, "vppnotify_ingest_latency_seconds_sum 60.003900000");
    has_line(t, "vppnotify_ingest_batch_size_bucket{le=\"1\"} 1");
    has_line(t, "vppnotify_ingest_batch_size_bucket{le=\"64\"} 1");
    has_line(t, "vppnotify_ingest_batch_size_bucket{le=\"128\"} 2");
    has_line(t, "vppnotify_ingest_batch_size_sum 101");
    has_line(t, "vppnotify_commit_duration_seconds_bucket{le=\"0.0025\"} 2");
    has_line(t, "vppnotify_commit_duration_seconds_count 2");
    has_line(t, "# TYPE vppnotify_ingest_latency_seconds histogram");
    free(t);
}

static void test_render_reports_a_full_buffer(void **state)
{
    struct vn_buf b;

    (void)state;
    vn_buf_init(&b, 100);
    assert_int_equal(vn_metrics_render(&b), VN_ETOOBIG);
    vn_buf_release(&b);
}

static void add_notification(struct vn_store *st, const char *id, const char *uid, int64_t ms)
{
    struct vn_notification_record r = {.id = id,
                                       .uid = uid,
                                       .type_name = "ASSET_COUNT",
                                       .state = VN_NSTATE_APPLIED,
                                       .body = "{}",
                                       .body_len = 2,
                                       .received_ms = ms};
    assert_int_equal(vn_store_begin(st), 0);
    assert_int_equal(vn_store_notification_insert(st, &r), 0);
    assert_int_equal(vn_store_commit(st), 0);
}

static void test_store_gauges(void **state)
{
    struct fx *f = *state;
    uint8_t d1[VN_DIGEST_LEN] = {1}, d2[VN_DIGEST_LEN] = {2};
    struct vn_error err = {0};
    int64_t now = vn_now_ms();
    struct vn_buf b;

    assert_int_equal(vn_store_location_add(f->st, "loc-1", "one", d1, now), 0);
    assert_int_equal(vn_store_location_add(f->st, "odd\"uid\\", "two", d2, now), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "loc-1", "408709785", "STDQ", 10, 3, 7), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "loc-1", "361309726", "PLUS", 5, 5, 0), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    add_notification(f->st, "n1", "loc-1", now - 90000);
    add_notification(f->st, "n2", "loc-1", now - 30000); /* the latest of loc-1 */

    vn_buf_init(&b, 1 << 20);
    assert_int_equal(vn_metrics_render_store(&b, f->st, now, 1000, &err), 0);
    has_line(b.data, "vppnotify_location_last_notification_age_seconds{uid=\"loc-1\"} 30.000");
    /* A location without notifications has no age line; label values are escaped. */
    assert_null(strstr(b.data, "vppnotify_location_last_notification_age_seconds{uid=\"odd"));
    has_line(b.data, "vppnotify_location_subscribed{uid=\"odd\\\"uid\\\\\"} 0");
    has_line(b.data, "vppnotify_licenses_available{uid=\"loc-1\",adam_id=\"408709785\","
                     "pricing_param=\"STDQ\"} 7");
    has_line(b.data, "vppnotify_licenses_owned{uid=\"loc-1\",adam_id=\"408709785\","
                     "pricing_param=\"STDQ\"} 10");
    has_line(b.data, "vppnotify_licenses_available{uid=\"loc-1\",adam_id=\"361309726\","
                     "pricing_param=\"PLUS\"} 0");
    has_line(b.data, "vppnotify_metrics_assets_truncated 0");
    has_line(b.data, "vppnotify_events{state=\"pending\"} 0");
    has_line(b.data, "vppnotify_events{state=\"stalled\"} 0");
    vn_buf_reset(&b);

    /* At most max_assets assets, and the truncation is said. */
    assert_int_equal(vn_metrics_render_store(&b, f->st, now, 1, &err), 0);
    has_line(b.data, "vppnotify_metrics_assets_truncated 1");
    assert_null(strstr(b.data, "pricing_param=\"STDQ\"} 7"));
    vn_buf_release(&b);
}

static void test_event_counts(void **state)
{
    struct fx *f = *state;
    struct vn_event_track t = {.event_id = "e1", .uid = "loc", .requested_ms = vn_now_ms()};
    struct vn_event_tracking_update u = {.what = VN_ETU_STALLED, .now_ms = vn_now_ms()};
    struct vn_event_counts c;

    assert_int_equal(vn_store_event_track(f->st, &t), 0);
    t.event_id = "e2";
    assert_int_equal(vn_store_event_track(f->st, &t), 0);
    t.event_id = "e3";
    assert_int_equal(vn_store_event_track(f->st, &t), 0);
    assert_int_equal(vn_store_event_tracking_update(f->st, "e2", &u), 0);
    u.what = VN_ETU_MISSING;
    assert_int_equal(vn_store_event_tracking_update(f->st, "e3", &u), 0);
    u.what = VN_ETU_DONE;
    u.status = "FAILED";
    u.num_requested = u.num_completed = -1;
    assert_int_equal(vn_store_event_tracking_update(f->st, "e3", &u), 0);

    assert_int_equal(vn_store_event_counts(f->st, vn_now_ms(), &c), 0);
    assert_int_equal(c.pending, 1); /* e1 */
    assert_int_equal(c.stalled, 1); /* e2 */
    assert_int_equal(c.missing, 1); /* e3: missing, no re-sync yet */
    assert_int_equal(c.failed, 1);  /* e3 */
}

static int count_rows(void *ud, const struct vn_row *row)
{
    (void)row;
    (*(int *)ud)++;
    return 0;
}

static void test_backup_is_a_whole_copy(void **state)
{
    struct fx *f = *state;
    uint8_t d1[VN_DIGEST_LEN] = {1};
    char to[200];
    struct vn_error err = {0};
    struct vn_store *copy;
    struct vn_filter flt = {0};
    struct stat sb;
    int n = 0;

    assert_int_equal(vn_store_location_add(f->st, "loc-1", "one", d1, vn_now_ms()), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "loc-1", "408709785", "STDQ", 10, 3, 7), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    add_notification(f->st, "n1", "loc-1", vn_now_ms());

    snprintf(to, sizeof(to), "%s/backup.db", f->dir);
    assert_int_equal(vn_store_backup(f->st, to), 0);
    assert_int_equal(stat(to, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* A second backup to the same file is refused, and says why. */
    assert_int_equal(vn_store_backup(f->st, to), VN_EDUP);
    assert_non_null(strstr(vn_store_last_error(f->st), "exists"));

    /* The copy opens as a vppnotify database with the same rows. */
    copy = vn_store_open(to, NULL, &err);
    assert_non_null(copy);
    assert_int_equal(vn_store_query(copy, VN_Q_NOTIFICATIONS, &flt, count_rows, &n), 0);
    assert_int_equal(n, 1);
    {
        struct rows a = {0}, b = {0};
        assert_int_equal(vn_store_query(f->st, VN_Q_ASSETS, &flt, render, &a), 0);
        assert_int_equal(vn_store_query(copy, VN_Q_ASSETS, &flt, render, &b), 0);
        assert_int_equal(a.n, 1);
        assert_int_equal(b.n, 1);
        assert_string_equal(a.text[0], b.text[0]);
    }
    vn_store_free(copy);
    unlink(to);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_count_what_was_recorded),
        cmocka_unit_test(test_histograms_are_cumulative),
        cmocka_unit_test(test_render_reports_a_full_buffer),
        cmocka_unit_test_setup_teardown(test_store_gauges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_is_a_whole_copy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
