/* tracker.c - see include/vppnotify/tracker.h. */
#include "vppnotify/tracker.h"
#include "vppnotify/apple_errors.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/session.h"
#include "vppnotify/sync.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SESSIONS 64 /* locations with a session open during one pass */

const char *vn_track_action_name(enum vn_track_action a)
{
    static const char *const names[] = {"wait", "complete", "poll", "finish", "missing", "stall"};

    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

struct vn_track_decision vn_tracker_decide(const struct vn_tracked_event *e,
                                           const struct vn_tracker_config *c, int64_t now_ms)
{
    struct vn_track_decision d = {VN_TRACK_WAIT, 0};
    long long notified = e->succeeded + e->failed;
    int final = e->status && (!strcmp(e->status, "COMPLETE") || !strcmp(e->status, "FAILED"));
    int64_t quiet_end = max64(e->requested_ms, e->last_notified_ms) + c->quiet_ms;
    int64_t due;

    /* Every item the request named was notified: no need to ask Apple. */
    if (e->expected > 0 && notified >= e->expected) {
        d.action = VN_TRACK_COMPLETE;
        return d;
    }
    if (final) {
        if ((e->num_completed < 0 || e->succeeded >= e->num_completed) &&
            (e->num_requested < 0 || notified >= e->num_requested)) {
            d.action = VN_TRACK_FINISH;
            return d;
        }
        /*
         * Apple says it is done; notifications still on their way get the quiet period. An
         * event seen PENDING by an earlier poll completed after it, maybe a moment ago: its
         * notifications are being sent now, so the quiet period runs from this poll.
         */
        if (e->polls > 1 && e->last_poll_ms)
            quiet_end = max64(quiet_end, e->last_poll_ms + c->quiet_ms);
        if (now_ms >= quiet_end) {
            d.action = VN_TRACK_MISSING;
            return d;
        }
        d.due_ms = quiet_end;
        return d;
    }
    if (!e->deferred && !e->stalled && now_ms - e->requested_ms >= c->stall_ms) {
        d.action = VN_TRACK_STALL;
        return d;
    }
    due = quiet_end;
    if (e->last_poll_ms)
        due = max64(due, e->last_poll_ms + (e->deferred ? c->deferred_poll_ms : c->poll_ms));
    if (now_ms >= due) {
        d.action = VN_TRACK_POLL;
        return d;
    }
    d.due_ms = due;
    if (!e->deferred && !e->stalled && e->requested_ms + c->stall_ms < due)
        d.due_ms = e->requested_ms + c->stall_ms;
    return d;
}

/* ---- acting on events ------------------------------------------------------------------ */

struct tracking_record {
    const char *event_id;
    const struct vn_event_tracking_update *u;
};

static int tracking_record_run(struct vn_store *st, void *ud)
{
    struct tracking_record *r = ud;

    return vn_store_event_tracking_update(st, r->event_id, r->u);
}

/* Record u for the event as one job of w, and wait. */
static int record(struct vn_writer *w, const char *event_id,
                  const struct vn_event_tracking_update *u, struct vn_error *err)
{
    struct tracking_record r = {event_id, u};

    return vn_writer_call(w, tracking_record_run, &r, err);
}

int vn_tracker_poll(struct vn_session *s, const char *event_id, struct vn_event_status *res,
                    struct vn_error *err)
{
    struct vn_error werr = {0};
    struct vn_event_tracking_update u = {
        .what = VN_ETU_POLL, .num_requested = -1, .num_completed = -1};
    struct vn_apple_failure why;
    struct vn_buf q;
    json_t *out = NULL, *failures;
    char *ftext = NULL;
    int rc;

    vn_buf_init(&q, 1024);
    vn_apple_query_add(&q, "eventId", event_id);
    rc = vn_session_call(s, "GET", "eventStatus", "status", vn_buf_str(&q), NULL, &out, &why);
    vn_buf_release(&q);
    u.now_ms = vn_now_ms();
    if (rc) {
        vn_error_set(err, rc, "%s", why.message);
        u.poll_error = why.message;
        if (rc == VN_EAPPLE && why.number == VN_APPLE_EVENT_NOT_FOUND) {
            u.what |= VN_ETU_DONE;
            u.status = "NOT_FOUND";
            if (res)
                *res = (struct vn_event_status){"NOT_FOUND", -1, -1};
        }
        if (record(s->w, event_id, &u, &werr) != 0)
            vn_log_warn("event %s: cannot record the poll: %s", event_id, werr.msg);
        return rc;
    }
    u.status = json_string_value(json_object_get(out, "eventStatus"));
    if (json_is_integer(json_object_get(out, "numRequested")))
        u.num_requested = json_integer_value(json_object_get(out, "numRequested"));
    if (json_is_integer(json_object_get(out, "numCompleted")))
        u.num_completed = json_integer_value(json_object_get(out, "numCompleted"));
    failures = json_object_get(out, "failures");
    if (json_is_array(failures) && json_array_size(failures))
        ftext = json_dumps(failures, JSON_COMPACT);
    u.failures = ftext;
    if (res) {
        vn_strlcpy(res->status, u.status ? u.status : "", sizeof(res->status));
        res->num_requested = u.num_requested;
        res->num_completed = u.num_completed;
    }
    rc = record(s->w, event_id, &u, &werr);
    if (rc)
        vn_error_set(err, rc, "event %s: cannot record the poll: %s", event_id, werr.msg);
    vn_log_fields(VN_LOG_INFO, "event status polled",
                  (struct vn_log_field[]){VN_LF_S("eventId", event_id), VN_LF_S("uId", s->uid),
                                          VN_LF_S("status", u.status),
                                          VN_LF_I("numRequested", u.num_requested),
                                          VN_LF_I("numCompleted", u.num_completed)},
                  5);
    free(ftext);
    json_decref(out);
    return rc;
}

/* An owned copy of a tracked event (the store lends its strings only during the callback). */
struct item {
    struct vn_tracked_event e;
    char *strs[6];
};

struct list {
    struct item *v;
    size_t n, cap;
};

static int collect(void *ud, const struct vn_tracked_event *e)
{
    struct list *l = ud;
    struct item *it;
    const char *src[6] = {e->event_id, e->uid, e->kind, e->type, e->request, e->status};

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct item *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    it = &l->v[l->n++];
    it->e = *e;
    for (int i = 0; i < 6; i++)
        it->strs[i] = src[i] ? strdup(src[i]) : NULL;
    it->e.event_id = it->strs[0];
    it->e.uid = it->strs[1];
    it->e.kind = it->strs[2];
    it->e.type = it->strs[3];
    it->e.request = it->strs[4];
    it->e.status = it->strs[5];
    return it->e.event_id && it->e.uid ? 0 : -ENOMEM;
}

static void free_list(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        for (int k = 0; k < 6; k++)
            free(l->v[i].strs[k]);
    free(l->v);
}

struct sessions {
    struct vn_session s[MAX_SESSIONS];
    int state[MAX_SESSIONS]; /* 1 open, -1 cannot be opened */
    char uid[MAX_SESSIONS][VN_ID_MAX + 1];
    int n;
};

static struct vn_session *session_for(struct sessions *ss, struct vn_store *st,
                                      struct vn_session_env *env, const char *uid)
{
    struct vn_error err = {0};
    int i;

    for (i = 0; i < ss->n; i++)
        if (!strcmp(ss->uid[i], uid))
            return ss->state[i] > 0 ? &ss->s[i] : NULL;
    if (ss->n == MAX_SESSIONS)
        return NULL; /* the next pass gets to it */
    i = ss->n++;
    vn_strlcpy(ss->uid[i], uid, sizeof(ss->uid[i]));
    if (vn_session_open(&ss->s[i], env, st, uid, &err) != 0) {
        ss->state[i] = -1;
        vn_log_debug("tracker: events of location %s wait: %s", uid, err.msg);
        return NULL;
    }
    ss->state[i] = 1;
    return &ss->s[i];
}

static void update(struct vn_writer *w, const char *event_id, struct vn_event_tracking_update *u)
{
    struct vn_error err = {0};

    if (!u->now_ms)
        u->now_ms = vn_now_ms();
    if (record(w, event_id, u, &err) != 0)
        vn_log_warn("event %s: cannot record its tracking: %s", event_id, err.msg);
}

static void missing(struct vn_writer *w, struct vn_session *s, struct vn_tracked_event *e)
{
    struct vn_event_tracking_update u = {
        .what = VN_ETU_MISSING, .num_requested = -1, .num_completed = -1};
    struct vn_sync_report r;
    struct vn_error err = {0};
    char *drift, resync[VN_ERROR_MSG_MAX + 16];

    vn_log_fields(VN_LOG_WARN, "notifications missing: re-syncing what the event touched",
                  (struct vn_log_field[]){VN_LF_S("eventId", e->event_id), VN_LF_S("uId", e->uid),
                                          VN_LF_I("notified", e->succeeded + e->failed),
                                          VN_LF_I("numCompleted", e->num_completed),
                                          VN_LF_I("numRequested", e->num_requested)},
                  5);
    update(w, e->event_id, &u);
    if (vn_sync_targeted(s, e->kind, e->type, e->request, &r, &err) == 0) {
        drift = vn_sync_report_json(&r);
        snprintf(resync, sizeof(resync), "done: %s", drift ? drift : "");
        free(drift);
    } else {
        snprintf(resync, sizeof(resync), "failed: %s", err.msg);
        vn_log_error("event %s: the re-sync failed (%s); the scheduled sync will repair the "
                     "mirror",
                     e->event_id, err.msg);
    }
    u = (struct vn_event_tracking_update){.what = VN_ETU_RESYNC | VN_ETU_DONE,
                                          .resync = resync,
                                          .num_requested = -1,
                                          .num_completed = -1};
    update(w, e->event_id, &u);
}

/* Decide and act on one event; after a poll, decide again with what Apple said. */
static void step(struct vn_store *st, struct vn_writer *w, struct vn_session_env *env,
                 struct sessions *ss, struct item *it, const struct vn_tracker_config *c,
                 int64_t now)
{
    struct vn_tracked_event *e = &it->e;

    for (int round = 0; round < 3; round++) {
        struct vn_track_decision d = vn_tracker_decide(e, c, now);
        struct vn_event_tracking_update u = {.num_requested = -1, .num_completed = -1};
        struct vn_event_status res;
        struct vn_session *s;
        struct vn_error err = {0};

        switch (d.action) {
        case VN_TRACK_WAIT:
            return;
        case VN_TRACK_COMPLETE:
            u.what = VN_ETU_DONE;
            u.status = e->failed > 0 ? "FAILED" : "COMPLETE";
            u.num_requested = e->expected;
            u.num_completed = e->succeeded;
            update(w, e->event_id, &u);
            vn_log_info("event %s: every item notified (%lld succeeded, %lld failed): %s",
                        e->event_id, e->succeeded, e->failed, u.status);
            return;
        case VN_TRACK_FINISH:
            u.what = VN_ETU_DONE;
            update(w, e->event_id, &u);
            vn_log_info("event %s: %s, every item notified", e->event_id, e->status);
            return;
        case VN_TRACK_STALL:
            u.what = VN_ETU_STALLED;
            update(w, e->event_id, &u);
            e->stalled = 1;
            vn_log_fields(VN_LOG_WARN,
                          "event stalled: still PENDING; not re-submitted (see "
                          "docs/OPERATIONS.md)",
                          (struct vn_log_field[]){VN_LF_S("eventId", e->event_id),
                                                  VN_LF_S("uId", e->uid),
                                                  VN_LF_I("pendingMs", now - e->requested_ms)},
                          3);
            continue;
        case VN_TRACK_MISSING:
        case VN_TRACK_POLL:
            s = session_for(ss, st, env, e->uid);
            if (!s)
                return;
            if (d.action == VN_TRACK_MISSING) {
                missing(w, s, e);
                return;
            }
            if (vn_tracker_poll(s, e->event_id, &res, &err) != 0 ||
                !strcmp(res.status, "NOT_FOUND")) {
                vn_log_warn("event %s: Event Status failed: %s", e->event_id, err.msg);
                return;
            }
            free(it->strs[5]);
            it->strs[5] = strdup(res.status);
            e->status = it->strs[5];
            e->num_requested = res.num_requested;
            e->num_completed = res.num_completed;
            e->last_poll_ms = now;
            e->polls++;
            if (!e->status)
                return;
            continue;
        }
    }
}

int vn_tracker_pass(struct vn_store *st, struct vn_session_env *env, const char *uid,
                    const struct vn_tracker_config *c, int64_t now_ms)
{
    struct list l = {0};
    struct sessions *ss;
    struct vn_writer *own = NULL, *w = env->writer;
    int rc = vn_store_events_tracking(st, uid, collect, &l);

    if (rc) {
        free_list(&l);
        return rc;
    }
    if (!w && l.n && !(w = own = vn_writer_inline(st))) {
        free_list(&l);
        return -ENOMEM;
    }
    ss = l.n ? calloc(1, sizeof(*ss)) : NULL;
    for (size_t i = 0; ss && i < l.n; i++)
        step(st, w, env, ss, &l.v[i], c, now_ms);
    for (int i = 0; ss && i < ss->n; i++)
        if (ss->state[i] > 0)
            vn_session_release(&ss->s[i]);
    free(ss);
    free_list(&l);
    vn_writer_free(own);
    return 0;
}
