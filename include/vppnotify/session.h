/*
 * session.h - one location's conversation with Apple: its sToken (unsealed for the session),
 * this instance's mdmInfo, and the bookkeeping every answer asks for.
 *
 * vn_session_call wraps vn_apple_call and then records in the store what the answer says
 * about the location: a new tokenExpirationDate; another MDM's mdmInfo (a takeover, logged as
 * a warning) or ours again (the takeover is over); error 9621 or 9625 (the token expired or
 * was revoked). A location whose token is expired or revoked cannot be opened again until a
 * new sToken is installed (location set-stoken): no call is ever repeated with a token Apple
 * refused, so there is no hot retry loop.
 *
 * A session is used by one thread; its store handle is that thread's, for reads. Everything
 * it writes goes through a writer (writer.h): serve's one writer, or an inline writer on the
 * session's store handle when the caller gave none (the CLI).
 */
#ifndef VPPNOTIFY_SESSION_H
#define VPPNOTIFY_SESSION_H

#include <jansson.h>
#include <stdint.h>

#include "vppnotify/apple.h"
#include "vppnotify/lease.h"
#include "vppnotify/secret.h"
#include "vppnotify/stoken.h"
#include "vppnotify/store.h"
#include "vppnotify/writer.h"

/* This instance's mdmInfo: {id: a UUID made once and kept in the store, name, metadata}. */
struct vn_mdm_info {
    char id[VN_UUID_LEN + 1];
    char name[16];     /* "vppnotify" */
    char metadata[64]; /* "vppnotify <version>" */
};

/* Read this instance's mdmInfo from st, creating it once (a job of w) the first time. */
int vn_mdm_info_load(struct vn_store *st, struct vn_writer *w, struct vn_mdm_info *out,
                     struct vn_error *err);

/* {"id", "name", "metadata"} (owned). */
json_t *vn_mdm_info_json(const struct vn_mdm_info *m);

/* Where sessions find the client and the sealing key. The key is read on first need. */
struct vn_session_env {
    struct vn_apple *apple;   /* borrowed */
    const char *key_file;     /* borrowed path of the sealing key */
    struct vn_writer *writer; /* borrowed; NULL: each session makes an inline one */
    struct vn_leases *leases; /* borrowed; NULL: calls need no lease (the CLI). serve: a
                               * session calls Apple only while its location's lease is held */
    int have_key;
    uint8_t key[VN_SEAL_KEY_LEN];
};

struct vn_session {
    struct vn_apple *apple;  /* borrowed */
    struct vn_store *st;     /* borrowed: reads */
    struct vn_writer *w;     /* where its writes go: env's writer, or own_w */
    struct vn_writer *own_w; /* owned inline writer on st, when env gave none */
    struct vn_mdm_info mdm;
    char uid[VN_ID_MAX + 1];
    char *stoken;                 /* owned; wiped by vn_session_release */
    int record;                   /* 1: the location exists in the store with this sToken */
    struct vn_location_apple loc; /* the location as read at open (loc.stoken owned) */
    struct vn_leases *leases;     /* borrowed from the env, or NULL */
};

/*
 * Open a session for a stored location: it must have an sToken, and its status must not be
 * expired or revoked (VN_EAUTH, with a message saying how to install a new one). The sToken is
 * unsealed with env's key. VN_ENOTFOUND: no such location or no sToken.
 */
int vn_session_open(struct vn_session *s, struct vn_session_env *env, struct vn_store *st,
                    const char *uid, struct vn_error *err);

/* A session on an sToken in hand, for a location not (or not yet with it) in the store:
 * nothing is recorded. uid may be NULL until Client Config told it (vn_session_set_uid). Its
 * writes (this instance's mdmInfo, made once) go through w (borrowed), or, when w is NULL, an
 * inline writer of its own on st. */
int vn_session_with_token(struct vn_session *s, struct vn_apple *a, struct vn_store *st,
                          struct vn_writer *w, const char *uid, const char *stoken,
                          struct vn_error *err);

/* Attach the session to a stored location from now on (after the subscribe flow stored it). */
void vn_session_set_uid(struct vn_session *s, const char *uid, int record);

void vn_session_release(struct vn_session *s);

/*
 * Call Apple for the session's location (see vn_apple_call for out and why). endpoint is the
 * Service Config key, path the fallback below the base URL, query and body may be NULL.
 * VN_ESHUTDOWN without a request when the session has leases and the location's is not held
 * (another instance does its Apple work now).
 *
 * Every call for a stored location (any process: serve's tracker and syncs, its API's manage
 * routes, the CLI) holds the store's mutex "location:<uId>" (store.h vn_store_mutex_lock, on
 * the session's store handle) from before the request until its answer, retries included:
 * on PostgreSQL, Apple never sees two requests of one location at once from the processes
 * sharing the database. The call waits in line for it up to the Apple client's lock wait
 * (apple.h vn_apple_lock_wait_ms: --apple-lock-wait, 0: not at all): past that VN_ERETRY
 * without a request, the message naming the location, the wait, and what to do ("another
 * process or instance is calling Apple for it ... try again later, or allow a longer wait:
 * --apple-lock-wait"); the store unavailable: its failure (VN_EUNAVAIL), without a request. A
 * call that has to wait logs so once (info: which location, up to how long), and waits in
 * slices of 500 ms, giving up (VN_ESHUTDOWN, no request) once its client drains (apple.h
 * vn_apple_drain: serve stopping). A session with leases checks its lease again once it has
 * the lock.
 *
 * And before each attempt it takes the mutex's fence (store.h vn_store_mutex_fence) under a
 * token of the call's own, for as long as the attempt can last, given up after the answer: a
 * request that outlived its caller's mutex (the connection broke, the process died) still
 * keeps the next caller waiting (up to the same lock wait; then VN_ERETRY without a request).
 */
int vn_session_call(struct vn_session *s, const char *method, const char *endpoint,
                    const char *path, const char *query, const json_t *body, json_t **out,
                    struct vn_apple_failure *why);

/* Write u to location uid as one job of w, and wait. err (may be NULL) says why not. */
int vn_location_record(struct vn_writer *w, const char *uid, const struct vn_location_update *u,
                       struct vn_error *err);

/* 1 if an answer's mdmInfo names another MDM than this instance (no mdmInfo: 0). */
int vn_session_foreign_mdm(const struct vn_session *s, const json_t *answer);

#endif
