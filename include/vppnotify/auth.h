/*
 * auth.h - who is posting: the bearer token of a request → the location (uId) it belongs to.
 *
 * The cache holds the SHA-256 digest of every valid token (current ones, and previous ones
 * until their grace deadline). A lookup hashes the presented token and compares it with every
 * digest in constant time, without an early exit. The snapshot is reloaded when the store's
 * token version has moved (one point read): checked after every miss, so that `location add`
 * and `location rotate-token` run by another process take effect on the very next request,
 * and at least every refresh interval on hits, so that a removed token stops working within
 * that interval. Grace deadlines are checked at each lookup.
 */
#ifndef VPPNOTIFY_AUTH_H
#define VPPNOTIFY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "vppnotify/notification.h"

struct vn_error;
struct vn_store;
struct vn_auth;

/*
 * Split an Authorization header value into its bearer token: the scheme "Bearer" in any case,
 * exactly one space, then one token with no spaces. On success *token points into header and
 * *len is its length. VN_EAUTH when the header is NULL or malformed.
 */
int vn_auth_parse_bearer(const char *header, const char **token, size_t *len);

/*
 * A cache that reads tokens through st, which it takes ownership of (one handle, used under
 * the cache's lock). refresh_ms: how long a hit may go without comparing the token version.
 * Returns NULL with err on failure.
 */
struct vn_auth *vn_auth_new(struct vn_store *st, int64_t refresh_ms, struct vn_error *err);

void vn_auth_free(struct vn_auth *a);

/*
 * Authenticate an Authorization header value. On success returns 0 and copies the location's
 * uId into uid (capacity VN_ID_MAX + 1). VN_EAUTH for a missing, malformed or unknown token.
 * Thread-safe.
 */
int vn_auth_check(struct vn_auth *a, const char *header, char uid[VN_ID_MAX + 1]);

/* Force a reload at the next check (tests, SIGHUP). */
void vn_auth_invalidate(struct vn_auth *a);

#endif
