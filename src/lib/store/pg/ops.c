/*
 * ops.c - the PostgreSQL backend's operations for running vppnotify as a service: the gauges
 * that GET /metrics and the dashboard read, and backups (include/vppnotify/store.h, section
 * "operations"). Same answers as the SQLite backend's sqlite/ops.c.
 *
 * A backup of a PostgreSQL store is a SQLite file: every table copied (vn_store_copy) from one
 * REPEATABLE READ snapshot, so consistent as of one instant while serve goes on writing, and
 * restored with `vppnotify store copy --from BACKUP --to postgresql://...` into an empty
 * schema (docs/STORE.md). pg_dump remains the tool for the server's own backups.
 */
#include "pg_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vn__pg_event_counts(struct vn_store *st, int64_t now_ms, struct vn_event_counts *out)
{
    static const char sql[] =
        "SELECT count(*) FILTER (WHERE state = 'tracking' AND NOT stalled), "
        "  count(*) FILTER (WHERE state = 'tracking' AND stalled), "
        "  count(*) FILTER (WHERE notifications_missing AND "
        "                   (resync IS NULL OR resync NOT LIKE 'done%')), "
        "  count(*) FILTER (WHERE status = 'FAILED' AND completed_at >= $1::timestamptz) "
        "FROM event_tracking";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;

    memset(out, 0, sizeof(*out));
    vn__pg_time(&a, now_ms - 86400LL * 1000);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 1) {
        out->pending = vn__pg_col_ll(res, 0, 0);
        out->stalled = vn__pg_col_ll(res, 0, 1);
        out->missing = vn__pg_col_ll(res, 0, 2);
        out->failed = vn__pg_col_ll(res, 0, 3);
    }
    PQclear(res);
    return 0;
}

int vn__pg_last_notification(struct vn_store *st, const char *uid, int64_t *ms)
{
    /* max() over the (uid, received_at) index: one seek, whatever the ledger's size. */
    static const char sql[] = "SELECT vn_iso(max(received_at)) FROM notifications WHERE uid = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;

    *ms = 0;
    vn__pg_text(&a, uid);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 1)
        *ms = vn__pg_col_time(res, 0, 0);
    PQclear(res);
    return 0;
}

int vn__pg_recent_notifications(struct vn_store *st, long long limit, vn_row_cb cb, void *ud)
{
    static const char *const keys[] = {
        "notificationId", "notificationType", "uId", "receivedAt", "state", "error"};
    static const char sql[] =
        "SELECT notification_id, notification_type, uid, vn_iso(received_at), state, error "
        "FROM notifications ORDER BY received_at DESC, notification_id DESC LIMIT $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_value vals[6];
    struct vn_row row = {6, keys, vals, NULL};
    PGresult *res;
    int rc = 0;

    if (limit < 1 || limit > 1000)
        limit = 1000;
    vn__pg_int(&a, limit);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        for (int k = 0; k < 6; k++) {
            memset(&vals[k], 0, sizeof(vals[k]));
            if (PQgetisnull(res, i, k))
                continue;
            vals[k].type = VN_V_TEXT;
            vals[k].s = PQgetvalue(res, i, k);
        }
        rc = cb(ud, &row);
    }
    PQclear(res);
    return rc;
}

/* ---- backup: a SQLite file from one snapshot -------------------------------------------- */

/* fsync a file or directory by path. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

static void sync_dir_of(const char *path)
{
    char dir[4200];
    char *slash;

    vn_strlcpy(dir, path, sizeof(dir));
    slash = strrchr(dir, '/');
    if (!slash)
        vn_strlcpy(dir, ".", sizeof(dir));
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    sync_path(dir, 1);
}

/* Copy every table of s, read in one REPEATABLE READ READ ONLY transaction (no writer lock:
 * serve's writers go on), into the empty SQLite store dst. */
static int copy_snapshot(struct vn__pg *s, struct vn_store *dst)
{
    struct vn_store_copy_report r;
    struct vn_error err = {0};
    int rc;

    rc = vn__pg_ensure(s);
    if (!rc)
        rc = vn__pg_do(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, NULL);
    if (rc)
        return rc;
    /* Marked as in a transaction: the reads must not reconnect to a new snapshot halfway. */
    s->txn_ms = vn_now_ms();
    vn_time_iso(s->txn_ms, s->txn_iso);
    rc = vn_store_copy(&s->base, dst, &r, &err);
    s->txn_ms = 0;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(s->conn, "ROLLBACK"); /* read only: nothing to keep */
        PQclear(res);
    }
    if (rc)
        vn__store_set_error(&s->base, "%s", err.msg);
    return rc;
}

int vn__pg_backup(struct vn_store *st, const char *path)
{
    struct vn__pg *s = vn__pg(st);
    char tmp[4200], url[4300];
    struct vn_error err = {0};
    struct vn_store *dst;
    struct stat sb;
    int rc, fd;

    if (s->txn_ms) {
        vn__store_set_error(st, "cannot back up inside a transaction");
        return VN_ESTORE;
    }
    if (lstat(path, &sb) == 0) {
        vn__store_set_error(st, "backup target '%s' exists; choose a new file", path);
        return VN_EDUP;
    }
    if (strchr(path, '?')) {
        vn__store_set_error(st, "backup target '%s': a file name with '?' is not supported", path);
        return VN_EPARSE;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial", path) >= sizeof(tmp)) {
        vn__store_set_error(st, "backup target '%.60s...' is too long a path", path);
        return VN_EPARSE;
    }
    snprintf(url, sizeof(url), "sqlite:%s", tmp);
    /* Created by us, 0600, before SQLite opens it: the copy holds sealed sTokens and digests.
     * SQLite takes an empty file for a new database. */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        vn__store_set_error(st, "cannot create backup file '%s': %s", tmp, strerror(errno));
        return VN_ESTORE;
    }
    close(fd);
    dst = vn_store_open(url, NULL, &err);
    if (!dst) {
        vn__store_set_error(st, "cannot open backup file '%s': %s", tmp, err.msg);
        unlink(tmp);
        return err.code < 0 ? err.code : VN_ESTORE;
    }
    rc = copy_snapshot(s, dst);
    vn_store_free(dst); /* the last connection: SQLite folds the WAL into the file */
    if (!rc && (sync_path(tmp, 0) != 0 || rename(tmp, path) != 0)) {
        vn__store_set_error(st, "cannot move the backup into place as '%s': %s", path,
                            strerror(errno));
        rc = VN_ESTORE;
    }
    if (rc) {
        char side[4300];

        unlink(tmp);
        snprintf(side, sizeof(side), "%s-wal", tmp);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", tmp);
        unlink(side);
        return rc;
    }
    sync_dir_of(path);
    return 0;
}
