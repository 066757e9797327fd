/* lease.c - see include/vppnotify/lease.h. */
#include "vppnotify/lease.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL /* nanoseconds */

struct entry {
    char uid[VN_ID_MAX + 1];
    int64_t until_ns; /* monotonic: act while now < until_ns; 0: not held */
    int64_t next_ns;  /* monotonic: when to take or renew it next (0: at once, a new one) */
    int held;         /* the last take answered held */
    int failing;      /* the last take failed (logged once per streak) */
    int seen;         /* listed in this round */
};

struct vn_leases {
    int trivial;
    char holder[VN_LEASE_HOLDER_MAX];
    int64_t ttl_ms;
    char kind[32];      /* the leases' names: "<kind>:<key>" */
    char doing[96];     /* for the log: "this instance <doing>" */
    char key_field[16]; /* for the log: the key's field name */
    int (*list)(struct vn_store *st, void *ud, char ***keys, size_t *n);
    void *list_ud;
    struct vn_store *st; /* the thread's, then vn_leases_stop's */
    pthread_t thread;
    int have_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    struct entry *v; /* under mu */
    size_t n, cap;
};

void vn_lease_holder_of(char holder[VN_LEASE_HOLDER_MAX], const char *id)
{
    char host[64];

    if (gethostname(host, sizeof(host)) != 0)
        vn_strlcpy(host, "localhost", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    snprintf(holder, VN_LEASE_HOLDER_MAX, "%s:%ld:%s", host, (long)getpid(), id);
}

void vn_lease_holder(char holder[VN_LEASE_HOLDER_MAX], char id[13])
{
    uint8_t raw[6];

    vn_random_bytes(raw, sizeof(raw));
    vn_hex(raw, sizeof(raw), id);
    id[12] = '\0';
    vn_lease_holder_of(holder, id);
}

static struct entry *find(struct vn_leases *l, const char *uid)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].uid, uid))
            return &l->v[i];
    return NULL;
}

int vn_leases_held(struct vn_leases *l, const char *key)
{
    struct entry *e;
    int held;

    if (!l || l->trivial)
        return 1;
    pthread_mutex_lock(&l->mu);
    e = find(l, key);
    held = e && e->until_ns && vn_mono_ns() < e->until_ns;
    pthread_mutex_unlock(&l->mu);
    return held;
}

int vn_leases_trivial(const struct vn_leases *l)
{
    return !l || l->trivial;
}

/* Sleep up to ms, or until stop. Returns 1 when stopping. */
static int nap(struct vn_leases *l, int64_t ms)
{
    return vn_cond_nap(&l->mu, &l->cv, &l->stopping, ms);
}

/* The entry of uid, added when new (under mu). NULL: out of memory. */
static struct entry *entry_for(struct vn_leases *l, const char *uid)
{
    struct entry *e = find(l, uid);

    if (e)
        return e;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct entry *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    e = &l->v[l->n++];
    memset(e, 0, sizeof(*e));
    vn_strlcpy(e->uid, uid, sizeof(e->uid));
    return e;
}

/* Take or renew the lease of uid when it is due (every ttl / 4; a new location at once), and
 * record what the database said. */
static void take(struct vn_leases *l, const char *uid)
{
    char name[VN_ID_MAX + 16];
    int64_t t0 = vn_mono_ns();
    int held = 0, rc, was;
    struct entry *e;

    pthread_mutex_lock(&l->mu);
    e = entry_for(l, uid);
    if (e)
        e->seen = 1;
    if (!e || t0 < e->next_ns) {
        pthread_mutex_unlock(&l->mu);
        return;
    }
    pthread_mutex_unlock(&l->mu);
    snprintf(name, sizeof(name), "%s:%s", l->kind, uid);
    rc = vn_store_lease_take(l->st, name, l->holder, l->ttl_ms, &held);
    pthread_mutex_lock(&l->mu);
    e = find(l, uid); /* only this thread adds or removes entries: still there */
    e->next_ns = t0 + l->ttl_ms / 4 * MS;
    was = e->held;
    if (rc) {
        /* Keep until_ns: the lease still runs in the database for as long as it says. */
        if (!e->failing)
            vn_log_warn("lease of %s %s: cannot renew it: %s", l->kind, uid,
                        vn_store_last_error(l->st));
        e->failing = 1;
        pthread_mutex_unlock(&l->mu);
        return;
    }
    e->failing = 0;
    e->held = held;
    e->until_ns = held ? t0 + l->ttl_ms / 2 * MS : 0;
    pthread_mutex_unlock(&l->mu);
    if (held != was) {
        char msg[160];
        snprintf(msg, sizeof(msg), "lease %s: %s instance %s", held ? "taken" : "lost",
                 held ? "this" : "another", l->doing);
        vn_log_fields(held ? VN_LOG_INFO : VN_LOG_WARN, msg,
                      (struct vn_log_field[]){VN_LF_S(l->key_field, uid),
                                              VN_LF_S("holder", l->holder),
                                              VN_LF_I("ttlMs", l->ttl_ms)},
                      3);
    }
}

/* Forget the locations that no longer have an sToken (their leases expire by themselves). */
static void prune(struct vn_leases *l)
{
    size_t k = 0;

    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n; i++) {
        if (!l->v[i].seen)
            continue;
        l->v[i].seen = 0;
        l->v[k++] = l->v[i];
    }
    l->n = k;
    pthread_mutex_unlock(&l->mu);
}

static int list_locations(struct vn_store *st, void *ud, char ***keys, size_t *n)
{
    (void)ud;
    return vn_store_apple_uids(st, keys, n);
}

static void *lease_main(void *arg)
{
    struct vn_leases *l = arg;
    /* New locations are noticed within a second; each lease is taken or renewed every ttl / 4. */
    int64_t tick = l->ttl_ms / 4 < 1000 ? l->ttl_ms / 4 : 1000;
    int listing_failed = 0;

    do {
        char **uids = NULL;
        size_t n = 0;
        if (l->list(l->st, l->list_ud, &uids, &n) != 0) {
            if (!listing_failed)
                vn_log_warn("leases: cannot list the %s keys: %s", l->kind,
                            vn_store_last_error(l->st));
            listing_failed = 1;
            continue; /* what is held lapses by the clock */
        }
        listing_failed = 0;
        for (size_t i = 0; i < n; i++) {
            take(l, uids[i]);
            free(uids[i]);
        }
        free(uids);
        prune(l);
    } while (!nap(l, tick));
    return NULL;
}

struct vn_leases *vn_leases_start(const struct vn_leases_options *o, struct vn_error *err)
{
    struct vn_leases *l = calloc(1, sizeof(*l));
    int rc;

    if (!l) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    if (o->ttl_ms < 1000) {
        free(l);
        vn_error_set(err, VN_EUSAGE, "a lease must last at least 1000 ms, not %lld",
                     (long long)o->ttl_ms);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->ttl_ms = o->ttl_ms;
    vn_strlcpy(l->kind, o->kind ? o->kind : "location", sizeof(l->kind));
    vn_strlcpy(l->doing, o->doing ? o->doing : "does the location's Apple work", sizeof(l->doing));
    vn_strlcpy(l->key_field, o->key_field ? o->key_field : "uId", sizeof(l->key_field));
    l->list = o->list ? o->list : list_locations;
    l->list_ud = o->list_ud;
    if (o->holder && *o->holder) {
        vn_strlcpy(l->holder, o->holder, sizeof(l->holder));
    } else {
        char id[13];
        vn_lease_holder(l->holder, id);
    }
    l->st = vn_store_open(o->db, &o->store, err);
    if (!l->st) {
        vn_error_prefix(err, "leases");
        vn_leases_stop(l);
        return NULL;
    }
    if (!vn_store_shared(l->st)) {
        /* One instance only (serve's lock file): every location is ours. */
        vn_store_free(l->st);
        l->st = NULL;
        l->trivial = 1;
        return l;
    }
    vn_log_info("leases: instance %s, --lease-ttl %lld ms (%s)", l->holder, (long long)l->ttl_ms,
                l->kind);
    rc = pthread_create(&l->thread, NULL, lease_main, l);
    if (rc) {
        vn_error_set(err, -rc, "cannot start the lease thread: %s", strerror(rc));
        vn_leases_stop(l);
        return NULL;
    }
    l->have_thread = 1;
    return l;
}

void vn_leases_stop(struct vn_leases *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->have_thread)
        pthread_join(l->thread, NULL);
    for (size_t i = 0; l->st && i < l->n; i++) {
        char name[VN_ID_MAX + 16];
        if (!l->v[i].held)
            continue;
        snprintf(name, sizeof(name), "%s:%s", l->kind, l->v[i].uid);
        if (vn_store_lease_release(l->st, name, l->holder) != 0)
            vn_log_warn("lease of %s %s: cannot give it up: %s (it expires by itself)", l->kind,
                        l->v[i].uid, vn_store_last_error(l->st));
    }
    vn_store_free(l->st);
    free(l->v);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
