/*
 * Unit tests of ingest.c, the group-commit writer, against a real SQLite store: outcomes,
 * dedupe, apply failures kept as stored, a failing batch answered 503 as a whole with nothing
 * of it on disk, a full queue, and a stop that finishes queued jobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vppnotify/error.h"
#include "vppnotify/ingest.h"
#include "vppnotify/notification.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"

#define UID "2049025000431439"

struct item {
    struct vn_ingest_job job;
    struct vn_notification *n;
    char body[4096];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int finished;
static sem_t gate;    /* a done() that blocks the writer until the test opens the gate */
static sem_t entered; /* posted when that done() has started waiting */
static int use_gate;

static void done(struct vn_ingest_job *job)
{
    if (use_gate && job->ud) {
        use_gate = 0;
        sem_post(&entered);
        sem_wait(&gate);
    }
    pthread_mutex_lock(&lock);
    finished++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static void wait_finished(int n)
{
    pthread_mutex_lock(&lock);
    while (finished < n)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

/* Fill it from body (copied) and parse it. */
static void prepare(struct item *it, const char *body)
{
    size_t len;

    memset(it, 0, sizeof(*it));
    snprintf(it->body, sizeof(it->body), "%s", body);
    len = strlen(it->body);
    assert_int_equal(vn_notification_parse(it->body, len, NULL, &it->n, NULL), 0);
    it->job.kind = VN_JOB_NOTIFICATION;
    it->job.n = it->n;
    it->job.body = it->body;
    it->job.body_len = len;
    vn_digest(it->body, len, it->job.digest);
    it->job.received_ms = vn_now_ms();
    it->job.done = done;
}

static void asset_count(struct item *it, const char *id)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"notificationId\":\"%s\",\"notificationType\":\"ASSET_COUNT\",\"uId\":\"" UID
             "\",\"notification\":{\"adamId\":\"7\",\"pricingParam\":\"STDQ\","
             "\"countDelta\":2}}",
             id);
    prepare(it, body);
}

struct fixture {
    char dir[64], db[96];
    struct vn_store *reader;
    struct vn_store *st; /* the writer's */
    struct vn_writer *w;
};

static struct vn_ingest *start(struct fixture *f, long long max_db, size_t queue_max)
{
    char params[64];
    struct vn_store_options so = {.params = params};
    struct vn_writer_options wo = {.queue_max = queue_max, .batch_max = 1024};
    struct vn_error err = {0};
    uint8_t d[VN_DIGEST_LEN];
    struct vn_ingest *ing;

    snprintf(params, sizeof(params), "max_size=%lld", max_db);
    f->st = vn_store_open(f->db, &so, &err);
    assert_non_null(f->st);
    vn_digest("x", 1, d);
    vn_store_location_add(f->st, UID, "t", d, vn_now_ms());
    f->w = vn_writer_start(f->st, &wo, &err);
    assert_non_null(f->w);
    ing = vn_ingest_new(f->w, &err);
    assert_non_null(ing);
    finished = 0;
    return ing;
}

/* Free ingest, then the writer, then its store. */
static void stop(struct fixture *f, struct vn_ingest *ing)
{
    vn_ingest_free(ing);
    vn_writer_free(f->w);
    vn_store_free(f->st);
    f->w = NULL;
    f->st = NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/vn_ingest_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/i.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    vn_store_free(f->reader);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Count rows of a query through the public read interface. */
static int count_cb(void *ud, const struct vn_row *row)
{
    (*(int *)ud)++;
    return 0;
}

static int rows(struct fixture *f, enum vn_query q, const struct vn_filter *flt)
{
    struct vn_store_options ro = {.read_only = 1};
    int n = 0;

    if (!f->reader)
        f->reader = vn_store_open(f->db, &ro, NULL);
    assert_non_null(f->reader);
    assert_int_equal(vn_store_query(f->reader, q, flt, count_cb, &n), 0);
    return n;
}

static void test_outcomes_and_dedupe(void **state)
{
    struct fixture *f = *state;
    struct vn_ingest *ing = start(f, 0, 100);
    struct item a, b, c, t;

    asset_count(&a, "n-1");
    asset_count(&b, "n-1"); /* same id in the same burst */
    prepare(&c, "{\"notificationId\":\"n-2\",\"notificationType\":\"NEW_KIND\",\"uId\":\"" UID
                "\",\"notification\":{}}");
    /* TEST_NOTIFICATION for a uId without a location: the payload is valid, applying it fails
     * (no location row), so it is kept as stored with the reason, not lost and not 503. */
    prepare(&t, "{\"notificationId\":\"n-3\",\"notificationType\":\"TEST_NOTIFICATION\","
                "\"uId\":\"nowhere\",\"notification\":{}}");
    assert_int_equal(vn_ingest_submit(ing, &a.job), 0);
    assert_int_equal(vn_ingest_submit(ing, &b.job), 0);
    assert_int_equal(vn_ingest_submit(ing, &c.job), 0);
    assert_int_equal(vn_ingest_submit(ing, &t.job), 0);
    wait_finished(4);
    assert_int_equal(a.job.outcome, VN_OUTCOME_APPLIED);
    assert_int_equal(b.job.outcome, VN_OUTCOME_DUPLICATE);
    assert_int_equal(b.job.conflict, 0);
    assert_int_equal(c.job.outcome, VN_OUTCOME_STORED);
    assert_non_null(strstr(c.job.error, "NEW_KIND"));
    assert_int_equal(t.job.outcome, VN_OUTCOME_STORED);
    assert_non_null(strstr(t.job.error, "apply failed"));
    stop(f, ing);
    {
        struct vn_filter stored = {.state = "stored"};
        assert_int_equal(rows(f, VN_Q_NOTIFICATIONS, NULL), 3);
        assert_int_equal(rows(f, VN_Q_NOTIFICATIONS, &stored), 2);
    }
    vn_notification_free(a.n);
    vn_notification_free(b.n);
    vn_notification_free(c.n);
    vn_notification_free(t.n);
}

/* A large ASSOCIATE: 20 assignments with long serials, about 3 KiB of ledger and mirror. */
static void big_associate(struct item *it, int i)
{
    char body[4096];
    int off = snprintf(body, sizeof(body),
                       "{\"notificationId\":\"f-%d\",\"notificationType\":\"ASSET_MANAGEMENT\","
                       "\"uId\":\"" UID "\",\"notification\":{\"type\":\"ASSOCIATE\","
                       "\"result\":\"SUCCESS\",\"assignments\":[",
                       i);

    for (int k = 0; k < 20; k++)
        off += snprintf(body + off, sizeof(body) - (size_t)off,
                        "%s{\"adamId\":\"9\",\"serialNumber\":\"f-%d-%02d-PADDINGPADDING"
                        "PADDINGPADDINGPADDINGPADDINGPADDING\"}",
                        k ? "," : "", i, k);
    snprintf(body + off, sizeof(body) - (size_t)off, "]}}");
    prepare(it, body);
    assert_true(it->n->valid);
}

/* Bytes of a database with the schema and one location, and nothing else. */
static long long empty_db_bytes(struct fixture *f)
{
    struct vn_ingest *ing = start(f, 0, 1);
    struct stat sb;

    stop(f, ing); /* closing the last connection checkpoints the WAL into the file */
    assert_int_equal(stat(f->db, &sb), 0);
    return (long long)sb.st_size;
}

#define NBIG 400

static void test_failed_batch_is_503_and_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    /* Room for a few dozen large notifications above the empty schema, whatever its size. */
    struct vn_ingest *ing = start(f, empty_db_bytes(f) + 96 * 1024, 1000);
    static struct item items[NBIG];
    int n = 0, applied = 0, big_applied = 0, unavailable = 0;

    /* 1. One at a time until the first 503: the database is then full to the brim. */
    while (n < NBIG / 2) {
        big_associate(&items[n], n);
        assert_int_equal(vn_ingest_submit(ing, &items[n].job), 0);
        wait_finished(++n);
        if (items[n - 1].job.outcome != VN_OUTCOME_APPLIED)
            break;
    }
    assert_int_equal(items[n - 1].job.outcome, VN_OUTCOME_UNAVAILABLE);
    /*
     * 2. Bursts of 10, large and small ones alternating, so that failures happen inside
     * multi-notification batches: SQLite rolls back the whole transaction on SQLITE_FULL, and
     * nothing processed earlier in that batch may be answered "applied"; a small one after a
     * failed large one would still fit, which is what would let a half-rolled-back batch
     * commit its tail.
     */
    for (int burst = 0; burst < 10; burst++) {
        for (int k = 0; k < 10; k++, n++) {
            if (k % 2) {
                char id[16];
                snprintf(id, sizeof(id), "s-%d", n);
                asset_count(&items[n], id);
            } else {
                big_associate(&items[n], n);
            }
            assert_int_equal(vn_ingest_submit(ing, &items[n].job), 0);
        }
        wait_finished(n);
    }
    for (int i = 0; i < n; i++) {
        if (items[i].job.outcome == VN_OUTCOME_APPLIED)
            applied++, big_applied += items[i].n->type == VN_NT_ASSET_MANAGEMENT;
        else if (items[i].job.outcome == VN_OUTCOME_UNAVAILABLE)
            unavailable++;
        else
            fail_msg("unexpected outcome %d", items[i].job.outcome);
    }
    stop(f, ing);
    assert_true(big_applied > 0);
    assert_true(unavailable > 0);
    /* What was answered 503 is not there; what was applied is, with all its assignments. */
    assert_int_equal(rows(f, VN_Q_NOTIFICATIONS, NULL), applied);
    assert_int_equal(rows(f, VN_Q_ASSIGNMENTS, NULL), big_applied * 20);
    for (int i = 0; i < n; i++)
        vn_notification_free(items[i].n);
}

/*
 * healthz after a notification failed for a full database: 503 until a write commits, even
 * when the probe (64 KiB) would still fit where the notification (a 256 KiB body) did not.
 * Before, the probe's success said "writable" while every such notification got 503.
 */
static void test_healthz_stays_full_until_a_write_commits(void **state)
{
    struct fixture *f = *state;
    struct vn_ingest *ing = start(f, empty_db_bytes(f) + 192 * 1024, 100);
    size_t big = 256 * 1024;
    char *body = malloc(big + 256);
    struct item huge, ping, small;
    int off;

    assert_non_null(body);
    off = snprintf(body, 256,
                   "{\"notificationId\":\"huge-1\",\"notificationType\":\"FUTURE_TYPE\","
                   "\"uId\":\"" UID "\",\"notification\":{\"blob\":\"");
    memset(body + off, 'x', big);
    snprintf(body + off + big, 64, "\"}}");
    memset(&huge, 0, sizeof(huge));
    assert_int_equal(vn_notification_parse(body, strlen(body), NULL, &huge.n, NULL), 0);
    huge.job.kind = VN_JOB_NOTIFICATION;
    huge.job.n = huge.n;
    huge.job.body = body;
    huge.job.body_len = strlen(body);
    vn_digest(body, huge.job.body_len, huge.job.digest);
    huge.job.done = done;
    assert_int_equal(vn_ingest_submit(ing, &huge.job), 0);
    wait_finished(1);
    assert_int_equal(huge.job.outcome, VN_OUTCOME_UNAVAILABLE);

    memset(&ping, 0, sizeof(ping));
    ping.job.kind = VN_JOB_PING;
    ping.job.done = done;
    assert_int_equal(vn_ingest_submit(ing, &ping.job), 0);
    wait_finished(2);
    assert_int_equal(ping.job.outcome, VN_OUTCOME_UNAVAILABLE);
    assert_non_null(strstr(ping.job.error, "full"));

    /* A small notification still fits and commits: healthz is fine again. */
    asset_count(&small, "small-1");
    assert_int_equal(vn_ingest_submit(ing, &small.job), 0);
    wait_finished(3);
    assert_int_equal(small.job.outcome, VN_OUTCOME_APPLIED);
    ping.job.outcome = VN_OUTCOME_NONE;
    assert_int_equal(vn_ingest_submit(ing, &ping.job), 0);
    wait_finished(4);
    assert_int_equal(ping.job.outcome, VN_OUTCOME_OK);
    stop(f, ing);
    vn_notification_free(huge.n);
    vn_notification_free(small.n);
    free(body);
}

static void test_full_queue_and_stop_finishes(void **state)
{
    struct fixture *f = *state;
    struct vn_ingest *ing = start(f, 0, 2);
    struct item it[4];
    char id[16];

    sem_init(&gate, 0, 0);
    sem_init(&entered, 0, 0);
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "q-%d", i);
        asset_count(&it[i], id);
    }
    /* The first job's done() holds the writer, so the next two fill the queue of 2. */
    it[0].job.ud = &it[0];
    use_gate = 1;
    assert_int_equal(vn_ingest_submit(ing, &it[0].job), 0);
    sem_wait(&entered);
    assert_int_equal(vn_ingest_submit(ing, &it[1].job), 0);
    assert_int_equal(vn_ingest_submit(ing, &it[2].job), 0);
    assert_int_equal(vn_ingest_submit(ing, &it[3].job), VN_EFULL);
    sem_post(&gate);
    vn_ingest_stop(ing);
    assert_int_equal(finished, 3);
    assert_int_equal(it[1].job.outcome, VN_OUTCOME_APPLIED);
    assert_int_equal(it[2].job.outcome, VN_OUTCOME_APPLIED);
    assert_int_equal(vn_ingest_submit(ing, &it[3].job), VN_ESHUTDOWN);
    stop(f, ing);
    for (int i = 0; i < 4; i++)
        vn_notification_free(it[i].n);
    sem_destroy(&gate);
    sem_destroy(&entered);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outcomes_and_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_is_503_and_leaves_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_healthz_stays_full_until_a_write_commits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_and_stop_finishes, setup, teardown),
    };

    vn_secret_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
