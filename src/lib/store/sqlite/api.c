/*
 * api.c - the SQLite backend's part of the integration API's tables (store.h, section "the
 * integration API's tables"): API keys. Owned by the API; kept apart from the store's files.
 */
#include "sqlite_impl.h"

/* ---- API keys ------------------------------------------------------------------------- */

static int api_key_add(struct vn_store *st_, const char *name, const char *scope,
                       const uint8_t digest[VN_DIGEST_LEN], const char *shown, int64_t now_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    vn_time_iso(now_ms, iso);
    /* The partial unique index on active names (and the unique digest) decide VN_EDUP. */
    st = vn__sq_stmt(s, VN_SQ_API_KEY_ADD,
                     "INSERT INTO api_keys(name, scope, digest, shown, created_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, name);
    vn__sq_text(st, 2, scope);
    sqlite3_bind_blob(st, 3, digest, VN_DIGEST_LEN, SQLITE_STATIC);
    vn__sq_text(st, 4, shown);
    sqlite3_bind_text(st, 5, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "an API key named '%s' exists already", name);
        rc = VN_EDUP;
    }
out:
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

static int api_key_revoke(struct vn_store *st_, const char *name, int64_t now_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    vn_time_iso(now_ms, iso);
    st = vn__sq_stmt(s, VN_SQ_API_KEY_REVOKE,
                     "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, name);
    sqlite3_bind_text(st, 2, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "no API key named '%s' (see 'vppnotify api-key list')", name);
        rc = VN_ENOTFOUND;
    }
out:
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

static int api_keys(struct vn_store *st_, vn_api_key_cb cb, void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_api_key_row row;
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_API_KEYS,
               "SELECT name, scope, digest FROM api_keys WHERE revoked_at IS NULL ORDER BY id");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 2) != VN_DIGEST_LEN)
            continue; /* the schema's CHECK forbids it; never hand out a short digest */
        row.name = (const char *)sqlite3_column_text(st, 0);
        row.scope = (const char *)sqlite3_column_text(st, 1);
        row.digest = sqlite3_column_blob(st, 2);
        rc = cb(ud, &row);
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    return rc;
}

static int api_keys_version(struct vn_store *st_, int64_t *version)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_API_KEYS_VERSION, "SELECT version FROM api_key_epoch WHERE id = 1");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        vn__store_set_error(st_, "cannot read the API key version: no row");
        rc = VN_ESTORE;
    } else {
        rc = vn__sq_fail(s, rc);
    }
    sqlite3_reset(st);
    return rc;
}

const struct vn_store_api_ops vn__sq_api_ops = {
    .api_key_add = api_key_add,
    .api_key_revoke = api_key_revoke,
    .api_keys = api_keys,
    .api_keys_version = api_keys_version,
};
