/*
 * exec.c - the PostgreSQL backend's statements: arguments, the per-connection cache of
 * prepared statements, results, and the mapping of SQLSTATEs to the store's failure classes
 * (docs/STORE.md).
 *
 * The bottom of the backend: it calls no other file of it. What it needs of the session
 * (handle.c: connecting before a statement outside a transaction, the writer lock before the
 * first statement that needs it) it runs through the hooks backend.c installed.
 */
#include "pg_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arguments ---------------------------------------------------------------------------- */

/* The next argument's slot; past VN__PG_ARGS_MAX a spare one, and the run refuses. */
static int next(struct vn__pg_args *a)
{
    int i = a->n < VN__PG_ARGS_MAX ? a->n++ : (a->overflow = 1, VN__PG_ARGS_MAX);

    a->len[i] = 0;
    a->fmt[i] = 0;
    return i;
}

void vn__pg_text(struct vn__pg_args *a, const char *v)
{
    a->val[next(a)] = v;
}

void vn__pg_int(struct vn__pg_args *a, long long v)
{
    int i = next(a);

    snprintf(a->buf[i], sizeof(a->buf[i]), "%lld", v);
    a->val[i] = a->buf[i];
}

void vn__pg_bool(struct vn__pg_args *a, int v)
{
    a->val[next(a)] = v ? "t" : "f";
}

void vn__pg_bytes(struct vn__pg_args *a, const void *p, size_t n)
{
    int i = next(a);

    a->val[i] = n ? p : ""; /* a NULL pointer would be SQL NULL: an empty body is not */
    a->len[i] = (int)n;
    a->fmt[i] = 1;
}

void vn__pg_time(struct vn__pg_args *a, int64_t ms)
{
    int i = next(a);

    if (!ms) {
        a->val[i] = NULL;
        return;
    }
    vn_time_iso(ms, a->buf[i]);
    a->val[i] = a->buf[i];
}

const char *vn__pg_now(struct vn__pg *s)
{
    if (!s->txn_ms)
        vn_time_iso(vn_now_ms(), s->txn_iso);
    return s->txn_iso;
}

/* ---- failures ----------------------------------------------------------------------------- */

/* The failure class of a SQLSTATE (NULL: no answer from the server at all). */
static int classify(const char *state)
{
    static const struct {
        const char *prefix;
        int code;
    } map[] = {
        {"40001", VN_ERETRY},   /* serialization_failure */
        {"40P01", VN_ERETRY},   /* deadlock_detected */
        {"25P02", VN_ERETRY},   /* in_failed_sql_transaction: an earlier failure ended it */
        {"53200", VN_ERETRY},   /* out_of_memory */
        {"53100", VN_EFULL},    /* disk_full */
        {"08", VN_EUNAVAIL},    /* connection exceptions */
        {"55P03", VN_EUNAVAIL}, /* lock_not_available: lock_timeout (the busy timeout) */
        {"57014", VN_EUNAVAIL}, /* query_canceled: statement_timeout */
        {"57P", VN_EUNAVAIL},   /* admin or crash shutdown, cannot connect now */
        {"25006", VN_EUNAVAIL}, /* read_only_sql_transaction: a standby, after a failover */
        {"53", VN_EUNAVAIL},    /* too many connections, configuration limits */
        {"58", VN_EUNAVAIL},    /* system errors; the server itself stops on a failed fsync */
        {"XX001", VN_EFATAL},   /* data_corrupted */
        {"XX002", VN_EFATAL},   /* index_corrupted */
        {"XX", VN_EUNAVAIL},    /* internal errors */
    };

    if (!state || !*state)
        return VN_EUNAVAIL;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strncmp(state, map[i].prefix, strlen(map[i].prefix)))
            return map[i].code;
    return VN_ESTORE; /* constraints, data exceptions, syntax: this statement only */
}

/* The last line of libpq's message, without its newline. */
static void set_message(struct vn__pg *s, const char *msg, const char *state)
{
    char m[VN_ERROR_MSG_MAX];
    size_t n;

    vn_strlcpy(m, msg && *msg ? msg : "no answer from the server", sizeof(m));
    n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    if (!strncmp(m, "ERROR:  ", 8))
        memmove(m, m + 8, strlen(m + 8) + 1);
    if (state && !strcmp(state, "55P03"))
        vn__store_set_error(&s->base,
                            "database is locked: another writer held a lock past busy_timeout "
                            "(%s, SQLSTATE %s)",
                            m, state);
    else if (state && *state)
        vn__store_set_error(&s->base, "%s (SQLSTATE %s)", m, state);
    else
        vn__store_set_error(&s->base, "%s", m);
}

int vn__pg_fail(struct vn__pg *s, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int code;

    if (!msg)
        msg = PQerrorMessage(s->conn);
    vn_strlcpy(s->sqlstate, state ? state : "", sizeof(s->sqlstate));
    code = PQstatus(s->conn) == CONNECTION_BAD ? VN_EUNAVAIL : classify(state);
    /* A write through a handle we opened read-only is misuse, not a standby. */
    if (s->read_only && state && !strcmp(state, "25006"))
        code = VN_ESTORE;
    set_message(s, msg, state);
    /* The caller's transaction is gone with the statement's failure (the server aborts the
     * whole transaction): later statements answer 25P02 until it is rolled back. Keep what
     * ended it for commit's report. */
    if (s->txn_ms && !s->lost && code != VN_ESTORE)
        s->lost = code;
    return code;
}

/* ---- statements --------------------------------------------------------------------------- */

/* The job's assignment keys read (converge.c): forgotten by any statement that may change
 * what they said (run_typed, send_ahead_typed) and with the transaction (known.c). */
void vn__pg_keys_clear(struct vn__pg *s)
{
    for (size_t i = 0; i < s->nakeys; i++)
        free(s->akeys[i].text);
    free(s->akeys);
    s->akeys = NULL;
    s->nakeys = 0;
}

void vn__pg_forget_statements(struct vn__pg *s)
{
    memset(s->stmt_sql, 0, sizeof(s->stmt_sql));
    s->npending = 0;
    s->ahead = 0;
}

/* The connection cannot be trusted any more (a pipeline half sent or half read): close it, so
 * that the caller's transaction is lost and the next one reconnects. */
static void drop_connection(struct vn__pg *s)
{
    PQfinish(s->conn);
    s->conn = NULL;
    vn__pg_forget_statements(s);
}

/* A pipeline failed on the connection itself: record it (VN_EUNAVAIL), drop the connection and
 * with it the caller's transaction. res (may be NULL) is the first failed query's result. */
static int pipeline_lost(struct vn__pg *s, const PGresult *res)
{
    int rc = vn__pg_fail(s, res);

    if (rc == VN_ESTORE)
        rc = VN_EUNAVAIL;
    if (s->conn)
        drop_connection(s);
    if (s->txn_ms && !s->lost)
        s->lost = VN_EUNAVAIL;
    return rc;
}

/*
 * Read the answers of the total queries sent in pipeline mode (a sync already sent), then the
 * sync's, and leave pipeline mode. *last (may be NULL) gets the last query's result when it
 * worked; *failed the first failure (a failed query makes the later ones
 * PGRES_PIPELINE_ABORTED: its own error is the one kept). 0, or -1 when the connection broke.
 */
static int drain(struct vn__pg *s, int total, PGresult **last, PGresult **failed)
{
    PGresult *res;

    for (int q = 0; q < total; q++) {
        /* Each query's results end with a NULL. */
        while ((res = PQgetResult(s->conn))) {
            ExecStatusType st = PQresultStatus(res);

            if (last && q == total - 1 && !*last &&
                (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
                *last = res;
                continue;
            }
            if (s->capture && q == s->keep_q && !s->kept && st == PGRES_TUPLES_OK) {
                s->kept = res; /* the deferred statement whose rows are wanted (capture) */
                continue;
            }
            if (st == PGRES_FATAL_ERROR && !*failed) {
                *failed = res;
                continue;
            }
            PQclear(res);
        }
        if (PQstatus(s->conn) == CONNECTION_BAD)
            return -1;
    }
    while (PQstatus(s->conn) != CONNECTION_BAD && (res = PQgetResult(s->conn))) {
        ExecStatusType st = PQresultStatus(res);

        PQclear(res);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    if (PQstatus(s->conn) == CONNECTION_BAD || !PQexitPipelineMode(s->conn))
        return -1;
    return 0;
}

/* The answers to the writes sent ahead (vn__pg_do in optimistic mode): 0 when every one
 * worked, else the first failure's code (recorded). */
static int ahead_sync(struct vn__pg *s)
{
    PGresult *failed = NULL;
    int n = s->ahead, rc = 0;

    s->ahead = 0;
    if (!n)
        return 0;
    if (!PQpipelineSync(s->conn) || drain(s, n, NULL, &failed) != 0) {
        rc = pipeline_lost(s, failed);
        PQclear(failed);
        return rc;
    }
    if (failed) {
        rc = vn__pg_fail(s, failed);
        PQclear(failed);
    }
    return rc;
}

/* The index of sql's prepared statement on this connection, preparing it if needed; < 0 with
 * the failure recorded. */
static int prepared(struct vn__pg *s, const char *sql, int nargs, const Oid *types)
{
    char name[16];
    PGresult *res;
    int i, free_slot = -1;

    for (i = 0; i < VN__PG_STMT_MAX; i++) {
        if (s->stmt_sql[i] == sql)
            return i;
        if (!s->stmt_sql[i] && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0) {
        vn__store_set_error(&s->base, "more than %d prepared statements", VN__PG_STMT_MAX);
        return VN_ESTORE;
    }
    if (s->ahead) {
        /* PREPARE waits for its answer, which pipeline mode forbids: the writes sent ahead
         * are answered first. */
        int rc = ahead_sync(s);

        if (rc)
            return rc;
    }
    snprintf(name, sizeof(name), "vn%d", free_slot);
    res = PQprepare(s->conn, name, sql, types ? nargs : 0, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        i = vn__pg_fail(s, res);
        PQclear(res);
        return i;
    }
    PQclear(res);
    s->stmt_sql[free_slot] = sql;
    return free_slot;
}

static int cached(const struct vn__pg *s, const char *sql)
{
    for (int i = 0; i < VN__PG_STMT_MAX; i++)
        if (s->stmt_sql[i] == sql)
            return 1;
    return 0;
}

/*
 * The deferred commands, then the prepared statement name with a, in one pipeline (after the
 * writes already sent ahead, if any): one round trip. Returns the statement's result (the
 * caller checks its status), or NULL with s->stmt_rc set when an earlier command failed (the
 * statement then did not run) or the connection did.
 */
static PGresult *pipelined(struct vn__pg *s, const char *name, const struct vn__pg_args *a)
{
    char names[VN__PG_PENDING_MAX][16];
    PGresult *mine = NULL, *failed = NULL;
    int n = s->npending, ok, q, total;

    s->stmt_rc = 0;
    for (q = 0; q < n; q++) {
        const struct vn__pg_pending *p = &s->pending[q];
        int i;

        if (p->a && p->a->overflow) {
            vn__store_set_error(&s->base, "a statement with more than %d arguments",
                                VN__PG_ARGS_MAX);
            s->npending = 0;
            s->stmt_rc = VN_ESTORE;
            return NULL;
        }
        i = prepared(s, p->sql, p->a ? p->a->n : 0, p->types);

        if (i < 0) {
            s->npending = 0;
            s->stmt_rc = i;
            return NULL;
        }
        snprintf(names[q], sizeof(names[q]), "vn%d", i);
    }
    s->npending = 0;
    total = s->ahead + n + 1;
    s->keep_q = -1;
    for (q = 0; s->capture && q < n; q++)
        if (s->pending[q].sql == s->capture)
            s->keep_q = s->ahead + q;
    s->ahead = 0;
    ok = PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF || PQenterPipelineMode(s->conn);
    for (q = 0; ok && q < n; q++) {
        const struct vn__pg_args *pa = s->pending[q].a;

        ok = pa ? PQsendQueryPrepared(s->conn, names[q], pa->n, pa->val, pa->len, pa->fmt, 0)
                : PQsendQueryPrepared(s->conn, names[q], 0, NULL, NULL, NULL, 0);
    }
    ok = ok && PQsendQueryPrepared(s->conn, name, a->n, a->val, a->len, a->fmt, 0);
    ok = ok && PQpipelineSync(s->conn);
    ok = ok && drain(s, total, &mine, &failed) == 0;
    s->keep_q = -1;
    if (!ok) {
        PQclear(mine);
        s->stmt_rc = pipeline_lost(s, failed);
        PQclear(failed);
        return NULL;
    }
    if (failed) {
        PQclear(mine);
        s->stmt_rc = vn__pg_fail(s, failed);
        PQclear(failed);
        return NULL;
    }
    if (!mine) {
        s->stmt_rc = vn__pg_fail(s, NULL);
        return NULL;
    }
    return mine;
}

int vn__pg_flush_pending(struct vn__pg *s)
{
    struct vn__pg_pending todo[VN__PG_PENDING_MAX];
    int n = s->npending, rc = s->ahead ? ahead_sync(s) : 0;

    if (rc) {
        s->npending = 0;
        return rc;
    }
    memcpy(todo, s->pending, sizeof(todo));
    s->npending = 0;
    for (int q = 0; q < n && !rc; q++) {
        PGresult *res = vn__pg_run_typed(s, todo[q].sql, todo[q].a, todo[q].types, NULL);

        if (!res) {
            rc = s->stmt_rc;
        } else if (s->capture && todo[q].sql == s->capture && !s->kept) {
            s->kept = res; /* wanted: the caller clears it */
            res = NULL;
        }
        PQclear(res);
    }
    return rc;
}

int vn__pg_defer_args(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                      const Oid *types)
{
    int rc = 0;

    if (s->npending == VN__PG_PENDING_MAX)
        rc = vn__pg_flush_pending(s);
    if (!rc) {
        s->pending[s->npending].sql = sql;
        s->pending[s->npending].a = a;
        s->pending[s->npending].types = types;
        s->npending++;
    }
    return rc;
}

int vn__pg_defer_at(struct vn__pg *s, int at, const char *sql)
{
    int rc = 0;

    if (s->npending == VN__PG_PENDING_MAX)
        rc = vn__pg_flush_pending(s);
    if (rc)
        return rc;
    if (at > s->npending)
        at = s->npending;
    memmove(&s->pending[at + 1], &s->pending[at],
            (size_t)(s->npending - at) * sizeof(s->pending[0]));
    s->pending[at].sql = sql;
    s->pending[at].a = NULL;
    s->pending[at].types = NULL;
    s->npending++;
    return 0;
}

int vn__pg_defer(struct vn__pg *s, const char *sql)
{
    return vn__pg_defer_args(s, sql, NULL, NULL);
}

/* BEGIN, COMMIT, ROLLBACK [TO], SAVEPOINT, RELEASE: never the first statement that needs the
 * writer lock (handle.c takes it after BEGIN, inside the transaction). */
static int is_control(const char *sql)
{
    static const char *const words[] = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"};

    sql += strspn(sql, " \t\n");
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (!strncmp(sql, words[i], strlen(words[i])))
            return 1;
    return 0;
}

/* Whether sql is the transaction's first statement that needs the writer lock (handle.c). */
static int needs_lock(const struct vn__pg *s, const char *sql)
{
    return s->lock_wanted && !s->lock_free && !is_control(sql);
}

/* The optimistic batch's kept asset adjustments go before any statement but the ledger's and
 * the lock-free ones, which do not look at assets (fold.c). */
static int fold_first(struct vn__pg *s)
{
    return s->send_kept && !s->fold_ok && !s->lock_free ? s->send_kept(s) : 0;
}

static PGresult *run_typed(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                           const Oid *types, long long *changed)
{
    static const struct vn__pg_args none;
    char name[16];
    PGresult *res;
    ExecStatusType status;
    int i;

    s->last_key.valid = 0; /* this statement may change what the last key read said */
    if (!s->key_ops && s->nakeys)
        vn__pg_keys_clear(s); /* and what the keys read said */
    if (!a)
        a = &none;
    if (changed)
        *changed = 0;
    if (!s->txn_ms && s->hooks->ensure(s) != 0) {
        s->stmt_rc = VN_EUNAVAIL;
        return NULL;
    }
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        /* Inside the caller's transaction: it died with the connection. */
        vn__store_set_error(&s->base, "the connection to '%s' was lost", s->shown);
        s->stmt_rc = VN_EUNAVAIL;
        if (s->txn_ms && !s->lost)
            s->lost = VN_EUNAVAIL;
        return NULL;
    }
    if (a->overflow) {
        vn__store_set_error(&s->base, "a statement with more than %d arguments", VN__PG_ARGS_MAX);
        s->stmt_rc = VN_ESTORE;
        return NULL;
    }
    if (s->send_kept) {
        int rc = fold_first(s);

        if (rc) {
            s->stmt_rc = rc;
            return NULL;
        }
    }
    if (needs_lock(s, sql)) {
        int rc = s->hooks->writer_lock(s); /* deferred or sent ahead: it goes first */

        if (rc) {
            s->stmt_rc = rc;
            return NULL;
        }
    }
    /* A statement prepared here for the first time: the deferred savepoint commands go
     * first, as they would have, so that a failed PREPARE is undone with the job. */
    if (s->npending && !cached(s, sql)) {
        int rc = vn__pg_flush_pending(s);

        if (rc) {
            s->stmt_rc = rc;
            return NULL;
        }
    }
    i = prepared(s, sql, a->n, types);
    if (i < 0) {
        s->stmt_rc = i;
        return NULL;
    }
    snprintf(name, sizeof(name), "vn%d", i);
    if (s->npending || s->ahead) {
        res = pipelined(s, name, a);
        if (!res)
            return NULL; /* recorded */
    } else {
        res = PQexecPrepared(s->conn, name, a->n, a->val, a->len, a->fmt, 0);
    }
    status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        s->stmt_rc = vn__pg_fail(s, res);
        PQclear(res);
        return NULL;
    }
    if (changed) {
        const char *t = PQcmdTuples(res);

        *changed = t && *t ? strtoll(t, NULL, 10) : 0;
    }
    return res;
}

/* INSERT, UPDATE or DELETE (what the change log's triggers see), by the statement's first word. */
static int is_write(const char *sql)
{
    sql += strspn(sql, " \t\n");
    return !strncmp(sql, "INSERT", 6) || !strncmp(sql, "UPDATE", 6) || !strncmp(sql, "DELETE", 6);
}

/*
 * Whether sql only reads: it begins with SELECT or WITH, modifies no row (no INSERT, UPDATE or
 * DELETE in it: a data-modifying CTE) and calls none of the functions with an effect on the
 * session or the database that this backend uses (settings, advisory locks, sequences, the
 * change log's flush). Upper case: the backend's SQL spells keywords so, its names are lower
 * case. A text it wrongly calls a write is only never run twice.
 */
static int reads_only(const char *sql)
{
    static const char *const effects[] = {"INSERT",      "UPDATE",   "DELETE",  "set_config(",
                                          "pg_advisory", "nextval(", "setval(", "vn_changes_flush"};

    sql += strspn(sql, " \t\n");
    if (strncmp(sql, "SELECT", 6) != 0 && strncmp(sql, "WITH", 4) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(effects) / sizeof(effects[0]); i++)
        if (strstr(sql, effects[i]))
            return 0;
    return 1;
}

/* Whether the last failure was the connection's end: libpq's own (no SQLSTATE: "server closed
 * the connection unexpectedly", the connection known bad), or the server's word that it ends
 * the session (an administrator's or a crash's shutdown: 57P01, 57P02; class 08). After a
 * restart libpq may call the connection good until the statement after the one that failed. */
static int connection_lost(const struct vn__pg *s)
{
    if (s->stmt_rc != VN_EUNAVAIL)
        return 0;
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK || !s->sqlstate[0])
        return 1;
    return !strcmp(s->sqlstate, "57P01") || !strcmp(s->sqlstate, "57P02") ||
           !strncmp(s->sqlstate, "08", 2);
}

/*
 * A read outside any transaction, on a connection that was open and idle before it, that
 * failed because the connection was lost: after a PostgreSQL restart libpq calls an idle
 * connection good until its next statement finds the server gone. The statement only read, so
 * it runs once more on a new connection (run_typed reconnects, with the usual backoff): a
 * database that is really down still fails (VN_EUNAVAIL, serve's 503).
 */
static PGresult *run_read(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                          const Oid *types, long long *changed)
{
    int was_open = s->conn && PQstatus(s->conn) == CONNECTION_OK &&
                   PQtransactionStatus(s->conn) == PQTRANS_IDLE && !s->npending && !s->ahead;
    PGresult *res;

    s->sqlstate[0] = '\0';
    res = run_typed(s, sql, a, types, changed);
    if (res || !was_open || !connection_lost(s))
        return res;
    if (s->conn)
        drop_connection(s);
    return run_typed(s, sql, a, types, changed);
}

PGresult *vn__pg_run_typed(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                           const Oid *types, long long *changed)
{
    PGresult *res;
    int rc;

    if (!s->txn_ms && !s->no_wrap && !s->connecting && reads_only(sql))
        return run_read(s, sql, a, types, changed);
    if (s->txn_ms || s->read_only || s->no_wrap || s->connecting || !is_write(sql))
        return run_typed(s, sql, a, types, changed);
    /* A write outside any transaction runs in one of its own, as SQLite's autocommit does: the
     * writer lock orders it among the instances' transactions and the commit's change-log
     * flush covers it. */
    rc = s->base.ops->begin(&s->base);
    if (rc) {
        s->stmt_rc = rc;
        return NULL;
    }
    res = run_typed(s, sql, a, types, changed);
    if (!res) {
        char keep[VN_ERROR_MSG_MAX];

        rc = s->stmt_rc;
        memcpy(keep, s->base.last_error, sizeof(keep));
        s->base.ops->rollback(&s->base);
        memcpy(s->base.last_error, keep, sizeof(keep));
        s->stmt_rc = rc;
        return NULL;
    }
    rc = s->base.ops->commit(&s->base);
    if (rc) {
        PQclear(res);
        s->stmt_rc = rc;
        return NULL;
    }
    return res;
}

PGresult *vn__pg_run(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                     long long *changed)
{
    return vn__pg_run_typed(s, sql, a, NULL, changed);
}

/* The most writes sent ahead before their answers are read: bounds what piles up unread. */
#define AHEAD_MAX 1024

/*
 * In optimistic mode (handle.c), a write whose caller needs only its success: sent now in pipeline
 * mode, its answer read with the next statement's (a failure then fails the transaction, as the
 * mode says). libpq copies the arguments at once. 1 when sent, 0 when it must run as usual, or
 * the failure's code.
 */
int vn__pg_send_ahead(struct vn__pg *s, const char *sql, const struct vn__pg_args *a)
{
    return vn__pg_send_ahead_typed(s, sql, a, NULL);
}

/* The deferred commands (in optimistic mode: BEGIN, the writer lock, the clock tick), sent
 * ahead in order: all prepared first, so that no PREPARE has to wait behind the lock. */
static int send_pending_ahead(struct vn__pg *s)
{
    char names[VN__PG_PENDING_MAX][16];
    int n = s->npending, q;

    for (q = 0; q < n; q++) {
        const struct vn__pg_pending *p = &s->pending[q];
        int i = prepared(s, p->sql, p->a ? p->a->n : 0, p->types);

        if (i < 0) {
            s->npending = 0;
            return i;
        }
        snprintf(names[q], sizeof(names[q]), "vn%d", i);
    }
    if (PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(s->conn))
        return pipeline_lost(s, NULL);
    for (q = 0; q < n; q++) {
        const struct vn__pg_args *pa = s->pending[q].a;

        if (!(pa ? PQsendQueryPrepared(s->conn, names[q], pa->n, pa->val, pa->len, pa->fmt, 0)
                 : PQsendQueryPrepared(s->conn, names[q], 0, NULL, NULL, NULL, 0)))
            return pipeline_lost(s, NULL);
        s->ahead++;
    }
    s->npending = 0;
    return 0;
}

int vn__pg_send_ahead_typed(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                            const Oid *types)
{
    static const struct vn__pg_args none;
    char name[16];
    int i, rc;

    s->last_key.valid = 0; /* as in run_typed */
    if (!s->key_ops && s->nakeys)
        vn__pg_keys_clear(s);
    if (!s->optimistic || !s->txn_ms || !s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return 0;
    if (s->send_kept && (rc = fold_first(s)) != 0)
        return rc;
    if (!a)
        a = &none;
    if (a->overflow)
        return 0; /* refused the usual way */
    for (int q = 0; q < s->npending; q++)
        if (s->pending[q].a && s->pending[q].a->overflow)
            return 0;
    if (s->ahead + s->npending >= AHEAD_MAX) {
        rc = ahead_sync(s);
        if (rc)
            return rc;
    }
    i = prepared(s, sql, a->n, types); /* the first time on this connection: a round trip */
    if (i < 0)
        return i;
    if (needs_lock(s, sql)) {
        rc = s->hooks->writer_lock(s); /* deferred: sent ahead just below, before sql */
        if (rc)
            return rc;
    }
    if (s->npending) {
        rc = send_pending_ahead(s);
        if (rc)
            return rc;
    }
    snprintf(name, sizeof(name), "vn%d", i);
    if ((PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(s->conn)) ||
        !PQsendQueryPrepared(s->conn, name, a->n, a->val, a->len, a->fmt, 0))
        return pipeline_lost(s, NULL);
    s->ahead++;
    return 1;
}

int vn__pg_do(struct vn__pg *s, const char *sql, const struct vn__pg_args *a, long long *changed)
{
    PGresult *res;

    if (!changed && is_write(sql)) { /* not BEGIN, ROLLBACK TO and the like */
        int sent = vn__pg_send_ahead(s, sql, a);

        if (sent)
            return sent > 0 ? 0 : sent;
    }
    res = vn__pg_run(s, sql, a, changed);

    if (!res)
        return s->stmt_rc;
    PQclear(res);
    return 0;
}

int vn__pg_exec_text(struct vn__pg *s, const char *sql)
{
    PGresult *res;
    ExecStatusType status;
    int rc = fold_first(s);

    if (!rc && needs_lock(s, sql))
        rc = s->hooks->writer_lock(s);
    if (!rc)
        rc = vn__pg_flush_pending(s);
    if (rc)
        return rc;
    res = PQexec(s->conn, sql);
    status = PQresultStatus(res);

    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        rc = vn__pg_fail(s, res);
    PQclear(res);
    return rc;
}

/* ---- results ------------------------------------------------------------------------------ */

const char *vn__pg_col(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

long long vn__pg_col_ll(const PGresult *res, int r, int c)
{
    const char *v = vn__pg_col(res, r, c);

    return v ? strtoll(v, NULL, 10) : 0;
}

int vn__pg_col_bool(const PGresult *res, int r, int c)
{
    const char *v = vn__pg_col(res, r, c);

    return v && (*v == 't' || *v == '1');
}

int64_t vn__pg_col_time(const PGresult *res, int r, int c)
{
    const char *v = vn__pg_col(res, r, c);
    int64_t ms = 0;

    if (v && vn_time_parse(v, &ms) != 0)
        ms = 0;
    return ms;
}

unsigned char *vn__pg_col_bytes(const PGresult *res, int r, int c, size_t *n, int *oom)
{
    const char *v = vn__pg_col(res, r, c);
    unsigned char *raw, *copy;
    size_t len = 0;

    *n = 0;
    if (oom)
        *oom = 0;
    if (!v)
        return NULL;
    raw = PQunescapeBytea((const unsigned char *)v, &len);
    if (!raw) {
        if (oom)
            *oom = 1;
        return NULL;
    }
    copy = malloc(len + 1); /* NUL-terminated as a convenience: bodies are text */
    if (!copy) {
        PQfreemem(raw);
        if (oom)
            *oom = 1;
        return NULL;
    }
    memcpy(copy, raw, len);
    copy[len] = '\0';
    PQfreemem(raw);
    *n = len;
    return copy;
}

void vn__pg_col_copy(const PGresult *res, int r, int c, char *out, size_t outlen)
{
    const char *v = vn__pg_col(res, r, c);

    vn_strlcpy(out, v ? v : "", outlen);
}
