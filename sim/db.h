/*
 * db.h - vppsim's SQLite handle: open with numbered migrations (schema.c), prepared
 * statements in per-handle slots, typed binding, and reads that return an error instead of a
 * default. It is vppsim's own store; every SQL text of vppsim lives in the domain modules
 * (location.c, assets.c, users.c, subs.c, events.c, outbox.c, state.c) that call it.
 *
 * Statements. A statement is named at its use by SIM_PREPARE(db, &q, "SELECT ..."): the text
 * gets a slot number the first time any handle prepares it (a static descriptor at the call
 * site), and each handle keeps its prepared statement in that slot for its whole life. No
 * lookup by text, no global cache; more than SIM_DB_SLOTS distinct texts is an error
 * (VN_ESTORE, logged), never an abort.
 *
 * Errors. Every function that runs SQL returns 0 or a negative code: VN_ESTORE (SQLite failed;
 * the message with the statement's first words is logged here, once), VN_ENOTFOUND (a
 * single-value read found no row, or NULL). Binding records its failure in the statement and
 * the next step returns it. Callers pass errors up; vppsim's HTTP layer turns VN_ESTORE into a
 * 500 (9603 on /mdm/v2).
 *
 * Threads: a handle is used by one thread at a time (vppsim's engine thread).
 * Ownership: sim_db_open returns an owned handle (sim_db_close); strings and JSON returned by
 * the read helpers are owned by the caller; sim_col_text's pointer is borrowed until the next
 * step or reset of that statement.
 */
#ifndef VPPSIM_DB_H
#define VPPSIM_DB_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

struct vn_error;
struct sim_db;

#define SIM_DB_SLOTS 256

/* The text of a statement and its slot (0 until first prepared). One static per call site. */
struct sim_sql {
    const char *text;
    int slot;
};

/* A prepared statement being bound and stepped. Lives on the caller's stack. */
struct sim_stmt {
    struct sim_db *db;
    sqlite3_stmt *st;
    const char *text;
    int rc; /* the first binding error, returned by the next step */
};

enum { SIM_ROW = 1 };

/* Open (and create or migrate) the state at path (":memory:" keeps nothing). Counts this
 * opening in the state (sim_db_run) and makes deliveries that were in flight due again.
 * 0 and *out, or VN_ESTORE with err. */
int sim_db_open(const char *path, struct sim_db **out, struct vn_error *err);
void sim_db_close(struct sim_db *db);
/* How many times this state has been opened, this time included (1 for a new one). */
int64_t sim_db_run(const struct sim_db *db);
/* The schema version after migrations. */
int sim_db_schema(const struct sim_db *db);

/* Prepare sql in db's slot for it: 0 and q ready for binding, or VN_ESTORE. */
int sim_db_prepare(struct sim_db *db, struct sim_sql *sql, struct sim_stmt *q);
/* Prepare a statement whose text is written at the call: 0 or VN_ESTORE. */
#define SIM_PREPARE(db, q, text)                                                                   \
    __extension__({                                                                                \
        static struct sim_sql sim_sql_ = {(text), 0};                                              \
        sim_db_prepare((db), &sim_sql_, (q));                                                      \
    })

/* Typed binding of parameter i (1-based). */
void sim_bind_text(struct sim_stmt *q, int i, const char *v); /* NULL binds NULL */
void sim_bind_int(struct sim_stmt *q, int i, int64_t v);
void sim_bind_null(struct sim_stmt *q, int i);
void sim_bind_opt_int(struct sim_stmt *q, int i, const int64_t *v); /* NULL binds NULL */

/* One step: SIM_ROW, 0 when done, or VN_ESTORE (the statement is reset on error or done). */
int sim_stmt_step(struct sim_stmt *q);
/* Columns of the current row. */
int64_t sim_col_int(const struct sim_stmt *q, int col);
const char *sim_col_text(const struct sim_stmt *q, int col); /* NULL for NULL */
int sim_col_null(const struct sim_stmt *q, int col);
/* Reset after stepping by hand (harmless if already reset). */
void sim_stmt_reset(struct sim_stmt *q);

/* Run to the end, ignoring rows: 0 or VN_ESTORE. *changed (may be NULL): rows changed. */
int sim_stmt_exec(struct sim_stmt *q, int *changed);
/* First column of the first row: 0, VN_ENOTFOUND (no row, or NULL), or VN_ESTORE. */
int sim_stmt_int(struct sim_stmt *q, int64_t *out);
/* The same as a new string (free it). */
int sim_stmt_text(struct sim_stmt *q, char **out);
/* Every row as a JSON object keyed by column name into a new array (*out, decref). A column
 * named "j:x" is parsed as JSON into x, "b:x" becomes a boolean x, NULL values are left out. */
int sim_stmt_rows(struct sim_stmt *q, json_t **out);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK (never fails: errors are logged). */
int sim_db_begin(struct sim_db *db);
int sim_db_commit(struct sim_db *db);
void sim_db_rollback(struct sim_db *db);
/* The rowid of the last insert on this handle. */
int64_t sim_db_last_id(struct sim_db *db);

#endif
