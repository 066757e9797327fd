/*
 * backend.c - the SQLite backend as store.c sees it: the operations table (store_impl.h
 * struct vn_store_ops) naming each file's functions, and the hooks that the transaction code
 * (sqlite.c) runs on the files above it (sqlite_impl.h struct vn__sq_hooks). The top of the
 * backend: every other file of it is below this one, and none calls a file above itself.
 */
#include "sqlite_impl.h"

static const struct vn__sq_hooks sqlite_hooks = {
    .pending_flush = vn__sq_assets_flush,   /* batch.c */
    .pending_forget = vn__sq_assets_forget, /* batch.c */
    .before_commit = vn__sq_changes_flush,  /* api.c */
    .committed = vn__sq_changes_committed,  /* api.c */
};

static const struct vn_store_ops sqlite_ops = {
    .name = "sqlite",
    .free = vn__sq_free,
    .schema_version = vn__sq_schema_version,
    .describe = vn__sq_describe,
    .begin = vn__sq_begin,
    .commit = vn__sq_commit,
    .rollback = vn__sq_rollback,
    .savepoint = vn__sq_savepoint,
    .release = vn__sq_release,
    .rollback_to = vn__sq_rollback_to,
    .optimistic = vn__sq_optimistic,
    .ping = vn__sq_ping,
    .reconnect = vn__sq_reconnect,
    .notification_insert = vn__sq_notification_insert,
    .notification_repeat = vn__sq_notification_repeat,
    .notification_set_state = vn__sq_notification_set_state,
    .notification_body = vn__sq_notification_body,
    .stored_ids = vn__sq_stored_ids,
    .quarantine = vn__sq_quarantine,
    .asset_adjust = vn__sq_asset_adjust,
    .assignment_insert = vn__sq_assignment_insert,
    .assignment_delete = vn__sq_assignment_delete,
    .user_upsert = vn__sq_user_upsert,
    .subscription_set_counts = vn__sq_subscription_set_counts,
    .seat_upsert = vn__sq_seat_upsert,
    .seat_delete = vn__sq_seat_delete,
    .location_tested = vn__sq_location_tested,
    .event_note = vn__sq_event_note,
    .event_failed_item = vn__sq_event_failed_item,
    .tokens = vn__sq_tokens,
    .tokens_version = vn__sq_tokens_version,
    .location_add = vn__sq_location_add,
    .location_remove = vn__sq_location_remove,
    .location_rotate = vn__sq_location_rotate,
    .query = vn__sq_query,
    .location_unrotate = vn__sq_location_unrotate,
    .config_ensure = vn__sq_config_ensure,
    .location_apple = vn__sq_location_apple,
    .apple_uids = vn__sq_apple_uids,
    .location_update = vn__sq_location_update,
    .sync_asset = vn__sq_sync_asset,
    .sync_assignment = vn__sq_sync_assignment,
    .sync_user = vn__sq_sync_user,
    .sync_subscription = vn__sq_sync_subscription,
    .sync_seat = vn__sq_sync_seat,
    .sync_sweep = vn__sq_sync_sweep,
    .sync_state_get = vn__sq_sync_state_get,
    .sync_state_put = vn__sq_sync_state_put,
    .event_track = vn__sq_event_track,
    .events_tracking = vn__sq_events_tracking,
    .event_tracking_update = vn__sq_event_tracking_update,
    .api = &vn__sq_api_ops,
    .event_counts = vn__sq_event_counts,
    .last_notification = vn__sq_last_notification,
    .recent_notifications = vn__sq_recent_notifications,
    .backup = vn__sq_backup,
    .rejections_add = vn__sq_rejections_add,
    .rejections = vn__sq_rejections,
    .lease_take = vn__sq_lease_take,
    .lease_release = vn__sq_lease_release,
    .mutex_lock = vn__sq_mutex_lock,
    .mutex_unlock = vn__sq_mutex_unlock,
    .mutex_fence = vn__sq_mutex_fence,
    .table_rows = vn__sq_table_rows,
    .table_insert = vn__sq_table_insert,
    .table_loaded = vn__sq_table_loaded,
    .clock_tick = vn__sq_clock_tick,
    .clock = vn__sq_clock,
    .key_state = vn__sq_key_state,
    .key_event = vn__sq_key_event,
    .event_send_seq = vn__sq_event_send_seq,
    .verify_add = vn__sq_verify_add,
    .verify_list = vn__sq_verify_list,
    .verify_done = vn__sq_verify_done,
    .tombstones_purge = vn__sq_tombstones_purge,
    .seat_count = vn__sq_seat_count,
    .mark_needs_sync = vn__sq_mark_needs_sync,
};
struct vn_store *vn__store_sqlite_open(struct vn__store_url *u, const struct vn_store_options *opts,
                                       struct vn_error *err)
{
    return vn__sq_open(u, opts, &sqlite_ops, &sqlite_hooks, err);
}
