/*
 * store_api.c - dispatch of store.h's section "the integration API's tables" (API keys, ...)
 * through struct vn_store_api_ops (store_impl.h). Owned by the API; kept apart from store.c.
 */
#include "store_impl.h"

#include <stdatomic.h>

int vn_store_api_key_add(struct vn_store *st, const char *name, const char *scope,
                         const uint8_t digest[VN_DIGEST_LEN], const char *shown, int64_t now_ms)
{
    return st->ops->api->api_key_add(st, name, scope, digest, shown, now_ms);
}

int vn_store_api_key_revoke(struct vn_store *st, const char *name, int64_t now_ms)
{
    return st->ops->api->api_key_revoke(st, name, now_ms);
}

int vn_store_api_keys(struct vn_store *st, vn_api_key_cb cb, void *ud)
{
    return st->ops->api->api_keys(st, cb, ud);
}

int vn_store_api_keys_version(struct vn_store *st, int64_t *version)
{
    return st->ops->api->api_keys_version(st, version);
}

int vn_store_changes(struct vn_store *st, int64_t after, long long limit, vn_change_cb cb, void *ud)
{
    return st->ops->api->changes(st, after, limit, cb, ud);
}

int vn_store_changes_head(struct vn_store *st, struct vn_changes_head *out)
{
    return st->ops->api->changes_head(st, out);
}

int vn_store_changes_set_retention(struct vn_store *st, int64_t retention_ms)
{
    return st->ops->api->changes_set_retention(st, retention_ms);
}

int vn_store_webhook_add(struct vn_store *st, const char *url, const char *kinds,
                         const uint8_t *secret, size_t secret_len, int64_t now_ms, int64_t *id)
{
    return st->ops->api->webhook_add(st, url, kinds, secret, secret_len, now_ms, id);
}

int vn_store_webhook_remove(struct vn_store *st, int64_t id)
{
    return st->ops->api->webhook_remove(st, id);
}

int vn_store_webhooks(struct vn_store *st, int64_t id, vn_webhook_cb cb, void *ud)
{
    return st->ops->api->webhooks(st, id, cb, ud);
}

int vn_store_webhook_update(struct vn_store *st, int64_t id, const struct vn_webhook_state *s,
                            const struct vn_webhook_attempt *attempts, size_t n)
{
    return st->ops->api->webhook_update(st, id, s, attempts, n);
}

int vn_store_webhook_redeliver(struct vn_store *st, int64_t id, int64_t after)
{
    return st->ops->api->webhook_redeliver(st, id, after);
}

int vn_store_idempotency_get(struct vn_store *st, const char *scope, const char *key,
                             struct vn_idempotency *out)
{
    return st->ops->api->idempotency_get(st, scope, key, out);
}

int vn_store_idempotency_begin(struct vn_store *st, const char *scope, const char *key,
                               const uint8_t request_hash[VN_DIGEST_LEN], int64_t now_ms)
{
    return st->ops->api->idempotency_begin(st, scope, key, request_hash, now_ms);
}

int vn_store_idempotency_finish(struct vn_store *st, const char *scope, const char *key, int status,
                                const char *body)
{
    return st->ops->api->idempotency_finish(st, scope, key, status, body);
}

/* The observer is set once before threads start and read by committing threads. */
static _Atomic(vn_changes_observer) observer;
static void *observer_ud;

void vn_store_changes_observe(vn_changes_observer fn, void *ud)
{
    observer_ud = ud;
    atomic_store(&observer, fn);
}

void vn__store_changes_committed(int64_t last_seq)
{
    vn_changes_observer fn = atomic_load(&observer);

    if (fn)
        fn(observer_ud, last_seq);
}
