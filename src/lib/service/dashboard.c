/*
 * dashboard.c - the dashboard's HTML (see include/vppnotify/dashboard.h): one server-rendered
 * page, plain HTML with inline CSS, no script and nothing loaded from elsewhere, readable from
 * a phone (one column, tables that scroll sideways) to a desktop.
 *
 * Every value from the store or a request is HTML-escaped (esc). Elements carry data-*
 * attributes and ids so that a test (or a scraper) can find the numbers.
 *
 * Cost of one page: the store's read queries with bounds: at most max_assets assets, 2,000
 * events (those needing attention are shown, 100 at most), 20 recent notifications, the 20
 * newest rows of recorded rejections, and per location one index seek for its latest
 * notification.
 */
#include "dashboard_impl.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <stdlib.h>
#include <string.h>

#define EVENTS_SCANNED 2000
#define EVENTS_SHOWN   100
#define RECENT         20

/* ---- helpers ------------------------------------------------------------------------------ */

static int esc(struct vn_buf *b, const char *s)
{
    int rc = 0;

    for (; s && *s && rc == 0; s++) {
        switch (*s) {
        case '&':
            rc = vn_buf_puts(b, "&amp;");
            break;
        case '<':
            rc = vn_buf_puts(b, "&lt;");
            break;
        case '>':
            rc = vn_buf_puts(b, "&gt;");
            break;
        case '"':
            rc = vn_buf_puts(b, "&quot;");
            break;
        case '\'':
            rc = vn_buf_puts(b, "&#39;");
            break;
        default:
            rc = vn_buf_append(b, s, 1);
        }
    }
    return rc;
}

static int is_null(const struct vn_row *r, const char *key)
{
    const struct vn_value *v = vn_row_value(r, key);
    return !v || v->type == VN_V_NULL;
}

/* A table cell with escaped text (or a dash when absent). */
static int td(struct vn_buf *b, const char *s)
{
    int rc = vn_buf_puts(b, "<td>");
    if (rc == 0)
        rc = s && *s ? esc(b, s) : vn_buf_puts(b, "&ndash;");
    if (rc == 0)
        rc = vn_buf_puts(b, "</td>");
    return rc;
}

/* "5 s", "3 min", "2 h", "4 d" */
static void age(int64_t ms, char *out, size_t outlen)
{
    long long s = ms / 1000;

    if (s < 120)
        snprintf(out, outlen, "%lld s ago", s < 0 ? 0 : s);
    else if (s < 7200)
        snprintf(out, outlen, "%lld min ago", s / 60);
    else if (s < 172800)
        snprintf(out, outlen, "%lld h ago", s / 3600);
    else
        snprintf(out, outlen, "%lld d ago", s / 86400);
}

static const char *css =
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1d2327;background:#f3f4f6}"
    "header{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;justify-content:space-between;"
    "padding:.75em 1em;background:#1f2937;color:#fff}"
    "header h1{font-size:1.15em;margin:0}header form{margin:0}"
    "main{max-width:1200px;margin:0 auto;padding:1em}"
    "section{background:#fff;border-radius:8px;padding:1em;margin:0 0 1em;"
    "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    "h2{font-size:1.05em;margin:0 0 .6em}"
    ".tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(9em,1fr));gap:.6em}"
    ".tile{background:#f9fafb;border:1px solid #e5e7eb;border-radius:6px;padding:.5em .7em}"
    ".tile b{display:block;font-size:1.5em}.tile span{color:#4b5563;font-size:.85em}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;font-size:.92em}"
    "th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e5e7eb;vertical-align:top}"
    "th{color:#4b5563;font-weight:600;white-space:nowrap}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".bar{background:#e5e7eb;border-radius:4px;height:.7em;min-width:6em;overflow:hidden}"
    ".bar i{display:block;height:100%;background:#2563eb}"
    ".bar i.full{background:#dc2626}"
    ".badge{display:inline-block;padding:0 .45em;border-radius:4px;font-size:.85em;"
    "background:#e5e7eb}"
    ".ok{background:#dcfce7;color:#166534}.warn{background:#fef9c3;color:#854d0e}"
    ".bad{background:#fee2e2;color:#991b1b}"
    ".muted{color:#6b7280}"
    "button,input{font:inherit}"
    "button{padding:.35em .9em;border-radius:6px;border:1px solid #9ca3af;background:#fff;"
    "cursor:pointer}"
    "input[type=password]{width:100%;padding:.5em;border:1px solid #9ca3af;border-radius:6px}"
    ".login{max-width:26em;margin:10vh auto}"
    ".error{color:#991b1b}"
    "@media (max-width:600px){main{padding:.5em}section{padding:.7em}"
    "th,td{padding:.3em}}";

static int page_start(struct vn_buf *b, const char *title)
{
    int rc = vn_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                            "<meta name=\"viewport\" content=\"width=device-width, "
                            "initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>");
    if (rc == 0)
        rc = esc(b, title);
    if (rc == 0)
        rc = vn_buf_printf(b, "</title><style>%s</style></head><body>", css);
    return rc;
}

/* ---- the login form ----------------------------------------------------------------------- */

int vn__dashboard_login(struct vn_buf *b, const char *message)
{
    int rc = page_start(b, "vppnotify: sign in");

    if (rc == 0)
        rc = vn_buf_puts(b, "<main><section class=\"login\"><h2>vppnotify</h2>"
                            "<p>Sign in with an API key (<code>vppnotify api-key add --name N "
                            "--scope read</code>).</p>");
    if (rc == 0 && message) {
        rc = vn_buf_puts(b, "<p class=\"error\" id=\"login-error\">");
        if (rc == 0)
            rc = esc(b, message);
        if (rc == 0)
            rc = vn_buf_puts(b, "</p>");
    }
    if (rc == 0)
        rc = vn_buf_puts(b, "<form method=\"post\" action=\"/login\" id=\"login\">"
                            "<p><label for=\"key\">API key</label><br>"
                            "<input type=\"password\" id=\"key\" name=\"key\" "
                            "autocomplete=\"current-password\" required autofocus></p>"
                            "<p><button type=\"submit\">Sign in</button></p></form>"
                            "</section></main></body></html>\n");
    return rc;
}

/* ---- the dashboard's sections -------------------------------------------------------------- */

static int tile(struct vn_buf *b, const char *id, unsigned long long n, const char *label)
{
    return vn_buf_printf(
        b, "<div class=\"tile\"><b data-metric=\"%s\">%llu</b><span>%s</span></div>", id, n, label);
}

static int render_tiles(struct vn_buf *b, const struct vn__dashboard_view *v)
{
    int rc = vn_buf_puts(b, "<section id=\"traffic\"><h2>Notifications since start</h2>"
                            "<div class=\"tiles\">");

    if (rc == 0)
        rc = tile(b, "applied", v->totals.applied, "applied");
    if (rc == 0)
        rc = tile(b, "duplicates", v->totals.duplicates, "duplicates");
    if (rc == 0)
        rc = tile(b, "stored", v->totals.stored, "stored (not applied)");
    if (rc == 0)
        rc = tile(b, "quarantined", v->totals.quarantined, "not notifications (400)");
    if (rc == 0)
        rc = tile(b, "rejected", v->totals.rejected, "rejected (401/403)");
    if (rc == 0)
        rc = tile(b, "unavailable", v->totals.unavailable, "unavailable (503)");
    if (rc == 0)
        rc = tile(b, "queued", v->have_ingest ? (unsigned long long)v->ingest.queued : 0,
                  "waiting for the writer");
    if (rc == 0)
        rc = vn_buf_puts(b, "</div></section>");
    return rc;
}

struct ctx {
    struct vn_buf *b;
    struct vn_store *st;
    const struct vn__dashboard_view *v;
    long long n, shown;
    int rc;
};

static int on_location(void *ud, const struct vn_row *r)
{
    struct ctx *c = ud;
    struct vn_buf *b = c->b;
    const char *status = vn_row_text(r, "tokenStatus"), *uid = vn_row_text(r, "uId");
    const char *cls = !status                       ? ""
                      : !strcmp(status, "ok")       ? "ok"
                      : !strcmp(status, "expiring") ? "warn"
                                                    : "bad";
    int64_t last = 0;
    char when[32] = "";
    int rc;

    if (uid && vn_store_last_notification(c->st, uid, &last) == 0 && last)
        age(c->v->now_ms - last, when, sizeof(when));
    rc = vn_buf_puts(b, "<tr data-uid=\"");
    if (rc == 0)
        rc = esc(b, uid);
    if (rc == 0)
        rc = vn_buf_puts(b, "\">");
    if (rc == 0)
        rc = td(b, uid);
    if (rc == 0)
        rc = td(b, vn_row_text(r, "name"));
    if (rc == 0)
        rc = vn_buf_printf(b, "<td><span class=\"badge %s\" data-field=\"tokenStatus\">", cls);
    if (rc == 0)
        rc = esc(b, status ? status : "no sToken");
    if (rc == 0)
        rc = vn_buf_puts(b, "</span></td>");
    if (rc == 0)
        rc = td(b, vn_row_text(r, "tokenExpirationDate"));
    if (rc == 0)
        rc = vn_buf_printf(
            b, "<td><span class=\"badge %s\" data-field=\"subscribed\">%s</span></td>",
            is_null(r, "subscribedAt") ? "" : "ok", is_null(r, "subscribedAt") ? "no" : "yes");
    if (rc == 0)
        rc = vn_buf_puts(b, "<td data-field=\"lastNotification\">");
    if (rc == 0)
        rc = when[0] ? esc(b, when) : vn_buf_puts(b, "never");
    if (rc == 0)
        rc = vn_buf_puts(b, "</td>");
    if (rc == 0)
        rc = td(b, vn_row_text(r, "lastSyncError"));
    if (rc == 0)
        rc = vn_buf_puts(b, "</tr>");
    c->rc = rc;
    return rc ? 1 : 0;
}

static int render_locations(struct ctx *c)
{
    struct vn_filter f = {.limit = 1000};
    int rc = vn_buf_puts(c->b, "<section id=\"locations\"><h2>Locations</h2><div class=\"scroll\">"
                               "<table><thead><tr><th>uId</th><th>name</th><th>sToken</th>"
                               "<th>expires</th><th>subscribed</th><th>last notification</th>"
                               "<th>last sync error</th></tr></thead><tbody>");

    if (rc == 0)
        rc = vn_store_query(c->st, VN_Q_LOCATIONS, &f, on_location, c);
    if (rc > 0)
        rc = c->rc;
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</tbody></table></div></section>");
    return rc;
}

static int on_asset(void *ud, const struct vn_row *r)
{
    struct ctx *c = ud;
    struct vn_buf *b = c->b;
    long long total = vn_row_int(r, "totalCount"), assigned = vn_row_int(r, "assignedCount");
    long long avail = vn_row_int(r, "availableCount");
    int pct = total > 0 ? (int)(assigned * 100 / total) : 0;
    int rc;

    if (c->n++ >= c->v->max_assets) {
        c->rc = 0;
        return 1;
    }
    if (pct < 0)
        pct = 0;
    if (pct > 100)
        pct = 100;
    rc = vn_buf_puts(b, "<tr data-adam-id=\"");
    if (rc == 0)
        rc = esc(b, vn_row_text(r, "adamId"));
    if (rc == 0)
        rc = vn_buf_puts(b, "\" data-pricing-param=\"");
    if (rc == 0)
        rc = esc(b, vn_row_text(r, "pricingParam"));
    if (rc == 0)
        rc = vn_buf_puts(b, "\">");
    /* The columns a phone shows first: product, use, counts; then the rest. */
    if (rc == 0)
        rc = td(b, vn_row_text(r, "adamId"));
    if (rc == 0)
        rc = vn_buf_printf(b,
                           "<td><div class=\"bar\" title=\"%d%% in use\"><i%s style=\"width:%d%%\">"
                           "</i></div></td>"
                           "<td class=\"n\" data-field=\"assigned\">%lld</td>"
                           "<td class=\"n\" data-field=\"total\">%lld</td>"
                           "<td class=\"n\" data-field=\"available\">%lld</td>",
                           pct, pct >= 95 ? " class=\"full\"" : "", pct, assigned, total, avail);
    if (rc == 0)
        rc = td(b, vn_row_text(r, "pricingParam"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "uId"));
    if (rc == 0)
        rc = vn_buf_printf(
            b, "<td>%s</td></tr>",
            vn_row_int(r, "needsSync") ? "<span class=\"badge warn\">needs sync</span>" : "");
    c->shown++;
    c->rc = rc;
    return rc ? 1 : 0;
}

static int render_licenses(struct ctx *c)
{
    struct vn_filter f = {.limit = c->v->max_assets + 1};
    int rc = vn_buf_puts(c->b, "<section id=\"licenses\"><h2>Licenses per product</h2>"
                               "<div class=\"scroll\"><table><thead><tr><th>adamId</th>"
                               "<th>in use</th><th>assigned</th><th>total</th><th>available</th>"
                               "<th>pricing</th><th>location</th><th></th></tr></thead><tbody>");

    c->n = c->shown = 0;
    c->rc = 0;
    if (rc == 0)
        rc = vn_store_query(c->st, VN_Q_ASSETS, &f, on_asset, c);
    if (rc > 0)
        rc = c->rc;
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</tbody></table></div>");
    if (rc == 0 && c->n > c->v->max_assets)
        rc = vn_buf_printf(c->b, "<p class=\"muted\">The first %lld products are shown.</p>",
                           c->v->max_assets);
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</section>");
    return rc;
}

/* An event needs attention while tracked and not complete, when stalled, missing notifications,
 * FAILED, or when its notifications reported failed items. */
static const char *event_state(const struct vn_row *r)
{
    const char *status = vn_row_text(r, "status");

    if (vn_row_int(r, "stalled") && is_null(r, "completedAt"))
        return "stalled";
    if (status && !strcmp(status, "FAILED"))
        return "failed";
    if (vn_row_int(r, "notificationsMissing"))
        return "missing";
    if (vn_row_int(r, "tracked") && is_null(r, "completedAt"))
        return "pending";
    if (vn_row_int(r, "failed") > 0)
        return "failed";
    return NULL;
}

static int on_event(void *ud, const struct vn_row *r)
{
    struct ctx *c = ud;
    struct vn_buf *b = c->b;
    const char *state = event_state(r), *errors = vn_row_text(r, "errors");
    json_t *ej;
    size_t i;
    json_t *e;
    int rc;

    if (!state)
        return 0;
    c->n++;
    if (c->shown >= EVENTS_SHOWN)
        return 0;
    rc = vn_buf_printf(b, "<tr data-state=\"%s\" data-event-id=\"", state);
    if (rc == 0)
        rc = esc(b, vn_row_text(r, "eventId"));
    if (rc == 0)
        rc = vn_buf_puts(b, "\">");
    if (rc == 0)
        rc = td(b, vn_row_text(r, "eventId"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "uId"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "notificationType"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "type"));
    if (rc == 0)
        rc = vn_buf_printf(b, "<td><span class=\"badge %s\">%s</span></td>",
                           !strcmp(state, "pending") ? "warn" : "bad", state);
    if (rc == 0)
        rc = vn_buf_printf(b, "<td class=\"n\">%lld</td><td class=\"n\">%lld</td><td>",
                           vn_row_int(r, "succeeded"), vn_row_int(r, "failed"));
    ej = errors ? json_loads(errors, 0, NULL) : NULL;
    json_array_foreach(ej, i, e)
    {
        if (rc)
            break;
        rc = vn_buf_printf(
            b, "<div>%lld: ", (long long)json_integer_value(json_object_get(e, "errorNumber")));
        if (rc == 0)
            rc = esc(b, json_string_value(json_object_get(e, "errorMessage")));
        if (rc == 0)
            rc = vn_buf_printf(b, " &times;%lld</div>",
                               (long long)json_integer_value(json_object_get(e, "count")));
    }
    json_decref(ej);
    if (rc == 0)
        rc = vn_buf_puts(b, "</td></tr>");
    c->shown++;
    c->rc = rc;
    return rc ? 1 : 0;
}

static int render_events(struct ctx *c)
{
    struct vn_filter f = {.limit = EVENTS_SCANNED};
    int rc = vn_buf_puts(c->b, "<section id=\"events\"><h2>Events needing attention</h2>"
                               "<div class=\"scroll\"><table><thead><tr><th>eventId</th>"
                               "<th>location</th><th>notification</th><th>type</th><th>state</th>"
                               "<th>succeeded</th><th>failed</th><th>errors</th></tr></thead>"
                               "<tbody>");

    c->n = c->shown = 0;
    c->rc = 0;
    if (rc == 0)
        rc = vn_store_query(c->st, VN_Q_EVENTS, &f, on_event, c);
    if (rc > 0)
        rc = c->rc;
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</tbody></table></div>");
    if (rc == 0 && c->n == 0)
        rc = vn_buf_puts(c->b, "<p class=\"muted\" id=\"events-none\">None: every event is "
                               "complete and without failures.</p>");
    else if (rc == 0 && c->n > c->shown)
        rc = vn_buf_printf(c->b, "<p class=\"muted\">%lld more: <code>vppnotify events</code>.</p>",
                           c->n - c->shown);
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</section>");
    return rc;
}

static int on_recent(void *ud, const struct vn_row *r)
{
    struct ctx *c = ud;
    struct vn_buf *b = c->b;
    const char *state = vn_row_text(r, "state");
    int rc = vn_buf_puts(b, "<tr data-notification-id=\"");

    if (rc == 0)
        rc = esc(b, vn_row_text(r, "notificationId"));
    if (rc == 0)
        rc = vn_buf_puts(b, "\">");
    if (rc == 0)
        rc = td(b, vn_row_text(r, "receivedAt"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "notificationType"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "uId"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "notificationId"));
    if (rc == 0)
        rc = vn_buf_printf(b, "<td><span class=\"badge %s\">",
                           state && !strcmp(state, "applied") ? "ok" : "warn");
    if (rc == 0)
        rc = esc(b, state);
    if (rc == 0)
        rc = vn_buf_puts(b, "</span></td>");
    if (rc == 0)
        rc = td(b, vn_row_text(r, "error"));
    if (rc == 0)
        rc = vn_buf_puts(b, "</tr>");
    c->rc = rc;
    return rc ? 1 : 0;
}

static int render_recent(struct ctx *c)
{
    int rc = vn_buf_puts(c->b, "<section id=\"recent\"><h2>Recent notifications</h2>"
                               "<div class=\"scroll\"><table><thead><tr><th>received</th>"
                               "<th>type</th><th>location</th><th>notificationId</th>"
                               "<th>state</th><th>why stored</th></tr></thead><tbody>");

    c->rc = 0;
    if (rc == 0)
        rc = vn_store_recent_notifications(c->st, RECENT, on_recent, c);
    if (rc > 0)
        rc = c->rc;
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</tbody></table></div></section>");
    return rc;
}

static int on_rejection(void *ud, const struct vn_row *r)
{
    struct ctx *c = ud;
    struct vn_buf *b = c->b;
    int rc = vn_buf_puts(b, "<tr data-remote=\"");

    if (rc == 0)
        rc = esc(b, vn_row_text(r, "remote"));
    if (rc == 0)
        rc = vn_buf_printf(b, "\" data-status=\"%lld\">", vn_row_int(r, "status"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "lastAt"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "remote"));
    if (rc == 0)
        rc = vn_buf_printf(b, "<td>%lld</td>", vn_row_int(r, "status"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "reason"));
    if (rc == 0)
        rc = td(b, vn_row_text(r, "claimedUId"));
    if (rc == 0)
        rc = vn_buf_printf(b, "<td data-field=\"count\">%lld</td></tr>", vn_row_int(r, "count"));
    c->n++;
    c->rc = rc;
    return rc ? 1 : 0;
}

/*
 * Rejected requests: since start from the metrics (the notification listener's answers), and
 * the newest recorded rows (`vppnotify rejections`: aggregated per address, status, reason and
 * claimed uId, written about once a second).
 */
static int render_rejected(struct ctx *c, const struct vn__dashboard_view *v)
{
    int rc = vn_buf_puts(c->b, "<section id=\"rejected\"><h2>Rejected requests</h2>"
                               "<div class=\"tiles\">");

    if (rc == 0)
        rc = tile(c->b, "rejected-auth", v->totals.rejected,
                  "bad or unknown token (401/403) since start");
    if (rc == 0)
        rc = tile(c->b, "rejected-body", v->totals.quarantined,
                  "not a notification (400) since start");
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</div><div class=\"scroll\"><table id=\"rejections\"><thead><tr>"
                               "<th>last</th><th>address</th><th>status</th><th>reason</th>"
                               "<th>claimed uId</th><th>count</th></tr></thead><tbody>");
    c->n = 0;
    c->rc = 0;
    if (rc == 0)
        rc = vn_store_rejections(c->st, 0, RECENT, on_rejection, c);
    if (rc > 0)
        rc = c->rc;
    else if (rc == VN_ENOTSUP)
        rc = 0; /* a backend that keeps none: the tiles say it all */
    if (rc == 0)
        rc = vn_buf_puts(c->b, "</tbody></table></div>");
    if (rc == 0 && c->n == 0)
        rc = vn_buf_puts(c->b, "<p class=\"muted\" id=\"rejections-none\">None recorded.</p>");
    if (rc == 0)
        rc =
            vn_buf_puts(c->b, "<p class=\"muted\">The newest 20 rows; all of them: <code>vppnotify "
                              "rejections</code>.</p></section>");
    return rc;
}

int vn__dashboard_render(struct vn_buf *b, struct vn_store *st, const struct vn__dashboard_view *v)
{
    struct ctx c = {.b = b, .st = st, .v = v};
    char now[VN_TIME_ISO_LEN];
    int rc = page_start(b, "vppnotify");

    vn_time_iso(v->now_ms, now);
    if (rc == 0)
        rc = vn_buf_printf(b,
                           "<header><h1>vppnotify <span class=\"muted\">%s</span></h1>"
                           "<span>signed in as <b id=\"user\">",
                           VN_VERSION);
    if (rc == 0)
        rc = esc(b, v->user);
    if (rc == 0)
        rc = vn_buf_printf(b,
                           "</b> &middot; %s</span>"
                           "<form method=\"post\" action=\"/logout\"><button type=\"submit\" "
                           "id=\"logout\">Sign out</button></form></header><main>",
                           now);
    if (rc == 0)
        rc = render_tiles(b, v);
    if (rc == 0)
        rc = render_locations(&c);
    if (rc == 0)
        rc = render_licenses(&c);
    if (rc == 0)
        rc = render_events(&c);
    if (rc == 0)
        rc = render_recent(&c);
    if (rc == 0)
        rc = render_rejected(&c, v);
    if (rc == 0)
        rc = vn_buf_puts(b, "</main></body></html>\n");
    return rc;
}
