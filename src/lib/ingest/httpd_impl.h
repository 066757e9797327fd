/*
 * httpd_impl.h - what httpd.c (the requests) and server.c (the server's life: start,
 * connections, TLS, reload, stop) share; private to src/lib/ingest.
 */
#ifndef VPPNOTIFY_INGEST_HTTPD_IMPL_H
#define VPPNOTIFY_INGEST_HTTPD_IMPL_H

#include "vppnotify/httpd.h"
#include "vppnotify/net.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct vn_conn;
struct request;

/*
 * The connections a group commit answers, resumed by their own libmicrohttpd thread (httpd.c):
 * the writer resumes one connection per thread (the leader; MHD_resume_connection writes the
 * thread's eventfd and wakes it), and lists the others on that thread's slot; the thread
 * resumes the listed ones when it next runs a callback (the leader's comes first). One slot
 * per libmicrohttpd thread, made when the thread first submits a notification.
 *
 * The thread holds its log (log.h vn_log_hold) from taking a list until every connection it
 * resumed from it has been answered or has gone (held counts them): the lines of a batch's
 * answers on that thread go out in one write instead of one each.
 */
#define VN_RESUME_SLOTS 64

struct vn__resume_slot {
    pthread_t thread;
    pthread_mutex_t lock;
    struct request *head;  /* done, waiting for their thread to resume them */
    atomic_int leader_out; /* a leader was resumed and its thread has not taken the list yet */
    unsigned held;         /* its thread only: resumed from its list, not yet answered nor gone */
};

/* The limits a reload (SIGHUP) may change: each request copies them when it starts (field by
 * field; one that starts during a reload may mix old and new values, which is harmless). */
struct live {
    atomic_size_t max_body, max_depth, quarantine_max;
    atomic_uint retry_after_s, max_per_ip;
    _Atomic int64_t read_timeout_ms;
};

struct vn_httpd {
    struct vn_httpd_options o;
    struct vn_ingest *ingest;
    struct vn_auth *auth;
    struct MHD_Daemon *mhd;
    struct vn_conns *conns;
    struct vn_tls *tls;
    struct live live;
    char address[96];
    const char *loop; /* "poll" or "epoll": the event loop libmicrohttpd runs */
    unsigned threads; /* libmicrohttpd's threads (--threads, or the default) */
    atomic_uint in_flight;
    _Atomic int64_t health_logged_ms;
    struct vn_cidr *trusted; /* --trusted-proxy */
    size_t ntrusted;
    struct vn_rejects *rejects; /* NULL without a writer */
    struct {
        pthread_mutex_t lock;
        int64_t window_ms;
        unsigned lines, skipped;
    } authlog;
    pthread_mutex_t slots_lock; /* adding a slot */
    atomic_uint nslots;
    struct vn__resume_slot slots[VN_RESUME_SLOTS];
};

/* libmicrohttpd's callbacks of a request (httpd.c); cls is the struct vn_httpd. */
void *vn__httpd_request_new(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result vn__httpd_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls);
void vn__httpd_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                 enum MHD_RequestTerminationCode toe);

/* On a libmicrohttpd thread: resume the connections listed on this thread's slot. */
void vn__httpd_resume_listed(struct vn_httpd *h);

/* Before libmicrohttpd stops (no writer job left): resume every listed connection. */
void vn__httpd_resume_all(struct vn_httpd *h);

/* The tracker entry of a connection (its socket context), or NULL. */
struct vn_conn *vn__httpd_track(struct MHD_Connection *conn);

/* Is sa one of --trusted-proxy's ranges? ud is the struct vn_httpd. */
int vn__httpd_is_trusted(void *ud, const struct sockaddr *sa);

#endif
