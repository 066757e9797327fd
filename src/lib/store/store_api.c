/*
 * store_api.c - dispatch of store.h's section "the integration API's tables" (API keys, ...)
 * through struct vn_store_api_ops (store_impl.h). Owned by the API; kept apart from store.c.
 */
#include "store_impl.h"

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
