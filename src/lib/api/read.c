/*
 * read.c - the read routes of contract section 8: the mirror and the ledger as pages of the
 * objects the CLI prints with --json (the same store queries, the same rendering: rows.h).
 *
 * Pages: ?limit=N (1..1000, default 100) &cursor=C. A cursor is opaque to clients: the
 * route's name and the sort key of the page's last object (the store's keyset, struct
 * vn_row's cursor), base64url-encoded. The next page starts strictly after that key, so a
 * walk is stable while the mirror changes: an object present during the whole walk is seen
 * exactly once.
 */
#include "api_impl.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/rows.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX     1000
#define CURSOR_MAX    2048 /* characters of an encoded cursor */

struct collection {
    const char *path;
    const char *name; /* inside cursors */
    enum vn_query q;
    size_t key_width;      /* elements of the sort key */
    const char *params[6]; /* filters, NULL-terminated */
};

static const struct collection collections[] = {
    {"/v1/locations", "locations", VN_Q_LOCATIONS, 1, {"uId", NULL}},
    {"/v1/assets", "assets", VN_Q_ASSETS, 4, {"uId", "adamId", NULL}},
    {"/v1/assignments",
     "assignments",
     VN_Q_ASSIGNMENTS,
     6,
     {"uId", "adamId", "clientUserId", "serialNumber", NULL}},
    {"/v1/users", "users", VN_Q_USERS, 2, {"uId", "clientUserId", NULL}},
    {"/v1/subscriptions", "subscriptions", VN_Q_SUBSCRIPTIONS, 3, {"uId", "adamId", NULL}},
    {"/v1/subscription-assignments",
     "subscription-assignments",
     VN_Q_SUBSCRIPTION_ASSIGNMENTS,
     4,
     {"uId", "adamId", "clientUserId", NULL}},
    {"/v1/events", "events", VN_Q_EVENTS, 2, {"uId", "eventId", "notificationType", NULL}},
    {"/v1/notifications",
     "notifications",
     VN_Q_NOTIFICATIONS,
     2,
     {"uId", "state", "notificationType", "eventId", NULL}},
};

#define NCOLLECTIONS (sizeof(collections) / sizeof(collections[0]))

/* ---- cursors --------------------------------------------------------------------------- */

/* "<name>:<key as a JSON array>" in base64url: an owned string, or NULL (out of memory). */
static char *cursor_encode(const struct collection *c, const char *key)
{
    size_t n = strlen(c->name) + 1 + strlen(key), cap;
    char *plain = malloc(n + 1), *out;

    if (!plain)
        return NULL;
    snprintf(plain, n + 1, "%s:%s", c->name, key);
    cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, (const unsigned char *)plain, n,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(plain);
    return out;
}

/* The key inside a cursor given by a client: an owned JSON array text, or NULL when the
 * cursor is not one this route handed out. */
static char *cursor_decode(const struct collection *c, const char *cursor)
{
    size_t len = strlen(cursor), n = 0, pre = strlen(c->name) + 1;
    unsigned char *bin;
    json_t *key = NULL;
    char *out = NULL;

    if (len == 0 || len > CURSOR_MAX)
        return NULL;
    bin = malloc(len + 1);
    if (!bin)
        return NULL;
    if (sodium_base642bin(bin, len, cursor, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n <= pre || memcmp(bin, c->name, pre - 1) != 0 || bin[pre - 1] != ':')
        goto out;
    key = json_loadb((const char *)bin + pre, n - pre, 0, NULL);
    if (!json_is_array(key) || json_array_size(key) != c->key_width)
        goto out;
    for (size_t i = 0; i < c->key_width; i++) {
        json_t *v = json_array_get(key, i);
        if (!json_is_string(v) && !json_is_integer(v))
            goto out;
    }
    out = json_dumps(key, JSON_COMPACT);
out:
    json_decref(key);
    free(bin);
    return out;
}

/* ---- parameters ------------------------------------------------------------------------ */

/* Answer 400 for an unknown query parameter; 1 if it did. */
static int refuse_unknown(struct vn_api_req *req, const char *const *params)
{
    const char *allowed[10];
    size_t n = 0;
    const char *bad;

    for (; params[n] && n < 7; n++)
        allowed[n] = params[n];
    allowed[n++] = "limit";
    allowed[n++] = "cursor";
    allowed[n] = NULL;
    bad = vn_api_req_query_unknown(req, allowed);
    if (!bad)
        return 0;
    {
        char list[256] = "";
        for (size_t i = 0; allowed[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     allowed[i]);
        vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                             "unknown query parameter '%s' (this route takes %s)", bad, list);
    }
    return 1;
}

/* ?limit: 1..1000, default 100. 0, or -1 after answering 400. */
static int parse_limit(struct vn_api_req *req, long long *limit)
{
    const char *v = vn_api_req_query(req, "limit");

    *limit = LIMIT_DEFAULT;
    if (!v)
        return 0;
    if (vn_parse_ll(v, 1, LIMIT_MAX, limit) != 0) {
        vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                             "limit '%s' must be an integer from 1 to %d", v, LIMIT_MAX);
        return -1;
    }
    return 0;
}

static int unavailable(struct vn_api_req *req, struct vn_store *st, int rc)
{
    vn_log_warn("api: %s: the store failed: %s", vn_api_req_path(req),
                st && vn_store_last_error(st)[0] ? vn_store_last_error(st) : vn_strerror(rc));
    vn_api_req_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "the store cannot be read now; retry later");
}

/* ---- pages ----------------------------------------------------------------------------- */

struct page {
    json_t *items;
    long long limit, n;
    char *last_key; /* the sort key of the last item kept (owned) */
    int rc;
};

static int page_row(void *ud, const struct vn_row *row)
{
    struct page *p = ud;
    json_t *obj;

    p->n++;
    if (p->n > p->limit)
        return 0; /* the one more row that says there is a next page */
    obj = vn_row_json(row);
    if (!obj || json_array_append_new(p->items, obj) != 0) {
        p->rc = -ENOMEM;
        return 1;
    }
    free(p->last_key);
    p->last_key = row->cursor ? strdup(row->cursor) : NULL;
    if (row->cursor && !p->last_key) {
        p->rc = -ENOMEM;
        return 1;
    }
    return 0;
}

static int get_collection(void *ud, struct vn_api_req *req)
{
    const struct collection *c = ud;
    struct vn_api *api = vn_api_req_api(req);
    const char *cursor = vn_api_req_query(req, "cursor"), *state;
    struct page p = {0};
    struct vn_filter f = {0};
    struct vn_store *st;
    char *after = NULL, *next = NULL;
    json_t *body;
    int rc;

    if (refuse_unknown(req, c->params) || parse_limit(req, &p.limit) != 0)
        return 0;
    if (cursor) {
        after = cursor_decode(c, cursor);
        if (!after)
            return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                        "cursor '%.64s%s' is not one this route handed out "
                                        "(pass the nextCursor of a page of %s as it is)",
                                        cursor, strlen(cursor) > 64 ? "..." : "", c->path);
    }
    state = vn_api_req_query(req, "state");
    if (state && strcmp(state, "applied") != 0 && strcmp(state, "stored") != 0) {
        free(after);
        return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                    "state '%s' must be applied or stored", state);
    }
    f.uid = vn_api_req_query(req, "uId");
    f.adam_id = vn_api_req_query(req, "adamId");
    f.client_user_id = vn_api_req_query(req, "clientUserId");
    f.serial_number = vn_api_req_query(req, "serialNumber");
    f.event_id = vn_api_req_query(req, "eventId");
    f.state = state;
    f.type_name = vn_api_req_query(req, "notificationType");
    f.after = after;
    f.limit = p.limit + 1;
    p.items = json_array();
    st = vn_api_store_acquire(api);
    if (!p.items || !st) {
        json_decref(p.items);
        free(after);
        vn_api_store_release(api, st);
        return p.items ? unavailable(req, st, VN_ESTORE) : -ENOMEM;
    }
    rc = vn_store_query(st, c->q, &f, page_row, &p);
    if (rc < 0 || p.rc) {
        rc = p.rc ? p.rc : rc;
        if (rc != -ENOMEM)
            rc = unavailable(req, st, rc);
        vn_api_store_release(api, st);
        json_decref(p.items);
        free(p.last_key);
        free(after);
        return rc;
    }
    vn_api_store_release(api, st);
    free(after);
    if (p.n > p.limit) {
        next = p.last_key ? cursor_encode(c, p.last_key) : NULL;
        if (!next) {
            json_decref(p.items);
            free(p.last_key);
            return -ENOMEM;
        }
    }
    free(p.last_key);
    body = json_pack("{so so}", "items", p.items, "nextCursor",
                     next ? json_string(next) : json_null());
    free(next);
    return vn_api_respond_json(req, MHD_HTTP_OK, body);
}

/* GET /v1/events/{eventId}: the event, or 404. */
static int get_event(void *ud, struct vn_api_req *req)
{
    struct vn_api *api = vn_api_req_api(req);
    const char *id = vn_api_req_arg(req, "eventId");
    struct vn_filter f = {.event_id = id, .limit = 1};
    struct page p = {.limit = 1};
    struct vn_store *st;
    json_t *ev;
    int rc;

    if (vn_api_req_query_unknown(req, (const char *const[]){NULL}))
        return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                    "unknown query parameter '%s' (this route takes none)",
                                    vn_api_req_query_unknown(req, (const char *const[]){NULL}));
    p.items = json_array();
    st = vn_api_store_acquire(api);
    if (!p.items || !st) {
        json_decref(p.items);
        vn_api_store_release(api, st);
        return p.items ? unavailable(req, st, VN_ESTORE) : -ENOMEM;
    }
    rc = vn_store_query(st, VN_Q_EVENTS, &f, page_row, &p);
    if (rc < 0 || p.rc) {
        rc = p.rc ? p.rc : unavailable(req, st, rc);
        vn_api_store_release(api, st);
        json_decref(p.items);
        free(p.last_key);
        return rc;
    }
    vn_api_store_release(api, st);
    free(p.last_key);
    ev = json_array_get(p.items, 0);
    if (!ev) {
        json_decref(p.items);
        return vn_api_respond_error(req, MHD_HTTP_NOT_FOUND, "no event '%s'", id);
    }
    json_incref(ev);
    json_decref(p.items);
    return vn_api_respond_json(req, MHD_HTTP_OK, ev);
}

int vn__api_mount_read(struct vn_api *api)
{
    int rc = 0;

    for (size_t i = 0; i < NCOLLECTIONS && rc == 0; i++)
        rc = vn_api_mount(api, "GET", collections[i].path, VN_API_READ, get_collection,
                          (void *)&collections[i]);
    if (rc == 0)
        rc = vn_api_mount(api, "GET", "/v1/events/{eventId}", VN_API_READ, get_event, NULL);
    return rc;
}
