/*
 * rejections.c - the PostgreSQL backend's table of rejected requests (store.h, "rejected
 * requests"; docs/SCHEMA.md), as the SQLite backend's sqlite/rejections.c: written at most
 * once a second by the endpoint (one writer job, so inside its transaction), read by
 * `vppnotify rejections`.
 */
#include "pg_impl.h"

#include <string.h>

int vn__pg_rejections_add(struct vn_store *st, const struct vn_rejection *rows, size_t n,
                          long long max_rows, int64_t before_ms)
{
    static const char insert[] =
        "INSERT INTO rejections(first_at, last_at, remote_addr, status, reason, claimed_uid, "
        "  token_uid, count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    /* The ids grow with time: the oldest rows are the smallest ids. */
    static const char keep_newest[] =
        "DELETE FROM rejections WHERE id <= (SELECT max(id) FROM rejections) - $1::bigint";
    static const char drop_old[] = "DELETE FROM rejections WHERE last_at < $1::timestamptz";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        memset(&a, 0, sizeof(a));
        vn__pg_time(&a, rows[i].first_ms);
        vn__pg_time(&a, rows[i].last_ms);
        vn__pg_text(&a, rows[i].remote ? rows[i].remote : "?");
        vn__pg_int(&a, rows[i].status);
        vn__pg_text(&a, rows[i].reason ? rows[i].reason : "");
        vn__pg_text(&a, rows[i].claimed_uid);
        vn__pg_text(&a, rows[i].token_uid);
        vn__pg_int(&a, rows[i].count > 0 ? rows[i].count : 1);
        rc = vn__pg_do(s, insert, &a, NULL);
    }
    if (rc == 0 && max_rows > 0) {
        memset(&a, 0, sizeof(a));
        vn__pg_int(&a, max_rows);
        rc = vn__pg_do(s, keep_newest, &a, NULL);
    }
    if (rc == 0 && before_ms > 0) {
        memset(&a, 0, sizeof(a));
        vn__pg_time(&a, before_ms);
        rc = vn__pg_do(s, drop_old, &a, NULL);
    }
    return rc;
}

int vn__pg_rejections(struct vn_store *st, int64_t since_ms, long long limit, vn_row_cb cb,
                      void *ud)
{
    static const char *const keys[] = {"firstAt", "lastAt",     "remote",   "status",
                                       "reason",  "claimedUId", "tokenUId", "count"};
    /* LIMIT NULL: all rows. */
    static const char sql[] =
        "SELECT vn_iso(first_at), vn_iso(last_at), remote_addr, status, reason, claimed_uid, "
        "  token_uid, count FROM rejections "
        "WHERE ($1::timestamptz IS NULL OR last_at >= $1::timestamptz) "
        "ORDER BY last_at DESC, id DESC LIMIT $2::bigint";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_value vals[8];
    struct vn_row row = {.n = 8, .keys = keys, .vals = vals};
    PGresult *res;
    int stop = 0;

    vn__pg_time(&a, since_ms > 0 ? since_ms : 0); /* 0: NULL */
    if (limit > 0)
        vn__pg_int(&a, limit);
    else
        vn__pg_text(&a, NULL);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    for (int i = 0; i < PQntuples(res) && !stop; i++) {
        for (int c = 0; c < 8; c++) {
            memset(&vals[c], 0, sizeof(vals[c]));
            if (PQgetisnull(res, i, c))
                continue;
            if (c == 3 || c == 7) {
                vals[c].type = VN_V_INT;
                vals[c].i = vn__pg_col_ll(res, i, c);
            } else {
                vals[c].type = VN_V_TEXT;
                vals[c].s = PQgetvalue(res, i, c);
            }
        }
        stop = cb(ud, &row);
    }
    PQclear(res);
    return stop;
}
