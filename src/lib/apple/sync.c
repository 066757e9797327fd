/* sync.c - see include/vppnotify/sync.h. */
#include "vppnotify/sync.h"
#include "vppnotify/apple_errors.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/session.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAGES   1000000 /* a walk longer than this is a loop, not a library */
#define MAX_JOBS    128
#define FEW_USERS   20  /* a targeted users sync asks per user up to this many */
#define WRITE_CHUNK 250 /* records per writer job: a bulk job bounds a batch's delay */
#define SWEEP_CHUNK 500 /* rows deleted per writer job */

static const struct {
    const char *name, *endpoint, *path, *key;
    int cursor;
} tables[VN_MT__COUNT] = {
    [VN_MT_ASSETS] = {"assets", "getAssets", "assets", "assets", 0},
    [VN_MT_ASSIGNMENTS] = {"assignments", "getAssignments", "assignments", "assignments", 0},
    [VN_MT_USERS] = {"users", "getUsers", "users", "users", 0},
    [VN_MT_SUBSCRIPTIONS] = {"subscriptions", "getSubscriptions", "subscriptions", "subscriptions",
                             1},
    [VN_MT_SEATS] = {"subscriptionAssignments", "getSubscriptionAssignments",
                     "subscriptions/assignments", "assignments", 1},
};

const char *vn_mirror_table_name(enum vn_mirror_table t)
{
    return (unsigned)t < VN_MT__COUNT ? tables[t].name : "?";
}

/* One walk of one table (with an optional filter), and what to do with its records. */
struct job {
    enum vn_mirror_table table;
    char filter[512];  /* encoded query parameters, "" for none */
    const char *since; /* sinceVersionId, or NULL */
    int sweep;         /* delete rows within scope that the walk did not return */
    char scope_adam[VN_ADAM_ID_MAX + 1], scope_pp[8], scope_cuid[VN_ID_MAX + 1];
    char scope_sn[VN_ID_MAX + 1];
    char version[128]; /* versionId of the walk */
    int64_t gen;       /* generation of the walk: written on every row it returned */
    int64_t began;     /* writer clock when the walk began: rows changed later are kept */
    long long fetched; /* records of the current walk */
};

struct ctx {
    struct vn_session *s;
    const struct vn_sync_options *o;
    struct vn_sync_report *r;
    struct job jobs[MAX_JOBS];
    size_t njobs;
    int apple_number;  /* Apple's errorNumber when a walk failed on one */
    long long skipped; /* records without the fields a mirror row needs */
    long long kept;    /* records older than a change the mirror has since (contract 3.1) */
};

static struct job *add_job(struct ctx *c, enum vn_mirror_table t, int sweep)
{
    struct job *j;

    if (c->njobs == MAX_JOBS)
        return NULL;
    j = &c->jobs[c->njobs++];
    memset(j, 0, sizeof(*j));
    j->table = t;
    j->sweep = sweep;
    return j;
}

static void add_filter(struct job *j, const char *name, const char *value)
{
    struct vn_buf q;

    vn_buf_init(&q, sizeof(j->filter) - 1);
    vn_buf_puts(&q, j->filter);
    if (vn_apple_query_add(&q, name, value) == 0)
        vn_strlcpy(j->filter, vn_buf_str(&q), sizeof(j->filter));
    vn_buf_release(&q);
}

static void free_jobs(struct ctx *c)
{
    c->njobs = 0;
}

/* A generation for a new walk: unique in practice (milliseconds and a random part). */
static int64_t new_gen(void)
{
    return vn_now_ms() * 1000 + (int64_t)vn_random_uniform(1000);
}

/* ---- records -------------------------------------------------------------------------- */

/* adamId as decimal text, whether Apple sent a string or a number. */
static int adam_text(const json_t *v, char out[VN_ADAM_ID_MAX + 1])
{
    if (json_is_string(v)) {
        struct vn_adam_id a;
        if (vn_adam_id_canonical(json_string_value(v), json_string_length(v), &a, NULL) != 0)
            return -1;
        memcpy(out, a.s, sizeof(a.s));
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(out, VN_ADAM_ID_MAX + 1, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    return -1;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long num(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

#define SKIP 5 /* write_item: a record without the fields a mirror row needs */

/*
 * Write one record under generation gen, fetched at writer clock seen: 0/1/2 (unchanged/
 * added/changed), 3 (kept: the mirror changed the row after seen), SKIP, or < 0 an error. An
 * asset kept is a count a notification moved after the page was fetched: counts are deltas on
 * the mirror's value, so the asset is queued for a targeted read at Apple.
 */
static int write_item(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                      enum vn_mirror_table t, json_t *it)
{
    char adam[VN_ADAM_ID_MAX + 1];

    switch (t) {
    case VN_MT_ASSETS: {
        const char *pp = str(it, "pricingParam");
        struct vn_mirror_scope key = {.adam_id = adam, .pricing_param = pp ? pp : "STDQ"};
        int w;
        if (adam_text(json_object_get(it, "adamId"), adam))
            return SKIP;
        w = vn_store_sync_asset(st, uid, gen, seen, adam, pp, num(it, "totalCount"),
                                num(it, "assignedCount"), num(it, "availableCount"));
        if (w == 3 && vn_store_verify_add(st, VN_MT_ASSETS, uid, &key,
                                          "counts changed while a sync fetched them") != 0)
            return VN_ESTORE;
        return w;
    }
    case VN_MT_ASSIGNMENTS: {
        struct vn_assignment a = {.pricing_param = str(it, "pricingParam"),
                                  .client_user_id = str(it, "clientUserId"),
                                  .serial_number = str(it, "serialNumber")};
        if (adam_text(json_object_get(it, "adamId"), a.adam_id.s) ||
            !a.client_user_id == !a.serial_number)
            return SKIP;
        return vn_store_sync_assignment(st, uid, gen, seen, &a);
    }
    case VN_MT_USERS: {
        struct vn_user u = {.client_user_id = str(it, "clientUserId"),
                            .email = str(it, "email"),
                            .invite_code = str(it, "inviteCode"),
                            .id_hash = str(it, "idHash"),
                            .status = str(it, "status")};
        if (!u.client_user_id)
            return SKIP;
        return vn_store_sync_user(st, uid, gen, seen, &u);
    }
    case VN_MT_SUBSCRIPTIONS: {
        json_t *counts = json_object_get(it, "counts");
        json_t *av = json_object_get(counts, "available"), *tot = json_object_get(counts, "total");
        struct vn_counts c = {num(av, "renewing"), num(av, "expiring"), num(tot, "renewing"),
                              num(tot, "expiring")};
        char parent[VN_ADAM_ID_MAX + 1];
        int has_parent = adam_text(json_object_get(it, "parentAdamId"), parent) == 0;
        if (adam_text(json_object_get(it, "adamId"), adam))
            return SKIP;
        return vn_store_sync_subscription(st, uid, gen, seen, adam, has_parent ? parent : NULL, &c);
    }
    case VN_MT_SEATS: {
        json_t *ren = json_object_get(it, "renewing");
        struct vn_seat seat = {.client_user_id = str(it, "clientUserId"),
                               .renewing = json_is_boolean(ren) ? json_is_true(ren) : 1};
        if (adam_text(json_object_get(it, "adamId"), seat.adam_id.s) || !seat.client_user_id)
            return SKIP;
        return vn_store_sync_seat(st, uid, gen, seen, &seat);
    }
    case VN_MT__COUNT:
        break;
    }
    return SKIP;
}

/* One writer job: a chunk of a page's records, written under the walk's generation. */
struct page_job {
    struct vn_wjob job;
    const char *uid;
    enum vn_mirror_table table;
    int64_t gen, seen;
    json_t *items; /* borrowed */
    size_t from, to;
    long long added, changed, kept, skipped; /* outputs */
};

static int page_run(struct vn_store *st, struct vn_wjob *wj, struct vn_error *err)
{
    struct page_job *p = wj->ud;

    p->added = p->changed = p->kept = p->skipped = 0;
    for (size_t i = p->from; i < p->to; i++) {
        int w = write_item(st, p->uid, p->gen, p->seen, p->table, json_array_get(p->items, i));
        if (w < 0)
            return vn_error_set(err, w, "%s", vn_store_last_error(st));
        p->added += w == 1;
        p->changed += w == 2;
        p->kept += w == 3;
        p->skipped += w == SKIP;
    }
    return 0;
}

/* Write one page's records as they arrived (fetched at writer clock seen), WRITE_CHUNK per
 * job, each committed before the next; the page is not kept afterwards. */
static int write_page(struct ctx *c, struct job *j, json_t *items, int64_t seen,
                      struct vn_error *err)
{
    struct vn_sync_counts *k = &c->r->t[j->table];
    size_t n = json_array_size(items);

    c->r->walked[j->table] = 1;
    k->fetched += (long long)n;
    j->fetched += (long long)n;
    for (size_t from = 0; from < n; from += WRITE_CHUNK) {
        struct page_job p = {.job = {.cls = VN_WJOB_BULK},
                             .uid = c->s->uid,
                             .table = j->table,
                             .gen = j->gen,
                             .seen = seen,
                             .items = items,
                             .from = from,
                             .to = from + WRITE_CHUNK < n ? from + WRITE_CHUNK : n};
        int rc;

        p.job.cost = p.to - p.from;
        p.job.run = page_run;
        p.job.ud = &p;
        rc = vn_writer_run(c->s->w, &p.job);
        if (rc)
            return vn_error_set(err, rc, "cannot write the %s of location '%s': %s",
                                tables[j->table].name, c->s->uid, p.job.error);
        k->added += p.added;
        k->changed += p.changed;
        c->kept += p.kept;
        c->skipped += p.skipped;
    }
    return 0;
}

struct sweep_job {
    struct vn_wjob job;
    const char *uid;
    const struct job *j;
    long long removed; /* output */
};

static int sweep_run(struct vn_store *st, struct vn_wjob *wj, struct vn_error *err)
{
    struct sweep_job *sw = wj->ud;
    const struct job *j = sw->j;
    struct vn_mirror_scope scope = {
        .adam_id = j->scope_adam[0] ? j->scope_adam : NULL,
        .pricing_param = j->scope_pp[0] ? j->scope_pp : NULL,
        .client_user_id = j->scope_cuid[0] ? j->scope_cuid : NULL,
        .serial_number = j->scope_sn[0] ? j->scope_sn : NULL,
    };
    int rc = vn_store_sync_sweep(st, j->table, sw->uid, j->gen, j->began, &scope, SWEEP_CHUNK,
                                 &sw->removed);

    if (rc)
        vn_error_set(err, rc, "%s", vn_store_last_error(st));
    return rc;
}

/* Delete what the walk of j did not return, SWEEP_CHUNK rows per job. */
static int sweep(struct ctx *c, const struct job *j, struct vn_error *err)
{
    struct sweep_job sw = {
        .job = {.cls = VN_WJOB_BULK, .cost = SWEEP_CHUNK}, .uid = c->s->uid, .j = j};

    sw.job.run = sweep_run;
    sw.job.ud = &sw;
    do {
        int rc = vn_writer_run(c->s->w, &sw.job);
        if (rc)
            return vn_error_set(err, rc, "cannot sweep the %s of location '%s': %s",
                                tables[j->table].name, c->s->uid, sw.job.error);
        c->r->t[j->table].removed += sw.removed;
    } while (sw.removed >= SWEEP_CHUNK);
    return 0;
}

struct state_put {
    const char *uid;
    const struct vn_sync_state *state;
};

static int state_put_run(struct vn_store *st, void *ud)
{
    struct state_put *p = ud;

    return vn_store_sync_state_put(st, p->uid, p->state);
}

/* Record the sync state of the session's location (one small job). */
static int put_state(struct ctx *c, const struct vn_sync_state *state, struct vn_error *err)
{
    struct state_put p = {c->s->uid, state};

    return vn_writer_call(c->s->w, state_put_run, &p, err);
}

/* After every walk: sweep what the walks did not return, and report skipped records. */
static int finish_walks(struct ctx *c, struct vn_error *err)
{
    int rc = 0;

    for (size_t i = 0; !rc && i < c->njobs; i++) {
        c->r->walked[c->jobs[i].table] = 1;
        if (c->jobs[i].sweep)
            rc = sweep(c, &c->jobs[i], err);
    }
    if (c->skipped)
        vn_log_warn("sync %s: %lld records without the fields a mirror row needs were skipped",
                    c->s->uid, c->skipped);
    if (c->kept)
        vn_log_info("sync %s: %lld records were older than a change the mirror has from a "
                    "notification since; the newer change was kept",
                    c->s->uid, c->kept);
    return rc;
}

/* ---- walking -------------------------------------------------------------------------- */

static void progress(struct ctx *c, const struct job *j, long long page)
{
    if (!c->o || !c->o->progress)
        return;
    fprintf(stderr, "\rvppnotify: sync %s: %s page %lld, %lld records   ", c->s->uid,
            tables[j->table].name, page + 1, j->fetched);
    fflush(stderr);
}

static int walk(struct ctx *c, struct job *j, struct vn_error *err)
{
    int max_restarts = c->o && c->o->max_restarts > 0 ? c->o->max_restarts : 5;
    int restarts = 0;

restart:
    j->gen = new_gen(); /* a walk started over writes a new one: the sweep ends the old */
    j->fetched = 0;
    j->version[0] = '\0';
    if (vn_store_clock(c->s->st, &j->began) != 0)
        return vn_error_set(err, VN_EUNAVAIL, "cannot read the writer clock: %s",
                            vn_store_last_error(c->s->st));
    {
        char *cursor = NULL;
        long long page = 0;
        int rc = 0, more;

        for (long long n = 0; n < MAX_PAGES; n++) {
            struct vn_apple_failure why;
            struct vn_buf q;
            char pagebuf[24];
            json_t *out = NULL, *items, *next;
            const char *v;
            int64_t seen;

            vn_buf_init(&q, 4096);
            vn_buf_puts(&q, j->filter);
            if (j->since)
                vn_apple_query_add(&q, "sinceVersionId", j->since);
            if (tables[j->table].cursor && cursor)
                vn_apple_query_add(&q, "cursor", cursor);
            if (!tables[j->table].cursor && page > 0) {
                snprintf(pagebuf, sizeof(pagebuf), "%lld", page);
                vn_apple_query_add(&q, "pageIndex", pagebuf);
            }
            /* What the mirror has changed after this clock is newer than the page. */
            if (vn_store_clock(c->s->st, &seen) != 0) {
                vn_buf_release(&q);
                free(cursor);
                return vn_error_set(err, VN_EUNAVAIL, "cannot read the writer clock: %s",
                                    vn_store_last_error(c->s->st));
            }
            rc = vn_session_call(c->s, "GET", tables[j->table].endpoint, tables[j->table].path,
                                 vn_buf_str(&q), NULL, &out, &why);
            vn_buf_release(&q);
            c->r->pages++;
            if (rc) {
                free(cursor);
                c->apple_number = why.number;
                return vn_error_set(err, rc, "%s", why.message);
            }
            v = json_string_value(json_object_get(out, "versionId"));
            if (n == 0) {
                vn_strlcpy(j->version, v ? v : "", sizeof(j->version));
            } else if (v && strcmp(v, j->version) != 0) {
                vn_log_info("sync %s: %s changed during the walk (versionId %s -> %s); "
                            "starting the table over",
                            c->s->uid, tables[j->table].name, j->version, v);
                json_decref(out);
                free(cursor);
                if (++restarts > max_restarts)
                    return vn_error_set(err, VN_ECONFLICT,
                                        "%s of location '%s' kept changing during the walk "
                                        "(versionId changed %d times); try again later",
                                        tables[j->table].name, c->s->uid, restarts);
                c->r->restarts++;
                goto restart;
            }
            items = json_object_get(out, tables[j->table].key);
            if (items && !json_is_array(items)) {
                json_decref(out);
                free(cursor);
                return vn_error_set(err, VN_EPARSE, "GET %s: \"%s\" is not an array",
                                    tables[j->table].path, tables[j->table].key);
            }
            if (items && (rc = write_page(c, j, items, seen, err)) != 0) {
                json_decref(out);
                free(cursor);
                return rc;
            }
            progress(c, j, n);
            free(cursor);
            cursor = NULL;
            more = 0;
            if (tables[j->table].cursor) {
                next = json_object_get(out, "nextCursor");
                if (json_is_string(next) && json_string_length(next)) {
                    cursor = strdup(json_string_value(next));
                    more = cursor != NULL;
                }
            } else {
                /* The last page has no nextPageIndex (apple-api.md section 1.5). */
                next = json_object_get(out, "nextPageIndex");
                if (json_is_integer(next) && json_integer_value(next) > page) {
                    page = json_integer_value(next);
                    more = 1;
                }
            }
            json_decref(out);
            if (!more)
                return 0;
        }
        free(cursor);
        return vn_error_set(err, VN_ETOOBIG, "GET %s: more than %d pages", tables[j->table].path,
                            MAX_PAGES);
    }
}

/* ---- reports -------------------------------------------------------------------------- */

char *vn_sync_report_json(const struct vn_sync_report *r)
{
    json_t *o = json_pack("{s:s}", "kind", r->kind ? r->kind : "?");
    char *text;

    for (int t = 0; t < VN_MT__COUNT; t++) {
        const struct vn_sync_counts *k = &r->t[t];
        if (!r->walked[t])
            continue;
        json_object_set_new(o, tables[t].name,
                            json_pack("{s:I, s:I, s:I, s:I}", "fetched", (json_int_t)k->fetched,
                                      "added", (json_int_t)k->added, "removed",
                                      (json_int_t)k->removed, "changed", (json_int_t)k->changed));
    }
    json_object_set_new(o, "restarts", json_integer(r->restarts));
    json_object_set_new(o, "pages", json_integer(r->pages));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* ---- the syncs ------------------------------------------------------------------------ */

/* The versionId a table has now (the first page of its walk, asked again). */
static int current_version(struct ctx *c, const struct job *j, char *out, size_t outlen,
                           struct vn_error *err)
{
    struct vn_apple_failure why;
    struct vn_buf q;
    json_t *page = NULL;
    int rc;

    vn_buf_init(&q, 4096);
    vn_buf_puts(&q, j->filter);
    if (j->since)
        vn_apple_query_add(&q, "sinceVersionId", j->since);
    rc = vn_session_call(c->s, "GET", tables[j->table].endpoint, tables[j->table].path,
                         vn_buf_str(&q), NULL, &page, &why);
    vn_buf_release(&q);
    c->r->pages++;
    if (rc) {
        c->apple_number = why.number;
        return vn_error_set(err, rc, "%s", why.message);
    }
    vn_strlcpy(out, json_string_value(json_object_get(page, "versionId")) ?: "", outlen);
    json_decref(page);
    return 0;
}

/*
 * Walk every job. Tables depend on each other (an assignment moves its asset's counts), so
 * one walk's snapshot can go stale while the next table is walked: with verify, every table
 * but the last is asked for its versionId again at the end and walked again if it moved,
 * until a whole round is stable (at most max_restarts rounds).
 */
static int walk_all(struct ctx *c, int verify, struct vn_error *err)
{
    int max_rounds = c->o && c->o->max_restarts > 0 ? c->o->max_restarts : 5, rc = 0;

    for (size_t i = 0; !rc && i < c->njobs; i++)
        rc = walk(c, &c->jobs[i], err);
    for (int round = 0; !rc && verify && round <= max_rounds; round++) {
        int moved = 0;
        for (size_t i = 0; !rc && i + 1 < c->njobs; i++) {
            char now[sizeof(c->jobs[0].version)];
            rc = current_version(c, &c->jobs[i], now, sizeof(now), err);
            if (rc || !strcmp(now, c->jobs[i].version))
                continue;
            if (round == max_rounds) {
                rc = vn_error_set(err, VN_ECONFLICT,
                                  "the data of location '%s' kept changing during the sync; "
                                  "try again later",
                                  c->s->uid);
                break;
            }
            vn_log_info("sync %s: %s changed while other tables were walked; walking it again",
                        c->s->uid, tables[c->jobs[i].table].name);
            c->r->restarts++;
            moved = 1;
            rc = walk(c, &c->jobs[i], err);
        }
        if (!moved)
            break;
    }
    if (c->o && c->o->progress)
        fputc('\n', stderr);
    return rc;
}

static struct job *job_of(struct ctx *c, enum vn_mirror_table t)
{
    for (size_t i = 0; i < c->njobs; i++)
        if (c->jobs[i].table == t)
            return &c->jobs[i];
    return NULL;
}

static int run(struct ctx *c, int full, struct vn_sync_state *state, struct vn_error *err)
{
    /* Dependents first, counts last: assets after assignments, subscriptions after seats. */
    static const enum vn_mirror_table full_order[] = {VN_MT_ASSIGNMENTS, VN_MT_USERS, VN_MT_SEATS,
                                                      VN_MT_SUBSCRIPTIONS, VN_MT_ASSETS};
    static const enum vn_mirror_table delta_order[] = {VN_MT_ASSIGNMENTS, VN_MT_USERS,
                                                       VN_MT_ASSETS};
    const enum vn_mirror_table *order = full ? full_order : delta_order;
    size_t n = full ? 5 : 3;
    int rc;

    free_jobs(c);
    c->r->kind = full ? "full" : "delta";
    for (size_t i = 0; i < n; i++) {
        /* A delta cannot see removals, so only its assets (walked whole) are swept. */
        struct job *j = add_job(c, order[i], full || order[i] == VN_MT_ASSETS);
        if (!full && order[i] == VN_MT_ASSIGNMENTS)
            j->since = state->assignments_version;
        if (!full && order[i] == VN_MT_USERS)
            j->since = state->users_version;
    }
    rc = walk_all(c, 1, err);
    if (rc)
        return rc;
    vn_strlcpy(state->assignments_version, job_of(c, VN_MT_ASSIGNMENTS)->version,
               sizeof(state->assignments_version));
    vn_strlcpy(state->users_version, job_of(c, VN_MT_USERS)->version, sizeof(state->users_version));
    return 0;
}

int vn_sync_run(struct vn_session *s, const struct vn_sync_options *o, struct vn_sync_report *r,
                struct vn_error *err)
{
    struct ctx *c = calloc(1, sizeof(*c));
    struct vn_sync_state state;
    int64_t started = vn_now_ms();
    int full = o && o->full, rc;

    memset(r, 0, sizeof(*r));
    if (!c)
        return vn_error_set(err, -ENOMEM, "out of memory");
    c->s = s;
    c->o = o;
    c->r = r;
    rc = vn_store_sync_state_get(s->st, s->uid, &state);
    if (rc) {
        vn_error_set(err, rc, "cannot read the sync state of '%s': %s", s->uid,
                     vn_store_last_error(s->st));
        goto out;
    }
    if (!full && (!state.assignments_version[0] || !state.users_version[0])) {
        vn_log_info("sync %s: no delta base yet; doing a full sync", s->uid);
        full = 1;
    }
    rc = run(c, full, &state, err);
    if (rc && !full && c->apple_number == VN_APPLE_INVALID_VERSION_ID) {
        vn_log_warn("sync %s: Apple refused the delta base (%s); doing a full sync", s->uid,
                    err->msg);
        memset(r, 0, sizeof(*r));
        full = 1;
        rc = run(c, full, &state, err);
    }
    if (!rc)
        rc = finish_walks(c, err);
    state.last_attempt_ms = started;
    if (rc) {
        struct vn_error perr = {0};
        vn_strlcpy(state.last_error, err->msg, sizeof(state.last_error));
        vn_strlcpy(state.last_kind, full ? "full" : "delta", sizeof(state.last_kind));
        /* Keep the old versionIds: the failed walk's are not a base. */
        {
            struct vn_sync_state old;
            if (vn_store_sync_state_get(s->st, s->uid, &old) == 0) {
                memcpy(state.assignments_version, old.assignments_version,
                       sizeof(state.assignments_version));
                memcpy(state.users_version, old.users_version, sizeof(state.users_version));
            }
        }
        if (put_state(c, &state, &perr) != 0)
            vn_log_warn("sync %s: cannot record the failure: %s", s->uid, perr.msg);
        goto out;
    }
    state.last_error[0] = '\0';
    vn_strlcpy(state.last_kind, full ? "full" : "delta", sizeof(state.last_kind));
    if (full)
        state.last_full_ms = started;
    else
        state.last_delta_ms = started;
    {
        char *drift = vn_sync_report_json(r);
        vn_strlcpy(state.last_drift, drift ? drift : "", sizeof(state.last_drift));
        free(drift);
    }
    rc = put_state(c, &state, err);
    if (rc)
        vn_error_prefix(err, "cannot record the sync of location '%s'", s->uid);
    else
        vn_log_fields(VN_LOG_INFO, "sync done",
                      (struct vn_log_field[]){
                          VN_LF_S("uId", s->uid), VN_LF_S("kind", full ? "full" : "delta"),
                          VN_LF_I("ms", vn_now_ms() - started), VN_LF_S("drift", state.last_drift)},
                      4);
out:
    free_jobs(c);
    free(c);
    return rc;
}

/* 1 if a walk of table t with this scope is planned already. */
static int planned(const struct ctx *c, enum vn_mirror_table t, const char *adam, const char *pp)
{
    for (size_t i = 0; i < c->njobs; i++)
        if (c->jobs[i].table == t && !strcmp(c->jobs[i].scope_adam, adam) &&
            !strcmp(c->jobs[i].scope_pp, pp))
            return 1;
    return 0;
}

/* Jobs of a targeted sync for one request. 0, or 1 when only a full sync will do. */
static int plan_targeted(struct ctx *c, const char *kind, const char *type, json_t *req)
{
    size_t i;
    json_t *v;

    if (!kind || !req)
        return 1;
    if (!strcmp(kind, "assets") && type && strcmp(type, "REVOKE") != 0) {
        json_array_foreach(json_object_get(req, "assets"), i, v)
        {
            struct job *ja, *jb;
            const char *pp = str(v, "pricingParam") ? str(v, "pricingParam") : "STDQ";
            char adam[VN_ADAM_ID_MAX + 1];
            if (adam_text(json_object_get(v, "adamId"), adam))
                return 1;
            if (planned(c, VN_MT_ASSETS, adam, pp))
                continue; /* named twice: one walk (two would sweep each other's rows) */
            ja = add_job(c, VN_MT_ASSETS, 1);
            jb = add_job(c, VN_MT_ASSIGNMENTS, 1);
            if (!ja || !jb)
                return 1;
            vn_strlcpy(ja->scope_adam, adam, sizeof(ja->scope_adam));
            vn_strlcpy(ja->scope_pp, pp, sizeof(ja->scope_pp));
            add_filter(ja, "adamId", ja->scope_adam);
            add_filter(ja, "pricingParam", pp);
            memcpy(jb->scope_adam, ja->scope_adam, sizeof(jb->scope_adam));
            memcpy(jb->scope_pp, ja->scope_pp, sizeof(jb->scope_pp));
            memcpy(jb->filter, ja->filter, sizeof(jb->filter));
        }
        return c->njobs ? 0 : 1;
    }
    if (!strcmp(kind, "assets")) { /* revoke: Apple found the assignments; we look at all */
        add_job(c, VN_MT_ASSETS, 1);
        add_job(c, VN_MT_ASSIGNMENTS, 1);
        return 0;
    }
    if (!strcmp(kind, "users")) {
        json_t *users = json_object_get(req, "users");
        if (json_array_size(users) > FEW_USERS) {
            add_job(c, VN_MT_USERS, 1);
            return 0;
        }
        json_array_foreach(users, i, v)
        {
            struct job *j = add_job(c, VN_MT_USERS, 0);
            if (!j || !str(v, "clientUserId"))
                return 1;
            add_filter(j, "clientUserId", str(v, "clientUserId"));
        }
        return c->njobs ? 0 : 1;
    }
    if (!strcmp(kind, "subscriptions")) {
        json_array_foreach(json_object_get(req, "adamIds"), i, v)
        {
            struct job *ja, *jb;
            char adam[VN_ADAM_ID_MAX + 1];
            if (adam_text(v, adam))
                return 1;
            if (planned(c, VN_MT_SUBSCRIPTIONS, adam, ""))
                continue;
            ja = add_job(c, VN_MT_SUBSCRIPTIONS, 1);
            jb = add_job(c, VN_MT_SEATS, 1);
            if (!ja || !jb)
                return 1;
            vn_strlcpy(ja->scope_adam, adam, sizeof(ja->scope_adam));
            add_filter(ja, "adamId", ja->scope_adam);
            memcpy(jb->scope_adam, ja->scope_adam, sizeof(jb->scope_adam));
            memcpy(jb->filter, ja->filter, sizeof(jb->filter));
        }
        return c->njobs ? 0 : 1;
    }
    return 1;
}

int vn_sync_targeted(struct vn_session *s, const char *kind, const char *type,
                     const char *request_json, struct vn_sync_report *r, struct vn_error *err)
{
    struct vn_sync_options full = {.full = 1};
    json_t *req = request_json ? json_loads(request_json, 0, NULL) : NULL;
    struct ctx *c = calloc(1, sizeof(*c));
    int rc;

    memset(r, 0, sizeof(*r));
    if (!c) {
        json_decref(req);
        return vn_error_set(err, -ENOMEM, "out of memory");
    }
    c->s = s;
    c->r = r;
    if (plan_targeted(c, kind, type, req)) {
        free_jobs(c);
        free(c);
        json_decref(req);
        return vn_sync_run(s, &full, r, err);
    }
    json_decref(req);
    r->kind = "targeted";
    rc = walk_all(c, 0, err);
    if (!rc)
        rc = finish_walks(c, err);
    free_jobs(c);
    free(c);
    return rc;
}

/* ---- verification of one key (contract 3.1) ------------------------------------------- */

int vn_sync_verify(struct vn_session *s, const struct vn_verify_item *it, struct vn_sync_report *r,
                   struct vn_error *err)
{
    const struct vn_mirror_scope *k = &it->key;
    struct ctx *c = calloc(1, sizeof(*c));
    struct job *ja = NULL, *jb = NULL;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!c)
        return vn_error_set(err, -ENOMEM, "out of memory");
    c->s = s;
    c->r = r;
    r->kind = "verify";
    switch (it->table) {
    case VN_MT_ASSIGNMENTS:
    case VN_MT_ASSETS:
        if (!k->adam_id)
            break;
        if (!(ja = add_job(c, VN_MT_ASSETS, 1)))
            break;
        vn_strlcpy(ja->scope_adam, k->adam_id, sizeof(ja->scope_adam));
        vn_strlcpy(ja->scope_pp, k->pricing_param ? k->pricing_param : "STDQ",
                   sizeof(ja->scope_pp));
        add_filter(ja, "adamId", ja->scope_adam);
        add_filter(ja, "pricingParam", ja->scope_pp);
        if (it->table == VN_MT_ASSETS || (!k->serial_number && !k->client_user_id))
            break;
        if (!(jb = add_job(c, VN_MT_ASSIGNMENTS, 1)))
            break;
        memcpy(jb->scope_adam, ja->scope_adam, sizeof(jb->scope_adam));
        memcpy(jb->scope_pp, ja->scope_pp, sizeof(jb->scope_pp));
        memcpy(jb->filter, ja->filter, sizeof(jb->filter));
        if (k->serial_number) {
            vn_strlcpy(jb->scope_sn, k->serial_number, sizeof(jb->scope_sn));
            add_filter(jb, "serialNumber", k->serial_number);
        } else {
            vn_strlcpy(jb->scope_cuid, k->client_user_id, sizeof(jb->scope_cuid));
            add_filter(jb, "clientUserId", k->client_user_id);
        }
        /* The assignment first: its asset's counts are read after it. */
        {
            struct job tmp = *ja;
            *ja = *jb;
            *jb = tmp;
        }
        break;
    case VN_MT_SEATS:
    case VN_MT_SUBSCRIPTIONS:
        if (!k->adam_id)
            break;
        if (!(ja = add_job(c, VN_MT_SEATS, 1)))
            break;
        vn_strlcpy(ja->scope_adam, k->adam_id, sizeof(ja->scope_adam));
        add_filter(ja, "adamId", ja->scope_adam);
        if (k->client_user_id) {
            vn_strlcpy(ja->scope_cuid, k->client_user_id, sizeof(ja->scope_cuid));
            add_filter(ja, "clientUserId", k->client_user_id);
        }
        if (!(jb = add_job(c, VN_MT_SUBSCRIPTIONS, 1)))
            break;
        vn_strlcpy(jb->scope_adam, k->adam_id, sizeof(jb->scope_adam));
        add_filter(jb, "adamId", jb->scope_adam);
        break;
    case VN_MT_USERS:
        if (!k->client_user_id)
            break;
        if (!(ja = add_job(c, VN_MT_USERS, 0)))
            break;
        add_filter(ja, "clientUserId", k->client_user_id);
        break;
    case VN_MT__COUNT:
        break;
    }
    if (!c->njobs) {
        free(c);
        return vn_error_set(err, VN_EPARSE, "nothing to verify in this key of '%s'", s->uid);
    }
    rc = walk_all(c, 0, err);
    if (!rc)
        rc = finish_walks(c, err);
    free_jobs(c);
    free(c);
    return rc;
}
