/*
 * fold.c - asset counts of an optimistic group commit, folded in memory and written with one
 * statement per asset (store.h vn_store_asset_adjust, vn_store_optimistic), as SQLite's
 * batch.c does.
 *
 * A batch of ASSET_COUNT notifications adjusts the same asset again and again: each upsert
 * cost PostgreSQL ~44 us (the conflict's seek, a new row version, its triggers), under the
 * asset's row lock and the writer lock that every instance waits for, although only the
 * asset's last value of the transaction is ever seen (readers see committed rows; the change
 * log renders the row at the commit). Here an optimistic transaction's adjustments of one
 * asset are kept, and sent as one upsert, without a read of the row (no round trip):
 *
 *   - the row the adjustments make when the asset is new: the first adjustment's insert, then
 *     every later one applied in C with the upsert's own arithmetic (store_impl.c
 *     vn__asset_step): the INSERT's values;
 *   - for a row that exists, the sums of the deltas and, per count, the lowest and highest of
 *     their running sums, and the highest running sum of assigned minus total: ON CONFLICT
 *     sets each count to its value plus the sum and needs_sync when any running value was
 *     below 0 or assigned above total, which is what the upserts one by one would have left,
 *     as long as no running value left int64 (where they saturate). That case is not folded:
 *     the statement adds the lowest and the highest running sum to the count in bigint, which
 *     fails ("bigint out of range") exactly when some running value would have left int64, and
 *     the failure fails the optimistic transaction: the writer runs the batch again guarded,
 *     where every adjustment is its own upsert (writer.c). Sums that overflow in C fail the
 *     same way, at once.
 *
 * The kept adjustments are the truth only while no other statement looks at the table: every
 * statement but the ledger's (fold_ok) and the lock-free ones (the ids' read, a repeat's row)
 * sends them first (exec.c), and the commit does (handle.c). Sending them is sending ahead: no
 * round trip. A rollback or a new transaction forgets them.
 */
#include "pg_impl.h"

#include <string.h>

/* The kept entry of the key, or NULL. */
static struct vn__pg_fold *find(struct vn__pg *s, const char *uid, const char *adam_id,
                                const char *pp)
{
    for (size_t i = 0; i < s->nfold; i++) {
        struct vn__pg_fold *f = &s->fold[i];

        if (!strcmp(f->adam_id, adam_id) && !strcmp(f->uid, uid) && !strcmp(f->pp, pp))
            return f;
    }
    return NULL;
}

static int fits(const char *v, size_t len)
{
    return strlen(v) < len;
}

/* Running sums: 0, or -1 when a sum leaves long long. */
static int run_on(struct vn__pg_fold *f, const long long d[3])
{
    long long diff;

    for (int k = 0; k < 3; k++) {
        if (__builtin_add_overflow(f->sum[k], d[k], &f->sum[k]))
            return -1;
        if (f->sum[k] < f->lo[k])
            f->lo[k] = f->sum[k];
        if (f->sum[k] > f->hi[k])
            f->hi[k] = f->sum[k];
    }
    if (__builtin_sub_overflow(f->sum[1], f->sum[0], &diff))
        return -1;
    if (diff > f->dmax)
        f->dmax = diff;
    return 0;
}

int vn__pg_fold_add(struct vn__pg *s, const char *uid, const char *adam_id, const char *pp,
                    long long d_total, long long d_assigned, long long d_available)
{
    const long long d[3] = {d_total, d_assigned, d_available};
    struct vn__pg_fold *f;
    int rc;

    if (!s->optimistic || !s->txn_ms)
        return 1;
    f = find(s, uid, adam_id, pp);
    if (!f) {
        if (!fits(uid, sizeof(f->uid)) || !fits(adam_id, sizeof(f->adam_id)) ||
            !fits(pp, sizeof(f->pp)))
            return 1; /* an upsert of its own */
        if (s->nfold == VN__PG_FOLD_MAX) {
            rc = vn__pg_fold_flush(s); /* many assets in one batch: room for the next ones */
            if (rc)
                return rc;
        }
        f = &s->fold[s->nfold++];
        s->send_kept = vn__pg_fold_flush;
        memset(f, 0, sizeof(*f));
        vn_strlcpy(f->uid, uid, sizeof(f->uid));
        vn_strlcpy(f->adam_id, adam_id, sizeof(f->adam_id));
        vn_strlcpy(f->pp, pp, sizeof(f->pp));
        /* The upsert's insert: the deltas, and a sync to learn the rest. */
        f->fresh.total = d_total;
        f->fresh.assigned = d_assigned;
        f->fresh.available = d_available;
        f->fresh.needs_sync = 1;
        for (int k = 0; k < 3; k++)
            f->sum[k] = f->lo[k] = f->hi[k] = d[k];
        if (__builtin_sub_overflow(d_assigned, d_total, &f->dmax))
            goto overflow;
        return 0;
    }
    vn__asset_step(&f->fresh, d_total, d_assigned, d_available);
    if (run_on(f, d) == 0)
        return 0;
overflow:
    vn__store_set_error(
        &s->base, "the adjustments of asset '%s' in one batch overflow: each runs alone", adam_id);
    return VN_ESTORE; /* the optimistic transaction fails and runs again guarded */
}

int vn__pg_fold_flush(struct vn__pg *s)
{
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO assets AS t(uid, adam_id, pricing_param, total_count, assigned_count, "
        "  available_count, needs_sync, updated_at, clock) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "  coalesce(nullif(current_setting('vn.clock', true), '')::bigint, 0)) "
        "ON CONFLICT (uid, adam_id, pricing_param) DO UPDATE SET "
        /* the comparison adds the lowest and the highest running sum in bigint: out of range
         * (the upserts would have saturated) fails the statement */
        "  total_count = CASE WHEN t.total_count + $12::bigint <= t.total_count + $13::bigint "
        "    THEN t.total_count + $9::bigint END, "
        "  assigned_count = CASE WHEN t.assigned_count + $14::bigint "
        "    <= t.assigned_count + $15::bigint THEN t.assigned_count + $10::bigint END, "
        "  available_count = CASE WHEN t.available_count + $16::bigint "
        "    <= t.available_count + $17::bigint THEN t.available_count + $11::bigint END, "
        "  needs_sync = (t.needs_sync OR t.total_count + $12::bigint < 0 "
        "    OR t.assigned_count + $14::bigint < 0 OR t.available_count + $16::bigint < 0 "
        "    OR t.assigned_count + $18::bigint > t.total_count), "
        "  updated_at = excluded.updated_at, "
        "  clock = CASE WHEN excluded.clock <> 0 THEN excluded.clock ELSE t.clock END";
    /* clang-format on */
    size_t n = s->nfold;
    int rc = 0;

    s->nfold = 0; /* before any statement: the ones below must not send them again */
    s->send_kept = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct vn__pg_fold *f = &s->fold[i];
        struct vn__pg_args a = {0};

        vn__pg_text(&a, f->uid);
        vn__pg_text(&a, f->adam_id);
        vn__pg_text(&a, f->pp);
        vn__pg_int(&a, f->fresh.total);
        vn__pg_int(&a, f->fresh.assigned);
        vn__pg_int(&a, f->fresh.available);
        vn__pg_bool(&a, f->fresh.needs_sync);
        vn__pg_text(&a, vn__pg_now(s));
        for (int k = 0; k < 3; k++)
            vn__pg_int(&a, f->sum[k]);
        for (int k = 0; k < 3; k++) {
            vn__pg_int(&a, f->lo[k]);
            vn__pg_int(&a, f->hi[k]);
        }
        vn__pg_int(&a, f->dmax);
        rc = vn__pg_do(s, sql, &a, NULL); /* sent ahead: answered with the next statement */
    }
    return rc;
}
