/*
 * Unit tests of the replay workflow (workflow_replay.h), driven through the library API
 * against a real SQLite store; no Apple side is involved (replay never calls Apple).
 *
 * What a user observes: which notifications are applied and which stay stored, the mirror
 * they change (an ASSET_COUNT's countDelta applied twice would double a count, so counts prove
 * "exactly once"), the callback's per-notification outcomes, a second replay that applies
 * nothing, two replays at once (each with its own handle and inline writer, as two CLI
 * processes) that together apply each notification once, the same workflow on a threaded
 * writer (serve's), and a writer that stops mid-way ending the replay with the notification
 * named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/workflow_replay.h"
#include "vppnotify/writer.h"

#define UID "2049025000431439"

struct fixture {
    char dir[64], db[96];
    struct vn_store *st;
    struct vn_writer *w; /* inline, on st */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct vn_error err = {0};
    uint8_t digest[VN_DIGEST_LEN] = {1};

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/vn_wf_replay_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/vn.db", f->dir);
    f->st = vn_store_open(f->db, NULL, &err);
    assert_non_null(f->st);
    f->w = vn_writer_inline(f->st);
    assert_non_null(f->w);
    assert_int_equal(vn_store_location_add(f->st, UID, "Main", digest, vn_now_ms()), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    vn_writer_free(f->w);
    vn_store_free(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A ledger row in state stored, as an older release (or a failed apply) left it; each one
 * received a second after the one before (replay goes oldest first). */
static void store_body(struct fixture *f, const char *id, const char *type, const char *body)
{
    static int64_t received_ms = 1767225600000; /* 2026-01-01 */
    struct vn_notification_record r = {
        .id = id,
        .uid = UID,
        .type_name = type,
        .state = VN_NSTATE_STORED,
        .error = "unknown notificationType",
        .body = body,
        .body_len = strlen(body),
        .received_ms = received_ms += 1000,
    };

    vn_digest(body, strlen(body), r.digest);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_notification_insert(f->st, &r), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
}

/* An ASSET_COUNT of +delta licenses of adamId 408709785. */
static void store_count(struct fixture *f, const char *id, int delta)
{
    char body[400];

    snprintf(body, sizeof(body),
             "{\"notificationId\":\"%s\",\"notificationType\":\"ASSET_COUNT\",\"uId\":\"" UID
             "\",\"notification\":{\"adamId\":\"408709785\",\"countDelta\":%d,"
             "\"pricingParam\":\"STDQ\"}}",
             id, delta);
    store_body(f, id, "ASSET_COUNT", body);
}

/* The first value of key in the rows of q (filter f), as text; "" when absent. */
struct pick {
    const char *key;
    char out[256];
    int rows;
};

static int pick_row(void *ud, const struct vn_row *row)
{
    struct pick *p = ud;

    p->rows++;
    for (size_t k = 0; k < row->n; k++) {
        const struct vn_value *v = &row->vals[k];
        if (strcmp(row->keys[k], p->key) != 0 || p->out[0])
            continue;
        if (v->type == VN_V_INT || v->type == VN_V_BOOL)
            snprintf(p->out, sizeof(p->out), "%lld", v->i);
        else if (v->s)
            vn_strlcpy(p->out, v->s, sizeof(p->out));
    }
    return 0;
}

static long long total_count(struct vn_store *st)
{
    struct vn_filter flt = {.uid = UID};
    struct pick p = {.key = "totalCount"};

    assert_int_equal(vn_store_query(st, VN_Q_ASSETS, &flt, pick_row, &p), 0);
    return p.out[0] ? strtoll(p.out, NULL, 10) : -1;
}

static int count_state(struct vn_store *st, const char *state)
{
    struct vn_filter flt = {.state = state};
    struct pick p = {.key = "notificationId"};

    assert_int_equal(vn_store_query(st, VN_Q_NOTIFICATIONS, &flt, pick_row, &p), 0);
    return p.rows;
}

/* Callback: remembers outcomes by id. */
struct seen {
    int n;
    char id[8][32];
    enum vn_replay_outcome outcome[8];
    char why[8][256];
    char type[8][32];
};

static void remember(void *ud, const struct vn_replay_item *it)
{
    struct seen *s = ud;

    if (s->n >= 8)
        return;
    vn_strlcpy(s->id[s->n], it->id, sizeof(s->id[0]));
    s->outcome[s->n] = it->outcome;
    vn_strlcpy(s->why[s->n], it->why, sizeof(s->why[0]));
    vn_strlcpy(s->type[s->n], it->type_name ? it->type_name : "-", sizeof(s->type[0]));
    s->n++;
}

static void test_applies_what_parses_and_keeps_the_rest(void **state)
{
    struct fixture *f = *state;
    struct vn_workflow wf = {.st = f->st, .w = f->w};
    struct seen seen = {0};
    struct vn_replay_options o = {.cb = remember, .ud = &seen};
    struct vn_replay_result r;
    struct vn_error err = {0};

    store_count(f, "c-1", 5);
    store_body(f, "u-1", "UNLIMITED_ASSET",
               "{\"notificationId\":\"u-1\",\"notificationType\":\"UNLIMITED_ASSET\",\"uId\":\"" UID
               "\",\"notification\":{}}");
    store_body(f, "i-1", "ASSET_COUNT",
               "{\"notificationId\":\"i-1\",\"notificationType\":\"ASSET_COUNT\",\"uId\":\"" UID
               "\",\"notification\":{\"adamId\":\"5\"}}");
    store_count(f, "c-2", 7);

    assert_int_equal(vn_workflow_replay(&wf, &o, &r, &err), 0);
    assert_int_equal(r.stored, 4);
    assert_int_equal(r.applied, 2);
    assert_int_equal(r.still_stored, 2);
    assert_int_equal(r.raced + r.failed, 0);

    /* Oldest first, each named with its outcome; a refusal says why. */
    assert_int_equal(seen.n, 4);
    assert_string_equal(seen.id[0], "c-1");
    assert_int_equal(seen.outcome[0], VN_REPLAY_APPLIED);
    assert_string_equal(seen.type[0], "ASSET_COUNT");
    assert_string_equal(seen.id[1], "u-1");
    assert_int_equal(seen.outcome[1], VN_REPLAY_STILL_STORED);
    assert_string_equal(seen.type[1], "UNLIMITED_ASSET");
    assert_true(seen.why[1][0] != '\0');
    assert_string_equal(seen.id[2], "i-1");
    assert_int_equal(seen.outcome[2], VN_REPLAY_STILL_STORED);
    assert_non_null(strstr(seen.why[2], "countDelta"));
    assert_int_equal(seen.outcome[3], VN_REPLAY_APPLIED);

    /* The mirror and the ledger. */
    assert_int_equal(total_count(f->st), 12);
    assert_int_equal(count_state(f->st, "stored"), 2);
    assert_int_equal(count_state(f->st, "applied"), 2);
}

static void test_a_second_replay_applies_nothing(void **state)
{
    struct fixture *f = *state;
    struct vn_workflow wf = {.st = f->st, .w = f->w};
    struct vn_replay_result r;
    struct vn_error err = {0};

    store_count(f, "c-1", 5);
    store_body(f, "u-1", "UNLIMITED_ASSET",
               "{\"notificationId\":\"u-1\",\"notificationType\":\"UNLIMITED_ASSET\",\"uId\":\"" UID
               "\",\"notification\":{}}");
    assert_int_equal(vn_workflow_replay(&wf, NULL, &r, &err), 0);
    assert_int_equal(r.applied, 1);
    assert_int_equal(vn_workflow_replay(&wf, NULL, &r, &err), 0);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.applied, 0);
    assert_int_equal(r.still_stored, 1);
    assert_int_equal(total_count(f->st), 5);
}

/* Only one location's notifications with o->uid. */
static void test_one_location(void **state)
{
    struct fixture *f = *state;
    struct vn_workflow wf = {.st = f->st, .w = f->w};
    struct vn_replay_options o = {.uid = "1111"};
    struct vn_replay_result r;
    struct vn_error err = {0};

    store_count(f, "c-1", 5);
    assert_int_equal(vn_workflow_replay(&wf, &o, &r, &err), 0);
    assert_int_equal(r.stored, 0);
    assert_int_equal(count_state(f->st, "stored"), 1);
    o.uid = UID;
    assert_int_equal(vn_workflow_replay(&wf, &o, &r, &err), 0);
    assert_int_equal(r.applied, 1);
}

/* Two replays at once, as two processes: their own handles, their own inline writers. */
struct racer {
    const char *db;
    struct vn_replay_result r;
    int rc;
    pthread_barrier_t *start;
};

static void *race(void *arg)
{
    struct racer *x = arg;
    struct vn_error err = {0};
    struct vn_store *st = vn_store_open(x->db, NULL, &err);
    struct vn_workflow wf = {.st = st};

    x->rc = -1;
    if (!st)
        return NULL;
    wf.w = vn_writer_inline(st);
    pthread_barrier_wait(x->start);
    x->rc = vn_workflow_replay(&wf, NULL, &x->r, &err);
    if (x->rc)
        fprintf(stderr, "replay: %s\n", err.msg);
    vn_writer_free(wf.w);
    vn_store_free(st);
    return NULL;
}

static void test_concurrent_replays_apply_each_once(void **state)
{
    struct fixture *f = *state;
    pthread_barrier_t start;
    struct racer a = {.db = f->db, .start = &start}, b = {.db = f->db, .start = &start};
    pthread_t ta, tb;
    char id[16];
    int n = 60;

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        store_count(f, id, 1);
    }
    pthread_barrier_init(&start, NULL, 2);
    assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&start);

    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(a.r.failed + b.r.failed, 0);
    /* Each notification was applied by exactly one of them; the other saw it raced (or, when
     * it listed the ids after the first had finished, never saw it). */
    assert_int_equal(a.r.applied + b.r.applied, n);
    assert_int_equal(a.r.applied + a.r.raced, a.r.stored);
    assert_int_equal(b.r.applied + b.r.raced, b.r.stored);
    assert_int_equal(total_count(f->st), n);
    assert_int_equal(count_state(f->st, "stored"), 0);
}

/* The same workflow inside serve: its writes are jobs of the threaded writer. */
static void test_through_serves_writer(void **state)
{
    struct fixture *f = *state;
    struct vn_error err = {0};
    struct vn_store *wst = vn_store_open(f->db, NULL, &err);
    struct vn_writer *w;
    struct vn_workflow wf = {.st = f->st};
    struct vn_writer_stats ws;
    struct vn_replay_result r;

    assert_non_null(wst);
    w = vn_writer_start(wst, NULL, &err);
    assert_non_null(w);
    wf.w = w;
    store_count(f, "c-1", 3);
    store_count(f, "c-2", 4);
    assert_int_equal(vn_workflow_replay(&wf, NULL, &r, &err), 0);
    assert_int_equal(r.applied, 2);
    vn_writer_stats(w, &ws);
    assert_int_equal(ws.jobs, 2);
    assert_int_equal(ws.job_failures, 0);
    vn_writer_free(w);
    vn_store_free(wst);
    assert_int_equal(total_count(f->st), 7);
}

/* A writer that stops (serve shutting down) ends the replay: the notification is named, the
 * rest stays stored for the next one. */
static void test_a_stopped_writer_ends_the_replay(void **state)
{
    struct fixture *f = *state;
    struct vn_error err = {0};
    struct vn_store *wst = vn_store_open(f->db, NULL, &err);
    struct vn_writer *w = vn_writer_start(wst, NULL, &err);
    struct vn_workflow wf = {.st = f->st, .w = w};
    struct vn_replay_result r;

    assert_non_null(w);
    store_count(f, "c-1", 3);
    store_count(f, "c-2", 4);
    vn_writer_stop(w);
    assert_int_equal(vn_workflow_replay(&wf, NULL, &r, &err), VN_ESHUTDOWN);
    assert_non_null(strstr(err.msg, "'c-1'"));
    assert_int_equal(r.stored, 2);
    assert_int_equal(r.failed, 1);
    assert_int_equal(r.applied, 0);
    vn_writer_free(w);
    vn_store_free(wst);
    assert_int_equal(count_state(f->st, "stored"), 2);
    assert_int_equal(total_count(f->st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_applies_what_parses_and_keeps_the_rest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_second_replay_applies_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_location, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_replays_apply_each_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_through_serves_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stopped_writer_ends_the_replay, setup, teardown),
    };

    vn_secret_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
