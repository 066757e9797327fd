/*
 * events.c - asynchronous events: creation (PENDING), the worker that processes them with
 * Apple's business rules (assets.c, users.c, subscriptions.c), the outcome bookkeeping shared
 * by those rules, Event Status data and the notifications of a processed event.
 *
 * An event is processed in one transaction, after --event-delay (scaled) so that PENDING is
 * observable. Its notifications are one batch: successes first, then each failure number,
 * each split into parts of at most 100 elements, all with the event's eventId.
 */
#include "sim.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sim_event_create(struct sim *s, const char *uid, const char *kind, const char *type,
                     int64_t num_requested, json_t *request, char out[37])
{
    char *text = json_dumps(request, JSON_COMPACT);
    int64_t now = vn_now_ms();
    int rc;

    sim_uuid(s, out);
    rc = sim_exec(s,
                  "INSERT INTO events(event_id, uid, kind, event_type, status, num_requested,"
                  " request, due_ms, created_ms) VALUES(?, ?, ?, ?, 'PENDING', ?, ?, ?, ?)",
                  "ttttitii", out, uid, kind, type, num_requested, text,
                  now + sim_scaled_ms(s, (double)s->cfg->event_delay_ms), now);
    free(text);
    if (rc == 0) {
        vn_log_fields(VN_LOG_INFO, "event created",
                      (struct vn_log_field[]){VN_LF_S("eventId", out), VN_LF_S("uId", uid),
                                              VN_LF_S("kind", kind), VN_LF_S("type", type),
                                              VN_LF_I("numRequested", num_requested)},
                      5);
        pthread_cond_broadcast(&s->work_cv);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */

void sim_outcome_ok(struct sim_outcome *o, json_t *item)
{
    json_array_append_new(o->ok, item);
    o->completed++;
}

/* Forget the items of the previous step, keep the errorInfo lists. */
static void clear_items(json_t *fails)
{
    const char *k;
    json_t *g;

    json_object_foreach(fails, k, g) json_object_set_new(g, "items", json_array());
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
    return *(const int *)a - *(const int *)b;
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

json_t *sim_outcome_failures(const struct sim_outcome *o)
{
    int nums[64];
    size_t n = fail_numbers(o, nums, 64);
    json_t *arr;

    if (n == 0)
        return NULL;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char key[16];
        const struct vn_apple_error_info *e = vn_apple_error_lookup(nums[i]);
        json_t *g, *info = json_object();
        snprintf(key, sizeof(key), "%d", nums[i]);
        g = json_object_get(o->fails, key);
        if (json_array_size(json_object_get(g, "assets")))
            json_object_set(info, "assets", json_object_get(g, "assets"));
        if (json_array_size(json_object_get(g, "clientUserIds")))
            json_object_set(info, "clientUserIds", json_object_get(g, "clientUserIds"));
        if (json_array_size(json_object_get(g, "serialNumbers")))
            json_object_set(info, "serialNumbers", json_object_get(g, "serialNumbers"));
        json_array_append_new(arr,
                              json_pack("{s:i, s:s, s:o}", "errorNumber", nums[i], "errorMessage",
                                        e ? e->message : "Error.", "errorInfo", info));
    }
    return arr;
}

void sim_outcome_notify(struct sim *s, const struct sim_outcome *o, const char *uid,
                        const char *ntype, const char *event_type, const char *event_id,
                        const char *key)
{
    int nums[64];
    size_t n = fail_numbers(o, nums, 64);
    json_t *base;

    if (json_array_size(o->ok)) {
        base = json_pack("{s:s, s:s, s:s}", "type", event_type, "result", "SUCCESS", "eventId",
                         event_id);
        sim_notify_split(s, uid, ntype, event_id, base, key, o->ok);
        json_decref(base);
    }
    for (size_t i = 0; i < n; i++) {
        char k[16];
        const struct vn_apple_error_info *e = vn_apple_error_lookup(nums[i]);
        snprintf(k, sizeof(k), "%d", nums[i]);
        base = json_pack("{s:s, s:s, s:s, s:{s:i, s:s}}", "type", event_type, "result", "FAILURE",
                         "eventId", event_id, "error", "errorNumber", nums[i], "errorMessage",
                         e ? e->message : "Error.");
        sim_notify_split(s, uid, ntype, event_id, base, key,
                         json_object_get(json_object_get(o->fails, k), "items"));
        json_decref(base);
    }
}

void sim_event_finish(struct sim *s, const char *event_id, int64_t completed, json_t *failures)
{
    char *text = failures ? json_dumps(failures, JSON_COMPACT) : NULL;

    sim_exec(s,
             "UPDATE events SET status = ?, num_completed = ?, failures = ?, completed_ms = ?"
             " WHERE event_id = ?",
             "titit", failures ? "FAILED" : "COMPLETE", completed, text, vn_now_ms(), event_id);
    free(text);
}

/* ---------------------------------------------------------------------------------------- */

/*
 * Process the next step of an event: at most --event-batch tasks. Between steps the event
 * stays PENDING with its progress (numCompleted, failures so far); each step's results are
 * notified at once, so the notifications of a big event arrive in several batches.
 */
static void process_one(struct sim *s, const char *event_id, const char *uid, const char *kind,
                        const char *type, const char *request)
{
    struct sim_outcome o = {0};
    json_t *req = json_loads(request, 0, NULL), *failures = NULL;
    const char *ntype = NULL, *key = "assignments", *status;
    char *ftext = NULL, *state_text = NULL, *stored;
    int64_t done, failed, deferred;
    int rc;

    o.ok = json_array();
    o.count = s->cfg->event_batch;
    if (sim_begin(s) != 0) {
        vn_log_error("cannot start a transaction for event %s", event_id);
        goto out;
    }
    o.from = sim_query_int(s, 0, "SELECT next_task FROM events WHERE event_id = ?", "t", event_id);
    done =
        sim_query_int(s, 0, "SELECT num_completed FROM events WHERE event_id = ?", "t", event_id);
    failed = sim_query_int(s, 0, "SELECT num_failed FROM events WHERE event_id = ?", "t", event_id);
    deferred = sim_query_int(s, 0, "SELECT deferred FROM events WHERE event_id = ?", "t", event_id);
    stored = sim_query_text(s, "SELECT fail_state FROM events WHERE event_id = ?", "t", event_id);
    o.fails = stored ? json_loads(stored, 0, NULL) : NULL;
    free(stored);
    if (!json_is_object(o.fails)) {
        json_decref(o.fails);
        o.fails = json_object();
    }
    clear_items(o.fails);
    sim_notify_batch_begin(s);
    if (!strcmp(kind, "assets")) {
        ntype = "ASSET_MANAGEMENT";
        sim_assets_process(s, uid, type, req, &o);
    } else if (!strcmp(kind, "users")) {
        ntype = "USER_MANAGEMENT";
        key = "users";
        sim_users_process(s, uid, type, req, &o);
    } else {
        ntype = "SUBSCRIPTION_MANAGEMENT";
        sim_subs_process(s, uid, type, event_id, req, &o);
    }
    done += o.completed;
    failed += o.failed;
    deferred |= o.deferred;
    failures = sim_outcome_failures(&o);
    ftext = failures ? json_dumps(failures, JSON_COMPACT) : NULL;
    if (!o.deferred)
        sim_outcome_notify(s, &o, uid, ntype, type, event_id, key);
    clear_items(o.fails);
    state_text = json_dumps(o.fails, JSON_COMPACT);
    status = o.more || deferred ? "PENDING" : failures ? "FAILED" : "COMPLETE";
    rc = sim_exec(s,
                  "UPDATE events SET status = ?, num_completed = ?, num_failed = ?,"
                  " failures = ?, fail_state = ?, deferred = ?, next_task = ? WHERE event_id = ?",
                  "tiittiit", status, done, failed, ftext, state_text, deferred, o.from + o.count,
                  event_id);
    if (rc == 0 && o.more)
        rc = sim_exec(s, "UPDATE events SET due_ms = ? WHERE event_id = ?", "it",
                      vn_now_ms() + sim_scaled_ms(s, (double)s->cfg->event_step_ms), event_id);
    else if (rc == 0)
        rc = sim_exec(s,
                      "UPDATE events SET processed = 1, completed_ms = ?,"
                      " num_requested = CASE WHEN event_type = 'REVOKE' THEN ? ELSE"
                      " num_requested END WHERE event_id = ?",
                      "oit", deferred ? NULL : &(long long){vn_now_ms()}, done + failed, event_id);
    sim_notify_batch_end(s);
    if (rc == 0)
        rc = sim_commit(s);
    else
        sim_rollback(s);
    if (rc != 0) {
        sim_exec(s,
                 "UPDATE events SET processed = 1, status = 'FAILED', failures = ?"
                 " WHERE event_id = ?",
                 "tt", "[{\"errorNumber\":9603,\"errorMessage\":\"Internal error.\"}]", event_id);
    }
    vn_log_fields(VN_LOG_INFO, o.more ? "event step processed" : "event processed",
                  (struct vn_log_field[]){VN_LF_S("eventId", event_id), VN_LF_S("uId", uid),
                                          VN_LF_S("type", type), VN_LF_I("completed", done),
                                          VN_LF_I("failed", failed), VN_LF_S("status", status)},
                  6);
out:
    free(ftext);
    free(state_text);
    json_decref(failures);
    json_decref(req);
    json_decref(o.ok);
    json_decref(o.fails);
    pthread_cond_broadcast(&s->settle_cv);
}

static void *event_main(void *arg)
{
    struct sim *s = arg;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int64_t now = vn_now_ms(), wait_ms = 1000;
        if (!s->paused) {
            sqlite3_stmt *st = sim_stmt(s, "SELECT event_id, uid, kind, event_type, request"
                                           " FROM events WHERE processed = 0 AND due_ms <= ?"
                                           " ORDER BY due_ms, rowid LIMIT 1");
            sqlite3_bind_int64(st, 1, now);
            if (sqlite3_step(st) == SQLITE_ROW) {
                char *id = strdup((const char *)sqlite3_column_text(st, 0));
                char *uid = strdup((const char *)sqlite3_column_text(st, 1));
                char *kind = strdup((const char *)sqlite3_column_text(st, 2));
                char *type = strdup((const char *)sqlite3_column_text(st, 3));
                char *req = strdup((const char *)sqlite3_column_text(st, 4));
                sqlite3_reset(st);
                process_one(s, id, uid, kind, type, req);
                free(id);
                free(uid);
                free(kind);
                free(type);
                free(req);
                continue;
            }
            sqlite3_reset(st);
            wait_ms = sim_query_int(s, now + 1000,
                                    "SELECT MIN(due_ms) FROM events WHERE processed = 0", "") -
                      now;
            if (wait_ms > 1000)
                wait_ms = 1000;
            if (wait_ms < 1)
                wait_ms = 1;
        }
        {
            struct timespec ts;
            int64_t until = vn_now_ms() + wait_ms;
            ts.tv_sec = until / 1000;
            ts.tv_nsec = (long)(until % 1000) * 1000000L;
            pthread_cond_timedwait(&s->work_cv, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sim_events_start(struct sim *s)
{
    return pthread_create(&s->event_thread, NULL, event_main, s) == 0 ? 0 : -1;
}

void sim_events_stop(struct sim *s)
{
    pthread_mutex_lock(&s->mu);
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->event_thread, NULL);
}
