/* worker.c - see include/vppnotify/worker.h. */
#include "vppnotify/worker.h"
#include "vppnotify/apple.h"
#include "vppnotify/error.h"
#include "vppnotify/lease.h"
#include "vppnotify/log.h"
#include "vppnotify/session.h"
#include "vppnotify/sync.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS          (86400LL * 1000)
#define HEALTH_EVERY_MS 1000
#define VERIFY_PER_TICK 16 /* keys verified at Apple per tracker tick at most */
#define PURGE_EVERY_MS  (3600LL * 1000)
#define TOMBSTONE_MS    DAY_MS /* a sync longer than this could bring a deleted row back */

struct vn_worker {
    struct vn_worker_options o;
    char *db, *key_file; /* owned copies */
    struct vn_leases *leases;
    pthread_t tracker, syncer;
    int have_tracker, have_syncer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    json_t *health; /* the latest locations snapshot (owned), under mu */
};

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Sleep up to ms, or until stop. Returns 1 when stopping. */
static int nap(struct vn_worker *w, int64_t ms)
{
    return vn_cond_nap(&w->mu, &w->cv, &w->stopping, ms);
}

static struct vn_store *open_store(struct vn_worker *w, const char *who)
{
    struct vn_error err = {0};
    struct vn_store_options so = w->o.store;
    struct vn_store *st;

    so.read_only = 1; /* reads only: every write is a job of the writer */
    st = vn_store_open(w->db, &so, &err);

    if (!st)
        vn_log_error("%s thread: %s", who, err.msg);
    return st;
}

/* ---- health and expiry warnings ------------------------------------------------------- */

struct health_ctx {
    json_t *arr;
    char warn[64][VN_ID_MAX + 1]; /* locations whose sToken expires soon or expired */
    int nwarn;
};

static int health_row(void *ud, const struct vn_row *row)
{
    static const char *const keep[] = {
        "uId",          "tokenStatus",    "tokenExpirationDate", "takeover",
        "subscribedAt", "lastFullSyncAt", "lastDeltaSyncAt",     "lastSyncError"};
    struct health_ctx *h = ud;
    json_t *o = json_object();
    const char *status = NULL;

    for (size_t k = 0; k < row->n; k++) {
        const struct vn_value *v = &row->vals[k];
        json_t *j = NULL;
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
            if (strcmp(keep[i], row->keys[k]) != 0)
                continue;
            if (v->type == VN_V_TEXT)
                j = json_string(v->s);
            else if (v->type == VN_V_JSON)
                j = json_loads(v->s, JSON_DECODE_ANY, NULL);
        }
        if (j)
            json_object_set_new(o, row->keys[k], j);
        if (!strcmp(row->keys[k], "tokenStatus") && v->type == VN_V_TEXT)
            status = v->s;
    }
    if (status && (!strcmp(status, "expiring") || !strcmp(status, "expired")) && h->nwarn < 64)
        vn_strlcpy(h->warn[h->nwarn++], json_string_value(json_object_get(o, "uId")),
                   sizeof(h->warn[0]));
    json_array_append_new(h->arr, o);
    return 0;
}

static void expiry_warning(struct vn_worker *w, struct vn_store *st, const char *uid, int64_t now)
{
    struct vn_error err = {0};
    struct vn_location_apple l;
    struct vn_location_update u = {.what = VN_LU_WARNED, .expiry_warned_ms = now};
    char when[VN_TIME_ISO_LEN];

    if (vn_store_location_apple(st, uid, &l) != 0)
        return;
    /* By date only: a token Apple refused (9621/9625) was reported when it happened. */
    if (l.token_expires_ms && l.token_expires_ms - now <= 30 * DAY_MS &&
        (!l.expiry_warned_ms || now - l.expiry_warned_ms >= DAY_MS)) {
        vn_time_iso(l.token_expires_ms, when);
        vn_log_fields(
            VN_LOG_WARN,
            l.token_expires_ms <= now
                ? "the location's sToken has expired: download a new one and run "
                  "'vppnotify location set-stoken'"
                : "the location's sToken expires within 30 days: download a new one "
                  "and run 'vppnotify location set-stoken'",
            (struct vn_log_field[]){VN_LF_S("uId", uid), VN_LF_S("tokenExpirationDate", when),
                                    VN_LF_I("daysLeft", (l.token_expires_ms - now) / DAY_MS)},
            3);
        if (vn_location_record(w->o.writer, uid, &u, &err) != 0)
            vn_log_warn("location %s: cannot record the expiry warning: %s", uid, err.msg);
    }
    vn_location_apple_release(&l);
}

static void refresh_health(struct vn_worker *w, struct vn_store *st, int64_t now)
{
    struct health_ctx *h = calloc(1, sizeof(*h));
    json_t *old;

    if (!h)
        return;
    h->arr = json_array();
    if (vn_store_query(st, VN_Q_LOCATIONS, NULL, health_row, h) != 0) {
        json_decref(h->arr);
        free(h);
        return;
    }
    pthread_mutex_lock(&w->mu);
    old = w->health;
    w->health = h->arr;
    pthread_mutex_unlock(&w->mu);
    /* The public /healthz no longer shows the snapshot: say when it changes size (tests wait
     * for this to know that a whole cycle saw the locations). */
    if (!old || json_array_size(old) != json_array_size(h->arr))
        vn_log_debug("tracker: health snapshot of %zu location(s)", json_array_size(h->arr));
    json_decref(old);
    for (int i = 0; i < h->nwarn; i++)
        if (vn_leases_held(w->leases, h->warn[i]))
            expiry_warning(w, st, h->warn[i], now);
    free(h);
}

void vn_worker_health(void *ud, json_t *body)
{
    struct vn_worker *w = ud;
    json_t *copy;

    pthread_mutex_lock(&w->mu);
    copy = w->health ? json_deep_copy(w->health) : json_array();
    pthread_mutex_unlock(&w->mu);
    json_object_set_new(body, "locations", copy);
}

/* ---- the threads ---------------------------------------------------------------------- */

/*
 * Service Config at start and every --apple-config-refresh while any location talks to Apple,
 * not only when a call happens to need it: its limits and URLs change without notice. A fresh
 * copy costs nothing (vn_apple_service refreshes only a stale one, and waits after a failure).
 * A receiver-only deployment, with no sToken, never calls Apple.
 */
static void refresh_service_config(struct vn_worker *w, struct vn_store *st)
{
    struct vn_apple_service svc;
    struct vn_apple_failure why;
    char **uids = NULL;
    size_t n = 0;

    if (vn_store_apple_uids(st, &uids, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        free(uids[i]);
    free(uids);
    if (n > 0 && vn_apple_service(w->o.apple, &svc, &why) != 0 && why.code != VN_ESHUTDOWN)
        vn_log_debug("Service Config not refreshed: %s", why.message);
}

/* One tracker pass over the events of the locations this instance holds the lease of (all of
 * them in one pass when the leases are trivial). */
static int track(struct vn_worker *w, struct vn_store *st, struct vn_session_env *env, int64_t now)
{
    char **uids = NULL;
    size_t n = 0;
    int rc;

    if (vn_leases_trivial(w->leases))
        return vn_tracker_pass(st, env, NULL, &w->o.tracker, now);
    rc = vn_store_apple_uids(st, &uids, &n);
    for (size_t i = 0; i < n; i++) {
        if (!rc && vn_leases_held(w->leases, uids[i]))
            rc = vn_tracker_pass(st, env, uids[i], &w->o.tracker, now);
        free(uids[i]);
    }
    free(uids);
    return rc;
}

/* ---- verification of keys (contract 3.1) and tombstones ------------------------------- */

struct verify_list {
    struct vn_verify_item it[VERIFY_PER_TICK];
    char uid[VERIFY_PER_TICK][VN_ID_MAX + 1];
    char adam[VERIFY_PER_TICK][VN_ADAM_ID_MAX + 1], pp[VERIFY_PER_TICK][16];
    char cuid[VERIFY_PER_TICK][VN_ID_MAX + 1], sn[VERIFY_PER_TICK][VN_ID_MAX + 1];
    int n;
};

static const char *keep(char *dst, size_t len, const char *src)
{
    if (!src)
        return NULL;
    vn_strlcpy(dst, src, len);
    return dst;
}

static int collect_verify(void *ud, const struct vn_verify_item *it)
{
    struct verify_list *l = ud;
    int i = l->n++;

    l->it[i] = *it;
    l->it[i].uid = keep(l->uid[i], sizeof(l->uid[i]), it->uid);
    l->it[i].key.adam_id = keep(l->adam[i], sizeof(l->adam[i]), it->key.adam_id);
    l->it[i].key.pricing_param = keep(l->pp[i], sizeof(l->pp[i]), it->key.pricing_param);
    l->it[i].key.client_user_id = keep(l->cuid[i], sizeof(l->cuid[i]), it->key.client_user_id);
    l->it[i].key.serial_number = keep(l->sn[i], sizeof(l->sn[i]), it->key.serial_number);
    l->it[i].reason = NULL;
    return l->n == VERIFY_PER_TICK;
}

struct verify_done {
    long long id;
    const char *error;
};

static int verify_done_run(struct vn_store *st, void *ud)
{
    struct verify_done *d = ud;

    return vn_store_verify_done(st, d->id, d->error);
}

/*
 * Read the keys queued for verification from Apple (contract 3.1): Apple's answer is written,
 * the key leaves the queue. A key whose read fails stays (attempts + 1) and the pass stops
 * there: Apple may be unreachable, the next tick tries again.
 */
static void verify_pass(struct vn_worker *w, struct vn_store *st, struct vn_session_env *env)
{
    struct verify_list *l = calloc(1, sizeof(*l));

    if (!l)
        return;
    if (vn_store_verify_list(st, NULL, VERIFY_PER_TICK, collect_verify, l) < 0)
        l->n = 0;
    for (int i = 0; i < l->n; i++) {
        struct vn_session s;
        struct vn_sync_report r;
        struct vn_error err = {0};
        struct verify_done d = {.id = l->it[i].id};
        int rc;

        /* Another instance holds this location's lease: its Apple work is that instance's. */
        if (!vn_leases_held(w->leases, l->it[i].uid))
            continue;
        rc = vn_session_open(&s, env, st, l->it[i].uid, &err);

        if (rc == 0) {
            rc = vn_sync_verify(&s, &l->it[i], &r, &err);
            vn_session_release(&s);
        }
        d.error = rc ? err.msg : NULL;
        if (rc)
            vn_log_warn("location %s: a key could not be verified at Apple: %s", l->it[i].uid,
                        err.msg);
        else
            vn_log_debug("location %s: a key was verified at Apple", l->it[i].uid);
        if (vn_writer_call(w->o.writer, verify_done_run, &d, &err) != 0 || rc)
            break;
    }
    free(l);
}

struct purge {
    int64_t before_ms;
    long long removed;
};

static int purge_run(struct vn_store *st, void *ud)
{
    struct purge *p = ud;

    return vn_store_tombstones_purge(st, p->before_ms, 1000, &p->removed);
}

/* Tombstones older than a day go, 1,000 per job. */
static void purge_tombstones(struct vn_worker *w, int64_t now)
{
    struct purge p = {.before_ms = now - TOMBSTONE_MS};

    do {
        p.removed = 0;
        if (vn_writer_call(w->o.writer, purge_run, &p, NULL) != 0)
            return;
    } while (p.removed == 1000);
}

static void *tracker_main(void *arg)
{
    struct vn_worker *w = arg;
    struct vn_session_env env = {
        .apple = w->o.apple, .key_file = w->key_file, .writer = w->o.writer, .leases = w->leases};
    int64_t q =
        w->o.tracker.quiet_ms < w->o.tracker.poll_ms ? w->o.tracker.quiet_ms : w->o.tracker.poll_ms;
    int64_t tick = clamp64(q / 4, 50, 1000), last_health = 0, last_purge = vn_now_ms();
    struct vn_store *st = open_store(w, "tracker");
    int failing = 0; /* logged once per streak: the database may be gone for a while */

    if (!st)
        return NULL;
    do {
        int64_t now = vn_now_ms();
        if (track(w, st, &env, now) != 0) {
            if (!failing)
                vn_log_warn("tracker: cannot read the tracked events: %s", vn_store_last_error(st));
            failing = 1;
        } else if (failing) {
            vn_log_info("tracker: reads the tracked events again");
            failing = 0;
        }
        verify_pass(w, st, &env);
        if (now - last_health >= HEALTH_EVERY_MS) {
            refresh_health(w, st, now);
            refresh_service_config(w, st);
            last_health = now;
        }
        if (now - last_purge >= PURGE_EVERY_MS) {
            purge_tombstones(w, now);
            last_purge = now;
        }
    } while (!nap(w, tick));
    vn_wipe(env.key, sizeof(env.key));
    vn_store_free(st);
    return NULL;
}

static void sync_one(struct vn_worker *w, struct vn_store *st, struct vn_session_env *env,
                     const char *uid, int64_t now)
{
    struct vn_sync_state state;
    struct vn_sync_options so = {0};
    struct vn_sync_report r;
    struct vn_session s;
    struct vn_error err = {0};
    int64_t last, retry = w->o.delta_ms ? w->o.delta_ms : w->o.full_ms;
    int full_due, delta_due;

    if (vn_store_sync_state_get(st, uid, &state) != 0)
        return;
    last = state.last_full_ms > state.last_delta_ms ? state.last_full_ms : state.last_delta_ms;
    full_due =
        w->o.full_ms > 0 && (!state.last_full_ms || now - state.last_full_ms >= w->o.full_ms);
    delta_due = !full_due && w->o.delta_ms > 0 && (!last || now - last >= w->o.delta_ms);
    if (!full_due && !delta_due)
        return;
    if (state.last_error[0] && state.last_attempt_ms && now - state.last_attempt_ms < retry)
        return; /* it failed recently: wait a period before trying again */
    if (vn_session_open(&s, env, st, uid, &err) != 0) {
        vn_log_debug("sync %s: not now: %s", uid, err.msg);
        return;
    }
    so.full = full_due;
    if (vn_sync_run(&s, &so, &r, &err) != 0)
        vn_log_error("scheduled %s sync of location %s failed: %s", full_due ? "full" : "delta",
                     uid, err.msg);
    vn_session_release(&s);
}

static void *sync_main(void *arg)
{
    struct vn_worker *w = arg;
    struct vn_session_env env = {
        .apple = w->o.apple, .key_file = w->key_file, .writer = w->o.writer, .leases = w->leases};
    int64_t shortest = w->o.delta_ms && w->o.delta_ms < w->o.full_ms ? w->o.delta_ms
                       : w->o.full_ms                                ? w->o.full_ms
                                                                     : w->o.delta_ms;
    int64_t tick = clamp64(shortest / 10, 100, 1000);
    struct vn_store *st = open_store(w, "sync");
    int failing = 0; /* logged once per streak (every tick otherwise: 10 lines a second) */

    if (!st)
        return NULL;
    do {
        char **uids = NULL;
        size_t n = 0;
        if (vn_store_apple_uids(st, &uids, &n) != 0) {
            if (!failing)
                vn_log_warn("sync: cannot list the locations: %s", vn_store_last_error(st));
            failing = 1;
            continue;
        }
        if (failing)
            vn_log_info("sync: lists the locations again");
        failing = 0;
        for (size_t i = 0; i < n; i++) {
            if (vn_leases_held(w->leases, uids[i]))
                sync_one(w, st, &env, uids[i], vn_now_ms());
            free(uids[i]);
        }
        free(uids);
    } while (!nap(w, tick));
    vn_wipe(env.key, sizeof(env.key));
    vn_store_free(st);
    return NULL;
}

struct vn_worker *vn_worker_start(const struct vn_worker_options *o, struct vn_error *err)
{
    struct vn_worker *w = calloc(1, sizeof(*w));
    int rc;

    if (!w || !(w->db = strdup(o->db)) || !(w->key_file = strdup(o->key_file))) {
        if (w)
            free(w->db);
        free(w);
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    w->o = *o;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    {
        struct vn_leases_options lo = {.db = w->db,
                                       .store = o->store,
                                       .holder = o->holder,
                                       .ttl_ms = o->lease_ttl_ms > 0 ? o->lease_ttl_ms : 60000};
        w->leases = vn_leases_start(&lo, err);
        if (!w->leases) {
            vn_worker_stop(w);
            return NULL;
        }
    }
    /* pthread_create returns its error; it does not set errno. */
    rc = pthread_create(&w->tracker, NULL, tracker_main, w);
    if (rc) {
        vn_error_set(err, -rc, "cannot start the tracker thread: %s", strerror(rc));
        vn_worker_stop(w);
        return NULL;
    }
    w->have_tracker = 1;
    if (o->full_ms > 0 || o->delta_ms > 0) {
        rc = pthread_create(&w->syncer, NULL, sync_main, w);
        if (rc) {
            vn_error_set(err, -rc, "cannot start the sync thread: %s", strerror(rc));
            vn_worker_stop(w);
            return NULL;
        }
        w->have_syncer = 1;
    }
    return w;
}

void vn_worker_stop(struct vn_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    vn_apple_cancel(w->o.apple);
    if (w->have_tracker)
        pthread_join(w->tracker, NULL);
    if (w->have_syncer)
        pthread_join(w->syncer, NULL);
    vn_leases_stop(w->leases);
    json_decref(w->health);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->db);
    free(w->key_file);
    free(w);
}
