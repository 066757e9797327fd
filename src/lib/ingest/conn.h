/*
 * conn.h - the connections of the notification endpoint, and the deadlines libmicrohttpd
 * does not have (private to src/lib/ingest).
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that sends one header byte
 * every few seconds holds its slot forever (slowloris), and with 0.9.75's edge-triggered epoll
 * a client that closes its side in the middle of a request is not noticed until that timeout
 * (the socket sits in CLOSE-WAIT). This tracker adds what is missing:
 *
 *   - a header deadline: a request's headers must be complete within header_timeout of the
 *     connection's start (or of the previous request's end on a kept-alive connection);
 *   - a body deadline: the body must be complete within read_timeout of the headers, also when
 *     nothing arrives at all;
 *   - half-closed clients: a connection still reading a request whose client sent FIN and has
 *     nothing left to read is closed at once (seen on two scans in a row);
 *   - headroom: a connection that opens while more than 7/8 of max_connections are in use
 *     closes one that is still waiting for its headers, from the address that holds the most
 *     connections (the oldest of them), so that a new client always finds a slot
 *     (libmicrohttpd at its limit stops accepting: a client would wait in the kernel's queue
 *     behind the attacker's connections);
 *   - per-address limits: at most max_per_ip connections from one address (trusted proxies,
 *     which carry many clients, are exempt: the clients behind them are limited to max_per_ip
 *     requests in flight each, vn_conns_client_enter).
 *
 * A reaper thread checks every connection a few times a second. It closes one with
 * shutdown(fd, SHUT_RDWR): libmicrohttpd sees the end of the stream and cleans up as usual.
 * The fd is used only under the tracker's lock, and a connection leaves the tracker (in
 * libmicrohttpd's CLOSED notification) before libmicrohttpd closes its fd, so the reaper can
 * never touch a reused descriptor.
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef VPPNOTIFY_INGEST_CONN_H
#define VPPNOTIFY_INGEST_CONN_H

#include <stdint.h>
#include <sys/socket.h>

struct vn_error;
struct vn_conns;
struct vn_conn;

enum vn_conn_phase {
    VN_CONN_HEADERS, /* waiting for a request's headers (also: idle between requests) */
    VN_CONN_BODY,    /* headers in, reading the body */
    VN_CONN_BUSY,    /* the request is complete: waiting for the writer, or answering */
};

struct vn_conns_limits {
    unsigned max_connections; /* what libmicrohttpd was started with */
    unsigned max_per_ip;      /* 0: no limit */
    int64_t header_timeout_ms;
    int64_t read_timeout_ms;
    int manual; /* tests: no reaper thread; they call vn_conns_scan */
};

struct vn_conns_stats {
    uint64_t accepted;        /* connections opened */
    uint64_t refused_per_ip;  /* refused: over max_per_ip */
    uint64_t header_timeouts; /* closed: headers not complete in time */
    uint64_t body_timeouts;   /* closed: body not complete in time */
    uint64_t half_closed;     /* closed: the client had sent FIN mid-request */
    uint64_t evicted;         /* closed: slow headers while near max_connections */
    unsigned open;            /* open now */
    unsigned open_max;        /* the most open at one time */
};

/* Is this peer exempt from the per-address limit (a trusted proxy)? */
typedef int (*vn_conns_exempt_fn)(void *ud, const struct sockaddr *sa);

/* A tracker with its reaper thread. exempt may be NULL; ud is given to it and returned by
 * vn_conn_ud. NULL with err on failure. */
struct vn_conns *vn_conns_new(const struct vn_conns_limits *l, vn_conns_exempt_fn exempt, void *ud,
                              struct vn_error *err);

/* The ud of c's tracker (the HTTP server that owns the connection). */
void *vn_conn_ud(const struct vn_conn *c);

/* Stop the reaper and free. Call after the HTTP server stopped (no connection left). NULL ok. */
void vn_conns_free(struct vn_conns *t);

/* New limits for new checks (SIGHUP); max_connections is not changed. */
void vn_conns_set_limits(struct vn_conns *t, const struct vn_conns_limits *l);

/* libmicrohttpd's accept policy: 1 to accept a connection from sa, 0 to refuse it. */
int vn_conns_may_accept(struct vn_conns *t, const struct sockaddr *sa);

/* A connection started (fd, peer address borrowed). Returns its handle, or NULL when out of
 * memory (the connection then lives without our deadlines). */
struct vn_conn *vn_conns_opened(struct vn_conns *t, int fd, const struct sockaddr *sa);

/* A connection closed: it leaves the tracker and c is freed. Must come before its fd is
 * closed. c may be NULL. */
void vn_conns_closed(struct vn_conns *t, struct vn_conn *c);

/*
 * A request from a client behind a trusted proxy (its address from X-Forwarded-For): at most
 * max_per_ip of them in flight per client address, as connections are for direct peers.
 * 0 (call vn_conns_client_leave when it ends), or VN_EFULL (refused; counted), or -ENOMEM.
 */
int vn_conns_client_enter(struct vn_conns *t, const struct sockaddr *client);
void vn_conns_client_leave(struct vn_conns *t, const struct sockaddr *client);

/* The request on c entered a phase; its deadline counts from now. c may be NULL. */
void vn_conn_set_phase(struct vn_conn *c, enum vn_conn_phase p);

/* The generation of c: how many times vn_conns_next_generation had been called when it
 * opened. */
uint64_t vn_conn_generation(const struct vn_conn *c);

/* Start a new generation (a new TLS certificate); returns it. */
uint64_t vn_conns_next_generation(struct vn_conns *t);

/* The oldest generation of an open connection (the current one if none is open). */
uint64_t vn_conns_oldest_generation(struct vn_conns *t);

/* A snapshot of the counters. */
void vn_conns_stats(struct vn_conns *t, struct vn_conns_stats *out);

/* Run one reaper pass now (tests). */
void vn_conns_scan(struct vn_conns *t);

#endif
