/*
 * rejections.c - the SQLite backend's table of rejected requests (store.h, "rejected
 * requests"; docs/SCHEMA.md). Written at most once a second by the endpoint, read by
 * `vppnotify rejections`: the statements are prepared per call (no slot of the statement
 * cache is worth it at that rate).
 */
#include "sqlite_impl.h"

#include <string.h>

static int prepare(struct vn__sqlite *s, const char *sql, sqlite3_stmt **out)
{
    int rc = vn__sq_assets_flush(s); /* batch.c: rows kept in memory first */

    *out = NULL;
    if (rc)
        return rc;
    rc = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);
    return rc == SQLITE_OK ? 0 : vn__sq_fail(s, rc);
}

int vn__sq_rejections_add(struct vn_store *st_, const struct vn_rejection *rows, size_t n,
                          long long max_rows, int64_t before_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *ins = NULL, *del = NULL;
    char first[VN_TIME_ISO_LEN], last[VN_TIME_ISO_LEN];
    int rc;

    rc = prepare(s,
                 "INSERT INTO rejections(first_at, last_at, remote_addr, status, reason, "
                 "  claimed_uid, token_uid, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                 &ins);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        vn_time_iso(rows[i].first_ms, first);
        vn_time_iso(rows[i].last_ms, last);
        sqlite3_bind_text(ins, 1, first, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, last, -1, SQLITE_STATIC);
        vn__sq_text(ins, 3, rows[i].remote ? rows[i].remote : "?");
        sqlite3_bind_int(ins, 4, rows[i].status);
        vn__sq_text(ins, 5, rows[i].reason ? rows[i].reason : "");
        vn__sq_text(ins, 6, rows[i].claimed_uid);
        vn__sq_text(ins, 7, rows[i].token_uid);
        sqlite3_bind_int64(ins, 8, rows[i].count > 0 ? rows[i].count : 1);
        rc = vn__sq_run(s, ins, NULL);
    }
    if (rc == 0 && max_rows > 0) {
        /* The ids grow with time: the oldest rows are the smallest ids. */
        rc = prepare(s,
                     "DELETE FROM rejections WHERE id <= "
                     "  (SELECT max(id) FROM rejections) - ?1",
                     &del);
        if (rc == 0) {
            sqlite3_bind_int64(del, 1, max_rows);
            rc = vn__sq_run(s, del, NULL);
        }
        sqlite3_finalize(del);
        del = NULL;
    }
    if (rc == 0 && before_ms > 0) {
        rc = prepare(s, "DELETE FROM rejections WHERE last_at < ?1", &del);
        if (rc == 0) {
            vn_time_iso(before_ms, first);
            sqlite3_bind_text(del, 1, first, -1, SQLITE_STATIC);
            rc = vn__sq_run(s, del, NULL);
        }
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(del);
    return rc;
}

static const char *const keys[] = {"firstAt", "lastAt",     "remote",   "status",
                                   "reason",  "claimedUId", "tokenUId", "count"};

int vn__sq_rejections(struct vn_store *st_, int64_t since_ms, long long limit, vn_row_cb cb,
                      void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_value vals[8];
    struct vn_row row = {.n = 8, .keys = keys, .vals = vals};
    char since[VN_TIME_ISO_LEN];
    sqlite3_stmt *q = NULL;
    int rc, step, stop = 0;

    rc = prepare(s,
                 "SELECT first_at, last_at, remote_addr, status, reason, claimed_uid, token_uid, "
                 "  count FROM rejections WHERE (?1 IS NULL OR last_at >= ?1) "
                 "ORDER BY last_at DESC, id DESC LIMIT ?2",
                 &q);
    if (rc)
        return rc;
    if (since_ms > 0) {
        vn_time_iso(since_ms, since);
        sqlite3_bind_text(q, 1, since, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(q, 2, limit > 0 ? limit : -1);
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < 8; c++) {
            memset(&vals[c], 0, sizeof(vals[c]));
            if (sqlite3_column_type(q, c) == SQLITE_NULL)
                continue;
            if (c == 3 || c == 7) {
                vals[c].type = VN_V_INT;
                vals[c].i = sqlite3_column_int64(q, c);
            } else {
                vals[c].type = VN_V_TEXT;
                vals[c].s = (const char *)sqlite3_column_text(q, c);
            }
        }
        stop = cb(ud, &row);
        if (stop)
            break;
    }
    if (!stop && step != SQLITE_DONE)
        rc = vn__sq_fail(s, step);
    sqlite3_finalize(q);
    return rc ? rc : stop;
}
