/*
 * engine.c - see engine.h.
 */
#include "engine.h"

#include "ctx.h"
#include "delivery.h"
#include "events.h"
#include "outbox.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_WAKE_MS  1000 /* look at the clock at least this often */
#define ERROR_WAIT_MS 1000 /* after a failed step: do not spin on a failing state */
#define BATCH         64   /* requests run between two housekeeping passes */

/* A post handed to the delivery workers: a claimed notification or a TEST_NOTIFICATION. */
struct job {
    struct sim_post post; /* first member: the pool hands back a struct sim_post * */
    int test;
    uint64_t req_id;          /* test: the waiting request */
    struct sim_claim claim;   /* notification */
    char *url, *token, *body; /* test: owned copies */
};

struct sim_engine {
    struct sim_ctx *c;
    struct sim_delivery *d;
    size_t queue_max;
    pthread_t thread;
    int started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Under mu. */
    struct sim_req *qhead, *qtail;
    size_t qlen;
    struct sim_post *results;
    int stopping;

    /* Engine thread only. */
    int paused;
    int workers, outstanding, tests;
    int delivery_down;
    struct sim_req *waiting;
    uint64_t next_wait;
    int64_t wake_ms;
};

int sim_engine_new(struct sim_ctx *c, size_t queue_max, struct sim_engine **out)
{
    struct sim_engine *e = calloc(1, sizeof(*e));

    *out = NULL;
    if (!e)
        return VN_ESTORE;
    e->c = c;
    e->queue_max = queue_max;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    *out = e;
    return 0;
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    sim_claim_release(&j->claim);
    free(j->url);
    free(j->token);
    free(j->body);
    free(j);
}

void sim_engine_post_done(struct sim_post *p, void *ud)
{
    struct sim_engine *e = ud;

    pthread_mutex_lock(&e->mu);
    p->next = e->results;
    e->results = p;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

int sim_engine_submit(struct sim_engine *e, struct sim_req *r)
{
    int rc = 0;

    pthread_mutex_lock(&e->mu);
    if (e->stopping)
        rc = VN_ESHUTDOWN;
    else if (e->qlen >= e->queue_max)
        rc = VN_EFULL;
    else {
        r->next = NULL;
        r->waiting = 0;
        if (e->qtail)
            e->qtail->next = r;
        else
            e->qhead = r;
        e->qtail = r;
        e->qlen++;
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- waiting requests -------------------------------------------------------------------- */

static void wait_add(struct sim_engine *e, struct sim_req *r)
{
    r->waiting = 1;
    r->next = e->waiting;
    e->waiting = r;
}

static void wait_remove(struct sim_engine *e, struct sim_req *r)
{
    for (struct sim_req **p = &e->waiting; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    r->next = NULL;
    r->waiting = 0;
}

/* Hand a finished request back to the server; the engine never touches it again. */
static void answer(struct sim_req *r)
{
    r->waiting = 0;
    r->done(r);
}

static void answer_stopping(struct sim_req *r)
{
    if (r->apple) {
        sim_error(r, VN_APPLE_SERVICE_UNAVAILABLE);
        r->retry_after = 1;
    } else {
        sim_fail(r, 503, "vppsim is stopping");
    }
    answer(r);
}

void sim_engine_wait_settled(struct sim_engine *e, struct sim_req *r, int64_t deadline_ms,
                             sim_settled_fn fn)
{
    r->wait_id = 0;
    r->wait_deadline_ms = deadline_ms;
    r->on_settled = fn;
    r->on_tested = NULL;
    wait_add(e, r);
}

int sim_engine_wait_tested(struct sim_engine *e, struct sim_req *r, const char *url,
                           const char *token, const char *body, sim_tested_fn fn)
{
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return VN_ESTORE;
    j->test = 1;
    j->req_id = ++e->next_wait;
    j->url = strdup(url);
    j->token = strdup(token);
    j->body = strdup(body);
    if (!j->url || !j->token || !j->body) {
        job_free(j);
        return VN_ESTORE;
    }
    j->post.url = j->url;
    j->post.token = j->token;
    j->post.body = j->body;
    j->post.urgent = 1;
    if (e->delivery_down || (rc = sim_delivery_push(e->d, &j->post)) != 0) {
        job_free(j);
        return VN_ESHUTDOWN;
    }
    e->tests++;
    r->wait_id = j->req_id;
    r->wait_deadline_ms = 0;
    r->on_tested = fn;
    r->on_settled = NULL;
    wait_add(e, r);
    return 0;
}

void sim_engine_waiting(const struct sim_engine *e, int *settles, int *tests)
{
    *settles = *tests = 0;
    for (const struct sim_req *r = e->waiting; r; r = r->next) {
        *settles += r->on_settled != NULL;
        *tests += r->on_tested != NULL;
    }
}

void sim_engine_set_paused(struct sim_engine *e, int paused)
{
    e->paused = paused != 0;
}

int sim_engine_paused(const struct sim_engine *e)
{
    return e->paused;
}

/* ---- what came back from the delivery workers ------------------------------------------- */

static void test_done(struct sim_engine *e, struct job *j)
{
    struct sim_req *r = e->waiting;
    struct sim_attempt a = {j->post.ok, j->post.status, j->post.why, j->post.time_ms,
                            j->post.duration_ms};

    e->tests--;
    while (r && r->wait_id != j->req_id)
        r = r->next;
    if (!r)
        return; /* already answered (stopping) */
    wait_remove(e, r);
    if (j->post.aborted) {
        answer_stopping(r);
        return;
    }
    r->on_tested(r, &a);
    answer(r);
}

static void claim_done(struct sim_engine *e, struct job *j)
{
    struct sim_attempt a = {j->post.ok, j->post.status, j->post.why, j->post.time_ms,
                            j->post.duration_ms};

    e->outstanding--;
    /* An attempt that vppsim's own stop cut short is not an attempt: the notification stays
     * in flight in the state and is due again at the next start. */
    if (j->post.aborted)
        return;
    if (sim_outbox_finish(e->c, &j->claim, &a) != 0)
        vn_log_error("delivery of %s: its attempt could not be recorded; it stays in flight"
                     " until vppsim restarts",
                     j->claim.nid);
}

static void handle_results(struct sim_engine *e, struct sim_post *list)
{
    while (list) {
        struct job *j = (struct job *)list;
        list = list->next;
        if (j->test)
            test_done(e, j);
        else
            claim_done(e, j);
        job_free(j);
    }
}

/* ---- housekeeping between jobs ----------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Hand due notifications to free workers. 0 or the first error. */
static int dispatch(struct sim_engine *e, int64_t now, int64_t *wake)
{
    int64_t due;
    int rc = 0;

    while (!e->delivery_down && e->outstanding < e->workers) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
            return VN_ESTORE;
        rc = sim_outbox_claim(e->c, now, &j->claim);
        if (rc != 1) {
            job_free(j);
            break;
        }
        rc = 0;
        j->post.url = j->claim.url;
        j->post.token = j->claim.token;
        j->post.body = j->claim.body;
        if (sim_delivery_push(e->d, &j->post) != 0) {
            e->delivery_down = 1; /* stopping: what was claimed is due again at next start */
            job_free(j);
            break;
        }
        e->outstanding++;
    }
    if (rc == 0 && !e->delivery_down && e->outstanding < e->workers) {
        rc = sim_outbox_next_due(e->c, &due);
        if (rc == 0)
            *wake = min64(*wake, due);
        else if (rc == VN_ENOTFOUND)
            rc = 0;
    }
    return rc;
}

/* Answer the settle waiters that are done or out of time. */
static int settle_check(struct sim_engine *e, int64_t now, int64_t *wake)
{
    int64_t events = 0, busy = 0;
    struct sim_req *r, *next;
    int any = 0, rc;

    for (r = e->waiting; r; r = r->next)
        any |= r->on_settled != NULL;
    if (!any)
        return 0;
    rc = sim_events_pending(e->c, &events);
    if (rc == 0)
        rc = sim_outbox_pending(e->c, &busy);
    busy += e->tests;
    for (r = e->waiting; r; r = next) {
        next = r->next;
        if (!r->on_settled)
            continue;
        if (rc) { /* the state cannot say: a 500 now, not a wait that never ends */
            wait_remove(e, r);
            sim_fail_state(r, rc);
            answer(r);
        } else if (!events && !busy) {
            wait_remove(e, r);
            r->on_settled(r, 1, 0, 0);
            answer(r);
        } else if (now >= r->wait_deadline_ms) {
            wait_remove(e, r);
            r->on_settled(r, 0, events, busy);
            answer(r);
        } else {
            *wake = min64(*wake, r->wait_deadline_ms);
        }
    }
    return rc;
}

static void housekeeping(struct sim_engine *e)
{
    int64_t now = vn_now_ms(), wake = now + IDLE_WAKE_MS, due;
    int rc = 0, did = 0, failed = 0;

    if (!e->paused) {
        rc = sim_events_step(e->c, now, &did);
        failed |= rc != 0;
        if (did)
            wake = now; /* more may be due: come back at once (after any request) */
        else if ((rc = sim_events_next_due(e->c, &due)) == 0)
            wake = min64(wake, due);
        else
            failed |= rc != VN_ENOTFOUND;
    }
    failed |= dispatch(e, now, &wake) != 0;
    failed |= settle_check(e, vn_now_ms(), &wake) != 0;
    if (failed && wake < now + ERROR_WAIT_MS)
        wake = now + ERROR_WAIT_MS;
    e->wake_ms = wake;
}

/* ---- the thread -------------------------------------------------------------------------- */

static void run_request(struct sim_engine *e, struct sim_req *r)
{
    r->ctx = e->c;
    r->run(r);
    if (!r->waiting)
        answer(r);
}

/* Stopping: record what came back, answer everything still queued or waiting. */
static void drain(struct sim_engine *e)
{
    struct sim_post *results;
    struct sim_req *q;

    pthread_mutex_lock(&e->mu);
    results = e->results;
    e->results = NULL;
    q = e->qhead;
    e->qhead = e->qtail = NULL;
    e->qlen = 0;
    pthread_mutex_unlock(&e->mu);
    handle_results(e, results);
    while (q) {
        struct sim_req *r = q;
        q = q->next;
        r->ctx = e->c;
        answer_stopping(r);
    }
    while (e->waiting) {
        struct sim_req *r = e->waiting;
        wait_remove(e, r);
        answer_stopping(r);
    }
}

static void *engine_main(void *arg)
{
    struct sim_engine *e = arg;

    for (;;) {
        struct sim_post *results;
        struct sim_req *r, *last = NULL;
        pthread_mutex_lock(&e->mu);
        while (!e->stopping && !e->qhead && !e->results) {
            int64_t now = vn_now_ms();
            struct timespec ts;
            if (now >= e->wake_ms)
                break;
            ts.tv_sec = e->wake_ms / 1000;
            ts.tv_nsec = (long)(e->wake_ms % 1000) * 1000000L;
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        if (e->stopping) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        /* Everything queued now (at most BATCH requests), then the housekeeping once: under
         * load its queries are shared by many requests. */
        results = e->results;
        e->results = NULL;
        r = e->qhead;
        for (size_t n = 0; e->qhead && n < BATCH; n++) {
            last = e->qhead;
            e->qhead = last->next;
            e->qlen--;
        }
        if (r)
            last->next = NULL;
        if (!e->qhead)
            e->qtail = NULL;
        pthread_mutex_unlock(&e->mu);
        handle_results(e, results);
        while (r) {
            struct sim_req *next = r->next;
            r->next = NULL;
            run_request(e, r);
            r = next;
        }
        housekeeping(e);
    }
    drain(e);
    return NULL;
}

int sim_engine_start(struct sim_engine *e, struct sim_delivery *d)
{
    e->d = d;
    e->workers = sim_delivery_workers(d);
    e->wake_ms = 0;
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0)
        return VN_ESTORE;
    e->started = 1;
    return 0;
}

void sim_engine_stop(struct sim_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (e->started)
        pthread_join(e->thread, NULL);
    else
        drain(e); /* never started: answer what the server queued meanwhile */
    e->started = 0;
}

void sim_engine_free(struct sim_engine *e)
{
    struct sim_post *p;

    if (!e)
        return;
    p = e->results;
    while (p) {
        struct sim_post *next = p->next;
        job_free((struct job *)p);
        p = next;
    }
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}
