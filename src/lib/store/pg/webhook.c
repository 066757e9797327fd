/*
 * webhook.c - the PostgreSQL backend's webhook endpoints and Idempotency-Key (store.h, the
 * integration API's tables; migrations 5 and 6). The same operations as the SQLite backend's
 * api.c, on native types. Owned by the API; kept apart from the store's files.
 *
 * An endpoint's outbox is the change log after its cursor, so the change log's flush at commit
 * (api.c) queues every change for every endpoint in the transaction that makes it. Several
 * instances may deliver for one endpoint: an update names the cursor it read
 * (expect_cursor), and the one that finds it moved gets VN_ECONFLICT and reads again.
 */
#include "pg_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- webhook endpoints ------------------------------------------------------------------ */

static int not_found(struct vn_store *st, int64_t id)
{
    vn__store_set_error(st, "no webhook endpoint %lld (see 'vppnotify webhook list')",
                        (long long)id);
    return VN_ENOTFOUND;
}

int vn__pg_webhook_add(struct vn_store *st, const char *url, const char *kinds,
                       const uint8_t *secret, size_t secret_len, int64_t now_ms, int64_t *id)
{
    /* Under the writer lock, so no transaction can commit a lower seq after this reads it. */
    static const char sql[] =
        "INSERT INTO webhook_endpoints(url, kinds, secret, created_at, cursor, state) "
        "VALUES ($1, $2, $3, $4, coalesce((SELECT max(seq) FROM changes), "
        "  (SELECT pruned_through FROM change_meta WHERE id = 1), 0), 'active') RETURNING id";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, url);
    vn__pg_text(&a, kinds);
    vn__pg_bytes(&a, secret, secret_len);
    vn__pg_time(&a, now_ms ? now_ms : 1);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return vn__pg_finish(s, s->stmt_rc);
    *id = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    return vn__pg_finish(s, 0);
}

int vn__pg_webhook_remove(struct vn_store *st, int64_t id)
{
    static const char del[] = "DELETE FROM webhook_endpoints WHERE id = $1";
    static const char del_log[] = "DELETE FROM webhook_deliveries WHERE endpoint_id = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed = 0;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_int(&a, id);
    rc = vn__pg_do(s, del, &a, &changed);
    if (!rc && changed == 0)
        rc = not_found(st, id);
    if (!rc)
        rc = vn__pg_do(s, del_log, &a, NULL);
    return vn__pg_finish(s, rc);
}

int vn__pg_webhooks(struct vn_store *st, int64_t id, vn_webhook_cb cb, void *ud)
{
    static const char sql[] =
        "SELECT id, url, kinds, secret, cursor, state = 'active', attempts, "
        "  vn_iso(failing_since), vn_iso(next_attempt_at) FROM webhook_endpoints "
        "WHERE $1::bigint = 0 OR id = $1 ORDER BY id";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_webhook w;
    PGresult *res;
    int rc = 0, n;

    vn__pg_int(&a, id);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    n = PQntuples(res);
    for (int i = 0; i < n && rc == 0; i++) {
        size_t len = 0;
        int oom = 0;
        unsigned char *secret = vn__pg_col_bytes(res, i, 3, &len, &oom);

        if (oom) {
            rc = -ENOMEM;
            break;
        }
        memset(&w, 0, sizeof(w));
        w.id = vn__pg_col_ll(res, i, 0);
        w.url = vn__pg_col(res, i, 1);
        w.kinds = vn__pg_col(res, i, 2);
        w.secret = secret;
        w.secret_len = len;
        w.cursor = vn__pg_col_ll(res, i, 4);
        w.active = vn__pg_col_bool(res, i, 5);
        w.attempts = vn__pg_col_ll(res, i, 6);
        w.failing_since_ms = vn__pg_col_time(res, i, 7);
        w.next_attempt_ms = vn__pg_col_time(res, i, 8);
        rc = cb(ud, &w);
        free(secret);
    }
    PQclear(res);
    if (!rc && id && n == 0)
        rc = not_found(st, id);
    return rc;
}

int vn__pg_webhook_update(struct vn_store *st, int64_t id, const struct vn_webhook_state *w,
                          const struct vn_webhook_attempt *att, size_t n)
{
    static const char upd[] =
        "UPDATE webhook_endpoints SET cursor = $3, state = $4, disabled_reason = $5, "
        "  attempts = $6, failing_since = $7, next_attempt_at = $8, "
        "  last_attempt_at = coalesce($9, last_attempt_at), "
        "  last_status = CASE WHEN $9::timestamptz IS NULL THEN last_status ELSE $10 END, "
        "  last_error = CASE WHEN $9::timestamptz IS NULL THEN last_error ELSE $11 END, "
        "  delivered = delivered + $12 "
        "WHERE id = $1 AND cursor = $2";
    static const char exists[] = "SELECT 1 FROM webhook_endpoints WHERE id = $1";
    static const char log[] =
        "INSERT INTO webhook_deliveries(endpoint_id, seq, message_id, type, attempt, at, "
        "  status, ok, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    static const Oid types[] = {20, 20, 20, 25, 25, 20, 1184, 1184, 1184, 23, 25, 20};
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed = 0;
    PGresult *res;
    int rc;

    vn__pg_int(&a, id);
    vn__pg_int(&a, w->expect_cursor);
    vn__pg_int(&a, w->cursor);
    vn__pg_text(&a, w->active ? "active" : "disabled");
    vn__pg_text(&a, w->active ? NULL : w->disabled_reason);
    vn__pg_int(&a, w->attempts);
    vn__pg_time(&a, w->failing_since_ms > 0 ? w->failing_since_ms : 0);
    vn__pg_time(&a, w->next_attempt_ms > 0 ? w->next_attempt_ms : 0);
    vn__pg_time(&a, w->last_attempt_ms > 0 ? w->last_attempt_ms : 0);
    if (w->last_status > 0)
        vn__pg_int(&a, w->last_status);
    else
        vn__pg_text(&a, NULL);
    vn__pg_text(&a, w->last_error);
    vn__pg_int(&a, w->delivered);
    res = vn__pg_run_typed(s, upd, &a, types, &changed);
    if (!res)
        return s->stmt_rc;
    PQclear(res);
    if (changed == 0) {
        memset(&a, 0, sizeof(a));
        vn__pg_int(&a, id);
        res = vn__pg_run(s, exists, &a, NULL);
        if (!res)
            return s->stmt_rc;
        changed = PQntuples(res);
        PQclear(res);
        if (changed == 0)
            return not_found(st, id);
        vn__store_set_error(st, "webhook endpoint %lld was changed meanwhile", (long long)id);
        return VN_ECONFLICT;
    }
    rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        memset(&a, 0, sizeof(a));
        vn__pg_int(&a, att[i].endpoint_id);
        vn__pg_int(&a, att[i].seq);
        vn__pg_text(&a, att[i].message_id);
        vn__pg_text(&a, att[i].type);
        vn__pg_int(&a, att[i].attempt);
        vn__pg_time(&a, att[i].at_ms ? att[i].at_ms : 1);
        if (att[i].status > 0)
            vn__pg_int(&a, att[i].status);
        else
            vn__pg_text(&a, NULL);
        vn__pg_bool(&a, att[i].ok);
        vn__pg_text(&a, att[i].error);
        vn__pg_int(&a, att[i].duration_ms);
        rc = vn__pg_do(s, log, &a, NULL);
    }
    return rc;
}

int vn__pg_webhook_redeliver(struct vn_store *st, int64_t id, int64_t after)
{
    static const char sql[] =
        "UPDATE webhook_endpoints SET state = 'active', disabled_reason = NULL, attempts = 0, "
        "  failing_since = NULL, next_attempt_at = NULL, "
        "  cursor = CASE WHEN $2::bigint >= 0 AND $2::bigint < cursor THEN $2 ELSE cursor END "
        "WHERE id = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed = 0;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_int(&a, id);
    vn__pg_int(&a, after);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (!rc && changed == 0)
        rc = not_found(st, id);
    return vn__pg_finish(s, rc);
}

/* ---- Idempotency-Key ------------------------------------------------------------------ */

int vn__pg_idempotency_get(struct vn_store *st, const char *scope, const char *key,
                           struct vn_idempotency *out)
{
    static const char sql[] = "SELECT state = 'done', request_hash, status, body, "
                              "  vn_iso(created_at) FROM api_idempotency "
                              "WHERE key_name = $1 AND idem_key = $2";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    unsigned char *hash;
    const char *body;
    PGresult *res;
    size_t n = 0;
    int oom = 0, rc = 0;

    memset(out, 0, sizeof(*out));
    vn__pg_text(&a, scope);
    vn__pg_text(&a, key);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return VN_ENOTFOUND;
    }
    out->done = vn__pg_col_bool(res, 0, 0);
    hash = vn__pg_col_bytes(res, 0, 1, &n, &oom);
    if (hash && n == VN_DIGEST_LEN)
        memcpy(out->request_hash, hash, VN_DIGEST_LEN);
    free(hash);
    out->status = (int)vn__pg_col_ll(res, 0, 2);
    body = vn__pg_col(res, 0, 3);
    if (body) {
        out->body = strdup(body);
        if (!out->body)
            oom = 1;
    }
    out->created_ms = vn__pg_col_time(res, 0, 4);
    PQclear(res);
    if (oom) {
        free(out->body);
        out->body = NULL;
        rc = -ENOMEM;
    }
    return rc;
}

int vn__pg_idempotency_begin(struct vn_store *st, const char *scope, const char *key,
                             const uint8_t hash[VN_DIGEST_LEN], int64_t now_ms)
{
    static const char sql[] =
        "INSERT INTO api_idempotency(key_name, idem_key, request_hash, state, created_at) "
        "VALUES ($1, $2, $3, 'running', $4) ON CONFLICT DO NOTHING";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed = 0;
    int rc;

    vn__pg_text(&a, scope);
    vn__pg_text(&a, key);
    vn__pg_bytes(&a, hash, VN_DIGEST_LEN);
    vn__pg_time(&a, now_ms ? now_ms : 1);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "Idempotency-Key '%s' is known already", key);
        rc = VN_EDUP;
    }
    return rc;
}

int vn__pg_idempotency_finish(struct vn_store *st, const char *scope, const char *key, int status,
                              const char *body)
{
    static const char sql[] = "UPDATE api_idempotency SET state = 'done', status = $3, "
                              "  body = $4 WHERE key_name = $1 AND idem_key = $2";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};

    vn__pg_text(&a, scope);
    vn__pg_text(&a, key);
    vn__pg_int(&a, status);
    vn__pg_text(&a, body);
    return vn__pg_do(s, sql, &a, NULL);
}
