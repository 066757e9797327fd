/*
 * apple.h - the client of Apple's Apps and Books v2 service (or of vppsim), on libcurl.
 *
 * One struct vn_apple per process. It holds the base URL, the Service Config (URLs, limits,
 * notification types; read on first need and refreshed every config_refresh_ms), a connection
 * cache, and per-location state: a token bucket of maxRequestPerSecond requests and the time
 * before which a location must not be called again (Retry-After, backoff). It is thread-safe:
 * serve's tracker and sync threads share one.
 *
 * Politeness (apple-api.md section 1.3): at most maxRequestPerSecond requests per location;
 * 429 or error 9646 -> exponential backoff with full jitter, or Retry-After when Apple sends
 * one; 5xx (9603, 9729) and 9644 -> Retry-After (capped), else backoff; every request has a
 * connect and a total timeout; a bounded number of attempts. A response whose body carries
 * errorNumber is an error whatever its HTTP status (Apple sends 200 with an error body).
 * POSTs are retried only when Apple answered (a synchronous error means nothing was queued),
 * never after a timeout, which could duplicate an async request.
 *
 * The sToken passed in a request is only ever put in the Authorization header: never logged,
 * never in a message, and the header buffer is wiped after the transfer.
 */
#ifndef VPPNOTIFY_APPLE_H
#define VPPNOTIFY_APPLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vppnotify/error.h"

struct vn_buf;
struct vn_apple;

#define VN_APPLE_DEFAULT_URL "https://vpp.itunes.apple.com/mdm/v2"
#define VN_APPLE_MAX_TYPES   16

/* The wait of a call for its location's lock (vn_apple_options.lock_wait_ms): the default,
 * and the value that means "do not wait". */
#define VN_APPLE_LOCK_WAIT_MS 60000
#define VN_APPLE_NO_WAIT      (-1)

struct vn_apple_options {
    const char *base_url;         /* e.g. VN_APPLE_DEFAULT_URL; https, or http on loopback */
    long long timeout_ms;         /* whole request; default 30 s */
    long long config_refresh_ms;  /* Service Config age before a refresh; default 5 min */
    int max_attempts;             /* per call, for retryable failures; default 6 */
    long long backoff_ms;         /* base of the exponential backoff; default 1 s */
    long long backoff_max_ms;     /* the most one backoff waits; default 60 s */
    long long retry_after_max_ms; /* the most a Retry-After is honoured; default 5 min */
    long long lock_wait_ms;       /* how long a session's call waits for its location's lock
                                   * before its request (session.h; the client only keeps
                                   * it, so that every caller on it waits alike); 0: default
                                   * VN_APPLE_LOCK_WAIT_MS; VN_APPLE_NO_WAIT: not at all */
    const char *instance;         /* serve's instance id (lease.h), sent in the User-Agent
                                   * "vppnotify/VERSION (instance ID)"; NULL: none; copied */
};

/* Service Config limits (apple-api.md section 1.4); Apple's documented values until known. */
struct vn_apple_limits {
    long long max_assets, max_client_user_ids, max_serial_numbers;
    long long max_revoke_client_user_ids, max_revoke_serial_numbers;
    long long max_users, max_subscriptions, max_subscription_client_user_ids;
    long long max_notification_length;
    long long max_mdm_name_length, max_mdm_id_length, max_mdm_metadata_length;
    long long max_request_per_second;
};

struct vn_apple_service {
    struct vn_apple_limits limits;
    char types[VN_APPLE_MAX_TYPES][40]; /* notificationTypes, in Apple's order */
    int ntypes;
    int64_t fetched_ms; /* when it was read; 0: never (defaults) */
};

struct vn_apple_failure;

/* One call. Everything is borrowed for the duration of vn_apple_call. */
struct vn_apple_request {
    const char *uid;      /* the location (rate limit, backoff); NULL for Service Config */
    const char *stoken;   /* Authorization: Bearer; NULL for Service Config */
    const char *method;   /* "GET" or "POST" */
    const char *endpoint; /* Service Config url key, e.g. "getAssets"; NULL: use path */
    const char *path;     /* below the base URL, e.g. "assets" (used when the key is unknown) */
    const char *query;    /* encoded query string without '?', or NULL (vn_apple_query_add) */
    const json_t *body;   /* POST body, or NULL */
    /* Called right before each attempt's request (none when it fails) with the longest that
     * attempt can take (the request timeout): nonzero ends the call with that code, why filled
     * by the callback, no request made. NULL: none. session.c fences each request with it. */
    int (*before_attempt)(void *ud, int attempt, int64_t attempt_ms, struct vn_apple_failure *why);
    void *before_attempt_ud;
};

/* Why a call failed. number/name are Apple's when the answer carried an errorNumber. */
struct vn_apple_failure {
    int code;                       /* the return value: VN_EAPPLE, VN_ENET, VN_ESHUTDOWN, ... */
    int http_status;                /* of the last answer; 0 if none */
    int number;                     /* Apple's errorNumber; 0 if none */
    const char *name;               /* "TOKEN_EXPIRED" (apple_errors.c), "UNKNOWN_ERROR", or NULL */
    int attempts;                   /* requests made */
    char message[VN_ERROR_MSG_MAX]; /* one line for people: what, Apple's words, advice */
};

/* Create the client. opts->base_url is validated (https, or http to a loopback host).
 * Returns an owned handle (vn_apple_free) or NULL with err. curl_global_init must have run. */
struct vn_apple *vn_apple_new(const struct vn_apple_options *opts, struct vn_error *err);
void vn_apple_free(struct vn_apple *a);

/* Make every waiting or running call return VN_ESHUTDOWN soon; later calls fail at once. */
void vn_apple_cancel(struct vn_apple *a);

/* 1 once vn_apple_cancel was called. */
int vn_apple_cancelled(struct vn_apple *a);

/* Make every wait before a request give up soon (a session's wait for its location's lock
 * or fence: session.h), while requests already sent run on: serve stopping, before it lets
 * the API's request in progress finish. vn_apple_cancel implies it. */
void vn_apple_drain(struct vn_apple *a);

/* 1 once vn_apple_drain or vn_apple_cancel was called. */
int vn_apple_draining(struct vn_apple *a);

/* The options' lock_wait_ms in milliseconds: 0 for VN_APPLE_NO_WAIT. */
long long vn_apple_lock_wait_ms(const struct vn_apple *a);

/*
 * Make one call, with the retries described above. On success returns 0 and *out, the parsed
 * JSON object of the answer (owned: json_decref). On failure returns the code (VN_EAPPLE: Apple
 * answered with an error, see why->number; VN_ENET: no usable answer; VN_ESHUTDOWN; VN_EPARSE:
 * the answer was not JSON) with why filled (why may be NULL).
 */
int vn_apple_call(struct vn_apple *a, const struct vn_apple_request *req, json_t **out,
                  struct vn_apple_failure *why);

/* The Service Config (read or refreshed if needed). On failure the defaults or the last good
 * copy are still written to *out and the error returned. */
int vn_apple_service(struct vn_apple *a, struct vn_apple_service *out,
                     struct vn_apple_failure *why);

/* Append "name=value" (percent-encoded, '&'-separated) to a query string. 0 or VN_ETOOBIG. */
int vn_apple_query_add(struct vn_buf *q, const char *name, const char *value);

/* 0 if url may be used: https, or http to 127.0.0.1 / ::1 / localhost. VN_EPARSE otherwise. */
int vn_apple_url_check(const char *url, struct vn_error *err);

/* 1 for failures worth another attempt: 429, 5xx, 9603, 9644, 9646, 9729 (pure). */
int vn_apple_retryable(int http_status, int number);

/*
 * How long to wait before attempt number `attempt` + 1 (attempt >= 1 counts the failures so
 * far). With a Retry-After (retry_after_ms > 0) it is min(retry_after_ms, retry_cap_ms).
 * Otherwise full jitter: rnd (uniform in [0, 2^32)) scaled into [0, min(cap_ms, base_ms * 2^(
 * attempt - 1))]. Pure: the unit tests check its bounds.
 */
long long vn_apple_backoff_ms(int attempt, long long base_ms, long long cap_ms,
                              long long retry_after_ms, long long retry_cap_ms, uint32_t rnd);

/* Fill why with a message for an Apple error number (apple_errors.c: name, message, advice);
 * apple_msg is Apple's errorMessage (may be NULL). Pure apart from why. */
void vn_apple_explain(struct vn_apple_failure *why, int http_status, int number,
                      const char *apple_msg, const char *what);

/* Apple's documented example limits, used until Service Config has been read. */
void vn_apple_limits_default(struct vn_apple_limits *l);

#endif
