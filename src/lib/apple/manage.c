/* manage.c - see include/vppnotify/manage.h. */
#include "vppnotify/manage.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/session.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *kind, *type, *endpoint, *path;
} ops[] = {
    [VN_MO_ASSETS_ASSOCIATE] = {"assets", "ASSOCIATE", "associateAssets", "assets/associate"},
    [VN_MO_ASSETS_DISASSOCIATE] = {"assets", "DISASSOCIATE", "disassociateAssets",
                                   "assets/disassociate"},
    [VN_MO_ASSETS_REVOKE] = {"assets", "REVOKE", "revokeAssets", "assets/revoke"},
    [VN_MO_USERS_CREATE] = {"users", "CREATE", "createUsers", "users/create"},
    [VN_MO_USERS_UPDATE] = {"users", "UPDATE", "updateUsers", "users/update"},
    [VN_MO_USERS_RETIRE] = {"users", "RETIRE", "retireUsers", "users/retire"},
    [VN_MO_SUBS_ASSOCIATE] = {"subscriptions", "ASSOCIATE", "associateSubscriptions",
                              "subscriptions/associate"},
    [VN_MO_SUBS_DISASSOCIATE] = {"subscriptions", "DISASSOCIATE", "disassociateSubscriptions",
                                 "subscriptions/disassociate"},
};

const char *vn_manage_kind(enum vn_manage_op op)
{
    return ops[op].kind;
}

const char *vn_manage_type(enum vn_manage_op op)
{
    return ops[op].type;
}

int vn_manage_asset_parse(const char *text, struct vn_manage_asset *out, struct vn_error *err)
{
    const char *colon = strchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);

    memset(out, 0, sizeof(*out));
    if (!vn_is_digits(text, n) || n > VN_ADAM_ID_MAX)
        return vn_error_set(err, VN_EPARSE,
                            "asset '%s': expected an adamId (digits), optionally followed by "
                            ":STDQ or :PLUS",
                            text);
    memcpy(out->adam_id, text, n);
    out->adam_id[n] = '\0';
    if (!colon)
        vn_strlcpy(out->pricing_param, "STDQ", sizeof(out->pricing_param));
    else if (!strcmp(colon + 1, "STDQ") || !strcmp(colon + 1, "PLUS"))
        vn_strlcpy(out->pricing_param, colon + 1, sizeof(out->pricing_param));
    else
        return vn_error_set(err, VN_EPARSE, "asset '%s': the pricingParam must be STDQ or PLUS",
                            text);
    return 0;
}

/* ---- duplicates ----------------------------------------------------------------------- */

struct dups {
    json_t *seen;
    char list[200];
    int count;
};

static void dup_check(struct dups *d, const char *key)
{
    if (!json_object_get(d->seen, key)) {
        json_object_set_new(d->seen, key, json_true());
        return;
    }
    if (d->count < 5) {
        size_t len = strlen(d->list);
        snprintf(d->list + len, sizeof(d->list) - len, "%s'%s'", d->count ? ", " : "", key);
    }
    d->count++;
}

/* 0, or VN_EDUP with the duplicates named. */
static int dup_report(struct dups *d, const char *what, struct vn_error *err)
{
    int rc = 0;

    if (d->count)
        rc = vn_error_set(err, VN_EDUP,
                          "%d duplicate %s (%s%s): Apple refuses a request that repeats one; "
                          "remove them",
                          d->count, what, d->list, d->count > 5 ? ", ..." : "");
    json_decref(d->seen);
    d->seen = json_object();
    d->list[0] = '\0';
    d->count = 0;
    return rc;
}

static int check_duplicates(const struct vn_manage *m, struct vn_error *err)
{
    struct dups d = {.seen = json_object()};
    char key[64];
    size_t i;
    int rc;

    for (i = 0; i < m->nassets; i++) {
        snprintf(key, sizeof(key), "%s:%s", m->assets[i].adam_id, m->assets[i].pricing_param);
        dup_check(&d, key);
    }
    rc = dup_report(&d, "assets", err);
    for (i = 0; !rc && i < m->nusers; i++)
        dup_check(&d, m->client_user_ids[i]);
    if (!rc)
        rc = dup_report(&d, "clientUserIds", err);
    for (i = 0; !rc && i < m->nserials; i++)
        dup_check(&d, m->serials[i]);
    if (!rc)
        rc = dup_report(&d, "serialNumbers", err);
    for (i = 0; !rc && i < m->npeople; i++)
        dup_check(&d, m->people[i].client_user_id);
    if (!rc)
        rc = dup_report(&d, "users", err);
    for (i = 0; !rc && i < m->nadams; i++)
        dup_check(&d, m->adam_ids[i]);
    if (!rc)
        rc = dup_report(&d, "adamIds", err);
    json_decref(d.seen);
    return rc;
}

/* ---- planning ------------------------------------------------------------------------- */

struct plan {
    struct vn_manage_request *v;
    size_t n, cap;
};

static int plan_add(struct plan *p, json_t *body, long long expected)
{
    if (!body)
        return -ENOMEM;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct vn_manage_request *v = realloc(p->v, cap * sizeof(*v));
        if (!v) {
            json_decref(body);
            return -ENOMEM;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n].body = body;
    p->v[p->n].expected = expected;
    p->n++;
    return 0;
}

/* An array of the strings [off, off + n) of v. */
static json_t *strings(const char *const *v, size_t off, size_t n)
{
    json_t *a = json_array();

    for (size_t i = off; a && i < off + n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static size_t chunks(size_t n, long long max)
{
    size_t m = max > 0 ? (size_t)max : 1;

    return (n + m - 1) / m;
}

/* Item range of chunk i of n items split by max. */
static void chunk_range(size_t i, size_t n, long long max, size_t *off, size_t *len)
{
    size_t m = max > 0 ? (size_t)max : 1;

    *off = i * m;
    *len = *off >= n ? 0 : (n - *off < m ? n - *off : m);
}

/* Targets of assets requests: user chunk i and serial chunk i side by side. */
static int plan_targets(struct plan *p, json_t *base, const struct vn_manage *m, long long maxu,
                        long long maxs, long long per_target)
{
    size_t cu = chunks(m->nusers, maxu), cs = chunks(m->nserials, maxs);
    size_t k = cu > cs ? cu : cs;
    int rc = 0;

    for (size_t i = 0; !rc && i < k; i++) {
        json_t *b = json_deep_copy(base);
        size_t uo, un, so, sn;
        chunk_range(i, m->nusers, maxu, &uo, &un);
        chunk_range(i, m->nserials, maxs, &so, &sn);
        if (un)
            json_object_set_new(b, "clientUserIds", strings(m->client_user_ids, uo, un));
        if (sn)
            json_object_set_new(b, "serialNumbers", strings(m->serials, so, sn));
        rc = plan_add(p, b, per_target * (long long)(un + sn));
    }
    return rc;
}

static int plan_assets(struct plan *p, const struct vn_manage *m, const struct vn_apple_limits *l)
{
    int rc = 0;

    if (m->op == VN_MO_ASSETS_REVOKE) {
        json_t *base = json_object();
        rc = plan_targets(p, base, m, l->max_revoke_client_user_ids, l->max_revoke_serial_numbers,
                          0);
        json_decref(base);
        return rc;
    }
    for (size_t i = 0; !rc && i < chunks(m->nassets, l->max_assets); i++) {
        json_t *assets = json_array(), *base;
        size_t off, n;
        chunk_range(i, m->nassets, l->max_assets, &off, &n);
        for (size_t j = off; j < off + n; j++)
            json_array_append_new(assets, json_pack("{s:s, s:s}", "adamId", m->assets[j].adam_id,
                                                    "pricingParam", m->assets[j].pricing_param));
        base = json_pack("{s:o}", "assets", assets);
        rc = plan_targets(p, base, m, l->max_client_user_ids, l->max_serial_numbers, (long long)n);
        json_decref(base);
    }
    return rc;
}

static int plan_users(struct plan *p, const struct vn_manage *m, const struct vn_apple_limits *l)
{
    int rc = 0;

    for (size_t i = 0; !rc && i < chunks(m->npeople, l->max_users); i++) {
        json_t *users = json_array();
        size_t off, n;
        chunk_range(i, m->npeople, l->max_users, &off, &n);
        for (size_t j = off; j < off + n; j++) {
            const struct vn_manage_user *u = &m->people[j];
            json_t *o = json_pack("{s:s}", "clientUserId", u->client_user_id);
            if (m->op != VN_MO_USERS_RETIRE && u->email)
                json_object_set_new(o, "email", json_string(u->email));
            if (m->op != VN_MO_USERS_RETIRE && u->managed_apple_id)
                json_object_set_new(o, "managedAppleId", json_string(u->managed_apple_id));
            json_array_append_new(users, o);
        }
        rc = plan_add(p, json_pack("{s:o}", "users", users), (long long)n);
    }
    return rc;
}

static int plan_subscriptions(struct plan *p, const struct vn_manage *m,
                              const struct vn_apple_limits *l, struct vn_error *err)
{
    size_t ca = chunks(m->nadams, l->max_subscriptions);
    size_t cu = chunks(m->nusers, l->max_subscription_client_user_ids);
    int rc = 0;

    for (size_t i = 0; i < m->nadams; i++) {
        long long v;
        if (vn_parse_ll(m->adam_ids[i], 1, INT64_MAX, &v) != 0)
            return vn_error_set(err, VN_EPARSE, "adamId '%s': expected a positive integer",
                                m->adam_ids[i]);
    }
    for (size_t i = 0; !rc && i < ca; i++) {
        size_t ao, an;
        chunk_range(i, m->nadams, l->max_subscriptions, &ao, &an);
        for (size_t j = 0; !rc && j < cu; j++) {
            json_t *adams = json_array(), *b;
            size_t uo, un;
            long long v = 0;
            chunk_range(j, m->nusers, l->max_subscription_client_user_ids, &uo, &un);
            for (size_t k = ao; k < ao + an; k++) {
                vn_parse_ll(m->adam_ids[k], 1, INT64_MAX, &v);
                json_array_append_new(adams, json_integer(v));
            }
            b = json_pack("{s:o, s:o}", "adamIds", adams, "clientUserIds",
                          strings(m->client_user_ids, uo, un));
            if (b && m->op == VN_MO_SUBS_ASSOCIATE)
                json_object_set_new(b, "renewing", json_boolean(m->renewing));
            else if (b)
                json_object_set_new(b, "deferred", json_boolean(m->deferred));
            rc = plan_add(p, b, (long long)(an * un));
        }
    }
    return rc;
}

int vn_manage_plan(const struct vn_manage *m, const struct vn_apple_limits *limits,
                   struct vn_manage_request **reqs, size_t *n, struct vn_error *err)
{
    struct plan p = {0};
    int rc;

    *reqs = NULL;
    *n = 0;
    switch (m->op) {
    case VN_MO_ASSETS_ASSOCIATE:
    case VN_MO_ASSETS_DISASSOCIATE:
        if (!m->nassets)
            return vn_error_set(err, VN_EUSAGE, "no asset given (--assets or --assets-file)");
        /* fall through */
    case VN_MO_ASSETS_REVOKE:
        if (!m->nusers && !m->nserials)
            return vn_error_set(err, VN_EUSAGE,
                                "no clientUserId or serial number given (--client-user-ids, "
                                "--serials, or their --*-file)");
        break;
    case VN_MO_USERS_CREATE:
    case VN_MO_USERS_UPDATE:
    case VN_MO_USERS_RETIRE:
        if (!m->npeople)
            return vn_error_set(err, VN_EUSAGE,
                                "no user given (--client-user-ids or --users-file)");
        break;
    case VN_MO_SUBS_ASSOCIATE:
    case VN_MO_SUBS_DISASSOCIATE:
        if (!m->nadams || !m->nusers)
            return vn_error_set(err, VN_EUSAGE,
                                "subscriptions need adamIds (--adam-ids) and clientUserIds "
                                "(--client-user-ids)");
        break;
    }
    rc = check_duplicates(m, err);
    if (rc)
        return rc;
    if (!strcmp(ops[m->op].kind, "assets"))
        rc = plan_assets(&p, m, limits);
    else if (!strcmp(ops[m->op].kind, "users"))
        rc = plan_users(&p, m, limits);
    else
        rc = plan_subscriptions(&p, m, limits, err);
    if (rc) {
        vn_manage_plan_free(p.v, p.n);
        if (rc == -ENOMEM)
            vn_error_set(err, rc, "out of memory");
        return rc;
    }
    *reqs = p.v;
    *n = p.n;
    return 0;
}

void vn_manage_plan_free(struct vn_manage_request *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(reqs[i].body);
    free(reqs);
}

/* A job: start tracking an event (its writes go through the session's writer). */
static int track_run(struct vn_store *st, void *ud)
{
    return vn_store_event_track(st, ud);
}

/* ---- sending -------------------------------------------------------------------------- */

int vn_manage_send(struct vn_session *s, enum vn_manage_op op, const struct vn_manage_request *reqs,
                   size_t n, vn_manage_sent_cb cb, void *ud, size_t *sent,
                   struct vn_apple_failure *why, struct vn_error *err)
{
    int rc = 0;

    *sent = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *out = NULL;
        const char *event_id;
        char *request = NULL;
        struct vn_event_track t = {0};
        struct vn_error werr = {0};

        rc = vn_session_call(s, "POST", ops[op].endpoint, ops[op].path, NULL, reqs[i].body, &out,
                             why);
        if (rc) {
            vn_error_set(err, rc, "%s", why->message);
            break;
        }
        event_id = json_string_value(json_object_get(out, "eventId"));
        if (!event_id || !*event_id) {
            json_decref(out);
            rc = vn_error_set(err, VN_EAPPLE, "POST %s: the answer has no eventId", ops[op].path);
            break;
        }
        request = json_dumps(reqs[i].body, JSON_COMPACT | JSON_SORT_KEYS);
        t.event_id = event_id;
        t.uid = s->uid;
        t.kind = ops[op].kind;
        t.type = ops[op].type;
        t.request = request;
        t.expected = reqs[i].expected;
        t.deferred = op == VN_MO_SUBS_DISASSOCIATE &&
                     json_is_true(json_object_get(reqs[i].body, "deferred"));
        t.requested_ms = vn_now_ms();
        rc = vn_writer_call(s->w, track_run, &t, &werr);
        if (rc && rc != VN_EDUP)
            vn_log_error("event %s was requested but cannot be tracked: %s", event_id, werr.msg);
        vn_log_fields(VN_LOG_DEBUG, "request sent",
                      (struct vn_log_field[]){VN_LF_S("uId", s->uid), VN_LF_S("kind", ops[op].kind),
                                              VN_LF_S("type", ops[op].type),
                                              VN_LF_S("eventId", event_id),
                                              VN_LF_I("items", reqs[i].expected)},
                      5);
        (*sent)++;
        if (cb)
            cb(ud, event_id, &reqs[i]);
        if (rc && rc != VN_EDUP)
            vn_error_set(err, rc, "event '%s' was requested but cannot be tracked: %s", event_id,
                         werr.msg);
        free(request);
        json_decref(out);
        if (rc && rc != VN_EDUP)
            break;
        rc = 0;
    }
    return rc;
}
