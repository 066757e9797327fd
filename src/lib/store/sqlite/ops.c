/*
 * ops.c - the SQLite backend's operations for running vppnotify as a service: the gauges that
 * GET /metrics and the dashboard read on each scrape, and online backups (include/vppnotify/
 * store.h, section "operations"). Owned by the deploy side.
 *
 * These run a few times a minute at most, so each prepares its statement on the call and
 * finalizes it (no slot in the statement cache); every value is a bound parameter.
 */
#include "sqlite_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sqlite3_stmt *prepare(struct vn__sqlite *s, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (vn__sq_assets_flush(s) != 0) /* batch.c: rows kept in memory first */
        return NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        vn__store_set_error(&s->base, "cannot prepare a query: %s", sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int vn__sq_event_counts(struct vn_store *st_, int64_t now_ms, struct vn_event_counts *out)
{
    struct vn__sqlite *s = vn__sq(st_);
    char since[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    st = prepare(s, "SELECT "
                    "  coalesce(sum(state = 'tracking' AND stalled = 0), 0), "
                    "  coalesce(sum(state = 'tracking' AND stalled = 1), 0), "
                    "  coalesce(sum(notifications_missing = 1 AND "
                    "               (resync IS NULL OR resync NOT LIKE 'done%')), 0), "
                    "  coalesce(sum(status = 'FAILED' AND completed_at >= ?1), 0) "
                    "FROM event_tracking");
    if (!st)
        return VN_ESTORE;
    vn_time_iso(now_ms - 86400LL * 1000, since);
    sqlite3_bind_text(st, 1, since, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->pending = sqlite3_column_int64(st, 0);
        out->stalled = sqlite3_column_int64(st, 1);
        out->missing = sqlite3_column_int64(st, 2);
        out->failed = sqlite3_column_int64(st, 3);
        rc = 0;
    } else {
        rc = vn__sq_fail(s, rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int vn__sq_last_notification(struct vn_store *st_, const char *uid, int64_t *ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    *ms = 0;
    /* max() over the (uid, received_at) index: one seek, whatever the ledger's size. */
    st = prepare(s, "SELECT max(received_at) FROM notifications WHERE uid = ?1");
    if (!st)
        return VN_ESTORE;
    vn__sq_text(st, 1, uid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        rc = 0;
        if (t && vn_time_parse(t, ms) != 0)
            *ms = 0;
    } else {
        rc = vn__sq_fail(s, rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int vn__sq_recent_notifications(struct vn_store *st_, long long limit, vn_row_cb cb, void *ud)
{
    static const char *const keys[] = {
        "notificationId", "notificationType", "uId", "receivedAt", "state", "error"};
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_value vals[6];
    struct vn_row row = {6, keys, vals, NULL};
    sqlite3_stmt *st;
    int rc;

    if (limit < 1 || limit > 1000)
        limit = 1000;
    /* The (state, received_at) and (uid, received_at) indexes do not order across both; the
     * table is read backwards by received_at through a sort of at most `limit` rows. */
    st = prepare(s, "SELECT notification_id, notification_type, uid, received_at, state, error "
                    "FROM notifications ORDER BY received_at DESC, notification_id DESC LIMIT ?1");
    if (!st)
        return VN_ESTORE;
    sqlite3_bind_int64(st, 1, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int k = 0; k < 6; k++) {
            memset(&vals[k], 0, sizeof(vals[k]));
            if (sqlite3_column_type(st, k) == SQLITE_NULL)
                continue;
            vals[k].type = VN_V_TEXT;
            vals[k].s = (const char *)sqlite3_column_text(st, k);
        }
        rc = cb(ud, &row);
        if (rc) {
            sqlite3_finalize(st);
            return rc;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_finalize(st);
    return rc;
}

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

int vn__sq_backup(struct vn_store *st_, const char *path)
{
    struct vn__sqlite *s = vn__sq(st_);
    char tmp[4200], dir[4200];
    sqlite3 *dst = NULL;
    sqlite3_backup *b = NULL;
    struct stat sb;
    int rc = VN_ESTORE, fd, src;

    if (lstat(path, &sb) == 0) {
        vn__store_set_error(st_, "backup target '%s' exists; choose a new file", path);
        return VN_EDUP;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial", path) >= sizeof(tmp)) {
        vn__store_set_error(st_, "backup target '%.60s...' is too long a path", path);
        return VN_EPARSE;
    }
    /* Created by us, 0600, before SQLite opens it: the copy holds sealed sTokens and digests. */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        vn__store_set_error(st_, "cannot create backup file '%s': %s", tmp, strerror(errno));
        return VN_ESTORE;
    }
    close(fd);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        vn__store_set_error(st_, "cannot open backup file '%s': %s", tmp,
                            dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    b = sqlite3_backup_init(dst, "main", s->db, "main");
    if (!b) {
        vn__store_set_error(st_, "cannot start the backup to '%s': %s", tmp, sqlite3_errmsg(dst));
        goto out;
    }
    /* Copy in steps of 1024 pages; a writer in between restarts the copy (SQLite does that by
     * itself for writes through other connections), and a busy source is waited for. */
    for (;;) {
        src = sqlite3_backup_step(b, 1024);
        if (src == SQLITE_DONE)
            break;
        if (src == SQLITE_OK)
            continue;
        if (src == SQLITE_BUSY || src == SQLITE_LOCKED) {
            sqlite3_sleep(20);
            continue;
        }
        vn__store_set_error(st_, "backup to '%s' failed: %s", tmp, sqlite3_errstr(src));
        goto out;
    }
    src = sqlite3_backup_finish(b);
    b = NULL;
    if (src != SQLITE_OK) {
        vn__store_set_error(st_, "backup to '%s' failed: %s", tmp, sqlite3_errmsg(dst));
        goto out;
    }
    /* The copy keeps the source's WAL mode; fold it into one self-contained file. */
    sqlite3_exec(dst, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    if (sqlite3_close(dst) != SQLITE_OK) {
        vn__store_set_error(st_, "cannot close backup file '%s'", tmp);
        dst = NULL;
        goto out;
    }
    dst = NULL;
    if (sync_path(tmp, 0) != 0 || rename(tmp, path) != 0) {
        vn__store_set_error(st_, "cannot move the backup into place as '%s': %s", path,
                            strerror(errno));
        goto out;
    }
    vn_strlcpy(dir, path, sizeof(dir));
    {
        char *slash = strrchr(dir, '/');
        if (!slash)
            vn_strlcpy(dir, ".", sizeof(dir));
        else if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
    }
    sync_path(dir, 1);
    rc = 0;
out:
    if (b)
        sqlite3_backup_finish(b);
    if (dst)
        sqlite3_close(dst);
    if (rc)
        unlink(tmp);
    return rc;
}
