/*
 * sim.h - vppsim's internal interface: the emulator of Apple's Apps and Books v2 service.
 *
 * Threads and locking. One mutex, sim->mu, guards the SQLite connection and every piece of
 * mutable in-memory state (faults, limits, rate buckets, counters). HTTP handlers run on
 * MHD's connection threads and are called with sim->mu held; the few that must wait (the
 * synchronous TEST_NOTIFICATION, /_sim/settle) release it while they wait. The event
 * worker and the delivery workers take it for their SQL and never hold it during network
 * I/O. Functions below say "locked" when the caller must hold sim->mu.
 *
 * Ownership is stated per function: "borrows" (the caller keeps it), "takes" (the callee
 * frees it), "returns owned" (the caller frees it, with what).
 */
#ifndef VPPSIM_SIM_H
#define VPPSIM_SIM_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "vppnotify/opts.h"

struct MHD_Connection;
struct vn_error;

/* ------------------------------------------------------------------------------------------
 * Configuration (filled by main.c from the option table)
 */
struct sim_config {
    char *listen;
    char *ready_file;
    char *time_scale_text;
    long long page_size;
    char *state;
    long long seed;
    struct vn_strlist limit; /* "key=value" texts */
    long long max_body;
    long long max_control_body;
    long long connect_timeout_ms;
    long long delivery_timeout_ms;
    long long delivery_workers;
    char *ca_file;
    long long event_delay_ms;
    long long event_batch;
    long long event_step_ms;
    char *token_expiration_field;
    char *fault_duplicate;
    char *fault_drop;
    char *fault_reorder;
    char *fault_delay;
    long long fault_delay_by_ms;
    long long fault_429;
    long long fault_503;
    long long fault_error_body;
    long long fault_retry_after;
    char *fault_path;
    long long fault_version_change;
    char *log_level;
    char *log_format;
    int markdown;
    int help;
    char *config;
};

/* ------------------------------------------------------------------------------------------
 * Limits (Service Config "limits"), changeable at run time
 */
struct sim_limit {
    const char *name;
    long long value;
};

enum sim_limit_id {
    LIM_MAX_ASSETS,
    LIM_MAX_CLIENT_USER_IDS,
    LIM_MAX_SERIAL_NUMBERS,
    LIM_MAX_REVOKE_CLIENT_USER_IDS,
    LIM_MAX_REVOKE_SERIAL_NUMBERS,
    LIM_MAX_USERS,
    LIM_MAX_SUBSCRIPTIONS,
    LIM_MAX_SUBSCRIPTION_CLIENT_USER_IDS,
    LIM_MAX_NOTIFICATION_LENGTH,
    LIM_MAX_MDM_NAME_LENGTH,
    LIM_MAX_MDM_ID_LENGTH,
    LIM_MAX_MDM_METADATA_LENGTH,
    LIM_MAX_REQUEST_PER_SECOND,
    LIM_COUNT
};

/* ------------------------------------------------------------------------------------------
 * Faults (faults.c). Probabilities are in [0, 1]; counts are "the next N".
 */
struct sim_forced {
    long long count;       /* requests left to answer with the fault */
    long long retry_after; /* seconds, for 429/503 */
    char path[128];        /* only this request path ("" = every /mdm/v2 path) */
};

struct sim_faults {
    double duplicate; /* a delivered notification is delivered once more */
    double drop;      /* a notification is lost: no attempt at all */
    double reorder;   /* the notifications of one batch are delivered shuffled */
    double delay;     /* the first attempt is delayed by delay_by_ms (scaled) */
    long long delay_by_ms;
    struct sim_forced http429;
    struct sim_forced http503;
    struct sim_forced error_body; /* HTTP 200 whose body is an ErrorResponse (9603) */
    long long version_change;     /* next N "next page" requests see a changed data set */
};

/* ------------------------------------------------------------------------------------------
 * The emulator
 */
#define SIM_MAX_BUCKETS  1024
#define SIM_MAX_COUNTERS 512
#define SIM_MAX_BATCH    4096 /* notifications of one batch that reordering can shuffle */

struct sim_bucket {
    char uid[40];
    double tokens;
    int64_t last_ns;
};

struct sim_counter {
    char method[8];
    char path[64];
    int status;
    long long count;
};

struct sim {
    struct sim_config *cfg;
    double time_scale;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;    /* events to process, or stop */
    pthread_cond_t deliver_cv; /* notifications due, or stop */
    pthread_cond_t settle_cv;  /* something finished: settle waiters re-check */
    int stopping;
    int paused;          /* event processing paused by /_sim/processing */
    int sync_deliveries; /* TEST_NOTIFICATIONs being delivered right now */

    sqlite3 *db;
    struct sim_limit limits[LIM_COUNT];
    struct sim_faults faults;

    struct sim_bucket buckets[SIM_MAX_BUCKETS];
    size_t nbuckets;
    struct sim_counter counters[SIM_MAX_COUNTERS];
    size_t ncounters;
    long long requests_total;

    /* Notifications created by the batch being processed (for reordering). */
    int64_t batch_ids[SIM_MAX_BATCH];
    size_t batch_n;
    int in_batch;

    /* Deterministic randomness (--seed). */
    pthread_mutex_t rng_mu;
    int rng_det;
    unsigned char rng_key[32];
    uint64_t rng_counter;
    unsigned char rng_pool[1024];
    size_t rng_used;

    pthread_t event_thread;
    pthread_t *delivery_threads;
    size_t ndelivery;
    int threads_started;

    void *httpd;     /* struct MHD_Daemon */
    char bound[128]; /* host:port actually bound */
};

/* ------------------------------------------------------------------------------------------
 * A request being answered (server.c fills it; handlers set status and body)
 */
struct sim_req {
    struct sim *sim;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* borrowed; NUL-terminated; NULL when none */
    size_t body_len;
    json_t *json; /* parsed body (object) or NULL; owned by the server */
    char uid[40]; /* authenticated location; "" for unauthenticated routes */
    int64_t token_exp_ms;
    int token_kind; /* enum sim_token_kind of the authenticated token */

    int status;            /* HTTP status to answer */
    json_t *resp;          /* owned; the JSON body */
    long long retry_after; /* > 0: add Retry-After */
    int envelope;          /* add uId, tokenExpirationDate, mdmInfo to a 2xx object */
    const char *allow;     /* Allow header of a 405 (static string) */
};

typedef void (*sim_handler)(struct sim_req *r);

/* rng.c ------------------------------------------------------------------------------------ */
/* Seed the generator: seed 0 = libsodium's system randomness; otherwise deterministic. */
void sim_rng_init(struct sim *s, long long seed);
void sim_rng_bytes(struct sim *s, void *p, size_t n);
/* Uniform in [0, upper). */
uint64_t sim_rng_uniform(struct sim *s, uint64_t upper);
/* Uniform in [0, 1). */
double sim_rng_double(struct sim *s);
/* 1 with probability p. */
int sim_rng_chance(struct sim *s, double p);
/* A version-4 UUID (37 bytes with NUL). */
void sim_uuid(struct sim *s, char out[37]);
/* n random bytes as lower-case hex into out (2n+1 bytes). */
void sim_hex_token(struct sim *s, size_t n, char *out);
/* Scale a duration in milliseconds by --time-scale (at least 0). */
int64_t sim_scaled_ms(const struct sim *s, double ms);
/* When delivery attempt 2 or 3 is due, in scaled milliseconds after attempt 1. */
int64_t sim_retry_offset_ms(struct sim *s, int attempt);

/* db.c ------------------------------------------------------------------------------------- */
enum sim_coll {
    COLL_ASSETS,
    COLL_ASSIGNMENTS,
    COLL_USERS,
    COLL_SUBSCRIPTIONS,
    COLL_SUB_ASSIGNMENTS,
    COLL_ADMINS,
    COLL_COUNT
};
extern const char *const sim_coll_names[COLL_COUNT];

/* What a token may call (tokens.kind). Read-only (a facilitator's token): every GET, no POST
 * (403/9637). Legacy: nothing that needs a token (403/9647). */
enum sim_token_kind { TOKEN_NORMAL, TOKEN_READ_ONLY, TOKEN_LEGACY, TOKEN_KIND_COUNT };
/* "normal", "read-only", "legacy": the values of tokens.kind and of the control API. */
extern const char *const sim_token_kind_names[TOKEN_KIND_COUNT];
/* The kind called name, or -1 if none is. */
int sim_token_kind_parse(const char *name);

/* A write to one location: every changed row gets seq; at the end, every collection touched
 * gets a new versionId. */
struct sim_write {
    char uid[40];
    int64_t seq;
    unsigned touched;
};

int sim_db_open(struct sim *s, const char *path, struct vn_error *err);
void sim_db_close(struct sim *s);
/* Prepared-statement cache: returns a reset statement for sql (owned by the cache). Locked. */
sqlite3_stmt *sim_stmt(struct sim *s, const char *sql);
/* Run a statement without results, binding parameters 1, 2, ... from a format string:
 * 't' const char * (NULL binds NULL), 'i' int64_t, 'o' const long long * (NULL binds NULL),
 * 'n' NULL (takes no argument). Returns 0 or VN_ESTORE. Locked. */
int sim_exec(struct sim *s, const char *sql, const char *fmt, ...);
/* First column of the first row as int64 (def if no row). Locked. */
int64_t sim_query_int(struct sim *s, int64_t def, const char *sql, const char *fmt, ...);
/* First column of the first row as a new string (free()), or NULL. Locked. */
char *sim_query_text(struct sim *s, const char *sql, const char *fmt, ...);
/* Run a query and return its rows as a JSON array of objects keyed by column names; columns
 * named "j:..." are parsed as JSON, "b:..." are booleans, and NULL values are left out.
 * Returns owned json_t (decref) or NULL on error. Locked. */
json_t *sim_query_json(struct sim *s, const char *sql, const char *fmt, ...);
int sim_begin(struct sim *s);
int sim_commit(struct sim *s);
void sim_rollback(struct sim *s);
void sim_write_begin(struct sim *s, struct sim_write *w, const char *uid);
static inline void sim_write_touch(struct sim_write *w, enum sim_coll c)
{
    w->touched |= 1u << c;
}
/* Give every touched collection a new versionId (inside the caller's transaction). */
int sim_write_end(struct sim *s, struct sim_write *w);
/* The current versionId of a collection, into out (37 bytes). */
void sim_version_current(struct sim *s, const char *uid, enum sim_coll c, char out[37]);
/* The seq of a versionId of this location and collection; -1 if unknown. */
int64_t sim_version_seq(struct sim *s, const char *uid, enum sim_coll c, const char *version);
/* Cursor of the cursor-paginated endpoints: opaque text for (collection, uid, offset). */
void sim_cursor_encode(const char *uid, enum sim_coll c, int64_t offset, char *out, size_t cap);
/* 0 and *offset, or -1 if the cursor is not one of ours for this location and collection. */
int sim_cursor_decode(const char *uid, enum sim_coll c, const char *cursor, int64_t *offset);

/* server.c --------------------------------------------------------------------------------- */
int sim_server_start(struct sim *s, struct vn_error *err);
void sim_server_stop(struct sim *s);
/* Answer an Apple error from the apple_errors table (status and message). */
void sim_error(struct sim_req *r, int number);
/* The same with an errorInfo object (takes info) and an optional message override. */
void sim_error_info(struct sim_req *r, int number, json_t *info, const char *msg);
/* A non-Apple error (control API, 404): {"error": msg}. */
void sim_fail(struct sim_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answer 200 with obj (takes it). */
void sim_ok(struct sim_req *r, json_t *obj);
/* A request header, or NULL. Borrowed from MHD for the request's lifetime. */
const char *sim_header(struct sim_req *r, const char *name);
/* A query-string parameter, or NULL. Borrowed from MHD for the request's lifetime. */
const char *sim_arg(struct sim_req *r, const char *name);
/* Every value of a repeatable query parameter, split on commas too: a JSON array of strings
 * (owned). */
json_t *sim_arg_list(struct sim_req *r, const char *name);
/* Boolean query parameter: 0 absent, 1 and *v set, -1 invalid (9602 already answered). */
int sim_arg_bool(struct sim_req *r, const char *name, int *v);
/* Integer query parameter in [min, max]: 0 absent, 1 set, -1 invalid (9602 answered). */
int sim_arg_int(struct sim_req *r, const char *name, long long min, long long max, long long *v);

/* Page-index pagination of GET assets/assignments/users. */
struct sim_page {
    long long index;
    int64_t total_pages;
    int64_t offset;
    int64_t limit;
};
/* Read pageIndex and check it against count: 0, or -1 with 9602/9650 answered. */
int sim_page_setup(struct sim_req *r, int64_t count, struct sim_page *p);
/* Add currentPageIndex, nextPageIndex (if any), size, totalPages to obj. */
void sim_page_fields(json_t *obj, const struct sim_page *p, size_t size);
/* 1 if v is absent/null or an array of strings; 0 otherwise. */
int sim_strings_ok(const json_t *v);
/* 1 if the array of strings v has a repeated value. */
int sim_strings_dup(const json_t *v);
/* sinceVersionId of a request: 0 and *seq (-1 when absent), or -1 with 9721 answered. */
int sim_since(struct sim_req *r, enum sim_coll c, long long *seq);

/* api.c: service config, client config, status ---------------------------------------- */
void api_service_config(struct sim_req *r);
void api_client_config_get(struct sim_req *r);
void api_client_config_post(struct sim_req *r);
void api_status(struct sim_req *r);
/* The envelope fields of a location: adds uId, tokenExpirationDate, mdmInfo to obj. */
void api_envelope(struct sim *s, const char *uid, int64_t token_exp_ms, json_t *obj);
/* 1 if the location subscribed to type and has a notification URL. Locked. */
int api_subscribed(struct sim *s, const char *uid, const char *type);

/* assets.c --------------------------------------------------------------------------------- */
void api_assets_get(struct sim_req *r);
void api_assignments_get(struct sim_req *r);
void api_assets_manage(struct sim_req *r); /* associate, disassociate, revoke */

/* users.c ---------------------------------------------------------------------------------- */
void api_users_get(struct sim_req *r);
void api_users_manage(struct sim_req *r); /* create, update, retire */
/* ResponseUser of the newest row of clientUserId (active first), owned; NULL if unknown. */
json_t *sim_user_json(struct sim *s, const char *uid, const char *client_user_id);

/* subscriptions.c ---------------------------------------------------------------------------*/
void api_subs_enable(struct sim_req *r);
void api_subs_disable(struct sim_req *r);
void api_subs_get(struct sim_req *r);
void api_subs_assignments_get(struct sim_req *r);
void api_subs_manage(struct sim_req *r);
void api_subs_admins_get(struct sim_req *r);
void api_subs_admins_manage(struct sim_req *r);
/* Counts object of one subscription {assigned, available, total} (owned); with_assigned 0
 * gives the SUBSCRIPTION_COUNT form. Locked. */
json_t *sim_sub_counts(struct sim *s, const char *uid, int64_t adam_id, int with_assigned);
/* Emit SUBSCRIPTION_COUNT for one subscription. Locked. */
void sim_sub_notify_count(struct sim *s, const char *uid, int64_t adam_id);
/* Billing-period end for one location (adam_id 0 = every subscription). Locked, inside a
 * transaction. Returns a summary (owned). */
json_t *sim_sub_period_end(struct sim *s, const char *uid, int64_t adam_id);

/* The result of processing one async event: successes, failures grouped by error number. */
struct sim_outcome {
    json_t *ok;        /* success elements of this step (array) */
    json_t *fails;     /* "errorNumber" -> {items (this step), assets, clientUserIds,
                          serialNumbers (every step so far), and their sets} */
    int64_t completed; /* successful tasks of this step */
    int64_t failed;    /* failed tasks of this step */
    int deferred;      /* the event stays PENDING (deferred subscription disassociation) */
    int64_t from;      /* this step processes tasks [from, from + count) */
    int64_t count;
    int64_t index; /* tasks seen so far */
    int more;      /* tasks remain after this step */
};

/* Count a task: 1 if it belongs to this step (process it), 0 if not (skip it). */
static inline int sim_outcome_turn(struct sim_outcome *o)
{
    int64_t k = o->index++;

    if (k < o->from)
        return 0;
    if (k >= o->from + o->count) {
        o->more = 1;
        return 0;
    }
    return 1;
}

/* Record a success (takes item). */
void sim_outcome_ok(struct sim_outcome *o, json_t *item);
/* Record a failure (takes item) and the entities it names for errorInfo (any may be NULL). */
void sim_outcome_fail(struct sim_outcome *o, int number, json_t *item, const char *adam_id,
                      const char *pricing_param, const char *client_user_id,
                      const char *serial_number);
/* The failures of an outcome as Event Status lists them (owned), or NULL if none. */
json_t *sim_outcome_failures(const struct sim_outcome *o);
/* Queue the notifications of an outcome: successes, then each failure number. Locked. */
void sim_outcome_notify(struct sim *s, const struct sim_outcome *o, const char *uid,
                        const char *ntype, const char *event_type, const char *event_id,
                        const char *key);

/* Business rules of each kind of event: fill o. Locked, inside a transaction. */
void sim_assets_process(struct sim *s, const char *uid, const char *type, json_t *req,
                        struct sim_outcome *o);
void sim_users_process(struct sim *s, const char *uid, const char *type, json_t *req,
                       struct sim_outcome *o);
void sim_subs_process(struct sim *s, const char *uid, const char *type, const char *event_id,
                      json_t *req, struct sim_outcome *o);

/* events.c --------------------------------------------------------------------------------- */
/* Create a PENDING event for an async request (request borrowed, stored as text). Locked.
 * Writes the new eventId into out. */
int sim_event_create(struct sim *s, const char *uid, const char *kind, const char *type,
                     int64_t num_requested, json_t *request, char out[37]);
int sim_events_start(struct sim *s);
void sim_events_stop(struct sim *s);
/* Finish a deferred event (subscription disassociation at period end). Locked. */
void sim_event_finish(struct sim *s, const char *event_id, int64_t completed, json_t *failures);

/* notify.c --------------------------------------------------------------------------------- */
/* Queue one notification for uid if it subscribed to type (payload borrowed). Locked. */
int sim_notify(struct sim *s, const char *uid, const char *type, const char *event_id,
               json_t *payload);
/* The same for a type the location may not have subscribed to (force 1: control API
 * injection of raw payloads). Locked. */
int sim_notify_raw(struct sim *s, const char *uid, const char *type, const char *event_id,
                   json_t *payload, int force, char nid_out[37]);
/* Split items (borrowed array) into notifications of at most 100 elements: each payload is
 * base (borrowed, copied) plus key = the part. Locked. */
int sim_notify_split(struct sim *s, const char *uid, const char *type, const char *event_id,
                     json_t *base, const char *key, json_t *items);
/* Group the notifications queued until batch_end: reordering shuffles within one batch. */
void sim_notify_batch_begin(struct sim *s);
void sim_notify_batch_end(struct sim *s);
/* Deliver a TEST_NOTIFICATION now, one attempt, without faults. Called with sim->mu held;
 * releases it during the HTTP request. 0 if the receiver answered 2xx, else -1 with a
 * reason in why. */
int sim_notify_test(struct sim *s, const char *uid, const char *url, const char *token, char *why,
                    size_t whylen);
int sim_notify_start(struct sim *s);
void sim_notify_stop(struct sim *s);
/* 1 if a notification is scheduled or being delivered. Locked. */
int sim_notify_busy(struct sim *s);
/* Check a notificationUrl: https, or http on loopback. 0 or -1. */
int sim_url_acceptable(const char *url);

/* faults.c --------------------------------------------------------------------------------- */
int sim_faults_from_config(struct sim *s, struct vn_error *err);
json_t *sim_faults_json(const struct sim *s);
/* Apply a control-API body (borrowed). 0 or -1 with err. Locked. */
int sim_faults_update(struct sim *s, const json_t *body, struct vn_error *err);
/* Forced API faults for this request: answers r and returns 1 when one applies. Locked. */
int sim_faults_api(struct sim *s, struct sim_req *r);
/* 1 if the next-page request should see a changed data set (consumes one). Locked. */
int sim_faults_version_change(struct sim *s);
/* Parse a probability "0.25" into *p. 0 or -1. */
int sim_parse_prob(const char *text, double *p);

/* control.c -------------------------------------------------------------------------------- */
/* Dispatch a /_sim/ request. */
void sim_control(struct sim_req *r);
/* Create a location and its sToken (obj borrowed, may be NULL). Returns owned JSON. Locked. */
json_t *sim_location_create(struct sim *s, const json_t *obj, struct vn_error *err);

/* state.c ---------------------------------------------------------------------------------- */
/* The full state of one location (or of all when uid is NULL). Returns owned JSON. Locked. */
json_t *sim_state_dump(struct sim *s, const char *uid);
/* Apply a /_sim/seed body in one transaction. Returns owned summary or NULL with err. Locked. */
json_t *sim_seed(struct sim *s, const json_t *body, struct vn_error *err);
/* Mutate a collection as another party would (versionId change mid-pagination). Locked. */
void sim_state_perturb(struct sim *s, const char *uid, enum sim_coll c);

/* Limits */
long long sim_limit(const struct sim *s, enum sim_limit_id id);
int sim_limit_set(struct sim *s, const char *name, long long value);
void sim_limits_defaults(struct sim *s);

#endif
