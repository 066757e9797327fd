/*
 * Unit tests of the integration API's listener (src/lib/api/server.c, keys.c): routes mounted
 * the way other modules mount theirs, API keys and scopes, bodies, suspended requests, and
 * the stop that wakes long polls. Real HTTP through libcurl on 127.0.0.1, port 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vppnotify/api.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

struct fixture {
    char dir[64];
    char db[96];
    char read_key[VN_API_KEY_LEN + 1];
    char manage_key[VN_API_KEY_LEN + 1];
    struct vn_store *admin;
    struct vn_api *api;
    char base[128];
    atomic_int waiting; /* requests suspended by /t/wait, not yet resumed */
    struct vn_api_req *parked;
    pthread_mutex_t lock;
};

/* ---- routes of the test ------------------------------------------------------------- */

static int h_echo(void *ud, struct vn_api_req *req)
{
    char text[512];
    const char *id = vn_api_req_arg(req, "id"), *sub = vn_api_req_arg(req, "sub");
    const char *q = vn_api_req_query(req, "q");
    size_t len;
    const char *body = vn_api_req_body(req, &len);

    snprintf(text, sizeof(text), "%s %s scope=%s key=%s id=%s sub=%s q=%s body=%zu:%s",
             vn_api_req_method(req), vn_api_req_path(req), vn_api_scope_name(vn_api_req_scope(req)),
             vn_api_req_key_name(req), id ? id : "-", sub ? sub : "-", q ? q : "-", len, body);
    vn_api_req_add_header(req, "X-Test", "yes");
    return vn_api_respond(req, 200, "text/plain", text, strlen(text));
}

static int h_resumed(void *ud, struct vn_api_req *req)
{
    const char *text = vn_api_req_stopping(req) ? "stopping" : "resumed";

    return vn_api_respond(req, 200, "text/plain", text, strlen(text));
}

static void free_state(void *state)
{
    struct fixture *f = state;

    pthread_mutex_lock(&f->lock);
    f->parked = NULL; /* the owner forgets the request when it ends */
    pthread_mutex_unlock(&f->lock);
}

static int h_wait(void *ud, struct vn_api_req *req)
{
    struct fixture *f = ud;

    pthread_mutex_lock(&f->lock);
    f->parked = req;
    pthread_mutex_unlock(&f->lock);
    vn_api_suspend(req, h_resumed, f, free_state, VN_API_WAKE_ON_STOP);
    atomic_fetch_add(&f->waiting, 1);
    return 0;
}

static int h_silent(void *ud, struct vn_api_req *req)
{
    return 0; /* neither answers nor suspends: the router must answer 500 */
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct vn_error err = {0};
    struct vn_api_options o = {.listen = "127.0.0.1:0", .max_body = 2048, .key_refresh_ms = 50};

    vn_log_setup(VN_LOG_ERROR, VN_LOG_TEXT, 2);
    snprintf(f->dir, sizeof(f->dir), "/tmp/vn_api_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/a.db", f->dir);
    pthread_mutex_init(&f->lock, NULL);
    f->admin = vn_store_open(f->db, NULL, &err);
    assert_non_null(f->admin);
    assert_int_equal(vn_api_key_create(f->admin, "reader", VN_API_READ, f->read_key, &err), 0);
    assert_int_equal(vn_api_key_create(f->admin, "admin", VN_API_MANAGE, f->manage_key, &err), 0);
    o.db = f->db;
    f->api = vn_api_new(&o, &err);
    assert_non_null(f->api);
    assert_int_equal(vn_api_mount(f->api, "GET", "/t/public", VN_API_PUBLIC, h_echo, f), 0);
    assert_int_equal(vn_api_mount(f->api, "GET", "/t/read", VN_API_READ, h_echo, f), 0);
    assert_int_equal(vn_api_mount(f->api, "POST", "/t/read", VN_API_MANAGE, h_echo, f), 0);
    assert_int_equal(vn_api_mount(f->api, "POST", "/t/manage", VN_API_MANAGE, h_echo, f), 0);
    assert_int_equal(vn_api_mount(f->api, "GET", "/t/items/{id}/x/{sub}", VN_API_READ, h_echo, f),
                     0);
    assert_int_equal(vn_api_mount(f->api, "GET", "/t/pre/*", VN_API_READ, h_echo, f), 0);
    assert_int_equal(vn_api_mount(f->api, "GET", "/t/wait", VN_API_READ, h_wait, f), 0);
    assert_int_equal(vn_api_mount(f->api, "GET", "/t/silent", VN_API_READ, h_silent, f), 0);
    /* Bad mounts are refused. */
    assert_int_equal(vn_api_mount(f->api, "BREW", "/x", VN_API_READ, h_echo, f), VN_EPARSE);
    assert_int_equal(vn_api_mount(f->api, "GET", "x", VN_API_READ, h_echo, f), VN_EPARSE);
    assert_int_equal(vn_api_start(f->api, &err), 0);
    assert_int_equal(vn_api_mount(f->api, "GET", "/late", VN_API_READ, h_echo, f), VN_ECONFLICT);
    snprintf(f->base, sizeof(f->base), "http://%s", vn_api_address(f->api));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    vn_api_free(f->api);
    vn_store_free(f->admin);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* ---- an HTTP client ------------------------------------------------------------------- */

struct answer {
    long status;
    struct vn_buf body;
    struct vn_buf headers;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return vn_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

/* method path key (NULL: none) body (NULL: none) → a; returns a->status. */
static long call(const struct fixture *f, const char *method, const char *path, const char *key,
                 const char *body, struct answer *a)
{
    char url[512], auth[256];
    struct curl_slist *hdr = NULL;
    CURL *c = curl_easy_init();

    assert_non_null(c);
    vn_buf_init(&a->body, 1 << 20);
    vn_buf_init(&a->headers, 1 << 16);
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
        hdr = curl_slist_append(hdr, auth);
    }
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return a->status;
}

static void answer_release(struct answer *a)
{
    vn_buf_release(&a->body);
    vn_buf_release(&a->headers);
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("'%s' not found in '%s'", (needle), (hay));                                   \
    } while (0)

/* ---- tests ---------------------------------------------------------------------------- */

static void test_keys_and_scopes(void **state)
{
    struct fixture *f = *state;
    struct answer a;

    /* No key, a malformed header, an unknown key: 401 with WWW-Authenticate: Bearer. */
    assert_int_equal(call(f, "GET", "/t/read", NULL, NULL, &a), 401);
    assert_contains(vn_buf_str(&a.headers), "WWW-Authenticate: Bearer");
    assert_contains(vn_buf_str(&a.body), "\"error\"");
    answer_release(&a);
    assert_int_equal(call(f, "GET", "/t/read", "vnk_not-a-key-anybody-made", NULL, &a), 401);
    answer_release(&a);
    assert_int_equal(call(f, "GET", "/t/read", "has space", NULL, &a), 401);
    answer_release(&a);

    /* read and manage keys both read; only manage manages (403 names both scopes). */
    assert_int_equal(call(f, "GET", "/t/read", f->read_key, NULL, &a), 200);
    assert_contains(vn_buf_str(&a.body), "scope=read key=reader");
    assert_contains(vn_buf_str(&a.headers), "Cache-Control: no-store");
    assert_contains(vn_buf_str(&a.headers), "X-Test: yes");
    answer_release(&a);
    assert_int_equal(call(f, "GET", "/t/read", f->manage_key, NULL, &a), 200);
    assert_contains(vn_buf_str(&a.body), "scope=manage key=admin");
    answer_release(&a);
    assert_int_equal(call(f, "POST", "/t/manage", f->read_key, "{}", &a), 403);
    assert_contains(vn_buf_str(&a.body), "scope read; this route needs manage");
    answer_release(&a);
    assert_int_equal(call(f, "POST", "/t/manage", f->manage_key, "{\"a\":1}", &a), 200);
    assert_contains(vn_buf_str(&a.body), "body=7:{\"a\":1}");
    answer_release(&a);

    /* The same path, two methods with two scopes. */
    assert_int_equal(call(f, "POST", "/t/read", f->read_key, "{}", &a), 403);
    answer_release(&a);

    /* A public route needs no key, and sees one when given. */
    assert_int_equal(call(f, "GET", "/t/public", NULL, NULL, &a), 200);
    assert_contains(vn_buf_str(&a.body), "scope=public key= ");
    answer_release(&a);
    assert_int_equal(call(f, "GET", "/t/public", f->read_key, NULL, &a), 200);
    assert_contains(vn_buf_str(&a.body), "scope=read key=reader");
    answer_release(&a);
}

static void test_revoked_key_refused(void **state)
{
    struct fixture *f = *state;
    char key[VN_API_KEY_LEN + 1];
    struct vn_error err = {0};
    struct answer a;
    long st = 0;

    /* A key created after the listener started works on its first request. */
    assert_int_equal(vn_api_key_create(f->admin, "late", VN_API_READ, key, &err), 0);
    assert_int_equal(call(f, "GET", "/t/read", key, NULL, &a), 200);
    answer_release(&a);
    /* Revoked: refused within the refresh interval (50 ms here); poll, bounded. */
    assert_int_equal(vn_store_api_key_revoke(f->admin, "late", vn_now_ms()), 0);
    for (int i = 0; i < 200 && st != 401; i++) {
        struct timespec pause = {0, 20 * 1000000};
        st = call(f, "GET", "/t/read", key, NULL, &a);
        answer_release(&a);
        if (st != 401)
            nanosleep(&pause, NULL);
    }
    assert_int_equal(st, 401);
    /* A revoked name can be used again; the old key stays refused. */
    assert_int_equal(vn_store_api_key_revoke(f->admin, "late", vn_now_ms()), VN_ENOTFOUND);
    {
        char again[VN_API_KEY_LEN + 1];
        assert_int_equal(vn_api_key_create(f->admin, "late", VN_API_MANAGE, again, &err), 0);
        assert_int_equal(call(f, "GET", "/t/read", key, NULL, &a), 401);
        answer_release(&a);
        assert_int_equal(call(f, "GET", "/t/read", again, NULL, &a), 200);
        answer_release(&a);
    }
    /* Bad names and a taken name are refused with words. */
    assert_int_equal(vn_api_key_create(f->admin, "reader", VN_API_READ, key, &err), VN_EDUP);
    assert_int_equal(vn_api_key_create(f->admin, "two words", VN_API_READ, key, &err), VN_EPARSE);
    assert_non_null(strstr(err.msg, "'two words'"));
    assert_int_equal(vn_api_key_create(f->admin, "", VN_API_READ, key, &err), VN_EPARSE);
}

static void test_routes(void **state)
{
    struct fixture *f = *state;
    struct answer a;

    assert_int_equal(call(f, "GET", "/t/items/42/x/abc?q=hello%20there", f->read_key, NULL, &a),
                     200);
    assert_contains(vn_buf_str(&a.body), "id=42 sub=abc q=hello there");
    answer_release(&a);
    /* An empty segment does not match "{id}"; nor does a longer path. */
    assert_int_equal(call(f, "GET", "/t/items//x/abc", f->read_key, NULL, &a), 404);
    answer_release(&a);
    assert_int_equal(call(f, "GET", "/t/items/1/x/2/3", f->read_key, NULL, &a), 404);
    answer_release(&a);
    /* A prefix route matches itself and everything below. */
    assert_int_equal(call(f, "GET", "/t/pre", f->read_key, NULL, &a), 200);
    answer_release(&a);
    assert_int_equal(call(f, "GET", "/t/pre/a/b.css", f->read_key, NULL, &a), 200);
    assert_contains(vn_buf_str(&a.body), "GET /t/pre/a/b.css");
    answer_release(&a);
    assert_int_equal(call(f, "GET", "/t/prefix", f->read_key, NULL, &a), 404);
    answer_release(&a);
    /* 404 for an unknown path (before any key check), 405 with Allow for a wrong method. */
    assert_int_equal(call(f, "GET", "/nowhere", NULL, NULL, &a), 404);
    assert_contains(vn_buf_str(&a.body), "'/nowhere'");
    answer_release(&a);
    assert_int_equal(call(f, "DELETE", "/t/read", f->manage_key, NULL, &a), 405);
    assert_contains(vn_buf_str(&a.headers), "Allow: GET, POST, HEAD");
    answer_release(&a);
    /* HEAD follows GET. */
    assert_int_equal(call(f, "HEAD", "/t/read", f->read_key, NULL, &a), 200);
    answer_release(&a);
    /* A handler that gives no answer gets 500 from the router, not a hung request. */
    assert_int_equal(call(f, "GET", "/t/silent", f->read_key, NULL, &a), 500);
    answer_release(&a);
}

static void test_body_limit(void **state)
{
    struct fixture *f = *state;
    char big[4096];
    struct answer a;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(call(f, "POST", "/t/manage", f->manage_key, big, &a), 413);
    assert_contains(vn_buf_str(&a.body), "limit of 2048 bytes");
    answer_release(&a);
    /* Not even read without a key. */
    assert_int_equal(call(f, "POST", "/t/manage", NULL, big, &a), 401);
    answer_release(&a);
}

struct bg {
    struct fixture *f;
    struct answer a;
};

static void *bg_wait(void *p)
{
    struct bg *b = p;

    call(b->f, "GET", "/t/wait", b->f->read_key, NULL, &b->a);
    return NULL;
}

/* Wait (bounded) until n requests are parked. */
static void wait_parked(struct fixture *f, int n)
{
    struct timespec pause = {0, 5 * 1000000};

    for (int i = 0; i < 2000 && atomic_load(&f->waiting) < n; i++)
        nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&f->waiting), n);
}

static void test_suspend_resume(void **state)
{
    struct fixture *f = *state;
    struct bg b = {.f = f};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, bg_wait, &b), 0);
    wait_parked(f, 1);
    /* Resumed from another thread: answered by the resume handler. A second resume of the
     * same suspension is ignored. */
    pthread_mutex_lock(&f->lock);
    assert_non_null(f->parked);
    vn_api_resume(f->parked);
    vn_api_resume(f->parked);
    pthread_mutex_unlock(&f->lock);
    pthread_join(t, NULL);
    assert_int_equal(b.a.status, 200);
    assert_string_equal(vn_buf_str(&b.a.body), "resumed");
    answer_release(&b.a);
}

static void test_quiesce_wakes_long_polls(void **state)
{
    struct fixture *f = *state;
    struct bg b1 = {.f = f}, b2 = {.f = f};
    pthread_t t1, t2;

    assert_int_equal(pthread_create(&t1, NULL, bg_wait, &b1), 0);
    wait_parked(f, 1);
    assert_int_equal(pthread_create(&t2, NULL, bg_wait, &b2), 0);
    wait_parked(f, 2);
    vn_api_quiesce(f->api, 5000);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(b1.a.status, 200);
    assert_string_equal(vn_buf_str(&b1.a.body), "stopping");
    assert_string_equal(vn_buf_str(&b2.a.body), "stopping");
    answer_release(&b1.a);
    answer_release(&b2.a);
}

static void test_scope_names(void **state)
{
    enum vn_api_scope s;

    assert_int_equal(vn_api_scope_parse("read", &s), 0);
    assert_int_equal(s, VN_API_READ);
    assert_int_equal(vn_api_scope_parse("manage", &s), 0);
    assert_int_equal(s, VN_API_MANAGE);
    assert_int_equal(vn_api_scope_parse("admin", &s), VN_EPARSE);
    assert_int_equal(vn_api_scope_parse(NULL, &s), VN_EPARSE);
    assert_string_equal(vn_api_scope_name(VN_API_PUBLIC), "public");
}

/* The Standard Webhooks specification's example: its official libraries sign it so. */
static void test_webhook_signature_vector(void **state)
{
    uint8_t key[64];
    size_t n = 0;
    char sig[128];
    const char *body = "{\"test\": 2432232314}";

    assert_int_equal(
        vn_webhook_secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, sizeof(key), &n), 0);
    assert_int_equal(n, 24);
    assert_int_equal(vn_webhook_sign(key, n, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig, sizeof(sig)),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* Another timestamp, another signature. */
    assert_int_equal(vn_webhook_sign(key, n, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
                                     strlen(body), sig, sizeof(sig)),
                     0);
    assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* Secrets that are not base64 of 24..64 bytes are refused. */
    assert_int_equal(vn_webhook_secret_key("whsec_not base64!", key, sizeof(key), &n), VN_EPARSE);
    assert_int_equal(vn_webhook_secret_key("whsec_c2hvcnQ=", key, sizeof(key), &n), VN_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_names),
        cmocka_unit_test(test_webhook_signature_vector),
        cmocka_unit_test_setup_teardown(test_keys_and_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspend_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiesce_wakes_long_polls, setup, teardown),
    };

    vn_secret_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
