/*
 * Unit tests of writer.c, the one transaction runner, against a real store (SQLite, or the one
 * VN_TEST_STORE_URL names: tests/pg runs them on PostgreSQL; on both, a batch runs
 * optimistically first, store.h): a job that fails alone loses only its own writes; a store
 * failure fails the whole batch and writes nothing; bulk jobs are bounded per batch and urgent
 * ones go first; own-transaction jobs; many threads waiting with vn_writer_run; the inline
 * writer; stop finishes what is queued.
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
#include <sys/syscall.h>
#include <unistd.h>

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"

#include "store_url.h"

#define UID "2049025000431439"

struct fixture {
    char dir[64], db[512];
    struct vn_store *st, *reader;
    struct vn_writer *w;
};

/* A test job: adds an asset (adamId) and then returns ret; records the batch it ran in. */
struct tjob {
    struct vn_wjob job;
    struct vn_writer *w;
    char adam[24];
    int ret;
    int ret_once; /* returned by the first run only (then 0) */
    int calls;
    sem_t *hold; /* when set: run() posts entered, then waits on hold */
    sem_t *entered;
    uint64_t batch; /* batches completed before this one ran */
    int order;      /* position among every run() call */
    int done_calls;
};

static int runs;

static int tjob_run(struct vn_store *st, struct vn_wjob *j, struct vn_error *err)
{
    struct tjob *t = j->ud;
    struct vn_writer_stats s;
    int rc;

    if (t->hold) {
        sem_post(t->entered);
        sem_wait(t->hold);
    }
    vn_writer_stats(t->w, &s);
    t->batch = s.batches;
    t->order = runs++;
    rc = vn_store_asset_adjust(st, UID, t->adam, "STDQ", 1, 0, 1);
    if (rc)
        return rc;
    if (t->ret_once && t->calls++ == 0)
        return vn_error_set(err, t->ret_once, "job %s: transient", t->adam);
    if (t->ret)
        return vn_error_set(err, t->ret, "job %s refused", t->adam);
    return 0;
}

static void tjob_done(struct vn_wjob *j)
{
    ((struct tjob *)j->ud)->done_calls++;
}

static void tjob_init(struct tjob *t, struct fixture *f, enum vn_wjob_class cls, const char *adam,
                      int ret)
{
    memset(t, 0, sizeof(*t));
    t->w = f->w;
    t->job.cls = cls;
    t->job.run = tjob_run;
    t->job.done = tjob_done;
    t->job.ud = t;
    vn_strlcpy(t->adam, adam, sizeof(t->adam));
    t->ret = ret;
}

static int total_cb(void *ud, const struct vn_row *row)
{
    for (size_t k = 0; k < row->n; k++)
        if (!strcmp(row->keys[k], "totalCount"))
            *(long long *)ud = row->vals[k].i;
    return 0;
}

static int count_cb(void *ud, const struct vn_row *row)
{
    (void)row;
    (*(int *)ud)++;
    return 0;
}

/* Assets with this adamId in the database, through another (read-only) handle. */
static int assets(struct fixture *f, const char *adam)
{
    struct vn_store_options ro = {.read_only = 1};
    struct vn_filter flt = {.adam_id = adam};
    int n = 0;

    if (!f->reader)
        f->reader = vn_store_open(f->db, &ro, NULL);
    assert_non_null(f->reader);
    assert_int_equal(vn_store_query(f->reader, VN_Q_ASSETS, adam ? &flt : NULL, count_cb, &n), 0);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct vn_writer_options wo = {.bulk_rows = 1000};
    struct vn_error err = {0};

    snprintf(f->dir, sizeof(f->dir), "/tmp/vn_writer_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/w.db", f->dir);
    test_store_url(f->dir, f->db, sizeof(f->db));
    f->st = vn_store_open(f->db, NULL, &err);
    assert_non_null(f->st);
    f->w = vn_writer_start(f->st, &wo, &err);
    assert_non_null(f->w);
    runs = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    vn_writer_free(f->w);
    vn_store_free(f->st);
    vn_store_free(f->reader);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Submit a job that holds the writer thread inside its run() until release() is called, so
 * that everything submitted meanwhile forms the next batch. */
static sem_t hold, entered;

static void block_writer(struct fixture *f, struct tjob *blocker)
{
    sem_init(&hold, 0, 0);
    sem_init(&entered, 0, 0);
    tjob_init(blocker, f, VN_WJOB_URGENT, "1", 0);
    blocker->hold = &hold;
    blocker->entered = &entered;
    assert_int_equal(vn_writer_submit(f->w, &blocker->job), 0);
    sem_wait(&entered);
}

static void release_and_drain(struct fixture *f)
{
    struct vn_writer_stats s;

    sem_post(&hold);
    vn_writer_stop(f->w); /* finishes every queued job */
    vn_writer_stats(f->w, &s);
    assert_int_equal(s.queued[VN_WJOB_URGENT] + s.queued[VN_WJOB_NORMAL] + s.queued[VN_WJOB_BULK],
                     0);
    sem_destroy(&hold);
    sem_destroy(&entered);
}

static long long total_of(struct fixture *f, const char *adam);

static void test_a_failing_job_fails_alone(void **state)
{
    struct fixture *f = *state;
    struct vn_writer_stats s;
    struct tjob blocker, a, b, c;

    block_writer(f, &blocker);
    tjob_init(&a, f, VN_WJOB_NORMAL, "10", 0);
    tjob_init(&b, f, VN_WJOB_NORMAL, "11", VN_EPARSE); /* writes, then fails */
    tjob_init(&c, f, VN_WJOB_NORMAL, "12", 0);
    assert_int_equal(vn_writer_submit(f->w, &a.job), 0);
    assert_int_equal(vn_writer_submit(f->w, &b.job), 0);
    assert_int_equal(vn_writer_submit(f->w, &c.job), 0);
    release_and_drain(f);

    /* One batch, one commit: a and c are on disk, b's own write was undone. */
    assert_int_equal(a.batch, 1);
    assert_int_equal(b.batch, 1);
    assert_int_equal(c.batch, 1);
    assert_int_equal(a.job.rc, 0);
    assert_int_equal(b.job.rc, VN_EPARSE);
    assert_string_equal(b.job.error, "job 11 refused");
    assert_int_equal(c.job.rc, 0);
    assert_int_equal(a.done_calls + b.done_calls + c.done_calls, 3);
    assert_int_equal(assets(f, "10"), 1);
    assert_int_equal(assets(f, "11"), 0);
    assert_int_equal(assets(f, "12"), 1);
    assert_int_equal(total_of(f, "10"), 1); /* once, whether the batch ran once or twice */
    assert_int_equal(total_of(f, "12"), 1);
    vn_writer_stats(f->w, &s);
    /* Optimistic: b's failure failed the whole first run, which left nothing; the batch ran
     * again with a savepoint per job. */
    assert_int_equal(s.reruns, 1);
    assert_int_equal(s.commits, 2); /* the blocker's batch, then this one */
    assert_int_equal(s.commit_failures, 0);
}

/* Jobs queued while the batch waits for the write lock (another writer holds it: on PostgreSQL
 * another instance's transaction; SQLite waits in BEGIN, PostgreSQL in a guarded batch's clock
 * tick) join that batch: one transaction, one commit. */
static void test_jobs_queued_during_begin_join_the_batch(void **state)
{
    struct fixture *f = *state;
    struct vn_error err = {0};
    struct vn_writer_stats s;
    struct vn_store *other = vn_store_open(f->db, NULL, &err);
    struct tjob a, b, c;

    int64_t clock;

    assert_non_null(other);
    /* Holds the write lock: SQLite takes it at BEGIN, PostgreSQL with the first statement
     * that needs it (the clock's tick). */
    assert_int_equal(vn_store_begin(other), 0);
    assert_int_equal(vn_store_clock_tick(other, &clock), 0);
    tjob_init(&a, f, VN_WJOB_URGENT, "95", 0);
    assert_int_equal(vn_writer_submit(f->w, &a.job), 0);
    for (int i = 0; i < 5000; i++) { /* a taken: the writer waits in BEGIN */
        vn_writer_stats(f->w, &s);
        if (s.queued[VN_WJOB_URGENT] == 0)
            break;
        usleep(1000);
    }
    assert_int_equal(s.queued[VN_WJOB_URGENT], 0);
    tjob_init(&b, f, VN_WJOB_URGENT, "96", 0);
    tjob_init(&c, f, VN_WJOB_URGENT, "97", 0);
    assert_int_equal(vn_writer_submit(f->w, &b.job), 0);
    assert_int_equal(vn_writer_submit(f->w, &c.job), 0);
    assert_int_equal(vn_store_rollback(other), 0); /* the lock goes */
    vn_writer_stop(f->w);
    vn_store_free(other);

    assert_int_equal(a.job.rc + b.job.rc + c.job.rc, 0);
    assert_int_equal(a.done_calls + b.done_calls + c.done_calls, 3);
    vn_writer_stats(f->w, &s);
    assert_int_equal(s.batches, 1);
    assert_int_equal(s.commits, 1);
    assert_int_equal(s.jobs, 3);
    assert_int_equal(total_of(f, "95") + total_of(f, "96") + total_of(f, "97"), 3);
}

static void test_a_store_failure_fails_the_batch(void **state)
{
    struct fixture *f = *state;
    struct vn_writer_stats s;
    struct tjob blocker, a, b, c;

    block_writer(f, &blocker);
    tjob_init(&a, f, VN_WJOB_URGENT, "20", 0);
    tjob_init(&b, f, VN_WJOB_URGENT, "21", VN_EUNAVAIL); /* as if the database went away */
    tjob_init(&c, f, VN_WJOB_URGENT, "22", 0);
    assert_int_equal(vn_writer_submit(f->w, &a.job), 0);
    assert_int_equal(vn_writer_submit(f->w, &b.job), 0);
    assert_int_equal(vn_writer_submit(f->w, &c.job), 0);
    release_and_drain(f);

    /* Nothing of the batch is on disk, and every job of it says so. */
    assert_int_equal(a.job.rc, VN_EUNAVAIL);
    assert_int_equal(b.job.rc, VN_EUNAVAIL);
    assert_int_equal(c.job.rc, VN_EUNAVAIL);
    assert_string_equal(a.job.error, "job 21 refused");
    assert_int_equal(assets(f, "20") + assets(f, "21") + assets(f, "22"), 0);
    assert_int_equal(assets(f, "1"), 1); /* the blocker's batch before it committed */
    vn_writer_stats(f->w, &s);
    assert_int_equal(s.commits, 1);
    assert_int_equal(s.commit_failures, 1);
    assert_int_equal(s.last_commit_ok, 0);
    assert_int_equal(s.store_failed, 0); /* not an I/O error: the writer goes on */
}

/* A total count of an asset, read back (each job run adds 1). */
static long long total_of(struct fixture *f, const char *adam)
{
    struct vn_filter flt = {.adam_id = adam};
    long long v = -1;

    assert_int_equal(assets(f, adam), 1);
    assert_int_equal(vn_store_query(f->reader, VN_Q_ASSETS, &flt, total_cb, &v), 0);
    return v;
}

static void test_a_retryable_failure_runs_the_batch_again(void **state)
{
    struct fixture *f = *state;
    struct vn_writer_stats s;
    struct tjob blocker, a, b;

    block_writer(f, &blocker);
    tjob_init(&a, f, VN_WJOB_URGENT, "90", 0);
    tjob_init(&b, f, VN_WJOB_URGENT, "91", 0);
    b.ret_once = VN_ERETRY; /* say, a serialization failure: the whole batch again */
    assert_int_equal(vn_writer_submit(f->w, &a.job), 0);
    assert_int_equal(vn_writer_submit(f->w, &b.job), 0);
    release_and_drain(f);

    assert_int_equal(a.job.rc, 0);
    assert_int_equal(b.job.rc, 0);
    assert_int_equal(a.done_calls + b.done_calls, 2);
    /* Each job's writes are there once: the first run was rolled back entirely. */
    assert_int_equal(total_of(f, "90"), 1);
    assert_int_equal(total_of(f, "91"), 1);
    vn_writer_stats(f->w, &s);
    /* Optimistic, the failure fails the first run and the guarded run is the second. */
    assert_int_equal(s.retries, 0);
    assert_int_equal(s.reruns, 1);
    assert_int_equal(s.commit_failures, 0);
}

static void test_bulk_is_bounded_and_urgent_goes_first(void **state)
{
    struct fixture *f = *state;
    struct tjob blocker, bulk[4], urgent[3], late;
    char adam[8];

    block_writer(f, &blocker);
    for (int i = 0; i < 4; i++) {
        snprintf(adam, sizeof(adam), "3%d", i);
        tjob_init(&bulk[i], f, VN_WJOB_BULK, adam, 0);
        bulk[i].job.cost = 600; /* two do not fit in bulk_rows = 1000 */
        assert_int_equal(vn_writer_submit(f->w, &bulk[i].job), 0);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(adam, sizeof(adam), "4%d", i);
        tjob_init(&urgent[i], f, VN_WJOB_URGENT, adam, 0);
        assert_int_equal(vn_writer_submit(f->w, &urgent[i].job), 0);
    }
    /* The first bulk job holds the writer in batch 1; an urgent job arriving then must not
     * wait behind the three bulk jobs still queued. */
    bulk[0].hold = &hold;
    bulk[0].entered = &entered;
    tjob_init(&late, f, VN_WJOB_URGENT, "50", 0);
    sem_post(&hold);    /* the blocker goes on: batch 1 starts */
    sem_wait(&entered); /* bulk[0] is running in it */
    assert_int_equal(vn_writer_submit(f->w, &late.job), 0);
    release_and_drain(f);

    /* Batch 1: the three urgent jobs first, then one bulk job (600 of 1000 rows). */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(urgent[i].batch, 1);
        assert_true(urgent[i].order < bulk[0].order);
    }
    assert_int_equal(bulk[0].batch, 1);
    /* Batch 2: the late urgent job, before the next bulk job; then one bulk job per batch. */
    assert_int_equal(late.batch, 2);
    assert_true(late.order < bulk[1].order);
    assert_int_equal(bulk[1].batch, 2);
    assert_int_equal(bulk[2].batch, 3);
    assert_int_equal(bulk[3].batch, 4);
    assert_int_equal(assets(f, NULL), 1 + 4 + 3 + 1);
}

/* An own-transaction job: it begins and commits by itself, outside the batch. */
static int own_run(struct vn_store *st, struct vn_wjob *j, struct vn_error *err)
{
    uint8_t d[VN_DIGEST_LEN];

    (void)j;
    vn_digest("own", 3, d);
    if (vn_store_location_add(st, UID, "own", d, vn_now_ms()) != 0)
        return vn_error_set(err, VN_ESTORE, "%s", vn_store_last_error(st));
    return 0;
}

static void test_own_transaction_jobs(void **state)
{
    struct fixture *f = *state;
    struct vn_wjob own = {.cls = VN_WJOB_NORMAL, .run = own_run};
    struct vn_wjob bad = {.cls = VN_WJOB_NORMAL, .run = own_run};
    struct tjob blocker, a;
    int n = 0;

    block_writer(f, &blocker);
    tjob_init(&a, f, VN_WJOB_NORMAL, "60", 0);
    own.flags = VN_WJOB_OWN_TXN;
    assert_int_equal(vn_writer_submit(f->w, &a.job), 0);
    assert_int_equal(vn_writer_submit(f->w, &own), 0);
    release_and_drain(f);
    assert_int_equal(a.job.rc, 0);
    assert_int_equal(own.rc, 0);
    assert_int_equal(assets(f, "60"), 1);
    assert_int_equal(vn_store_query(f->reader, VN_Q_LOCATIONS, NULL, count_cb, &n), 0);
    assert_int_equal(n, 1);

    /* The same job inside a batch cannot open its own transaction: it fails, visibly. */
    vn_writer_free(f->w);
    f->w = vn_writer_inline(f->st);
    assert_int_not_equal(vn_writer_run(f->w, &bad), 0);
    assert_true(strstr(bad.error, "transaction") != NULL);
}

struct runner {
    struct fixture *f;
    int id;
    int failures;
};

static void *run_many(void *arg)
{
    struct runner *r = arg;
    struct tjob t;
    char adam[16];

    for (int i = 0; i < 50; i++) {
        snprintf(adam, sizeof(adam), "7%d%03d", r->id, i);
        tjob_init(&t, r->f, i % 2 ? VN_WJOB_NORMAL : VN_WJOB_BULK, adam, 0);
        t.job.done = NULL;
        if (vn_writer_run(r->f->w, &t.job) != 0 || assets(r->f, NULL) < 0)
            r->failures++;
    }
    return NULL;
}

static void test_run_waits_until_committed(void **state)
{
    struct fixture *f = *state;
    struct runner r[4];
    pthread_t th[4];
    struct tjob t;

    /* What vn_writer_run returned 0 for is readable from another handle at once. */
    tjob_init(&t, f, VN_WJOB_NORMAL, "70", 0);
    assert_int_equal(vn_writer_run(f->w, &t.job), 0);
    assert_int_equal(t.done_calls, 1);
    assert_int_equal(assets(f, "70"), 1);
    vn_store_free(f->reader); /* one reader per thread below */
    f->reader = NULL;

    for (int i = 0; i < 4; i++) {
        struct fixture *copy = calloc(1, sizeof(*copy));
        memcpy(copy, f, sizeof(*copy));
        copy->reader = NULL;
        r[i] = (struct runner){copy, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, run_many, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].failures, 0);
        vn_store_free(r[i].f->reader);
        free(r[i].f);
    }
    assert_int_equal(assets(f, NULL), 1 + 4 * 50);

    /* After stop, nothing more is taken. */
    vn_writer_stop(f->w);
    tjob_init(&t, f, VN_WJOB_NORMAL, "71", 0);
    assert_int_equal(vn_writer_run(f->w, &t.job), VN_ESHUTDOWN);
    assert_int_equal(vn_writer_submit(f->w, &t.job), VN_ESHUTDOWN);
    assert_int_equal(assets(f, "71"), 0);
}

/* struct sched_attr of sched_getattr(2) (glibc has no wrapper). */
struct sattr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

static int read_sattr(struct sattr *a)
{
    memset(a, 0, sizeof(*a));
    return (int)syscall(SYS_sched_getattr, 0, a, sizeof(*a), 0);
}

static int writer_sattr(struct vn_store *st, void *ud)
{
    (void)st;
    return read_sattr(ud) == 0 ? 0 : VN_ENOTSUP;
}

/* Does this kernel keep a custom slice of a SCHED_OTHER thread (EEVDF, Linux >= 6.12)? Tried
 * on a thread of its own. *def: a new thread's slice. */
static void *probe_slice(void *arg)
{
    struct sattr *a = arg, b;

    read_sattr(&a[0]);
    b = a[0];
    b.size = sizeof(b);
    b.runtime = 200000;
    if (syscall(SYS_sched_setattr, 0, &b, 0) == 0)
        read_sattr(&a[1]);
    return NULL;
}

/* The writer thread asks for a short time slice (an earlier deadline when its fsync returns,
 * no more CPU share): 100 us where the kernel keeps custom slices, the default elsewhere; its
 * policy and nice value stay those it started with. */
static void test_writer_asks_for_a_short_slice(void **state)
{
    struct fixture *f = *state;
    struct sattr probe[2] = {{0}}, w;
    struct vn_error err = {0};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, probe_slice, probe), 0);
    pthread_join(t, NULL);
    assert_int_equal(vn_writer_call(f->w, writer_sattr, &w, &err), 0);
    assert_int_equal(w.policy, probe[0].policy);
    assert_int_equal(w.nice, probe[0].nice);
    if (probe[1].runtime == 200000)
        assert_int_equal(w.runtime, 100000);
    else
        assert_int_equal(w.runtime, probe[0].runtime);
}

static void test_inline_writer(void **state)
{
    struct fixture *f = *state;
    struct tjob a, b;

    vn_writer_free(f->w);
    f->w = vn_writer_inline(f->st);
    assert_non_null(f->w);
    tjob_init(&a, f, VN_WJOB_BULK, "80", 0);
    tjob_init(&b, f, VN_WJOB_NORMAL, "81", VN_ENOTFOUND);
    /* submit runs it before returning, done() included */
    assert_int_equal(vn_writer_submit(f->w, &a.job), 0);
    assert_int_equal(a.done_calls, 1);
    assert_int_equal(a.job.rc, 0);
    assert_int_equal(assets(f, "80"), 1);
    assert_int_equal(vn_writer_run(f->w, &b.job), VN_ENOTFOUND);
    assert_int_equal(assets(f, "81"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_failing_job_fails_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_queued_during_begin_join_the_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_store_failure_fails_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_retryable_failure_runs_the_batch_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bulk_is_bounded_and_urgent_goes_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_own_transaction_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_waits_until_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_asks_for_a_short_slice, setup, teardown),
    };

    vn_secret_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
