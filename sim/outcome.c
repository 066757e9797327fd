/*
 * outcome.c - see outcome.h.
 */
#include "outcome.h"

#include "ctx.h"
#include "faults.h"
#include "outbox.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NUMBERS 64 /* distinct error numbers of one event */

/* Forget the items of the previous step, keep the errorInfo lists. */
static void clear_items(json_t *fails)
{
    const char *k;
    json_t *g;

    json_object_foreach(fails, k, g) json_object_set_new(g, "items", json_array());
}

int sim_outcome_init(struct sim_outcome *o, struct sim_ctx *c, const char *kind,
                     const char *event_id, const char *fail_state, int64_t from, int64_t count)
{
    memset(o, 0, sizeof(*o));
    o->ctx = c;
    o->kind = kind;
    o->event_id = event_id;
    o->from = from;
    o->count = count;
    o->ok = json_array();
    o->fails = fail_state ? json_loads(fail_state, 0, NULL) : NULL;
    if (fail_state && !json_is_object(o->fails)) {
        json_decref(o->fails);
        o->fails = NULL;
        json_decref(o->ok);
        o->ok = NULL;
        return VN_ESTORE; /* the stored bookkeeping is unreadable */
    }
    if (!o->fails)
        o->fails = json_object();
    clear_items(o->fails);
    return o->ok && o->fails ? 0 : VN_ESTORE;
}

void sim_outcome_release(struct sim_outcome *o)
{
    json_decref(o->ok);
    json_decref(o->fails);
    o->ok = o->fails = NULL;
}

int sim_outcome_turn(struct sim_outcome *o)
{
    int64_t k = o->index++;

    if (k < o->from)
        return 0;
    if (k >= o->from + o->count) {
        o->more = 1;
        return 0;
    }
    return 1;
}

int sim_outcome_injected(struct sim_outcome *o, int *number)
{
    return o->ctx && sim_faults_async(o->ctx->faults, o->kind, o->event_id, o->index - 1, number);
}

void sim_outcome_ok(struct sim_outcome *o, json_t *item)
{
    json_array_append_new(o->ok, item);
    o->completed++;
}

static void set_add(json_t *g, const char *list, const char *set, const char *key, json_t *v)
{
    json_t *st = json_object_get(g, set);

    if (json_object_get(st, key)) {
        json_decref(v);
        return;
    }
    json_object_set_new(st, key, json_true());
    json_array_append_new(json_object_get(g, list), v);
}

void sim_outcome_fail(struct sim_outcome *o, int number, json_t *item, const char *adam_id,
                      const char *pricing_param, const char *client_user_id,
                      const char *serial_number)
{
    char key[16];
    json_t *g;

    snprintf(key, sizeof(key), "%d", number);
    g = json_object_get(o->fails, key);
    if (!g) {
        g = json_pack("{s:i, s:[], s:[], s:{}, s:[], s:{}, s:[], s:{}}", "n", number, "items",
                      "assets", "assetSet", "clientUserIds", "userSet", "serialNumbers",
                      "serialSet");
        json_object_set_new(o->fails, key, g);
    }
    json_array_append_new(json_object_get(g, "items"), item);
    o->failed++;
    if (adam_id) {
        char k[300];
        json_t *a = json_pack("{s:s}", "adamId", adam_id);
        if (pricing_param)
            json_object_set_new(a, "pricingParam", json_string(pricing_param));
        snprintf(k, sizeof(k), "%s|%s", adam_id, pricing_param ? pricing_param : "");
        set_add(g, "assets", "assetSet", k, a);
    }
    if (client_user_id)
        set_add(g, "clientUserIds", "userSet", client_user_id, json_string(client_user_id));
    if (serial_number)
        set_add(g, "serialNumbers", "serialSet", serial_number, json_string(serial_number));
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Failure numbers of o in ascending order into nums (at most cap); returns the count. */
static size_t fail_numbers(const struct sim_outcome *o, int *nums, size_t cap)
{
    const char *k;
    json_t *g;
    size_t n = 0;

    json_object_foreach(o->fails, k, g)
    {
        if (n < cap)
            nums[n++] = (int)json_integer_value(json_object_get(g, "n"));
    }
    qsort(nums, n, sizeof(int), cmp_int);
    return n;
}

static const char *message(int number)
{
    const struct vn_apple_error_info *e = vn_apple_error_lookup(number);
    return e ? e->message : "Error.";
}

json_t *sim_outcome_failures(const struct sim_outcome *o)
{
    int nums[MAX_NUMBERS];
    size_t n = fail_numbers(o, nums, MAX_NUMBERS);
    json_t *arr;

    if (n == 0)
        return NULL;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char key[16];
        json_t *g, *info = json_object();
        snprintf(key, sizeof(key), "%d", nums[i]);
        g = json_object_get(o->fails, key);
        if (json_array_size(json_object_get(g, "assets")))
            json_object_set(info, "assets", json_object_get(g, "assets"));
        if (json_array_size(json_object_get(g, "clientUserIds")))
            json_object_set(info, "clientUserIds", json_object_get(g, "clientUserIds"));
        if (json_array_size(json_object_get(g, "serialNumbers")))
            json_object_set(info, "serialNumbers", json_object_get(g, "serialNumbers"));
        json_array_append_new(arr, json_pack("{s:i, s:s, s:o}", "errorNumber", nums[i],
                                             "errorMessage", message(nums[i]), "errorInfo", info));
    }
    return arr;
}

char *sim_outcome_state(struct sim_outcome *o)
{
    clear_items(o->fails);
    return json_dumps(o->fails, JSON_COMPACT);
}

int sim_outcome_notify(struct sim_ctx *c, const struct sim_outcome *o, const char *uid,
                       const char *ntype, const char *event_type, const char *key)
{
    int nums[MAX_NUMBERS], rc = 0;
    size_t n = fail_numbers(o, nums, MAX_NUMBERS);
    json_t *base;

    if (json_array_size(o->ok)) {
        base = json_pack("{s:s, s:s, s:s}", "type", event_type, "result", "SUCCESS", "eventId",
                         o->event_id);
        rc = sim_notify_split(c, uid, ntype, o->event_id, base, key, o->ok);
        json_decref(base);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        char k[16];
        json_t *items;
        snprintf(k, sizeof(k), "%d", nums[i]);
        items = json_object_get(json_object_get(o->fails, k), "items");
        if (!json_array_size(items))
            continue;
        base = json_pack("{s:s, s:s, s:s, s:{s:i, s:s}}", "type", event_type, "result", "FAILURE",
                         "eventId", o->event_id, "error", "errorNumber", nums[i], "errorMessage",
                         message(nums[i]));
        rc = sim_notify_split(c, uid, ntype, o->event_id, base, key, items);
        json_decref(base);
    }
    return rc;
}
