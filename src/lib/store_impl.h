/*
 * store_impl.h - what a storage backend implements: struct vn_store_ops, one function per
 * operation of store.h, and the common head of struct vn_store.
 *
 * A backend defines its own handle struct whose first member is a struct vn_store, fills a
 * static const struct vn_store_ops, and provides an open function that store.c calls for the
 * URLs it owns. store.c does the dispatching, so every vn_store_* function of store.h works
 * for every backend; apply.c and the rest of the program never see a backend.
 *
 * Adding PostgreSQL: write store_pg.c defining vn__store_pg_open (declared below) and build it
 * with VN_HAVE_POSTGRES defined; store.c then routes "postgresql://" and "postgres://" to it.
 *
 * The ops have exactly the contracts of the store.h functions of the same name; st is never
 * NULL when an op is called. On failure an op records a message with vn__store_set_error.
 */
#ifndef VPPNOTIFY_STORE_IMPL_H
#define VPPNOTIFY_STORE_IMPL_H

#include "vppnotify/error.h"
#include "vppnotify/store.h"

struct vn_store_ops {
    const char *name; /* "sqlite" */

    /* Close the connection and free the handle, including its head. */
    void (*free)(struct vn_store *st);
    int (*schema_version)(struct vn_store *st, int *current, int *expected);
    const char *(*describe)(struct vn_store *st);

    int (*begin)(struct vn_store *st);
    int (*commit)(struct vn_store *st);
    int (*rollback)(struct vn_store *st);
    int (*savepoint)(struct vn_store *st);
    int (*release)(struct vn_store *st);
    int (*rollback_to)(struct vn_store *st);
    int (*ping)(struct vn_store *st);

    int (*notification_insert)(struct vn_store *st, const struct vn_notification_record *r);
    int (*notification_repeat)(struct vn_store *st, const char *id,
                               const uint8_t digest[VN_DIGEST_LEN], int *conflict);
    int (*notification_set_state)(struct vn_store *st, const char *id, enum vn_nstate state,
                                  const char *error);
    int (*notification_body)(struct vn_store *st, const char *id, char **body, size_t *len);
    int (*stored_ids)(struct vn_store *st, const char *uid, char ***ids, size_t *n);
    int (*quarantine)(struct vn_store *st, int64_t received_ms, const char *remote,
                      const char *reason, const void *body, size_t body_len, size_t original_len);

    int (*asset_adjust)(struct vn_store *st, const char *uid, const char *adam_id,
                        const char *pricing_param, long long d_total, long long d_assigned,
                        long long d_available);
    int (*assignment_insert)(struct vn_store *st, const char *uid, const struct vn_assignment *a);
    int (*assignment_delete)(struct vn_store *st, const char *uid, const struct vn_assignment *a);
    int (*user_upsert)(struct vn_store *st, const char *uid, const struct vn_user *u,
                       const char *status);
    int (*subscription_set_counts)(struct vn_store *st, const char *uid, const char *adam_id,
                                   const char *parent_adam_id, const struct vn_counts *c);
    int (*seat_upsert)(struct vn_store *st, const char *uid, const struct vn_seat *s);
    int (*seat_delete)(struct vn_store *st, const char *uid, const struct vn_seat *s);
    int (*location_tested)(struct vn_store *st, const char *uid, int64_t ms);

    int (*event_note)(struct vn_store *st, const struct vn_event_note *e);
    int (*event_failed_item)(struct vn_store *st, const char *event_id, long long error_number,
                             const char *adam_id, const char *pricing_param,
                             const char *client_user_id, const char *serial_number);

    int (*tokens)(struct vn_store *st, int64_t now_ms, vn_token_cb cb, void *ud);
    int (*tokens_version)(struct vn_store *st, int64_t *version);
    int (*location_add)(struct vn_store *st, const char *uid, const char *name,
                        const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms);
    int (*location_remove)(struct vn_store *st, const char *uid);
    int (*location_rotate)(struct vn_store *st, const char *uid,
                           const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                           int64_t grace_until_ms);

    int (*query)(struct vn_store *st, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                 void *ud);
    int (*location_unrotate)(struct vn_store *st, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN]);
    int (*config_ensure)(struct vn_store *st, const char *key, const char *value_if_absent,
                         char **out);
    int (*location_apple)(struct vn_store *st, const char *uid, struct vn_location_apple *out);
    int (*apple_uids)(struct vn_store *st, char ***uids, size_t *n);
    int (*location_update)(struct vn_store *st, const char *uid,
                           const struct vn_location_update *u);
    int (*sync_asset)(struct vn_store *st, const char *uid, int64_t gen, const char *adam_id,
                      const char *pricing_param, long long total, long long assigned,
                      long long available);
    int (*sync_assignment)(struct vn_store *st, const char *uid, int64_t gen,
                           const struct vn_assignment *a);
    int (*sync_user)(struct vn_store *st, const char *uid, int64_t gen, const struct vn_user *u);
    int (*sync_subscription)(struct vn_store *st, const char *uid, int64_t gen, const char *adam_id,
                             const char *parent_adam_id, const struct vn_counts *c);
    int (*sync_seat)(struct vn_store *st, const char *uid, int64_t gen, const struct vn_seat *s);
    int (*sync_sweep)(struct vn_store *st, enum vn_mirror_table table, const char *uid, int64_t gen,
                      const struct vn_mirror_scope *scope, long long *removed);
    int (*sync_state_get)(struct vn_store *st, const char *uid, struct vn_sync_state *out);
    int (*sync_state_put)(struct vn_store *st, const char *uid, const struct vn_sync_state *s);
    int (*event_track)(struct vn_store *st, const struct vn_event_track *t);
    int (*events_tracking)(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud);
    int (*event_tracking_update)(struct vn_store *st, const char *event_id,
                                 const struct vn_event_tracking_update *u);
};

/* The common head of every backend's handle. */
struct vn_store {
    const struct vn_store_ops *ops;
    int failed_io;                     /* sticky: an I/O error happened (vn_store_failed_io) */
    char last_error[VN_ERROR_MSG_MAX]; /* the last failure's message, "" if none yet */
};

/* Record the message of a failure on st (printf-style). Returns nothing: callers return codes. */
void vn__store_set_error(struct vn_store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Backend open functions. path/url is borrowed; opts is never NULL (store.c supplies the
 * defaults). Return an owned handle or NULL with err set.
 */
struct vn_store *vn__store_sqlite_open(const char *path, const struct vn_store_options *opts,
                                       struct vn_error *err);
#ifdef VN_HAVE_POSTGRES
struct vn_store *vn__store_pg_open(const char *url, const struct vn_store_options *opts,
                                   struct vn_error *err);
#endif

/*
 * ---- shared by the SQLite backend's files (store_sqlite*.c) only -----------------------------
 *
 * The SQLite backend is split by concern: store_sqlite.c (the handle, open, migrations,
 * errors, transactions), store_sqlite_schema.c (migration texts), store_sqlite_write.c (the
 * ledger, mirror, events, locations), store_sqlite_apple.c (the Apple side: sTokens,
 * subscriptions, sync, tracked events) and store_sqlite_query.c (read queries). They share the
 * handle struct and a few helpers, declared here behind VN_SQLITE_INTERNAL so that store.c and
 * other backends never see them.
 */
#ifdef VN_SQLITE_INTERNAL
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
    VN_SQ__COUNT
};

struct vn__sqlite {
    struct vn_store base; /* first member: a struct vn_store * points at the whole handle */
    sqlite3 *db;
    char *path; /* owned */
    int read_only;
    int schema_current; /* the database's schema version when opened (after migrations) */
    int64_t txn_ms;     /* when the current write transaction began; 0 outside one */
    char txn_iso[VN_TIME_ISO_LEN];
    char describe[640];
    sqlite3_stmt *stmt[VN_SQ__COUNT];
};

/* The migrations, in order: migration k (1-based) is vn__sqlite_migrations[k - 1]. */
extern const char *const vn__sqlite_migrations[];
extern const int vn__sqlite_schema_version;

/* The statement of slot, prepared from sql on first use; NULL with the error recorded. */
sqlite3_stmt *vn__sq_stmt(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql);

/* The SQLite handle behind a store handle. */
static inline struct vn__sqlite *vn__sq(struct vn_store *st)
{
    return (struct vn__sqlite *)st;
}

/* Get the statement of slot into var, or return VN_ESTORE from the calling function. */
#define VN_SQ_STMT(var, s, slot, sql)                                                              \
    do {                                                                                           \
        (var) = vn__sq_stmt((s), (slot), (sql));                                                   \
        if (!(var))                                                                                \
            return VN_ESTORE;                                                                      \
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

/* Run one fixed statement (BEGIN, COMMIT, ...) of slot: 0 or the mapped error. */
int vn__sq_exec(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql);

/* Roll back the open transaction, if any, keeping the message of the failure that caused it. */
void vn__sq_abort(struct vn__sqlite *s);

/* store_sqlite_write.c */
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
                        const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms);
int vn__sq_location_remove(struct vn_store *st, const char *uid);
int vn__sq_location_rotate(struct vn_store *st, const char *uid,
                           const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                           int64_t grace_until_ms);

/* store_sqlite_apple.c */
int vn__sq_location_unrotate(struct vn_store *st, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN]);
int vn__sq_config_ensure(struct vn_store *st, const char *key, const char *value_if_absent,
                         char **out);
int vn__sq_location_apple(struct vn_store *st, const char *uid, struct vn_location_apple *out);
int vn__sq_apple_uids(struct vn_store *st, char ***uids, size_t *n);
int vn__sq_location_update(struct vn_store *st, const char *uid,
                           const struct vn_location_update *u);
int vn__sq_sync_asset(struct vn_store *st, const char *uid, int64_t gen, const char *adam_id,
                      const char *pricing_param, long long total, long long assigned,
                      long long available);
int vn__sq_sync_assignment(struct vn_store *st, const char *uid, int64_t gen,
                           const struct vn_assignment *a);
int vn__sq_sync_user(struct vn_store *st, const char *uid, int64_t gen, const struct vn_user *u);
int vn__sq_sync_subscription(struct vn_store *st, const char *uid, int64_t gen, const char *adam_id,
                             const char *parent_adam_id, const struct vn_counts *c);
int vn__sq_sync_seat(struct vn_store *st, const char *uid, int64_t gen, const struct vn_seat *s);
int vn__sq_sync_sweep(struct vn_store *st, enum vn_mirror_table table, const char *uid, int64_t gen,
                      const struct vn_mirror_scope *scope, long long *removed);
int vn__sq_sync_state_get(struct vn_store *st, const char *uid, struct vn_sync_state *out);
int vn__sq_sync_state_put(struct vn_store *st, const char *uid, const struct vn_sync_state *s);
int vn__sq_event_track(struct vn_store *st, const struct vn_event_track *t);
int vn__sq_events_tracking(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud);
int vn__sq_event_tracking_update(struct vn_store *st, const char *event_id,
                                 const struct vn_event_tracking_update *u);

/* store_sqlite_query.c */
int vn__sq_tokens(struct vn_store *st, int64_t now_ms, vn_token_cb cb, void *ud);
int vn__sq_tokens_version(struct vn_store *st, int64_t *version);
int vn__sq_query(struct vn_store *st, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                 void *ud);
#endif /* VN_SQLITE_INTERNAL */

#endif
