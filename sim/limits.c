/*
 * limits.c - see limits.h.
 */
#include "limits.h"

#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <string.h>

static const struct {
    const char *name;
    long long value;
} limit_defaults[LIM_COUNT] = {
    {"maxAssets", 25},
    {"maxClientUserIds", 1000},
    {"maxSerialNumbers", 1000},
    {"maxRevokeClientUserIds", 100},
    {"maxRevokeSerialNumbers", 100},
    {"maxUsers", 100},
    {"maxSubscriptions", 25},
    {"maxSubscriptionClientUserIds", 1000},
    {"maxNotificationLength", 512},
    {"maxMdmNameLength", 100},
    {"maxMdmIdLength", 100},
    {"maxMdmMetadataLength", 255},
    {"maxRequestPerSecond", 15},
};

#define LIMIT_MAX 2147483647LL /* limits are int32 in Apple's Service Config */

static int find(const char *name)
{
    for (int i = 0; i < LIM_COUNT; i++)
        if (!strcmp(limit_defaults[i].name, name))
            return i;
    return -1;
}

void sim_limits_init(struct sim_limits *l)
{
    pthread_mutex_init(&l->mu, NULL);
    l->nbuckets = 0;
    for (int i = 0; i < LIM_COUNT; i++)
        l->value[i] = limit_defaults[i].value;
}

void sim_limits_release(struct sim_limits *l)
{
    pthread_mutex_destroy(&l->mu);
}

long long sim_limit(struct sim_limits *l, enum sim_limit_id id)
{
    long long v;

    pthread_mutex_lock(&l->mu);
    v = l->value[id];
    pthread_mutex_unlock(&l->mu);
    return v;
}

int sim_limit_set(struct sim_limits *l, const char *name, long long value)
{
    int i = find(name);

    if (i < 0)
        return -1;
    pthread_mutex_lock(&l->mu);
    l->value[i] = value;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int sim_limit_parse(struct sim_limits *l, const char *text, struct vn_error *err)
{
    char name[64];
    const char *eq = strchr(text, '=');
    long long v;

    if (!eq || (size_t)(eq - text) >= sizeof(name) || vn_parse_ll(eq + 1, 0, LIMIT_MAX, &v) != 0)
        return vn_error_set(err, VN_EUSAGE,
                            "option '--limit' value '%s': expected NAME=N with N from 0 to %lld",
                            text, LIMIT_MAX);
    memcpy(name, text, (size_t)(eq - text));
    name[eq - text] = '\0';
    if (sim_limit_set(l, name, v) != 0)
        return vn_error_set(err, VN_EUSAGE,
                            "option '--limit': unknown limit '%s' (see GET /mdm/v2/service/config)",
                            name);
    return 0;
}

int sim_limits_update(struct sim_limits *l, const json_t *body, struct vn_error *err)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)body, k, v)
    {
        if (find(k) < 0)
            return vn_error_set(err, VN_EPARSE, "limit '%s': unknown (see GET /_sim/limits)", k);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > LIMIT_MAX)
            return vn_error_set(err, VN_EPARSE, "limit '%s': expected an integer from 0 to %lld", k,
                                LIMIT_MAX);
    }
    json_object_foreach((json_t *)body, k, v) sim_limit_set(l, k, json_integer_value(v));
    return 0;
}

json_t *sim_limits_json(struct sim_limits *l)
{
    json_t *o = json_object();

    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < LIM_COUNT; i++)
        json_object_set_new(o, limit_defaults[i].name, json_integer(l->value[i]));
    pthread_mutex_unlock(&l->mu);
    return o;
}

int sim_limits_admit(struct sim_limits *l, const char *uid, int64_t now_ns)
{
    struct sim_bucket *b = NULL;
    double cap;
    int ok;

    pthread_mutex_lock(&l->mu);
    cap = (double)l->value[LIM_MAX_REQUEST_PER_SECOND];
    for (size_t i = 0; i < l->nbuckets && !b; i++)
        if (!strcmp(l->buckets[i].uid, uid))
            b = &l->buckets[i];
    if (!b) {
        if (l->nbuckets == SIM_MAX_BUCKETS)
            l->nbuckets = 0; /* bounded: forget everyone rather than grow */
        b = &l->buckets[l->nbuckets++];
        vn_strlcpy(b->uid, uid, sizeof(b->uid));
        b->tokens = cap;
        b->last_ns = now_ns;
    }
    b->tokens += (double)(now_ns - b->last_ns) / 1e9 * cap;
    if (b->tokens > cap)
        b->tokens = cap;
    b->last_ns = now_ns;
    ok = cap <= 0 || b->tokens >= 1.0;
    if (ok && cap > 0)
        b->tokens -= 1.0;
    pthread_mutex_unlock(&l->mu);
    return ok;
}
