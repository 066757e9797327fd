/*
 * dashboard_impl.h - private to src/lib/service/: what web.c (routes, sessions) hands to
 * dashboard.c (the HTML of the login form and of the dashboard).
 */
#ifndef VPPNOTIFY_SERVICE_DASHBOARD_IMPL_H
#define VPPNOTIFY_SERVICE_DASHBOARD_IMPL_H

#include "vppnotify/api.h"
#include "vppnotify/dashboard.h"
#include "vppnotify/ingest.h"
#include "vppnotify/metrics.h"

struct vn_buf;
struct vn_store;

/* What the page shows besides the store's rows. */
struct vn__dashboard_view {
    char user[VN_API_NAME_MAX + 1]; /* the API key's name */
    struct vn_ingest_stats ingest;
    int have_ingest;
    struct vn_metrics_totals totals;
    int64_t now_ms;
    long long max_assets;
};

/* The login form, with an optional message (an error). 0 or the buffer's error. */
int vn__dashboard_login(struct vn_buf *b, const char *message);

/* The dashboard, reading st (borrowed, read-only). 0 or a negative code. */
int vn__dashboard_render(struct vn_buf *b, struct vn_store *st, const struct vn__dashboard_view *v);

#endif
