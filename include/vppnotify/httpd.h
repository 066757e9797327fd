/*
 * httpd.h - the HTTP(S) front door of `vppnotify serve` on libmicrohttpd.
 *
 * Routes: POST <path> (default /notifications) and GET /healthz (public, so minimal: 200
 * {"status":"ok"} while the store commits, else 503 {"status":"unavailable"}; why is logged). Every
 * row of the status table of contract.md section 2 is decided here or by ingest's outcome.
 * Connections are suspended while their notification waits for its group commit, so worker threads
 * never block on the disk.
 *
 * Limits, all set explicitly (libmicrohttpd's own defaults include "no timeout"): body size,
 * header memory per connection, connections in total and per IP, idle timeout, body read
 * timeout, JSON nesting depth.
 */
#ifndef VPPNOTIFY_HTTPD_H
#define VPPNOTIFY_HTTPD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct vn_auth;
struct vn_error;
struct vn_ingest;
struct vn_httpd;
struct vn_writer;

/* Forward-secret AEAD suites only, TLS 1.3 or 1.2 (the default of --tls-priorities). */
#define VN_HTTPD_TLS_PRIORITIES                                                                    \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:"   \
    "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"

/* How the HTTP threads wait on their connections (--event-loop). */
enum vn_httpd_loop {
    VN_HTTPD_POLL = 0, /* poll(2): cheapest per request with up to a few hundred per thread */
    VN_HTTPD_EPOLL,    /* epoll(7): for thousands of connections */
};

struct vn_httpd_options {
    const char *listen;         /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:443"; port 0 ok */
    const char *path;           /* notification path, "/notifications" */
    const char *tls_cert_file;  /* PEM; both or neither */
    const char *tls_key_file;   /* PEM; a secret file: 0600 */
    const char *tls_priorities; /* GnuTLS priority string; NULL: VN_HTTPD_TLS_PRIORITIES */
    size_t max_body;            /* bytes */
    size_t max_header;          /* per-connection memory for headers (MHD memory limit) */
    unsigned max_connections;
    unsigned max_per_ip;
    unsigned idle_timeout_s;   /* inactivity on a connection */
    int64_t header_timeout_ms; /* a request's headers must arrive within this */
    int64_t read_timeout_ms;   /* the whole body must arrive within this */
    unsigned threads;          /* 0: one per CPU but the writer's (at least one) */
    enum vn_httpd_loop event_loop;
    size_t max_depth;       /* JSON nesting */
    unsigned retry_after_s; /* Retry-After of a 503 */
    size_t quarantine_max;  /* bytes of a non-notification body kept in quarantine */
    /* Where rejected requests (401/403) are recorded (docs/SCHEMA.md `rejections`), and
     * how many rows and how old they are kept (0: no limit). NULL: not recorded. Borrowed;
     * the writer must stop after vn_httpd_quiesce and before vn_httpd_free. */
    struct vn_writer *writer;
    long long rejections_max;
    int64_t rejections_max_age_ms;
    /* Peers whose X-Forwarded-For names the client ("10.0.0.0/8", "::1"); borrowed. */
    const char *const *trusted_proxies;
    size_t ntrusted_proxies;
};

/* Start serving. ingest and auth are borrowed and must outlive the server. */
struct vn_httpd *vn_httpd_start(const struct vn_httpd_options *opts, struct vn_ingest *ingest,
                                struct vn_auth *auth, struct vn_error *err);

/* The address actually bound ("127.0.0.1:39211"), valid until vn_httpd_free. */
const char *vn_httpd_address(const struct vn_httpd *h);

/* The event loop the HTTP threads run, "poll" or "epoll" (epoll when poll was asked for and
 * libmicrohttpd lacks it); static. */
const char *vn_httpd_event_loop(const struct vn_httpd *h);

/* How many HTTP threads serve (--threads N, or for 0 one per CPU but the writer's: at least
 * one). */
unsigned vn_httpd_threads(const struct vn_httpd *h);

/*
 * Apply what a reload (SIGHUP) may change, from new options: the limits max_body, max_depth,
 * header_timeout_ms, read_timeout_ms, max_per_ip, retry_after_s, quarantine_max (for requests
 * that start from now on), the rejections' retention, and the TLS certificate and key, read again
 * from their files (new handshakes present the new pair; no connection is closed). Every other
 * option needs a restart and is ignored here. 0, or an error when the new TLS pair was refused: the
 * old pair stays in use (the limits were applied). Call from one thread at a time.
 */
int vn_httpd_reload(struct vn_httpd *h, const struct vn_httpd_options *opts, struct vn_error *err);

/* The certificate served now, for logs: "subject '...', valid until ..., sha256 ..." and its
 * SHA-256 fingerprint (hex); NULL without TLS. Valid until the next reload. */
const char *vn_httpd_tls_describe(struct vn_httpd *h);
const char *vn_httpd_tls_fingerprint(struct vn_httpd *h);

/* Stop accepting new connections; requests already in progress go on. */
void vn_httpd_quiesce(struct vn_httpd *h);

/* Requests received and not yet completed. */
unsigned vn_httpd_in_flight(struct vn_httpd *h);

/* Stop the server (closing every connection) and free it. NULL is allowed. */
void vn_httpd_free(struct vn_httpd *h);

#endif
