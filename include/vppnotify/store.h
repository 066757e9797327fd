/*
 * store.h - the storage interface: one handle is one connection to one database.
 *
 * Everything that reads or writes durable state goes through these functions; ingest, apply,
 * the CLI, the event tracker and sync never see SQL. A backend implements struct
 * vn_store_ops (src/lib/store_impl.h): SQLite today (store_sqlite.c), PostgreSQL next.
 *
 * Threads: a handle is used by one thread at a time. The daemon gives its writer thread one
 * handle and the authentication cache another.
 *
 * Transactions: mirror and ledger writes must happen between vn_store_begin and
 * vn_store_commit; savepoints nest one level inside (one notification of a group commit).
 * vn_store_commit returns only once the transaction is durable (SQLite: WAL with
 * synchronous=FULL; PostgreSQL: a synchronous commit).
 *
 * Strings passed in are borrowed for the duration of the call. Rows handed to a callback are
 * borrowed for the duration of the callback.
 *
 * Errors: 0 or a negative code. VN_ESTORE for a backend failure (err says what the database
 * said); VN_EFULL when the database is full (disk or --max-db-size); VN_EDUP / VN_ENOTFOUND
 * where stated.
 */
#ifndef VPPNOTIFY_STORE_H
#define VPPNOTIFY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vppnotify/notification.h"
#include "vppnotify/secret.h"

struct vn_error;
struct vn_store;

/* ---- opening ---------------------------------------------------------------------------- */

struct vn_store_options {
    int read_only;            /* open without write access (no migrations run) */
    long long busy_timeout_ms;/* how long to wait for another writer; default 5000 */
    long long max_db_bytes;   /* refuse to grow the database beyond this; 0 = unlimited */
};

/*
 * Open the store named by url: a file path ("var/vppnotify.db", "sqlite:var/x.db") or, later,
 * "postgresql://...". Creates the database (mode 0600) and runs pending migrations unless
 * read_only. opts may be NULL. Returns an owned handle (vn_store_free) or NULL with err set.
 */
struct vn_store *vn_store_open(const char *url, const struct vn_store_options *opts,
                               struct vn_error *err);

void vn_store_free(struct vn_store *st);

/* The schema version the database is at, and the one this build expects. */
int vn_store_schema_version(struct vn_store *st, int *current, int *expected);

/* The backend's name and durability settings, for the start-up log line. */
const char *vn_store_describe(struct vn_store *st);

/* The message of the last failure on this handle ("database is locked"), or "". */
const char *vn_store_last_error(struct vn_store *st);

/*
 * 1 once an operation on this handle failed with an I/O error (a failed write or fsync), else
 * 0. Sticky: after a failed fsync the page cache cannot be trusted, so the daemon stops and a
 * supervisor restarts it. The backend's own code is in vn_store_last_error's message
 * ("disk I/O error (sqlite extended code 1034)").
 */
int vn_store_failed_io(struct vn_store *st);

/* ---- transactions ----------------------------------------------------------------------- */

int vn_store_begin(struct vn_store *st);       /* a write transaction (SQLite: IMMEDIATE) */
int vn_store_commit(struct vn_store *st);      /* durable on return 0 */
int vn_store_rollback(struct vn_store *st);    /* safe to call when no transaction is open */
int vn_store_savepoint(struct vn_store *st);   /* one level, inside a transaction */
int vn_store_release(struct vn_store *st);
int vn_store_rollback_to(struct vn_store *st); /* undo since the savepoint and release it */

/* A tiny durable write, to prove the store can commit (healthz). Runs its own transaction. */
int vn_store_ping(struct vn_store *st);

/* ---- the notification ledger (dedupe) --------------------------------------------------- */

enum vn_nstate { VN_NSTATE_APPLIED = 1, VN_NSTATE_STORED = 2 };

struct vn_notification_record {
    const char *id;
    const char *uid;
    const char *type_name;    /* as received */
    const char *event_id;     /* or NULL */
    enum vn_nstate state;
    const char *error;        /* why it was stored and not applied, or NULL */
    const void *body;         /* raw body as received */
    size_t body_len;
    uint8_t digest[VN_DIGEST_LEN]; /* SHA-256 of body */
    int64_t received_ms;
};

/* Insert a new notification: 0, or VN_EDUP if its id is already known (nothing written). */
int vn_store_notification_insert(struct vn_store *st, const struct vn_notification_record *r);

/*
 * Count a repeat delivery of a known id: duplicates += 1, and conflicts += 1 when digest
 * differs from the stored body's. *conflict (may be NULL) says which.
 */
int vn_store_notification_repeat(struct vn_store *st, const char *id,
                                 const uint8_t digest[VN_DIGEST_LEN], int *conflict);

/* Move a known notification to another state (replay): VN_ECONFLICT if it is in that state
 * already (someone else got there first), VN_ENOTFOUND if the id is unknown. */
int vn_store_notification_set_state(struct vn_store *st, const char *id, enum vn_nstate state,
                                    const char *error);

/* A stored notification's raw body; *body is owned by the caller (free()). VN_ENOTFOUND. */
int vn_store_notification_body(struct vn_store *st, const char *id, char **body, size_t *len);

/* Ids of notifications in state stored (of one uid, or all when uid is NULL), oldest first.
 * *ids is an owned array of owned strings: free each, then the array. */
int vn_store_stored_ids(struct vn_store *st, const char *uid, char ***ids, size_t *n);

/* Keep a body that was not a notification (HTTP 400). body is capped by the caller. */
int vn_store_quarantine(struct vn_store *st, int64_t received_ms, const char *remote,
                        const char *reason, const void *body, size_t body_len,
                        size_t original_len);

/* ---- the mirror (contract.md section 3); all inside a transaction ----------------------- */

/*
 * Add deltas to an asset's counts, creating the asset (counts 0, needsSync) if it is unknown.
 * The asset is marked needsSync when any count becomes negative or assigned > total.
 */
int vn_store_asset_adjust(struct vn_store *st, const char *uid, const char *adam_id,
                          const char *pricing_param, long long d_total, long long d_assigned,
                          long long d_available);

/* Insert an assignment if absent: 1 inserted, 0 already there, or < 0. */
int vn_store_assignment_insert(struct vn_store *st, const char *uid,
                               const struct vn_assignment *a);

/* Delete an assignment if present: 1 deleted, 0 absent, or < 0. */
int vn_store_assignment_delete(struct vn_store *st, const char *uid,
                               const struct vn_assignment *a);

/* Upsert a user with the fields that are non-NULL; status, if not NULL, overrides u->status. */
int vn_store_user_upsert(struct vn_store *st, const char *uid, const struct vn_user *u,
                         const char *status);

/* Set a subscription's available and total counts; parent_adam_id NULL keeps the known one. */
int vn_store_subscription_set_counts(struct vn_store *st, const char *uid, const char *adam_id,
                                     const char *parent_adam_id, const struct vn_counts *c);

/* Upsert a seat (renewing), or delete it: 1 changed/deleted, 0 absent (delete), or < 0. */
int vn_store_seat_upsert(struct vn_store *st, const char *uid, const struct vn_seat *s);
int vn_store_seat_delete(struct vn_store *st, const char *uid, const struct vn_seat *s);

/* The location received a TEST_NOTIFICATION at ms. VN_ENOTFOUND if no such location. */
int vn_store_location_tested(struct vn_store *st, const char *uid, int64_t ms);

/* ---- events (one per Apple eventId) ----------------------------------------------------- */

/* What one notification tells about its event. */
struct vn_event_note {
    const char *event_id;
    const char *uid;
    const char *notification_type;  /* "ASSET_MANAGEMENT" ... */
    const char *action;             /* "ASSOCIATE" ... */
    long long succeeded;            /* items in a SUCCESS notification */
    long long failed;               /* items in a FAILURE notification */
    long long error_number;         /* FAILURE: the error, 0 if none */
    const char *error_message;      /* or NULL */
    int64_t ms;                     /* when it arrived */
};

/* Create or update the event: notifications += 1, succeeded/failed += ..., errors by number. */
int vn_store_event_note(struct vn_store *st, const struct vn_event_note *e);

/* Record one item a FAILURE notification named (an assignment, a user or a seat). */
int vn_store_event_failed_item(struct vn_store *st, const char *event_id,
                               long long error_number, const char *adam_id,
                               const char *pricing_param, const char *client_user_id,
                               const char *serial_number);

/* ---- locations and their notification tokens ------------------------------------------- */

/* A token digest as the authentication cache sees it. */
struct vn_token_row {
    const char *uid;
    const uint8_t *digest;      /* VN_DIGEST_LEN bytes */
    int64_t expires_ms;         /* 0: the current token; else the end of its grace window */
};

typedef int (*vn_token_cb)(void *ud, const struct vn_token_row *row);

/* Every token of every location, current and in grace (expired ones are skipped). */
int vn_store_tokens(struct vn_store *st, int64_t now_ms, vn_token_cb cb, void *ud);

/* A number that changes whenever any token is added, changed or removed, by any process. */
int vn_store_tokens_version(struct vn_store *st, int64_t *version);

/* Create a location with its first token: VN_EDUP if the uid exists. Own transaction. */
int vn_store_location_add(struct vn_store *st, const char *uid, const char *name,
                          const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms);

/* Delete a location, its tokens, its mirror rows and its events. VN_ENOTFOUND. Own txn. */
int vn_store_location_remove(struct vn_store *st, const char *uid);

/*
 * Make digest the current token; the old current token stays valid until grace_until_ms; any
 * older token is dropped. VN_ENOTFOUND. Own transaction.
 */
int vn_store_location_rotate(struct vn_store *st, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                             int64_t grace_until_ms);

/* ---- read queries for the CLI: generic rows keyed by Apple's JSON names ----------------- */

enum vn_vtype { VN_V_NULL = 0, VN_V_INT, VN_V_TEXT, VN_V_BOOL, VN_V_JSON };

struct vn_value {
    enum vn_vtype type;
    long long i;        /* INT, BOOL */
    const char *s;      /* TEXT, JSON (a JSON text) */
};

/* keys[k] names vals[k]; a dotted key ("counts.available.renewing") means nested objects. */
struct vn_row {
    size_t n;
    const char *const *keys;
    const struct vn_value *vals;
};

/* Return non-zero to stop the iteration (that value is returned by vn_store_query). The
 * callback may use the store, but must not run the same query on the same handle (each query
 * is one cached statement, busy until the iteration ends). */
typedef int (*vn_row_cb)(void *ud, const struct vn_row *row);

enum vn_query {
    VN_Q_ASSETS,
    VN_Q_ASSIGNMENTS,
    VN_Q_USERS,
    VN_Q_SUBSCRIPTIONS,
    VN_Q_SUBSCRIPTION_ASSIGNMENTS,
    VN_Q_EVENTS,
    VN_Q_NOTIFICATIONS,
    VN_Q_LOCATIONS,
    VN_Q_QUARANTINE,
};

/* Filters; NULL fields do not filter. Queries ignore filters that do not apply to them. */
struct vn_filter {
    const char *uid;
    const char *adam_id;
    const char *client_user_id;
    const char *serial_number;
    const char *event_id;
    const char *state;          /* notifications: "applied" or "stored" */
    const char *type_name;      /* notifications/events: notificationType */
    long long limit;            /* 0: no limit */
};

int vn_store_query(struct vn_store *st, enum vn_query q, const struct vn_filter *f,
                   vn_row_cb cb, void *ud);

#endif
