/*
 * workflow_test.h - what the workflow unit tests (test_workflow_*.c) share: a fresh store with
 * an inline writer (the CLI's door), the real vppsim binary of this build tree playing Apple on
 * 127.0.0.1 port 0, its control API, and an in-process serve (the one writer, ingest, the token
 * cache and the HTTP server, wired as cmd_serve.c wires them) to receive Apple's notifications.
 *
 * vppsim is found at VN_BUILD_DIR/sim/vppsim (tests/CMakeLists.txt passes VN_BUILD_DIR and
 * builds vppsim first). It runs with --time-scale 0.01 and no rate limit; the test's Apple
 * client makes one attempt per call, so a forced fault fails the call at once.
 *
 * Header-only (static inline functions, so that a test may leave some unused) on purpose: each test
 * program includes it once, after cmocka.h. Every wait polls for a condition with a bound; nothing
 * sleeps for a fixed time.
 */
#ifndef VPPNOTIFY_TESTS_WORKFLOW_TEST_H
#define VPPNOTIFY_TESTS_WORKFLOW_TEST_H

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vppnotify/apple.h"
#include "vppnotify/auth.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/httpd.h"
#include "vppnotify/ingest.h"
#include "vppnotify/secret.h"
#include "vppnotify/stoken.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/workflow.h"
#include "vppnotify/writer.h"

#ifndef VN_BUILD_DIR
#error "VN_BUILD_DIR must name the build tree (tests/CMakeLists.txt)"
#endif

/* An in-process `vppnotify serve` on a database. */
struct wserve {
    struct vn_store *wst, *ast; /* the writer's handle; the token cache's (owned by auth) */
    struct vn_writer *w;
    struct vn_ingest *ing;
    struct vn_auth *auth;
    struct vn_httpd *h;
    char url[128]; /* http://127.0.0.1:PORT/notifications */
};

struct wfx {
    char dir[64], db[128], key[128];
    struct vn_store *st;
    struct vn_writer *w; /* inline, on st: the CLI's door */
    struct vn_apple *apple;
    struct vn_workflow wf;
    pid_t sim_pid;
    char sim[64]; /* http://127.0.0.1:PORT */
    struct wserve serve;
};

/* ---- waiting ---------------------------------------------------------------------------- */

/* Poll cond(ud) every 10 ms for at most ms milliseconds: 1 once it holds, 0 on timeout. */
static inline int wait_until(int (*cond)(void *ud), void *ud, int64_t ms)
{
    int64_t end = vn_mono_ns() + ms * 1000000;
    struct timespec tick = {0, 10 * 1000000};

    for (;;) {
        if (cond(ud))
            return 1;
        if (vn_mono_ns() > end)
            return 0;
        nanosleep(&tick, NULL);
    }
}

static inline int file_has_line(void *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 && sb.st_size > 0;
}

/* ---- vppsim ----------------------------------------------------------------------------- */

static inline void sim_start(struct wfx *f)
{
    char ready[160], log[160], line[128];
    FILE *r;
    pid_t pid;

    snprintf(ready, sizeof(ready), "%s/sim.ready", f->dir);
    snprintf(log, sizeof(log), "%s/sim.log", f->dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *lf = freopen(log, "a", stdout);
        if (lf)
            dup2(fileno(stdout), 2);
        execl(VN_BUILD_DIR "/sim/vppsim", "vppsim", "serve", "--listen", "127.0.0.1:0",
              "--ready-file", ready, "--time-scale", "0.01", "--event-delay", "0", "--limit",
              "maxRequestPerSecond=100000", (char *)NULL);
        _exit(127);
    }
    f->sim_pid = pid;
    if (!wait_until(file_has_line, ready, 20000))
        fail_msg("vppsim did not become ready (see %s)", log);
    r = fopen(ready, "r");
    assert_non_null(r);
    assert_non_null(fgets(line, sizeof(line), r));
    fclose(r);
    line[strcspn(line, "\r\n")] = '\0';
    snprintf(f->sim, sizeof(f->sim), "http://%s", line);
}

/* SIGTERM, and require exit status 0 (a leak or a crash under ASan fails the test). */
static inline void sim_stop(struct wfx *f)
{
    int status = 0;

    if (f->sim_pid <= 0)
        return;
    kill(f->sim_pid, SIGTERM);
    assert_int_equal(waitpid(f->sim_pid, &status, 0), f->sim_pid);
    f->sim_pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static inline size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return vn_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

/* A request to vppsim at path (the control API, or /mdm/v2/... with bearer); *out gets the
 * answer's JSON (owned; may be NULL). Returns the HTTP status. */
static inline long sim_http(struct wfx *f, const char *method, const char *path, const char *bearer,
                            const char *body, json_t **out)
{
    struct curl_slist *h = NULL;
    struct vn_buf b;
    char url[512], auth[VN_STOKEN_MAX + 32];
    long status = 0;
    CURL *c = curl_easy_init();

    assert_non_null(c);
    vn_buf_init(&b, 64 << 20);
    snprintf(url, sizeof(url), "%s%s", f->sim, path);
    h = curl_slist_append(h, "Content-Type: application/json");
    if (bearer) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (out)
        *out = json_loadb(vn_buf_str(&b), b.len, 0, NULL);
    vn_buf_release(&b);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* The control API: assert the status, return the answer (owned, may be ignored: NULL out). */
static inline void sim_ctl(struct wfx *f, const char *method, const char *path, const char *body,
                           json_t **out)
{
    json_t *o = NULL;
    long st = sim_http(f, method, path, NULL, body, &o);

    if (st != 200) {
        char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
        fail_msg("vppsim %s %s: %ld %s", method, path, st, t ? t : "");
    }
    if (out)
        *out = o;
    else
        json_decref(o);
}

/* A vppsim location (body: POST /_sim/locations); its uId and parsed sToken. */
static inline void sim_location(struct wfx *f, const char *body, char uid[VN_ID_MAX + 1],
                                struct vn_stoken *tok)
{
    struct vn_error err = {0};
    json_t *o;

    sim_ctl(f, "POST", "/_sim/locations", body ? body : "{}", &o);
    vn_strlcpy(uid, json_string_value(json_object_get(o, "uId")), VN_ID_MAX + 1);
    if (tok && vn_stoken_parse(json_string_value(json_object_get(o, "sToken")), tok, &err) != 0)
        fail_msg("sToken: %s", err.msg);
    json_decref(o);
}

/* A string field of vppsim's state of uid, "" when null or absent. */
static inline void sim_state_str(struct wfx *f, const char *uid, const char *key, char *out,
                                 size_t len)
{
    char path[128];
    json_t *o, *v;

    snprintf(path, sizeof(path), "/_sim/state?uId=%s", uid);
    sim_ctl(f, "GET", path, NULL, &o);
    v = json_object_get(o, key);
    vn_strlcpy(out, json_is_string(v) ? json_string_value(v) : "", len);
    json_decref(o);
}

/* How many requests vppsim answered for METHOD PATH (any status). */
static inline long long sim_requests(struct wfx *f, const char *method, const char *path)
{
    json_t *o, *r;
    size_t i;
    long long n = 0;

    sim_ctl(f, "GET", "/_sim/requests", NULL, &o);
    json_array_foreach(json_object_get(o, "requests"), i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "method")), method) &&
            !strcmp(json_string_value(json_object_get(r, "path")), path))
            n += json_integer_value(json_object_get(r, "count"));
    }
    json_decref(o);
    return n;
}

/* ---- an in-process serve ---------------------------------------------------------------- */

/* Start a serve on database db into s. */
static inline void serve_start_on(const char *db, struct wserve *s)
{
    struct vn_httpd_options ho = {
        .listen = "127.0.0.1:0",
        .path = "/notifications",
        .max_body = 1 << 20,
        .max_header = 32 << 10,
        .max_connections = 64,
        .max_per_ip = 64,
        .idle_timeout_s = 10,
        .header_timeout_ms = 10000,
        .read_timeout_ms = 10000,
        .threads = 2,
        .max_depth = 32,
        .retry_after_s = 1,
        .quarantine_max = 4096,
    };
    struct vn_error err = {0};

    s->wst = vn_store_open(db, NULL, &err);
    assert_non_null(s->wst);
    s->ast = vn_store_open(db, NULL, &err);
    assert_non_null(s->ast);
    s->auth = vn_auth_new(s->ast, 200, &err);
    assert_non_null(s->auth);
    s->w = vn_writer_start(s->wst, NULL, &err);
    assert_non_null(s->w);
    s->ing = vn_ingest_new(s->w, &err);
    assert_non_null(s->ing);
    s->h = vn_httpd_start(&ho, s->ing, s->auth, &err);
    if (!s->h)
        fail_msg("httpd: %s", err.msg);
    snprintf(s->url, sizeof(s->url), "http://%s/notifications", vn_httpd_address(s->h));
}

/* The fixture's serve, on its database. */
static inline void serve_start(struct wfx *f)
{
    serve_start_on(f->db, &f->serve);
}

/* cmd_serve.c's teardown order. */
static inline void serve_stop_on(struct wserve *s)
{
    if (!s->h)
        return;
    vn_httpd_quiesce(s->h);
    vn_ingest_stop(s->ing);
    vn_writer_stop(s->w);
    vn_httpd_free(s->h);
    vn_ingest_free(s->ing);
    vn_writer_free(s->w);
    vn_auth_free(s->auth); /* closes ast */
    vn_store_free(s->wst);
    memset(s, 0, sizeof(*s));
}

static inline void serve_stop(struct wfx *f)
{
    serve_stop_on(&f->serve);
}

/* ---- the fixture ------------------------------------------------------------------------ */

/* A client of vppsim at sim whose calls wait lock_wait_ms for their location's lock
 * (apple.h: 0 the default, VN_APPLE_NO_WAIT not at all). */
static inline struct vn_apple *apple_new_waiting(const char *sim, long long lock_wait_ms)
{
    char base[128];
    struct vn_error err = {0};
    struct vn_apple_options o = {.base_url = base,
                                 .timeout_ms = 20000,
                                 .config_refresh_ms = 3600000,
                                 .max_attempts = 1,
                                 .backoff_ms = 10,
                                 .backoff_max_ms = 100,
                                 .retry_after_max_ms = 100,
                                 .lock_wait_ms = lock_wait_ms};
    struct vn_apple *a;

    snprintf(base, sizeof(base), "%s/mdm/v2", sim);
    a = vn_apple_new(&o, &err);
    if (!a)
        fail_msg("apple: %s", err.msg);
    return a;
}

static inline struct vn_apple *apple_new(const char *sim)
{
    return apple_new_waiting(sim, 0);
}

/* A store of its own in dir/name with an inline writer, and a workflow on it and f's Apple. */
struct other {
    struct vn_store *st;
    struct vn_writer *w;
    struct vn_workflow wf;
    char db[160], key[160];
};

static inline void other_open(struct wfx *f, const char *name, struct other *o)
{
    struct vn_error err = {0};

    snprintf(o->db, sizeof(o->db), "%s/%s.db", f->dir, name);
    snprintf(o->key, sizeof(o->key), "%s/%s.db.key", f->dir, name);
    o->st = vn_store_open(o->db, NULL, &err);
    assert_non_null(o->st);
    o->w = vn_writer_inline(o->st);
    assert_non_null(o->w);
    o->wf = (struct vn_workflow){.st = o->st, .w = o->w, .apple = f->apple, .key_file = o->key};
}

static inline void other_close(struct other *o)
{
    vn_writer_free(o->w);
    vn_store_free(o->st);
}

static inline int wfx_setup(void **state)
{
    struct wfx *f = calloc(1, sizeof(*f));
    struct vn_error err = {0};

    assert_non_null(f);
    vn_strlcpy(f->dir, "/tmp/vn_wf_XXXXXX", sizeof(f->dir));
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/vn.db", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/vn.db.key", f->dir);
    f->st = vn_store_open(f->db, NULL, &err);
    assert_non_null(f->st);
    f->w = vn_writer_inline(f->st);
    assert_non_null(f->w);
    sim_start(f);
    f->apple = apple_new(f->sim);
    f->wf = (struct vn_workflow){.st = f->st, .w = f->w, .apple = f->apple, .key_file = f->key};
    *state = f;
    return 0;
}

static inline int wfx_teardown(void **state)
{
    struct wfx *f = *state;
    char cmd[160];

    serve_stop(f);
    sim_stop(f);
    vn_apple_free(f->apple);
    vn_writer_free(f->w);
    vn_store_free(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static inline int wfx_init(void)
{
    if (vn_secret_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* ---- what a user reads ------------------------------------------------------------------ */

/* The value of key in the first row of query q with filter flt, as text ("" when NULL or
 * absent); *rows (may be NULL) gets the number of rows. */
struct wpick {
    const char *key;
    char out[1024];
    int rows;
};

static inline int wpick_row(void *ud, const struct vn_row *row)
{
    struct wpick *p = ud;

    if (p->rows++)
        return 0;
    for (size_t k = 0; k < row->n; k++) {
        const struct vn_value *v = &row->vals[k];
        if (strcmp(row->keys[k], p->key) != 0)
            continue;
        if (v->type == VN_V_INT)
            snprintf(p->out, sizeof(p->out), "%lld", v->i);
        else if (v->type == VN_V_BOOL)
            vn_strlcpy(p->out, v->i ? "true" : "false", sizeof(p->out));
        else if (v->s)
            vn_strlcpy(p->out, v->s, sizeof(p->out));
    }
    return 0;
}

static inline int query_value(struct vn_store *st, enum vn_query q, const struct vn_filter *flt,
                              const char *key, char *out, size_t len)
{
    struct wpick p = {.key = key};

    assert_int_equal(vn_store_query(st, q, flt, wpick_row, &p), 0);
    vn_strlcpy(out, p.out, len);
    return p.rows;
}

/* Rows of query q for location uid. */
static inline int query_rows(struct vn_store *st, enum vn_query q, const char *uid)
{
    struct vn_filter flt = {.uid = uid};
    char ignored[8];

    return query_value(st, q, &flt, "uId", ignored, sizeof(ignored));
}

/* The location's current and in-grace token digests: how many, and whether digest is one. */
struct tokens {
    const char *uid;
    const uint8_t *digest;
    int n, found, found_current;
};

static inline int token_row(void *ud, const struct vn_token_row *row)
{
    struct tokens *t = ud;

    if (strcmp(row->uid, t->uid) != 0)
        return 0;
    t->n++;
    if (t->digest && !memcmp(row->digest, t->digest, VN_DIGEST_LEN)) {
        t->found = 1;
        t->found_current = row->expires_ms == 0;
    }
    return 0;
}

static inline struct tokens tokens_of(struct vn_store *st, const char *uid, const char *token)
{
    uint8_t d[VN_DIGEST_LEN];
    struct tokens t = {.uid = uid};

    if (token) {
        vn_digest(token, strlen(token), d);
        t.digest = d;
    }
    assert_int_equal(vn_store_tokens(st, vn_now_ms(), token_row, &t), 0);
    t.digest = NULL;
    return t;
}

#endif
