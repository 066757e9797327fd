/*
 * req_impl.h - private to server.c and req.c: the listener (struct vn_api) and a request
 * (struct vn_api_req) as both halves see them. server.c owns the daemon and the request
 * phases (start, stop, one request's life); req.c the parts the handlers call (routes,
 * answers, suspension, accessors, the store pool), so that the handler files (feed.c,
 * requests.c, webhook.c, read.c) depend on req.c and server.c on them, not in a circle.
 */
#ifndef VPPNOTIFY_API_REQ_IMPL_H
#define VPPNOTIFY_API_REQ_IMPL_H

#include "api_impl.h"
#include "vppnotify/buf.h"
#include "vppnotify/store.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MAX_ROUTES   64
#define MAX_PATTERN  128
#define MAX_SEGMENTS 16
#define MAX_ARGS     4
#define MAX_HEADERS  8
#define POOL_MAX     16

struct vn__api_route {
    char method[8];
    char pattern[MAX_PATTERN];
    int prefix; /* pattern ended in a slash and a star: matches every path below it */
    enum vn_api_scope scope;
    vn_api_handler fn;
    void *ud;
};

struct vn_api {
    struct vn_api_options o;            /* o.store points at store_opts, o.db at db */
    struct vn_store_options store_opts; /* params points at params */
    char *db, *params;                  /* owned */
    struct vn__api_route routes[MAX_ROUTES];
    size_t nroutes;
    struct vn__api_keys *keys;
    struct MHD_Daemon *mhd;
    char *tls_cert, *tls_key;
    char address[96];
    atomic_uint in_flight;
    pthread_mutex_t lock;         /* the suspended list, stopping, the store pool */
    struct vn_api_req *suspended; /* requests waiting for vn_api_resume */
    int stopping;
    struct vn_store *pool[POOL_MAX];
    size_t npool;
    struct vn__api_feed *feed;         /* freed after the daemon stopped */
    struct vn__api_webhooks *webhooks; /* stopped by quiesce (before the writer) or free */
    struct vn__api_requests *requests; /* the same */
    char *key_file;                    /* owned copy of o.webhooks.key_file */
};

enum vn__api_phase { PH_BODY, PH_SUSPENDED, PH_DONE };

struct vn__api_header {
    char *name, *value; /* owned */
};

struct vn_api_req {
    struct vn_api *api;
    struct MHD_Connection *conn;
    const struct vn__api_route *route;
    enum vn__api_phase phase;
    char method[16];
    char *path; /* owned copy */
    char *segs; /* owned: the path split at '/', for the args */
    const char *arg_names[MAX_ARGS];
    size_t arg_len[MAX_ARGS];
    const char *arg_vals[MAX_ARGS];
    size_t nargs;
    struct vn_buf body;
    int body_too_big;
    enum vn_api_scope scope;
    char key_name[VN_API_NAME_MAX + 1];
    char remote[64];
    int64_t start_ns;
    unsigned status; /* of the answer, for the log line */
    struct vn__api_header headers[MAX_HEADERS];
    size_t nheaders;
    /* suspension */
    vn_api_handler on_resume;
    void *state;
    void (*free_state)(void *state);
    unsigned flags;
    int in_list; /* on api->suspended, not yet woken (under api->lock) */
    int woken;   /* vn_api_resume was called (under api->lock) */
    struct vn_api_req *prev, *next;
};

/* Does path match r's pattern? With req, "{name}" segments become req's args (req.c). */
int vn__api_route_match(const struct vn__api_route *r, const char *path, struct vn_api_req *req);

/* The handler returned without answering and without suspending, or failed: a 500 (req.c). */
enum MHD_Result vn__api_after_handler(struct vn_api_req *req, int rc);

/* Take req off api->suspended; api->lock held (req.c). */
void vn__api_unlist_locked(struct vn_api *api, struct vn_api_req *req);

#endif
