/*
 * handle.c - the PostgreSQL backend's handle: connecting (libpq, the URL's parameters, the
 * session's settings), migrations, transactions and reconnecting. backend.c puts it together
 * with the other files as the ops table of store.h.
 *
 * One writer at a time, as with SQLite: every write transaction takes a transaction-scoped
 * advisory lock of the schema (the "writer lock") with its first statement that needs it (all
 * but the lock-free reads and repeats: vn__pg_begin, vn__pg_writer_lock) and holds it to COMMIT,
 * so that the write transactions of several instances run one after the other. Group commit keeps
 * the throughput (one commit per batch of notifications); in exchange no two instances can deadlock
 * or fail each other's serialization, the store's behaviour is the same on both backends, and
 * commit order is lock order (a change log can number its rows by it). Waiting for the lock is
 * bounded by busy_timeout (lock_timeout): past it the store is unavailable.
 *
 * Durability: synchronous_commit=on for every session, and a read-write open refuses a server
 * with fsync=off. A COMMIT that returns has been flushed to the server's WAL.
 */
#include "pg_impl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vppnotify/secret.h"

#define VN_PG_BUSY_DEFAULT_MS      5000
#define VN_PG_BUSY_MAX_MS          (600LL * 1000)
#define VN_PG_STATEMENT_DEFAULT_MS (60LL * 1000)
#define VN_PG_STATEMENT_MAX_MS     (3600LL * 1000)
#define VN_PG_IDLE_DEFAULT_MS      (60LL * 1000)

/* Advisory lock classes: 'vnwr' (the writer lock), 'vnmg' (migrations); the second key is the
 * hash of the schema, so that stores in different schemas of one database do not wait for
 * each other. */
#define VN_PG_LOCK_WRITER  "1986950002"
#define VN_PG_LOCK_MIGRATE "1986947431"

/* ---- connecting ------------------------------------------------------------------------- */

static int add_key(struct vn__pg *s, size_t *n, const char *k, const char *v)
{
    if (*n >= VN__PG_KEYS_MAX)
        return VN_ETOOBIG;
    s->keys[*n] = strdup(k);
    s->vals[*n] = strdup(v);
    if (!s->keys[*n] || !s->vals[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int has_key(const struct vn__pg *s, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s->keys[i], k))
            return 1;
    return 0;
}

static int valid_schema(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n >= 64 || !((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
            return 0;
    return 1;
}

/* Take our parameters from u; everything else is libpq's (it refuses what it does not know). */
static int take_params(struct vn__pg *s, struct vn__store_url *u, struct vn_error *err)
{
    static const char *const defaults[][2] = {
        {"connect_timeout", "5"},     {"application_name", "vppnotify"}, {"keepalives_idle", "10"},
        {"keepalives_interval", "5"}, {"keepalives_count", "3"},
    };
    const char *schema;
    size_t n = 0;
    int rc;

    rc = vn__store_param_duration(u, "busy_timeout", VN_PG_BUSY_DEFAULT_MS, VN_PG_BUSY_MAX_MS,
                                  &s->lock_timeout_ms, err);
    if (!rc)
        rc = vn__store_param_duration(u, "statement_timeout", VN_PG_STATEMENT_DEFAULT_MS,
                                      VN_PG_STATEMENT_MAX_MS, &s->statement_timeout_ms, err);
    if (!rc)
        rc = vn__store_param_duration(u, "idle_timeout", VN_PG_IDLE_DEFAULT_MS,
                                      VN_PG_STATEMENT_MAX_MS, &s->idle_timeout_ms, err);
    if (rc)
        return rc;
    schema = vn__store_param(u, "schema");
    if (schema && !valid_schema(schema))
        return vn_error_set(err, VN_EPARSE,
                            "store URL '%s': schema '%s' is not a plain name (lower-case letters, "
                            "digits, '_'; at most 63)",
                            u->shown, schema);
    vn_strlcpy(s->schema, schema ? schema : "", sizeof(s->schema));
    if (vn__store_param(u, "max_size"))
        return vn_error_set(err, VN_EPARSE,
                            "store URL '%s': max_size is SQLite's; PostgreSQL's size is the "
                            "server's to limit",
                            u->shown);

    rc = add_key(s, &n, "dbname", u->target);
    for (size_t i = 0; !rc && i < u->n; i++)
        if (!u->p[i].used)
            rc = add_key(s, &n, u->p[i].key, u->p[i].value);
    for (size_t i = 0; !rc && i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (!has_key(s, n, defaults[i][0]))
            rc = add_key(s, &n, defaults[i][0], defaults[i][1]);
    if (rc)
        return vn_error_set(err, rc, "store URL '%s': %s", u->shown,
                            rc == VN_ETOOBIG ? "too many parameters" : "out of memory");
    return 0;
}

/* Set the session up: timeouts, durability, time zone, search path; check the server. */
static int configure(struct vn__pg *s, struct vn_error *err)
{
    static const char sql[] =
        "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false),"
        "  set_config('idle_in_transaction_session_timeout', $3, false),"
        "  set_config('synchronous_commit', 'on', false), set_config('TimeZone', 'UTC', false),"
        "  set_config('default_transaction_read_only', $4, false),"
        "  set_config('client_min_messages', 'warning', false),"
        "  current_setting('fsync'), current_setting('server_version'),"
        "  current_setting('synchronous_commit')";
    static const char set_path[] = "SELECT set_config('search_path', $1, false)";
    struct vn__pg_args a = {0};
    char lock[32], stmt[32], idle[32], quoted_buf[160] = "";
    char busy_s[32], stmt_s[32];
    PGresult *res;
    int rc = 0;

    snprintf(lock, sizeof(lock), "%lldms", s->lock_timeout_ms);
    snprintf(stmt, sizeof(stmt), "%lldms", s->statement_timeout_ms);
    snprintf(idle, sizeof(idle), "%lldms", s->idle_timeout_ms);
    vn__pg_text(&a, lock);
    vn__pg_text(&a, stmt);
    vn__pg_text(&a, idle);
    vn__pg_text(&a, s->read_only ? "on" : "off");
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return vn_error_set(err, s->stmt_rc, "cannot set up the session on '%s': %s", s->shown,
                            s->base.last_error);
    if (!s->read_only && strcmp(PQgetvalue(res, 0, 7), "on") != 0) {
        rc = vn_error_set(err, VN_ESTORE,
                          "database '%s' runs with fsync=%s: an acknowledged notification could "
                          "be lost; refusing to write to it",
                          s->shown, PQgetvalue(res, 0, 7));
        goto out;
    }
    vn_format_duration(s->lock_timeout_ms, busy_s, sizeof(busy_s));
    vn_format_duration(s->statement_timeout_ms, stmt_s, sizeof(stmt_s));
    if (s->schema[0]) {
        /* An identifier cannot be bound: the name is validated (take_params) and quoted. */
        char *q = PQescapeIdentifier(s->conn, s->schema, strlen(s->schema));

        if (!q) {
            rc = vn_error_set(err, -ENOMEM, "cannot quote schema '%s'", s->schema);
            goto out;
        }
        vn_strlcpy(quoted_buf, q, sizeof(quoted_buf));
        PQfreemem(q);
    }
    snprintf(s->describe, sizeof(s->describe),
             "postgresql %s '%s' synchronous_commit=%s fsync=%s busy_timeout=%s "
             "statement_timeout=%s%s%s%s",
             PQgetvalue(res, 0, 8), s->shown, PQgetvalue(res, 0, 9), PQgetvalue(res, 0, 7), busy_s,
             stmt_s, s->schema[0] ? " schema=" : "", s->schema, s->read_only ? " read-only" : "");
    PQclear(res);
    res = NULL;
    if (quoted_buf[0]) {
        if (!s->read_only) {
            char ddl[200];

            snprintf(ddl, sizeof(ddl), "CREATE SCHEMA IF NOT EXISTS %s", quoted_buf);
            rc = vn__pg_exec_text(s, ddl);
            /* Two instances creating it at once: the loser sees a unique violation. */
            if (rc && !strstr(s->base.last_error, "23505"))
                return vn_error_set(err, rc, "cannot create schema '%s' on '%s': %s", s->schema,
                                    s->shown, s->base.last_error);
        }
        memset(&a, 0, sizeof(a));
        vn__pg_text(&a, quoted_buf);
        rc = vn__pg_do(s, set_path, &a, NULL);
        if (rc)
            return vn_error_set(err, rc, "cannot use schema '%s' on '%s': %s", s->schema, s->shown,
                                s->base.last_error);
    }
out:
    PQclear(res);
    return rc;
}

/* The highest migration recorded (0 for a new schema) and the number of tables in it. */
static int read_version(struct vn__pg *s, long long *version, long long *tables)
{
    static const char probe[] =
        "SELECT to_regclass('schema_migrations') IS NOT NULL,"
        "  (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())";
    static const char max[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
    PGresult *res = vn__pg_run(s, probe, NULL, NULL);
    int has;

    *version = 0;
    *tables = 0;
    if (!res)
        return s->stmt_rc;
    has = vn__pg_col_bool(res, 0, 0);
    *tables = vn__pg_col_ll(res, 0, 1);
    PQclear(res);
    if (!has)
        return 0;
    res = vn__pg_run(s, max, NULL, NULL);
    if (!res)
        return s->stmt_rc;
    *version = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    return 0;
}

static int apply_migration(struct vn__pg *s, long long v)
{
    static const char create[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 "  version    integer PRIMARY KEY,"
                                 "  applied_at timestamptz NOT NULL)";
    static const char record[] =
        "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, now())";
    struct vn__pg_args a = {0};
    long long now_v, tables;
    int rc;

    rc = vn__pg_exec_text(s, "BEGIN");
    if (rc)
        return rc;
    rc = read_version(s, &now_v, &tables);
    if (rc || now_v >= v)
        goto out;
    rc = vn__pg_exec_text(s, create);
    if (!rc)
        rc = vn__pg_exec_text(s, vn__pg_migrations[v - 1]);
    vn__pg_int(&a, v);
    if (!rc)
        rc = vn__pg_do(s, record, &a, NULL);
out:
    if (!rc)
        return vn__pg_exec_text(s, "COMMIT");
    {
        char keep[VN_ERROR_MSG_MAX];

        memcpy(keep, s->base.last_error, sizeof(keep));
        vn__pg_exec_text(s, "ROLLBACK");
        memcpy(s->base.last_error, keep, sizeof(keep));
    }
    return rc;
}

/* Bring the schema to this build's version (under the migration lock), or check it. */
/* The session's lock_timeout: 0 or the failure's code. */
static int set_lock_timeout(struct vn__pg *s, long long ms)
{
    static const char sql[] = "SELECT set_config('lock_timeout', $1, false)";
    struct vn__pg_args a = {0};
    char v[32];

    snprintf(v, sizeof(v), "%lldms", ms);
    vn__pg_text(&a, v);
    return vn__pg_do(s, sql, &a, NULL);
}

static int migrate(struct vn__pg *s, struct vn_error *err)
{
    static const char lock[] =
        "SELECT pg_advisory_lock(" VN_PG_LOCK_MIGRATE ", hashtext(coalesce(current_schema(), '')))";
    static const char unlock[] = "SELECT pg_advisory_unlock(" VN_PG_LOCK_MIGRATE
                                 ", hashtext(coalesce(current_schema(), '')))";
    const long long want = vn__pg_schema_version;
    long long v, tables;
    int rc;

    if (!s->read_only) {
        /* Another process may be migrating the schema (instances started together, one
         * migration taking long): wait for it as long as a statement may run, not only
         * busy_timeout, then wait as usual again. */
        int restored;

        rc = set_lock_timeout(s, s->statement_timeout_ms > s->lock_timeout_ms
                                     ? s->statement_timeout_ms
                                     : s->lock_timeout_ms);
        if (!rc)
            rc = vn__pg_do(s, lock, NULL, NULL);
        if (rc)
            return vn_error_set(err, rc, "cannot lock '%s' for its migrations: %s", s->shown,
                                s->base.last_error);
        restored = set_lock_timeout(s, s->lock_timeout_ms);
        if (restored) {
            rc = vn_error_set(err, restored, "cannot set up the session on '%s': %s", s->shown,
                              s->base.last_error);
            goto out;
        }
    }
    rc = read_version(s, &v, &tables);
    if (rc) {
        vn_error_set(err, rc, "cannot read the schema of '%s': %s", s->shown, s->base.last_error);
        goto out;
    }
    if (v > want) {
        rc = vn_error_set(err, VN_ESTORE,
                          "database '%s' has schema version %lld, newer than this build's %lld: "
                          "use a newer vppnotify",
                          s->shown, v, want);
        goto out;
    }
    if (v == 0 && tables > 0) {
        rc = vn_error_set(err, VN_ESTORE,
                          "database '%s' is not a vppnotify database (its schema has tables "
                          "but no schema_migrations)",
                          s->shown);
        goto out;
    }
    if (s->read_only && v < want) {
        rc = vn_error_set(err, VN_ESTORE,
                          v == 0 ? "database '%s' has no vppnotify schema yet; open it "
                                   "read-write once (vppnotify serve) to create it"
                                 : "database '%s' has an older schema; open it read-write once "
                                   "to migrate it",
                          s->shown);
        goto out;
    }
    for (; !s->read_only && v < want; v++) {
        rc = apply_migration(s, v + 1);
        if (rc) {
            vn_error_set(err, rc, "cannot migrate '%s' to schema version %lld: %s", s->shown, v + 1,
                         s->base.last_error);
            goto out;
        }
    }
    s->schema_current = (int)v;
out:
    if (!s->read_only)
        vn__pg_do(s, unlock, NULL, NULL);
    return rc;
}

static int connect_session(struct vn__pg *s, struct vn_error *err);

static void quiet(void *ud, const char *message)
{
    (void)ud;
    (void)message;
}

/* Connect s->conn and set the session up; on failure s->conn may be set (the caller
 * closes it) and err says why. */
static int connect_db(struct vn__pg *s, struct vn_error *err)
{
    int rc;

    s->connecting = 1;
    rc = connect_session(s, err);
    s->connecting = 0;
    return rc;
}

static int connect_session(struct vn__pg *s, struct vn_error *err)
{
    int rc;

    vn__pg_forget_statements(s);
    s->conn = PQconnectdbParams((const char *const *)s->keys, (const char *const *)s->vals, 1);
    if (!s->conn)
        return vn_error_set(err, -ENOMEM, "cannot connect to '%s': out of memory", s->shown);
    /* The server's notices (a schema that exists already, ...) are no news for our logs. */
    PQsetNoticeProcessor(s->conn, quiet, NULL);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char m[VN_ERROR_MSG_MAX];
        size_t n;

        vn_strlcpy(m, PQerrorMessage(s->conn), sizeof(m));
        n = strlen(m);
        while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
            m[--n] = '\0';
        /* libpq refuses an unknown option by name: that is the URL's fault, not the server's. */
        return vn_error_set(err,
                            strstr(m, "invalid") && strstr(m, "option") ? VN_EPARSE : VN_EUNAVAIL,
                            "cannot connect to '%s': %s", s->shown, m);
    }
    rc = configure(s, err);
    if (!rc)
        rc = migrate(s, err);
    return rc;
}

static void close_db(struct vn__pg *s)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
    vn__pg_forget_statements(s);
}

void vn__pg_free(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);

    close_db(s);
    vn__pg_known_clear(s);
    for (size_t i = 0; i < VN__PG_KEYS_MAX; i++) {
        if (s->vals[i])
            vn_wipe(s->vals[i], strlen(s->vals[i])); /* a password may be among them */
        free(s->keys[i]);
        free(s->vals[i]);
    }
    free(s);
}

struct vn_store *vn__pg_open(struct vn__store_url *u, const struct vn_store_options *opts,
                             const struct vn_store_ops *ops, const struct vn__pg_hooks *hooks,
                             struct vn_error *err)
{
    struct vn__pg *s = calloc(1, sizeof(*s));
    int rc;

    if (!s) {
        vn_error_set(err, -ENOMEM, "cannot open '%s': out of memory", u->shown);
        return NULL;
    }
    s->base.ops = ops;
    s->hooks = hooks;
    s->read_only = opts->read_only;
    s->keep_q = -1;
    vn_strlcpy(s->shown, u->shown, sizeof(s->shown));
    rc = take_params(s, u, err);
    if (!rc) {
        vn_error_clear(err);
        rc = connect_db(s, err);
    }
    if (rc) {
        vn__pg_free(&s->base);
        return NULL;
    }
    return &s->base;
}

int vn__pg_schema_get(struct vn_store *st, int *current, int *expected)
{
    struct vn__pg *s = vn__pg(st);
    long long v = 0, tables;
    int rc = read_version(s, &v, &tables);

    if (current)
        *current = (int)v;
    if (expected)
        *expected = vn__pg_schema_version;
    return rc;
}

const char *vn__pg_describe(struct vn_store *st)
{
    return vn__pg(st)->describe;
}

int vn__pg_reconnect(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);
    struct vn_error err = {0};
    PGconn *old = s->conn;
    const char *saved[VN__PG_STMT_MAX];
    int rc;

    s->txn_ms = 0;
    memcpy(saved, s->stmt_sql, sizeof(saved));
    s->conn = NULL;
    rc = connect_db(s, &err);
    if (rc) {
        close_db(s);
        s->conn = old;
        memcpy(s->stmt_sql, saved, sizeof(saved));
        vn__store_set_error(st, "%s", err.msg);
        return vn_store_class_of(rc) == VN_STORE_JOB ? VN_EUNAVAIL : rc;
    }
    if (old)
        PQfinish(old); /* the server rolls back whatever it had open */
    s->backoff_ms = 0;
    s->retry_at_ms = 0;
    return 0;
}

int vn__pg_ensure(struct vn__pg *s)
{
    int64_t now;
    int rc;

    if (s->connecting || (s->conn && PQstatus(s->conn) == CONNECTION_OK))
        return 0;
    now = vn_mono_ns() / 1000000;
    if (now < s->retry_at_ms) {
        vn__store_set_error(&s->base, "'%s' is unreachable; next attempt in %lld ms", s->shown,
                            (long long)(s->retry_at_ms - now));
        return VN_EUNAVAIL;
    }
    rc = vn__pg_reconnect(&s->base);
    if (rc) {
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
        if (s->backoff_ms > 2000)
            s->backoff_ms = 2000;
        s->retry_at_ms = now + s->backoff_ms;
        return VN_EUNAVAIL;
    }
    return 0;
}

/* ---- transactions ----------------------------------------------------------------------- */

/* The caller's transaction failed behind its back (a statement failed without a savepoint, or
 * the connection went): say so and return the class of what ended it, else VN_ERETRY. */
static int txn_lost(struct vn__pg *s, const char *what)
{
    char why[VN_ERROR_MSG_MAX];
    int code = s->lost ? s->lost : VN_ERETRY;

    if (strstr(s->base.last_error, "the transaction was rolled back"))
        return code;
    memcpy(why, s->base.last_error, sizeof(why));
    vn__store_set_error(&s->base, "%s: the transaction was rolled back%s%s", what,
                        why[0] ? " after: " : "", why);
    return code;
}

static int simple(struct vn__pg *s, const char *sql)
{
    return vn__pg_do(s, sql, NULL, NULL);
}

static const char sql_begin[] = "BEGIN";
static const char sql_writer[] =
    "SELECT pg_advisory_xact_lock(" VN_PG_LOCK_WRITER ", hashtext(coalesce(current_schema(), "
    "'')))";

/* A transaction is open on the handle: BEGIN sent, or deferred and not sent yet. */
static int begun(const struct vn__pg *s)
{
    if (!s->conn)
        return 0;
    return PQtransactionStatus(s->conn) != PQTRANS_IDLE ||
           (s->npending && s->pending[0].sql == sql_begin);
}

/* The server closed the connection since its last answer (a restart, a failover, an
 * administrator): what it sent is read without waiting. 1 when it is gone. */
static int went_away(struct vn__pg *s)
{
    struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};

    for (int i = 0; i < 4 && PQstatus(s->conn) == CONNECTION_OK && poll(&p, 1, 0) > 0; i++)
        if (!PQconsumeInput(s->conn))
            break;
    return PQstatus(s->conn) != CONNECTION_OK;
}

/*
 * BEGIN is deferred (sent with the transaction's first statement) and the writer lock taken
 * lazily, by the first statement that needs it (vn__pg_writer_lock): every statement but the
 * batch's ids read and a repeat's row (lock_free), and every savepoint of a guarded
 * transaction, so that the lock is never taken inside a savepoint a job could roll back.
 * A transaction of repeats only never takes it (docs/STORE.md).
 */
/* Forget what the handle kept of a transaction (deferred commands, optimistic mode, the writer
 * lock and tick still wanted, the ids read): at BEGIN, and when one ends. */
static void txn_state_clear(struct vn__pg *s)
{
    s->nfold = 0; /* the asset adjustments kept (fold.c) */
    s->send_kept = NULL;
    s->npending = 0;
    s->optimistic = 0;
    s->lock_wanted = 0;
    s->tick_wanted = 0;
    vn__pg_known_clear(s);
}

int vn__pg_begin(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);
    int rc;

    if (s->read_only) {
        vn__store_set_error(st, "database '%s' is open read-only", s->shown);
        return VN_ESTORE;
    }
    if (begun(s) && PQstatus(s->conn) == CONNECTION_OK) {
        vn__store_set_error(st, "a transaction is already open on this handle");
        return VN_ESTORE;
    }
    s->txn_ms = 0;
    txn_state_clear(s);
    /* A connection made sure of first (a reconnect forgets what was deferred): one the server
     * closed since the last statement is replaced now, when nothing has begun. */
    rc = vn__pg_ensure(s);
    if (!rc && went_away(s))
        rc = vn__pg_ensure(s);
    if (!rc)
        rc = vn__pg_defer(s, sql_begin);
    if (rc)
        return rc;
    s->lock_wanted = 1;
    s->lost = 0;
    s->txn_ms = vn_now_ms();
    vn_time_iso(s->txn_ms, s->txn_iso);
    return 0;
}

int vn__pg_writer_lock(struct vn__pg *s)
{
    int tick = s->tick_wanted, rc, at;

    s->lock_wanted = 0;
    s->tick_wanted = 0;
    /* Right after a BEGIN not sent yet, before anything else deferred; it goes to the server
     * with the statement at hand (exec.c), in one pipeline or sent ahead with it. */
    at = s->npending && s->pending[0].sql == sql_begin ? 1 : 0;
    rc = vn__pg_defer_at(s, at, sql_writer);
    if (!rc && tick)
        rc = vn__pg_defer_at(s, at + 1, vn__pg_sql_tick);
    return rc;
}

int vn__pg_rollback(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);

    s->changes_seq = 0;
    txn_state_clear(s);
    if (s->ahead)
        vn__pg_flush_pending(s); /* out of pipeline mode; their failure is why we are here */
    s->txn_ms = 0;
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK ||
        PQtransactionStatus(s->conn) == PQTRANS_IDLE)
        return 0; /* nothing open here; a lost connection's transaction died with it */
    return simple(s, "ROLLBACK");
}

int vn__pg_commit(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);
    PGresult *res;
    int rc;

    if ((s->send_kept || s->nrepeats) && s->txn_ms) {
        /* The kept asset adjustments (fold.c) and repeats (known.c) first: sent ahead, in the
         * flush's pipeline. */
        rc = s->send_kept ? s->send_kept(s) : 0;
        if (!rc)
            rc = vn__pg_known_repeats_send(s);
        if (rc) {
            char keep[VN_ERROR_MSG_MAX];

            memcpy(keep, s->base.last_error, sizeof(keep));
            vn__pg_rollback(st);
            memcpy(s->base.last_error, keep, sizeof(keep));
            return rc;
        }
    }
    if (s->txn_ms && s->npending && s->pending[0].sql == sql_begin && !s->ahead) {
        /* BEGIN not sent yet: no statement ran (what is deferred after it, the writer lock or
         * savepoint commands, changes nothing), so there is nothing to commit. */
        s->txn_ms = 0;
        txn_state_clear(s);
        return 0;
    }
    if (!s->conn || PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
        if (!s->txn_ms) {
            vn__store_set_error(st, "cannot commit: no transaction is open");
            return VN_ESTORE;
        }
        s->txn_ms = 0;
        return txn_lost(s, "cannot commit");
    }
    if (PQtransactionStatus(s->conn) == PQTRANS_INERROR) {
        rc = txn_lost(s, "cannot commit");
        vn__pg_rollback(st);
        return rc;
    }
    /* COMMIT ends every savepoint: a deferred RELEASE (or a SAVEPOINT no statement followed)
     * need not be sent. */
    s->npending = 0;
    /* A transaction that never took the writer lock wrote nothing that marks a change (every
     * such statement takes it first): no flush, no seq. Else the change log's flush (api.c)
     * goes in one pipeline with COMMIT, behind the writes sent ahead: the lock is held from
     * the first write to COMMIT without waiting for an answer in between. */
    if (s->lock_wanted) {
        res = vn__pg_run(s, "COMMIT", NULL, NULL);
        rc = res ? 0 : s->stmt_rc;
    } else {
        rc = s->hooks->flush_commit(s, &res); /* api.c: the change log's flush, with COMMIT */
    }
    s->lock_wanted = 0;
    s->tick_wanted = 0;
    if (rc) {
        /* The flush failed (the transaction is then still open, in error: rolled back here),
         * or the connection went: the outcome unknown, never acknowledged. */
        char keep[VN_ERROR_MSG_MAX];

        memcpy(keep, s->base.last_error, sizeof(keep));
        vn__pg_rollback(st);
        memcpy(s->base.last_error, keep, sizeof(keep));
        s->changes_seq = 0;
        return rc;
    }
    s->txn_ms = 0;
    s->optimistic = 0;
    vn__pg_known_clear(s);
    /* A transaction that had failed answers COMMIT with ROLLBACK, not with an error. */
    rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : txn_lost(s, "cannot commit");
    PQclear(res);
    if (!rc)
        s->hooks->committed(s);
    else
        s->changes_seq = 0;
    return rc;
}

/* The savepoint commands: deferred (exec.c), sent with the job's next statement. */
static const char sql_savepoint[] = "SAVEPOINT vn_job";
static const char sql_release[] = "RELEASE SAVEPOINT vn_job";

static int no_transaction(struct vn__pg *s, const char *what)
{
    if (s->txn_ms)
        return txn_lost(s, what);
    vn__store_set_error(&s->base, "%s: no transaction is open", what);
    return VN_ESTORE;
}

int vn__pg_savepoint(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);

    if (!begun(s))
        return no_transaction(s, "cannot open a savepoint");
    if (PQtransactionStatus(s->conn) == PQTRANS_INERROR)
        return txn_lost(s, "cannot open a savepoint");
    if (s->optimistic)
        return 0; /* nothing to undo to: a failure fails the whole transaction */
    if (s->lock_wanted) {
        /* Taken before any savepoint: a lock taken inside one would go with its rollback. */
        int rc = vn__pg_writer_lock(s);

        if (rc)
            return rc;
    }
    return vn__pg_defer(s, sql_savepoint);
}

/* store.h vn_store_optimistic: until the transaction ends. */
int vn__pg_optimistic(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);

    if (!s->txn_ms || !begun(s))
        return no_transaction(s, "cannot run optimistically");
    if (s->npending && !(s->npending == 1 && s->pending[0].sql == sql_begin)) {
        int rc = vn__pg_flush_pending(s); /* a savepoint opened before: sent as it was */

        if (rc)
            return rc;
    }
    s->optimistic = 1;
    return 0;
}

int vn__pg_release(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);

    if (!begun(s))
        return no_transaction(s, "cannot release the savepoint");
    if (PQtransactionStatus(s->conn) == PQTRANS_INERROR)
        return txn_lost(s, "cannot release the savepoint");
    if (s->optimistic)
        return 0;
    /* A savepoint not sent yet saw no statement: it simply need not be sent. */
    if (s->npending && s->pending[s->npending - 1].sql == sql_savepoint) {
        s->npending--;
        return 0;
    }
    return vn__pg_defer(s, sql_release);
}

int vn__pg_rollback_to(struct vn_store *st)
{
    struct vn__pg *s = vn__pg(st);
    int rc;

    if (!begun(s))
        return no_transaction(s, "cannot roll back to the savepoint");
    if (s->optimistic) {
        vn__store_set_error(st, "a job failed in an optimistic transaction, which has no "
                                "savepoint to roll back to: the whole transaction runs again");
        return VN_ERETRY;
    }
    if (s->npending && s->pending[s->npending - 1].sql == sql_savepoint) {
        /* Not sent yet: no statement ran since, there is nothing to undo. */
        s->npending--;
        return 0;
    }
    rc = simple(s, "ROLLBACK TO SAVEPOINT vn_job");
    if (!rc)
        rc = vn__pg_defer(s, sql_release);
    if (!rc)
        s->lost = 0; /* the failure is undone with the job: the transaction goes on */
    return rc;
}

int vn__pg_finish(struct vn__pg *s, int rc)
{
    char keep[VN_ERROR_MSG_MAX];

    if (!rc)
        return vn__pg_commit(&s->base);
    memcpy(keep, s->base.last_error, sizeof(keep));
    vn__pg_rollback(&s->base);
    memcpy(s->base.last_error, keep, sizeof(keep));
    return rc;
}

int vn__pg_ping(struct vn_store *st)
{
    static const char health[] = "INSERT INTO health(id, at) VALUES (1, $1) "
                                 "ON CONFLICT(id) DO UPDATE SET at = excluded.at";
    static const char probe[] = "INSERT INTO health_probe(payload) VALUES ($1)";
    static const unsigned char zeros[65536];
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    int rc;

    rc = vn__pg_begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, s->txn_iso);
    rc = vn__pg_do(s, health, &a, NULL);
    /* Room for a large notification: write 64 KiB and undo it (see the SQLite backend). */
    if (!rc)
        rc = simple(s, sql_savepoint);
    if (!rc) {
        memset(&a, 0, sizeof(a));
        vn__pg_bytes(&a, zeros, sizeof(zeros));
        rc = vn__pg_do(s, probe, &a, NULL);
    }
    if (!rc)
        rc = vn__pg_rollback_to(st);
    return vn__pg_finish(s, rc);
}
