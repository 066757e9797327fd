/*
 * backend.c - the PostgreSQL backend as store.c sees it: the operations table (store_impl.h
 * struct vn_store_ops) naming each file's functions, and the hooks that the files below run of
 * the files above them (pg_impl.h struct vn__pg_hooks). The top of the backend: every other
 * file of it is below this one, and none calls a file above itself.
 */
#include "pg_impl.h"

static const struct vn__pg_hooks pg_hooks = {
    .ensure = vn__pg_ensure,                     /* handle.c, for exec.c */
    .writer_lock = vn__pg_writer_lock,           /* handle.c, for exec.c */
    .flush_commit = vn__pg_changes_flush_commit, /* api.c, for handle.c */
    .committed = vn__pg_changes_committed,       /* api.c, for handle.c */
};

static const struct vn_store_ops pg_ops = {
    .name = "postgresql",
    .free = vn__pg_free,
    .schema_version = vn__pg_schema_get,
    .describe = vn__pg_describe,
    .begin = vn__pg_begin,
    .commit = vn__pg_commit,
    .rollback = vn__pg_rollback,
    .savepoint = vn__pg_savepoint,
    .release = vn__pg_release,
    .rollback_to = vn__pg_rollback_to,
    .optimistic = vn__pg_optimistic,
    .notifications_known = vn__pg_notifications_known,
    .ping = vn__pg_ping,
    .reconnect = vn__pg_reconnect,
    .notification_insert = vn__pg_notification_insert,
    .notification_repeat = vn__pg_notification_repeat,
    .notification_set_state = vn__pg_notification_set_state,
    .notification_body = vn__pg_notification_body,
    .stored_ids = vn__pg_stored_ids,
    .quarantine = vn__pg_quarantine,
    .asset_adjust = vn__pg_asset_adjust,
    .assignment_insert = vn__pg_assignment_insert,
    .assignment_delete = vn__pg_assignment_delete,
    .user_upsert = vn__pg_user_upsert,
    .subscription_set_counts = vn__pg_subscription_set_counts,
    .seat_upsert = vn__pg_seat_upsert,
    .seat_delete = vn__pg_seat_delete,
    .location_tested = vn__pg_location_tested,
    .event_note = vn__pg_event_note,
    .event_failed_item = vn__pg_event_failed_item,
    .tokens = vn__pg_tokens,
    .tokens_version = vn__pg_tokens_version,
    .location_add = vn__pg_location_add,
    .location_remove = vn__pg_location_remove,
    .location_rotate = vn__pg_location_rotate,
    .query = vn__pg_query,
    .location_unrotate = vn__pg_location_unrotate,
    .config_ensure = vn__pg_config_ensure,
    .location_apple = vn__pg_location_apple,
    .apple_uids = vn__pg_apple_uids,
    .location_update = vn__pg_location_update,
    .sync_asset = vn__pg_sync_asset,
    .sync_assignment = vn__pg_sync_assignment,
    .sync_user = vn__pg_sync_user,
    .sync_subscription = vn__pg_sync_subscription,
    .sync_seat = vn__pg_sync_seat,
    .sync_sweep = vn__pg_sync_sweep,
    .sync_state_get = vn__pg_sync_state_get,
    .sync_state_put = vn__pg_sync_state_put,
    .event_track = vn__pg_event_track,
    .events_tracking = vn__pg_events_tracking,
    .event_tracking_update = vn__pg_event_tracking_update,
    .event_counts = vn__pg_event_counts,
    .last_notification = vn__pg_last_notification,
    .recent_notifications = vn__pg_recent_notifications,
    .backup = vn__pg_backup,
    .rejections_add = vn__pg_rejections_add,
    .rejections = vn__pg_rejections,
    .lease_take = vn__pg_lease_take,
    .lease_release = vn__pg_lease_release,
    .mutex_lock = vn__pg_mutex_lock,
    .mutex_unlock = vn__pg_mutex_unlock,
    .mutex_fence = vn__pg_mutex_fence,
    .table_rows = vn__pg_table_rows,
    .table_insert = vn__pg_table_insert,
    .table_loaded = vn__pg_table_loaded,
    .api = &vn__pg_api_ops,
    .clock_tick = vn__pg_clock_tick,
    .clock = vn__pg_clock,
    .key_state = vn__pg_key_state,
    .key_event = vn__pg_key_event,
    .assignment_keys_known = vn__pg_assignment_keys_known,
    .event_send_seq = vn__pg_event_send_seq,
    .verify_add = vn__pg_verify_add,
    .verify_list = vn__pg_verify_list,
    .verify_done = vn__pg_verify_done,
    .tombstones_purge = vn__pg_tombstones_purge,
    .seat_count = vn__pg_seat_count,
    .mark_needs_sync = vn__pg_mark_needs_sync,
};
struct vn_store *vn__store_pg_open(struct vn__store_url *u, const struct vn_store_options *opts,
                                   struct vn_error *err)
{
    return vn__pg_open(u, opts, &pg_ops, &pg_hooks, err);
}
