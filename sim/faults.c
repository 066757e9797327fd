/*
 * faults.c - see faults.h.
 */
#include "faults.h"

#include "config.h"
#include "rng.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_MAX   1000000
#define RETRY_MAX   86400
#define DELAY_MAX   86400000
#define LATENCY_MAX 60000
#define PATH_LEN    128

/* An API fault: the next `count` requests, and/or each with `probability`. */
struct forced {
    long long count;
    double probability;
    long long retry_after;
    int number; /* apiError only */
    char path[PATH_LEN];
};

struct async_fault {
    long long count;
    double probability;
    int number;
    char kind[16]; /* "" = every kind of event */
};

struct settings {
    double duplicate, drop, reorder, delay;
    long long delay_by_ms;
    long long latency_ms; /* every API answer held this long */
    struct forced http429, http503, http500, api_error, error_body;
    struct async_fault async_error;
    long long version_change;
};

struct sim_faults {
    pthread_mutex_t mu;
    struct sim_rng *rng;
    struct settings v;
};

int sim_parse_prob(const char *text, double *p)
{
    char *end;
    double v;

    if (!text || !*text)
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (errno || *end || isnan(v) || v < 0 || v > 1)
        return -1;
    *p = v;
    return 0;
}

static void fault_defaults(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    s->delay_by_ms = 30000;
    s->http429.retry_after = s->http503.retry_after = s->http500.retry_after = 1;
    s->api_error.retry_after = 1;
}

int sim_faults_new(const struct sim_config *c, struct sim_rng *rng, struct sim_faults **out,
                   struct vn_error *err)
{
    struct sim_faults *f = calloc(1, sizeof(*f));
    struct {
        const char *name, *text;
        double *dst;
    } probs[4];

    *out = NULL;
    if (!f)
        return vn_error_set(err, -ENOMEM, "out of memory");
    fault_defaults(&f->v);
    probs[0] = (typeof(probs[0])){"fault-duplicate", c->fault_duplicate, &f->v.duplicate};
    probs[1] = (typeof(probs[0])){"fault-drop", c->fault_drop, &f->v.drop};
    probs[2] = (typeof(probs[0])){"fault-reorder", c->fault_reorder, &f->v.reorder};
    probs[3] = (typeof(probs[0])){"fault-delay", c->fault_delay, &f->v.delay};
    for (size_t i = 0; i < 4; i++)
        if (probs[i].text && sim_parse_prob(probs[i].text, probs[i].dst) != 0) {
            free(f);
            return vn_error_set(err, VN_EUSAGE,
                                "option '--%s' value '%s': expected a probability from 0 to 1",
                                probs[i].name, probs[i].text);
        }
    if (c->fault_path && strlen(c->fault_path) >= PATH_LEN) {
        free(f);
        return vn_error_set(err, VN_EUSAGE, "option '--fault-path' value '%s': longer than %d",
                            c->fault_path, PATH_LEN - 1);
    }
    f->v.delay_by_ms = c->fault_delay_by_ms;
    f->v.latency_ms = c->fault_latency_ms;
    f->v.http429.count = c->fault_429;
    f->v.http503.count = c->fault_503;
    f->v.http500.count = c->fault_500;
    f->v.error_body.count = c->fault_error_body;
    f->v.http429.retry_after = f->v.http503.retry_after = c->fault_retry_after;
    f->v.http500.retry_after = c->fault_retry_after;
    if (c->fault_path) {
        vn_strlcpy(f->v.http429.path, c->fault_path, PATH_LEN);
        vn_strlcpy(f->v.http503.path, c->fault_path, PATH_LEN);
        vn_strlcpy(f->v.http500.path, c->fault_path, PATH_LEN);
        vn_strlcpy(f->v.error_body.path, c->fault_path, PATH_LEN);
    }
    f->v.version_change = c->fault_version_change;
    f->rng = rng;
    pthread_mutex_init(&f->mu, NULL);
    *out = f;
    return 0;
}

void sim_faults_free(struct sim_faults *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- JSON -------------------------------------------------------------------------------- */

static json_t *forced_json(const struct forced *x, int with_retry, int with_number)
{
    json_t *o =
        json_pack("{s:I, s:f}", "count", (json_int_t)x->count, "probability", x->probability);

    if (with_retry)
        json_object_set_new(o, "retryAfter", json_integer(x->retry_after));
    if (with_number)
        json_object_set_new(o, "errorNumber", x->number ? json_integer(x->number) : json_null());
    json_object_set_new(o, "path", x->path[0] ? json_string(x->path) : json_null());
    return o;
}

json_t *sim_faults_json(struct sim_faults *f)
{
    struct settings v;

    pthread_mutex_lock(&f->mu);
    v = f->v;
    pthread_mutex_unlock(&f->mu);
    return json_pack(
        "{s:f, s:f, s:f, s:f, s:I, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:f, s:o, s:o},"
        " s:I, s:I}",
        "duplicate", v.duplicate, "drop", v.drop, "reorder", v.reorder, "delay", v.delay,
        "delayByMs", (json_int_t)v.delay_by_ms, "http429", forced_json(&v.http429, 1, 0), "http503",
        forced_json(&v.http503, 1, 0), "http500", forced_json(&v.http500, 1, 0), "apiError",
        forced_json(&v.api_error, 1, 1), "errorBody", forced_json(&v.error_body, 0, 0),
        "asyncError", "count", (json_int_t)v.async_error.count, "probability",
        v.async_error.probability, "errorNumber",
        v.async_error.number ? json_integer(v.async_error.number) : json_null(), "kind",
        v.async_error.kind[0] ? json_string(v.async_error.kind) : json_null(), "versionChange",
        (json_int_t)v.version_change, "latencyMs", (json_int_t)v.latency_ms);
}

static int prob_value(const json_t *v, const char *name, double *out, struct vn_error *err)
{
    double p = json_number_value(v);

    if (!json_is_number(v) || isnan(p) || p < 0 || p > 1)
        return vn_error_set(err, VN_EPARSE, "'%s' must be a probability from 0 to 1", name);
    *out = p;
    return 0;
}

static int int_value(const json_t *v, const char *name, long long max, long long *out,
                     struct vn_error *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return vn_error_set(err, VN_EPARSE, "'%s' must be an integer from 0 to %lld", name, max);
    *out = json_integer_value(v);
    return 0;
}

/* An error number that may be forced: synchronous (apiError) or asynchronous (asyncError). */
static int number_ok(long long n, int async)
{
    const struct vn_apple_error_info *e = vn_apple_error_lookup((int)n);

    if (!e || n > 99999)
        return 0;
    if (async)
        return e->http_status == 0 || n == VN_APPLE_INTERNAL_ERROR || n == VN_APPLE_USER_NOT_FOUND;
    return e->http_status != 0;
}

static int set_forced(struct forced *x, const char *name, const json_t *v, int api_error,
                      struct vn_error *err)
{
    struct forced n = *x;
    const char *k;
    json_t *e;

    if (json_is_integer(v)) /* a bare number: the count */
        return int_value(v, name, COUNT_MAX, &x->count, err);
    if (!json_is_object(v))
        return vn_error_set(err, VN_EPARSE, "'%s' must be an object or a count", name);
    json_object_foreach((json_t *)v, k, e)
    {
        char what[64];
        long long num = 0;
        int rc = 0;
        snprintf(what, sizeof(what), "%s.%s", name, k);
        if (!strcmp(k, "count"))
            rc = int_value(e, what, COUNT_MAX, &n.count, err);
        else if (!strcmp(k, "probability"))
            rc = prob_value(e, what, &n.probability, err);
        else if (!strcmp(k, "retryAfter"))
            rc = int_value(e, what, RETRY_MAX, &n.retry_after, err);
        else if (!strcmp(k, "path")) {
            if (json_is_null(e))
                n.path[0] = '\0';
            else if (!json_is_string(e) || json_string_length(e) >= PATH_LEN ||
                     strncmp(json_string_value(e), "/mdm/v2/", 8) != 0)
                rc = vn_error_set(err, VN_EPARSE,
                                  "'%s' must be a path such as \"/mdm/v2/assets\" (at most %d"
                                  " characters)",
                                  what, PATH_LEN - 1);
            else
                vn_strlcpy(n.path, json_string_value(e), PATH_LEN);
        } else if (api_error && !strcmp(k, "errorNumber")) {
            rc = int_value(e, what, 99999, &num, err);
            if (!rc && !number_ok(num, 0))
                rc = vn_error_set(err, VN_EPARSE,
                                  "'%s' value %lld: not a synchronous error number of Apple's"
                                  " table (see GET /mdm/v2/service/config)",
                                  what, num);
            n.number = (int)num;
        } else
            rc = vn_error_set(err, VN_EPARSE, "'%s': unknown key '%s'", name, k);
        if (rc)
            return rc;
    }
    if (api_error && !n.number && (n.count || n.probability > 0))
        return vn_error_set(err, VN_EPARSE, "'%s' needs an errorNumber", name);
    *x = n;
    return 0;
}

static int set_async(struct async_fault *x, const json_t *v, struct vn_error *err)
{
    struct async_fault n = *x;
    const char *k;
    json_t *e;

    if (!json_is_object(v))
        return vn_error_set(err, VN_EPARSE, "'asyncError' must be an object");
    json_object_foreach((json_t *)v, k, e)
    {
        long long num = 0;
        int rc = 0;
        if (!strcmp(k, "count"))
            rc = int_value(e, "asyncError.count", COUNT_MAX, &n.count, err);
        else if (!strcmp(k, "probability"))
            rc = prob_value(e, "asyncError.probability", &n.probability, err);
        else if (!strcmp(k, "errorNumber")) {
            rc = int_value(e, "asyncError.errorNumber", 99999, &num, err);
            if (!rc && !number_ok(num, 1))
                rc = vn_error_set(err, VN_EPARSE,
                                  "'asyncError.errorNumber' value %lld: not an asynchronous error"
                                  " number (9603, 9609, 9635, 9641, 9644, 9709, 9716)",
                                  num);
            n.number = (int)num;
        } else if (!strcmp(k, "kind")) {
            const char *s = json_string_value(e);
            if (json_is_null(e))
                n.kind[0] = '\0';
            else if (!s ||
                     (strcmp(s, "assets") && strcmp(s, "users") && strcmp(s, "subscriptions")))
                rc = vn_error_set(err, VN_EPARSE,
                                  "'asyncError.kind' must be \"assets\", \"users\","
                                  " \"subscriptions\" or null");
            else
                vn_strlcpy(n.kind, s, sizeof(n.kind));
        } else
            rc = vn_error_set(err, VN_EPARSE, "'asyncError': unknown key '%s'", k);
        if (rc)
            return rc;
    }
    if (!n.number && (n.count || n.probability > 0))
        return vn_error_set(err, VN_EPARSE, "'asyncError' needs an errorNumber");
    *x = n;
    return 0;
}

int sim_faults_update(struct sim_faults *f, const json_t *body, struct vn_error *err)
{
    struct settings v;
    const char *k;
    json_t *e;
    int rc = 0;

    pthread_mutex_lock(&f->mu);
    v = f->v;
    if (json_is_true(json_object_get(body, "reset")))
        fault_defaults(&v);
    json_object_foreach((json_t *)body, k, e)
    {
        double *prob = !strcmp(k, "duplicate") ? &v.duplicate
                       : !strcmp(k, "drop")    ? &v.drop
                       : !strcmp(k, "reorder") ? &v.reorder
                       : !strcmp(k, "delay")   ? &v.delay
                                               : NULL;
        struct forced *x = !strcmp(k, "http429")     ? &v.http429
                           : !strcmp(k, "http503")   ? &v.http503
                           : !strcmp(k, "http500")   ? &v.http500
                           : !strcmp(k, "apiError")  ? &v.api_error
                           : !strcmp(k, "errorBody") ? &v.error_body
                                                     : NULL;
        if (!strcmp(k, "reset"))
            rc = json_is_boolean(e) ? 0 : vn_error_set(err, VN_EPARSE, "'reset' must be true");
        else if (prob)
            rc = prob_value(e, k, prob, err);
        else if (!strcmp(k, "delayByMs"))
            rc = int_value(e, k, DELAY_MAX, &v.delay_by_ms, err);
        else if (!strcmp(k, "latencyMs"))
            rc = int_value(e, k, LATENCY_MAX, &v.latency_ms, err);
        else if (!strcmp(k, "versionChange"))
            rc = int_value(e, k, COUNT_MAX, &v.version_change, err);
        else if (x)
            rc = set_forced(x, k, e, x == &v.api_error, err);
        else if (!strcmp(k, "asyncError"))
            rc = set_async(&v.async_error, e, err);
        else
            rc =
                vn_error_set(err, VN_EPARSE, "unknown fault '%s' (GET /_sim/faults lists them)", k);
        if (rc)
            break;
    }
    if (rc == 0)
        f->v = v;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* ---- decisions --------------------------------------------------------------------------- */

/* Whether forced fault x takes this request. Called with f->mu held. */
static int takes(struct sim_faults *f, struct forced *x, const char *path)
{
    if (x->path[0] && strcmp(x->path, path) != 0)
        return 0;
    if (x->count > 0) {
        x->count--;
        return 1;
    }
    return x->probability > 0 && sim_rng_chance(f->rng, x->probability);
}

int sim_faults_api(struct sim_faults *f, const char *path, struct sim_fault_hit *hit)
{
    int yes = 1;

    pthread_mutex_lock(&f->mu);
    if (takes(f, &f->v.http500, path))
        *hit = (struct sim_fault_hit){VN_APPLE_INTERNAL_ERROR, 500, f->v.http500.retry_after};
    else if (takes(f, &f->v.http503, path))
        *hit = (struct sim_fault_hit){VN_APPLE_SERVICE_UNAVAILABLE, 503, f->v.http503.retry_after};
    else if (takes(f, &f->v.http429, path))
        *hit = (struct sim_fault_hit){VN_APPLE_TOO_MANY_REQUESTS, 429, f->v.http429.retry_after};
    else if (takes(f, &f->v.api_error, path)) {
        const struct vn_apple_error_info *e = vn_apple_error_lookup(f->v.api_error.number);
        int status = e && e->http_status ? e->http_status : 400;
        *hit = (struct sim_fault_hit){f->v.api_error.number, status,
                                      status >= 500 ? f->v.api_error.retry_after : 0};
    } else if (takes(f, &f->v.error_body, path))
        *hit = (struct sim_fault_hit){VN_APPLE_INTERNAL_ERROR, 200, 0};
    else
        yes = 0;
    pthread_mutex_unlock(&f->mu);
    return yes;
}

int64_t sim_faults_latency_ms(struct sim_faults *f)
{
    int64_t ms;

    pthread_mutex_lock(&f->mu);
    ms = f->v.latency_ms;
    pthread_mutex_unlock(&f->mu);
    return ms;
}

int sim_faults_version_change(struct sim_faults *f)
{
    int yes = 0;

    pthread_mutex_lock(&f->mu);
    if (f->v.version_change > 0) {
        f->v.version_change--;
        yes = 1;
    }
    pthread_mutex_unlock(&f->mu);
    return yes;
}

void sim_faults_notification(struct sim_faults *f, const char *nid, struct sim_nfault *out)
{
    struct settings v;

    pthread_mutex_lock(&f->mu);
    v = f->v;
    pthread_mutex_unlock(&f->mu);
    memset(out, 0, sizeof(*out));
    out->drop = v.drop > 0 && sim_rng_keyed(f->rng, "drop", nid, 0) < v.drop;
    if (v.delay > 0 && sim_rng_keyed(f->rng, "delay", nid, 0) < v.delay)
        out->delay_ms = v.delay_by_ms;
    out->duplicate = v.duplicate > 0 && sim_rng_keyed(f->rng, "duplicate", nid, 0) < v.duplicate;
}

int sim_faults_reorder(struct sim_faults *f, const char *batch_key)
{
    double p;

    pthread_mutex_lock(&f->mu);
    p = f->v.reorder;
    pthread_mutex_unlock(&f->mu);
    return p > 0 && sim_rng_keyed(f->rng, "reorder", batch_key, 0) < p;
}

int sim_faults_async(struct sim_faults *f, const char *kind, const char *event_id, int64_t task,
                     int *number)
{
    struct async_fault *a = &f->v.async_error;
    int yes = 0;

    pthread_mutex_lock(&f->mu);
    if (a->number && (!a->kind[0] || !strcmp(a->kind, kind))) {
        if (a->count > 0) {
            a->count--;
            yes = 1;
        } else if (a->probability > 0 &&
                   sim_rng_keyed(f->rng, "async", event_id, task) < a->probability)
            yes = 1;
        if (yes)
            *number = a->number;
    }
    pthread_mutex_unlock(&f->mu);
    return yes;
}
