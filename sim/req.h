/*
 * req.h - one HTTP request as vppsim's handlers see it, and the helpers they answer with:
 * query parameters, Apple errors (ErrorResponse with the number's HTTP status), control-API
 * errors ({"error": ...}), 500 for a failed state, the common envelope, pagination.
 *
 * The server (server.c) copies what a handler may read out of libmicrohttpd (method, path,
 * query parameters, three headers, the body), so handlers never touch the connection and run
 * on the engine thread (engine.h) while the connection is suspended.
 *
 * Ownership: the server owns the struct and its copies (sim_req_release); the handler sets
 * resp (owned by the request, replaced by every answer helper). Strings returned by the
 * lookup helpers are borrowed from the request.
 */
#ifndef VPPSIM_REQ_H
#define VPPSIM_REQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sim_ctx;
struct sim_attempt;

struct sim_arg {
    char *key, *value;
};

struct sim_req;
typedef void (*sim_handler)(struct sim_req *r);
/* What a waiting request is told (engine.h). */
typedef void (*sim_settled_fn)(struct sim_req *r, int settled, int64_t pending_events,
                               int64_t busy_notifications);
typedef void (*sim_tested_fn)(struct sim_req *r, const struct sim_attempt *a);

struct sim_req {
    /* The request (owned copies, filled by the server). */
    char method[8];
    char *path;
    const char *body; /* borrowed from the connection; NUL-terminated; NULL when empty */
    size_t body_len;
    char *authorization, *content_type, *host;
    struct sim_arg *args;
    size_t nargs;
    int apple; /* under /mdm/v2 */

    /* Filled while it is answered (engine thread). */
    struct sim_ctx *ctx;
    json_t *json; /* the parsed body of a POST (an object) */
    char uid[40]; /* the authenticated location; "" for unauthenticated routes */
    int64_t token_exp_ms;
    int token_kind;    /* enum sim_token_kind */
    const char *route; /* counter name: the path of a known route, else "(unknown)" */
    int envelope;      /* add uId, tokenExpirationDate, mdmInfo to a 2xx object */

    /* The answer. */
    int status;
    json_t *resp;
    long long retry_after; /* > 0: send Retry-After */
    const char *allow;     /* the Allow header of a 405 (static) */
    int64_t hold_ms;       /* > 0: the server holds the answer this long (latencyMs fault) */

    /* How the engine runs it and hands it back (set by the server). */
    sim_handler run;
    void (*done)(struct sim_req *r); /* the answer is ready: resume the connection */
    void *done_ud;

    /* Engine bookkeeping (engine.c). */
    struct sim_req *next;
    int waiting;
    uint64_t wait_id;
    int64_t wait_deadline_ms;
    sim_settled_fn on_settled;
    sim_tested_fn on_tested;
    json_t *keep; /* what a waiting handler keeps for its continuation (owned) */
};

/* Free the copies, the parsed body, the answer and what a handler kept. */
void sim_req_release(struct sim_req *r);

/* A query parameter (the first value), or NULL. */
const char *sim_arg(const struct sim_req *r, const char *name);
/* Every value of a repeatable query parameter, split on commas too: a new JSON array of
 * strings. */
json_t *sim_arg_list(const struct sim_req *r, const char *name);
/* Boolean query parameter: 0 absent, 1 and *v set, -1 invalid (9602 answered). */
int sim_arg_bool(struct sim_req *r, const char *name, int *v);
/* Integer query parameter in [min, max]: 0 absent, 1 set, -1 invalid (9602 answered). */
int sim_arg_int(struct sim_req *r, const char *name, long long min, long long max, long long *v);

/* Answer an Apple error from the apple_errors table (status and message). */
void sim_error(struct sim_req *r, int number);
/* The same with an errorInfo object (takes info, may be NULL) and a message (NULL: the
 * table's). */
void sim_error_info(struct sim_req *r, int number, json_t *info, const char *msg);
/* A control-API error: {"error": msg}. */
void sim_fail(struct sim_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The state failed (rc from db.h): 500, as 9603 on /mdm/v2 and {"error"} on /_sim/. The
 * cause is already in the log. */
void sim_fail_state(struct sim_req *r, int rc);
/* Answer 200 with obj (takes it). */
void sim_ok(struct sim_req *r, json_t *obj);
/* The answer is final: add the envelope (uId, tokenExpirationDate, mdmInfo) to a 200 object
 * of an authenticated Apple endpoint. */
void sim_req_complete(struct sim_req *r);

/* Page-index pagination of GET assets/assignments/users. */
struct sim_page {
    long long index;
    int64_t total_pages;
    int64_t offset;
    int64_t limit;
};
/* Read pageIndex and check it against count: 0, or -1 with 9602/9650 answered. */
int sim_page_setup(struct sim_req *r, int64_t count, struct sim_page *p);
/* Add currentPageIndex, nextPageIndex (if any), size, totalPages to obj. */
void sim_page_fields(json_t *obj, const struct sim_page *p, size_t size);
/* 1 if a pageIndex other than 0 was asked for (a next page). */
int sim_page_next(const struct sim_req *r);

/* sinceVersionId of a request for collection coll (enum sim_coll): 0 and *seq (-1 when
 * absent), or -1 with 9721 (or 500) answered. */
int sim_req_since(struct sim_req *r, int coll, int64_t *seq);
/* A next-page request under the versionChange fault: change coll first, as another party
 * would (state.h). 0, or -1 with 500 answered. */
int sim_req_version_fault(struct sim_req *r, int coll);

/* 1 if v is absent/null or an array of non-empty strings; 0 otherwise. */
int sim_strings_ok(const json_t *v);
/* 1 if the array of strings v has a repeated value. */
int sim_strings_dup(const json_t *v);

#endif
