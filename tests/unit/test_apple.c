/*
 * Unit tests of the pure parts of talking to Apple: sToken decoding and sealing (stoken.c),
 * the client's backoff schedule, retry decision, error mapping, URL rule and query encoding
 * (apple.c), and the planning of async requests at Apple's limits (manage.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vppnotify/apple.h"
#include "vppnotify/apple_errors.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/manage.h"
#include "vppnotify/secret.h"
#include "vppnotify/stoken.h"
#include "vppnotify/util.h"

/* Base64 of a JSON text. Owned. */
static char *b64(const char *json)
{
    size_t n = strlen(json), cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);

    sodium_bin2base64(out, cap, (const unsigned char *)json, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* ---- sToken ---------------------------------------------------------------------------- */

static void test_stoken_compact(void **state)
{
    char *t = b64("{\"token\":\"T1BBUVVFLVRPS0VO\",\"expDate\":\"2030-11-08T22:33:22+0000\","
                  "\"orgName\":\"ORG12345\"}");
    struct vn_stoken s;
    struct vn_error err = {0};
    int64_t want;

    (void)state;
    assert_int_equal(vn_stoken_parse(t, &s, &err), 0);
    assert_string_equal(s.text, t);
    assert_string_equal(s.org_name, "ORG12345");
    assert_int_equal(vn_time_parse("2030-11-08T22:33:22Z", &want), 0);
    assert_int_equal(s.expires_ms, want);
    vn_stoken_release(&s);
    assert_null(s.text);
    free(t);
}

static void test_stoken_pretty_wrapped_unpadded(void **state)
{
    /* Apple's sample decodes to pretty-printed JSON; files may wrap lines and drop '='. */
    char *t = b64("{\n    \"token\" : \"abc\",\n    \"expDate\" : \"2031-01-02T03:04:05+0000\",\n"
                  "    \"orgName\" : \"Pretty\"\n}\n");
    char text[512];
    size_t n = strlen(t), o = 0;
    struct vn_stoken s;
    struct vn_error err = {0};

    (void)state;
    while (n > 0 && t[n - 1] == '=')
        t[--n] = '\0';
    text[o++] = ' ';
    for (size_t i = 0; i < n; i++) {
        text[o++] = t[i];
        if (i % 20 == 19)
            text[o++] = '\n';
    }
    text[o++] = '\r';
    text[o++] = '\n';
    text[o] = '\0';
    assert_int_equal(vn_stoken_parse(text, &s, &err), 0);
    assert_string_equal(s.text, t); /* whitespace gone: the header value Apple expects */
    assert_string_equal(s.org_name, "Pretty");
    vn_stoken_release(&s);
    free(t);
}

static void test_stoken_invalid(void **state)
{
    static const char *const bad_json[] = {
        "{\"expDate\":\"2030-11-08T22:33:22+0000\"}",                /* no token */
        "{\"token\":\"\",\"expDate\":\"2030-11-08T22:33:22+0000\"}", /* empty token */
        "{\"token\":\"a\"}",                                         /* no expDate */
        "{\"token\":\"a\",\"expDate\":\"next year\"}",               /* not a date */
        "{\"token\":\"a\",\"expDate\":\"2030-11-08T22:33:22+0000\",\"orgName\":7}",
        "[1,2,3]",
        "not json",
    };
    struct vn_stoken s;
    struct vn_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        char *t = b64(bad_json[i]);
        assert_int_equal(vn_stoken_parse(t, &s, &err), VN_EPARSE);
        assert_null(s.text);
        free(t);
    }
    assert_int_equal(vn_stoken_parse("!!!not base64!!!", &s, &err), VN_EPARSE);
    assert_non_null(strstr(err.msg, "not Base64"));
    assert_int_equal(vn_stoken_parse(" \n", &s, &err), VN_EPARSE);
    /* A message never quotes the token. */
    {
        char *t = b64("{\"token\":\"SECRETSECRET\",\"expDate\":\"soon\"}");
        assert_int_equal(vn_stoken_parse(t, &s, &err), VN_EPARSE);
        assert_null(strstr(err.msg, "SECRETSECRET"));
        assert_null(strstr(err.msg, t));
        free(t);
    }
}

static void test_seal_roundtrip_and_key_file(void **state)
{
    char dir[] = "/tmp/vn_test_apple_XXXXXX", path[128];
    uint8_t key[VN_SEAL_KEY_LEN], again[VN_SEAL_KEY_LEN], other[VN_SEAL_KEY_LEN], *box;
    size_t n;
    char *plain;
    struct stat sb;
    struct vn_error err = {0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db.key", dir);
    assert_int_equal(vn_seal_key_load(path, 0, key, &err), VN_ENOTFOUND);
    assert_int_equal(vn_seal_key_load(path, 1, key, &err), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(vn_seal_key_load(path, 1, again, &err), 0);
    assert_memory_equal(key, again, sizeof(key)); /* created once */

    assert_int_equal(vn_seal(key, "the sToken", 10, &box, &n), 0);
    assert_null(memmem(box, n, "the sToken", 10));
    assert_int_equal(vn_unseal(key, box, n, &plain, &err), 0);
    assert_string_equal(plain, "the sToken");
    free(plain);
    randombytes_buf(other, sizeof(other));
    assert_int_equal(vn_unseal(other, box, n, &plain, &err), VN_EPARSE);
    box[n - 1] ^= 1;
    assert_int_equal(vn_unseal(key, box, n, &plain, &err), VN_EPARSE);
    assert_int_equal(vn_unseal(key, box, 10, &plain, &err), VN_EPARSE);
    free(box);

    chmod(path, 0644);
    assert_int_equal(vn_seal_key_load(path, 0, key, &err), VN_EPERM);
    unlink(path);
    rmdir(dir);

    assert_int_equal(vn_seal_key_path("var/x.db", path, sizeof(path), &err), 0);
    assert_string_equal(path, "var/x.db.key");
    assert_int_equal(vn_seal_key_path("sqlite:y.db", path, sizeof(path), &err), 0);
    assert_string_equal(path, "y.db.key");
    assert_int_equal(vn_seal_key_path("postgresql://h/db", path, sizeof(path), &err), VN_ENOTSUP);
}

/* ---- the client's pure parts ------------------------------------------------------------ */

static void test_backoff_bounds(void **state)
{
    (void)state;
    /* Full jitter: within [0, min(cap, base * 2^(attempt-1))], the whole range reachable. */
    for (int attempt = 1; attempt <= 12; attempt++) {
        long long ceiling = 1000LL << (attempt - 1);
        if (ceiling > 60000)
            ceiling = 60000;
        assert_int_equal(vn_apple_backoff_ms(attempt, 1000, 60000, 0, 300000, 0), 0);
        assert_int_equal(vn_apple_backoff_ms(attempt, 1000, 60000, 0, 300000, UINT32_MAX), ceiling);
        for (int i = 0; i < 200; i++) {
            long long d =
                vn_apple_backoff_ms(attempt, 1000, 60000, 0, 300000, vn_random_uniform(UINT32_MAX));
            assert_in_range(d, 0, ceiling);
        }
    }
    /* Retry-After wins, capped. */
    assert_int_equal(vn_apple_backoff_ms(1, 1000, 60000, 120000, 300000, 7), 120000);
    assert_int_equal(vn_apple_backoff_ms(5, 1000, 60000, 3600000, 300000, 7), 300000);
    /* No overflow for absurd attempts. */
    assert_int_equal(vn_apple_backoff_ms(1000, 1000, 60000, 0, 300000, UINT32_MAX), 60000);
}

static void test_retryable(void **state)
{
    (void)state;
    assert_true(vn_apple_retryable(429, 9646));
    assert_true(vn_apple_retryable(429, 0));
    assert_true(vn_apple_retryable(503, 9729));
    assert_true(vn_apple_retryable(500, 9603));
    assert_true(vn_apple_retryable(200, 9603)); /* a 200 carrying an error body */
    assert_true(vn_apple_retryable(502, 0));
    assert_false(vn_apple_retryable(401, 9621));
    assert_false(vn_apple_retryable(401, 9625));
    assert_false(vn_apple_retryable(400, 9728));
    assert_false(vn_apple_retryable(400, 9700));
    assert_false(vn_apple_retryable(404, 0));
}

static void test_error_mapping(void **state)
{
    const struct vn_apple_error_info *all;
    struct vn_apple_failure why;
    int n;

    (void)state;
    /* Every number of apple-api.md section 6.9 has a name, a message and (sync) a status. */
    static const int numbers[] = {9601, 9602, 9603, 9609, 9621, 9623, 9625, 9634, 9635, 9637, 9641,
                                  9644, 9646, 9647, 9650, 9700, 9701, 9702, 9703, 9704, 9705, 9706,
                                  9707, 9708, 9709, 9710, 9711, 9712, 9713, 9714, 9715, 9716, 9717,
                                  9718, 9719, 9720, 9721, 9722, 9723, 9724, 9725, 9726, 9727, 9728,
                                  9729, 9811, 9812, 9813, 9814, 9815, 9816, 9817, 9818};
    all = vn_apple_errors(&n);
    assert_int_equal(n, (int)(sizeof(numbers) / sizeof(numbers[0])));
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        const struct vn_apple_error_info *e = vn_apple_error_lookup(numbers[i]);
        assert_non_null(e);
        assert_ptr_equal(e, &all[i]);
        assert_true(strlen(e->name) > 3 && strlen(e->message) > 3);
    }
    assert_null(vn_apple_error_lookup(9999));

    vn_apple_explain(&why, 401, 9621, NULL, "GET assets");
    assert_string_equal(why.name, "TOKEN_EXPIRED");
    assert_int_equal(why.number, 9621);
    assert_int_equal(why.http_status, 401);
    assert_non_null(strstr(why.message, "GET assets: Apple error 9621 TOKEN_EXPIRED (HTTP 401)"));
    assert_non_null(strstr(why.message, "what to do: download a new content token"));
    vn_apple_explain(&why, 400, 9728, "Unreachable!", "POST client/config");
    assert_non_null(strstr(why.message, "Unreachable!")); /* Apple's own words */
    assert_non_null(strstr(why.message, "TEST_NOTIFICATION"));
    vn_apple_explain(&why, 400, 9999, "brand new", "GET users");
    assert_string_equal(why.name, "UNKNOWN_ERROR");
    assert_non_null(strstr(why.message, "9999 UNKNOWN_ERROR"));
    vn_apple_explain(&why, 502, 0, NULL, "GET users");
    assert_null(why.name);
    assert_non_null(strstr(why.message, "HTTP 502"));
}

static void test_url_rule_and_query(void **state)
{
    struct vn_buf q;
    struct vn_error err = {0};

    (void)state;
    assert_int_equal(vn_apple_url_check("https://vpp.itunes.apple.com/mdm/v2", &err), 0);
    assert_int_equal(vn_apple_url_check("http://127.0.0.1:8081/mdm/v2", &err), 0);
    assert_int_equal(vn_apple_url_check("http://localhost/mdm/v2", &err), 0);
    assert_int_equal(vn_apple_url_check("http://[::1]:9/mdm/v2", &err), 0);
    assert_int_equal(vn_apple_url_check("http://vpp.itunes.apple.com/mdm/v2", &err), VN_EPARSE);
    assert_non_null(strstr(err.msg, "must use https"));
    assert_int_equal(vn_apple_url_check("ftp://127.0.0.1/x", &err), VN_EPARSE);
    assert_int_equal(vn_apple_url_check("not a url", &err), VN_EPARSE);

    vn_buf_init(&q, 1024);
    assert_int_equal(vn_apple_query_add(&q, "adamId", "408709785"), 0);
    assert_int_equal(vn_apple_query_add(&q, "cursor", "a+b/c=d&e f"), 0);
    assert_string_equal(vn_buf_str(&q), "adamId=408709785&cursor=a%2Bb%2Fc%3Dd%26e%20f");
    vn_buf_release(&q);
}

/* ---- planning at Apple's limits --------------------------------------------------------- */

static char **names(const char *prefix, size_t n)
{
    char **v = calloc(n, sizeof(*v));

    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(32);
        snprintf(v[i], 32, "%s%zu", prefix, i);
    }
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void test_plan_assets_split(void **state)
{
    struct vn_apple_limits l;
    struct vn_manage_asset assets[3];
    char **serials = names("S", 250), **users = names("U", 30);
    struct vn_manage m = {.op = VN_MO_ASSETS_ASSOCIATE,
                          .assets = assets,
                          .nassets = 3,
                          .serials = (const char *const *)serials,
                          .nserials = 250,
                          .client_user_ids = (const char *const *)users,
                          .nusers = 30};
    struct vn_manage_request *r;
    size_t n, total_serials = 0;
    long long items = 0;
    struct vn_error err = {0};

    (void)state;
    vn_apple_limits_default(&l);
    l.max_assets = 2;
    l.max_serial_numbers = 100;
    l.max_client_user_ids = 20;
    assert_int_equal(vn_manage_asset_parse("300", &assets[0], &err), 0);
    assert_int_equal(vn_manage_asset_parse("301:STDQ", &assets[1], &err), 0);
    assert_int_equal(vn_manage_asset_parse("302:PLUS", &assets[2], &err), 0);
    assert_string_equal(assets[2].pricing_param, "PLUS");
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), 0);
    /* 2 asset chunks x 3 target chunks (serials 100/100/50 beside users 20/10/0). */
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_object_get(r[i].body, "assets");
        json_t *s = json_object_get(r[i].body, "serialNumbers");
        json_t *u = json_object_get(r[i].body, "clientUserIds");
        assert_true(json_array_size(a) <= 2);
        assert_true(json_array_size(s) <= 100);
        assert_true(json_array_size(u) <= 20);
        assert_int_equal(r[i].expected, (long long)(json_array_size(a) *
                                                    (json_array_size(s) + json_array_size(u))));
        items += r[i].expected;
        if (i < 3)
            total_serials += json_array_size(s);
    }
    assert_int_equal(items, 3 * (250 + 30)); /* apple-api.md 2.4: assets x (users + serials) */
    assert_int_equal(total_serials, 250);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(r[5].body, "assets"), 0),
                                          "pricingParam")),
        "PLUS");
    vn_manage_plan_free(r, n);
    free_names(serials, 250);
    free_names(users, 30);
}

static void test_plan_refusals(void **state)
{
    struct vn_apple_limits l;
    struct vn_manage_asset a;
    const char *dups[] = {"A", "B", "A", "C", "B"};
    struct vn_manage m = {
        .op = VN_MO_ASSETS_ASSOCIATE, .assets = &a, .nassets = 1, .serials = dups, .nserials = 5};
    struct vn_manage_request *r;
    size_t n;
    struct vn_error err = {0};

    (void)state;
    vn_apple_limits_default(&l);
    vn_manage_asset_parse("1", &a, &err);
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), VN_EDUP);
    assert_non_null(strstr(err.msg, "2 duplicate serialNumbers ('A', 'B')"));
    assert_null(r);
    m.nserials = 0;
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), VN_EUSAGE);
    m.nassets = 0;
    m.nserials = 1;
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), VN_EUSAGE);
    assert_int_equal(vn_manage_asset_parse("12x", &a, &err), VN_EPARSE);
    assert_int_equal(vn_manage_asset_parse("12:GOLD", &a, &err), VN_EPARSE);
    assert_int_equal(vn_manage_asset_parse("", &a, &err), VN_EPARSE);
}

static void test_plan_users_revoke_subscriptions(void **state)
{
    struct vn_apple_limits l;
    struct vn_manage_user people[250];
    char **ids = names("u", 250), **serials = names("s", 120);
    const char *adams[] = {"7000", "7001", "7002"};
    struct vn_manage m = {.op = VN_MO_USERS_CREATE, .people = people, .npeople = 250};
    struct vn_manage_request *r;
    size_t n;
    struct vn_error err = {0};

    (void)state;
    vn_apple_limits_default(&l); /* maxUsers 100, maxRevoke* 100, maxSubscriptions 25 ... */
    for (int i = 0; i < 250; i++)
        people[i] = (struct vn_manage_user){ids[i], i == 0 ? "a@example.com" : NULL, NULL};
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].expected + r[1].expected + r[2].expected, 250);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r[0].body, "users"), 0), "email")),
                        "a@example.com");
    vn_manage_plan_free(r, n);
    m.op = VN_MO_USERS_RETIRE; /* retire sends ids only */
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), 0);
    assert_null(json_object_get(json_array_get(json_object_get(r[0].body, "users"), 0), "email"));
    vn_manage_plan_free(r, n);

    m = (struct vn_manage){
        .op = VN_MO_ASSETS_REVOKE, .serials = (const char *const *)serials, .nserials = 120};
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), 0);
    assert_int_equal(n, 2);             /* maxRevokeSerialNumbers 100 */
    assert_int_equal(r[0].expected, 0); /* Apple counts what it finds */
    assert_null(json_object_get(r[0].body, "assets"));
    vn_manage_plan_free(r, n);

    l.max_subscriptions = 2;
    l.max_subscription_client_user_ids = 100;
    m = (struct vn_manage){.op = VN_MO_SUBS_DISASSOCIATE,
                           .adam_ids = adams,
                           .nadams = 3,
                           .client_user_ids = (const char *const *)ids,
                           .nusers = 250,
                           .deferred = 1};
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), 0);
    assert_int_equal(n, 2 * 3);
    assert_true(json_is_integer(json_array_get(json_object_get(r[0].body, "adamIds"), 0)));
    assert_true(json_is_true(json_object_get(r[0].body, "deferred")));
    assert_null(json_object_get(r[0].body, "renewing"));
    assert_int_equal(r[0].expected, 2 * 100);
    vn_manage_plan_free(r, n);
    adams[1] = "x";
    assert_int_equal(vn_manage_plan(&m, &l, &r, &n, &err), VN_EPARSE);
    free_names(ids, 250);
    free_names(serials, 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stoken_compact),
        cmocka_unit_test(test_stoken_pretty_wrapped_unpadded),
        cmocka_unit_test(test_stoken_invalid),
        cmocka_unit_test(test_seal_roundtrip_and_key_file),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_url_rule_and_query),
        cmocka_unit_test(test_plan_assets_split),
        cmocka_unit_test(test_plan_refusals),
        cmocka_unit_test(test_plan_users_revoke_subscriptions),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
