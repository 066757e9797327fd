/* conn.c - see conn.h. */
#include "conn.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/net.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_LEN       17 /* family byte + 16 address bytes */
#define LOG_EVERY_NS  (10LL * 1000000000LL)
#define LOG_LINES_MAX 10 /* lines about single connections per LOG_EVERY_NS; then counted */

struct ip_entry {
    struct ip_entry *next;
    uint8_t key[KEY_LEN];
    unsigned count;
};

struct vn_conn {
    struct vn_conn *prev, *next; /* the tracker's list, under its lock */
    struct vn_conns *t;
    int fd;
    uint8_t key[KEY_LEN];
    char remote[48]; /* for log lines */
    int counted;     /* in the per-address table */
    uint64_t generation;
    _Atomic int phase;
    _Atomic int64_t since_ns;
    int eof_seen; /* reaper: the client had sent FIN at the previous scan */
    int shut;     /* reaper: shutdown() done, waiting for libmicrohttpd to close it */
};

/* Counts per address: connections (peers), or requests in flight (clients behind a proxy). */
struct ip_table {
    struct ip_entry **buckets;
    size_t nbuckets; /* a power of two */
};

struct vn_conns {
    pthread_mutex_t lock; /* guards everything below but the atomics */
    pthread_cond_t wake;
    struct vn_conns_limits lim;
    vn_conns_exempt_fn exempt;
    void *exempt_ud;
    struct vn_conn *head;
    struct ip_table peers;   /* connections per peer address */
    struct ip_table clients; /* requests in flight per client behind a trusted proxy */
    struct vn_conns_stats st, logged;
    int64_t logged_ns;
    int lines;             /* lines about single connections since logged_ns */
    unsigned shut_pending; /* shut down, not yet closed by libmicrohttpd */
    int stopping;
    pthread_t thread;
    int started;
    _Atomic uint64_t generation;
};

/* ---- per-address counts ------------------------------------------------------------------ */

static void key_of(const struct sockaddr *sa, uint8_t key[KEY_LEN])
{
    memset(key, 0, KEY_LEN);
    if (!sa)
        return;
    key[0] = (uint8_t)sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static size_t bucket_of(const struct ip_table *t, const uint8_t key[KEY_LEN])
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < KEY_LEN; i++) {
        h ^= key[i];
        h *= 1099511628211ULL;
    }
    return (size_t)(h & (t->nbuckets - 1));
}

static struct ip_entry **ip_find(struct ip_table *t, const uint8_t key[KEY_LEN])
{
    struct ip_entry **pp = &t->buckets[bucket_of(t, key)];

    while (*pp && memcmp((*pp)->key, key, KEY_LEN) != 0)
        pp = &(*pp)->next;
    return pp;
}

static unsigned ip_count(struct ip_table *t, const uint8_t key[KEY_LEN])
{
    struct ip_entry *e = *ip_find(t, key);

    return e ? e->count : 0;
}

static int ip_add(struct ip_table *t, const uint8_t key[KEY_LEN])
{
    struct ip_entry **pp = ip_find(t, key);

    if (!*pp) {
        struct ip_entry *e = calloc(1, sizeof(*e));
        if (!e)
            return -ENOMEM;
        memcpy(e->key, key, KEY_LEN);
        *pp = e;
    }
    (*pp)->count++;
    return 0;
}

static void ip_del(struct ip_table *t, const uint8_t key[KEY_LEN])
{
    struct ip_entry **pp = ip_find(t, key);
    struct ip_entry *e = *pp;

    if (!e)
        return;
    if (--e->count == 0) {
        *pp = e->next;
        free(e);
    }
}

static int table_init(struct ip_table *t, unsigned max_connections)
{
    t->nbuckets = 64;
    while (t->nbuckets < max_connections && t->nbuckets < (1u << 20))
        t->nbuckets *= 2;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    return t->buckets ? 0 : -ENOMEM;
}

static void table_release(struct ip_table *t)
{
    for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
        while (t->buckets[i]) {
            struct ip_entry *e = t->buckets[i];
            t->buckets[i] = e->next;
            free(e);
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}

/* ---- the reaper -------------------------------------------------------------------------- */

/* Has the client sent FIN, with nothing left unread? (A peek: nothing is consumed.) */
static int peer_finished(int fd)
{
    char b;

    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/*
 * Close c (see conn.h: the fd is valid while we hold the lock) and say why: a warn line for a
 * body that did not arrive (a delivery that failed; LOG_LINES_MAX per LOG_EVERY_NS), a debug
 * line otherwise (slow headers are what an attacker makes by the thousand: log_locked sums
 * them up).
 */
static void shut(struct vn_conns *t, struct vn_conn *c, uint64_t *counter, const char *why,
                 int64_t limit_ms, int warn)
{
    struct vn_log_field f[] = {
        VN_LF_S("remote", c->remote),
        VN_LF_I("limit_ms", limit_ms),
    };

    shutdown(c->fd, SHUT_RDWR);
    c->shut = 1;
    t->shut_pending++;
    (*counter)++;
    if (warn && t->lines < LOG_LINES_MAX) {
        t->lines++;
        vn_log_fields(VN_LOG_WARN, why, f, (int)(sizeof(f) / sizeof(f[0])));
    } else {
        vn_log_fields(VN_LOG_DEBUG, why, f, (int)(sizeof(f) / sizeof(f[0])));
    }
}

/*
 * A new connection while more than 7/8 of max_connections are in use: close a connection that
 * is still waiting for its headers, so that libmicrohttpd never reaches its limit (at the limit
 * it stops accepting, and a new client would wait in the kernel's queue behind the attacker's).
 * The victim is taken from the address that holds the most connections, the oldest of them: a
 * client with one connection that sends its headers promptly is not chosen while an address
 * hoards slots. (When every address holds one connection, the oldest goes.)
 */
static void evict_locked(struct vn_conns *t, const struct vn_conn *fresh)
{
    unsigned max = t->lim.max_connections;
    unsigned keep = max - (max / 8 > 0 ? max / 8 : 1);

    while (max >= 2 && t->st.open - t->shut_pending > keep) {
        struct vn_conn *victim = NULL;
        int64_t victim_since = 0;
        unsigned victim_count = 0;
        for (struct vn_conn *c = t->head; c; c = c->next) {
            int64_t since = atomic_load(&c->since_ns);
            unsigned count;
            if (c == fresh || c->shut || atomic_load(&c->phase) != VN_CONN_HEADERS)
                continue;
            count = c->counted ? ip_count(&t->peers, c->key) : 0;
            if (!victim || count > victim_count ||
                (count == victim_count && since < victim_since)) {
                victim = c;
                victim_since = since;
                victim_count = count;
            }
        }
        if (!victim)
            return;
        shut(t, victim, &t->st.evicted,
             "connection closed: headers not complete and the server near --max-connections",
             (vn_mono_ns() - victim_since) / 1000000, 0);
    }
}

static void log_counts(enum vn_log_level level, const char *msg, const struct vn_conns_stats *s,
                       const struct vn_conns_stats *base)
{
    struct vn_log_field f[] = {
        VN_LF_I("header_timeout", (int64_t)(s->header_timeouts - base->header_timeouts)),
        VN_LF_I("body_timeout", (int64_t)(s->body_timeouts - base->body_timeouts)),
        VN_LF_I("half_closed", (int64_t)(s->half_closed - base->half_closed)),
        VN_LF_I("evicted", (int64_t)(s->evicted - base->evicted)),
        VN_LF_I("refused_per_ip", (int64_t)(s->refused_per_ip - base->refused_per_ip)),
        VN_LF_I("accepted", (int64_t)(s->accepted - base->accepted)),
        VN_LF_I("open", (int64_t)s->open),
        VN_LF_I("open_max", (int64_t)s->open_max),
    };

    vn_log_fields(level, msg, f, (int)(sizeof(f) / sizeof(f[0])));
}

/* A summary when connections were closed or refused: at once after a quiet time, then every
 * LOG_EVERY_NS at most while it goes on. */
static void log_locked(struct vn_conns *t, int64_t now)
{
    const struct vn_conns_stats *s = &t->st, *l = &t->logged;

    if (now - t->logged_ns < LOG_EVERY_NS)
        return;
    if (s->refused_per_ip != l->refused_per_ip || s->header_timeouts != l->header_timeouts ||
        s->body_timeouts != l->body_timeouts || s->half_closed != l->half_closed ||
        s->evicted != l->evicted) {
        log_counts(VN_LOG_WARN, "connections closed or refused to keep slots free", s, l);
        t->logged = *s;
        t->logged_ns = now;
        t->lines = 0;
    }
}

void vn_conns_scan(struct vn_conns *t)
{
    int64_t now;

    pthread_mutex_lock(&t->lock);
    now = vn_mono_ns();
    for (struct vn_conn *c = t->head; c; c = c->next) {
        int phase = atomic_load(&c->phase);
        int64_t since = atomic_load(&c->since_ns);
        int64_t limit_ms =
            phase == VN_CONN_HEADERS ? t->lim.header_timeout_ms : t->lim.read_timeout_ms;

        if (c->shut)
            continue;
        if (phase == VN_CONN_BUSY) {
            c->eof_seen = 0;
            continue;
        }
        if (now - since > limit_ms * 1000000) {
            if (phase == VN_CONN_HEADERS)
                shut(t, c, &t->st.header_timeouts,
                     "connection closed: headers not received within the header timeout", limit_ms,
                     0);
            else
                shut(t, c, &t->st.body_timeouts,
                     "request closed: body not received within the read timeout", limit_ms, 1);
            continue;
        }
        if (peer_finished(c->fd)) {
            /* Twice in a row: libmicrohttpd has had a whole tick to see the last bytes. */
            if (c->eof_seen) {
                shut(t, c, &t->st.half_closed,
                     "connection closed: the client ended it in the middle of a request", 0, 0);
                continue;
            }
            c->eof_seen = 1;
        } else {
            c->eof_seen = 0;
        }
    }
    log_locked(t, now);
    pthread_mutex_unlock(&t->lock);
}

static int64_t tick_ns(const struct vn_conns_limits *l)
{
    int64_t ms =
        (l->header_timeout_ms < l->read_timeout_ms ? l->header_timeout_ms : l->read_timeout_ms) / 4;

    if (ms < 25)
        ms = 25;
    if (ms > 250)
        ms = 250;
    return ms * 1000000;
}

static void *reaper(void *arg)
{
    struct vn_conns *t = arg;

    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        vn_cond_wait_until(&t->wake, &t->lock, vn_mono_ns() + tick_ns(&t->lim));
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->lock);
        vn_conns_scan(t);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* ---- the interface ----------------------------------------------------------------------- */

struct vn_conns *vn_conns_new(const struct vn_conns_limits *l, vn_conns_exempt_fn exempt,
                              void *exempt_ud, struct vn_error *err)
{
    struct vn_conns *t = calloc(1, sizeof(*t));
    pthread_condattr_t ca;
    int rc;

    if (!t) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    t->lim = *l;
    t->exempt = exempt;
    t->exempt_ud = exempt_ud;
    if (table_init(&t->peers, l->max_connections) != 0 ||
        table_init(&t->clients, l->max_connections) != 0) {
        table_release(&t->peers);
        free(t);
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    t->logged_ns = vn_mono_ns() - LOG_EVERY_NS;
    if (l->manual)
        return t;
    rc = pthread_create(&t->thread, NULL, reaper, t);
    if (rc != 0) {
        vn_error_set(err, -rc, "cannot start the connection reaper: %s", strerror(rc));
        vn_conns_free(t);
        return NULL;
    }
    t->started = 1;
    return t;
}

void vn_conns_free(struct vn_conns *t)
{
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->lock);
        t->stopping = 1;
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
    }
    {
        struct vn_conns_stats zero = {0};
        log_counts(VN_LOG_INFO, "connections since start", &t->st, &zero);
    }
    while (t->head) {
        struct vn_conn *c = t->head;
        t->head = c->next;
        free(c);
    }
    table_release(&t->peers);
    table_release(&t->clients);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void vn_conns_set_limits(struct vn_conns *t, const struct vn_conns_limits *l)
{
    pthread_mutex_lock(&t->lock);
    t->lim.max_per_ip = l->max_per_ip;
    t->lim.header_timeout_ms = l->header_timeout_ms;
    t->lim.read_timeout_ms = l->read_timeout_ms;
    pthread_mutex_unlock(&t->lock);
}

int vn_conns_may_accept(struct vn_conns *t, const struct sockaddr *sa)
{
    uint8_t key[KEY_LEN];
    int ok = 1;

    if (t->exempt && t->exempt(t->exempt_ud, sa))
        return 1;
    key_of(sa, key);
    pthread_mutex_lock(&t->lock);
    if (t->lim.max_per_ip && ip_count(&t->peers, key) >= t->lim.max_per_ip) {
        t->st.refused_per_ip++;
        ok = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

struct vn_conn *vn_conns_opened(struct vn_conns *t, int fd, const struct sockaddr *sa)
{
    struct vn_conn *c = calloc(1, sizeof(*c));
    int exempt = t->exempt && t->exempt(t->exempt_ud, sa);

    if (!c)
        return NULL;
    c->fd = fd;
    c->t = t;
    key_of(sa, c->key);
    vn_sockaddr_host(sa, c->remote, sizeof(c->remote));
    c->generation = atomic_load(&t->generation);
    atomic_store(&c->phase, VN_CONN_HEADERS);
    atomic_store(&c->since_ns, vn_mono_ns());
    pthread_mutex_lock(&t->lock);
    if (!exempt && ip_add(&t->peers, c->key) == 0)
        c->counted = 1;
    c->next = t->head;
    if (t->head)
        t->head->prev = c;
    t->head = c;
    t->st.accepted++;
    t->st.open++;
    if (t->st.open > t->st.open_max)
        t->st.open_max = t->st.open;
    evict_locked(t, c);
    pthread_mutex_unlock(&t->lock);
    return c;
}

void vn_conns_closed(struct vn_conns *t, struct vn_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->counted)
        ip_del(&t->peers, c->key);
    if (c->shut)
        t->shut_pending--;
    t->st.open--;
    pthread_mutex_unlock(&t->lock);
    free(c);
}

int vn_conns_client_enter(struct vn_conns *t, const struct sockaddr *client)
{
    uint8_t key[KEY_LEN];
    int rc = 0;

    key_of(client, key);
    pthread_mutex_lock(&t->lock);
    if (t->lim.max_per_ip && ip_count(&t->clients, key) >= t->lim.max_per_ip) {
        t->st.refused_per_ip++;
        rc = VN_EFULL;
    } else if (ip_add(&t->clients, key) != 0) {
        rc = -ENOMEM;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void vn_conns_client_leave(struct vn_conns *t, const struct sockaddr *client)
{
    uint8_t key[KEY_LEN];

    key_of(client, key);
    pthread_mutex_lock(&t->lock);
    ip_del(&t->clients, key);
    pthread_mutex_unlock(&t->lock);
}

void vn_conn_set_phase(struct vn_conn *c, enum vn_conn_phase p)
{
    if (!c)
        return;
    atomic_store(&c->since_ns, vn_mono_ns());
    atomic_store(&c->phase, (int)p);
}

void *vn_conn_ud(const struct vn_conn *c)
{
    return c->t->exempt_ud;
}

uint64_t vn_conn_generation(const struct vn_conn *c)
{
    return c->generation;
}

uint64_t vn_conns_next_generation(struct vn_conns *t)
{
    return atomic_fetch_add(&t->generation, 1) + 1;
}

uint64_t vn_conns_oldest_generation(struct vn_conns *t)
{
    uint64_t g;

    pthread_mutex_lock(&t->lock);
    g = atomic_load(&t->generation);
    for (struct vn_conn *c = t->head; c; c = c->next)
        if (c->generation < g)
            g = c->generation;
    pthread_mutex_unlock(&t->lock);
    return g;
}

void vn_conns_stats(struct vn_conns *t, struct vn_conns_stats *out)
{
    pthread_mutex_lock(&t->lock);
    *out = t->st;
    pthread_mutex_unlock(&t->lock);
}
