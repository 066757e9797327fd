/*
 * feed.c - GET /v1/changes: the change log (store.h) over HTTP, with long polls that hold no
 * thread (contract section 8).
 *
 * ?after=SEQ&limit=N&wait=SECONDS answers {"changes": [...], "lastSeq": N} at once when a
 * change newer than SEQ is committed; otherwise, with wait, the request is suspended on the
 * feed's wait list until one is, or until the wait ends (an empty answer), or the listener
 * stops. Wake-ups come from the store's change observer, which runs right after every commit
 * of this process that appended changes (the writer thread: no hop, no poll), and from a
 * thread that reads the log's head every poll interval while requests wait, for commits of
 * other processes (the CLI's sync, another serve on PostgreSQL later).
 *
 * No lost wake-up: a request checks the newest seq known (under the feed's lock) when it
 * registers, after its own read of the log; a commit after that read either updated the known
 * seq before the check, or finds the request on the list.
 *
 * Rounds: waiting requests are answered in rounds, at most one every ROUND_MS. A commit after
 * a quiet spell (no round in the last ROUND_MS) is answered at once; under a stream of commits
 * (a group commit every millisecond or so) a consumer gets one page of several commits per
 * round instead of one answer and one new request per commit, which is most of what a
 * following consumer costs the daemon (and the consumer). A long poll that finds changes
 * already there waits for the round too, unless a full page is there: so a consumer that
 * follows closely is answered at most once a round, and one that catches up is not slowed.
 * A change waits at most ROUND_MS more (issue 11's goal is a p99 of 50 ms to the feed).
 *
 * A consumer behind the retention (after < the log's pruned_through) gets 410 with lastSeq:
 * read the mirror again, then follow from that lastSeq.
 */
#include "api_impl.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/rows.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX     1000
#define WAIT_MAX_S    60
#define ROUND_MS      5

struct waiter {
    struct vn__api_feed *feed;
    struct vn_api_req *req;
    int64_t after;
    long long limit;
    int64_t deadline_ns;
    int listed; /* on feed->waiters (under feed->lock) */
    struct waiter *prev, *next;
};

struct vn__api_feed {
    struct vn_api *api;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct waiter *waiters;
    size_t nwaiting;
    int64_t known_seq; /* the newest committed seq this process knows of */
    int64_t poll_ms;
    int64_t round_ns; /* the last round (mono), or 0 */
    int round_due;    /* a round is owed at round_ns + ROUND_MS (the poll thread makes it) */
    int stop;
    int started;
    pthread_t thread;
    struct vn_store *st;    /* the poll thread's read handle */
    void (*also)(void *ud); /* told of each commit too (the webhooks) */
    void *also_ud;
};

/* ---- the wait list ---------------------------------------------------------------------- */

static void unlist_locked(struct vn__api_feed *fd, struct waiter *w)
{
    if (!w->listed)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        fd->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->listed = 0;
    fd->nwaiting--;
}

/* Resume every waiter whose wait is over, and with news, every one that has something newer.
 * Under fd->lock. */
static void wake_locked(struct vn__api_feed *fd, int64_t now_ns, int news)
{
    struct waiter *w = fd->waiters;

    while (w) {
        struct waiter *next = w->next;
        if ((news && fd->known_seq > w->after) || now_ns >= w->deadline_ns || fd->stop) {
            unlist_locked(fd, w);
            vn_api_resume(w->req);
        }
        w = next;
    }
}

/* A round now if the last one is ROUND_MS old, else one owed to the poll thread. Under lock. */
static void round_locked(struct vn__api_feed *fd, int64_t now_ns)
{
    if (now_ns - fd->round_ns >= ROUND_MS * 1000000LL) {
        fd->round_ns = now_ns;
        fd->round_due = 0;
        wake_locked(fd, now_ns, 1);
    } else if (!fd->round_due) {
        fd->round_due = 1;
        pthread_cond_signal(&fd->cond);
    }
}

/* The store's change observer: runs on the committing thread after each commit. */
static void on_commit(void *ud, int64_t last_seq)
{
    struct vn__api_feed *fd = ud;

    pthread_mutex_lock(&fd->lock);
    if (last_seq > fd->known_seq) {
        fd->known_seq = last_seq;
        if (fd->waiters)
            round_locked(fd, vn_mono_ns());
    }
    pthread_mutex_unlock(&fd->lock);
    if (fd->also)
        fd->also(fd->also_ud);
}

void vn__api_feed_also(struct vn__api_feed *fd, void (*fn)(void *ud), void *ud)
{
    fd->also_ud = ud;
    fd->also = fn;
}

/* Runs when the request ends, answered or not (api.h: the owner forgets it here). */
static void waiter_free(void *state)
{
    struct waiter *w = state;

    pthread_mutex_lock(&w->feed->lock);
    unlist_locked(w->feed, w);
    pthread_mutex_unlock(&w->feed->lock);
    free(w);
}

/* Deadlines, the rounds owed, and commits of other processes: the head of the log every poll
 * interval, while requests wait. */
static void *poll_thread(void *arg)
{
    struct vn__api_feed *fd = arg;
    int64_t polled_ns = vn_mono_ns();

    pthread_mutex_lock(&fd->lock);
    while (!fd->stop) {
        struct timespec until;
        int64_t now = vn_mono_ns(), wake_ns = now + 1000 * 1000000LL;

        if (fd->waiters && polled_ns + fd->poll_ms * 1000000 < wake_ns)
            wake_ns = polled_ns + fd->poll_ms * 1000000;
        for (struct waiter *w = fd->waiters; w; w = w->next)
            if (w->deadline_ns < wake_ns)
                wake_ns = w->deadline_ns;
        if (fd->round_due && fd->round_ns + ROUND_MS * 1000000LL < wake_ns)
            wake_ns = fd->round_ns + ROUND_MS * 1000000LL;
        if (wake_ns > now) {
            /* The condition variable uses CLOCK_MONOTONIC (set up in vn__api_feed_new). */
            until.tv_sec = (time_t)(wake_ns / 1000000000);
            until.tv_nsec = (long)(wake_ns % 1000000000);
            pthread_cond_timedwait(&fd->cond, &fd->lock, &until);
        }
        if (fd->stop)
            break;
        now = vn_mono_ns();
        if (fd->waiters && now - polled_ns >= fd->poll_ms * 1000000) {
            struct vn_changes_head h;
            int rc;

            polled_ns = now;
            pthread_mutex_unlock(&fd->lock);
            rc = vn_store_changes_head(fd->st, &h);
            pthread_mutex_lock(&fd->lock);
            if (rc == 0 && h.last_seq > fd->known_seq) {
                fd->known_seq = h.last_seq;
                round_locked(fd, vn_mono_ns());
            }
            now = vn_mono_ns();
        }
        if (fd->round_due && now - fd->round_ns >= ROUND_MS * 1000000LL) {
            fd->round_ns = now;
            fd->round_due = 0;
        }
        /* The deadlines; unless a round is still owed, what has something newer. */
        wake_locked(fd, now, !fd->round_due);
    }
    pthread_mutex_unlock(&fd->lock);
    return NULL;
}

struct vn__api_feed *vn__api_feed_new(struct vn_api *api, int64_t poll_ms, struct vn_error *err)
{
    struct vn__api_feed *fd = calloc(1, sizeof(*fd));
    struct vn_changes_head h;
    pthread_condattr_t ca;

    if (!fd) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    fd->api = api;
    fd->poll_ms = poll_ms > 0 ? poll_ms : 250;
    pthread_mutex_init(&fd->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fd->cond, &ca);
    pthread_condattr_destroy(&ca);
    fd->st = vn_api_store_acquire(api);
    if (!fd->st) {
        vn_error_set(err, VN_ESTORE, "the change feed cannot open the store");
        goto fail;
    }
    if (vn_store_changes_head(fd->st, &h) != 0) {
        vn_error_set(err, VN_ESTORE, "cannot read the change log: %s", vn_store_last_error(fd->st));
        goto fail;
    }
    fd->known_seq = h.last_seq;
    if (pthread_create(&fd->thread, NULL, poll_thread, fd) != 0) {
        vn_error_set(err, -EAGAIN, "cannot start the change feed's thread");
        goto fail;
    }
    fd->started = 1;
    vn_store_changes_observe(on_commit, fd);
    return fd;
fail:
    vn__api_feed_free(fd);
    return NULL;
}

void vn__api_feed_free(struct vn__api_feed *fd)
{
    if (!fd)
        return;
    vn_store_changes_observe(NULL, NULL);
    if (fd->started) {
        pthread_mutex_lock(&fd->lock);
        fd->stop = 1;
        pthread_cond_signal(&fd->cond);
        pthread_mutex_unlock(&fd->lock);
        pthread_join(fd->thread, NULL);
    }
    /* Requests still listed are woken by the listener's stop, which frees their waiters. */
    vn_api_store_release(fd->api, fd->st);
    pthread_cond_destroy(&fd->cond);
    pthread_mutex_destroy(&fd->lock);
    free(fd);
}

/* ---- the route -------------------------------------------------------------------------- */

struct page {
    json_t *changes;
    int64_t last;
    int rc;
};

static int add_change(void *ud, const struct vn_change *c)
{
    struct page *p = ud;
    json_t *key = json_loads(c->key, 0, NULL), *row = NULL, *obj;

    if (c->row) {
        row = json_loads(c->row, 0, NULL);
        if (json_is_object(row))
            vn_json_drop_nulls(row);
    }
    obj = json_pack("{sI ss ss ss so so}", "seq", (json_int_t)c->seq, "at", c->at, "kind", c->kind,
                    "op", c->op, "key", key ? key : json_object(), "row", row ? row : json_null());
    if (!obj || json_array_append_new(p->changes, obj) != 0) {
        p->rc = -ENOMEM;
        return 1;
    }
    p->last = c->seq;
    return 0;
}

/* Answer with the changes after w->after (possibly none). */
static int answer(struct vn_api_req *req, int64_t after, long long limit)
{
    struct vn_api *api = vn_api_req_api(req);
    struct page p = {json_array(), after, 0};
    struct vn_store *st = vn_api_store_acquire(api);
    int rc;

    if (!p.changes || !st) {
        json_decref(p.changes);
        vn_api_store_release(api, st);
        vn_api_req_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "the change log cannot be read now; retry later");
    }
    rc = vn_store_changes(st, after, limit, add_change, &p);
    if (rc < 0 || p.rc) {
        vn_log_warn("api: cannot read the change log: %s", vn_store_last_error(st));
        vn_api_store_release(api, st);
        json_decref(p.changes);
        if (p.rc)
            return p.rc;
        vn_api_req_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "the change log cannot be read now; retry later");
    }
    vn_api_store_release(api, st);
    return vn_api_respond_json(
        req, MHD_HTTP_OK,
        json_pack("{so sI}", "changes", p.changes, "lastSeq", (json_int_t)p.last));
}

static int on_resume(void *ud, struct vn_api_req *req)
{
    struct waiter *w = vn_api_req_state(req);

    return answer(req, w->after, w->limit);
}

static int parse_param(struct vn_api_req *req, const char *name, long long min, long long max,
                       long long def, long long *out)
{
    const char *v = vn_api_req_query(req, name);

    *out = def;
    if (!v)
        return 0;
    if (vn_parse_ll(v, min, max, out) != 0) {
        vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                             "%s '%s' must be an integer from %lld to %lld", name, v, min, max);
        return -1;
    }
    return 0;
}

static int get_changes(void *ud, struct vn_api_req *req)
{
    static const char *const params[] = {"after", "limit", "wait", NULL};
    struct vn__api_feed *fd = ud;
    struct vn_api *api = vn_api_req_api(req);
    long long after, limit, wait;
    struct vn_changes_head h;
    struct vn_store *st;
    struct waiter *w;
    const char *bad;
    int rc;

    if ((bad = vn_api_req_query_unknown(req, params)))
        return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                    "unknown query parameter '%s' (this route takes after, limit, "
                                    "wait)",
                                    bad);
    if (parse_param(req, "after", 0, INT64_MAX, 0, &after) != 0 ||
        parse_param(req, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &limit) != 0 ||
        parse_param(req, "wait", 0, WAIT_MAX_S, 0, &wait) != 0)
        return 0;
    st = vn_api_store_acquire(api);
    rc = st ? vn_store_changes_head(st, &h) : VN_ESTORE;
    vn_api_store_release(api, st);
    if (rc) {
        vn_api_req_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                    "the change log cannot be read now; retry later");
    }
    if (after < h.pruned_through || after > h.last_seq) {
        char msg[VN_ERROR_MSG_MAX];
        if (after < h.pruned_through)
            snprintf(msg, sizeof(msg),
                     "the changes after %lld are gone (changes are kept %lld days; the log "
                     "starts after %lld): read the mirror again, then follow from lastSeq",
                     after, (long long)(h.retention_ms / 86400000), (long long)h.pruned_through);
        else
            snprintf(msg, sizeof(msg),
                     "after %lld is beyond the newest change %lld (another database?): read "
                     "the mirror again, then follow from lastSeq",
                     after, (long long)h.last_seq);
        return vn_api_respond_json(req, MHD_HTTP_GONE,
                                   json_pack("{ss sI sI}", "error", msg, "lastSeq",
                                             (json_int_t)h.last_seq, "prunedThrough",
                                             (json_int_t)h.pruned_through));
    }
    if (wait == 0 || h.last_seq - after >= limit)
        return answer(req, after, limit);

    /* Nothing newer yet: wait on the list, without a thread. */
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->feed = fd;
    w->req = req;
    w->after = after;
    w->limit = limit;
    w->deadline_ns = vn_mono_ns() + wait * 1000000000LL;
    vn_api_suspend(req, on_resume, w, waiter_free, VN_API_WAKE_ON_STOP);
    pthread_mutex_lock(&fd->lock);
    if (h.last_seq > fd->known_seq)
        fd->known_seq = h.last_seq; /* another process's commit, read above */
    w->next = fd->waiters;
    if (fd->waiters)
        fd->waiters->prev = w;
    fd->waiters = w;
    w->listed = 1;
    fd->nwaiting++;
    if (fd->known_seq > after)
        round_locked(fd, vn_mono_ns()); /* there already: at once, or in this round */
    else
        pthread_cond_signal(&fd->cond); /* its deadline may be the nearest */
    pthread_mutex_unlock(&fd->lock);
    return 0;
}

int vn__api_mount_feed(struct vn_api *api, struct vn__api_feed *fd)
{
    return vn_api_mount(api, "GET", "/v1/changes", VN_API_READ, get_changes, fd);
}
