/*
 * pg_impl.h - private to the PostgreSQL backend's files (src/lib/store/pg/).
 *
 * The backend is split by concern like the SQLite one: backend.c (the ops table: what the files
 * below are to store.c), handle.c (the handle, connecting, session settings, migrations,
 * transactions), exec.c (running prepared statements,
 * their arguments and results, error mapping), schema.c (migration texts), write.c (the
 * ledger, mirror, events, locations), apple.c (the Apple side), converge.c (the writer clock,
 * key history and verification of contract 3.1), query.c (read queries), api.c (API keys, the
 * change log) and webhook.c (webhook endpoints, Idempotency-Key).
 * store.c and other backends never include this file.
 *
 * Statements: every SQL text is a static string; its address keys a per-connection cache of
 * prepared statements (prepared on first use, re-prepared after a reconnect). Arguments are
 * bound as text (bytea as binary); nothing is ever assembled at run time, except the schema
 * name of the "schema" URL parameter, which cannot be bound (validated, then quoted by libpq).
 */
#ifndef VPPNOTIFY_PG_IMPL_H
#define VPPNOTIFY_PG_IMPL_H

#include "store_impl.h"

#include <libpq-fe.h>

#include "vppnotify/util.h"

#define VN__PG_STMT_MAX     256 /* prepared statements per connection */
#define VN__PG_ARGS_MAX     24  /* arguments of one statement (a row of the copy catalog) */
#define VN__PG_KEYS_MAX     (VN__STORE_PARAMS_MAX + 8)
#define VN__PG_PENDING_MAX  16   /* deferred statements: the change log's flush has 10 */
#define VN__PG_KEY_TEXT_MAX 1024 /* an assignment key, length-prefixed (last_key) */
#define VN__PG_FOLD_MAX     16   /* assets whose adjustments one batch keeps (fold.c) */

struct vn__pg;

/*
 * What the files below run of the files above them, installed by backend.c with the operations
 * table (handle.c vn__pg_open): no file calls a file above itself.
 */
struct vn__pg_hooks {
    int (*ensure)(struct vn__pg *s);      /* handle.c vn__pg_ensure, for exec.c */
    int (*writer_lock)(struct vn__pg *s); /* handle.c vn__pg_writer_lock, for exec.c */
    /* api.c vn__pg_changes_flush_commit and vn__pg_changes_committed, for handle.c's commit */
    int (*flush_commit)(struct vn__pg *s, PGresult **commit);
    void (*committed)(struct vn__pg *s);
};

struct vn__pg {
    struct vn_store base; /* first member: a struct vn_store * points at the whole handle */
    PGconn *conn;
    const struct vn__pg_hooks *hooks; /* backend.c's; never NULL */
    int read_only;
    /* What a (re)connection passes to libpq: keyword/value pairs, owned, NULL-terminated. */
    char *keys[VN__PG_KEYS_MAX + 1];
    char *vals[VN__PG_KEYS_MAX + 1];
    char schema[64];           /* the "schema" parameter, or "" (the user's search_path) */
    long long lock_timeout_ms; /* busy_timeout: waiting for the writer lock or a row */
    long long statement_timeout_ms;
    long long idle_timeout_ms; /* idle_in_transaction_session_timeout */
    int schema_current;
    int64_t txn_ms; /* when the caller's transaction began; 0 outside one */
    char txn_iso[VN_TIME_ISO_LEN];
    int lost;            /* the code of the failure that ended the caller's transaction, or 0 */
    int stmt_rc;         /* the code of the last failure of vn__pg_run */
    char sqlstate[6];    /* the SQLSTATE of the last failure recorded (vn__pg_fail), or "" */
    int connecting;      /* inside connect_db: no reconnect from there */
    int64_t retry_at_ms; /* a failed reconnect waits for this (monotonic) before the next */
    int64_t backoff_ms;  /* the wait after the next failure: 100 ms doubling to 2 s */
    int no_wrap;         /* a write outside a transaction runs as it is (leases) */
    /* The writer lock is taken lazily (handle.c vn__pg_writer_lock): lock_wanted from BEGIN until
     * the transaction's first statement that needs it (every statement but the lock-free ones
     * below, a savepoint of a guarded transaction); tick_wanted: the writer clock's tick was
     * asked for meanwhile and goes right after the lock. lock_free: the statement at hand
     * (the batch's ids read, a repeat's row) needs no lock (known.c, write.c). */
    int lock_wanted;
    int tick_wanted;
    int lock_free;
    int64_t changes_seq;       /* the change log's last seq this transaction's flush wrote */
    int64_t changes_pruned_ms; /* when the change log was last pruned */
    /* Statements not sent yet, in order (savepoint commands, the change log's renders): they
     * go to the server in one pipeline with the next statement (exec.c), saving a round trip
     * each. */
    struct vn__pg_pending {
        const char *sql;             /* static text */
        const struct vn__pg_args *a; /* borrowed until sent; NULL: none */
        const Oid *types;            /* may be NULL */
    } pending[VN__PG_PENDING_MAX];
    int npending;
    /* A deferred statement whose rows are wanted (capture: its static text): its result is
     * kept in kept (owned, PQclear) when it runs; keep_q is its place in a pipeline (exec.c). */
    const char *capture;
    PGresult *kept;
    int keep_q;
    /* Optimistic mode (store.h vn_store_optimistic), for the caller's transaction: no
     * savepoints; vn__pg_do sends a write whose result is not needed at once, in pipeline mode,
     * and its answer is read with the next statement's (ahead: how many are unread). */
    int optimistic;
    int ahead;
    /* The ids of the optimistic transaction's batch (known.c): sorted, owned. */
    struct vn__pg_known {
        char *id;
        int present; /* in the ledger (before this transaction, or sent ahead in it) */
        uint8_t digest[VN_DIGEST_LEN];
        unsigned repeats, differ; /* repeats of it answered and kept, not sent yet (known.c) */
    } * known;
    size_t nknown;
    size_t nrepeats; /* the repeats kept in known: one INSERT for all at COMMIT (known.c) */
    /* The assignment key an optimistic transaction read last (vn__pg_key_state) and whether
     * its row is there: the insert, delete and event stamp of that key that follow send their
     * statements ahead without waiting (converge.c). Any other statement forgets it (exec.c),
     * so it is never older than the read. */
    struct vn__pg_last_key {
        int valid;
        int present;
        size_t len;
        char text[VN__PG_KEY_TEXT_MAX]; /* uid, adamId, pricingParam, clientUserId, serial */
    } last_key;
    /* The assignment keys of the job at hand, read in one statement (store.h
     * vn_store_assignment_keys_known), so that vn__pg_key_state answers them without a round
     * trip. A key's entry goes with a write of the key; the whole set with any statement other
     * than the assignment writes (key_ops set), and with the transaction. */
    struct vn__pg_key_entry {
        int valid;
        size_t len;
        char *text; /* owned: as last_key.text */
        struct vn_key_state state;
    } * akeys;
    size_t nakeys;
    int key_ops;
    /* The optimistic transaction's asset adjustments not sent yet (fold.c): per asset, the row
     * they make when it is new, and their sums and running extremes. fold_ok: the statement at
     * hand (the ledger's) may run before them (exec.c sends them first otherwise). */
    struct vn__pg_fold {
        char uid[64], adam_id[64], pp[32];
        struct vn__asset_counts fresh;
        long long sum[3], lo[3], hi[3]; /* total, assigned, available */
        long long dmax;                 /* the highest running sum of assigned minus total */
    } fold[VN__PG_FOLD_MAX];
    size_t nfold;
    int fold_ok;
    /* fold.c's sender of the kept adjustments while there are any, else NULL: exec.c and handle.c
     * call it through this pointer (no file of the backend's core depends on fold.c). */
    int (*send_kept)(struct vn__pg *s);
    const char *stmt_sql[VN__PG_STMT_MAX]; /* prepared on this connection, by address */
    char shown[VN__STORE_SHOWN_MAX];       /* the URL for messages, without a password */
    char describe[640];
};

static inline struct vn__pg *vn__pg(struct vn_store *st)
{
    return (struct vn__pg *)st;
}

/* The migrations, in order: migration k (1-based) is vn__pg_migrations[k - 1]. */
extern const char *const vn__pg_migrations[];
extern const int vn__pg_schema_version;

/* ---- exec.c ------------------------------------------------------------------------------ */

/* The arguments of one statement, built in order ($1, $2, ...). Strings are borrowed. */
struct vn__pg_args {
    int n;
    int overflow; /* more than VN__PG_ARGS_MAX were added: the run refuses */
    const char *val[VN__PG_ARGS_MAX + 1];
    int len[VN__PG_ARGS_MAX + 1];
    int fmt[VN__PG_ARGS_MAX + 1];
    char buf[VN__PG_ARGS_MAX + 1][VN_TIME_ISO_LEN + 8]; /* numbers and times, as text */
};

void vn__pg_text(struct vn__pg_args *a, const char *v); /* NULL: SQL NULL */
void vn__pg_int(struct vn__pg_args *a, long long v);
void vn__pg_bool(struct vn__pg_args *a, int v);
void vn__pg_bytes(struct vn__pg_args *a, const void *p, size_t n); /* bytea, n may be 0 */
void vn__pg_time(struct vn__pg_args *a, int64_t ms);               /* 0: SQL NULL */

/*
 * Run sql, a static string (its address keys the statement cache), with args a (may be NULL).
 * types (may be NULL) gives the type of each argument, for statements that leave some unused.
 * Returns the owned result (PQclear) of a statement that worked, with *changed (may be NULL)
 * its row count; else NULL with the failure recorded on s and its code in s->stmt_rc.
 */
PGresult *vn__pg_run_typed(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                           const Oid *types, long long *changed);
PGresult *vn__pg_run(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                     long long *changed);

/* vn__pg_run without the rows: 0 or the failure's code. */
int vn__pg_do(struct vn__pg *s, const char *sql, const struct vn__pg_args *a, long long *changed);

/* Run a fixed text with no arguments through the simple protocol (DDL of a migration, the
 * schema's CREATE): 0 or the failure's code. */
int vn__pg_exec_text(struct vn__pg *s, const char *sql);

/* Record the failure of res (may be NULL: the connection failed) on s; its code. */
int vn__pg_fail(struct vn__pg *s, const PGresult *res);

/* Forget the prepared statements (a new connection has none) and the deferred commands. */
void vn__pg_forget_statements(struct vn__pg *s);

/*
 * Defer sql, a static text without arguments (SAVEPOINT, RELEASE SAVEPOINT): it is sent in
 * one pipeline with the next statement, in order, and its failure is that statement's. 0, or
 * the failure's code when the list was full and sending them now failed.
 */
int vn__pg_defer(struct vn__pg *s, const char *sql);

/* The same for a statement with arguments a and their types (both may be NULL), whose result
 * nobody needs but its success: a must stay valid until the next statement has run. */
int vn__pg_defer_args(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                      const Oid *types);

/* vn__pg_defer at position at of the deferred list (0: first), the later ones moved on. */
int vn__pg_defer_at(struct vn__pg *s, int at, const char *sql);

/* Send the deferred commands now, one by one (before a statement outside the cache, a text
 * run through the simple protocol, a read in single-row mode): 0 or the failure's code. */
int vn__pg_flush_pending(struct vn__pg *s);

/* Column c of row r: text or NULL; integer (0 when NULL); boolean; time in ms (0 when NULL). */
const char *vn__pg_col(const PGresult *res, int r, int c);
long long vn__pg_col_ll(const PGresult *res, int r, int c);
int vn__pg_col_bool(const PGresult *res, int r, int c);
int64_t vn__pg_col_time(const PGresult *res, int r, int c);
/* A bytea column, unescaped: owned (free), *n its length; NULL with *n 0 when NULL or no
 * memory (*oom set). */
unsigned char *vn__pg_col_bytes(const PGresult *res, int r, int c, size_t *n, int *oom);
/* Copy a text column into out (bounded); "" when NULL. */
void vn__pg_col_copy(const PGresult *res, int r, int c, char *out, size_t outlen);

/* The ISO time of the caller's transaction (or of now, outside one). Borrowed from s. */
const char *vn__pg_now(struct vn__pg *s);

/* ---- handle.c -------------------------------------------------------------------------------- */

/*
 * The writer lock that BEGIN left for later (lock_wanted), with the clock tick asked for
 * meanwhile (tick_wanted): deferred right after a BEGIN not sent yet, or sent ahead in an
 * optimistic transaction with nothing deferred, so that it reaches the server with the
 * statement that needs it (no round trip of its own). 0 or the failure's code.
 */
int vn__pg_writer_lock(struct vn__pg *s);

/* Commit when rc is 0, else roll back keeping the error: for ops with their own transaction. */
int vn__pg_finish(struct vn__pg *s, int rc);

/* handle.c: a handle on u's database (connected, migrated), answering with ops and running
 * hooks (both backend.c's, static); NULL with err set. */
struct vn_store *vn__pg_open(struct vn__store_url *u, const struct vn_store_options *opts,
                             const struct vn_store_ops *ops, const struct vn__pg_hooks *hooks,
                             struct vn_error *err);
/* handle.c: the handle's and the transactions' operations (store_impl.h struct vn_store_ops) */
void vn__pg_free(struct vn_store *st);
int vn__pg_schema_get(struct vn_store *st, int *current, int *expected);
const char *vn__pg_describe(struct vn_store *st);
int vn__pg_begin(struct vn_store *st);
int vn__pg_commit(struct vn_store *st);
int vn__pg_rollback(struct vn_store *st);
int vn__pg_savepoint(struct vn_store *st);
int vn__pg_release(struct vn_store *st);
int vn__pg_rollback_to(struct vn_store *st);
int vn__pg_optimistic(struct vn_store *st);
int vn__pg_ping(struct vn_store *st);
int vn__pg_reconnect(struct vn_store *st);

/*
 * Outside the caller's transaction, a connection known to be broken is replaced before the
 * next statement (nothing is lost: no transaction was open on it), with a backoff between
 * failed attempts. 0 when connected; VN_EUNAVAIL (recorded) when not.
 */
int vn__pg_ensure(struct vn__pg *s);

/* ---- converge.c: the last key read --------------------------------------------------- */
/* Whether the optimistic transaction's last key read (last_key) is this assignment's key. */
int vn__pg_last_key_is(struct vn__pg *s, const char *uid, const struct vn_mirror_scope *k);
/* Remember the assignment key of uid and k (k's pricingParam NULL: STDQ) as read, with present. */
void vn__pg_last_key_set(struct vn__pg *s, const char *uid, const struct vn_mirror_scope *k,
                         int present);
int vn__pg_assignment_keys_known(struct vn_store *st, const char *uid,
                                 const struct vn_mirror_scope *keys, size_t n);
/* Forget the set of keys read (all of it: exec.c), or the entry of one key (after its write). */
void vn__pg_keys_clear(struct vn__pg *s);
void vn__pg_keys_forget(struct vn__pg *s, const char *uid, const struct vn_mirror_scope *k);

/* ---- known.c ---------------------------------------------------------------------------- */
int vn__pg_notifications_known(struct vn_store *st, const char *const *ids, size_t n);
/* The entry of id in the optimistic transaction's set, or NULL (not read: the usual way). */
struct vn__pg_known *vn__pg_known_find(struct vn__pg *s, const char *id);
void vn__pg_known_clear(struct vn__pg *s);
/* Whether the optimistic transaction read its batch's ids and every one is in the ledger. */
int vn__pg_known_all_present(struct vn__pg *s);
/* The optimistic transaction's repeats of known ids, counted in its set and written here with
 * one statement (sent ahead): before COMMIT and before the set is read again. */
int vn__pg_known_repeats_send(struct vn__pg *s);
/* texts as a PostgreSQL array literal ({"a","b"}, " and \ escaped), appended to b. */
struct vn_buf;
int vn__pg_array_literal(struct vn_buf *b, const char *const *texts, size_t n);

/* In optimistic mode: send sql (a statement whose answer nobody needs but its success) with a
 * ahead (exec.c), its answer read with a later statement's. 1 when sent, 0 when it must run the
 * usual way, or the failure's code. */
int vn__pg_send_ahead(struct vn__pg *s, const char *sql, const struct vn__pg_args *a);
/* The same with the arguments' types (may be NULL), as vn__pg_run_typed. */
int vn__pg_send_ahead_typed(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                            const Oid *types);

/* ---- fold.c ----------------------------------------------------------------------------- */
/* Keep an adjustment of an optimistic transaction: 0 kept, 1 when it must run as its own
 * upsert (no optimistic transaction, a key too long), or the failure's code. */
int vn__pg_fold_add(struct vn__pg *s, const char *uid, const char *adam_id, const char *pp,
                    long long d_total, long long d_assigned, long long d_available);
/* Send the kept adjustments (sent ahead: their answers come with the next statement's): 0 or
 * the failure's code. */
int vn__pg_fold_flush(struct vn__pg *s);

/* ---- write.c ----------------------------------------------------------------------------- */
int vn__pg_notification_insert(struct vn_store *st, const struct vn_notification_record *r);
int vn__pg_notification_repeat(struct vn_store *st, const char *id,
                               const uint8_t digest[VN_DIGEST_LEN], int *conflict);
int vn__pg_notification_set_state(struct vn_store *st, const char *id, enum vn_nstate state,
                                  const char *error);
int vn__pg_notification_body(struct vn_store *st, const char *id, char **body, size_t *len);
int vn__pg_stored_ids(struct vn_store *st, const char *uid, char ***ids, size_t *n);
int vn__pg_quarantine(struct vn_store *st, int64_t received_ms, const char *remote,
                      const char *reason, const void *body, size_t body_len, size_t original_len);
int vn__pg_asset_adjust(struct vn_store *st, const char *uid, const char *adam_id,
                        const char *pricing_param, long long d_total, long long d_assigned,
                        long long d_available);
int vn__pg_assignment_insert(struct vn_store *st, const char *uid, const struct vn_assignment *a);
int vn__pg_assignment_delete(struct vn_store *st, const char *uid, const struct vn_assignment *a);
int vn__pg_user_upsert(struct vn_store *st, const char *uid, const struct vn_user *u,
                       const char *status);
int vn__pg_subscription_set_counts(struct vn_store *st, const char *uid, const char *adam_id,
                                   const char *parent_adam_id, const struct vn_counts *c);
int vn__pg_seat_upsert(struct vn_store *st, const char *uid, const struct vn_seat *seat);
int vn__pg_seat_delete(struct vn_store *st, const char *uid, const struct vn_seat *seat);
int vn__pg_location_tested(struct vn_store *st, const char *uid, int64_t ms);
int vn__pg_event_note(struct vn_store *st, const struct vn_event_note *e);
int vn__pg_event_failed_item(struct vn_store *st, const char *event_id, long long error_number,
                             const char *adam_id, const char *pricing_param,
                             const char *client_user_id, const char *serial_number);
int vn__pg_location_add(struct vn_store *st, const char *uid, const char *name,
                        const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                        const struct vn_location_update *u);
int vn__pg_location_remove(struct vn_store *st, const char *uid);
int vn__pg_location_rotate(struct vn_store *st, const char *uid,
                           const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                           int64_t grace_until_ms);

/* ---- apple.c ----------------------------------------------------------------------------- */
int vn__pg_location_unrotate(struct vn_store *st, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN]);
int vn__pg_config_ensure(struct vn_store *st, const char *key, const char *value_if_absent,
                         char **out);
int vn__pg_location_apple(struct vn_store *st, const char *uid, struct vn_location_apple *out);
int vn__pg_apple_uids(struct vn_store *st, char ***uids, size_t *n);
int vn__pg_location_update(struct vn_store *st, const char *uid,
                           const struct vn_location_update *u);
int vn__pg_sync_asset(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                      const char *adam_id, const char *pricing_param, long long total,
                      long long assigned, long long available);
int vn__pg_sync_assignment(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                           const struct vn_assignment *a);
int vn__pg_sync_user(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_user *u);
int vn__pg_sync_subscription(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                             const char *adam_id, const char *parent_adam_id,
                             const struct vn_counts *c);
int vn__pg_sync_seat(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_seat *s);
int vn__pg_sync_sweep(struct vn_store *st, enum vn_mirror_table table, const char *uid, int64_t gen,
                      int64_t since, const struct vn_mirror_scope *scope, long long limit,
                      long long *removed);
int vn__pg_sync_state_get(struct vn_store *st, const char *uid, struct vn_sync_state *out);
int vn__pg_sync_state_put(struct vn_store *st, const char *uid, const struct vn_sync_state *s);
int vn__pg_event_track(struct vn_store *st, const struct vn_event_track *t);
int vn__pg_events_tracking(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud);
int vn__pg_event_tracking_update(struct vn_store *st, const char *event_id,
                                 const struct vn_event_tracking_update *u);
/* ops.c: /metrics, the dashboard, backups */
int vn__pg_event_counts(struct vn_store *st, int64_t now_ms, struct vn_event_counts *out);
int vn__pg_last_notification(struct vn_store *st, const char *uid, int64_t *ms);
int vn__pg_recent_notifications(struct vn_store *st, long long limit, vn_row_cb cb, void *ud);
int vn__pg_backup(struct vn_store *st, const char *path);
/* rejections.c */
int vn__pg_rejections_add(struct vn_store *st, const struct vn_rejection *rows, size_t n,
                          long long max_rows, int64_t before_ms);
int vn__pg_rejections(struct vn_store *st, int64_t since_ms, long long limit, vn_row_cb cb,
                      void *ud);
int vn__pg_lease_take(struct vn_store *st, const char *name, const char *holder, int64_t ttl_ms,
                      int *held);
int vn__pg_lease_release(struct vn_store *st, const char *name, const char *holder);
int vn__pg_mutex_lock(struct vn_store *st, const char *name, int64_t wait_ms, int *held);
int vn__pg_mutex_unlock(struct vn_store *st, const char *name, int *lost);
int vn__pg_mutex_fence(struct vn_store *st, const char *name, const char *token, int64_t hold_ms,
                       int *held);

/* ---- converge.c (contract 3.1: the writer clock, key history, verification) ------------- */
/* The writer clock's tick: moves the clock and sets vn.clock for the transaction. */
extern const char vn__pg_sql_tick[];
int vn__pg_clock_tick(struct vn_store *st, int64_t *clock);
int vn__pg_clock(struct vn_store *st, int64_t *clock);
int vn__pg_key_state(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *key, struct vn_key_state *out);
int vn__pg_key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *key, const char *event_id);
int vn__pg_event_send_seq(struct vn_store *st, const char *event_id, long long *seq);
int vn__pg_verify_add(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                      const struct vn_mirror_scope *key, const char *reason);
int vn__pg_verify_list(struct vn_store *st, const char *uid, long long limit, vn_verify_cb cb,
                       void *ud);
int vn__pg_verify_done(struct vn_store *st, long long id, const char *error);
int vn__pg_tombstones_purge(struct vn_store *st, int64_t before_ms, long long limit,
                            long long *removed);
int vn__pg_seat_count(struct vn_store *st, const char *uid, const char *adam_id,
                      long long *renewing, long long *expiring);
int vn__pg_mark_needs_sync(struct vn_store *st, const char *uid, const char *adam_id,
                           const char *pricing_param);

/* ---- api.c (the integration API's tables) ------------------------------------------------ */
extern const struct vn_store_api_ops vn__pg_api_ops;

/* ---- webhook.c (webhook endpoints, Idempotency-Key) --------------------------------------- */
int vn__pg_webhook_add(struct vn_store *st, const char *url, const char *kinds,
                       const uint8_t *secret, size_t secret_len, int64_t now_ms, int64_t *id);
int vn__pg_webhook_remove(struct vn_store *st, int64_t id);
int vn__pg_webhooks(struct vn_store *st, int64_t id, vn_webhook_cb cb, void *ud);
int vn__pg_webhook_update(struct vn_store *st, int64_t id, const struct vn_webhook_state *w,
                          const struct vn_webhook_attempt *att, size_t n);
int vn__pg_webhook_redeliver(struct vn_store *st, int64_t id, int64_t after);
int vn__pg_idempotency_get(struct vn_store *st, const char *scope, const char *key,
                           struct vn_idempotency *out);
int vn__pg_idempotency_begin(struct vn_store *st, const char *scope, const char *key,
                             const uint8_t hash[VN_DIGEST_LEN], int64_t now_ms);
int vn__pg_idempotency_finish(struct vn_store *st, const char *scope, const char *key, int status,
                              const char *body);

/* The change log, at commit: turn the transaction's change marks into rows of changes, inside
 * the transaction; 0 or the failure's code (the commit then fails). */
int vn__pg_changes_flush(struct vn__pg *s);

/* The flush and COMMIT in one pipeline (one round trip; with the prune, when it is due, the
 * flush first): 0 with *commit COMMIT's result (owned: the caller checks its tag, PQclear), or
 * the failure's code with *commit NULL (the flush's failure, or the connection's). */
int vn__pg_changes_flush_commit(struct vn__pg *s, PGresult **commit);

/* After a successful COMMIT: tell the process's change observer (store.h) what committed. */
void vn__pg_changes_committed(struct vn__pg *s);

/* ---- copy.c ------------------------------------------------------------------------------ */
int vn__pg_table_rows(struct vn_store *st, size_t t, vn__copy_row_cb cb, void *ud);
int vn__pg_table_insert(struct vn_store *st, size_t t, const struct vn__copy_value *vals);
int vn__pg_table_loaded(struct vn_store *st, size_t t);

/* ---- query.c ----------------------------------------------------------------------------- */
int vn__pg_tokens(struct vn_store *st, int64_t now_ms, vn_token_cb cb, void *ud);
int vn__pg_tokens_version(struct vn_store *st, int64_t *version);
int vn__pg_query(struct vn_store *st, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                 void *ud);

#endif
