/*
 * events.c - see events.h.
 */
#include "events.h"

#include "assets.h"
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "outbox.h"
#include "outcome.h"
#include "rng.h"
#include "subs.h"
#include "users.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <stdlib.h>
#include <string.h>

int sim_event_create(struct sim_ctx *c, const char *uid, const char *kind, const char *type,
                     int64_t num_requested, const json_t *request, char out[37])
{
    char *text = json_dumps(request, JSON_COMPACT);
    int64_t now = vn_now_ms();
    struct sim_stmt q;
    int rc;

    out[0] = '\0';
    if (!text)
        return VN_ESTORE;
    sim_uuid(c->rng, out);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO events(event_id, uid, kind, event_type, status,"
                          " num_requested, request, due_ms, created_ms)"
                          " VALUES(?1, ?2, ?3, ?4, 'PENDING', ?5, ?6, ?7, ?8)")) == 0) {
        sim_bind_text(&q, 1, out);
        sim_bind_text(&q, 2, uid);
        sim_bind_text(&q, 3, kind);
        sim_bind_text(&q, 4, type);
        sim_bind_int(&q, 5, num_requested);
        sim_bind_text(&q, 6, text);
        sim_bind_int(&q, 7, now + sim_scaled_ms(c->time_scale, (double)c->cfg->event_delay_ms));
        sim_bind_int(&q, 8, now);
        rc = sim_stmt_exec(&q, NULL);
    }
    free(text);
    if (rc == 0)
        vn_log_fields(VN_LOG_INFO, "event created",
                      (struct vn_log_field[]){VN_LF_S("eventId", out), VN_LF_S("uId", uid),
                                              VN_LF_S("kind", kind), VN_LF_S("type", type),
                                              VN_LF_I("numRequested", num_requested)},
                      5);
    return rc;
}

int sim_event_status(struct sim_ctx *c, const char *uid, const char *event_id, json_t **out)
{
    struct sim_stmt q;
    json_t *rows = NULL;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT status AS eventStatus, event_type AS eventType,"
                          " num_requested AS numRequested, num_completed AS numCompleted,"
                          " failures AS \"j:failures\" FROM events"
                          " WHERE event_id = ?1 AND uid = ?2")))
        return rc;
    sim_bind_text(&q, 1, event_id);
    sim_bind_text(&q, 2, uid);
    if ((rc = sim_stmt_rows(&q, &rows)))
        return rc;
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *out ? 0 : VN_ENOTFOUND;
}

int sim_events_next_due(struct sim_ctx *c, int64_t *due)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT MIN(due_ms) FROM events WHERE processed = 0")))
        return rc;
    return sim_stmt_int(&q, due);
}

int sim_events_pending(struct sim_ctx *c, int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT COUNT(*) FROM events WHERE processed = 0")))
        return rc;
    return sim_stmt_int(&q, n);
}

/* ---- one step ---------------------------------------------------------------------------- */

/* An event being processed: its row as the step starts. */
struct event_row {
    char id[64], uid[40], kind[16], type[16];
    char *request, *fail_state;
    int64_t next_task, done, failed, deferred;
};

static void event_row_release(struct event_row *e)
{
    free(e->request);
    free(e->fail_state);
}

/* The next event due at now: 1 and *e, 0 if none. */
static int next_event(struct sim_ctx *c, int64_t now, struct event_row *e)
{
    struct sim_stmt q;
    int rc;

    memset(e, 0, sizeof(*e));
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT event_id, uid, kind, event_type, request, fail_state, next_task,"
                          " num_completed, num_failed, deferred FROM events"
                          " WHERE processed = 0 AND due_ms <= ?1 ORDER BY due_ms, rowid LIMIT 1")))
        return rc;
    sim_bind_int(&q, 1, now);
    if ((rc = sim_stmt_step(&q)) != SIM_ROW)
        return rc;
    vn_strlcpy(e->id, sim_col_text(&q, 0), sizeof(e->id));
    vn_strlcpy(e->uid, sim_col_text(&q, 1), sizeof(e->uid));
    vn_strlcpy(e->kind, sim_col_text(&q, 2), sizeof(e->kind));
    vn_strlcpy(e->type, sim_col_text(&q, 3), sizeof(e->type));
    e->request = strdup(sim_col_text(&q, 4));
    e->fail_state = sim_col_null(&q, 5) ? NULL : strdup(sim_col_text(&q, 5));
    e->next_task = sim_col_int(&q, 6);
    e->done = sim_col_int(&q, 7);
    e->failed = sim_col_int(&q, 8);
    e->deferred = sim_col_int(&q, 9);
    sim_stmt_reset(&q);
    if (!e->request) {
        event_row_release(e);
        return VN_ESTORE;
    }
    return 1;
}

/* Store the progress of a step (status, counts, failures, what comes next). */
static int store_step(struct sim_ctx *c, const struct event_row *e, struct sim_outcome *o,
                      const char *status, const char *failures, int64_t done, int64_t failed,
                      int64_t deferred)
{
    char *state = sim_outcome_state(o);
    int64_t now = vn_now_ms();
    struct sim_stmt q;
    int rc;

    if (!state)
        return VN_ESTORE;
    rc = SIM_PREPARE(c->db, &q,
                     "UPDATE events SET status = ?1, num_completed = ?2, num_failed = ?3,"
                     " failures = ?4, fail_state = ?5, deferred = ?6, next_task = ?7,"
                     " due_ms = CASE WHEN ?8 THEN ?9 ELSE due_ms END,"
                     " processed = CASE WHEN ?8 THEN 0 ELSE 1 END,"
                     " completed_ms = CASE WHEN ?8 OR ?6 THEN completed_ms ELSE ?10 END,"
                     " num_requested = CASE WHEN ?8 = 0 AND event_type = 'REVOKE' THEN ?2 + ?3"
                     "  ELSE num_requested END WHERE event_id = ?11");
    if (rc == 0) {
        sim_bind_text(&q, 1, status);
        sim_bind_int(&q, 2, done);
        sim_bind_int(&q, 3, failed);
        sim_bind_text(&q, 4, failures);
        sim_bind_text(&q, 5, state);
        sim_bind_int(&q, 6, deferred);
        sim_bind_int(&q, 7, o->from + o->count);
        sim_bind_int(&q, 8, o->more);
        sim_bind_int(&q, 9, now + sim_scaled_ms(c->time_scale, (double)c->cfg->event_step_ms));
        sim_bind_int(&q, 10, now);
        sim_bind_text(&q, 11, e->id);
        rc = sim_stmt_exec(&q, NULL);
    }
    free(state);
    return rc;
}

static int run_step(struct sim_ctx *c, const struct event_row *e, const char **status)
{
    struct sim_outcome o;
    json_t *req = json_loads(e->request, 0, NULL), *failures = NULL;
    const char *ntype, *key = "assignments";
    char *ftext = NULL;
    int64_t done, failed, deferred;
    int rc;

    *status = "FAILED";
    if (!req) {
        vn_log_error("event %s: unreadable request in the state", e->id);
        return VN_ESTORE;
    }
    if ((rc = sim_outcome_init(&o, c, e->kind, e->id, e->fail_state, e->next_task,
                               c->cfg->event_batch))) {
        json_decref(req);
        return rc;
    }
    sim_notify_batch_begin(c);
    if (!strcmp(e->kind, "assets")) {
        ntype = "ASSET_MANAGEMENT";
        rc = sim_assets_process(c, e->uid, e->type, req, &o);
    } else if (!strcmp(e->kind, "users")) {
        ntype = "USER_MANAGEMENT";
        key = "users";
        rc = sim_users_process(c, e->uid, e->type, req, &o);
    } else {
        ntype = "SUBSCRIPTION_MANAGEMENT";
        rc = sim_subs_process(c, e->uid, e->type, e->id, req, &o);
    }
    done = e->done + o.completed;
    failed = e->failed + o.failed;
    deferred = e->deferred || o.deferred;
    if (rc == 0) {
        failures = sim_outcome_failures(&o);
        ftext = failures ? json_dumps(failures, JSON_COMPACT) : NULL;
        *status = o.more || deferred ? "PENDING" : failures ? "FAILED" : "COMPLETE";
        if (!o.deferred)
            rc = sim_outcome_notify(c, &o, e->uid, ntype, e->type, key);
    }
    if (rc == 0)
        rc = store_step(c, e, &o, *status, ftext, done, failed, deferred);
    if (rc == 0)
        rc = sim_notify_batch_end(c);
    else
        sim_notify_batch_end(c);
    vn_log_fields(VN_LOG_INFO, o.more ? "event step processed" : "event processed",
                  (struct vn_log_field[]){VN_LF_S("eventId", e->id), VN_LF_S("uId", e->uid),
                                          VN_LF_S("type", e->type), VN_LF_I("completed", done),
                                          VN_LF_I("failed", failed), VN_LF_S("status", *status)},
                  6);
    free(ftext);
    json_decref(failures);
    json_decref(req);
    sim_outcome_release(&o);
    return rc;
}

/* A step that could not be stored: the event ends FAILED with Apple's internal error, as
 * Apple's own would, instead of being retried forever. */
static void fail_event(struct sim_ctx *c, const char *event_id)
{
    struct sim_stmt q;

    if (SIM_PREPARE(c->db, &q,
                    "UPDATE events SET processed = 1, status = 'FAILED', completed_ms = ?1,"
                    " failures = '[{\"errorNumber\":9603,\"errorMessage\":\"Internal error.\"}]'"
                    " WHERE event_id = ?2") == 0) {
        sim_bind_int(&q, 1, vn_now_ms());
        sim_bind_text(&q, 2, event_id);
        if (sim_stmt_exec(&q, NULL) == 0)
            vn_log_error("event %s failed with 9603: its step could not be stored", event_id);
    }
}

int sim_events_step(struct sim_ctx *c, int64_t now, int *did)
{
    struct event_row e;
    const char *status;
    int rc;

    *did = 0;
    if ((rc = next_event(c, now, &e)) != 1)
        return rc;
    *did = 1;
    if ((rc = sim_db_begin(c->db)) == 0) {
        rc = run_step(c, &e, &status);
        if (rc == 0)
            rc = sim_db_commit(c->db);
        else
            sim_db_rollback(c->db);
    }
    if (rc)
        fail_event(c, e.id);
    event_row_release(&e);
    return rc;
}

/* ---- billing-period end ------------------------------------------------------------------ */

static int finish_deferred(struct sim_ctx *c, const char *event_id, int64_t n)
{
    struct sim_stmt q;
    int64_t left = 0;
    int rc;

    if ((rc = sim_subs_deferred_left(c, event_id, &left)))
        return rc;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE events SET num_completed = num_completed + ?1,"
                          " status = CASE WHEN ?2 > 0 THEN status WHEN failures IS NULL"
                          "  THEN 'COMPLETE' ELSE 'FAILED' END,"
                          " completed_ms = CASE WHEN ?2 > 0 THEN completed_ms ELSE ?3 END"
                          " WHERE event_id = ?4")))
        return rc;
    sim_bind_int(&q, 1, n);
    sim_bind_int(&q, 2, left);
    sim_bind_int(&q, 3, vn_now_ms());
    sim_bind_text(&q, 4, event_id);
    return sim_stmt_exec(&q, NULL);
}

int sim_events_period_end(struct sim_ctx *c, const char *uid, int64_t adam_id, json_t **summary)
{
    json_t *ended = NULL, *n;
    const char *ev;
    int rc;

    *summary = NULL;
    if ((rc = sim_db_begin(c->db)))
        return rc;
    sim_notify_batch_begin(c);
    rc = sim_subs_period_end(c, uid, adam_id, summary, &ended);
    json_object_foreach(ended, ev, n)
    {
        if (rc == 0)
            rc = finish_deferred(c, ev, (int64_t)json_integer_value(n));
    }
    json_decref(ended);
    if (rc == 0)
        rc = sim_notify_batch_end(c);
    else
        sim_notify_batch_end(c);
    if (rc == 0)
        rc = sim_db_commit(c->db);
    else
        sim_db_rollback(c->db);
    if (rc) {
        json_decref(*summary);
        *summary = NULL;
    }
    return rc;
}

int sim_events_dump(struct sim_ctx *c, const char *uid, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT event_id AS eventId, kind, event_type AS eventType,"
                          " status AS eventStatus, num_requested AS numRequested,"
                          " num_completed AS numCompleted, failures AS \"j:failures\","
                          " created_ms AS createdMs, completed_ms AS completedMs"
                          " FROM events WHERE uid = ?1 ORDER BY created_ms, rowid")))
        return rc;
    sim_bind_text(&q, 1, uid);
    return sim_stmt_rows(&q, out);
}
