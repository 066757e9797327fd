/* Unit tests of auth.c: bearer parsing and the token cache against a real SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vppnotify/auth.h"
#include "vppnotify/error.h"
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
    /* Hits compare the token version every 100 ms; misses always do. */
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

static void test_known_and_unknown_tokens(void **state)
{
    struct fixture *f = *state;
    char uid[VN_ID_MAX + 1];

    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-one", uid), 0);
    assert_string_equal(uid, "U1");
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-onf", uid), VN_EAUTH);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-on", uid), VN_EAUTH);
    assert_int_equal(vn_auth_check(f->auth, NULL, uid), VN_EAUTH);
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
    usleep(400 * 1000);
    /* The grace deadline is checked at lookup time, not only at reload time. */
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-of-location-one", uid), VN_EAUTH);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-one-rotated", uid), 0);
    assert_int_equal(vn_store_location_remove(f->admin, "U1"), 0);
    usleep(150 * 1000);
    assert_int_equal(vn_auth_check(f->auth, "Bearer token-one-rotated", uid), VN_EAUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bearer),
        cmocka_unit_test_setup_teardown(test_known_and_unknown_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_location_seen_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_grace_and_removal, setup, teardown),
    };

    vn_secret_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
