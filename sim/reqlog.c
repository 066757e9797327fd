/*
 * reqlog.c - see reqlog.h.
 */
#include "reqlog.h"

#include "vppnotify/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COUNTERS 512

struct counter {
    char method[8];
    char path[64];
    int status;
    long long count;
};

struct logged {
    int64_t id;
    char uid[40];
    char method[8];
    char path[96];
    char agent[96];
    int status;
    int64_t start_us, end_us, wall_ms;
};

struct sim_reqlog {
    pthread_mutex_t mu;
    struct counter counters[MAX_COUNTERS];
    size_t ncounters;
    long long total;
    struct logged *ring;
    size_t cap;
    int64_t next_id; /* id of the next entry; entries [next_id - min(cap, next_id - 1), next_id) */
    long long in_flight;
};

int sim_reqlog_new(size_t capacity, struct sim_reqlog **out)
{
    struct sim_reqlog *l = calloc(1, sizeof(*l));

    *out = NULL;
    if (!l || capacity == 0 || !(l->ring = calloc(capacity, sizeof(*l->ring)))) {
        free(l);
        return -1;
    }
    l->cap = capacity;
    l->next_id = 1;
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return 0;
}

void sim_reqlog_free(struct sim_reqlog *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->ring);
    free(l);
}

static void count(struct sim_reqlog *l, const struct sim_reqlog_entry *e)
{
    struct counter *c = NULL;

    l->total++;
    for (size_t i = 0; i < l->ncounters && !c; i++) {
        struct counter *x = &l->counters[i];
        if (x->status == e->status && !strcmp(x->method, e->method) && !strcmp(x->path, e->route))
            c = x;
    }
    if (!c) {
        if (l->ncounters == MAX_COUNTERS)
            return; /* bounded: the total still counts it */
        c = &l->counters[l->ncounters++];
        vn_strlcpy(c->method, e->method, sizeof(c->method));
        vn_strlcpy(c->path, e->route, sizeof(c->path));
        c->status = e->status;
        c->count = 0;
    }
    c->count++;
}

void sim_reqlog_record(struct sim_reqlog *l, const struct sim_reqlog_entry *e)
{
    pthread_mutex_lock(&l->mu);
    count(l, e);
    if (e->apple) {
        struct logged *x = &l->ring[(size_t)(l->next_id - 1) % l->cap];
        x->id = l->next_id++;
        vn_strlcpy(x->uid, e->uid ? e->uid : "", sizeof(x->uid));
        vn_strlcpy(x->method, e->method, sizeof(x->method));
        vn_strlcpy(x->path, e->path, sizeof(x->path));
        vn_strlcpy(x->agent, e->agent ? e->agent : "", sizeof(x->agent));
        for (char *c = x->agent; *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                *c = '?'; /* printable ASCII only: the JSON stays valid whatever was sent */
        x->status = e->status;
        x->start_us = e->start_mono_us;
        x->end_us = e->end_mono_us;
        x->wall_ms = e->wall_ms;
    }
    pthread_mutex_unlock(&l->mu);
}

json_t *sim_reqlog_counters(struct sim_reqlog *l, int reset)
{
    json_t *arr = json_array(), *out;

    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->ncounters; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:I}", "method",
                                             l->counters[i].method, "path", l->counters[i].path,
                                             "status", l->counters[i].status, "count",
                                             (json_int_t)l->counters[i].count));
    out = json_pack("{s:I, s:o}", "total", (json_int_t)l->total, "requests", arr);
    if (reset) {
        l->ncounters = 0;
        l->total = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return out;
}

struct edge {
    const char *uid;
    int64_t t;
    int delta; /* +1 start, -1 end */
};

static int by_uid_time(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    int c = strcmp(x->uid, y->uid);

    if (c)
        return c;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->delta - y->delta; /* an end before a start at the same instant: no overlap */
}

/* The most requests of one location in progress at once among v[0..n). */
static int max_concurrent(const struct logged *v, size_t n)
{
    struct edge *e = calloc(2 * n + 1, sizeof(*e));
    int best = 0, open = 0;
    size_t m = 0;

    if (!e)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].uid[0])
            continue; /* not authenticated: no location */
        e[m++] = (struct edge){v[i].uid, v[i].start_us, +1};
        e[m++] = (struct edge){v[i].uid, v[i].end_us, -1};
    }
    qsort(e, m, sizeof(*e), by_uid_time);
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && strcmp(e[i].uid, e[i - 1].uid) != 0)
            open = 0;
        open += e[i].delta;
        if (open > best)
            best = open;
    }
    free(e);
    return best;
}

void sim_reqlog_begin(struct sim_reqlog *l)
{
    pthread_mutex_lock(&l->mu);
    l->in_flight++;
    pthread_mutex_unlock(&l->mu);
}

void sim_reqlog_end(struct sim_reqlog *l)
{
    pthread_mutex_lock(&l->mu);
    l->in_flight--;
    pthread_mutex_unlock(&l->mu);
}

json_t *sim_reqlog_entries(struct sim_reqlog *l, const char *uid, int64_t after_id, size_t limit)
{
    json_t *arr = json_array(), *out;
    struct logged *sel;
    size_t n = 0;
    int64_t first, dropped;
    long long in_flight;

    pthread_mutex_lock(&l->mu);
    in_flight = l->in_flight;
    sel = calloc(l->cap, sizeof(*sel));
    first = l->next_id - 1 > (int64_t)l->cap ? l->next_id - (int64_t)l->cap : 1;
    dropped = first - 1;
    for (int64_t id = first > after_id + 1 ? first : after_id + 1; sel && id < l->next_id; id++) {
        const struct logged *x = &l->ring[(size_t)(id - 1) % l->cap];
        if (n >= limit)
            break;
        if (uid && strcmp(uid, x->uid) != 0)
            continue;
        sel[n++] = *x;
    }
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; sel && i < n; i++) {
        char t[VN_TIME_ISO_LEN];
        vn_time_iso(sel[i].wall_ms, t);
        json_array_append_new(
            arr,
            json_pack("{s:I, s:s, s:s, s:s, s:i, s:f, s:f, s:s, s:s}", "id", (json_int_t)sel[i].id,
                      "uId", sel[i].uid, "method", sel[i].method, "path", sel[i].path, "status",
                      sel[i].status, "startMs", (double)sel[i].start_us / 1000.0, "endMs",
                      (double)sel[i].end_us / 1000.0, "time", t, "userAgent", sel[i].agent));
    }
    out = json_pack("{s:I, s:I, s:i, s:I, s:o}", "capacity", (json_int_t)l->cap, "dropped",
                    (json_int_t)dropped, "maxConcurrent", sel ? max_concurrent(sel, n) : 0,
                    "inFlight", (json_int_t)in_flight, "entries", arr);
    free(sel);
    return out;
}
