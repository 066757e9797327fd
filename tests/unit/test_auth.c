/* Unit tests of auth.c: bearer parsing and the token cache against a real SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

static void test_parse_bearer(void **state)
{
    const char *tok;
    size_t len;

    assert_int_equal(vn_auth_parse_bearer("Bearer abc123", &tok, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(tok, "abc123", 6);
    assert_int_equal(vn_auth_parse_bearer("bEARER abc", &tok, &len), 0);
    assert_int_equal(vn_auth_parse_bearer(NULL, &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Bearer", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Bearer ", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Bearer  abc", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Bearer abc def", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Bearer abc\t", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Basic abc", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Bearerabc", &tok, &len), VN_EAUTH);
    assert_int_equal(vn_auth_parse_bearer("Bearer \xc3\xa9t\xc3\xa9", &tok, &len), VN_EAUTH);
}

struct fixture {
    char dir[64];
    char db[96];
    struct vn_store *admin; /* what `vppnotify location ...` would do, from another handle */
    struct vn_auth *auth;
};

static void digest_of(const char *tok, uint8_t d[VN_DIGEST_LEN])
{
    vn_digest(tok, strlen(tok), d);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct vn_error err = {0};
    struct vn_store_options ro = {.read_only = 1};
    uint8_t d[VN_DIGEST_LEN];

    snprintf(f->dir, sizeof(f->dir), "/tmp/vn_auth_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/a.db", f->dir);
    f->admin = vn_store_open(f->db, NULL, &err);
    assert_non_null(f->admin);
    digest_of("token-of-location-one", d);
    assert_int_equal(vn_store_location_add(f->admin, "U1", "one", d, vn_now_ms()), 0);
    /* The checker compares the token version every 100 ms; misses make it compare at once. */
    f->auth = vn_auth_new(vn_store_open(f->db, &ro, &err), 100, &err);
    assert_non_null(f->auth);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    vn_auth_free(f->auth);
    vn_store_free(f->admin);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Poll (at most 10 s) until a check of header gives want. */
static int check_becomes(struct vn_auth *a, const char *header, int want)
{
    char uid[VN_ID_MAX + 1];
    int64_t end = vn_mono_ns() + 10LL * 1000000000LL;
    struct timespec pause = {0, 5 * 1000000};

    while (vn_auth_check(a, header, uid) != want) {
        if (vn_mono_ns() > end)
            return 0;
        nanosleep(&pause, NULL);
    }
    return 1;
}

static void test_known_and_unknown_tokens(void **state)
{
    struct fixture *f = *state;
    char uid[VN_ID_MAX + 1];

    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-one", uid), 0);
    assert_string_equal(uid, "U1");
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-onf", uid), VN_EAUTH);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-on", uid), VN_EAUTH);
    assert_int_equal(vn_auth_check(f->auth, NULL, uid), VN_EAUTH);
    /* The lookup alone: a hit, a miss to confirm, a malformed header (final). */
    assert_int_equal(vn_auth_lookup(f->auth, "Bearer token-of-location-one", uid), 0);
    assert_int_equal(vn_auth_lookup(f->auth, "Bearer token-of-location-onf", uid), VN_ENOTFOUND);
    assert_int_equal(vn_auth_lookup(f->auth, "Basic token-of-location-one", uid), VN_EAUTH);
}

static void test_new_location_seen_at_once(void **state)
{
    struct fixture *f = *state;
    char uid[VN_ID_MAX + 1];
    uint8_t d[VN_DIGEST_LEN];

    /* Warm the cache, then add a location from the other handle: the very next check that
     * carries the new token must succeed (Apple's TEST_NOTIFICATION follows at once). */
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-one", uid), 0);
    digest_of("token-of-location-two", d);
    assert_int_equal(vn_store_location_add(f->admin, "U2", "two", d, vn_now_ms()), 0);
    assert_int_equal(vn_auth_lookup(f->auth, "Bearer token-of-location-two", uid), VN_ENOTFOUND);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-two", uid), 0);
    assert_string_equal(uid, "U2");
}

static void test_rotation_grace_and_removal(void **state)
{
    struct fixture *f = *state;
    char uid[VN_ID_MAX + 1];
    uint8_t d[VN_DIGEST_LEN];
    int64_t now = vn_now_ms();

    digest_of("token-one-rotated", d);
    assert_int_equal(vn_store_location_rotate(f->admin, "U1", d, now, now + 300), 0);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-one-rotated", uid), 0);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-one", uid), 0);
    assert_string_equal(uid, "U1");
    /* The grace deadline is checked at lookup time, not only at reload time. */
    assert_true(check_becomes(f->auth, "Bearer token-of-location-one", VN_EAUTH));
    assert_true(vn_now_ms() >= now + 300);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-one-rotated", uid), 0);
    /* A removed token stops working once the checker's periodic comparison saw it, without
     * a miss to prompt it. */
    assert_int_equal(vn_store_location_remove(f->admin, "U1"), 0);
    assert_true(check_becomes(f->auth, "Bearer token-one-rotated", VN_EAUTH));
}

/*
 * Issue 9: every request with a wrong token took a global lock and a store read. Now a lookup
 * never reads the store, and the confirmations of misses share version checks at least
 * VN_AUTH_CHECK_GAP_MS apart, whatever the number of wrong tokens.
 */
struct hammer {
    struct vn_auth *a;
    int n, bad;
};

static void *hammer_wrong(void *arg)
{
    struct hammer *h = arg;
    char uid[VN_ID_MAX + 1], header[64];

    for (int i = 0; i < h->n; i++) {
        snprintf(header, sizeof(header), "Bearer wrong-token-%d-%p", i, (void *)h);
        if (vn_auth_check(h->a, header, uid) != VN_EAUTH)
            h->bad++;
    }
    return NULL;
}

static void test_misses_cost_no_store_read_each(void **state)
{
    struct fixture *f = *state;
    struct vn_auth_stats before, after;
    struct hammer h[8];
    pthread_t t[8];
    char uid[VN_ID_MAX + 1];
    int64_t start;
    double elapsed_ms;

    vn_auth_stats(f->auth, &before);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vn_auth_lookup(f->auth, "Bearer not-a-token-we-know", uid), VN_ENOTFOUND);
    vn_auth_stats(f->auth, &after);
    assert_int_equal(after.checks - before.checks, 0); /* 1,000 misses, no store read */
    assert_int_equal(after.misses - before.misses, 1000);

    start = vn_mono_ns();
    for (int i = 0; i < 8; i++) {
        h[i] = (struct hammer){.a = f->auth, .n = 50};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_wrong, &h[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].bad, 0);
    }
    elapsed_ms = (double)(vn_mono_ns() - start) / 1e6;
    vn_auth_stats(f->auth, &before);
    assert_int_equal(before.confirms - after.confirms, 400);
    /* Checks are at least the gap apart (plus the periodic ones, every 100 ms). */
    assert_true((double)(before.checks - after.checks) <=
                elapsed_ms / VN_AUTH_CHECK_GAP_MS + elapsed_ms / 100 + 2);
    /* And the right token still works. */
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-one", uid), 0);
}

/* Lookups run while snapshots are replaced under them (ASan sees a use after free). */
struct reader {
    struct vn_auth *a;
    atomic_int *stop;
    long hits, other;
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    char uid[VN_ID_MAX + 1];

    while (!atomic_load(r->stop)) {
        if (vn_auth_lookup(r->a, "Bearer token-of-location-one", uid) == 0)
            r->hits++;
        else
            r->other++;
    }
    return NULL;
}

static void test_lookups_during_reloads(void **state)
{
    struct fixture *f = *state;
    atomic_int stop = 0;
    struct reader r[4];
    pthread_t t[4];
    struct vn_auth_stats st;
    char name[32], tok[48];
    uint8_t d[VN_DIGEST_LEN];

    for (int i = 0; i < 4; i++) {
        r[i] = (struct reader){.a = f->auth, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, read_loop, &r[i]), 0);
    }
    for (int i = 0; i < 40; i++) {
        char uid[VN_ID_MAX + 1];
        snprintf(name, sizeof(name), "L%d", i);
        snprintf(tok, sizeof(tok), "Bearer token-of-%s", name);
        digest_of(tok + 7, d);
        assert_int_equal(vn_store_location_add(f->admin, name, name, d, vn_now_ms()), 0);
        assert_int_equal(vn_auth_check(f->auth, tok, uid), 0); /* a reload each time */
        assert_string_equal(uid, name);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(r[i].hits > 0);
        assert_int_equal(r[i].other, 0);
    }
    vn_auth_stats(f->auth, &st);
    assert_true(st.reloads >= 40);
    assert_int_equal(st.tokens, 41);
}

/*
 * Issue 9: a failed reload logged an uninitialised error message (the out-of-memory path left
 * it unset). Now every failure path fills it: the log says why, and the previous snapshot
 * stays in use until a reload succeeds.
 */
static void test_failed_reload_says_why(void **state)
{
    struct fixture *f = *state;
    char path[128], buf[4096], uid[VN_ID_MAX + 1];
    uint8_t d[VN_DIGEST_LEN];
    struct vn_auth_stats st;
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/log", f->dir);
    fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    vn_log_setup(VN_LOG_WARN, VN_LOG_TEXT, fd);
    vn__auth_fail_next_alloc = 1;
    digest_of("token-of-location-three", d);
    assert_int_equal(vn_store_location_add(f->admin, "U3", "three", d, vn_now_ms()), 0);
    vn_auth_invalidate(f->auth);
    for (int i = 0; i < 2000; i++) {
        struct timespec pause = {0, 5 * 1000000};
        vn_auth_stats(f->auth, &st);
        if (st.reload_failures > 0)
            break;
        nanosleep(&pause, NULL);
    }
    assert_int_equal(st.reload_failures, 1);
    /* The old snapshot still serves; the next check reloads and the new token works. */
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-one", uid), 0);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-three", uid), 0);
    vn_log_setup(VN_LOG_WARN, VN_LOG_TEXT, 2);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "cannot load notification tokens: out of memory; using the "
                                "previous token snapshot"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bearer),
        cmocka_unit_test_setup_teardown(test_known_and_unknown_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_location_seen_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_grace_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misses_cost_no_store_read_each, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookups_during_reloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_reload_says_why, setup, teardown),
    };

    vn_secret_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
