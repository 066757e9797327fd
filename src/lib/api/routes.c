/*
 * routes.c - the /v1 routes of contract section 8 that the library serves, mounted by
 * vn_api_mount_v1 (docs/API.md, docs/openapi.yaml).
 */
#include "api_impl.h"
#include "vppnotify/error.h"

#include <microhttpd.h>

/* GET /v1: who am I — the key's name and scope, and this build's version. */
static int get_index(void *ud, struct vn_api_req *req)
{
    return vn_api_respond_json(req, MHD_HTTP_OK,
                               json_pack("{ss ss ss}", "version", VN_VERSION, "keyName",
                                         vn_api_req_key_name(req), "scope",
                                         vn_api_scope_name(vn_api_req_scope(req))));
}

int vn_api_mount_v1(struct vn_api *api, struct vn_error *err)
{
    int rc = vn_api_mount(api, "GET", "/v1", VN_API_READ, get_index, NULL);

    if (rc == 0)
        rc = vn__api_mount_read(api);
    if (rc == 0) {
        const struct vn_webhook_options *wo = &vn__api_options(api)->webhooks;
        struct vn__api_feed *fd = vn__api_feed_new(api, 0, err);
        if (!fd)
            return err ? err->code : VN_ESTORE;
        vn__api_own_feed(api, fd);
        rc = vn__api_mount_feed(api, fd);
        if (rc == 0 && wo->writer) {
            struct vn__api_webhooks *wh = vn__api_webhooks_start(api, wo, err);
            if (!wh)
                return err ? err->code : VN_ESTORE;
            vn__api_own_webhooks(api, wh);
            vn__api_feed_also(fd, vn__api_webhooks_committed, wh);
        }
        if (rc == 0 && wo->writer && vn__api_options(api)->apple) {
            struct vn__api_requests *rq =
                vn__api_requests_start(api, vn__api_options(api)->apple, wo, err);
            if (!rq)
                return err ? err->code : VN_ESTORE;
            vn__api_own_requests(api, rq);
            rc = vn__api_mount_requests(api);
        }
    }

    if (rc)
        return vn_error_set(err, rc, "cannot mount the /v1 routes: %s", vn_strerror(rc));
    return 0;
}
