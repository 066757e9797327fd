/*
 * auth.h - who is posting: the bearer token of a request → the location (uId) it belongs to.
 *
 * The cache holds the SHA-256 digest of every valid token (current ones, and previous ones
 * until their grace deadline) in an immutable snapshot. A lookup hashes the presented token and
 * compares it with every digest in constant time, without an early exit, and takes no lock:
 * the snapshot is published with an atomic pointer and retired snapshots are freed only once
 * no lookup can still be reading them (a reader count observed at zero after the swap).
 *
 * One checker thread owns the store handle. It compares the store's token version (one point
 * read) at least every refresh interval, so that a removed or rotated-out token stops working
 * within it, and reloads the snapshot when the version moved. A token that is not in the
 * snapshot is not refused at once: it may have been created a moment ago by another process
 * (`location add`, `rotate-token`; Apple's TEST_NOTIFICATION follows within milliseconds).
 * The caller asks for a confirmation (vn_auth_confirm) and is called back after a version check
 * that started after its request; then it looks up again. Confirmations are coalesced: one
 * version check serves every miss queued before it, checks are at least VN_AUTH_CHECK_GAP_MS
 * apart, and the queue is bounded, so callers with wrong tokens cost the store a bounded rate of
 * point reads and never hold an HTTP thread or a lock that hits need.
 */
#ifndef VPPNOTIFY_AUTH_H
#define VPPNOTIFY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "vppnotify/notification.h"

struct vn_error;
struct vn_store;
struct vn_auth;

#define VN_AUTH_CHECK_GAP_MS 2    /* least time between two version checks for misses */
#define VN_AUTH_QUEUE_MAX    4096 /* misses waiting for a check; more: VN_EFULL */

/*
 * Split an Authorization header value into its bearer token: the scheme "Bearer" in any case,
 * exactly one space, then one token with no spaces. On success *token points into header and
 * *len is its length. VN_EAUTH when the header is NULL or malformed.
 */
int vn_auth_parse_bearer(const char *header, const char **token, size_t *len);

/*
 * A cache that reads tokens through st, which it takes ownership of (even on failure). refresh_ms:
 * the longest a removed token is still accepted. Starts the checker thread. NULL with err on
 * failure.
 */
struct vn_auth *vn_auth_new(struct vn_store *st, int64_t refresh_ms, struct vn_error *err);

/* Stop the checker (confirmations still queued are called back first) and free. NULL ok. */
void vn_auth_free(struct vn_auth *a);

/*
 * Look up an Authorization header value in the current snapshot, without a lock or a store
 * read. 0: copies the location's uId into uid (capacity VN_ID_MAX + 1). VN_EAUTH: missing or
 * malformed header (final). VN_ENOTFOUND: not in the snapshot; final only after a
 * confirmation. Thread-safe.
 */
int vn_auth_lookup(struct vn_auth *a, const char *header, char uid[VN_ID_MAX + 1]);

/* A confirmation request: owned by the caller, valid until done() was called. */
struct vn_auth_wait {
    void (*done)(struct vn_auth_wait *w); /* on the checker thread; short; no vn_auth calls */
    void *ud;
    struct vn_auth_wait *next; /* private */
};

/*
 * Ask for a version check that starts after this call; w->done is called once it completed
 * (and the snapshot was reloaded if tokens changed): look up again then. 0: done will be
 * called exactly once. VN_EFULL (too many waiting) or VN_ESHUTDOWN (vn_auth_close_waits was
 * called): not queued, done will not be called.
 */
int vn_auth_confirm(struct vn_auth *a, struct vn_auth_wait *w);

/* Refuse new confirmations and wait until every queued one was called back (before stopping
 * an HTTP server whose connections wait for them). Lookups go on working. */
void vn_auth_close_waits(struct vn_auth *a);

/*
 * Lookup, confirmed: a blocking convenience for callers outside the HTTP server (and tests).
 * 0 with uid, or VN_EAUTH (missing, malformed or unknown token), or VN_EFULL. Thread-safe.
 */
int vn_auth_check(struct vn_auth *a, const char *header, char uid[VN_ID_MAX + 1]);

/* Make the checker compare the token version now (tests, SIGHUP). */
void vn_auth_invalidate(struct vn_auth *a);

struct vn_auth_stats {
    uint64_t lookups, misses; /* lookups; of them not found in the snapshot */
    uint64_t confirms;        /* confirmations asked for */
    uint64_t checks, reloads; /* version checks (store point reads), snapshot reloads */
    uint64_t reload_failures; /* reloads that failed (the previous snapshot stayed) */
    size_t tokens;            /* digests in the current snapshot */
};

void vn_auth_stats(struct vn_auth *a, struct vn_auth_stats *out);

/* Tests only: make the next snapshot allocation fail (the reload path of an out-of-memory). */
extern int vn__auth_fail_next_alloc;

#endif
