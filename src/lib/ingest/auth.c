/* auth.c - see include/vppnotify/auth.h. */
#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_EVERY_MS 10000 /* a failing reload is logged at most this often */

int vn__auth_fail_next_alloc;

struct entry {
    char uid[VN_ID_MAX + 1];
    uint8_t digest[VN_DIGEST_LEN];
    int64_t expires_ms; /* 0: current token */
};

/* An immutable snapshot of every valid digest. */
struct snapshot {
    struct entry *e;
    size_t n;
    int64_t version;               /* vn_store_tokens_version when loaded */
    struct snapshot *next_retired; /* on the retired list, waiting for readers to leave */
};

struct vn_auth {
    struct vn_store *st; /* the checker thread's (and vn_auth_new's) only */
    int64_t refresh_ms;

    _Atomic(struct snapshot *) cur; /* what lookups read, without a lock */
    atomic_long readers;            /* lookups in progress */
    struct snapshot *retired;       /* checker thread only */

    pthread_mutex_t lock; /* guards the queue and the flags below */
    pthread_cond_t wake;  /* the checker: work or stop */
    pthread_cond_t idle;  /* vn_auth_close_waits: the queue drained */
    struct vn_auth_wait *head, *tail;
    size_t queued;
    int in_pass; /* the checker is between taking a batch and calling it back */
    int closed;  /* no new confirmations */
    int stopping;
    int force; /* vn_auth_invalidate */
    pthread_t thread;
    int started;

    int64_t failed_log_ms; /* checker thread only */
    unsigned failed_unlogged;

    atomic_ullong lookups, misses, confirms, checks, reloads, reload_failures;
};

int vn_auth_parse_bearer(const char *header, const char **token, size_t *len)
{
    const char *t;
    size_t n;

    if (!header || vn_strncasecmp_ascii(header, "bearer ", 7) != 0)
        return VN_EAUTH;
    t = header + 7;
    n = strlen(t);
    if (n == 0 || n > VN_TOKEN_MAX)
        return VN_EAUTH;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return VN_EAUTH;
    *token = t;
    *len = n;
    return 0;
}

static void snapshot_free(struct snapshot *s)
{
    if (!s)
        return;
    vn_wipe(s->e, s->n * sizeof(*s->e));
    free(s->e);
    free(s);
}

struct loader {
    struct entry *e;
    size_t n, cap;
    int rc;
};

static int load_row(void *ud, const struct vn_token_row *row)
{
    struct loader *l = ud;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct entry *e = realloc(l->e, cap * sizeof(*e));
        if (!e) {
            l->rc = -ENOMEM;
            return 1;
        }
        l->e = e;
        l->cap = cap;
    }
    vn_strlcpy(l->e[l->n].uid, row->uid, sizeof(l->e[l->n].uid));
    memcpy(l->e[l->n].digest, row->digest, VN_DIGEST_LEN);
    l->e[l->n].expires_ms = row->expires_ms;
    l->n++;
    return 0;
}

/*
 * A new snapshot of every token, at version (read first: a change between the two reads only
 * causes one more reload). 0 with *out, or a code with err always filled (it is logged).
 */
static int snapshot_load(struct vn_auth *a, int64_t version, struct snapshot **out,
                         struct vn_error *err)
{
    struct loader l = {0};
    struct snapshot *s = NULL;
    int rc;

    if (vn__auth_fail_next_alloc) {
        vn__auth_fail_next_alloc = 0;
    } else {
        s = calloc(1, sizeof(*s));
    }
    if (!s) {
        rc = vn_error_set(err, -ENOMEM, "cannot load notification tokens: out of memory");
        goto out;
    }
    rc = vn_store_tokens(a->st, vn_now_ms(), load_row, &l);
    if (rc == 0)
        rc = l.rc;
    if (rc) {
        vn_error_set(err, rc, "cannot load notification tokens: %s",
                     rc == -ENOMEM ? "out of memory" : vn_store_last_error(a->st));
        goto out;
    }
    s->e = l.e;
    s->n = l.n;
    s->version = version;
    l.e = NULL;
    *out = s;
    s = NULL;
out:
    free(l.e);
    free(s);
    return rc;
}

/* ---- the checker thread ------------------------------------------------------------------ */

static void log_failure(struct vn_auth *a, const struct vn_error *err)
{
    int64_t now = vn_now_ms();

    atomic_fetch_add(&a->reload_failures, 1);
    if (now - a->failed_log_ms < LOG_EVERY_MS) {
        a->failed_unlogged++;
        return;
    }
    vn_log_warn("%s; using the previous token snapshot (%u more failures not logged)", err->msg,
                a->failed_unlogged);
    a->failed_log_ms = now;
    a->failed_unlogged = 0;
}

/* Compare the store's token version; reload and publish a new snapshot when it moved. */
static void check_version(struct vn_auth *a)
{
    struct snapshot *cur = atomic_load(&a->cur), *s = NULL;
    struct vn_error err = {0};
    int64_t v = 0;
    int rc;

    atomic_fetch_add(&a->checks, 1);
    rc = vn_store_tokens_version(a->st, &v);
    if (rc) {
        vn_error_set(&err, rc, "cannot read the notification token version: %s",
                     vn_store_last_error(a->st));
        log_failure(a, &err);
        return;
    }
    if (cur && v == cur->version)
        return;
    if (snapshot_load(a, v, &s, &err) != 0) {
        log_failure(a, &err);
        return;
    }
    atomic_fetch_add(&a->reloads, 1);
    cur = atomic_exchange(&a->cur, s);
    if (cur) {
        cur->next_retired = a->retired;
        a->retired = cur;
    }
}

/* Free retired snapshots once no lookup is in progress: one that started after the swap can
 * only have read the new pointer (the swap and this load are sequentially consistent). */
static void free_retired(struct vn_auth *a)
{
    if (!a->retired || atomic_load(&a->readers) != 0)
        return;
    while (a->retired) {
        struct snapshot *s = a->retired;
        a->retired = s->next_retired;
        snapshot_free(s);
    }
}

static void *checker(void *arg)
{
    struct vn_auth *a = arg;
    int64_t last_ns = vn_mono_ns();

    pthread_mutex_lock(&a->lock);
    for (;;) {
        int64_t now = vn_mono_ns();
        int64_t refresh_at = last_ns + a->refresh_ms * 1000000;
        int64_t gap_at = last_ns + (int64_t)VN_AUTH_CHECK_GAP_MS * 1000000;
        struct vn_auth_wait *batch;

        if (a->stopping && !a->head)
            break;
        if (!a->head && !a->force && now < refresh_at) {
            vn_cond_wait_until(&a->wake, &a->lock, refresh_at);
            continue;
        }
        if (a->head && !a->force && !a->stopping && now < gap_at) {
            vn_cond_wait_until(&a->wake, &a->lock, gap_at);
            continue;
        }
        /* Every confirmation in this batch was queued before the check below starts. */
        batch = a->head;
        a->head = a->tail = NULL;
        a->queued = 0;
        a->force = 0;
        a->in_pass = 1;
        pthread_mutex_unlock(&a->lock);

        last_ns = vn_mono_ns();
        check_version(a);
        free_retired(a);
        while (batch) {
            struct vn_auth_wait *w = batch;
            batch = w->next;
            w->done(w);
        }

        pthread_mutex_lock(&a->lock);
        a->in_pass = 0;
        pthread_cond_broadcast(&a->idle);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* ---- the interface ----------------------------------------------------------------------- */

struct vn_auth *vn_auth_new(struct vn_store *st, int64_t refresh_ms, struct vn_error *err)
{
    struct vn_auth *a = calloc(1, sizeof(*a));
    struct snapshot *s = NULL;
    pthread_condattr_t ca;
    int64_t v = 0;
    int rc;

    if (!a) {
        vn_store_free(st);
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    a->st = st;
    a->refresh_ms = refresh_ms;
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &ca);
    pthread_cond_init(&a->idle, &ca);
    pthread_condattr_destroy(&ca);
    rc = vn_store_tokens_version(st, &v);
    if (rc) {
        vn_error_set(err, rc, "cannot read the notification token version: %s",
                     vn_store_last_error(st));
        goto fail;
    }
    if (snapshot_load(a, v, &s, err) != 0)
        goto fail;
    atomic_store(&a->cur, s);
    rc = pthread_create(&a->thread, NULL, checker, a);
    if (rc != 0) {
        vn_error_set(err, -rc, "cannot start the token checker: %s", strerror(rc));
        goto fail;
    }
    a->started = 1;
    return a;
fail:
    vn_auth_free(a);
    return NULL;
}

void vn_auth_free(struct vn_auth *a)
{
    if (!a)
        return;
    if (a->started) {
        pthread_mutex_lock(&a->lock);
        a->stopping = 1;
        a->closed = 1;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->thread, NULL);
    }
    snapshot_free(atomic_load(&a->cur));
    while (a->retired) {
        struct snapshot *s = a->retired;
        a->retired = s->next_retired;
        snapshot_free(s);
    }
    vn_store_free(a->st);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->idle);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* Compare with every entry; no early exit, so timing does not reveal which one matched. */
static int find(const struct snapshot *s, const uint8_t digest[VN_DIGEST_LEN], int64_t now,
                char uid[VN_ID_MAX + 1])
{
    size_t found = (size_t)-1;

    for (size_t i = 0; s && i < s->n; i++) {
        int eq = vn_ct_equal(s->e[i].digest, digest, VN_DIGEST_LEN);
        int live = s->e[i].expires_ms == 0 || s->e[i].expires_ms > now;
        if (eq && live)
            found = i;
    }
    if (found == (size_t)-1)
        return VN_ENOTFOUND;
    vn_strlcpy(uid, s->e[found].uid, VN_ID_MAX + 1);
    return 0;
}

int vn_auth_lookup(struct vn_auth *a, const char *header, char uid[VN_ID_MAX + 1])
{
    uint8_t digest[VN_DIGEST_LEN];
    const char *tok;
    size_t len;
    int rc;

    atomic_fetch_add_explicit(&a->lookups, 1, memory_order_relaxed);
    if (vn_auth_parse_bearer(header, &tok, &len) != 0)
        return VN_EAUTH;
    vn_digest(tok, len, digest);
    atomic_fetch_add(&a->readers, 1);
    rc = find(atomic_load(&a->cur), digest, vn_now_ms(), uid);
    atomic_fetch_sub(&a->readers, 1);
    if (rc)
        atomic_fetch_add_explicit(&a->misses, 1, memory_order_relaxed);
    return rc;
}

int vn_auth_confirm(struct vn_auth *a, struct vn_auth_wait *w)
{
    int rc = 0;

    w->next = NULL;
    pthread_mutex_lock(&a->lock);
    if (a->closed)
        rc = VN_ESHUTDOWN;
    else if (a->queued >= VN_AUTH_QUEUE_MAX)
        rc = VN_EFULL;
    if (rc == 0) {
        if (a->tail)
            a->tail->next = w;
        else
            a->head = w;
        a->tail = w;
        a->queued++;
        pthread_cond_signal(&a->wake);
    }
    pthread_mutex_unlock(&a->lock);
    if (rc == 0)
        atomic_fetch_add_explicit(&a->confirms, 1, memory_order_relaxed);
    return rc;
}

void vn_auth_close_waits(struct vn_auth *a)
{
    pthread_mutex_lock(&a->lock);
    a->closed = 1;
    while (a->head || a->in_pass)
        pthread_cond_wait(&a->idle, &a->lock);
    pthread_mutex_unlock(&a->lock);
}

/* vn_auth_check's wait for its confirmation. */
struct sync_wait {
    struct vn_auth_wait w; /* first: done() gets it back */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static void sync_done(struct vn_auth_wait *w)
{
    struct sync_wait *s = (struct sync_wait *)w;

    pthread_mutex_lock(&s->lock);
    s->done = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int vn_auth_check(struct vn_auth *a, const char *header, char uid[VN_ID_MAX + 1])
{
    struct sync_wait s = {.w = {.done = sync_done}};
    int rc = vn_auth_lookup(a, header, uid);

    if (rc != VN_ENOTFOUND)
        return rc;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    rc = vn_auth_confirm(a, &s.w);
    if (rc == 0) {
        pthread_mutex_lock(&s.lock);
        while (!s.done)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
        rc = vn_auth_lookup(a, header, uid);
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return rc == VN_ENOTFOUND || rc == VN_ESHUTDOWN ? VN_EAUTH : rc;
}

void vn_auth_invalidate(struct vn_auth *a)
{
    pthread_mutex_lock(&a->lock);
    a->force = 1;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

void vn_auth_stats(struct vn_auth *a, struct vn_auth_stats *out)
{
    struct snapshot *s;

    memset(out, 0, sizeof(*out));
    out->lookups = atomic_load(&a->lookups);
    out->misses = atomic_load(&a->misses);
    out->confirms = atomic_load(&a->confirms);
    out->checks = atomic_load(&a->checks);
    out->reloads = atomic_load(&a->reloads);
    out->reload_failures = atomic_load(&a->reload_failures);
    atomic_fetch_add(&a->readers, 1);
    s = atomic_load(&a->cur);
    out->tokens = s ? s->n : 0;
    atomic_fetch_sub(&a->readers, 1);
}
