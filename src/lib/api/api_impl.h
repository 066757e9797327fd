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

/* Call fn(ud) after each commit the feed hears of (the webhooks' wake-up). Before start. */
void vn__api_feed_also(struct vn__api_feed *fd, void (*fn)(void *ud), void *ud);

/* Webhook delivery (webhook.c): a supervisor thread and one thread per active endpoint. */
struct vn__api_webhooks;
struct vn__api_webhooks *vn__api_webhooks_start(struct vn_api *api,
                                                const struct vn_webhook_options *o,
                                                struct vn_error *err);
void vn__api_webhooks_committed(void *wh);
/* Stop every thread (joined); the struct stays, for the change observer may still call
 * vn__api_webhooks_committed until the feed is freed. NULL ok. */
void vn__api_webhooks_stop(struct vn__api_webhooks *wh);
void vn__api_webhooks_free(struct vn__api_webhooks *wh); /* after the feed; NULL ok */

/* Give the listener what it frees: the feed (after its daemon stopped), the webhooks (stopped
 * by vn_api_quiesce, before the writer stops). */
void vn__api_own_feed(struct vn_api *api, struct vn__api_feed *fd);
void vn__api_own_webhooks(struct vn_api *api, struct vn__api_webhooks *wh);

/* The manage routes (requests.c): Apple's requests and syncs on a thread of their own. */
struct vn__api_requests;
struct vn__api_requests *vn__api_requests_start(struct vn_api *api, struct vn_apple *apple,
                                                const struct vn_webhook_options *wo,
                                                struct vn_error *err);
void vn__api_requests_stop(struct vn__api_requests *rq); /* NULL ok */
int vn__api_mount_requests(struct vn_api *api);
void vn__api_own_requests(struct vn_api *api, struct vn__api_requests *rq);
struct vn__api_requests *vn__api_requests_of(struct vn_api *api);

/* The options the listener was made with. */
const struct vn_api_options *vn__api_options(const struct vn_api *api);

#endif
