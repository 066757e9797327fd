/*
 * store_impl.h - what a storage backend implements: struct vn_store_ops, one function per
 * operation of store.h, and the common head of struct vn_store.
 *
 * A backend defines its own handle struct whose first member is a struct vn_store, fills a
 * static const struct vn_store_ops, and provides an open function that store.c calls for the
 * URLs it owns. store.c does the dispatching, so every vn_store_* function of store.h works
 * for every backend; apply.c and the rest of the program never see a backend.
 *
 * Backends: SQLite (sqlite/, "sqlite:PATH" or a path) and PostgreSQL (pg/, "postgresql://"
 * and "postgres://"), each with its own open function declared below.
 *
 * The ops have exactly the contracts of the store.h functions of the same name; st is never
 * NULL when an op is called. On failure an op records a message with vn__store_set_error and
 * returns a code of the right failure class (store.h: VN_ERETRY, VN_EUNAVAIL, VN_EFULL,
 * VN_EFATAL, or a job-level code such as VN_ESTORE); store.c records the class of every
 * failed call in last_class, so a backend never sets it itself.
 */
#ifndef VPPNOTIFY_STORE_IMPL_H
#define VPPNOTIFY_STORE_IMPL_H

#include "vppnotify/error.h"
#include "vppnotify/store.h"

/* ---- the copy catalog (copy.c): every table and column, in a form both backends share ------ */

enum vn__copy_type {
    VN__C_TEXT,
    VN__C_INT,
    VN__C_BOOL,
    VN__C_TIME,  /* as the store's ISO text: "2026-11-25T19:06:53.123Z" */
    VN__C_JSON,  /* the JSON text as stored */
    VN__C_BYTES, /* a blob */
};

/* One value: null, or i (INT, BOOL 0/1), or s with len bytes (the others; borrowed). */
struct vn__copy_value {
    int null;
    long long i;
    const char *s;
    size_t len;
};

#define VN__COPY_COLS_MAX 24

/* A table of the catalog: its columns in the order every backend reads and writes them, and
 * the order of its rows (the same on both backends: byte order, NULLs first). */
struct vn__copy_table {
    const char *name;
    size_t n;
    const char *const *cols;
    const enum vn__copy_type *types;
    int singleton; /* one row every store has (a new one too): written over it */
};

extern const struct vn__copy_table vn__copy_tables[];
extern const size_t vn__copy_table_count;

/* A row of table t (vals[0..n)), borrowed for the call: non-zero stops the scan. */
typedef int (*vn__copy_row_cb)(void *ud, size_t t, const struct vn__copy_value *vals);

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
    /* Optional (NULL: not supported): the current transaction runs optimistically (store.h). */
    int (*optimistic)(struct vn_store *st);
    /* Optional (NULL: nothing to do): store.h vn_store_notifications_known. */
    int (*notifications_known)(struct vn_store *st, const char *const *ids, size_t n);
    int (*ping)(struct vn_store *st);
    int (*reconnect)(struct vn_store *st);

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
                        const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                        const struct vn_location_update *u);
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
    int (*sync_asset)(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                      const char *adam_id, const char *pricing_param, long long total,
                      long long assigned, long long available);
    int (*sync_assignment)(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                           const struct vn_assignment *a);
    int (*sync_user)(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_user *u);
    int (*sync_subscription)(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                             const char *adam_id, const char *parent_adam_id,
                             const struct vn_counts *c);
    int (*sync_seat)(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_seat *s);
    int (*sync_sweep)(struct vn_store *st, enum vn_mirror_table table, const char *uid, int64_t gen,
                      int64_t since, const struct vn_mirror_scope *scope, long long limit,
                      long long *removed);
    int (*sync_state_get)(struct vn_store *st, const char *uid, struct vn_sync_state *out);
    int (*sync_state_put)(struct vn_store *st, const char *uid, const struct vn_sync_state *s);
    int (*event_track)(struct vn_store *st, const struct vn_event_track *t);
    int (*events_tracking)(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud);
    int (*event_tracking_update)(struct vn_store *st, const char *event_id,
                                 const struct vn_event_tracking_update *u);
    /* convergence (contract 3.1) */
    int (*clock_tick)(struct vn_store *st, int64_t *clock);
    int (*clock)(struct vn_store *st, int64_t *clock);
    int (*key_state)(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *key, struct vn_key_state *out);
    int (*key_event)(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *key, const char *event_id);
    /* Optional (NULL: nothing to do): store.h vn_store_assignment_keys_known. */
    int (*assignment_keys_known)(struct vn_store *st, const char *uid,
                                 const struct vn_mirror_scope *keys, size_t n);
    int (*event_send_seq)(struct vn_store *st, const char *event_id, long long *seq);
    int (*verify_add)(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                      const struct vn_mirror_scope *key, const char *reason);
    int (*verify_list)(struct vn_store *st, const char *uid, long long limit, vn_verify_cb cb,
                       void *ud);
    int (*verify_done)(struct vn_store *st, long long id, const char *error);
    int (*tombstones_purge)(struct vn_store *st, int64_t before_ms, long long limit,
                            long long *removed);
    int (*seat_count)(struct vn_store *st, const char *uid, const char *adam_id,
                      long long *renewing, long long *expiring);
    int (*mark_needs_sync)(struct vn_store *st, const char *uid, const char *adam_id,
                           const char *pricing_param);

    /* The integration API's tables (store.h, its own section); see struct vn_store_api_ops. */
    const struct vn_store_api_ops *api;
    /* operations: /metrics, the dashboard, backups (deploy) */
    int (*event_counts)(struct vn_store *st, int64_t now_ms, struct vn_event_counts *out);
    int (*last_notification)(struct vn_store *st, const char *uid, int64_t *ms);
    int (*recent_notifications)(struct vn_store *st, long long limit, vn_row_cb cb, void *ud);
    int (*backup)(struct vn_store *st, const char *path);
    /* Rejected requests (endpoint). Optional: NULL means VN_ENOTSUP. */
    int (*rejections_add)(struct vn_store *st, const struct vn_rejection *rows, size_t n,
                          long long max_rows, int64_t before_ms);
    int (*rejections)(struct vn_store *st, int64_t since_ms, long long limit, vn_row_cb cb,
                      void *ud);
    int (*lease_take)(struct vn_store *st, const char *name, const char *holder, int64_t ttl_ms,
                      int *held);
    int (*lease_release)(struct vn_store *st, const char *name, const char *holder);
    /* Optional (NULL: one process only, held at once): store.h vn_store_mutex_lock. */
    int (*mutex_lock)(struct vn_store *st, const char *name, int64_t wait_ms, int *held);
    int (*mutex_unlock)(struct vn_store *st, const char *name, int *lost);
    int (*mutex_fence)(struct vn_store *st, const char *name, const char *token, int64_t hold_ms,
                       int *held);

    /* Whole tables of the copy catalog (copy.c): every row of table t in its order, each
     * value in the catalog's neutral form; insert one row (inside the caller's transaction);
     * after a table is loaded (PostgreSQL: move identity sequences past the copied ids). */
    int (*table_rows)(struct vn_store *st, size_t t, vn__copy_row_cb cb, void *ud);
    int (*table_insert)(struct vn_store *st, size_t t, const struct vn__copy_value *vals);
    int (*table_loaded)(struct vn_store *st, size_t t);
};

/*
 * The operations of store.h's section "the integration API's tables", kept apart so that
 * they are found together (dispatch in store_api.c). Same contracts as the store.h functions
 * of the same name.
 */
struct vn_store_api_ops {
    int (*api_key_add)(struct vn_store *st, const char *name, const char *scope,
                       const uint8_t digest[VN_DIGEST_LEN], const char *shown, int64_t now_ms);
    int (*api_key_revoke)(struct vn_store *st, const char *name, int64_t now_ms);
    int (*api_keys)(struct vn_store *st, vn_api_key_cb cb, void *ud);
    int (*api_keys_version)(struct vn_store *st, int64_t *version);
    int (*changes)(struct vn_store *st, int64_t after, long long limit, vn_change_cb cb, void *ud);
    int (*changes_head)(struct vn_store *st, struct vn_changes_head *out);
    int (*changes_set_retention)(struct vn_store *st, int64_t retention_ms);
    int (*webhook_add)(struct vn_store *st, const char *url, const char *kinds,
                       const uint8_t *secret, size_t secret_len, int64_t now_ms, int64_t *id);
    int (*webhook_remove)(struct vn_store *st, int64_t id);
    int (*webhooks)(struct vn_store *st, int64_t id, vn_webhook_cb cb, void *ud);
    int (*webhook_update)(struct vn_store *st, int64_t id, const struct vn_webhook_state *s,
                          const struct vn_webhook_attempt *attempts, size_t n);
    int (*webhook_redeliver)(struct vn_store *st, int64_t id, int64_t after);
    int (*idempotency_get)(struct vn_store *st, const char *scope, const char *key,
                           struct vn_idempotency *out);
    int (*idempotency_begin)(struct vn_store *st, const char *scope, const char *key,
                             const uint8_t request_hash[VN_DIGEST_LEN], int64_t now_ms);
    int (*idempotency_finish)(struct vn_store *st, const char *scope, const char *key, int status,
                              const char *body);
};

/* A backend calls this after each commit that appended changes (the change observer). */
void vn__store_changes_committed(int64_t last_seq);

/* The common head of every backend's handle. */
/*
 * An asset's counts after one adjustment (store.h vn_store_asset_adjust), with the arithmetic
 * of both backends' upserts: each sum saturates at the int64 limits, and needs_sync turns on
 * (and stays on) when a sum leaves int64, a count falls below 0 or assigned exceeds total.
 * store_impl.c; for the backends that fold a batch's adjustments in memory (sqlite/batch.c,
 * pg/fold.c).
 */
struct vn__asset_counts {
    long long total, assigned, available;
    int needs_sync;
};
void vn__asset_step(struct vn__asset_counts *c, long long d_total, long long d_assigned,
                    long long d_available);

struct vn_store {
    const struct vn_store_ops *ops;
    enum vn_store_class last_class;    /* of the last failure (vn_store_last_class) */
    char last_error[VN_ERROR_MSG_MAX]; /* the last failure's message, "" if none yet */
};

/* Record the message of a failure on st (printf-style). Returns nothing: callers return codes. */
void vn__store_set_error(struct vn_store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the shape of query rows (shape.c) ----------------------------------------------------- */

#define VN__QUERY_COLS_MAX 24 /* most columns of any query */

/* The keys of query q's rows, in order, and the type of each value. */
struct vn__query_shape {
    size_t n;
    const char *const *keys;
    const enum vn_vtype *types;
};

/* Indexed by enum vn_query; vn__query_count entries. */
extern const struct vn__query_shape vn__query_shapes[];
extern const size_t vn__query_count;

/* ---- store URLs (url.c) ------------------------------------------------------------------ */

#define VN__STORE_PARAMS_MAX 16
#define VN__STORE_KEY_MAX    32
#define VN__STORE_VALUE_MAX  1024
#define VN__STORE_SHOWN_MAX  512

enum vn__store_backend { VN__STORE_SQLITE, VN__STORE_POSTGRES };

/* One parameter of a store URL, decoded. */
struct vn__store_param {
    char key[VN__STORE_KEY_MAX + 1];
    char value[VN__STORE_VALUE_MAX + 1];
    int used; /* a backend took it */
};

/* A store URL taken apart. */
struct vn__store_url {
    enum vn__store_backend backend;
    char target[4096];               /* the file path, or the URI before '?' */
    char shown[VN__STORE_SHOWN_MAX]; /* the URL for messages, any password as "***" */
    size_t n;
    struct vn__store_param p[VN__STORE_PARAMS_MAX];
};

/*
 * Take url apart into *u, with the parameters of params ("k=v&k=v", may be NULL) first and the
 * URL's own after them (they win). 0, or VN_EPARSE / VN_ETOOBIG with err naming the part.
 */
int vn__store_url_parse(const char *url, const char *params, struct vn__store_url *u,
                        struct vn_error *err);

/* url with a password (user:PASSWORD@, password=...) replaced by "***", cut to outlen. */
void vn__store_url_redact(const char *url, char *out, size_t outlen);

/* The value of parameter key (marked used), or NULL when the URL has none. Borrowed from u. */
const char *vn__store_param(struct vn__store_url *u, const char *key);

/* A duration parameter in ms (default def when absent), 0..max; VN_EPARSE quoting it. */
int vn__store_param_duration(struct vn__store_url *u, const char *key, long long def, long long max,
                             long long *ms, struct vn_error *err);

/* A size parameter in bytes (default def when absent), 0..max; VN_EPARSE quoting it. */
int vn__store_param_size(struct vn__store_url *u, const char *key, long long def, long long max,
                         long long *bytes, struct vn_error *err);

/* VN_EPARSE naming the first parameter no one took; takes lists what the backend takes. */
int vn__store_params_done(const struct vn__store_url *u, const char *takes, struct vn_error *err);

/*
 * Backend open functions. u is the parsed URL (the backend takes its parameters from it and
 * refuses the rest with vn__store_params_done); opts is never NULL. Return an owned handle or
 * NULL with err set.
 */
struct vn_store *vn__store_sqlite_open(struct vn__store_url *u, const struct vn_store_options *opts,
                                       struct vn_error *err);
struct vn_store *vn__store_pg_open(struct vn__store_url *u, const struct vn_store_options *opts,
                                   struct vn_error *err);

#endif
