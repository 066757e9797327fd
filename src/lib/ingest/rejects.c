/* rejects.c - see rejects.h. */
#include "rejects.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/notification.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REMOTE_MAX   48
#define REASON_MAX   48
#define LOG_EVERY_MS 60000

/* One row being counted. */
struct agg {
    char remote[REMOTE_MAX];
    char reason[REASON_MAX];
    char claimed[VN_ID_MAX + 1];
    char token[VN_ID_MAX + 1];
    int status, has_claimed, has_token;
    int64_t first_ms, last_ms;
    long long count;
};

/* A window: its rows and an open-addressing index of them (slot = row index + 1, 0 free). */
struct window {
    struct agg *e;
    size_t n;
    uint32_t *slots;
    size_t nslots; /* a power of two, at least twice keys_max */
};

/* The writer job of one window. */
struct flush {
    struct vn_wjob job;
    struct vn_rejects *r;
    struct agg *e;
    size_t n;
    long long total; /* rejections the rows count */
    long long max_rows;
    int64_t before_ms;
};

struct vn_rejects {
    struct vn_writer *w;
    size_t keys_max;
    int64_t window_ms;
    _Atomic long long max_rows;
    _Atomic int64_t max_age_ms;

    pthread_mutex_t lock; /* guards win, the flags, inflight */
    pthread_cond_t wake;  /* the flusher; and vn_rejects_free waiting for inflight */
    struct window win;
    int stopping;
    unsigned inflight; /* jobs handed to the writer and not done */
    pthread_t thread;
    int started;

    atomic_ullong noted, written, dropped_window, dropped_writer;
    uint64_t logged_dropped; /* flusher thread only */
    int64_t logged_ms;
};

static uint64_t hash_of(const char *remote, int status, const char *reason, const char *claimed,
                        const char *token)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the fields and their ends */
    const char *parts[] = {remote, reason, claimed ? claimed : "", token ? token : ""};

    for (size_t p = 0; p < 4; p++) {
        for (const char *c = parts[p]; *c; c++) {
            h ^= (unsigned char)*c;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    h ^= (uint64_t)status;
    return h * 1099511628211ULL;
}

static int same(const struct agg *a, const char *remote, int status, const char *reason,
                const char *claimed, const char *token)
{
    return a->status == status && strcmp(a->remote, remote) == 0 &&
           strcmp(a->reason, reason) == 0 && a->has_claimed == !!claimed &&
           (!claimed || strcmp(a->claimed, claimed) == 0) && a->has_token == !!token &&
           (!token || strcmp(a->token, token) == 0);
}

static int window_init(struct window *w, size_t keys_max)
{
    memset(w, 0, sizeof(*w));
    w->nslots = 16;
    while (w->nslots < 2 * keys_max)
        w->nslots *= 2;
    w->e = calloc(keys_max, sizeof(*w->e));
    w->slots = calloc(w->nslots, sizeof(*w->slots));
    if (!w->e || !w->slots) {
        free(w->e);
        free(w->slots);
        return -ENOMEM;
    }
    return 0;
}

void vn_rejects_note(struct vn_rejects *r, const char *remote, int status, const char *reason,
                     const char *claimed_uid, const char *token_uid)
{
    char rem[REMOTE_MAX], why[REASON_MAX], cl[VN_ID_MAX + 1], tk[VN_ID_MAX + 1];
    const char *claimed = NULL, *token = NULL;
    struct window *w = &r->win;
    int64_t now = vn_now_ms();
    size_t i;

    /* Compare the stored (truncated) forms. */
    vn_strlcpy(rem, remote ? remote : "?", sizeof(rem));
    vn_strlcpy(why, reason ? reason : "", sizeof(why));
    if (claimed_uid) {
        vn_strlcpy(cl, claimed_uid, sizeof(cl));
        claimed = cl;
    }
    if (token_uid) {
        vn_strlcpy(tk, token_uid, sizeof(tk));
        token = tk;
    }
    atomic_fetch_add_explicit(&r->noted, 1, memory_order_relaxed);
    pthread_mutex_lock(&r->lock);
    i = (size_t)hash_of(rem, status, why, claimed, token) & (w->nslots - 1);
    while (w->slots[i] && !same(&w->e[w->slots[i] - 1], rem, status, why, claimed, token))
        i = (i + 1) & (w->nslots - 1);
    if (w->slots[i]) {
        struct agg *a = &w->e[w->slots[i] - 1];
        a->count++;
        a->last_ms = now;
    } else if (w->n < r->keys_max) {
        struct agg *a = &w->e[w->n];
        memset(a, 0, sizeof(*a));
        memcpy(a->remote, rem, sizeof(rem));
        memcpy(a->reason, why, sizeof(why));
        if (claimed) {
            memcpy(a->claimed, cl, sizeof(cl));
            a->has_claimed = 1;
        }
        if (token) {
            memcpy(a->token, tk, sizeof(tk));
            a->has_token = 1;
        }
        a->status = status;
        a->first_ms = a->last_ms = now;
        a->count = 1;
        w->slots[i] = (uint32_t)++w->n;
    } else {
        atomic_fetch_add_explicit(&r->dropped_window, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- writing ----------------------------------------------------------------------------- */

static int flush_run(struct vn_store *st, struct vn_wjob *job, struct vn_error *err)
{
    struct flush *f = (struct flush *)job;
    struct vn_rejection *rows = calloc(f->n, sizeof(*rows));
    int rc;

    if (!rows)
        return vn_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < f->n; i++) {
        const struct agg *a = &f->e[i];
        rows[i] = (struct vn_rejection){
            .first_ms = a->first_ms,
            .last_ms = a->last_ms,
            .remote = a->remote,
            .status = a->status,
            .reason = a->reason,
            .claimed_uid = a->has_claimed ? a->claimed : NULL,
            .token_uid = a->has_token ? a->token : NULL,
            .count = a->count,
        };
    }
    rc = vn_store_rejections_add(st, rows, f->n, f->max_rows, f->before_ms);
    if (rc)
        vn_error_set(err, rc, "cannot record rejected requests: %s", vn_store_last_error(st));
    free(rows);
    return rc;
}

static void flush_done(struct vn_wjob *job)
{
    struct flush *f = (struct flush *)job;
    struct vn_rejects *r = f->r;

    if (job->rc == 0)
        atomic_fetch_add(&r->written, (unsigned long long)f->total);
    else
        atomic_fetch_add(&r->dropped_writer, (unsigned long long)f->total);
    free(f->e);
    free(f);
    pthread_mutex_lock(&r->lock);
    r->inflight--;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

/* Take the window and hand it to the writer. Called without the lock. */
static void flush_now(struct vn_rejects *r)
{
    struct flush *f = calloc(1, sizeof(*f));
    struct window next;
    int64_t age = atomic_load(&r->max_age_ms);
    int rc;

    if (!f)
        return;
    if (window_init(&next, r->keys_max) != 0) {
        free(f);
        return;
    }
    pthread_mutex_lock(&r->lock);
    if (r->win.n == 0) {
        pthread_mutex_unlock(&r->lock);
        free(next.e);
        free(next.slots);
        free(f);
        return;
    }
    f->e = r->win.e;
    f->n = r->win.n;
    free(r->win.slots);
    r->win = next;
    r->inflight++;
    pthread_mutex_unlock(&r->lock);

    for (size_t i = 0; i < f->n; i++)
        f->total += f->e[i].count;
    f->r = r;
    f->max_rows = atomic_load(&r->max_rows);
    f->before_ms = age > 0 ? vn_now_ms() - age : 0;
    f->job.cls = VN_WJOB_NORMAL;
    f->job.run = flush_run;
    f->job.done = flush_done;
    rc = vn_writer_submit(r->w, &f->job);
    if (rc) {
        f->job.rc = rc;
        flush_done(&f->job); /* counted as dropped, freed */
    }
}

/* A warn line when rejections could not be recorded, at most every minute. */
static void log_drops(struct vn_rejects *r)
{
    uint64_t dropped = atomic_load(&r->dropped_window) + atomic_load(&r->dropped_writer);
    int64_t now = vn_now_ms();

    if (dropped == r->logged_dropped || now - r->logged_ms < LOG_EVERY_MS)
        return;
    vn_log_warn("rejected requests not recorded: %llu since start (more than %zu distinct a "
                "second: %llu; the writer refused or failed them: %llu)",
                (unsigned long long)dropped, r->keys_max,
                (unsigned long long)atomic_load(&r->dropped_window),
                (unsigned long long)atomic_load(&r->dropped_writer));
    r->logged_dropped = dropped;
    r->logged_ms = now;
}

static void *flusher(void *arg)
{
    struct vn_rejects *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        int64_t until = vn_mono_ns() + r->window_ms * 1000000;

        /* wake is broadcast by every finished job too: wait out the whole window. */
        while (!r->stopping && vn_cond_wait_until(&r->wake, &r->lock, until) != -ETIMEDOUT)
            ;
        if (r->stopping)
            break;
        pthread_mutex_unlock(&r->lock);
        flush_now(r);
        log_drops(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- the interface ----------------------------------------------------------------------- */

struct vn_rejects *vn_rejects_new(struct vn_writer *w, const struct vn_rejects_options *o,
                                  struct vn_error *err)
{
    struct vn_rejects *r = calloc(1, sizeof(*r));
    pthread_condattr_t ca;
    int rc;

    if (!r) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    r->w = w;
    r->keys_max = o && o->keys_max ? o->keys_max : 1024;
    r->window_ms = o && o->window_ms > 0 ? o->window_ms : 1000;
    atomic_store(&r->max_rows, o ? o->max_rows : 0);
    atomic_store(&r->max_age_ms, o ? o->max_age_ms : 0);
    r->logged_ms = vn_now_ms() - LOG_EVERY_MS;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (window_init(&r->win, r->keys_max) != 0) {
        vn_error_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    rc = pthread_create(&r->thread, NULL, flusher, r);
    if (rc != 0) {
        vn_error_set(err, -rc, "cannot start the rejections flusher: %s", strerror(rc));
        goto fail;
    }
    r->started = 1;
    return r;
fail:
    vn_rejects_free(r);
    return NULL;
}

void vn_rejects_flush(struct vn_rejects *r)
{
    if (r)
        flush_now(r);
}

void vn_rejects_set_retention(struct vn_rejects *r, long long max_rows, int64_t max_age_ms)
{
    atomic_store(&r->max_rows, max_rows);
    atomic_store(&r->max_age_ms, max_age_ms);
}

void vn_rejects_stats(struct vn_rejects *r, struct vn_rejects_stats *out)
{
    out->noted = atomic_load(&r->noted);
    out->written = atomic_load(&r->written);
    out->dropped_window = atomic_load(&r->dropped_window);
    out->dropped_writer = atomic_load(&r->dropped_writer);
}

void vn_rejects_free(struct vn_rejects *r)
{
    long long pending = 0;

    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    if (r->started)
        pthread_join(r->thread, NULL);
    /* Jobs handed to the writer point here: wait for their done() (the writer finishes every
     * queued job before it stops). */
    pthread_mutex_lock(&r->lock);
    while (r->inflight)
        pthread_cond_wait(&r->wake, &r->lock);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < r->win.n; i++)
        pending += r->win.e[i].count;
    if (pending || atomic_load(&r->noted))
        vn_log_info("rejected requests: %llu seen, %llu recorded, %llu not (%lld still counted "
                    "at the stop)",
                    (unsigned long long)atomic_load(&r->noted),
                    (unsigned long long)atomic_load(&r->written),
                    (unsigned long long)(atomic_load(&r->dropped_window) +
                                         atomic_load(&r->dropped_writer)) +
                        (unsigned long long)pending,
                    pending);
    free(r->win.e);
    free(r->win.slots);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
