/*
 * known.c - the notification ids of an optimistic batch (store.h vn_store_notifications_known),
 * read in one statement, so that the batch's inserts and repeats of those ids are sent ahead
 * (exec.c) instead of each waiting for the database's answer.
 *
 * Why it is right: the set is read before the writer lock (handle.c takes it lazily, with the
 * batch's first write), so another instance may insert one of the ids between the read and this
 * transaction's COMMIT. Ledger rows are never deleted and their bodies never change, so an id
 * read present stays present with that digest: a repeat answered from the set is right (its row
 * in notification_repeats is append-only and locks nothing, so it needs no writer lock either).
 * An id read absent is inserted with a plain INSERT (no ON CONFLICT), sent ahead after the
 * writer lock: should another instance have inserted it meanwhile, the INSERT fails (waiting
 * for that instance's COMMIT if need be), and with it the optimistic transaction, which the
 * writer runs again with savepoints and an answer per statement, where it is a duplicate. The
 * set changes only with this transaction's own inserts, which update it as they are sent.
 *
 * The set is a sorted array of owned ids, valid for the transaction that read it (handle.c clears
 * it at BEGIN, COMMIT and ROLLBACK). An id not in it is handled the usual way (write.c).
 *
 * The repeats answered from the set are counted in it (write.c) and written together, one row
 * each, by one INSERT sent ahead before COMMIT (handle.c) or before the set is read again:
 * a batch of repeats costs the database one statement instead of one per repeat. Nothing in
 * the transaction reads notification_repeats, so the rows may come late; a rollback drops
 * them with the set, and the guarded run that follows writes each again.
 */
#include "pg_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vppnotify/buf.h"

#define KNOWN_IDS_MAX 4096 /* more in one batch: the usual way for all (batch_max is 1024) */

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct vn__pg_known *)a)->id, ((const struct vn__pg_known *)b)->id);
}

void vn__pg_known_clear(struct vn__pg *s)
{
    for (size_t i = 0; i < s->nknown; i++)
        free(s->known[i].id);
    free(s->known);
    s->known = NULL;
    s->nknown = 0;
    s->nrepeats = 0;
    s->last_key.valid = 0;
    vn__pg_keys_clear(s);
}

struct vn__pg_known *vn__pg_known_find(struct vn__pg *s, const char *id)
{
    struct vn__pg_known key = {.id = (char *)id};

    if (!s->optimistic || !s->nknown || !id)
        return NULL;
    return bsearch(&key, s->known, s->nknown, sizeof(key), by_id);
}

int vn__pg_known_all_present(struct vn__pg *s)
{
    if (!s->optimistic || !s->nknown)
        return 0;
    for (size_t i = 0; i < s->nknown; i++)
        if (!s->known[i].present)
            return 0;
    return 1;
}

/* ids as a PostgreSQL array literal: {"a","b"} with " and \ escaped. */
int vn__pg_array_literal(struct vn_buf *b, const char *const *ids, size_t n)
{
    int rc = vn_buf_puts(b, "{");

    for (size_t i = 0; i < n && !rc; i++) {
        const char *p = ids[i];

        rc = vn_buf_puts(b, i ? ",\"" : "\"");
        for (; *p && !rc; p++) {
            if (*p == '"' || *p == '\\')
                rc = vn_buf_append(b, "\\", 1);
            if (!rc)
                rc = vn_buf_append(b, p, 1);
        }
        if (!rc)
            rc = vn_buf_puts(b, "\"");
    }
    if (!rc)
        rc = vn_buf_puts(b, "}");
    return rc;
}

int vn__pg_known_repeats_send(struct vn__pg *s)
{
    static const char sql[] =
        "INSERT INTO notification_repeats(notification_id, received_at, conflict) "
        "SELECT u.id, $2::timestamptz, u.c FROM unnest($1::text[], $3::boolean[]) AS u(id, c)";
    struct vn__pg_args a = {0};
    struct vn_buf ids, flags;
    const char **each;
    size_t n = s->nrepeats, k = 0;
    int rc = 0;

    if (n == 0)
        return 0;
    s->nrepeats = 0; /* before any statement: none of them sends these again */
    each = malloc(n * sizeof(*each));
    if (!each)
        return -ENOMEM;
    vn_buf_init(&ids, (size_t)1 << 24);
    vn_buf_init(&flags, (size_t)1 << 24);
    rc = vn_buf_puts(&flags, "{");
    for (size_t i = 0; i < s->nknown && !rc; i++) {
        struct vn__pg_known *e = &s->known[i];

        for (unsigned r = 0; r < e->repeats && k < n && !rc; r++) {
            each[k] = e->id;
            /* the differing ones first: which repeat differed does not matter, only how many */
            rc = vn_buf_puts(&flags,
                             k ? (r < e->differ ? ",t" : ",f") : (r < e->differ ? "t" : "f"));
            k++;
        }
        e->repeats = e->differ = 0;
    }
    if (!rc)
        rc = vn_buf_puts(&flags, "}");
    if (!rc)
        rc = vn__pg_array_literal(&ids, each, k);
    free(each);
    if (!rc) {
        vn__pg_text(&a, vn_buf_str(&ids));
        vn__pg_text(&a, vn__pg_now(s));
        vn__pg_text(&a, vn_buf_str(&flags));
        s->lock_free = 1; /* append-only: no writer lock needed (the top of this file) */
        rc = vn__pg_do(s, sql, &a, NULL); /* sent ahead when it can be */
        s->lock_free = 0;
    }
    vn_buf_release(&ids);
    vn_buf_release(&flags);
    return rc;
}

int vn__pg_notifications_known(struct vn_store *st, const char *const *ids, size_t n)
{
    /* One primary-key probe per id, whatever the plan cache decided when the table was small
     * (a generic plan of "= ANY ($1)" may keep a sequential scan: every row against every id).
     * OFFSET 0 keeps the subquery from being flattened into a join. */
    static const char sql[] =
        "SELECT n.notification_id, n.body_sha256 FROM unnest($1::text[]) AS k(id) "
        "CROSS JOIN LATERAL (SELECT x.notification_id, x.body_sha256 FROM notifications AS x "
        "  WHERE x.notification_id = k.id OFFSET 0) AS n";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_buf lit;
    PGresult *res;
    size_t k = 0, i;
    int rc;

    /* The repeats kept from the set about to go (a batch whose new jobs are read again). */
    rc = vn__pg_known_repeats_send(s);
    if (rc)
        return rc;
    vn__pg_known_clear(s);
    if (!s->optimistic || n == 0 || n > KNOWN_IDS_MAX)
        return 0;
    s->known = calloc(n, sizeof(*s->known));
    if (!s->known)
        return 0; /* the usual way: slower, as right */
    for (i = 0; i < n; i++) {
        if (!ids[i])
            continue;
        s->known[k].id = strdup(ids[i]);
        if (!s->known[k].id) {
            s->nknown = k;
            vn__pg_known_clear(s);
            return 0;
        }
        k++;
    }
    s->nknown = k;
    qsort(s->known, k, sizeof(*s->known), by_id);
    for (i = 0, n = 0; i < k; i++) { /* one entry per id */
        if (n && !strcmp(s->known[n - 1].id, s->known[i].id)) {
            free(s->known[i].id);
            continue;
        }
        s->known[n++] = s->known[i];
    }
    s->nknown = n;

    vn_buf_init(&lit, (size_t)1 << 24);
    {
        const char **sorted = malloc(n * sizeof(*sorted));

        if (!sorted) {
            vn_buf_release(&lit);
            vn__pg_known_clear(s);
            return 0;
        }
        for (i = 0; i < n; i++)
            sorted[i] = s->known[i].id;
        rc = vn__pg_array_literal(&lit, sorted, n);
        free(sorted);
    }
    if (rc) {
        vn_buf_release(&lit);
        vn__pg_known_clear(s);
        return 0;
    }
    vn__pg_text(&a, vn_buf_str(&lit));
    s->lock_free = 1; /* read before the writer lock: see the top of this file */
    res = vn__pg_run(s, sql, &a, NULL);
    s->lock_free = 0;
    vn_buf_release(&lit);
    if (!res) {
        vn__pg_known_clear(s);
        return s->stmt_rc;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        struct vn__pg_known *e = vn__pg_known_find(s, vn__pg_col(res, r, 0));
        unsigned char *digest;
        size_t len = 0;
        int oom = 0;

        if (!e)
            continue;
        digest = vn__pg_col_bytes(res, r, 1, &len, &oom);
        if (oom) {
            PQclear(res);
            vn__pg_known_clear(s);
            return 0;
        }
        e->present = 1;
        if (digest && len == VN_DIGEST_LEN)
            memcpy(e->digest, digest, VN_DIGEST_LEN);
        free(digest);
    }
    PQclear(res);
    return 0;
}
