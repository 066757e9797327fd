/*
 * batch.c - asset counts of an optimistic group commit, kept in memory and written once per
 * asset at the end (store.h vn_store_asset_adjust, vn_store_optimistic).
 *
 * A group commit of ASSET_COUNT notifications adjusts the same few assets again and again:
 * each adjustment was an upsert (a seek for the conflict, the row rewritten, its two row
 * triggers run: a frame allocated and zeroed, a mark looked up) although only the asset's
 * last value of the transaction is ever seen by anyone (the change log renders the row at the
 * commit; readers see committed rows only). In an optimistic transaction an adjustment here
 * reads the row once (its first in the transaction), applies every later delta in C with
 * exactly the arithmetic of write.c's upsert (saturated sums, needs_sync), and writes the
 * result with one statement, whose triggers then mark and stamp the row as the first upsert
 * did.
 *
 * The row in memory is the truth only while no other statement looks at the table. So before
 * any statement but the ledger's and these (vn__sq_stmt, and every other place that prepares
 * SQL on the handle) the pending rows are written (vn__sq_assets_flush), and at the commit.
 * A failure of that write fails the statement that caused it or the commit: the optimistic
 * transaction is rolled back and the writer runs the batch again guarded, where adjustments
 * are the upserts of write.c, one by one. A rollback forgets the pending rows.
 *
 * One difference from the upserts, by design: a transaction whose adjustments of an existing
 * asset cancel out (+1, -1) and that runs in the same millisecond as the row's last change
 * leaves that row exactly as it was, and now marks no change (the upserts marked one, which
 * rendered the unchanged row).
 */
#include "sqlite_impl.h"

#include <stdint.h>
#include <string.h>

/* The upsert's arithmetic (write.c SAT_ADD, OVERFLOWS): store_impl.c, shared with pg/fold.c. */
void vn__sq_asset_step(struct vn__sq_asset_row *r, long long d_total, long long d_assigned,
                       long long d_available)
{
    struct vn__asset_counts c = {r->total, r->assigned, r->available, r->needs_sync};

    vn__asset_step(&c, d_total, d_assigned, d_available);
    r->total = c.total;
    r->assigned = c.assigned;
    r->available = c.available;
    r->needs_sync = c.needs_sync;
}

static int copy_key(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    if (n >= len)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* The pending entry of the key, or NULL. */
static struct vn__sq_asset_row *find(struct vn__sqlite *s, const char *uid, const char *adam_id,
                                     const char *pp)
{
    for (size_t i = 0; i < s->nassets; i++) {
        struct vn__sq_asset_row *r = &s->assets[i];
        if (strcmp(r->adam_id, adam_id) == 0 && strcmp(r->uid, uid) == 0 &&
            strcmp(r->pricing_param, pp) == 0)
            return r;
    }
    return NULL;
}

/*
 * A new pending entry for the key, loaded from the table: 0, 1 when the row cannot be kept
 * here (too long a key, a count that is not an integer: the caller runs the upsert), or an
 * error.
 */
static int load(struct vn__sqlite *s, const char *uid, const char *adam_id, const char *pp,
                struct vn__sq_asset_row **out)
{
    struct vn__sq_asset_row *r = &s->assets[s->nassets];
    sqlite3_stmt *st;
    int rc;

    memset(r, 0, sizeof(*r));
    if (copy_key(r->uid, sizeof(r->uid), uid) ||
        copy_key(r->adam_id, sizeof(r->adam_id), adam_id) ||
        copy_key(r->pricing_param, sizeof(r->pricing_param), pp))
        return 1;
    VN_SQ_STMT(st, s, VN_SQ_ASSET_LOAD,
               "SELECT total_count, assigned_count, available_count, needs_sync FROM assets "
               "WHERE uid = ?1 AND adam_id = ?2 AND pricing_param = ?3");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, adam_id);
    vn__sq_text(st, 3, pp);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < 4; i++)
            if (sqlite3_column_type(st, i) != SQLITE_INTEGER) {
                sqlite3_reset(st);
                return 1;
            }
        r->existed = 1;
        r->total = sqlite3_column_int64(st, 0);
        r->assigned = sqlite3_column_int64(st, 1);
        r->available = sqlite3_column_int64(st, 2);
        r->needs_sync = sqlite3_column_int(st, 3) != 0;
        rc = SQLITE_DONE;
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (rc)
        return rc;
    s->nassets++;
    *out = r;
    return 0;
}

int vn__sq_assets_defer(struct vn__sqlite *s, const char *uid, const char *adam_id, const char *pp,
                        long long d_total, long long d_assigned, long long d_available)
{
    struct vn__sq_asset_row *r;
    int rc;

    if (!s->optimistic || !uid || !adam_id || !pp)
        return 1;
    r = find(s, uid, adam_id, pp);
    if (!r) {
        if (s->nassets == VN_SQ_ASSETS_PENDING) {
            rc = vn__sq_assets_flush(s); /* many assets in one batch: room for the next ones */
            if (rc)
                return rc;
        }
        rc = load(s, uid, adam_id, pp, &r);
        if (rc)
            return rc;
        if (!r->existed) { /* the upsert's insert: the deltas, and a sync to learn the rest */
            r->total = d_total;
            r->assigned = d_assigned;
            r->available = d_available;
            r->needs_sync = 1;
            return 0;
        }
    }
    vn__sq_asset_step(r, d_total, d_assigned, d_available);
    return 0;
}

int vn__sq_assets_flush(struct vn__sqlite *s)
{
    size_t n = s->nassets;
    int rc = 0;

    if (!n)
        return 0;
    s->nassets = 0; /* before any statement: the ones below must not flush again */
    for (size_t i = 0; i < n && !rc; i++) {
        struct vn__sq_asset_row *r = &s->assets[i];
        sqlite3_stmt *st;
        int changed = 0;

        if (r->existed)
            st = vn__sq_stmt(s, VN_SQ_ASSET_STORE,
                             "UPDATE assets SET total_count = ?4, assigned_count = ?5, "
                             "available_count = ?6, needs_sync = ?7, updated_at = ?8 "
                             "WHERE uid = ?1 AND adam_id = ?2 AND pricing_param = ?3");
        else
            st = vn__sq_stmt(s, VN_SQ_ASSET_CREATE,
                             "INSERT INTO assets(uid, adam_id, pricing_param, total_count, "
                             "  assigned_count, available_count, needs_sync, updated_at) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        if (!st) {
            rc = s->stmt_rc;
            break;
        }
        vn__sq_text(st, 1, r->uid);
        vn__sq_text(st, 2, r->adam_id);
        vn__sq_text(st, 3, r->pricing_param);
        sqlite3_bind_int64(st, 4, r->total);
        sqlite3_bind_int64(st, 5, r->assigned);
        sqlite3_bind_int64(st, 6, r->available);
        sqlite3_bind_int(st, 7, r->needs_sync);
        vn__sq_text(st, 8, vn__sq_now(s));
        rc = vn__sq_run(s, st, &changed);
        if (!rc && changed != 1) {
            vn__store_set_error(&s->base, "asset '%s' of location '%s' changed under the batch",
                                r->adam_id, r->uid);
            rc = VN_ERETRY;
        }
    }
    return rc;
}

void vn__sq_assets_forget(struct vn__sqlite *s)
{
    s->nassets = 0;
}
