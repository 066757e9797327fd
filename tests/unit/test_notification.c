/*
 * Unit tests of notification.c, the whole body: every seed fixture field by field, envelope
 * failures (each field missing, retyped, empty, too long; not JSON, not strict JSON, too
 * deep), lengths not NUL-terminated, and the name functions. Payload rules are in
 * test_notification_payload.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/notification.h"

#include "notification_test.h"

#define UID "2049025000431439"

static void check_envelope(const struct vn_notification *n, const char *id, const char *type,
                           enum vn_ntype t)
{
    assert_string_equal(n->id, id);
    assert_string_equal(n->type_name, type);
    assert_string_equal(n->uid, UID);
    assert_int_equal(n->type, t);
    assert_non_null(n->priv);
}

/* Fields no type but the *_MANAGEMENT ones use, and the lists, are empty. */
static void check_no_management(const struct vn_notification *n)
{
    assert_int_equal(n->action, VN_ACT_NONE);
    assert_int_equal(n->result, VN_RES_NONE);
    assert_null(n->event_id);
    assert_int_equal(n->apple_error.present, 0);
}

static void check_no_counts(const struct vn_notification *n)
{
    assert_string_equal(n->adam_id.s, "");
    assert_null(n->pricing_param);
    assert_int_equal(n->count_delta, 0);
    assert_int_equal(n->has_parent_adam_id, 0);
    assert_int_equal(n->counts.available_renewing + n->counts.available_expiring +
                         n->counts.total_renewing + n->counts.total_expiring,
                     0);
}

static void check_no_items(const struct vn_notification *n)
{
    assert_null(n->assignments);
    assert_null(n->users);
    assert_null(n->seats);
    assert_int_equal(n->n_items, 0);
}

static void check_no_error(const struct vn_notification *n)
{
    assert_int_equal(n->apple_error.present, 0);
    assert_int_equal(n->apple_error.number, 0);
    assert_null(n->apple_error.message);
}

/* ---- every seed fixture, every field ---------------------------------------------------- */

static void seed_asset_count(struct vn_notification *n)
{
    check_envelope(n, "4a7801be-53f0-42e1-9505-81c0d1dc9da3", "ASSET_COUNT", VN_NT_ASSET_COUNT);
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    assert_string_equal(n->adam_id.s, "408709785");
    assert_string_equal(n->pricing_param, "STDQ");
    assert_int_equal(n->count_delta, -12);
    assert_int_equal(n->has_parent_adam_id, 0);
    check_no_management(n);
    check_no_items(n);
}

static void check_asset_mgmt(struct vn_notification *n, enum vn_action act, const char *event)
{
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    assert_int_equal(n->action, act);
    assert_int_equal(n->result, VN_RES_SUCCESS);
    assert_string_equal(n->event_id, event);
    check_no_error(n);
    check_no_counts(n);
    assert_non_null(n->assignments);
    assert_null(n->users);
    assert_null(n->seats);
}

static void seed_asset_associate(struct vn_notification *n)
{
    static const char *const serials[] = {"97c42a74-c30e-4172-a65f-6e5a5ba3d477",
                                          "495622d3-76f1-4fd3-8647-3f0365159170",
                                          "eabcbb89-8213-4185-afb4-30cae931ea37"};

    check_envelope(n, "ba8bbb23-44c2-44f6-a928-eff6ba5ffac3", "ASSET_MANAGEMENT",
                   VN_NT_ASSET_MANAGEMENT);
    check_asset_mgmt(n, VN_ACT_ASSOCIATE, "87cbc650-16cc-4f9e-a833-e622f377a9f7");
    assert_int_equal(n->n_items, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(n->assignments[i].adam_id.s, "408709785");
        assert_string_equal(n->assignments[i].pricing_param, "STDQ");
        assert_string_equal(n->assignments[i].serial_number, serials[i]);
        assert_null(n->assignments[i].client_user_id);
    }
}

static void seed_asset_disassociate(struct vn_notification *n)
{
    check_envelope(n, "545e1f6f-ca8b-4e6c-98fe-a7ac3ef63b29", "ASSET_MANAGEMENT",
                   VN_NT_ASSET_MANAGEMENT);
    check_asset_mgmt(n, VN_ACT_DISASSOCIATE, "4bd7371e-6482-4933-8e97-c29f25b7f5f5");
    assert_int_equal(n->n_items, 1);
    assert_string_equal(n->assignments[0].adam_id.s, "408709785");
    assert_string_equal(n->assignments[0].pricing_param, "STDQ");
    assert_string_equal(n->assignments[0].client_user_id, "client-100");
    assert_null(n->assignments[0].serial_number);
}

static void seed_asset_revoke(struct vn_notification *n)
{
    check_envelope(n, "545e1f6f-ca8b-4e6c-98fe-a7ac3ef63b28", "ASSET_MANAGEMENT",
                   VN_NT_ASSET_MANAGEMENT);
    check_asset_mgmt(n, VN_ACT_REVOKE, "4bd7371e-6482-4933-8e97-c29f25b7f5f5");
    assert_int_equal(n->n_items, 2);
    assert_string_equal(n->assignments[0].adam_id.s, "408709785");
    assert_string_equal(n->assignments[1].adam_id.s, "329103948");
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(n->assignments[i].pricing_param, "STDQ");
        assert_string_equal(n->assignments[i].client_user_id, "client-100");
        assert_null(n->assignments[i].serial_number);
    }
}

static void seed_envelope_schematic(struct vn_notification *n)
{
    check_envelope(n, "01654971-0d81-467a-9e62-bf8e15e8dabd", "ASSET_MANAGEMENT",
                   VN_NT_ASSET_MANAGEMENT);
    assert_int_equal(n->valid, 0);
    assert_string_equal(n->error, "notification.type: missing");
    check_no_management(n);
    check_no_counts(n);
    check_no_items(n);
}

static void seed_subscription_count(struct vn_notification *n)
{
    check_envelope(n, "4a7801be-53f0-42e1-9505-81c0d1dc9da3", "SUBSCRIPTION_COUNT",
                   VN_NT_SUBSCRIPTION_COUNT);
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    assert_string_equal(n->adam_id.s, "12345");
    assert_int_equal(n->has_parent_adam_id, 1);
    assert_string_equal(n->parent_adam_id.s, "54321");
    assert_int_equal(n->counts.available_renewing, 15);
    assert_int_equal(n->counts.available_expiring, 5);
    assert_int_equal(n->counts.total_renewing, 100);
    assert_int_equal(n->counts.total_expiring, 20);
    assert_null(n->pricing_param);
    assert_int_equal(n->count_delta, 0);
    check_no_management(n);
    check_no_items(n);
}

static void check_seat_mgmt(struct vn_notification *n, enum vn_action act, const char *event)
{
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    assert_int_equal(n->action, act);
    assert_int_equal(n->result, VN_RES_SUCCESS);
    assert_string_equal(n->event_id, event);
    check_no_error(n);
    check_no_counts(n);
    assert_null(n->assignments);
    assert_null(n->users);
    assert_int_equal(n->n_items, 1);
    assert_string_equal(n->seats[0].adam_id.s, "12345");
    assert_string_equal(n->seats[0].client_user_id, "vpp-user");
    assert_int_equal(n->seats[0].renewing, 1);
}

static void seed_subscription_associate(struct vn_notification *n)
{
    check_envelope(n, "7b3c92a1-4e5f-4d8a-b6c7-9e1f2a3b4c5d", "SUBSCRIPTION_MANAGEMENT",
                   VN_NT_SUBSCRIPTION_MANAGEMENT);
    check_seat_mgmt(n, VN_ACT_ASSOCIATE, "c3f990d3-d8c5-41c6-8394-edb1f759a9d2");
}

static void seed_subscription_disassociate(struct vn_notification *n)
{
    check_envelope(n, "8c4d03b2-5f6e-4e9b-a7d8-0f2e3b4c5d6e", "SUBSCRIPTION_MANAGEMENT",
                   VN_NT_SUBSCRIPTION_MANAGEMENT);
    check_seat_mgmt(n, VN_ACT_DISASSOCIATE, "d4ea01e4-e9d6-52d7-9405-f5c2fa6ab0e3");
}

static void seed_test_notification(struct vn_notification *n)
{
    check_envelope(n, "792e327f-63ea-4658-9aec-f16f4327e3a8", "TEST_NOTIFICATION",
                   VN_NT_TEST_NOTIFICATION);
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    check_no_management(n);
    check_no_counts(n);
    check_no_items(n);
}

static void check_user(const struct vn_user *u, const char *status, int has_hash)
{
    assert_string_equal(u->client_user_id, "client-100");
    assert_string_equal(u->email, "client-100@apple.com");
    assert_string_equal(u->invite_code, "f551b37da07146628e8dcbe0111f0364");
    assert_string_equal(u->status, status);
    if (has_hash)
        assert_string_equal(u->id_hash, "leSKk3IaE2vk2KLmv2k3/200D3=");
    else
        assert_null(u->id_hash);
}

static void seed_user_associated(struct vn_notification *n)
{
    check_envelope(n, "90b83144-fb93-4837-9c52-0ae147bdc421", "USER_ASSOCIATED",
                   VN_NT_USER_ASSOCIATED);
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    check_no_management(n);
    check_no_counts(n);
    assert_null(n->assignments);
    assert_null(n->seats);
    assert_int_equal(n->n_items, 1);
    check_user(&n->users[0], "Associated", 1);
}

static void check_user_mgmt(struct vn_notification *n, const char *id, enum vn_action act,
                            const char *status)
{
    check_envelope(n, id, "USER_MANAGEMENT", VN_NT_USER_MANAGEMENT);
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    assert_int_equal(n->action, act);
    assert_int_equal(n->result, VN_RES_SUCCESS);
    assert_string_equal(n->event_id, "e0def1f8-9158-4343-9c52-8dd32da50b9b");
    check_no_error(n);
    check_no_counts(n);
    assert_null(n->assignments);
    assert_null(n->seats);
    assert_int_equal(n->n_items, 1);
    check_user(&n->users[0], status, 0);
}

static void seed_user_create(struct vn_notification *n)
{
    check_user_mgmt(n, "4c0bbb9b-d5a6-4860-83ef-5cf362783c1e", VN_ACT_CREATE, "Registered");
}

static void seed_user_retire(struct vn_notification *n)
{
    check_user_mgmt(n, "6e2ddd8d-f7c8-6a82-a50b-7ef584a05d40", VN_ACT_RETIRE, "Retired");
}

static void seed_user_update(struct vn_notification *n)
{
    check_user_mgmt(n, "5d1ccc7c-e6b7-5971-94fa-6df473894c2f", VN_ACT_UPDATE, "Registered");
}

static const struct {
    const char *file;
    void (*check)(struct vn_notification *n);
} seeds[] = {
    {"asset_count.json", seed_asset_count},
    {"asset_management-associate.json", seed_asset_associate},
    {"asset_management-disassociate.json", seed_asset_disassociate},
    {"asset_management-revoke.json", seed_asset_revoke},
    {"envelope-schematic.json", seed_envelope_schematic},
    {"subscription_count.json", seed_subscription_count},
    {"subscription_management-associate.json", seed_subscription_associate},
    {"subscription_management-disassociate.json", seed_subscription_disassociate},
    {"test_notification.json", seed_test_notification},
    {"user_associated.json", seed_user_associated},
    {"user_management-create.json", seed_user_create},
    {"user_management-retire.json", seed_user_retire},
    {"user_management-update.json", seed_user_update},
};

#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))

/* Every file of seed/ has a field-by-field check, and every check's file exists. */
static void test_every_seed_fixture(void **state)
{
    DIR *d = opendir(SEED);
    struct dirent *e;
    size_t checked = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        size_t i;

        if (e->d_name[0] == '.')
            continue;
        for (i = 0; i < N_SEEDS; i++)
            if (strcmp(e->d_name, seeds[i].file) == 0)
                break;
        if (i == N_SEEDS)
            print_error("seed fixture '%s' has no check in test_notification.c\n", e->d_name);
        assert_true(i < N_SEEDS);
        struct vn_notification *n = parse_seed(e->d_name);
        seeds[i].check(n);
        vn_notification_free(n);
        checked++;
    }
    closedir(d);
    assert_int_equal(checked, N_SEEDS);
}

/* The body need not be NUL-terminated: parse an exact-size copy (ASan sees any overread). */
static void test_body_not_nul_terminated(void **state)
{
    size_t len;
    char *text = read_seed("asset_management-associate.json", &len);
    char *exact = malloc(len);
    struct vn_notification *n = NULL;

    assert_non_null(exact);
    memcpy(exact, text, len);
    assert_int_equal(vn_notification_parse(exact, len, NULL, &n, NULL), 0);
    seed_asset_associate(n);
    vn_notification_free(n);
    /* A prefix of a valid body is cut, not read past: the length is what counts. */
    assert_int_equal(vn_notification_parse(exact, len - 1, NULL, &n, NULL), VN_EPARSE);
    assert_null(n);
    free(exact);
    free(text);
}

/* ---- envelope --------------------------------------------------------------------------- */

#define ENV_PREFIX "{\"notificationId\":\"id-1\",\"notificationType\":\"TEST_NOTIFICATION\","

static void envelope_with(const char *key, json_t *value, const char *msg)
{
    char *text = variant("test_notification.json", key, value);

    expect_envelope_error(text, strlen(text), msg);
    free(text);
}

static void test_envelope_fields(void **state)
{
    static const char *const strings[] = {"notificationId", "notificationType", "uId"};
    char msg[128];

    for (size_t i = 0; i < 3; i++) {
        const char *k = strings[i];

        snprintf(msg, sizeof(msg), "%s: missing", k);
        envelope_with(k, NULL, msg);
        snprintf(msg, sizeof(msg), "%s: expected string, got number", k);
        envelope_with(k, json_integer(42), msg);
        envelope_with(k, json_real(4.5), msg);
        snprintf(msg, sizeof(msg), "%s: expected string, got null", k);
        envelope_with(k, json_null(), msg);
        snprintf(msg, sizeof(msg), "%s: expected string, got boolean", k);
        envelope_with(k, json_false(), msg);
        snprintf(msg, sizeof(msg), "%s: expected string, got object", k);
        envelope_with(k, json_object(), msg);
        snprintf(msg, sizeof(msg), "%s: expected string, got array", k);
        envelope_with(k, json_array(), msg);
        snprintf(msg, sizeof(msg), "%s: empty string", k);
        envelope_with(k, json_string(""), msg);
        snprintf(msg, sizeof(msg), "%s: longer than 256 bytes (257)", k);
        envelope_with(k, long_string(257), msg);
    }
    envelope_with("uId", long_string(300), "uId: longer than 256 bytes (300)");
    envelope_with("notification", NULL, "notification: missing");
    envelope_with("notification", json_null(), "notification: expected object, got null");
    envelope_with("notification", json_array(), "notification: expected object, got array");
    envelope_with("notification", json_string("{}"), "notification: expected object, got string");
}

static void test_envelope_limits_are_inclusive(void **state)
{
    char *id = repeat('i', 256);
    json_t *root = json_pack("{s:s, s:s, s:s, s:{}}", "notificationId", id, "notificationType",
                             "TEST_NOTIFICATION", "uId", id, "notification");
    char *text = json_dumps(root, 0);
    struct vn_notification *n = parse_text(text);

    assert_int_equal(strlen(n->id), 256);
    assert_int_equal(strlen(n->uid), 256);
    assert_int_equal(n->valid, 1);
    vn_notification_free(n);
    free(text);
    json_decref(root);
    free(id);
}

static void test_envelope_not_json(void **state)
{
    expect_envelope_error("", 0,
                          "invalid JSON at line 1, column 0: '[' or '{' expected near "
                          "end of file");
    expect_envelope_error(NULL, 0,
                          "invalid JSON at line 1, column 0: '[' or '{' expected near "
                          "end of file");
    expect_envelope_error("[]", 2, "envelope: expected object, got array");
    expect_envelope_error("{\"a\":1} x", 9,
                          "invalid JSON at line 1, column 9: end of file expected near 'x'");
    expect_envelope_error("{\"a\":1,\"a\":2}", 13,
                          "invalid JSON at line 1, column 10: duplicate object key near '\"a\"'");
    expect_envelope_error("{\"a\":\"\xff\"}", 9,
                          "invalid JSON at line 1, column 6: unable to decode byte 0xff near '\"'");
    expect_envelope_error("{\"a\": 99999999999999999999}", 27,
                          "invalid JSON at line 1, column 26: too big integer near "
                          "'99999999999999999999'");
    /* Overlong UTF-8, a lone surrogate escape and NUL are all refused as well. */
    expect_envelope_error("{\"a\":\"\xc0\xaf\"}", 10,
                          "invalid JSON at line 1, column 6: unable to decode byte 0xc0 near '\"'");
    expect_envelope_error("{\"a\":\"\\u0000\"}", 14,
                          "invalid JSON at line 1, column 13: \\u0000 is not allowed without "
                          "JSON_ALLOW_NUL near '\"\\u0000\"'");
    /* The strictness covers the whole body: a duplicate key deep inside the payload, or a
     * bad byte in a value nobody reads, fails the envelope (400), not just the payload. */
    {
        static const char body[] = "{\"notificationId\":\"i\",\"notificationType\":\"ASSET_COUNT\","
                                   "\"uId\":\"u\",\"notification\":{\"adamId\":\"1\","
                                   "\"x\":[{\"k\":1,\"k\":2}]}}";
        struct vn_notification *n = (void *)1;
        struct vn_error err = {0};

        assert_int_equal(vn_notification_parse(body, strlen(body), NULL, &n, &err), VN_EPARSE);
        assert_null(n);
        assert_non_null(strstr(err.msg, "duplicate object key near '\"k\"'"));
    }
}

/* An envelope around a payload nested `levels` deep: {"x":{"x":...{}}}. */
static char *nested(size_t levels)
{
    size_t cap = strlen(ENV_PREFIX) + 64 + levels * 7;
    char *s = malloc(cap);
    size_t o;

    assert_non_null(s);
    o = (size_t)snprintf(s, cap, "%s\"uId\":\"u\",\"notification\":", ENV_PREFIX);
    for (size_t i = 1; i < levels; i++)
        o += (size_t)snprintf(s + o, cap - o, "{\"x\":");
    o += (size_t)snprintf(s + o, cap - o, "{}");
    for (size_t i = 1; i < levels; i++)
        o += (size_t)snprintf(s + o, cap - o, "}");
    snprintf(s + o, cap - o, "}");
    return s;
}

static void test_depth_cap(void **state)
{
    struct vn_parse_limits lim = {.max_depth = 5};
    struct vn_notification *n = NULL;
    struct vn_error err = {0};
    char *ok = nested(31), *deep = nested(32), *five = nested(4), *six = nested(5);

    /* The envelope is level 1, so a payload of 31 levels makes 32: the default cap. */
    n = parse_text(ok);
    assert_int_equal(n->valid, 1);
    vn_notification_free(n);
    expect_envelope_error(deep, strlen(deep), "JSON nested deeper than 32 levels");
    /* A caller's cap. */
    assert_int_equal(vn_notification_parse(five, strlen(five), &lim, &n, &err), 0);
    vn_notification_free(n);
    assert_int_equal(vn_notification_parse(six, strlen(six), &lim, &n, &err), VN_EPARSE);
    assert_null(n);
    assert_string_equal(err.msg, "JSON nested deeper than 5 levels");
    /* Zero means the default. */
    lim.max_depth = 0;
    assert_int_equal(vn_notification_parse(deep, strlen(deep), &lim, &n, &err), VN_EPARSE);
    assert_string_equal(err.msg, "JSON nested deeper than 32 levels");
    free(ok);
    free(deep);
    free(five);
    free(six);
}

/* ---- names ------------------------------------------------------------------------------ */

/* Text adamIds (filters, Apple's strings) in the mirror's canonical form, with clear refusals. */
static void test_adam_id_canonical(void **state)
{
    struct vn_adam_id a;
    struct vn_error err = {0};

    (void)state;
    assert_int_equal(vn_adam_id_canonical("0042", 4, &a, &err), 0);
    assert_string_equal(a.s, "42");
    assert_int_equal(vn_adam_id_canonical("00000000", 8, &a, &err), 0);
    assert_string_equal(a.s, "0");
    assert_int_equal(vn_adam_id_canonical("408709785", 9, &a, &err), 0);
    assert_string_equal(a.s, "408709785");
    /* Leading zeros do not count against the digit limit. */
    assert_int_equal(vn_adam_id_canonical("00000000000000000000000000001", 29, &a, &err), 0);
    assert_string_equal(a.s, "1");
    assert_int_equal(vn_adam_id_canonical("4x2", 3, &a, &err), VN_EPARSE);
    assert_string_equal(err.msg, "adamId '4x2' is not a string of digits");
    assert_int_equal(vn_adam_id_canonical("", 0, &a, &err), VN_EPARSE);
    assert_string_equal(err.msg, "empty adamId");
    assert_int_equal(vn_adam_id_canonical("123456789012345678901", 21, &a, &err), VN_EPARSE);
    assert_string_equal(err.msg, "adamId '123456789012345678901' has more than 20 digits");
    assert_int_equal(vn_adam_id_canonical("-1", 2, &a, NULL), VN_EPARSE);
}

static void test_names(void **state)
{
    static const char *const types[] = {NULL,
                                        "TEST_NOTIFICATION",
                                        "ASSET_COUNT",
                                        "ASSET_MANAGEMENT",
                                        "USER_MANAGEMENT",
                                        "USER_ASSOCIATED",
                                        "SUBSCRIPTION_COUNT",
                                        "SUBSCRIPTION_MANAGEMENT"};
    static const char *const actions[] = {NULL,     "ASSOCIATE", "DISASSOCIATE", "REVOKE",
                                          "CREATE", "UPDATE",    "RETIRE"};

    for (int t = VN_NT_UNKNOWN; t <= VN_NT_SUBSCRIPTION_MANAGEMENT; t++) {
        if (t == VN_NT_UNKNOWN) {
            assert_null(vn_ntype_name(VN_NT_UNKNOWN));
            continue;
        }
        assert_string_equal(vn_ntype_name((enum vn_ntype)t), types[t]);
        assert_int_equal(vn_ntype_from_name(types[t]), t);
    }
    assert_null(vn_ntype_name((enum vn_ntype)99));
    assert_int_equal(vn_ntype_from_name(NULL), VN_NT_UNKNOWN);
    assert_int_equal(vn_ntype_from_name(""), VN_NT_UNKNOWN);
    assert_int_equal(vn_ntype_from_name("UNLIMITED_ASSET"), VN_NT_UNKNOWN);
    assert_int_equal(vn_ntype_from_name("asset_count"), VN_NT_UNKNOWN);
    assert_int_equal(vn_ntype_from_name("ASSET_COUNTS"), VN_NT_UNKNOWN);
    for (int a = VN_ACT_NONE; a <= VN_ACT_RETIRE; a++) {
        if (a == VN_ACT_NONE)
            assert_null(vn_action_name(VN_ACT_NONE));
        else
            assert_string_equal(vn_action_name((enum vn_action)a), actions[a]);
    }
    assert_null(vn_action_name((enum vn_action)42));
    assert_null(vn_result_name(VN_RES_NONE));
    assert_string_equal(vn_result_name(VN_RES_SUCCESS), "SUCCESS");
    assert_string_equal(vn_result_name(VN_RES_FAILURE), "FAILURE");
    assert_null(vn_result_name((enum vn_result)3));
}

static void test_free_null_and_no_err(void **state)
{
    struct vn_notification *n = (void *)1;

    vn_notification_free(NULL);
    /* err is optional on every path. */
    assert_int_equal(vn_notification_parse("[", 1, NULL, &n, NULL), VN_EPARSE);
    assert_null(n);
    assert_int_equal(vn_notification_parse("{}", 2, NULL, &n, NULL), VN_EPARSE);
    assert_null(n);
    expect_envelope_error("{}", 2, "notificationId: missing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_seed_fixture),
        cmocka_unit_test(test_body_not_nul_terminated),
        cmocka_unit_test(test_envelope_fields),
        cmocka_unit_test(test_envelope_limits_are_inclusive),
        cmocka_unit_test(test_envelope_not_json),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_adam_id_canonical),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_free_null_and_no_err),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
