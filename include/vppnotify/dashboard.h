/*
 * dashboard.h - what serve mounts on the API listener for operators (contract section 10):
 *
 *   GET /metrics     the Prometheus text (metrics.h): process counters and the store's gauges;
 *                    scope read (Authorization: Bearer <API key>), as Prometheus' bearer auth
 *   GET /healthz     the details the public /healthz no longer shows: the store, the writer's
 *                    counters, every location's token and subscription status; scope read
 *   GET /            the dashboard: a login form (an API key) or, with a session, one
 *                    server-rendered page (licenses, events, locations, recent notifications,
 *                    rejected requests); plain HTML and inline CSS, no script, no external asset
 *   POST /login      form field "key": a valid API key opens a session (cookie vn_session:
 *                    random, HttpOnly, SameSite=Strict, Secure on TLS, server-side, bounded
 *                    lifetime); the key itself never goes into the cookie
 *   POST /logout     ends the session
 *
 * Sessions live in this process's memory (at most VN_DASHBOARD_SESSIONS; the oldest goes
 * first); a restart logs everybody out. A session keeps the key it was opened with and checks
 * it again on each page, so revoking the key ends its sessions at once.
 *
 * Ownership: vn_dashboard_mount returns an owned handle (vn_dashboard_free, after the listener
 * is freed: its routes point into it). Everything in the options is borrowed for as long.
 */
#ifndef VPPNOTIFY_DASHBOARD_H
#define VPPNOTIFY_DASHBOARD_H

#include <jansson.h>
#include <stdint.h>

struct vn_api;
struct vn_error;
struct vn_ingest;
struct vn_dashboard;

#define VN_DASHBOARD_SESSIONS 64

struct vn_dashboard_options {
    struct vn_ingest *ingest;                     /* writer counters; may be NULL */
    void (*health_extra)(void *ud, json_t *body); /* adds "locations" to /healthz; may be NULL */
    void *health_ud;
    long long max_assets; /* /metrics and the dashboard: assets at most; 0: 10000 */
    int64_t session_ms;   /* session lifetime; 0: 8 hours */
    int secure_cookie;    /* the listener serves HTTPS: cookies get Secure */
};

/* Mount the routes above on api (between vn_api_new and vn_api_start). NULL with err set. */
struct vn_dashboard *vn_dashboard_mount(struct vn_api *api, const struct vn_dashboard_options *o,
                                        struct vn_error *err);

/* From now on the routes no longer use o->ingest and o->health_extra (they answer without
 * them): call before freeing those while the listener may still serve. NULL is allowed. */
void vn_dashboard_detach(struct vn_dashboard *d);

/* Free the sessions (wiping the keys they hold). NULL is allowed. */
void vn_dashboard_free(struct vn_dashboard *d);

#endif
