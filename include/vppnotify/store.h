/*
 * store.h - the storage interface: one handle is one connection to one database.
 *
 * Everything that reads or writes durable state goes through these functions; ingest, apply,
 * the CLI, the event tracker and sync never see SQL. A backend implements struct
 * vn_store_ops (src/lib/store/store_impl.h): SQLite today (src/lib/store/sqlite/),
 * PostgreSQL next.
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
 * Errors: 0 or a negative code, and vn_store_last_error says what the database said. Every
 * code belongs to one failure class (enum vn_store_class below) that tells the caller what to
 * do: VN_ERETRY, VN_EUNAVAIL, VN_EFULL and VN_EFATAL are the store-wide failures; any other
 * code (VN_ESTORE for a constraint or misuse, VN_EDUP / VN_ENOTFOUND / VN_ECONFLICT where
 * stated) concerns the one operation only.
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
    int read_only; /* open without write access (no migrations run) */
    /*
     * Backend parameters in the syntax of the URL's query ("busy_timeout=300ms&max_size=1G"),
     * applied before the URL's own (which win), e.g. from command-line options. NULL: none.
     * Borrowed for the duration of vn_store_open.
     */
    const char *params;
};

/*
 * Open the store named by url (docs/STORE.md):
 *
 *   [sqlite:]PATH[?busy_timeout=DURATION&max_size=SIZE]
 *   postgresql://...  (later)
 *
 * A parameter the backend does not take is an error that names it. Creates an SQLite database
 * (mode 0600) and runs pending migrations unless read_only. opts may be NULL. Returns an owned
 * handle (vn_store_free) or NULL with err set (VN_EPARSE for a bad URL, quoting the part).
 */
struct vn_store *vn_store_open(const char *url, const struct vn_store_options *opts,
                               struct vn_error *err);

void vn_store_free(struct vn_store *st);

/* The schema version the database is at, and the one this build expects. */
int vn_store_schema_version(struct vn_store *st, int *current, int *expected);

/* The backend's name and durability settings, for the start-up log line. */
const char *vn_store_describe(struct vn_store *st);

/* 1 if several serve instances may share this store (PostgreSQL), 0 if one process owns it
 * (SQLite, with serve's lock file). Several instances coordinate with leases (lease.h). */
int vn_store_shared(const struct vn_store *st);

/* A store URL fit to print: any password (user:PASSWORD@, password=...) as "***", cut to
 * outlen. */
void vn_store_url_redact(const char *url, char *out, size_t outlen);

/* The message of the last failure on this handle ("database is locked"), or "". */
const char *vn_store_last_error(struct vn_store *st);

/* ---- failure classes: what a caller does about a failed operation ---------------------- */

/*
 * Every store failure falls in one class; callers act on the class, never on a backend's
 * message. Ordered by severity.
 */
enum vn_store_class {
    VN_STORE_OK = 0, /* no failure */
    /*
     * The operation's own data was refused (a constraint, a value out of range, VN_EDUP,
     * VN_ENOTFOUND, VN_ECONFLICT, misuse such as a savepoint outside a transaction). The
     * transaction is intact: roll back to the job's savepoint and fail that job alone.
     */
    VN_STORE_JOB,
    /*
     * Transient: busy inside a transaction, a serialization failure or deadlock (PostgreSQL),
     * or the transaction was rolled back behind the caller's back. Nothing of the transaction
     * is kept: roll back and run the whole batch again (a bounded number of times).
     * Code VN_ERETRY.
     */
    VN_STORE_RETRY,
    /*
     * The database cannot be reached: the connection is lost, its files are gone (deleted or
     * moved since they were opened), or another writer held the lock past the busy timeout.
     * Answer 503 with Retry-After; vn_store_reconnect, then try again later. Code VN_EUNAVAIL.
     */
    VN_STORE_UNAVAILABLE,
    /* The disk is full or the size cap is reached: 503 with Retry-After, /healthz 503. Code
     * VN_EFULL. */
    VN_STORE_FULL,
    /*
     * An I/O failure (a failed write or fsync) after which the page cache cannot be trusted:
     * answer what is in flight 503, then stop so that a supervisor restarts the process.
     * Sticky: from then on every call on the handle but vn_store_rollback and vn_store_free
     * returns VN_EFATAL without touching the database, and vn_store_last_error keeps the
     * fatal failure's message. Code VN_EFATAL.
     */
    VN_STORE_FATAL,
};

/* The class of a code returned by any vn_store_* function: 0 → VN_STORE_OK, VN_ERETRY →
 * RETRY, VN_EUNAVAIL → UNAVAILABLE, VN_EFULL → FULL, VN_EFATAL → FATAL, any other < 0 → JOB. */
enum vn_store_class vn_store_class_of(int rc);

/*
 * The class of the last failure on this handle (VN_STORE_OK if none yet); its words are in
 * vn_store_last_error ("disk I/O error (sqlite extended code 1034)"). Like that message it is
 * not cleared by later successes, except that vn_store_reconnect clears a non-fatal one.
 */
enum vn_store_class vn_store_last_class(struct vn_store *st);

/* "ok", "job", "retry", "unavailable", "full", "fatal": for logs and /healthz. Static. */
const char *vn_store_class_name(enum vn_store_class c);

/*
 * Drop the connection and open a new one to the same database with the same options (SQLite:
 * reopen the file; PostgreSQL: a new connection). An open transaction is rolled back. Does not
 * create a database that has gone: VN_EUNAVAIL until it is back (then 0). On failure the
 * handle keeps its old connection and stays usable for another attempt. VN_EFATAL if the
 * handle is in the fatal class (a new connection would not make it trustworthy).
 */
int vn_store_reconnect(struct vn_store *st);

/* ---- transactions ----------------------------------------------------------------------- */

int vn_store_begin(struct vn_store *st);     /* a write transaction (SQLite: IMMEDIATE) */
int vn_store_commit(struct vn_store *st);    /* durable on return 0 */
int vn_store_rollback(struct vn_store *st);  /* safe to call when no transaction is open */
int vn_store_savepoint(struct vn_store *st); /* one level, inside a transaction */
int vn_store_release(struct vn_store *st);
int vn_store_rollback_to(struct vn_store *st); /* undo since the savepoint and release it */

/*
 * Run the rest of the current transaction optimistically (the writer's group commit, where a
 * job failing alone is rare): savepoints become no-ops, rolling back to one fails with
 * VN_ERETRY, and a write whose caller needs only its success may be sent ahead without waiting
 * for its answer, so that its failure may surface at a later statement or at the commit. Any
 * failure therefore fails the whole transaction: the caller rolls back and runs the same work
 * again without this mode, where each job's failure is its own. The mode ends with the
 * transaction. 0 when the backend switched; VN_ENOTSUP when it has no such mode. Both backends
 * have it: PostgreSQL saves the savepoints' round trips and sends writes ahead; SQLite saves
 * each job's savepoint (its sub-journal copies of the pages earlier jobs changed).
 */
int vn_store_optimistic(struct vn_store *st);

/*
 * In an optimistic transaction: the notification ids its jobs are about to insert (duplicates
 * and NULLs allowed), read in one statement, so that vn_store_notification_insert and
 * vn_store_notification_repeat of these ids need no answer from the database each (the writer
 * lock keeps them right until the commit; a write that would contradict them fails the
 * transaction, never silently). 0 also when the backend has nothing to gain from it (SQLite).
 * ids are borrowed for the call only.
 */
int vn_store_notifications_known(struct vn_store *st, const char *const *ids, size_t n);

/* A tiny durable write, to prove the store can commit (healthz). Runs its own transaction. */
int vn_store_ping(struct vn_store *st);

/* ---- the notification ledger (dedupe) --------------------------------------------------- */

enum vn_nstate { VN_NSTATE_APPLIED = 1, VN_NSTATE_STORED = 2 };

struct vn_notification_record {
    const char *id;
    const char *uid;
    const char *type_name; /* as received */
    const char *event_id;  /* or NULL */
    enum vn_nstate state;
    const char *error; /* why it was stored and not applied, or NULL */
    const void *body;  /* raw body as received */
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
                        const char *reason, const void *body, size_t body_len, size_t original_len);

/* ---- the mirror (contract.md section 3); all inside a transaction ----------------------- */

/*
 * Add deltas to an asset's counts, creating the asset (counts 0, needsSync) if it is unknown.
 * The asset is marked needsSync when any count becomes negative or assigned > total.
 */
int vn_store_asset_adjust(struct vn_store *st, const char *uid, const char *adam_id,
                          const char *pricing_param, long long d_total, long long d_assigned,
                          long long d_available);

/* Insert an assignment if absent: 1 inserted, 0 already there, or < 0. */
int vn_store_assignment_insert(struct vn_store *st, const char *uid, const struct vn_assignment *a);

/* Delete an assignment if present: 1 deleted, 0 absent, or < 0. */
int vn_store_assignment_delete(struct vn_store *st, const char *uid, const struct vn_assignment *a);

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
    const char *notification_type; /* "ASSET_MANAGEMENT" ... */
    const char *action;            /* "ASSOCIATE" ... */
    long long succeeded;           /* items in a SUCCESS notification */
    long long failed;              /* items in a FAILURE notification */
    long long error_number;        /* FAILURE: the error, 0 if none */
    const char *error_message;     /* or NULL */
    int64_t ms;                    /* when it arrived */
};

/* Create or update the event: notifications += 1, succeeded/failed += ..., errors by number. */
int vn_store_event_note(struct vn_store *st, const struct vn_event_note *e);

/* Record one item a FAILURE notification named (an assignment, a user or a seat). */
int vn_store_event_failed_item(struct vn_store *st, const char *event_id, long long error_number,
                               const char *adam_id, const char *pricing_param,
                               const char *client_user_id, const char *serial_number);

/* ---- locations and their notification tokens ------------------------------------------- */

/* A token digest as the authentication cache sees it. */
struct vn_token_row {
    const char *uid;
    const uint8_t *digest; /* VN_DIGEST_LEN bytes */
    int64_t expires_ms;    /* 0: the current token; else the end of its grace window */
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

/*
 * Undo a rotation that Apple refused (a subscribed location whose new token Client Config
 * did not take): drop the token digest and make the previous token current again, without a
 * grace end. VN_ENOTFOUND if digest is not a token of uid. Own transaction.
 */
int vn_store_location_unrotate(struct vn_store *st, const char *uid,
                               const uint8_t digest[VN_DIGEST_LEN]);

/* ---- instance configuration ------------------------------------------------------------ */

/*
 * The value of key; when absent, value_if_absent is stored and returned (atomically: two
 * processes racing get the same value). *out is owned (free()). value_if_absent NULL: just
 * read, VN_ENOTFOUND when absent.
 */
int vn_store_config_ensure(struct vn_store *st, const char *key, const char *value_if_absent,
                           char **out);

/* ---- the Apple side of a location (contract section 5) ---------------------------------- */

#define VN_URL_MAX 512

/* What vppnotify knows of a location's link to Apple. Strings are "" when unknown. */
struct vn_location_apple {
    char uid[VN_ID_MAX + 1];
    char name[VN_ID_MAX + 1];
    char org_name[VN_ID_MAX + 1];
    uint8_t *stoken; /* sealed sToken (stoken.h), owned; NULL when none */
    size_t stoken_len;
    int64_t token_expires_ms; /* tokenExpirationDate / expDate; 0 unknown */
    char token_status[16];    /* "ok", "expired", "revoked"; "" without an sToken */
    char token_error[VN_TEXT_MAX];
    char notification_url[VN_URL_MAX + 1];
    char notification_types[1024]; /* JSON array as subscribed, "" if not subscribed */
    int64_t subscribed_ms;
    char takeover[1024]; /* another MDM's mdmInfo (JSON) seen in a response, or "" */
    int64_t expiry_warned_ms;
};

/* Read a location: 0, or VN_ENOTFOUND. out->stoken is owned: vn_location_apple_release. */
int vn_store_location_apple(struct vn_store *st, const char *uid, struct vn_location_apple *out);

/* Wipe and free the sealed sToken of l. */
void vn_location_apple_release(struct vn_location_apple *l);

/* uIds of the locations that have an sToken, by uId. *uids: owned array of owned strings. */
int vn_store_apple_uids(struct vn_store *st, char ***uids, size_t *n);

/* Which fields of struct vn_location_update to write. */
enum {
    VN_LU_STOKEN = 1 << 0,       /* stoken (sealed), token_expires_ms, org_name; status ok */
    VN_LU_EXPIRES = 1 << 1,      /* token_expires_ms */
    VN_LU_STATUS = 1 << 2,       /* token_status, token_error */
    VN_LU_SUBSCRIPTION = 1 << 3, /* notification_url, notification_types, subscribed_ms */
    VN_LU_TAKEOVER = 1 << 4,     /* takeover (NULL clears) */
    VN_LU_WARNED = 1 << 5,       /* expiry_warned_ms */
};

struct vn_location_update {
    unsigned what;
    const uint8_t *stoken;
    size_t stoken_len;
    const char *org_name;
    int64_t token_expires_ms;
    const char *token_status;
    const char *token_error;
    const char *notification_url;
    const char *notification_types;
    int64_t subscribed_ms;
    const char *takeover;
    int64_t expiry_warned_ms;
    int64_t now_ms;
};

/* Change what u->what names, one statement (atomic; inside the caller's transaction if one is
 * open). VN_ENOTFOUND if there is no such location. */
int vn_store_location_update(struct vn_store *st, const char *uid,
                             const struct vn_location_update *u);

/*
 * vn_store_location_add, and u (as vn_store_location_update) in the same transaction: a new
 * location with its sToken or nothing. VN_EDUP if the uid exists (nothing changes). Own txn.
 */
int vn_store_location_add_linked(struct vn_store *st, const char *uid, const char *name,
                                 const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                                 const struct vn_location_update *u);

/* ---- sync: replacing the mirror with Apple's records ------------------------------------ */

/*
 * A sync writes every record it fetched with a generation number gen (unique per walk, and
 * growing with the walk's start) and then sweeps: rows of the location inside the scope that
 * carry a lower generation (or none) are deleted. A row keeps the highest generation that
 * returned it, and a write of a lower generation never changes a row a higher one wrote or
 * confirmed: walks that overlap (a CLI sync beside serve's, another instance's) neither sweep
 * away each other's rows nor put older data back. Each
 * call is inside a transaction of the caller (a sync writes page by page and sweeps in
 * chunks: writer.h). Each write returns 0 (the row was already so), 1 (added) or 2 (changed),
 * or < 0. Assets written by a sync lose needsSync.
 */
enum vn_mirror_table {
    VN_MT_ASSETS,
    VN_MT_ASSIGNMENTS,
    VN_MT_USERS,
    VN_MT_SUBSCRIPTIONS,
    VN_MT_SEATS,
    VN_MT__COUNT
};

/*
 * seen is the writer clock read before the record's page was fetched (vn_store_clock): a row
 * changed after it (by a notification, or a newer sync) is newer than the record and is kept,
 * and so is a delete after it (a tombstone): the write is then skipped and returns 3.
 */
int vn_store_sync_asset(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                        const char *adam_id, const char *pricing_param, long long total,
                        long long assigned, long long available);
int vn_store_sync_assignment(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                             const struct vn_assignment *a);
/* Every field is written as given (NULL clears it), unlike the notification upsert. Apple
 * keeps retired users' rows, so one walk may return a clientUserId twice: a row this gen wrote
 * active is kept against a Retired record of the same gen (0); otherwise the later wins. */
int vn_store_sync_user(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                       const struct vn_user *u);
int vn_store_sync_subscription(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                               const char *adam_id, const char *parent_adam_id,
                               const struct vn_counts *c);
int vn_store_sync_seat(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                       const struct vn_seat *s);

/* Which rows a sweep may delete; NULL fields do not narrow it. */
struct vn_mirror_scope {
    const char *adam_id;
    const char *pricing_param;
    const char *client_user_id;
    const char *serial_number;
};

/* Delete the rows of table for uid within scope whose generation is not gen and that did not
 * change after the clock since (the walk's start: a row a notification changed since is newer
 * than the walk), at most limit of them (0: all); *removed gets how many (fewer than limit:
 * nothing is left). */
int vn_store_sync_sweep(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                        int64_t gen, int64_t since, const struct vn_mirror_scope *scope,
                        long long limit, long long *removed);

/* What the last syncs of a location left behind (one row per location). */
struct vn_sync_state {
    char assignments_version[128]; /* versionId for the next sinceVersionId delta, or "" */
    char users_version[128];
    int64_t last_full_ms;         /* last successful full sync; 0 never */
    int64_t last_delta_ms;        /* last successful delta sync; 0 never */
    int64_t last_attempt_ms;      /* last sync started, successful or not */
    char last_kind[16];           /* "full", "delta", "targeted" */
    char last_error[VN_TEXT_MAX]; /* "" when the last attempt succeeded */
    char last_drift[1024];        /* JSON: per table {added, removed, changed} */
};

/* The state of uid; a zeroed struct and 0 when it never synced. */
int vn_store_sync_state_get(struct vn_store *st, const char *uid, struct vn_sync_state *out);
int vn_store_sync_state_put(struct vn_store *st, const char *uid, const struct vn_sync_state *s);

/* ---- convergence (contract 3.1): the writer clock, last changes, verification ---------- */

/*
 * The writer clock orders changes of the mirror: every write transaction that changes it takes
 * the next value (the writer does, after each BEGIN) and each mirror row it changes is stamped
 * with it; deletes of assignments and seats leave a tombstone with it. vn_store_clock reads
 * the value of the last committed one (a read: any handle).
 */
int vn_store_clock_tick(struct vn_store *st, int64_t *clock);
int vn_store_clock(struct vn_store *st, int64_t *clock);

/* What the mirror knows of one key (assignments: adamId, pricingParam and clientUserId or
 * serialNumber; seats: adamId and clientUserId; users: clientUserId) in struct vn_mirror_scope. */
struct vn_key_state {
    int present;                  /* the row exists */
    int64_t clock;                /* of the row, or of its tombstone; 0 when neither */
    char event_id[VN_ID_MAX + 1]; /* the event of the last notification change, or "" */
    char status[32];              /* users: the row's status, or "" */
};

int vn_store_key_state(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                       const struct vn_mirror_scope *key, struct vn_key_state *out);

/*
 * In an optimistic transaction: the assignment keys (VN_MT_ASSIGNMENTS) a job is about to read
 * with vn_store_key_state, read in one statement, so that each of those reads needs no answer
 * from the database of its own (a write of a key makes its next read ask again; any other
 * write forgets them all). 0 also when the backend has nothing to gain from it (SQLite). keys
 * are borrowed for the call only.
 */
int vn_store_assignment_keys_known(struct vn_store *st, const char *uid,
                                   const struct vn_mirror_scope *keys, size_t n);

/* Record event_id as the last notification change of key: on its row, or its tombstone; for a
 * key with neither (a removal of something the mirror never had) a tombstone is made. */
int vn_store_key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                       const struct vn_mirror_scope *key, const char *event_id);

/* The order in which vppnotify sent its requests, per location (1, 2, ...): VN_ENOTFOUND for
 * an event it did not send (unknown, or followed with `events track`). */
int vn_store_event_send_seq(struct vn_store *st, const char *event_id, long long *seq);

/* Keys to verify with a targeted read at Apple (contract 3.1); adding a key twice keeps one. */
int vn_store_verify_add(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                        const struct vn_mirror_scope *key, const char *reason);

struct vn_verify_item {
    long long id;
    enum vn_mirror_table table;
    const char *uid;
    struct vn_mirror_scope key; /* "" fields are NULL */
    const char *reason;
    long long attempts;
};

typedef int (*vn_verify_cb)(void *ud, const struct vn_verify_item *it);

/* Keys waiting (of uid, or all when NULL), oldest first, at most limit (0: all). */
int vn_store_verify_list(struct vn_store *st, const char *uid, long long limit, vn_verify_cb cb,
                         void *ud);

/* The key was verified (error NULL: gone from the list), or the read failed (attempts + 1). */
int vn_store_verify_done(struct vn_store *st, long long id, const char *error);

/* Delete tombstones older than before_ms, at most limit; *removed gets how many. */
int vn_store_tombstones_purge(struct vn_store *st, int64_t before_ms, long long limit,
                              long long *removed);

/* Mark an asset needsSync (if it exists): its counts wait for a targeted read. */
int vn_store_mark_needs_sync(struct vn_store *st, const char *uid, const char *adam_id,
                             const char *pricing_param);

/* Seats of a subscription in the mirror, by renewing. */
int vn_store_seat_count(struct vn_store *st, const char *uid, const char *adam_id,
                        long long *renewing, long long *expiring);

/* ---- tracked events (requests vppnotify sent, or `events track`) ------------------------ */

struct vn_event_track {
    const char *event_id;
    const char *uid;
    const char *kind;    /* "assets", "users", "subscriptions", or NULL (events track) */
    const char *type;    /* "ASSOCIATE", ..., or NULL */
    const char *request; /* JSON of the request sent (for a targeted re-sync), or NULL */
    long long expected;  /* items the notifications should name; 0 unknown */
    int deferred;        /* a deferred subscription disassociation */
    int64_t requested_ms;
};

/* Start tracking an event: VN_EDUP if it is tracked already. */
int vn_store_event_track(struct vn_store *st, const struct vn_event_track *t);

/* A tracked event as the tracker sees it: its tracking row and its notification counters. */
struct vn_tracked_event {
    const char *event_id;
    const char *uid;
    const char *kind;    /* or NULL */
    const char *type;    /* or NULL */
    const char *request; /* or NULL */
    long long expected;
    int deferred;
    int64_t requested_ms;
    const char *status; /* last Event Status: "PENDING", ...; NULL never polled */
    long long num_requested, num_completed;
    long long polls;
    int64_t last_poll_ms; /* 0 never */
    int stalled;
    long long notifications, succeeded, failed; /* from the notifications received */
    int64_t last_notified_ms;                   /* 0 none yet */
};

typedef int (*vn_tracked_cb)(void *ud, const struct vn_tracked_event *e);

/* Every event still being tracked (of uid, or all when NULL), oldest request first. */
int vn_store_events_tracking(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud);

/* Which fields of struct vn_event_tracking_update to write. */
enum {
    VN_ETU_POLL = 1 << 0,    /* polls += 1, last_poll_ms, status, num_*, failures, poll_error */
    VN_ETU_STALLED = 1 << 1, /* stalled = 1 (at now_ms) */
    VN_ETU_MISSING = 1 << 2, /* notificationsMissing = 1 */
    VN_ETU_RESYNC = 1 << 3,  /* resync */
    VN_ETU_DONE = 1 << 4,    /* tracking ends: status, num_*, completed at now_ms */
};

struct vn_event_tracking_update {
    unsigned what;
    const char *status;
    long long num_requested, num_completed; /* < 0: keep */
    const char *failures;                   /* JSON or NULL (keep) */
    const char *poll_error;                 /* POLL: why the poll failed, NULL when it worked */
    const char *resync;                     /* "done", "failed: ...", ... */
    int64_t now_ms;
};

/* VN_ENOTFOUND if the event is not tracked. */
int vn_store_event_tracking_update(struct vn_store *st, const char *event_id,
                                   const struct vn_event_tracking_update *u);

/* ---- leases: one instance at a time for a location's Apple-facing work ------------------ */

/*
 * Take or renew the lease name (e.g. "location:<uId>") for holder (an id unique to this
 * instance) for ttl_ms, by the database's clock: *held = 1 when holder has it now, for ttl_ms
 * from this call (the lease was free, had expired, or was holder's already), 0 when another
 * holder's lease still runs. One statement (inside the caller's transaction if one is open).
 *
 * How a holder uses it (several serve instances on one PostgreSQL database): act on the lease
 * only while its own monotonic clock is within ttl_ms of the START of the last call that
 * returned held, less a margin; renew well before that (every ttl_ms / 3). When a holder dies,
 * another takes the lease over within ttl_ms and one polling period of its own.
 */
int vn_store_lease_take(struct vn_store *st, const char *name, const char *holder, int64_t ttl_ms,
                        int *held);

/* Give the lease up if holder has it (a clean stop): another instance may take it at once. */
int vn_store_lease_release(struct vn_store *st, const char *name, const char *holder);

/*
 * Mutual exclusion across processes for the duration of one piece of work, e.g. the name
 * "location:<uId>" around each Apple request of a location (session.h), so that two processes
 * on one database never talk to Apple for one location at once. Taken on this handle's own
 * connection (PostgreSQL: a session-level advisory lock, keyed by the schema and the name),
 * so it ends with the connection: a process that dies (kill -9) or loses the database frees
 * it. SQLite: a lock on one byte of "<database>-apple.lock" held by this handle's open file
 * (fcntl F_OFD_SETLK), so serve's threads and the CLI beside serve exclude each other; it
 * ends when the handle is freed or its process dies (a database in memory, or a lock file
 * that cannot be opened: held at once). Waits up to wait_ms (PostgreSQL: in line; SQLite:
 * polling every 10 ms): *held = 1 when this handle holds it now, 0 when another handle kept
 * it throughout (rc 0 both). Outside any transaction of the handle, one name at a time per
 * handle.
 */
int vn_store_mutex_lock(struct vn_store *st, const char *name, int64_t wait_ms, int *held);

/* Give it up. *lost = 1 when the handle did not hold it (any more: its connection broke and
 * was replaced since the lock, another process may have held it meanwhile); 0 normally. */
int vn_store_mutex_unlock(struct vn_store *st, const char *name, int *lost);

/*
 * The fence of the mutex name, for work that can outlive the mutex (a request to Apple still
 * in flight when the connection holding the mutex broke, or its process died): take or renew
 * it for token (unique to this piece of work) for hold_ms by the database's clock: *held = 1
 * when token has it now, 0 when another token's fence still runs (the caller waits and tries
 * again); hold_ms 0 gives token's up (*held = 0). Written at once, in a transaction of its
 * own (read-write also on a read-only handle), outside any transaction of the handle. Kept
 * as the lease "requests:<name>" (table leases) on PostgreSQL, as a record in the lock file
 * "<database>-apple.lock" on SQLite (the host's clock; a database in memory: held at once).
 */
int vn_store_mutex_fence(struct vn_store *st, const char *name, const char *token, int64_t hold_ms,
                         int *held);

/* ---- moving an installation between stores (vppnotify store copy) ---------------------- */

#define VN_STORE_COPY_TABLES_MAX 32

/* Rows per table of a copy or a comparison, in the order tables are copied. */
struct vn_store_copy_report {
    size_t n;
    struct {
        const char *name; /* static */
        long long rows;
    } tables[VN_STORE_COPY_TABLES_MAX];
};

/*
 * Copy every table of from into to (SQLite to PostgreSQL, or back, or alike), in one
 * transaction of to, rows in order and ids kept; to must be empty (a new database or schema):
 * else VN_ECONFLICT naming a table that has rows. Not copied: what a store derives itself
 * (schema version, the token counter, health rows) and leases. Stop every serve on from first.
 */
int vn_store_copy(struct vn_store *from, struct vn_store *to, struct vn_store_copy_report *r,
                  struct vn_error *err);

/* Compare a and b table by table (every copied column of every row, in order): 0 when equal,
 * else VN_ECONFLICT naming the first table that differs. r gets a's row counts. */
int vn_store_compare(struct vn_store *a, struct vn_store *b, struct vn_store_copy_report *r,
                     struct vn_error *err);

/* ---- read queries for the CLI: generic rows keyed by Apple's JSON names ----------------- */

enum vn_vtype { VN_V_NULL = 0, VN_V_INT, VN_V_TEXT, VN_V_BOOL, VN_V_JSON };

struct vn_value {
    enum vn_vtype type;
    long long i;   /* INT, BOOL */
    const char *s; /* TEXT, JSON (a JSON text) */
};

/* keys[k] names vals[k]; a dotted key ("counts.available.renewing") means nested objects. */
struct vn_row {
    size_t n;
    const char *const *keys;
    const struct vn_value *vals;
    /* The row's place in its query's order, as a JSON array (the keyset of the integration
     * API's pages: pass it as vn_filter's after to continue after this row), or NULL for a
     * query that does not page. */
    const char *cursor;
};

/* Return non-zero to stop the iteration (that value is returned by vn_store_query). The
 * callback may use the store, but must not run the same query on the same handle (each query
 * is one cached statement, busy until the iteration ends). */
typedef int (*vn_row_cb)(void *ud, const struct vn_row *row);

/* The value of the column key of r, or NULL when r has no such column. */
const struct vn_value *vn_row_value(const struct vn_row *r, const char *key);

/* The column key as text (a TEXT or JSON value), or NULL (absent, NULL, another type). */
const char *vn_row_text(const struct vn_row *r, const char *key);

/* The column key as a number (an INT or BOOL value), or 0 (absent, NULL, another type). */
long long vn_row_int(const struct vn_row *r, const char *key);

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
    VN_Q_EVENT_FAILED_ITEMS, /* the items FAILURE notifications named, per event */
    VN_Q_API_KEYS,           /* name scope key createdAt revokedAt (the API's section below) */
    VN_Q_LEASES,             /* who holds which lease, until when */
    VN_Q_WEBHOOKS,           /* id url kinds state cursor delivered ... (the API's section) */
    VN_Q_WEBHOOK_DELIVERIES, /* one row per attempt; state "failed": failed attempts only */
};

/* Filters; NULL fields do not filter. Queries ignore filters that do not apply to them. */
struct vn_filter {
    const char *uid;
    const char *adam_id;
    const char *client_user_id;
    const char *serial_number;
    const char *event_id;
    const char *state;     /* notifications: "applied" or "stored" */
    const char *type_name; /* notifications/events: notificationType */
    const char *after;     /* only rows after this vn_row cursor (queries that page) */
    const char *webhook;   /* webhook deliveries: of this endpoint id (decimal) */
    long long limit;       /* 0: no limit */
};

int vn_store_query(struct vn_store *st, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                   void *ud);

/* ---- the integration API's tables (contract section 8; used by src/lib/api/) ------------
 *
 * API keys (digests only, like notification tokens) and the change log. Kept in this clearly
 * named section so that the store's own sections stay the store engineer's.
 */

#define VN_API_KEY_NAME_MAX 64

/* A key as the API's key cache sees it (keys that are not revoked). */
struct vn_api_key_row {
    const char *name;
    const char *scope;     /* "read" or "manage" */
    const uint8_t *digest; /* VN_DIGEST_LEN bytes: SHA-256 of the whole key */
};

typedef int (*vn_api_key_cb)(void *ud, const struct vn_api_key_row *row);

/* Add a key: VN_EDUP when a key of that name exists and is not revoked. shown: the first
 * characters of the key, kept to recognise it in a list. Own transaction. */
int vn_store_api_key_add(struct vn_store *st, const char *name, const char *scope,
                         const uint8_t digest[VN_DIGEST_LEN], const char *shown, int64_t now_ms);

/* Revoke the key of that name (it stays listed, revoked): VN_ENOTFOUND. Own transaction. */
int vn_store_api_key_revoke(struct vn_store *st, const char *name, int64_t now_ms);

/* Every key that is not revoked. */
int vn_store_api_keys(struct vn_store *st, vn_api_key_cb cb, void *ud);

/* A number that changes whenever any key is added or revoked, by any process. */
int vn_store_api_keys_version(struct vn_store *st, int64_t *version);

/*
 * The change log. Every change of a mirror row (asset, assignment, user, subscription,
 * subscription assignment), of an event (its counters, errors, tracking) or of a location
 * (its tokens, token status, subscription, syncs) is appended to the log by the backend in the
 * transaction that makes it, whoever makes it, at commit: one change per key and transaction,
 * carrying the row as the read queries show it at that commit (NULL when deleted). Sequence
 * numbers grow in commit order, so a reader that has read up to N never later finds a
 * committed change <= N it did not see (docs/ARCHITECTURE.md says how each backend keeps it).
 * Changes older than the retention are pruned; the last one is always kept.
 */
struct vn_change {
    int64_t seq;
    const char *at;   /* when it committed, ISO-8601 */
    const char *kind; /* asset assignment user subscription subscriptionAssignment event location */
    const char *op;   /* insert update delete; for events also completed failed stalled */
    const char *uid;  /* the location, or NULL */
    const char *key;  /* JSON object: the row's key under Apple's names */
    const char *row;  /* JSON object, or NULL for a delete (null members are to be left out) */
};

typedef int (*vn_change_cb)(void *ud, const struct vn_change *c);

/* The changes with seq > after, oldest first, at most limit (> 0). */
int vn_store_changes(struct vn_store *st, int64_t after, long long limit, vn_change_cb cb,
                     void *ud);

struct vn_changes_head {
    int64_t last_seq;       /* the newest change's seq, 0 when none yet */
    int64_t pruned_through; /* every change <= this is gone (retention); 0 none */
    int64_t retention_ms;
};

int vn_store_changes_head(struct vn_store *st, struct vn_changes_head *out);

/* Keep changes for retention_ms (every process that writes prunes by it). Own transaction. */
int vn_store_changes_set_retention(struct vn_store *st, int64_t retention_ms);

/*
 * The process's change observer: after every commit that appended changes, on any handle of
 * this process, fn(ud, last_seq) runs on the committing thread (it must be quick and must not
 * use the store). Other processes' commits are not seen: poll vn_store_changes_head for them.
 * Set it before threads start; NULL removes it.
 */
typedef void (*vn_changes_observer)(void *ud, int64_t last_seq);
void vn_store_changes_observe(vn_changes_observer fn, void *ud);
/* ---- operations: what /metrics and the dashboard read, and backups (deploy) --------------- */

/* Tracked events by state, for the events gauges. pending: tracked, not yet complete and not
 * stalled; stalled: still PENDING past --event-stall; missing: fewer items notified than
 * completed and the targeted re-sync has not succeeded yet; failed: Event Status FAILED within
 * the last 24 hours. */
struct vn_event_counts {
    long long pending, stalled, missing, failed;
};

/* Count the tracked events by state (one indexed pass over event_tracking). */
int vn_store_event_counts(struct vn_store *st, int64_t now_ms, struct vn_event_counts *out);

/* The receive time of uid's latest notification (an index lookup); *ms = 0 when none. */
int vn_store_last_notification(struct vn_store *st, const char *uid, int64_t *ms);

/* The newest notifications first (at most limit, 1..1000), with the row keys of
 * VN_Q_NOTIFICATIONS; for the dashboard's "recent notifications". */
int vn_store_recent_notifications(struct vn_store *st, long long limit, vn_row_cb cb, void *ud);

/*
 * Copy the whole database, consistent as of one instant, to a new file at path (mode 0600;
 * refused if path exists), while other connections go on writing (SQLite: the online backup
 * API, sqlite3_backup_*). The copy is written beside path first and renamed into place when
 * complete and synced, so path is either absent or a whole copy. VN_EDUP when path exists,
 * VN_ESTORE (message in vn_store_last_error).
 */
int vn_store_backup(struct vn_store *st, const char *path);

/* ---- rejected requests (401/403): `vppnotify rejections` (endpoint; docs/SCHEMA.md) ----- */

/* One row: rejections of one kind from one address, aggregated over a short window. */
struct vn_rejection {
    int64_t first_ms, last_ms; /* the first and the last rejection it counts */
    const char *remote;        /* the client's address */
    int status;                /* 401 or 403 */
    const char *reason;        /* "unknown token", "missing Authorization", ... */
    const char *claimed_uid;   /* the envelope's uId when the body was read, else NULL */
    const char *token_uid;     /* 403: the location of the token presented, else NULL */
    long long count;           /* how many rejections */
};

/*
 * Append n rows, then drop the oldest rows beyond max_rows (0: no limit) and the rows whose
 * last rejection is older than before_ms (0: none). Inside the caller's transaction.
 * VN_ENOTSUP for a backend that does not keep them.
 */
int vn_store_rejections_add(struct vn_store *st, const struct vn_rejection *rows, size_t n,
                            long long max_rows, int64_t before_ms);

/* Rows newest first (keys firstAt lastAt remote status reason claimedUId tokenUId count):
 * those whose last rejection is at or after since_ms (0: all), at most limit (0: all). */
int vn_store_rejections(struct vn_store *st, int64_t since_ms, long long limit, vn_row_cb cb,
                        void *ud);

/*
 * Webhook endpoints. An endpoint's outbox is the change log after its cursor: a change is
 * queued for every endpoint by the commit that logs it. Changes are not pruned while an
 * active endpoint still needs them.
 */
struct vn_webhook {
    int64_t id;
    const char *url;
    const char *kinds;     /* "asset,event.completed": kinds or message types; NULL: all */
    const uint8_t *secret; /* sealed (stoken.h), secret_len bytes */
    size_t secret_len;
    int64_t cursor; /* every change <= cursor was delivered or filtered out */
    int active;
    long long attempts;       /* of the message after the cursor */
    int64_t failing_since_ms; /* its first failed attempt; 0 when not failing */
    int64_t next_attempt_ms;  /* 0: now */
};

typedef int (*vn_webhook_cb)(void *ud, const struct vn_webhook *w);

/* Add an endpoint whose cursor is the log's newest change (it gets what commits from now). *id
 * gets its id. Own transaction. */
int vn_store_webhook_add(struct vn_store *st, const char *url, const char *kinds,
                         const uint8_t *secret, size_t secret_len, int64_t now_ms, int64_t *id);

/* Remove an endpoint and its deliveries: VN_ENOTFOUND. Own transaction. */
int vn_store_webhook_remove(struct vn_store *st, int64_t id);

/* Every endpoint (id 0), or one: VN_ENOTFOUND when that one does not exist. */
int vn_store_webhooks(struct vn_store *st, int64_t id, vn_webhook_cb cb, void *ud);

/* One delivery attempt (inside a transaction, with the endpoint's new state). */
struct vn_webhook_attempt {
    int64_t endpoint_id;
    int64_t seq;            /* the change */
    const char *message_id; /* webhook-id */
    const char *type;       /* "asset.updated" */
    long long attempt;      /* 1, 2, ... */
    int64_t at_ms;
    int status;        /* HTTP status, 0 when there was no answer */
    const char *error; /* why it failed, or NULL */
    int ok;
    long long duration_ms;
};

struct vn_webhook_state {
    int64_t expect_cursor; /* the cursor the update is based on (another process may move it) */
    int64_t cursor;
    int active;
    const char *disabled_reason; /* when not active */
    long long attempts;
    int64_t failing_since_ms, next_attempt_ms;
    int64_t last_attempt_ms;
    int last_status;
    const char *last_error;
    long long delivered; /* messages taken since the last update */
};

/* Record attempts (n may be 0) and the endpoint's new state, inside the caller's transaction.
 * VN_ECONFLICT when the cursor is no longer expect_cursor (nothing written); VN_ENOTFOUND. */
int vn_store_webhook_update(struct vn_store *st, int64_t id, const struct vn_webhook_state *s,
                            const struct vn_webhook_attempt *attempts, size_t n);

/* Enable an endpoint again and try its next message now; after >= 0 also sends again every
 * change after it (cursor = min(cursor, after)). VN_ENOTFOUND. Own transaction. */
int vn_store_webhook_redeliver(struct vn_store *st, int64_t id, int64_t after);

/*
 * Idempotency-Key of the API's POST routes, per API key (scope: the key's name). The first
 * answer is kept and given again to every retry carrying the same key and request.
 */
struct vn_idempotency {
    int done;                            /* 0: still running (or its outcome was lost) */
    uint8_t request_hash[VN_DIGEST_LEN]; /* SHA-256 of the request */
    int status;                          /* the answer, when done */
    char *body;                          /* owned (free()), when done */
    int64_t created_ms;
};

/* VN_ENOTFOUND when the key was never used. */
int vn_store_idempotency_get(struct vn_store *st, const char *scope, const char *key,
                             struct vn_idempotency *out);

/* Record that a request with this key starts (inside a transaction): VN_EDUP if the key is
 * known already (someone else started it first). */
int vn_store_idempotency_begin(struct vn_store *st, const char *scope, const char *key,
                               const uint8_t request_hash[VN_DIGEST_LEN], int64_t now_ms);

/* Keep its answer (inside a transaction). */
int vn_store_idempotency_finish(struct vn_store *st, const char *scope, const char *key, int status,
                                const char *body);

#endif
