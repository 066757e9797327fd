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
};

/* libmicrohttpd's callbacks of a request (httpd.c); cls is the struct vn_httpd. */
void *vn__httpd_request_new(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result vn__httpd_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls);
void vn__httpd_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                 enum MHD_RequestTerminationCode toe);

/* The tracker entry of a connection (its socket context), or NULL. */
struct vn_conn *vn__httpd_track(struct MHD_Connection *conn);

/* Is sa one of --trusted-proxy's ranges? ud is the struct vn_httpd. */
int vn__httpd_is_trusted(void *ud, const struct sockaddr *sa);

#endif
