/*
 * metrics_store.c - the /metrics families read from the store on each scrape (see
 * vn_metrics_render_store in include/vppnotify/metrics.h).
 *
 * Cost of one scrape, whatever the size of the ledger: one pass over event_tracking (indexed
 * counts), one row per location plus one index seek each for its latest notification, and at
 * most max_assets asset rows. Nothing here writes.
 */
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/metrics.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define LOCATIONS_MAX 10000

/* Append a label value with Prometheus' escapes (backslash, quote, newline). */
static int label(struct vn_buf *b, const char *v)
{
    int rc = 0;

    for (; v && *v && rc == 0; v++) {
        if (*v == '\\')
            rc = vn_buf_puts(b, "\\\\");
        else if (*v == '"')
            rc = vn_buf_puts(b, "\\\"");
        else if (*v == '\n')
            rc = vn_buf_puts(b, "\\n");
        else
            rc = vn_buf_append(b, v, 1);
    }
    return rc;
}

static int header(struct vn_buf *out, const char *name, const char *type, const char *help)
{
    return vn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- locations --------------------------------------------------------------------------- */

struct location {
    char *uid, *status, *drift;
    int64_t expires_ms, subscribed_ms, last_sync_ms, last_ms;
};

struct locations {
    struct location *v;
    size_t n;
};

static int64_t time_of(const char *iso)
{
    int64_t ms = 0;
    if (iso && vn_time_parse(iso, &ms) != 0)
        ms = 0;
    return ms;
}

static int on_location(void *ud, const struct vn_row *r)
{
    struct locations *ls = ud;
    struct location *l;
    int64_t full, delta;

    if (ls->n == LOCATIONS_MAX)
        return 1;
    l = &ls->v[ls->n];
    memset(l, 0, sizeof(*l));
    l->uid = strdup(vn_row_text(r, "uId") ? vn_row_text(r, "uId") : "");
    l->status = vn_row_text(r, "tokenStatus") ? strdup(vn_row_text(r, "tokenStatus")) : NULL;
    l->drift = vn_row_text(r, "lastSyncDrift") ? strdup(vn_row_text(r, "lastSyncDrift")) : NULL;
    if (!l->uid)
        return -1;
    l->expires_ms = time_of(vn_row_text(r, "tokenExpirationDate"));
    l->subscribed_ms = time_of(vn_row_text(r, "subscribedAt"));
    full = time_of(vn_row_text(r, "lastFullSyncAt"));
    delta = time_of(vn_row_text(r, "lastDeltaSyncAt"));
    l->last_sync_ms = full > delta ? full : delta;
    ls->n++;
    return 0;
}

static void locations_release(struct locations *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->v[i].uid);
        free(ls->v[i].status);
        free(ls->v[i].drift);
    }
    free(ls->v);
}

/* name{uid="..."} value, for every location where the value is known (> 0 or always). */
static int per_location(struct vn_buf *out, const struct locations *ls, const char *name,
                        const char *type, const char *help, int which, int64_t now_ms)
{
    int rc = header(out, name, type, help);

    for (size_t i = 0; rc == 0 && i < ls->n; i++) {
        const struct location *l = &ls->v[i];
        char value[48];

        switch (which) {
        case 0: /* seconds since the last notification */
            if (!l->last_ms)
                continue;
            snprintf(value, sizeof(value), "%.3f", (double)(now_ms - l->last_ms) / 1000.0);
            break;
        case 1: /* token expiry */
            if (!l->expires_ms)
                continue;
            snprintf(value, sizeof(value), "%.3f", (double)l->expires_ms / 1000.0);
            break;
        case 2: /* subscribed */
            snprintf(value, sizeof(value), "%d", l->subscribed_ms ? 1 : 0);
            break;
        default: /* last successful sync */
            if (!l->last_sync_ms)
                continue;
            snprintf(value, sizeof(value), "%.3f", (double)l->last_sync_ms / 1000.0);
            break;
        }
        rc = vn_buf_printf(out, "%s{uid=\"", name);
        if (rc == 0)
            rc = label(out, l->uid);
        if (rc == 0)
            rc = vn_buf_printf(out, "\"} %s\n", value);
    }
    return rc;
}

static int render_token_status(struct vn_buf *out, const struct locations *ls)
{
    int rc = header(out, "vppnotify_token_status", "gauge",
                    "1 for the sToken status of each location with an sToken "
                    "(ok, expiring, expired, revoked, takeover)");

    for (size_t i = 0; rc == 0 && i < ls->n; i++) {
        if (!ls->v[i].status)
            continue;
        rc = vn_buf_puts(out, "vppnotify_token_status{uid=\"");
        if (rc == 0)
            rc = label(out, ls->v[i].uid);
        if (rc == 0)
            rc = vn_buf_puts(out, "\",status=\"");
        if (rc == 0)
            rc = label(out, ls->v[i].status);
        if (rc == 0)
            rc = vn_buf_puts(out, "\"} 1\n");
    }
    return rc;
}

/* The last sync's drift: per table, rows added + removed + changed. */
static int render_drift(struct vn_buf *out, const struct locations *ls)
{
    int rc = header(out, "vppnotify_sync_drift_rows", "gauge",
                    "rows the last sync of a location found different from the mirror, by table");

    for (size_t i = 0; rc == 0 && i < ls->n; i++) {
        json_t *j = ls->v[i].drift ? json_loads(ls->v[i].drift, 0, NULL) : NULL;
        const char *table;
        json_t *t;

        json_object_foreach(j, table, t)
        {
            long long sum = 0;
            const char *k;
            json_t *v;
            if (!json_is_object(t))
                continue;
            json_object_foreach(t, k, v) if (json_is_integer(v)) sum += json_integer_value(v);
            rc = vn_buf_puts(out, "vppnotify_sync_drift_rows{uid=\"");
            if (rc == 0)
                rc = label(out, ls->v[i].uid);
            if (rc == 0)
                rc = vn_buf_puts(out, "\",table=\"");
            if (rc == 0)
                rc = label(out, table);
            if (rc == 0)
                rc = vn_buf_printf(out, "\"} %lld\n", sum);
            if (rc)
                break;
        }
        json_decref(j);
    }
    return rc;
}

/* ---- assets ------------------------------------------------------------------------------ */

struct assets {
    struct vn_buf available, total;
    long long n, max;
    int truncated, rc;
};

static int asset_line(struct vn_buf *b, const char *name, const struct vn_row *r, long long v)
{
    int rc = vn_buf_printf(b, "%s{uid=\"", name);
    if (rc == 0)
        rc = label(b, vn_row_text(r, "uId"));
    if (rc == 0)
        rc = vn_buf_puts(b, "\",adam_id=\"");
    if (rc == 0)
        rc = label(b, vn_row_text(r, "adamId"));
    if (rc == 0)
        rc = vn_buf_puts(b, "\",pricing_param=\"");
    if (rc == 0)
        rc = label(b, vn_row_text(r, "pricingParam"));
    if (rc == 0)
        rc = vn_buf_printf(b, "\"} %lld\n", v);
    return rc;
}

static int on_asset(void *ud, const struct vn_row *r)
{
    struct assets *a = ud;

    if (a->n == a->max) {
        a->truncated = 1;
        return 1;
    }
    a->n++;
    a->rc = asset_line(&a->available, "vppnotify_licenses_available", r,
                       vn_row_int(r, "availableCount"));
    if (a->rc == 0)
        a->rc = asset_line(&a->total, "vppnotify_licenses_owned", r, vn_row_int(r, "totalCount"));
    return a->rc ? 1 : 0;
}

static int render_assets(struct vn_buf *out, struct vn_store *st, long long max,
                         struct vn_error *err)
{
    struct vn_filter f = {.limit = max + 1};
    struct assets a = {.max = max};
    int rc;

    vn_buf_init(&a.available, out->max);
    vn_buf_init(&a.total, out->max);
    rc = vn_store_query(st, VN_Q_ASSETS, &f, on_asset, &a);
    if (rc < 0 && a.rc == 0) {
        vn_error_set(err, rc, "cannot read the assets: %s", vn_store_last_error(st));
        goto out;
    }
    rc = a.rc;
    if (rc == 0)
        rc = header(out, "vppnotify_licenses_available", "gauge",
                    "licenses not assigned, per asset (adamId, pricingParam) and location");
    if (rc == 0)
        rc = vn_buf_append(out, a.available.data ? a.available.data : "", a.available.len);
    if (rc == 0)
        rc = header(out, "vppnotify_licenses_owned", "gauge",
                    "licenses owned, per asset (adamId, pricingParam) and location");
    if (rc == 0)
        rc = vn_buf_append(out, a.total.data ? a.total.data : "", a.total.len);
    if (rc == 0)
        rc = header(out, "vppnotify_metrics_assets_truncated", "gauge",
                    "1 when there were more assets than the scrape reports");
    if (rc == 0)
        rc = vn_buf_printf(out, "vppnotify_metrics_assets_truncated %d\n", a.truncated);
out:
    vn_buf_release(&a.available);
    vn_buf_release(&a.total);
    return rc;
}

int vn_metrics_render_store(struct vn_buf *out, struct vn_store *st, int64_t now_ms,
                            long long max_assets, struct vn_error *err)
{
    struct locations ls = {0};
    struct vn_event_counts ev;
    struct vn_filter f = {.limit = LOCATIONS_MAX};
    int rc;

    rc = vn_store_event_counts(st, now_ms, &ev);
    if (rc) {
        vn_error_set(err, rc, "cannot count the events: %s", vn_store_last_error(st));
        return rc;
    }
    rc = header(out, "vppnotify_events", "gauge",
                "tracked events: pending, stalled (PENDING too long), missing (notifications "
                "missing, re-sync not yet done), failed (FAILED in the last 24 hours)");
    if (rc == 0)
        rc = vn_buf_printf(out,
                           "vppnotify_events{state=\"pending\"} %lld\n"
                           "vppnotify_events{state=\"stalled\"} %lld\n"
                           "vppnotify_events{state=\"missing\"} %lld\n"
                           "vppnotify_events{state=\"failed\"} %lld\n",
                           ev.pending, ev.stalled, ev.missing, ev.failed);
    if (rc)
        return rc;

    ls.v = calloc(LOCATIONS_MAX, sizeof(*ls.v));
    if (!ls.v)
        return -ENOMEM;
    rc = vn_store_query(st, VN_Q_LOCATIONS, &f, on_location, &ls);
    if (rc < 0) {
        vn_error_set(err, rc, "cannot read the locations: %s", vn_store_last_error(st));
        goto out;
    }
    for (size_t i = 0; i < ls.n; i++) {
        rc = vn_store_last_notification(st, ls.v[i].uid, &ls.v[i].last_ms);
        if (rc) {
            vn_error_set(err, rc, "cannot read the latest notification of '%s': %s", ls.v[i].uid,
                         vn_store_last_error(st));
            goto out;
        }
    }
    rc = per_location(out, &ls, "vppnotify_location_last_notification_age_seconds", "gauge",
                      "seconds since the location's latest notification arrived", 0, now_ms);
    if (rc == 0)
        rc = per_location(out, &ls, "vppnotify_location_subscribed", "gauge",
                          "1 when the location is subscribed (Client Config POSTed)", 2, now_ms);
    if (rc == 0)
        rc = per_location(out, &ls, "vppnotify_token_expiry_timestamp_seconds", "gauge",
                          "when the location's sToken expires (Unix time)", 1, now_ms);
    if (rc == 0)
        rc = render_token_status(out, &ls);
    if (rc == 0)
        rc = per_location(out, &ls, "vppnotify_sync_last_success_timestamp_seconds", "gauge",
                          "the location's latest successful full or delta sync (Unix time)", 3,
                          now_ms);
    if (rc == 0)
        rc = render_drift(out, &ls);
    if (rc == 0)
        rc = render_assets(out, st, max_assets, err);
out:
    locations_release(&ls);
    return rc;
}
