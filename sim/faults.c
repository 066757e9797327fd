/*
 * faults.c - fault injection, set by flags at start and through /_sim/faults at run time.
 *
 * Notification faults are probabilities decided when a notification is created (drop,
 * delay, duplicate) or when a batch ends (reorder). API faults are counts: the next N
 * requests to /mdm/v2 (optionally only one path) are answered 503/9729 or 429/9646 with
 * Retry-After, or HTTP 200 with an ErrorResponse body; the next N "next page" requests see a
 * changed data set and a new versionId. With --seed the decisions are reproducible.
 */
#include "sim.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int sim_faults_from_config(struct sim *s, struct vn_error *err)
{
    struct sim_config *c = s->cfg;
    struct {
        const char *name, *text;
        double *dst;
    } probs[] = {
        {"fault-duplicate", c->fault_duplicate, &s->faults.duplicate},
        {"fault-drop", c->fault_drop, &s->faults.drop},
        {"fault-reorder", c->fault_reorder, &s->faults.reorder},
        {"fault-delay", c->fault_delay, &s->faults.delay},
    };

    memset(&s->faults, 0, sizeof(s->faults));
    for (size_t i = 0; i < sizeof(probs) / sizeof(probs[0]); i++)
        if (probs[i].text && sim_parse_prob(probs[i].text, probs[i].dst) != 0)
            return vn_error_set(err, VN_EUSAGE,
                                "option '--%s' value '%s': expected a probability from 0 to 1",
                                probs[i].name, probs[i].text);
    s->faults.delay_by_ms = c->fault_delay_by_ms;
    s->faults.http429.count = c->fault_429;
    s->faults.http503.count = c->fault_503;
    s->faults.error_body.count = c->fault_error_body;
    s->faults.http429.retry_after = s->faults.http503.retry_after = c->fault_retry_after;
    if (c->fault_path) {
        vn_strlcpy(s->faults.http429.path, c->fault_path, sizeof(s->faults.http429.path));
        vn_strlcpy(s->faults.http503.path, c->fault_path, sizeof(s->faults.http503.path));
        vn_strlcpy(s->faults.error_body.path, c->fault_path, sizeof(s->faults.error_body.path));
    }
    s->faults.version_change = c->fault_version_change;
    return 0;
}

static json_t *forced_json(const struct sim_forced *f, int with_retry)
{
    json_t *o = json_pack("{s:I}", "count", (json_int_t)f->count);

    if (with_retry)
        json_object_set_new(o, "retryAfter", json_integer(f->retry_after));
    json_object_set_new(o, "path", f->path[0] ? json_string(f->path) : json_null());
    return o;
}

json_t *sim_faults_json(const struct sim *s)
{
    const struct sim_faults *f = &s->faults;

    return json_pack("{s:f, s:f, s:f, s:f, s:I, s:o, s:o, s:o, s:I}", "duplicate", f->duplicate,
                     "drop", f->drop, "reorder", f->reorder, "delay", f->delay, "delayByMs",
                     (json_int_t)f->delay_by_ms, "http429", forced_json(&f->http429, 1), "http503",
                     forced_json(&f->http503, 1), "errorBody", forced_json(&f->error_body, 0),
                     "versionChange", (json_int_t)f->version_change);
}

static int set_forced(struct sim_forced *f, const char *name, const json_t *v, struct vn_error *err)
{
    struct sim_forced n = *f;
    const json_t *c = v, *ra = NULL, *path = NULL;

    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (strcmp(k, "count") && strcmp(k, "retryAfter") && strcmp(k, "path"))
                return vn_error_set(err, VN_EPARSE, "'%s': unknown key '%s'", name, k);
        }
        c = json_object_get(v, "count");
        ra = json_object_get(v, "retryAfter");
        path = json_object_get(v, "path");
    }
    if (c && (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 1000000))
        return vn_error_set(err, VN_EPARSE, "'%s': count must be an integer 0..1000000", name);
    if (ra &&
        (!json_is_integer(ra) || json_integer_value(ra) < 0 || json_integer_value(ra) > 86400))
        return vn_error_set(err, VN_EPARSE, "'%s': retryAfter must be 0..86400 seconds", name);
    if (path && !json_is_null(path) &&
        (!json_is_string(path) || json_string_length(path) >= sizeof(n.path)))
        return vn_error_set(err, VN_EPARSE,
                            "'%s': path must be a string such as"
                            " \"/mdm/v2/assets\"",
                            name);
    if (c)
        n.count = json_integer_value(c);
    if (ra)
        n.retry_after = json_integer_value(ra);
    if (path)
        vn_strlcpy(n.path, json_is_string(path) ? json_string_value(path) : "", sizeof(n.path));
    *f = n;
    return 0;
}

int sim_faults_update(struct sim *s, const json_t *body, struct vn_error *err)
{
    struct sim_faults f = s->faults;
    const char *k;
    json_t *v;

    if (json_is_true(json_object_get(body, "reset"))) {
        memset(&f, 0, sizeof(f));
        f.delay_by_ms = 30000;
        f.http429.retry_after = f.http503.retry_after = 1;
    }
    json_object_foreach((json_t *)body, k, v)
    {
        double *prob = !strcmp(k, "duplicate") ? &f.duplicate
                       : !strcmp(k, "drop")    ? &f.drop
                       : !strcmp(k, "reorder") ? &f.reorder
                       : !strcmp(k, "delay")   ? &f.delay
                                               : NULL;
        if (!strcmp(k, "reset"))
            continue;
        if (prob) {
            double p = json_number_value(v);
            if (!json_is_number(v) || p < 0 || p > 1)
                return vn_error_set(err, VN_EPARSE, "'%s' must be a probability from 0 to 1", k);
            *prob = p;
        } else if (!strcmp(k, "delayByMs") || !strcmp(k, "versionChange")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 86400000)
                return vn_error_set(err, VN_EPARSE, "'%s' must be a non-negative integer", k);
            if (!strcmp(k, "delayByMs"))
                f.delay_by_ms = json_integer_value(v);
            else
                f.version_change = json_integer_value(v);
        } else if (!strcmp(k, "http429") || !strcmp(k, "http503") || !strcmp(k, "errorBody")) {
            struct sim_forced *x = !strcmp(k, "http429")   ? &f.http429
                                   : !strcmp(k, "http503") ? &f.http503
                                                           : &f.error_body;
            if (set_forced(x, k, v, err) != 0)
                return VN_EPARSE;
        } else {
            return vn_error_set(err, VN_EPARSE, "unknown fault '%s'", k);
        }
    }
    s->faults = f;
    return 0;
}

static int takes(struct sim_forced *f, const char *path)
{
    if (f->count <= 0 || (f->path[0] && strcmp(f->path, path) != 0))
        return 0;
    f->count--;
    return 1;
}

int sim_faults_api(struct sim *s, struct sim_req *r)
{
    if (takes(&s->faults.http503, r->path)) {
        sim_error(r, VN_APPLE_SERVICE_UNAVAILABLE);
        r->retry_after = s->faults.http503.retry_after;
        return 1;
    }
    if (takes(&s->faults.http429, r->path)) {
        sim_error(r, VN_APPLE_TOO_MANY_REQUESTS);
        r->retry_after = s->faults.http429.retry_after;
        return 1;
    }
    if (takes(&s->faults.error_body, r->path)) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        r->status = 200;
        return 1;
    }
    return 0;
}

int sim_faults_version_change(struct sim *s)
{
    if (s->faults.version_change <= 0)
        return 0;
    s->faults.version_change--;
    return 1;
}
