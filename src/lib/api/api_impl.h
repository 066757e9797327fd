/*
 * api_impl.h - private to the integration API's files (src/lib/api/): the key cache that
 * server.c asks on every request.
 */
#ifndef VPPNOTIFY_API_IMPL_H
#define VPPNOTIFY_API_IMPL_H

#include "vppnotify/api.h"

/*
 * A snapshot of the digests of every key that is not revoked, reloaded when the store's key
 * version moved: compared after every miss (a key created a moment ago by the CLI works on
 * its first request) and at least every refresh_ms on hits (a revoked key stops working
 * within that). Takes ownership of st (one read handle, used under the cache's lock).
 */
struct vn__api_keys;

struct vn__api_keys *vn__api_keys_new(struct vn_store *st, int64_t refresh_ms,
                                      struct vn_error *err);
void vn__api_keys_free(struct vn__api_keys *k);

/* See vn_api_authenticate. name may be NULL. */
int vn__api_keys_check(struct vn__api_keys *k, const char *header, enum vn_api_scope *scope,
                       char *name);

/* Mount the read routes (read.c). 0 or the code of vn_api_mount. */
int vn__api_mount_read(struct vn_api *api);

/*
 * The change feed (feed.c): its wait list, the store's change observer (one per process) and
 * a thread that polls the log's head while requests wait (poll_ms, for other processes'
 * commits). Freed by the listener after its last request ended.
 */
struct vn__api_feed;
struct vn__api_feed *vn__api_feed_new(struct vn_api *api, int64_t poll_ms, struct vn_error *err);
void vn__api_feed_free(struct vn__api_feed *fd);
int vn__api_mount_feed(struct vn_api *api, struct vn__api_feed *fd);

/* Give the listener something to free after its daemon stopped (the feed). */
void vn__api_own_feed(struct vn_api *api, struct vn__api_feed *fd);

#endif
