/*
 * apply.h - how each notification type changes the mirror (contract.md section 3).
 *
 * The rules live here, once, on top of the store's primitives, so that every backend gets
 * the same behaviour and the ingest writer and `replay` share it.
 */
#ifndef VPPNOTIFY_APPLY_H
#define VPPNOTIFY_APPLY_H

#include <stdint.h>

struct vn_error;
struct vn_notification;
struct vn_store;

/* What applying one notification changed, for logs and tests. */
struct vn_apply_stats {
    long long inserted; /* assignments or seats inserted */
    long long deleted;  /* assignments or seats deleted */
    long long upserted; /* users upserted, subscriptions or assets adjusted */
    long long skipped;  /* items older than the key's last change (contract 3.1): not applied */
};

/*
 * Apply a notification whose payload validated (n->valid) to the mirror of n->uid, and note
 * it on its event when it carries an eventId. Runs inside the caller's transaction and does
 * not commit. now_ms is the receive time (TEST_NOTIFICATION's lastTestNotificationAt).
 * stats may be NULL. Returns 0 or the store's error; on error the caller rolls back.
 */
int vn_apply(struct vn_store *st, const struct vn_notification *n, int64_t now_ms,
             struct vn_apply_stats *stats, struct vn_error *err);

#endif
