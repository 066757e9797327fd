/*
 * api.h - the integration API of `vppnotify serve` (contract section 8): its own HTTP(S)
 * listener, apart from the public notification endpoint, API keys with scopes, and a small
 * router on which modules mount their routes.
 *
 * Mounting a route (how /metrics, the dashboard and the /v1 routes get onto the listener):
 *
 *     static int metrics(void *ud, struct vn_api_req *req)
 *     {
 *         ... build the text ...
 *         return vn_api_respond(req, 200, "text/plain; version=0.0.4", text, len);
 *     }
 *
 *     api = vn_api_new(&opts, &err);
 *     vn_api_mount(api, "GET", "/metrics", VN_API_READ, metrics, my_state);
 *     vn_api_start(api, &err);
 *
 * Routes are mounted between vn_api_new and vn_api_start (the table is fixed once serving, so
 * lookups take no lock). A pattern is an exact path ("/v1/assets"), may have "{name}"
 * segments that match one non-empty segment ("/v1/events/{eventId}", read back with
 * vn_api_req_arg), or may end in a segment "*" to match every path below a prefix (the
 * pattern "/dashboard/" followed by "*" matches /dashboard and everything under it).
 * The first matching route in mount order wins. A path that matches with another method gets
 * 405 with Allow; no match gets 404. GET routes also answer HEAD.
 *
 * Scopes: VN_API_PUBLIC routes need no key (a login form, say); VN_API_READ needs a key of
 * scope read or manage; VN_API_MANAGE a key of scope manage. The router checks the key before
 * the handler runs: no, malformed or unknown key → 401 with WWW-Authenticate: Bearer; a valid
 * key of too small a scope → 403 (contract section 2). Keys are "vnk_" and 43 base64url
 * characters; only their SHA-256 digests are stored; a presented key is compared with every
 * stored digest in constant time.
 *
 * Handlers run on the listener's HTTP threads (a small pool, epoll). They must not block for
 * long: a handler that waits (a long poll, a request waiting for the writer or for Apple)
 * suspends its request with vn_api_suspend and returns; whoever finishes the wait calls
 * vn_api_resume from any thread, and the resume handler answers on an HTTP thread.
 *
 * Ownership: a request (struct vn_api_req) is owned by the server and lives until its answer
 * has been sent or the connection is gone; the state attached with vn_api_suspend is freed
 * with its free function at that moment, on an HTTP thread — a module that keeps a pointer to
 * a suspended request elsewhere (a wait list) removes it in that free function, and never
 * touches the request afterwards.
 */
#ifndef VPPNOTIFY_API_H
#define VPPNOTIFY_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vppnotify/secret.h"

struct vn_error;
struct vn_store;
struct vn_store_options;
struct vn_api;
struct vn_api_req;

/* ---- API keys -------------------------------------------------------------------------- */

enum vn_api_scope {
    VN_API_PUBLIC = 0, /* routes only: no key needed */
    VN_API_READ = 1,   /* read routes, the change feed, /metrics */
    VN_API_MANAGE = 2, /* requests to Apple; includes read */
};

#define VN_API_KEY_PREFIX   "vnk_"
#define VN_API_KEY_LEN      (4 + VN_TOKEN_LEN) /* "vnk_" + 43 characters */
#define VN_API_KEY_SHOW_LEN 10 /* characters kept to recognise a key: "vnk_AbCdEf" */
#define VN_API_NAME_MAX     64

/* "read" / "manage" → scope; 0 or VN_EPARSE. */
int vn_api_scope_parse(const char *s, enum vn_api_scope *out);

/* "public", "read", "manage". */
const char *vn_api_scope_name(enum vn_api_scope scope);

/*
 * Create an API key: a new random key is written to key_out (shown once to the operator) and
 * only its digest is stored, with name (1..VN_API_NAME_MAX visible characters, unique among
 * keys not revoked) and scope (read or manage). 0, VN_EPARSE (bad name or scope, err says
 * which), VN_EDUP (a key of that name exists), or a store error. Own transaction.
 */
int vn_api_key_create(struct vn_store *st, const char *name, enum vn_api_scope scope,
                      char key_out[VN_API_KEY_LEN + 1], struct vn_error *err);

/* ---- webhooks (Standard Webhooks) ------------------------------------------------------- */

struct vn_writer;

/* How serve delivers webhooks (webhook.c). */
struct vn_webhook_options {
    struct vn_writer *writer; /* borrowed: cursors and the delivery log are its jobs */
    const char *key_file;     /* the key that seals the endpoints' secrets (copied) */
    int64_t timeout_ms;       /* one delivery, connection included; 0: 10 s */
    int64_t backoff_ms;       /* first wait after a failure, doubling; 0: 1 s */
    int64_t retry_for_ms;     /* a message failing this long disables the endpoint; 0: 24 h */
    /* Several instances on one database (PostgreSQL): one instance at a time delivers to an
     * endpoint, under the lease "webhook:<id>" (lease.h) of this ttl; 0: 60 s. */
    int64_t lease_ttl_ms;
    const char *instance; /* this instance's id (vn_lease_holder): the lease holder and the
                           * User-Agent "vppnotify/VERSION (instance ID)"; NULL: one is made */
};

/*
 * The signing key of a secret "whsec_<base64>" (the prefix is optional): 24 to 64 bytes into
 * key (capacity cap), *len their number. 0 or VN_EPARSE.
 */
int vn_webhook_secret_key(const char *secret, uint8_t *key, size_t cap, size_t *len);

/*
 * The webhook-signature value "v1,<base64 of HMAC-SHA256(key, id "." ts "." body)>" into out
 * (at least 52 bytes). 0 or VN_ETOOBIG.
 */
int vn_webhook_sign(const uint8_t *key, size_t keylen, const char *id, long long ts,
                    const char *body, size_t body_len, char *out, size_t outlen);

/* ---- the listener ------------------------------------------------------------------------ */

struct vn_api_options {
    const char *listen;                   /* "127.0.0.1:8090"; port 0 picks a free port */
    const char *tls_cert_file;            /* PEM; both or neither */
    const char *tls_key_file;             /* PEM, a secret file (0600) */
    unsigned threads;                     /* HTTP threads; 0: 2 */
    unsigned max_connections;             /* 0: 256 */
    size_t max_body;                      /* request bodies (manage routes); 0: 1 MiB */
    size_t max_header;                    /* per-connection memory for headers; 0: 32 KiB */
    unsigned idle_timeout_s;              /* an idle connection is closed after this; 0: 75 s */
    const char *db;                       /* the store, for keys and the read routes */
    const struct vn_store_options *store; /* may be NULL */
    int64_t key_refresh_ms;               /* a revoked key stops working within this; 0: 1 s */
    /* Webhooks are delivered (by vn_api_mount_v1) when webhooks.writer is set; the manage
     * routes are mounted when apple is set too (they need the writer and the key file). */
    struct vn_webhook_options webhooks;
    struct vn_apple *apple; /* borrowed */
};

/*
 * A listener that does not listen yet: mount routes, then vn_api_start. Opens its own read
 * handle on the store for API keys. Returns an owned handle (vn_api_free) or NULL with err.
 */
struct vn_api *vn_api_new(const struct vn_api_options *opts, struct vn_error *err);

/* A route handler: answer with one of the vn_api_respond* calls, or suspend. Return 0, or a
 * negative code when it could not answer (the router then answers 500). */
typedef int (*vn_api_handler)(void *ud, struct vn_api_req *req);

/*
 * Mount handler for method ("GET", "POST", ...) on pattern with the scope it needs. ud is
 * borrowed and must outlive the listener. Only before vn_api_start. 0, VN_EPARSE (bad pattern
 * or method), VN_ETOOBIG (more than 64 routes), VN_ECONFLICT (already started).
 */
int vn_api_mount(struct vn_api *api, const char *method, const char *pattern,
                 enum vn_api_scope scope, vn_api_handler handler, void *ud);

/*
 * Mount the routes of contract section 8 that the library serves (/v1/...; docs/API.md and
 * docs/openapi.yaml list them). 0, or a negative code with err.
 */
int vn_api_mount_v1(struct vn_api *api, struct vn_error *err);

/* Start listening. 0, or a negative code with err (address in use, bad TLS files). */
int vn_api_start(struct vn_api *api, struct vn_error *err);

/* The address actually bound ("127.0.0.1:41873"), once started; "" before. */
const char *vn_api_address(const struct vn_api *api);

/* 1 when serving HTTPS. */
int vn_api_tls(const struct vn_api *api);

/*
 * Stop accepting connections and answer every suspended request (their resume handlers run
 * with vn_api_req_stopping true), then wait up to timeout_ms for requests in progress.
 */
void vn_api_quiesce(struct vn_api *api, int64_t timeout_ms);

/* Stop (closing every connection) and free. NULL is allowed. */
void vn_api_free(struct vn_api *api);

/* Is a key valid, and of which scope? header is an Authorization value ("Bearer vnk_...").
 * 0 with *scope and the key's name (capacity VN_API_NAME_MAX + 1; may be NULL), or VN_EAUTH.
 * Thread-safe. For handlers that take a key another way (a login form). */
int vn_api_authenticate(struct vn_api *api, const char *header, enum vn_api_scope *scope,
                        char *name);

/* ---- a request, inside a handler --------------------------------------------------------- */

const char *vn_api_req_method(const struct vn_api_req *req);
const char *vn_api_req_path(const struct vn_api_req *req);

/* The segment a "{name}" of the route's pattern matched, or NULL. Borrowed from req. */
const char *vn_api_req_arg(const struct vn_api_req *req, const char *name);

/* A query-string argument (decoded), or NULL. */
const char *vn_api_req_query(const struct vn_api_req *req, const char *name);

/* The first query-string argument whose name is not in allowed (NULL-terminated), or NULL:
 * routes refuse parameters they do not know (a misspelt filter would silently match all). */
const char *vn_api_req_query_unknown(const struct vn_api_req *req, const char *const *allowed);

/* A request header (case-insensitive name), or NULL. */
const char *vn_api_req_header(const struct vn_api_req *req, const char *name);

/* The request body (NUL-terminated; at most max_body bytes, 413 beyond). "" when none. */
const char *vn_api_req_body(const struct vn_api_req *req, size_t *len);

/* The authenticated key's scope and name ("" on a public route without a key). */
enum vn_api_scope vn_api_req_scope(const struct vn_api_req *req);
const char *vn_api_req_key_name(const struct vn_api_req *req);

/* The client's numeric address ("127.0.0.1"). */
const char *vn_api_req_remote(const struct vn_api_req *req);

/* Add a header to the answer (before responding). At most 8; 0 or VN_ETOOBIG. Copied. */
int vn_api_req_add_header(struct vn_api_req *req, const char *name, const char *value);

/*
 * Answer. The body is copied. Every answer carries Cache-Control: no-store. 0, or a negative
 * code (the connection is then closed).
 */
int vn_api_respond(struct vn_api_req *req, unsigned status, const char *content_type,
                   const void *body, size_t len);

/* Answer with a JSON value (the reference is stolen; NULL means out of memory → 500). */
int vn_api_respond_json(struct vn_api_req *req, unsigned status, json_t *body);

/* Answer {"error": "<message>"} with status; the message is printf-style. */
int vn_api_respond_error(struct vn_api_req *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* vn_api_suspend flags. */
enum {
    /* Wake this request when the listener stops (a long poll: it answers with what it has).
     * Without it, the request waits for its resume even while stopping (a job the writer
     * will finish: the daemon drains the listener before it stops the writer). */
    VN_API_WAKE_ON_STOP = 1 << 0,
};

/*
 * Suspend the request: return 0 from the handler without answering. When vn_api_resume is
 * called (from any thread; before or after the handler returned), on_resume runs on an HTTP
 * thread with the same req and must answer or suspend again. state is the handler's, reached
 * with vn_api_req_state; free_state(state) runs when the request ends (may be NULL); a state
 * passed to an earlier suspend of the same request is freed first. flags: VN_API_WAKE_ON_STOP.
 */
int vn_api_suspend(struct vn_api_req *req, vn_api_handler on_resume, void *state,
                   void (*free_state)(void *state), unsigned flags);

/* Wake a suspended request. Once per vn_api_suspend; a second call is ignored. */
void vn_api_resume(struct vn_api_req *req);

/* The state given to vn_api_suspend, or NULL. */
void *vn_api_req_state(const struct vn_api_req *req);

/* 1 when the listener is stopping: a resume handler answers at once with what it has. */
int vn_api_req_stopping(const struct vn_api_req *req);

/* The listener a request came to (for vn_api_store_acquire). */
struct vn_api *vn_api_req_api(const struct vn_api_req *req);

/*
 * Borrow a read-only store handle (from a small pool; opened on first need) for the duration
 * of one handler call; give it back with vn_api_store_release. NULL with the reason logged
 * when the store cannot be opened. Thread-safe.
 */
struct vn_store *vn_api_store_acquire(struct vn_api *api);
void vn_api_store_release(struct vn_api *api, struct vn_store *st);

#endif
