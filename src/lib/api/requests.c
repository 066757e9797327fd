/*
 * requests.c - the manage routes of contract section 8: Apple's asynchronous requests and a
 * sync over HTTP, scope manage.
 *
 *   POST /v1/locations/{uId}/assets/associate|disassociate|revoke
 *   POST /v1/locations/{uId}/users/create|update|retire
 *   POST /v1/locations/{uId}/subscriptions/associate|disassociate
 *   POST /v1/locations/{uId}/sync
 *
 * A request is validated on the HTTP thread (400 names the field and the value), then queued
 * for the requests thread and suspended: talking to Apple never holds an HTTP thread. The
 * thread runs the library's workflows, as the CLI does (workflow_request.h: split at Service
 * Config's limits, duplicates refused, each request sent and tracked as an event;
 * workflow_sync.h for a sync), through serve's one writer, and answers with the eventIds.
 *
 * Idempotency-Key (per API key): the first answer is kept durably (store.h) and given again to
 * every retry with the same key and request; the same key with another request is 422; a
 * retry while the first is running, or after serve stopped during it (its outcome is then
 * unknown), is 409 and is never sent to Apple again.
 */
#include "api_impl.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/manage.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/workflow_request.h"
#include "vppnotify/workflow_sync.h"
#include "vppnotify/writer.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX    64
#define IDEM_KEY_MAX 255

enum rkind { RJ_MANAGE, RJ_SYNC };

struct rjob {
    struct vn__api_requests *rq;
    struct vn_api_req *req;
    enum rkind kind;
    enum vn_manage_op op;
    char uid[VN_ID_MAX + 1];
    int full;
    /* the request, owned */
    struct vn_manage m;
    struct vn_manage_asset *assets;
    struct vn_manage_user *people;
    char **strings; /* every string the arrays of m point to */
    size_t nstrings;
    /* Idempotency-Key */
    char scope[VN_API_NAME_MAX + 1];
    char idem[IDEM_KEY_MAX + 1];
    uint8_t hash[VN_DIGEST_LEN];
    /* the answer */
    unsigned status;
    char *answer; /* JSON text, owned */
    struct rjob *next;
};

struct vn__api_requests {
    struct vn_api *api;
    struct vn_apple *apple;   /* borrowed: serve's client */
    const char *key_file;     /* borrowed */
    struct vn_writer *writer; /* borrowed: serve's writer */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rjob *head, *tail;
    size_t queued;
    int stop;
    int started;
    pthread_t thread;
};

struct route {
    const char *path;
    enum rkind kind;
    enum vn_manage_op op;
};

static const struct route routes[] = {
    {"/v1/locations/{uId}/assets/associate", RJ_MANAGE, VN_MO_ASSETS_ASSOCIATE},
    {"/v1/locations/{uId}/assets/disassociate", RJ_MANAGE, VN_MO_ASSETS_DISASSOCIATE},
    {"/v1/locations/{uId}/assets/revoke", RJ_MANAGE, VN_MO_ASSETS_REVOKE},
    {"/v1/locations/{uId}/users/create", RJ_MANAGE, VN_MO_USERS_CREATE},
    {"/v1/locations/{uId}/users/update", RJ_MANAGE, VN_MO_USERS_UPDATE},
    {"/v1/locations/{uId}/users/retire", RJ_MANAGE, VN_MO_USERS_RETIRE},
    {"/v1/locations/{uId}/subscriptions/associate", RJ_MANAGE, VN_MO_SUBS_ASSOCIATE},
    {"/v1/locations/{uId}/subscriptions/disassociate", RJ_MANAGE, VN_MO_SUBS_DISASSOCIATE},
    {"/v1/locations/{uId}/sync", RJ_SYNC, 0},
};

static void job_free(void *state)
{
    struct rjob *j = state;

    if (!j)
        return;
    for (size_t i = 0; i < j->nstrings; i++)
        free(j->strings[i]);
    free(j->strings);
    free(j->assets);
    free(j->people);
    free(j->answer);
    free(j);
}

/* ---- reading the request --------------------------------------------------------------- */

/* Keep a copy of s; NULL when out of memory. */
static const char *keep(struct rjob *j, const char *s)
{
    char **v = realloc(j->strings, (j->nstrings + 1) * sizeof(*v));

    if (!v)
        return NULL;
    j->strings = v;
    v[j->nstrings] = strdup(s);
    return v[j->nstrings] ? v[j->nstrings++] : NULL;
}

/* An adamId: a string of digits or a non-negative integer, as decimal text. */
static int adam_text(const json_t *v, char out[VN_ADAM_ID_MAX + 1])
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(out, VN_ADAM_ID_MAX + 1, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    if (json_is_string(v) && vn_is_digits(json_string_value(v), strlen(json_string_value(v))) &&
        strlen(json_string_value(v)) <= VN_ADAM_ID_MAX) {
        vn_strlcpy(out, json_string_value(v), VN_ADAM_ID_MAX + 1);
        return 0;
    }
    return VN_EPARSE;
}

/* An array of strings at body[name] (absent: none) into *out. */
static int strings(struct rjob *j, const json_t *body, const char *name, const char *const **out,
                   size_t *n, char *why, size_t whylen)
{
    const json_t *a = json_object_get(body, name), *v;
    const char **p;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!a)
        return 0;
    if (!json_is_array(a)) {
        snprintf(why, whylen, "%s: expected an array of strings", name);
        return VN_EPARSE;
    }
    p = calloc(json_array_size(a) + 1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) > 256) {
            snprintf(why, whylen, "%s[%zu]: expected a non-empty string of at most 256 characters",
                     name, i);
            free(p);
            return VN_EPARSE;
        }
        if (!(p[i] = keep(j, json_string_value(v)))) {
            free(p);
            return -ENOMEM;
        }
    }
    /* The array itself is kept among the strings, to be freed with them. */
    if (!keep(j, "")) {
        free(p);
        return -ENOMEM;
    }
    free(j->strings[j->nstrings - 1]);
    j->strings[j->nstrings - 1] = (char *)p;
    *out = p;
    *n = json_array_size(a);
    return 0;
}

/* The members of a manage route's body (the rest: read_rest), into j->m. 0, or VN_EPARSE with
 * why naming the member, or -ENOMEM. */
static int read_manage(struct rjob *j, const json_t *body, char *why, size_t whylen)
{
    const char *known;
    const json_t *v, *el;
    const char *key;
    size_t i;

    switch (j->op) {
    case VN_MO_ASSETS_ASSOCIATE:
    case VN_MO_ASSETS_DISASSOCIATE:
        known = "assets, serialNumbers, clientUserIds";
        break;
    case VN_MO_ASSETS_REVOKE:
        known = "serialNumbers, clientUserIds";
        break;
    case VN_MO_USERS_CREATE:
    case VN_MO_USERS_UPDATE:
    case VN_MO_USERS_RETIRE:
        known = "users";
        break;
    case VN_MO_SUBS_ASSOCIATE:
        known = "adamIds, clientUserIds, renewing";
        break;
    default:
        known = "adamIds, clientUserIds, deferred";
        break;
    }
    json_object_foreach((json_t *)body, key, v)
    {
        /* The member must be one of the comma-separated names of known. */
        const char *p = strstr(known, key);
        size_t n = strlen(key);
        if (!n || !p || (p != known && p[-1] != ' ') || (p[n] != ',' && p[n] != '\0')) {
            snprintf(why, whylen, "member '%s' does not belong to %s %s (it takes %s)", key,
                     vn_manage_kind(j->op), vn_manage_type(j->op), known);
            return VN_EPARSE;
        }
    }
    j->m.op = j->op;
    if ((v = json_object_get(body, "assets"))) {
        if (!json_is_array(v)) {
            snprintf(why, whylen, "assets: expected an array of {adamId, pricingParam}");
            return VN_EPARSE;
        }
        j->assets = calloc(json_array_size(v) + 1, sizeof(*j->assets));
        if (!j->assets)
            return -ENOMEM;
        json_array_foreach(v, i, el)
        {
            const json_t *pp = json_object_get(el, "pricingParam");
            if (!json_is_object(el) ||
                adam_text(json_object_get(el, "adamId"), j->assets[i].adam_id) != 0) {
                snprintf(why, whylen, "assets[%zu].adamId: expected digits (a string or a number)",
                         i);
                return VN_EPARSE;
            }
            if (pp && (!json_is_string(pp) || (strcmp(json_string_value(pp), "STDQ") != 0 &&
                                               strcmp(json_string_value(pp), "PLUS") != 0))) {
                snprintf(why, whylen, "assets[%zu].pricingParam: expected STDQ or PLUS", i);
                return VN_EPARSE;
            }
            vn_strlcpy(j->assets[i].pricing_param, pp ? json_string_value(pp) : "STDQ",
                       sizeof(j->assets[i].pricing_param));
        }
        j->m.assets = j->assets;
        j->m.nassets = json_array_size(v);
    }
    return 0;
}

static int read_rest(struct rjob *j, const json_t *body, char *why, size_t whylen)
{
    const json_t *v;
    size_t i;
    int rc;

    rc = strings(j, body, "serialNumbers", &j->m.serials, &j->m.nserials, why, whylen);
    if (!rc)
        rc = strings(j, body, "clientUserIds", &j->m.client_user_ids, &j->m.nusers, why, whylen);
    if (rc)
        return rc;
    if ((v = json_object_get(body, "adamIds"))) {
        const char **p;
        const json_t *a;
        if (!json_is_array(v)) {
            snprintf(why, whylen, "adamIds: expected an array of adamIds");
            return VN_EPARSE;
        }
        p = calloc(json_array_size(v) + 1, sizeof(*p));
        if (!p || !keep(j, ""))
            return free(p), -ENOMEM;
        free(j->strings[j->nstrings - 1]);
        j->strings[j->nstrings - 1] = (char *)p;
        json_array_foreach(v, i, a)
        {
            char text[VN_ADAM_ID_MAX + 1];
            if (adam_text(a, text) != 0) {
                snprintf(why, whylen, "adamIds[%zu]: expected digits (a string or a number)", i);
                return VN_EPARSE;
            }
            if (!(p[i] = keep(j, text)))
                return -ENOMEM;
        }
        j->m.adam_ids = p;
        j->m.nadams = json_array_size(v);
    }
    if ((v = json_object_get(body, "users"))) {
        const json_t *u;
        if (!json_is_array(v)) {
            snprintf(why, whylen,
                     "users: expected an array of {clientUserId, email, "
                     "managedAppleId}");
            return VN_EPARSE;
        }
        j->people = calloc(json_array_size(v) + 1, sizeof(*j->people));
        if (!j->people)
            return -ENOMEM;
        json_array_foreach(v, i, u)
        {
            const json_t *id = json_object_get(u, "clientUserId");
            const json_t *email = json_object_get(u, "email");
            const json_t *mai = json_object_get(u, "managedAppleId");
            if (!json_is_string(id) || !*json_string_value(id)) {
                snprintf(why, whylen, "users[%zu].clientUserId: expected a non-empty string", i);
                return VN_EPARSE;
            }
            if ((email && !json_is_string(email)) || (mai && !json_is_string(mai))) {
                snprintf(why, whylen, "users[%zu]: email and managedAppleId must be strings", i);
                return VN_EPARSE;
            }
            if (!(j->people[i].client_user_id = keep(j, json_string_value(id))) ||
                (email && !(j->people[i].email = keep(j, json_string_value(email)))) ||
                (mai && !(j->people[i].managed_apple_id = keep(j, json_string_value(mai)))))
                return -ENOMEM;
        }
        j->m.people = j->people;
        j->m.npeople = json_array_size(v);
    }
    if ((v = json_object_get(body, "renewing"))) {
        if (!json_is_boolean(v)) {
            snprintf(why, whylen, "renewing: expected true or false");
            return VN_EPARSE;
        }
        j->m.renewing = json_is_true(v);
    }
    if ((v = json_object_get(body, "deferred"))) {
        if (!json_is_boolean(v)) {
            snprintf(why, whylen, "deferred: expected true or false");
            return VN_EPARSE;
        }
        j->m.deferred = json_is_true(v);
    }
    return 0;
}

/* ---- answers ----------------------------------------------------------------------------- */

static void set_answer(struct rjob *j, unsigned status, json_t *body)
{
    j->status = status;
    free(j->answer);
    j->answer = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!j->answer) {
        j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        j->answer = strdup("{\"error\":\"out of memory\"}");
    }
}

static void set_error(struct rjob *j, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct rjob *j, unsigned status, const char *fmt, ...)
{
    char msg[VN_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    set_answer(j, status, json_pack("{ss}", "error", msg));
}

/* The HTTP status of a failed session open or Apple call. */
static unsigned status_of(int rc)
{
    switch (rc) {
    case VN_ENOTFOUND:
        return MHD_HTTP_NOT_FOUND;
    case VN_EAUTH:
        return MHD_HTTP_CONFLICT; /* the location's token is expired or revoked */
    case VN_EUSAGE:
    case VN_EPARSE:
    case VN_EDUP:
        return MHD_HTTP_BAD_REQUEST;
    case VN_ESTORE:
    case VN_EFULL:
    case VN_ESHUTDOWN:
    case VN_EUNAVAIL: /* the database: no request was made */
    case VN_ERETRY:   /* another process kept the location's lock too long: none made */
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        return MHD_HTTP_BAD_GATEWAY; /* Apple refused, or could not be reached */
    }
}

static void on_sent(void *ud, const char *event_id, const struct vn_manage_request *r)
{
    json_t *events = ud;

    json_array_append_new(events, json_pack("{ss sI}", "eventId", event_id, "expectedItems",
                                            (json_int_t)r->expected));
}

/* The workflow this thread runs with: serve's writer and Apple client, its own store handle. */
static void workflow_of(const struct vn__api_requests *rq, struct vn_store *st,
                        struct vn_workflow *wf)
{
    *wf = (struct vn_workflow){
        .st = st, .w = rq->writer, .apple = rq->apple, .key_file = rq->key_file};
}

/* What the CLI's `assets associate` (and its siblings) do, for one location (workflow_request.h).
 */
static void run_manage(struct vn__api_requests *rq, struct vn_store *st, struct rjob *j)
{
    struct vn_workflow wf;
    json_t *events = json_array();
    struct vn_request_progress p = {.sent = on_sent, .ud = events};
    struct vn_request_result r = {0};
    struct vn_error err = {0};
    int rc;

    workflow_of(rq, st, &wf);
    rc = vn_workflow_request(&wf, j->uid, &j->m, &p, &r, &err);
    if (rc && !r.sent && !r.planned) {
        set_error(j, status_of(rc), "%s", err.msg);
    } else if (rc) {
        /* Some may have gone out: say which, so that a client tracks them. */
        set_answer(j, status_of(rc),
                   json_pack("{ss ss ss ss sI sO}", "error", err.msg, "uId", j->uid, "kind",
                             vn_manage_kind(j->op), "type", vn_manage_type(j->op), "requests",
                             (json_int_t)r.planned, "events", events));
    } else {
        set_answer(j, MHD_HTTP_OK,
                   json_pack("{ss ss ss sI sO}", "uId", j->uid, "kind", vn_manage_kind(j->op),
                             "type", vn_manage_type(j->op), "requests", (json_int_t)r.planned,
                             "events", events));
    }
    json_decref(events);
    vn_request_result_release(&r);
}

struct sync_done {
    json_t *report;
};

static void on_synced(void *ud, const char *uid, int rc, const struct vn_sync_report *r,
                      const struct vn_error *err)
{
    struct sync_done *d = ud;
    char *text;

    (void)uid;
    (void)err;
    if (rc || !r)
        return;
    text = vn_sync_report_json(r);
    d->report = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
}

/* A sync of one location now (workflow_sync.h). */
static void run_sync(struct vn__api_requests *rq, struct vn_store *st, struct rjob *j)
{
    struct vn_workflow wf;
    struct sync_done d = {0};
    struct vn_workflow_sync_options o = {
        .uid = j->uid, .full = j->full, .done = on_synced, .ud = &d};
    struct vn_workflow_sync_result r;
    struct vn_error err = {0};
    int rc;

    workflow_of(rq, st, &wf);
    rc = vn_workflow_sync(&wf, &o, &r, &err);
    if (rc) {
        set_error(j, status_of(rc), "%s", err.msg);
    } else {
        if (json_is_object(d.report))
            json_object_set_new(d.report, "uId", json_string(j->uid));
        set_answer(j, MHD_HTTP_OK, d.report);
        d.report = NULL;
    }
    json_decref(d.report);
}

/* ---- Idempotency-Key, through the writer --------------------------------------------------- */

struct idem_call {
    struct rjob *j;
};

static int idem_begin(struct vn_store *st, void *ud)
{
    struct rjob *j = ud;

    return vn_store_idempotency_begin(st, j->scope, j->idem, j->hash, vn_now_ms());
}

static int idem_finish(struct vn_store *st, void *ud)
{
    struct rjob *j = ud;

    return vn_store_idempotency_finish(st, j->scope, j->idem, (int)j->status, j->answer);
}

/* 1 when the job is answered from what an earlier request with its key did (or may have). */
static int idem_known(struct vn__api_requests *rq, struct vn_store *st, struct rjob *j)
{
    struct vn_idempotency known;
    struct vn_error err = {0};
    int rc = vn_store_idempotency_get(st, j->scope, j->idem, &known);

    if (rc == VN_ENOTFOUND) {
        rc = vn_writer_call(rq->writer, idem_begin, j, &err);
        if (rc == 0)
            return 0;
        if (rc != VN_EDUP) {
            set_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot record the Idempotency-Key: %s",
                      err.msg);
            return 1;
        }
        rc = vn_store_idempotency_get(st, j->scope, j->idem, &known); /* another got there */
    }
    if (rc) {
        set_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot read the Idempotency-Key: %s",
                  vn_store_last_error(st));
        return 1;
    }
    if (memcmp(known.request_hash, j->hash, VN_DIGEST_LEN) != 0) {
        set_error(j, MHD_HTTP_UNPROCESSABLE_CONTENT,
                  "Idempotency-Key '%s' was used for another request (another route or body); "
                  "use a new key for a new request",
                  j->idem);
    } else if (!known.done) {
        set_error(j, MHD_HTTP_CONFLICT,
                  "the request with Idempotency-Key '%s' is still running, or serve stopped "
                  "while it ran (then its outcome is unknown: see GET /v1/events?uId=%s); it is "
                  "not sent again",
                  j->idem, j->uid);
    } else {
        j->status = (unsigned)known.status;
        free(j->answer);
        j->answer = known.body;
        known.body = NULL;
        if (!j->answer)
            j->answer = strdup("{}");
    }
    free(known.body);
    return 1;
}

/* ---- the thread ------------------------------------------------------------------------- */

static void run_job(struct vn__api_requests *rq, struct vn_store *st, struct rjob *j)
{
    int idem = j->idem[0] != '\0';

    if (idem && idem_known(rq, st, j))
        return;
    if (j->kind == RJ_SYNC)
        run_sync(rq, st, j);
    else
        run_manage(rq, st, j);
    if (idem) {
        struct vn_error err = {0};
        if (vn_writer_call(rq->writer, idem_finish, j, &err) != 0)
            vn_log_warn("api: the answer for Idempotency-Key '%s' was not kept (%s); a retry "
                        "gets 409",
                        j->idem, err.msg);
    }
}

static void *requests_main(void *arg)
{
    struct vn__api_requests *rq = arg;
    struct vn_store *st = vn_api_store_acquire(rq->api);

    pthread_mutex_lock(&rq->lock);
    for (;;) {
        struct rjob *j;

        while (!rq->head && !rq->stop)
            pthread_cond_wait(&rq->cond, &rq->lock);
        j = rq->head;
        if (!j)
            break; /* stopping, and nothing queued */
        rq->head = j->next;
        if (!rq->head)
            rq->tail = NULL;
        rq->queued--;
        pthread_mutex_unlock(&rq->lock);
        if (rq->stop)
            set_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "vppnotify is stopping; nothing was sent");
        else if (!st)
            set_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "the store cannot be opened");
        else
            run_job(rq, st, j);
        vn_api_resume(j->req); /* last: the request may end (and free j) at once */
        pthread_mutex_lock(&rq->lock);
    }
    pthread_mutex_unlock(&rq->lock);
    vn_api_store_release(rq->api, st);
    return NULL;
}

/* ---- the routes --------------------------------------------------------------------------- */

static int on_done(void *ud, struct vn_api_req *req)
{
    struct rjob *j = vn_api_req_state(req);

    if (j->status == MHD_HTTP_SERVICE_UNAVAILABLE)
        vn_api_req_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    return vn_api_respond(req, j->status, "application/json", j->answer, strlen(j->answer));
}

static int content_type_json(const char *ct)
{
    const char *want = "application/json";

    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    if (vn_strncasecmp_ascii(ct, want, strlen(want)) != 0)
        return 0;
    ct += strlen(want);
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static int post_request(void *ud, struct vn_api_req *req)
{
    const struct route *r = ud;
    struct vn__api_requests *rq = vn__api_requests_of(vn_api_req_api(req));
    const char *uid = vn_api_req_arg(req, "uId"), *idem = vn_api_req_header(req, "Idempotency-Key");
    struct vn_error err = {0};
    char why[VN_ERROR_MSG_MAX] = "";
    struct rjob *j;
    json_t *body = NULL;
    size_t len;
    const char *text = vn_api_req_body(req, &len);
    int rc;

    if (vn_api_req_query_unknown(req, (const char *const[]){NULL}))
        return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                    "unknown query parameter '%s' (this route takes none)",
                                    vn_api_req_query_unknown(req, (const char *const[]){NULL}));
    if (strlen(uid) > VN_ID_MAX)
        return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST, "uId '%.40s...' is too long", uid);
    if (idem && (!*idem || strlen(idem) > IDEM_KEY_MAX))
        return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                    "Idempotency-Key must be 1..%d characters", IDEM_KEY_MAX);
    if (len || r->kind == RJ_MANAGE) {
        if (!content_type_json(vn_api_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE)))
            return vn_api_respond_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                        "Content-Type must be application/json");
        body = vn_json_load(text, len, VN_JSON_DEFAULT_DEPTH, &err);
        if (!body)
            return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
        if (!json_is_object(body)) {
            json_decref(body);
            return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                        "the body must be a JSON object");
        }
    }
    j = calloc(1, sizeof(*j));
    if (!j) {
        json_decref(body);
        return -ENOMEM;
    }
    j->rq = rq;
    j->req = req;
    j->kind = r->kind;
    j->op = r->op;
    vn_strlcpy(j->uid, uid, sizeof(j->uid));
    if (r->kind == RJ_SYNC) {
        const json_t *full = json_object_get(body, "full");
        const char *k;
        json_t *v;
        rc = 0;
        json_object_foreach(body, k, v) if (strcmp(k, "full") != 0)
        {
            snprintf(why, sizeof(why), "unknown member '%s' (full)", k);
            rc = VN_EPARSE;
        }
        if (!rc && full && !json_is_boolean(full)) {
            snprintf(why, sizeof(why), "full: expected true or false");
            rc = VN_EPARSE;
        }
        j->full = json_is_true(full);
    } else {
        rc = read_manage(j, body, why, sizeof(why));
        if (!rc)
            rc = read_rest(j, body, why, sizeof(why));
    }
    json_decref(body);
    if (rc) {
        job_free(j);
        if (rc == -ENOMEM)
            return rc;
        return vn_api_respond_error(req, MHD_HTTP_BAD_REQUEST, "%s", why);
    }
    if (idem) {
        /* The request as it was asked: method, path, body. */
        crypto_hash_sha256_state h;
        vn_strlcpy(j->idem, idem, sizeof(j->idem));
        vn_strlcpy(j->scope, vn_api_req_key_name(req), sizeof(j->scope));
        crypto_hash_sha256_init(&h);
        crypto_hash_sha256_update(&h, (const unsigned char *)vn_api_req_path(req),
                                  strlen(vn_api_req_path(req)) + 1);
        crypto_hash_sha256_update(&h, (const unsigned char *)text, len);
        crypto_hash_sha256_final(&h, j->hash);
    }
    pthread_mutex_lock(&rq->lock);
    if (rq->stop || rq->queued >= QUEUE_MAX) {
        int stopping = rq->stop;
        pthread_mutex_unlock(&rq->lock);
        job_free(j);
        vn_api_req_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "5");
        return vn_api_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
                                    stopping ? "vppnotify is stopping; nothing was sent"
                                             : "too many requests to Apple waiting; retry later");
    }
    vn_api_suspend(req, on_done, j, job_free, 0);
    if (rq->tail)
        rq->tail->next = j;
    else
        rq->head = j;
    rq->tail = j;
    rq->queued++;
    pthread_cond_signal(&rq->cond);
    pthread_mutex_unlock(&rq->lock);
    return 0;
}

struct vn__api_requests *vn__api_requests_start(struct vn_api *api, struct vn_apple *apple,
                                                const struct vn_webhook_options *wo,
                                                struct vn_error *err)
{
    struct vn__api_requests *rq = calloc(1, sizeof(*rq));

    if (!rq) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    rq->api = api;
    rq->apple = apple;
    rq->key_file = wo->key_file;
    rq->writer = wo->writer;
    pthread_mutex_init(&rq->lock, NULL);
    pthread_cond_init(&rq->cond, NULL);
    if (pthread_create(&rq->thread, NULL, requests_main, rq) != 0) {
        vn_error_set(err, -EAGAIN, "cannot start the API's requests thread");
        vn__api_requests_stop(rq);
        return NULL;
    }
    rq->started = 1;
    return rq;
}

void vn__api_requests_stop(struct vn__api_requests *rq)
{
    if (!rq)
        return;
    if (rq->started) {
        pthread_mutex_lock(&rq->lock);
        rq->stop = 1;
        pthread_cond_signal(&rq->cond);
        pthread_mutex_unlock(&rq->lock);
        pthread_join(rq->thread, NULL); /* the job running ends; the queued ones get 503 */
    }
    pthread_cond_destroy(&rq->cond);
    pthread_mutex_destroy(&rq->lock);
    free(rq);
}

int vn__api_mount_requests(struct vn_api *api)
{
    int rc = 0;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && rc == 0; i++)
        rc = vn_api_mount(api, "POST", routes[i].path, VN_API_MANAGE, post_request,
                          (void *)&routes[i]);
    return rc;
}
