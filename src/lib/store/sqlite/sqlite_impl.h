/*
 * sqlite_impl.h - private to the SQLite backend's files (src/lib/store/sqlite/).
 *
 * The SQLite backend is split by concern: backend.c (the operations table: what the files
 * below are to store.c), sqlite.c (the handle, open, migrations, errors, statements,
 * transactions), schema.c (migration texts), write.c (the ledger, mirror, events, locations),
 * apple.c (the Apple side: sTokens, subscriptions, sync, tracked events), query.c (read
 * queries) and api.c (the integration API's tables: API keys). They share the handle struct and a
 * few helpers, declared here; store.c and other backends never include this file.
 */
#ifndef VPPNOTIFY_SQLITE_IMPL_H
#define VPPNOTIFY_SQLITE_IMPL_H

#include "store_impl.h"

#include <sqlite3.h>

#include "vppnotify/util.h"

/* One slot per prepared statement: prepared on first use, reused for the handle's life. */
enum vn__sq_slot {
    VN_SQ_BEGIN,
    VN_SQ_COMMIT,
    VN_SQ_ROLLBACK,
    VN_SQ_SAVEPOINT,
    VN_SQ_RELEASE,
    VN_SQ_ROLLBACK_TO,
    VN_SQ_HEALTH,
    VN_SQ_NOTIF_INSERT,
    VN_SQ_NOTIF_REPEAT,
    VN_SQ_NOTIF_SET_STATE,
    VN_SQ_NOTIF_BODY,
    VN_SQ_STORED_IDS,
    VN_SQ_QUARANTINE,
    VN_SQ_ASSET_ADJUST,
    VN_SQ_ASSET_LOAD, /* batch.c */
    VN_SQ_ASSET_STORE,
    VN_SQ_ASSET_CREATE,
    VN_SQ_ASSIGN_INSERT,
    VN_SQ_ASSIGN_DELETE_USER,
    VN_SQ_ASSIGN_DELETE_DEVICE,
    VN_SQ_USER_UPSERT,
    VN_SQ_SUB_COUNTS,
    VN_SQ_SEAT_UPSERT,
    VN_SQ_SEAT_DELETE,
    VN_SQ_LOC_TESTED,
    VN_SQ_EVENT_NOTE,
    VN_SQ_EVENT_ERROR,
    VN_SQ_EVENT_ITEM,
    VN_SQ_TOKENS,
    VN_SQ_TOKENS_VERSION,
    VN_SQ_HEALTH_PROBE,
    VN_SQ_NOTIF_REPEAT_LOG,
    VN_SQ_LOC_INSERT,
    VN_SQ_LOC_EXISTS,
    VN_SQ_TOKEN_INSERT,
    VN_SQ_TOKEN_DROP_PREVIOUS,
    VN_SQ_TOKEN_EXPIRE_CURRENT,
    VN_SQ_TOKEN_DROP_CURRENT,
    VN_SQ_LOC_DELETE,
    VN_SQ_DEL_ASSETS,
    VN_SQ_DEL_ASSIGN_USER,
    VN_SQ_DEL_ASSIGN_DEVICE,
    VN_SQ_DEL_USERS,
    VN_SQ_DEL_SUBS,
    VN_SQ_DEL_SEATS,
    VN_SQ_DEL_EVENTS,
    VN_SQ_Q_ASSETS,
    VN_SQ_Q_ASSIGNMENTS,
    VN_SQ_Q_USERS,
    VN_SQ_Q_SUBSCRIPTIONS,
    VN_SQ_Q_SEATS,
    VN_SQ_Q_EVENTS,
    VN_SQ_Q_NOTIFICATIONS,
    VN_SQ_Q_LOCATIONS,
    VN_SQ_Q_QUARANTINE,
    VN_SQ_TOKEN_UNROTATE_DROP,
    VN_SQ_TOKEN_UNROTATE_PROMOTE,
    VN_SQ_DEL_TRACKING,
    VN_SQ_DEL_SYNC_STATE,
    VN_SQ_CONFIG_INSERT,
    VN_SQ_CONFIG_GET,
    VN_SQ_LOC_APPLE,
    VN_SQ_APPLE_UIDS,
    VN_SQ_LOC_UPDATE,
    VN_SQ_SYNC_ASSET_UPD,
    VN_SQ_SYNC_ASSET_MARK,
    VN_SQ_SYNC_ASSET_INS,
    VN_SQ_SYNC_ASSIGN_MARK_USER,
    VN_SQ_SYNC_ASSIGN_MARK_DEVICE,
    VN_SQ_SYNC_ASSIGN_INS,
    VN_SQ_SYNC_USER_UPD,
    VN_SQ_SYNC_USER_MARK,
    VN_SQ_SYNC_USER_INS,
    VN_SQ_SYNC_SUB_UPD,
    VN_SQ_SYNC_SUB_MARK,
    VN_SQ_SYNC_SUB_INS,
    VN_SQ_SYNC_SEAT_UPD,
    VN_SQ_SYNC_SEAT_MARK,
    VN_SQ_SYNC_SEAT_INS,
    VN_SQ_SWEEP_ASSETS,
    VN_SQ_SWEEP_ASSIGNMENTS,
    VN_SQ_SWEEP_USERS,
    VN_SQ_SWEEP_SUBS,
    VN_SQ_SWEEP_SEATS,
    VN_SQ_SYNC_STATE_GET,
    VN_SQ_SYNC_STATE_PUT,
    VN_SQ_EVENT_TRACK,
    VN_SQ_EVENTS_TRACKING,
    VN_SQ_EVENT_TRACKING_UPDATE,
    VN_SQ_Q_FAILED_ITEMS,
    /* api.c: the integration API's tables */
    VN_SQ_API_KEY_ADD,
    VN_SQ_API_KEY_REVOKE,
    VN_SQ_API_KEYS,
    VN_SQ_API_KEYS_VERSION,
    VN_SQ_Q_API_KEYS,
    VN_SQ_CH_ANY,
    VN_SQ_CH_ASSETS,
    VN_SQ_CH_ASSIGN_USER,
    VN_SQ_CH_ASSIGN_DEVICE,
    VN_SQ_CH_USERS,
    VN_SQ_CH_SUBS,
    VN_SQ_CH_SEATS,
    VN_SQ_CH_EVENTS,
    VN_SQ_CH_LIFECYCLE,
    VN_SQ_CH_LOCATIONS,
    VN_SQ_CH_CLEAR,
    VN_SQ_CH_PRUNE_MAX,
    VN_SQ_CH_PRUNE,
    VN_SQ_CH_PRUNED,
    VN_SQ_CH_READ,
    VN_SQ_CH_HEAD,
    VN_SQ_CH_RETENTION,
    VN_SQ_LEASE_TAKE,
    VN_SQ_LEASE_RELEASE,
    VN_SQ_Q_LEASES,
    VN_SQ_WH_ADD,
    VN_SQ_WH_REMOVE,
    VN_SQ_WH_REMOVE_LOG,
    VN_SQ_WH_LIST,
    VN_SQ_WH_UPDATE,
    VN_SQ_WH_EXISTS,
    VN_SQ_WH_LOG,
    VN_SQ_WH_REDELIVER,
    VN_SQ_WH_PRUNE_LOG,
    VN_SQ_Q_WEBHOOKS,
    VN_SQ_Q_WEBHOOK_DELIVERIES,
    VN_SQ_IDEM_GET,
    VN_SQ_IDEM_BEGIN,
    VN_SQ_IDEM_FINISH,
    VN_SQ_IDEM_PRUNE,
    /* converge.c */
    VN_SQ_CLOCK_TICK,
    VN_SQ_CLOCK,
    VN_SQ_KEY_ASSIGN_USER,
    VN_SQ_KEY_ASSIGN_DEVICE,
    VN_SQ_KEY_TOMB_ASSIGN,
    VN_SQ_KEY_SEAT,
    VN_SQ_KEY_TOMB_SEAT,
    VN_SQ_KEY_USER,
    VN_SQ_KEY_EVENT_ASSIGN_USER,
    VN_SQ_KEY_EVENT_ASSIGN_DEVICE,
    VN_SQ_KEY_EVENT_TOMB_ASSIGN,
    VN_SQ_KEY_EVENT_SEAT,
    VN_SQ_KEY_EVENT_TOMB_SEAT,
    VN_SQ_KEY_EVENT_USER,
    VN_SQ_KEY_EVENT_TOMB_NEW,
    VN_SQ_EVENT_SEND_SEQ,
    VN_SQ_VERIFY_ADD,
    VN_SQ_VERIFY_LIST,
    VN_SQ_VERIFY_DELETE,
    VN_SQ_VERIFY_FAILED,
    VN_SQ_TOMBSTONES_PURGE,
    VN_SQ_SEAT_COUNT,
    VN_SQ_MARK_NEEDS_SYNC,
    VN_SQ__COUNT
};

/* batch.c: an asset's counts in an optimistic transaction, not written yet. */
#define VN_SQ_ASSETS_PENDING 16
struct vn__sq_asset_row {
    char uid[64], adam_id[64], pricing_param[32];
    int existed; /* the row was in the table: written with an UPDATE, else an INSERT */
    int needs_sync;
    long long total, assigned, available;
};

struct vn__sqlite;

/*
 * What the transaction code (sqlite.c) runs on the files above it, installed by backend.c with
 * the operations table: sqlite.c knows that a write transaction may keep rows in memory and
 * has a change log to flush, not whose they are, so no file below calls a file above.
 */
struct vn__sq_hooks {
    int (*pending_flush)(struct vn__sqlite *s);   /* rows kept in memory (batch.c) to their
                                                     tables: before any other statement, and at
                                                     COMMIT */
    void (*pending_forget)(struct vn__sqlite *s); /* at BEGIN and ROLLBACK: drop them */
    int (*before_commit)(struct vn__sqlite *s);   /* last in the transaction (api.c: the change
                                                     log); a failure fails the commit */
    void (*committed)(struct vn__sqlite *s);      /* after a successful COMMIT */
};

struct vn__sqlite {
    struct vn_store base; /* first member: a struct vn_store * points at the whole handle */
    sqlite3 *db;
    char *path; /* owned */
    int read_only;
    int memory;                /* ":memory:" (nothing to reconnect to) */
    long long busy_timeout_ms; /* how long BEGIN IMMEDIATE waits for another writer */
    long long max_db_bytes;    /* the size cap, 0 none */
    int lost;           /* the code of the failure after which SQLite rolled the transaction back */
    int stmt_rc;        /* the code of the last failure of vn__sq_stmt (it returned NULL) */
    int schema_current; /* the database's schema version when opened (after migrations) */
    int64_t txn_ms;     /* when the current write transaction began; 0 outside one */
    int optimistic;     /* store.h vn_store_optimistic: no savepoints until the transaction ends */
    char txn_iso[VN_TIME_ISO_LEN];
    int64_t iso_sec; /* vn__sq_iso's cache: the second iso_buf formats, -1 none */
    char iso_buf[VN_TIME_ISO_LEN];
    char describe[640];
    sqlite3_stmt *stmt[VN_SQ__COUNT];
    const struct vn__sq_hooks *hooks; /* backend.c's; never NULL */
    /* batch.c: pending asset rows (only while optimistic) */
    struct vn__sq_asset_row assets[VN_SQ_ASSETS_PENDING];
    size_t nassets;
    /* the change log (api.c) */
    int64_t changes_seq;       /* the last seq the open transaction appended; 0 none */
    int64_t changes_pruned_ms; /* when this handle last pruned the log */
    /* mutex.c: whether the lock file was opened (tried), its descriptor (-1: none), the name
     * held */
    int mutex_tried, mutex_fd;
    char mutex_name[VN_ID_MAX + 32];
};

/* sqlite.c: a handle on u's database (created if missing, migrated), answering with ops and
 * running hooks (both backend.c's, static); NULL with err set. */
struct vn_store *vn__sq_open(struct vn__store_url *u, const struct vn_store_options *opts,
                             const struct vn_store_ops *ops, const struct vn__sq_hooks *hooks,
                             struct vn_error *err);
/* sqlite.c: the handle's and the transactions' operations (store_impl.h struct vn_store_ops) */
void vn__sq_free(struct vn_store *st);
int vn__sq_schema_version(struct vn_store *st, int *current, int *expected);
const char *vn__sq_describe(struct vn_store *st);
int vn__sq_begin(struct vn_store *st);
int vn__sq_commit(struct vn_store *st);
int vn__sq_rollback(struct vn_store *st);
int vn__sq_savepoint(struct vn_store *st);
int vn__sq_release(struct vn_store *st);
int vn__sq_rollback_to(struct vn_store *st);
int vn__sq_optimistic(struct vn_store *st);
int vn__sq_ping(struct vn_store *st);
int vn__sq_reconnect(struct vn_store *st);

/* The migrations, in order: migration k (1-based) is vn__sqlite_migrations[k - 1]. */
extern const char *const vn__sqlite_migrations[];
extern const int vn__sqlite_schema_version;

/* The statement of slot, prepared from sql on first use; NULL with the error recorded and its
 * code in s->stmt_rc (also when the caller's transaction was lost: vn__sq_lost). */
sqlite3_stmt *vn__sq_stmt(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql);

/* The SQLite handle behind a store handle. */
static inline struct vn__sqlite *vn__sq(struct vn_store *st)
{
    return (struct vn__sqlite *)st;
}

/* Get the statement of slot into var, or return the failure's code from the calling function. */
#define VN_SQ_STMT(var, s, slot, sql)                                                              \
    do {                                                                                           \
        (var) = vn__sq_stmt((s), (slot), (sql));                                                   \
        if (!(var))                                                                                \
            return (s)->stmt_rc;                                                                   \
    } while (0)

/* Step a write statement to its end: 0 or the mapped error; *changed (may be NULL) = rows it
 * changed. */
int vn__sq_run(struct vn__sqlite *s, sqlite3_stmt *st, int *changed);

/* Record SQLite's error for rc on s and return the vn code it maps to (VN_EFULL, VN_ESTORE). */
int vn__sq_fail(struct vn__sqlite *s, int rc);

/* Step st once more to SQLITE_DONE and reset it: 0 or the mapped error. */
int vn__sq_done(struct vn__sqlite *s, sqlite3_stmt *st);

/* Step st (bound by the caller) to the end and copy column 0 of every row: *out is an owned
 * array of owned strings (free each, then the array), *n their number. Resets st. */
int vn__sq_collect_text(struct vn__sqlite *s, sqlite3_stmt *st, char ***out, size_t *n);

/* Bind a borrowed string, or NULL when v is NULL. */
int vn__sq_text(sqlite3_stmt *st, int i, const char *v);

/* The ISO time of the current write transaction (or of now, outside one). Borrowed from s. */
const char *vn__sq_now(struct vn__sqlite *s);

/* vn_time_iso(ms, out), from a cache of the last second formatted: a group commit stamps
 * notifications of the same second, and formatting one costs more than its ledger row's bind. */
void vn__sq_iso(struct vn__sqlite *s, int64_t ms, char out[VN_TIME_ISO_LEN]);

/*
 * batch.c. In an optimistic transaction, take an asset adjustment into the row kept in memory:
 * 0 when taken, 1 when the caller must run the upsert itself (not optimistic, or a row this
 * cannot keep), or an error. Every statement but the ledger's and the asset's own must be
 * preceded by vn__sq_assets_flush (vn__sq_stmt and the handle's other prepare calls do it), and
 * so must the commit; a rollback calls vn__sq_assets_forget.
 */
int vn__sq_assets_defer(struct vn__sqlite *s, const char *uid, const char *adam_id, const char *pp,
                        long long d_total, long long d_assigned, long long d_available);
int vn__sq_assets_flush(struct vn__sqlite *s);
void vn__sq_assets_forget(struct vn__sqlite *s);
/* One adjustment of a row with the upsert's arithmetic (exposed for the tests). */
void vn__sq_asset_step(struct vn__sq_asset_row *r, long long d_total, long long d_assigned,
                       long long d_available);

/* Run one fixed statement (BEGIN, COMMIT, ...) of slot: 0 or the mapped error. */
int vn__sq_exec(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql);

/* SQLite dropped the caller's open transaction: record it and return the code to report. */
int vn__sq_lost(struct vn__sqlite *s, const char *what);

/* Roll back the open transaction, if any, keeping the message of the failure that caused it. */
void vn__sq_abort(struct vn__sqlite *s);

/* rejections.c (endpoint) */
int vn__sq_rejections_add(struct vn_store *st, const struct vn_rejection *rows, size_t n,
                          long long max_rows, int64_t before_ms);
int vn__sq_rejections(struct vn_store *st, int64_t since_ms, long long limit, vn_row_cb cb,
                      void *ud);

/* write.c */
int vn__sq_notification_insert(struct vn_store *st, const struct vn_notification_record *r);
int vn__sq_notification_repeat(struct vn_store *st, const char *id,
                               const uint8_t digest[VN_DIGEST_LEN], int *conflict);
int vn__sq_notification_set_state(struct vn_store *st, const char *id, enum vn_nstate state,
                                  const char *error);
int vn__sq_notification_body(struct vn_store *st, const char *id, char **body, size_t *len);
int vn__sq_stored_ids(struct vn_store *st, const char *uid, char ***ids, size_t *n);
int vn__sq_quarantine(struct vn_store *st, int64_t received_ms, const char *remote,
                      const char *reason, const void *body, size_t body_len, size_t original_len);
int vn__sq_asset_adjust(struct vn_store *st, const char *uid, const char *adam_id,
                        const char *pricing_param, long long d_total, long long d_assigned,
                        long long d_available);
int vn__sq_assignment_insert(struct vn_store *st, const char *uid, const struct vn_assignment *a);
int vn__sq_assignment_delete(struct vn_store *st, const char *uid, const struct vn_assignment *a);
int vn__sq_user_upsert(struct vn_store *st, const char *uid, const struct vn_user *u,
                       const char *status);
int vn__sq_subscription_set_counts(struct vn_store *st, const char *uid, const char *adam_id,
                                   const char *parent_adam_id, const struct vn_counts *c);
int vn__sq_seat_upsert(struct vn_store *st, const char *uid, const struct vn_seat *seat);
int vn__sq_seat_delete(struct vn_store *st, const char *uid, const struct vn_seat *seat);
int vn__sq_location_tested(struct vn_store *st, const char *uid, int64_t ms);
int vn__sq_event_note(struct vn_store *st, const struct vn_event_note *e);
int vn__sq_event_failed_item(struct vn_store *st, const char *event_id, long long error_number,
                             const char *adam_id, const char *pricing_param,
                             const char *client_user_id, const char *serial_number);
int vn__sq_location_add(struct vn_store *st, const char *uid, const char *name,
                        const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                        const struct vn_location_update *u);
int vn__sq_location_remove(struct vn_store *st, const char *uid);
int vn__sq_location_rotate(struct vn_store *st, const char *uid,
                           const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                           int64_t grace_until_ms);

/* apple.c */
int vn__sq_location_unrotate(struct vn_store *st, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN]);
int vn__sq_config_ensure(struct vn_store *st, const char *key, const char *value_if_absent,
                         char **out);
int vn__sq_location_apple(struct vn_store *st, const char *uid, struct vn_location_apple *out);
int vn__sq_apple_uids(struct vn_store *st, char ***uids, size_t *n);
int vn__sq_location_update(struct vn_store *st, const char *uid,
                           const struct vn_location_update *u);
int vn__sq_sync_asset(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                      const char *adam_id, const char *pricing_param, long long total,
                      long long assigned, long long available);
int vn__sq_sync_assignment(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                           const struct vn_assignment *a);
int vn__sq_sync_user(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_user *u);
int vn__sq_sync_subscription(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                             const char *adam_id, const char *parent_adam_id,
                             const struct vn_counts *c);
int vn__sq_sync_seat(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_seat *s);
int vn__sq_sync_sweep(struct vn_store *st, enum vn_mirror_table table, const char *uid, int64_t gen,
                      int64_t since, const struct vn_mirror_scope *scope, long long limit,
                      long long *removed);
int vn__sq_sync_state_get(struct vn_store *st, const char *uid, struct vn_sync_state *out);
int vn__sq_sync_state_put(struct vn_store *st, const char *uid, const struct vn_sync_state *s);
int vn__sq_event_track(struct vn_store *st, const struct vn_event_track *t);
int vn__sq_events_tracking(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud);
int vn__sq_event_tracking_update(struct vn_store *st, const char *event_id,
                                 const struct vn_event_tracking_update *u);
int vn__sq_lease_take(struct vn_store *st, const char *name, const char *holder, int64_t ttl_ms,
                      int *held);
int vn__sq_lease_release(struct vn_store *st, const char *name, const char *holder);
int vn__sq_mutex_lock(struct vn_store *st, const char *name, int64_t wait_ms, int *held);
int vn__sq_mutex_unlock(struct vn_store *st, const char *name, int *lost);
int vn__sq_mutex_fence(struct vn_store *st, const char *name, const char *token, int64_t hold_ms,
                       int *held);

/* api.c: the integration API's tables (struct vn_store_api_ops) */
extern const struct vn_store_api_ops vn__sq_api_ops;

/* The change log, at commit (api.c): turn the transaction's change marks into rows of
 * changes, inside the transaction; 0 or the mapped error (the commit then fails). */
int vn__sq_changes_flush(struct vn__sqlite *s);

/* After a successful COMMIT: tell the process's change observer (store.h) what committed. */
void vn__sq_changes_committed(struct vn__sqlite *s);
/* ops.c: /metrics, the dashboard, backups (deploy) */
int vn__sq_event_counts(struct vn_store *st, int64_t now_ms, struct vn_event_counts *out);
int vn__sq_last_notification(struct vn_store *st, const char *uid, int64_t *ms);
int vn__sq_recent_notifications(struct vn_store *st, long long limit, vn_row_cb cb, void *ud);
int vn__sq_backup(struct vn_store *st, const char *path);

/* copy.c */
int vn__sq_table_rows(struct vn_store *st, size_t t, vn__copy_row_cb cb, void *ud);
int vn__sq_table_insert(struct vn_store *st, size_t t, const struct vn__copy_value *vals);
int vn__sq_table_loaded(struct vn_store *st, size_t t);

/* query.c */
int vn__sq_tokens(struct vn_store *st, int64_t now_ms, vn_token_cb cb, void *ud);
int vn__sq_tokens_version(struct vn_store *st, int64_t *version);
int vn__sq_query(struct vn_store *st, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                 void *ud);

/* converge.c */
int vn__sq_clock_tick(struct vn_store *st, int64_t *clock);
int vn__sq_clock(struct vn_store *st, int64_t *clock);
int vn__sq_key_state(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *key, struct vn_key_state *out);
int vn__sq_key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *key, const char *event_id);
int vn__sq_event_send_seq(struct vn_store *st, const char *event_id, long long *seq);
int vn__sq_verify_add(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                      const struct vn_mirror_scope *key, const char *reason);
int vn__sq_verify_list(struct vn_store *st, const char *uid, long long limit, vn_verify_cb cb,
                       void *ud);
int vn__sq_verify_done(struct vn_store *st, long long id, const char *error);
int vn__sq_tombstones_purge(struct vn_store *st, int64_t before_ms, long long limit,
                            long long *removed);
int vn__sq_seat_count(struct vn_store *st, const char *uid, const char *adam_id,
                      long long *renewing, long long *expiring);
int vn__sq_mark_needs_sync(struct vn_store *st, const char *uid, const char *adam_id,
                           const char *pricing_param);

#endif
