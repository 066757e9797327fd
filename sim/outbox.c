/*
 * outbox.c - see outbox.h.
 */
#include "outbox.h"

#include "ctx.h"
#include "db.h"
#include "faults.h"
#include "location.h"
#include "rng.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS 3
#define MAX_BATCH    4096 /* notifications of one batch that reordering can shuffle */

struct sim_batch {
    int active;
    size_t n;
    char first_nid[37];
    int64_t rows[MAX_BATCH];
};

int sim_batch_new(struct sim_batch **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : VN_ESTORE;
}

void sim_batch_free(struct sim_batch *b)
{
    free(b);
}

void sim_notify_batch_begin(struct sim_ctx *c)
{
    c->batch->active = 1;
    c->batch->n = 0;
    c->batch->first_nid[0] = '\0';
}

static int set_due(struct sim_ctx *c, int64_t row, int64_t t)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE notifications SET first_ms = ?1, next_ms = ?1 WHERE id = ?2")))
        return rc;
    sim_bind_int(&q, 1, t);
    sim_bind_int(&q, 2, row);
    return sim_stmt_exec(&q, NULL);
}

int sim_notify_batch_end(struct sim_ctx *c)
{
    struct sim_batch *b = c->batch;
    size_t n = b->n, *perm, identity = 1;
    int64_t now = vn_now_ms(), step;
    int rc = 0;

    b->active = 0;
    b->n = 0;
    if (n < 2 || !sim_faults_reorder(c->faults, b->first_nid))
        return 0;
    if (!(perm = calloc(n, sizeof(*perm))))
        return VN_ESTORE;
    /* At most 10 s (scaled) for the whole batch, 1 s between two at the most. */
    step = sim_scaled_ms(c->time_scale, n > 10 ? 10000.0 / (double)n : 1000);
    if (step < 5)
        step = 5;
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(sim_rng_keyed(c->rng, "shuffle", b->first_nid, (int64_t)i) *
                            (double)(i + 1)),
               t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        identity &= perm[i] == i;
    if (identity) /* a shuffle that changed nothing: reverse instead */
        for (size_t i = 0; i < n; i++)
            perm[i] = n - 1 - i;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = set_due(c, b->rows[i], now + (int64_t)perm[i] * step);
    free(perm);
    if (rc == 0)
        vn_log_info("fault: reordered a batch of %zu notifications", n);
    return rc;
}

static int listed(const json_t *types, const char *type)
{
    size_t i;
    json_t *v;

    json_array_foreach(types, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), type))
            return 1;
    }
    return 0;
}

int sim_notify(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
               const json_t *payload)
{
    return sim_notify_raw(c, uid, type, event_id, payload, 0, NULL);
}

int sim_notify_raw(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
                   const json_t *payload, int force, char nid_out[37])
{
    char *url = NULL, *token = NULL, *text = NULL, nid[37];
    json_t *types = NULL, *body;
    struct sim_nfault nf;
    struct sim_stmt q;
    int64_t now = vn_now_ms(), first;
    int rc;

    if (nid_out)
        nid_out[0] = '\0';
    if ((rc = sim_loc_target(c->db, uid, &url, &token, &types)) || !url ||
        (!force && !listed(types, type)))
        goto out;
    sim_uuid(c->rng, nid);
    body = json_pack("{s:O, s:s, s:s, s:s}", "notification", payload, "notificationId", nid,
                     "notificationType", type, "uId", uid);
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        rc = VN_ESTORE;
        goto out;
    }
    sim_faults_notification(c->faults, nid, &nf);
    first = now + sim_scaled_ms(c->time_scale, (double)nf.delay_ms);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO notifications(notification_id, uid, type, event_id, body,"
                          " url, auth_token, state, first_ms, next_ms, dup_left, created_ms)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)")))
        goto out;
    sim_bind_text(&q, 1, nid);
    sim_bind_text(&q, 2, uid);
    sim_bind_text(&q, 3, type);
    sim_bind_text(&q, 4, event_id);
    sim_bind_text(&q, 5, text);
    sim_bind_text(&q, 6, url);
    sim_bind_text(&q, 7, token);
    sim_bind_text(&q, 8, nf.drop ? "dropped" : "scheduled");
    sim_bind_int(&q, 9, first);
    sim_bind_int(&q, 10, nf.duplicate);
    sim_bind_int(&q, 11, now);
    if ((rc = sim_stmt_exec(&q, NULL)))
        goto out;
    if (nid_out)
        vn_strlcpy(nid_out, nid, 37);
    if (c->batch->active && !nf.drop && c->batch->n < MAX_BATCH) {
        if (c->batch->n == 0)
            vn_strlcpy(c->batch->first_nid, nid, sizeof(c->batch->first_nid));
        c->batch->rows[c->batch->n++] = sim_db_last_id(c->db);
    }
    vn_log_fields(VN_LOG_DEBUG, "notification queued",
                  (struct vn_log_field[]){VN_LF_S("notificationId", nid), VN_LF_S("type", type),
                                          VN_LF_S("uId", uid), VN_LF_S("eventId", event_id),
                                          VN_LF_S("state", nf.drop ? "dropped" : "scheduled")},
                  5);
out:
    free(text);
    free(url);
    free(token);
    json_decref(types);
    return rc;
}

int sim_notify_split(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
                     const json_t *base, const char *key, const json_t *items)
{
    size_t n = json_array_size(items);

    for (size_t off = 0; off < n; off += SIM_MAX_ELEMENTS) {
        json_t *part = json_array(), *payload = json_deep_copy(base);
        int rc;
        for (size_t i = off; i < n && i < off + SIM_MAX_ELEMENTS; i++)
            json_array_append(part, json_array_get(items, i));
        json_object_set_new(payload, key, part);
        rc = sim_notify(c, uid, type, event_id, payload);
        json_decref(payload);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- delivery ---------------------------------------------------------------------------- */

void sim_claim_release(struct sim_claim *cl)
{
    free(cl->body);
    free(cl->url);
    free(cl->token);
    cl->body = cl->url = cl->token = NULL;
}

static int copy_col(const struct sim_stmt *q, int col, char **out)
{
    *out = strdup(sim_col_null(q, col) ? "" : sim_col_text(q, col));
    return *out ? 0 : VN_ESTORE;
}

int sim_outbox_claim(struct sim_ctx *c, int64_t now, struct sim_claim *cl)
{
    struct sim_stmt q;
    int rc;

    memset(cl, 0, sizeof(*cl));
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT id, notification_id, uid, type, event_id, body, url, auth_token,"
                          " attempts, first_ms, dup_left, state FROM notifications"
                          " WHERE state IN ('scheduled', 'redeliver') AND in_flight = 0"
                          " AND next_ms <= ?1 ORDER BY next_ms, id LIMIT 1")))
        return rc;
    sim_bind_int(&q, 1, now);
    if ((rc = sim_stmt_step(&q)) != SIM_ROW)
        return rc;
    cl->row = sim_col_int(&q, 0);
    vn_strlcpy(cl->nid, sim_col_text(&q, 1), sizeof(cl->nid));
    vn_strlcpy(cl->uid, sim_col_text(&q, 2), sizeof(cl->uid));
    vn_strlcpy(cl->type, sim_col_text(&q, 3), sizeof(cl->type));
    if (!sim_col_null(&q, 4))
        vn_strlcpy(cl->event_id, sim_col_text(&q, 4), sizeof(cl->event_id));
    rc = copy_col(&q, 5, &cl->body);
    if (!rc)
        rc = copy_col(&q, 6, &cl->url);
    if (!rc)
        rc = copy_col(&q, 7, &cl->token);
    cl->attempts = (int)sim_col_int(&q, 8);
    cl->first_ms = sim_col_int(&q, 9);
    cl->dup_left = (int)sim_col_int(&q, 10);
    cl->duplicate = !strcmp(sim_col_text(&q, 11), "redeliver");
    sim_stmt_reset(&q);
    if (!rc &&
        !(rc = SIM_PREPARE(c->db, &q, "UPDATE notifications SET in_flight = 1 WHERE id = ?1"))) {
        sim_bind_int(&q, 1, cl->row);
        rc = sim_stmt_exec(&q, NULL);
    }
    if (rc) {
        sim_claim_release(cl);
        return rc;
    }
    return 1;
}

int sim_outbox_next_due(struct sim_ctx *c, int64_t *due)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT MIN(next_ms) FROM notifications WHERE state IN"
                          " ('scheduled', 'redeliver') AND in_flight = 0")))
        return rc;
    return sim_stmt_int(&q, due);
}

static int record_attempt(struct sim_ctx *c, const char *nid, const char *uid, const char *type,
                          const char *event_id, int attempt, int duplicate,
                          const struct sim_attempt *a)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO deliveries(notification_id, uid, type, event_id, attempt,"
                          " duplicate, status, error, time_ms, duration_ms)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")))
        return rc;
    sim_bind_text(&q, 1, nid);
    sim_bind_text(&q, 2, uid);
    sim_bind_text(&q, 3, type);
    sim_bind_text(&q, 4, event_id && *event_id ? event_id : NULL);
    sim_bind_int(&q, 5, attempt);
    sim_bind_int(&q, 6, duplicate);
    sim_bind_int(&q, 7, a->status);
    sim_bind_text(&q, 8, a->why && *a->why ? a->why : NULL);
    sim_bind_int(&q, 9, a->time_ms);
    sim_bind_int(&q, 10, a->duration_ms);
    rc = sim_stmt_exec(&q, NULL);
    vn_log_fields(VN_LOG_INFO, "delivery",
                  (struct vn_log_field[]){VN_LF_S("notificationId", nid), VN_LF_S("type", type),
                                          VN_LF_S("uId", uid), VN_LF_I("attempt", attempt),
                                          VN_LF_I("status", a->status),
                                          VN_LF_S("error", a->why && *a->why ? a->why : NULL)},
                  6);
    return rc;
}

/* UPDATE notifications SET ... for one row: the next state after an attempt. */
static int set_after(struct sim_ctx *c, int64_t row, const char *state, int attempts,
                     int64_t next_ms, int64_t first_ms, long status)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE notifications SET state = ?1, attempts = ?2, next_ms = ?3,"
                          " first_ms = ?4, last_status = ?5, in_flight = 0,"
                          " dup_left = CASE WHEN ?1 = 'redeliver' THEN 0 ELSE dup_left END"
                          " WHERE id = ?6")))
        return rc;
    sim_bind_text(&q, 1, state);
    sim_bind_int(&q, 2, attempts);
    sim_bind_int(&q, 3, next_ms);
    sim_bind_int(&q, 4, first_ms);
    sim_bind_int(&q, 5, status);
    sim_bind_int(&q, 6, row);
    return sim_stmt_exec(&q, NULL);
}

int sim_outbox_finish(struct sim_ctx *c, const struct sim_claim *cl, const struct sim_attempt *a)
{
    int attempt = cl->attempts + 1, rc;
    int64_t now = vn_now_ms(), first = cl->attempts == 0 ? a->time_ms : cl->first_ms;

    if ((rc = sim_db_begin(c->db)))
        return rc;
    rc = record_attempt(c, cl->nid, cl->uid, cl->type, cl->event_id, attempt, cl->duplicate, a);
    if (rc)
        ;
    else if (cl->duplicate) /* the fault's extra delivery: done whatever the answer */
        rc = set_after(c, cl->row, "delivered", cl->attempts, now, cl->first_ms, a->status);
    else if (a->ok && cl->dup_left > 0) {
        /* Fault: deliver the same notification once more, 1-5 s later (scaled). */
        double u = sim_rng_keyed(c->rng, "duplicate-delay", cl->nid, 0);
        rc = set_after(c, cl->row, "redeliver", attempt,
                       now + sim_scaled_ms(c->time_scale, 1000 + u * 4000), first, a->status);
    } else if (a->ok)
        rc = set_after(c, cl->row, "delivered", attempt, now, first, a->status);
    else if (attempt >= MAX_ATTEMPTS) {
        rc = set_after(c, cl->row, "failed", attempt, now, first, a->status);
        vn_log_fields(
            VN_LOG_INFO, "notification lost after 3 attempts",
            (struct vn_log_field[]){VN_LF_S("notificationId", cl->nid), VN_LF_S("type", cl->type)},
            2);
    } else {
        /* Retry: attempt 2 at +60-90 s, attempt 3 at +180-240 s after attempt 1 (scaled). */
        double u = sim_rng_keyed(c->rng, "retry", cl->nid, attempt + 1);
        int64_t next = first + sim_retry_offset_ms(c->time_scale, u, attempt + 1);
        rc = set_after(c, cl->row, "scheduled", attempt, next < now ? now : next, first, a->status);
    }
    if (rc == 0)
        rc = sim_db_commit(c->db);
    else
        sim_db_rollback(c->db);
    return rc;
}

int sim_outbox_test_body(struct sim_ctx *c, const char *uid, char nid[37], char **body)
{
    json_t *o;

    sim_uuid(c->rng, nid);
    o = json_pack("{s:{}, s:s, s:s, s:s}", "notification", "notificationId", nid,
                  "notificationType", "TEST_NOTIFICATION", "uId", uid);
    *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *body ? 0 : VN_ESTORE;
}

int sim_outbox_test_record(struct sim_ctx *c, const char *uid, const char *nid, const char *body,
                           const char *url, const char *token, const struct sim_attempt *a)
{
    struct sim_stmt q;
    int rc;

    if ((rc = sim_db_begin(c->db)))
        return rc;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO notifications(notification_id, uid, type, body, url,"
                          " auth_token, state, attempts, first_ms, next_ms, created_ms,"
                          " last_status) VALUES(?1, ?2, 'TEST_NOTIFICATION', ?3, ?4, ?5, ?6, 1,"
                          " ?7, ?7, ?7, ?8)")))
        goto out;
    sim_bind_text(&q, 1, nid);
    sim_bind_text(&q, 2, uid);
    sim_bind_text(&q, 3, body);
    sim_bind_text(&q, 4, url);
    sim_bind_text(&q, 5, token);
    sim_bind_text(&q, 6, a->ok ? "delivered" : "failed");
    sim_bind_int(&q, 7, a->time_ms);
    sim_bind_int(&q, 8, a->status);
    if ((rc = sim_stmt_exec(&q, NULL)) ||
        (rc = record_attempt(c, nid, uid, "TEST_NOTIFICATION", NULL, 1, 0, a)))
        goto out;
    rc = sim_db_commit(c->db);
out:
    if (rc)
        sim_db_rollback(c->db);
    return rc;
}

int sim_outbox_pending(struct sim_ctx *c, int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM notifications WHERE state IN"
                          " ('scheduled', 'redeliver')")))
        return rc;
    return sim_stmt_int(&q, n);
}

/* ---- lists ------------------------------------------------------------------------------- */

static void add_times(json_t *rows, const char *ms_key, const char *iso_key)
{
    size_t i;
    json_t *e;

    json_array_foreach(rows, i, e)
    {
        json_t *ms = json_object_get(e, ms_key);
        char t[VN_TIME_ISO_LEN];
        if (!json_is_integer(ms))
            continue;
        vn_time_iso((int64_t)json_integer_value(ms), t);
        json_object_set_new(e, iso_key, json_string(t));
    }
}

int sim_outbox_deliveries(struct sim_ctx *c, const struct sim_outbox_filter *f, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(
             c->db, &q,
             "SELECT id, notification_id AS notificationId, type AS notificationType,"
             " event_id AS eventId, uid AS uId, attempt, duplicate AS \"b:duplicate\","
             " status, error, time_ms AS timeMs, duration_ms AS durationMs"
             " FROM deliveries WHERE (?1 IS NULL OR uid = ?1)"
             " AND (?2 IS NULL OR event_id = ?2) AND (?3 IS NULL OR notification_id = ?3)"
             " AND (?4 IS NULL OR type = ?4) AND id > ?5 ORDER BY id LIMIT ?6")))
        return rc;
    sim_bind_text(&q, 1, f->uid);
    sim_bind_text(&q, 2, f->event_id);
    sim_bind_text(&q, 3, f->notification_id);
    sim_bind_text(&q, 4, f->type);
    sim_bind_int(&q, 5, f->after_id);
    sim_bind_int(&q, 6, f->limit);
    if ((rc = sim_stmt_rows(&q, out)))
        return rc;
    add_times(*out, "timeMs", "time");
    return 0;
}

int sim_outbox_notifications(struct sim_ctx *c, const struct sim_outbox_filter *f, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT notification_id AS notificationId, type AS notificationType,"
                          " event_id AS eventId, uid AS uId, state, attempts,"
                          " created_ms AS createdMs, last_status AS lastStatus, body AS \"j:body\""
                          " FROM notifications WHERE (?1 IS NULL OR uid = ?1)"
                          " AND (?2 IS NULL OR event_id = ?2) AND (?3 IS NULL OR type = ?3)"
                          " AND (?4 IS NULL OR state = ?4) ORDER BY id LIMIT ?5")))
        return rc;
    sim_bind_text(&q, 1, f->uid);
    sim_bind_text(&q, 2, f->event_id);
    sim_bind_text(&q, 3, f->type);
    sim_bind_text(&q, 4, f->state);
    sim_bind_int(&q, 5, f->limit);
    if ((rc = sim_stmt_rows(&q, out)))
        return rc;
    add_times(*out, "createdMs", "created");
    return 0;
}

int sim_outbox_counts(struct sim_ctx *c, const char *uid, json_t **out)
{
    struct sim_stmt q;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(
             c->db, &q, "SELECT state, COUNT(*) FROM notifications WHERE uid = ?1 GROUP BY state")))
        return rc;
    sim_bind_text(&q, 1, uid);
    *out = json_object();
    while ((rc = sim_stmt_step(&q)) == SIM_ROW)
        json_object_set_new(*out, sim_col_text(&q, 0), json_integer(sim_col_int(&q, 1)));
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
