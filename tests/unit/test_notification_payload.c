/*
 * Unit tests of notification.c, payload rules: every field of every payload deleted, nulled
 * and retyped (table-driven, from the seed fixtures), then the value rules one by one: adamId
 * forms, enums, exactly one of clientUserId/serialNumber, optional and null fields, limits,
 * integers, Apple's error object, unknown types and keys, and how messages quote values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "notification_test.h"

/* Table-driven: every field of every payload deleted, nulled and given the wrong types. */
enum kind { K_ID, K_TEXT, K_ENUM, K_ADAM, K_INT, K_BOOL, K_OBJ, K_ARR, K_ITEM };

struct field {
    const char *fixture;
    const char *path; /* display path: notification.users[0].email */
    enum kind kind;
    int required;
    const char *missing; /* message when deleted, if not "<path>: missing" */
};

#define AM      "asset_management-associate.json"
#define AD      "asset_management-disassociate.json"
#define AC      "asset_count.json"
#define UM      "user_management-create.json"
#define UA      "user_associated.json"
#define SC      "subscription_count.json"
#define SM      "subscription_management-associate.json"
#define NEITHER "neither clientUserId nor serialNumber (expected exactly one)"

static const struct field fields[] = {
    {AC, "notification.adamId", K_ADAM, 1, NULL},
    {AC, "notification.pricingParam", K_ID, 0, NULL},
    {AC, "notification.countDelta", K_INT, 1, NULL},
    {AM, "notification.type", K_ENUM, 1, NULL},
    {AM, "notification.result", K_ENUM, 1, NULL},
    {AM, "notification.eventId", K_ID, 0, NULL},
    {AM, "notification.assignments", K_ARR, 1, NULL},
    {AM, "notification.assignments[1]", K_ITEM, 1, NULL},
    {AM, "notification.assignments[1].adamId", K_ADAM, 1, NULL},
    {AM, "notification.assignments[1].pricingParam", K_ID, 0, NULL},
    {AM, "notification.assignments[2].serialNumber", K_ID, 0,
     "notification.assignments[2]: " NEITHER},
    {AD, "notification.assignments[0].clientUserId", K_ID, 0,
     "notification.assignments[0]: " NEITHER},
    {AM, "notification.error", K_OBJ, 0, NULL},
    {AM, "notification.error.errorNumber", K_INT, 0, NULL},
    {AM, "notification.error.errorMessage", K_TEXT, 0, NULL},
    {UM, "notification.type", K_ENUM, 1, NULL},
    {UM, "notification.result", K_ENUM, 1, NULL},
    {UM, "notification.eventId", K_ID, 0, NULL},
    {UM, "notification.users", K_ARR, 1, NULL},
    {UM, "notification.users[0]", K_ITEM, 1, NULL},
    {UM, "notification.users[0].clientUserId", K_ID, 1, NULL},
    {UM, "notification.users[0].email", K_TEXT, 0, NULL},
    {UM, "notification.users[0].inviteCode", K_TEXT, 0, NULL},
    {UM, "notification.users[0].idHash", K_TEXT, 0, NULL},
    {UM, "notification.users[0].status", K_TEXT, 0, NULL},
    {UM, "notification.error", K_OBJ, 0, NULL},
    {UM, "notification.error.errorNumber", K_INT, 0, NULL},
    {UM, "notification.error.errorMessage", K_TEXT, 0, NULL},
    {UA, "notification.associatedUsers", K_ARR, 1, NULL},
    {UA, "notification.associatedUsers[0]", K_ITEM, 1, NULL},
    {UA, "notification.associatedUsers[0].clientUserId", K_ID, 1, NULL},
    {UA, "notification.associatedUsers[0].email", K_TEXT, 0, NULL},
    {UA, "notification.associatedUsers[0].idHash", K_TEXT, 0, NULL},
    {UA, "notification.associatedUsers[0].inviteCode", K_TEXT, 0, NULL},
    {UA, "notification.associatedUsers[0].status", K_TEXT, 0, NULL},
    {SC, "notification.adamId", K_ADAM, 1, NULL},
    {SC, "notification.parentAdamId", K_ADAM, 0, NULL},
    {SC, "notification.counts", K_OBJ, 1, NULL},
    {SC, "notification.counts.available", K_OBJ, 1, NULL},
    {SC, "notification.counts.available.renewing", K_INT, 1, NULL},
    {SC, "notification.counts.available.expiring", K_INT, 1, NULL},
    {SC, "notification.counts.total", K_OBJ, 1, NULL},
    {SC, "notification.counts.total.renewing", K_INT, 1, NULL},
    {SC, "notification.counts.total.expiring", K_INT, 1, NULL},
    {SM, "notification.type", K_ENUM, 1, NULL},
    {SM, "notification.result", K_ENUM, 1, NULL},
    {SM, "notification.eventId", K_ID, 0, NULL},
    {SM, "notification.assignments", K_ARR, 1, NULL},
    {SM, "notification.assignments[0]", K_ITEM, 1, NULL},
    {SM, "notification.assignments[0].adamId", K_ADAM, 1, NULL},
    {SM, "notification.assignments[0].clientUserId", K_ID, 1, NULL},
    {SM, "notification.assignments[0].renewing", K_BOOL, 0, NULL},
    {SM, "notification.error", K_OBJ, 0, NULL},
};

/* What a kind expects, in messages, and values of every other JSON type. */
static const char *kind_expects(enum kind k)
{
    switch (k) {
    case K_ID:
    case K_TEXT:
    case K_ENUM:
        return "string";
    case K_ADAM:
        return "string or number";
    case K_INT:
        return "integer";
    case K_BOOL:
        return "boolean";
    case K_OBJ:
    case K_ITEM:
        return "object";
    case K_ARR:
        return "array";
    }
    return "?";
}

/* Values of every JSON type a kind does not accept, and their names; returns how many. */
static size_t wrong_values(enum kind k, json_t *out[4], const char *names[4])
{
    json_t *all[] = {json_string("1"), json_integer(1), json_true(), json_array(), json_object()};
    static const char *const all_names[] = {"string", "number", "boolean", "array", "object"};
    int right[5] = {0};
    size_t o = 0;

    switch (k) {
    case K_ID:
    case K_TEXT:
    case K_ENUM:
        right[0] = 1;
        break;
    case K_ADAM: /* a string of digits and a number are both adamIds */
        right[0] = right[1] = 1;
        break;
    case K_INT:
        right[1] = 1;
        break;
    case K_BOOL:
        right[2] = 1;
        break;
    case K_ARR:
        right[3] = 1;
        break;
    case K_OBJ:
    case K_ITEM:
        right[4] = 1;
        break;
    }
    for (size_t i = 0; i < 5; i++) {
        if (right[i]) {
            json_decref(all[i]);
            continue;
        }
        out[o] = all[i];
        names[o] = all_names[i];
        o++;
    }
    return o;
}

static void test_every_field_missing_null_and_wrong_type(void **state)
{
    char msg[320];

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct field *f = &fields[i];
        json_t *wrong[4];
        const char *names[4];

        /* Deleted. An element of an array can't be "missing"; it is only retyped. */
        if (f->kind != K_ITEM) {
            if (f->missing) {
                expect_invalid(f->fixture, f->path, NULL, f->missing);
            } else if (f->required) {
                snprintf(msg, sizeof(msg), "%s: missing", f->path);
                expect_invalid(f->fixture, f->path, NULL, msg);
            } else {
                vn_notification_free(expect_valid(f->fixture, f->path, NULL));
            }
        }
        /* null: absent for an optional field, a wrong type for a required one. */
        if (f->missing) {
            expect_invalid(f->fixture, f->path, json_null(), f->missing);
        } else if (f->required) {
            snprintf(msg, sizeof(msg), "%s: expected %s, got null", f->path, kind_expects(f->kind));
            expect_invalid(f->fixture, f->path, json_null(), msg);
        } else {
            vn_notification_free(expect_valid(f->fixture, f->path, json_null()));
        }
        size_t n_wrong = wrong_values(f->kind, wrong, names);

        assert_true(n_wrong >= 3);
        for (size_t w = 0; w < n_wrong; w++) {
            snprintf(msg, sizeof(msg), "%s: expected %s, got %s", f->path, kind_expects(f->kind),
                     names[w]);
            expect_invalid(f->fixture, f->path, wrong[w], msg);
        }
    }
}

/* ---- adamId ----------------------------------------------------------------------------- */

static void expect_adam(const char *fixture, const char *path, json_t *v, const char *want)
{
    struct vn_notification *n = expect_valid(fixture, path, v);
    const char *got = n->type == VN_NT_ASSET_COUNT || n->type == VN_NT_SUBSCRIPTION_COUNT
                          ? n->adam_id.s
                      : n->type == VN_NT_ASSET_MANAGEMENT ? n->assignments[0].adam_id.s
                                                          : n->seats[0].adam_id.s;

    assert_string_equal(got, want);
    vn_notification_free(n);
}

static void test_adam_id_string_or_number(void **state)
{
    struct vn_notification *n;

    /* Both forms everywhere, both kept as decimal text. */
    expect_adam(AC, "notification.adamId", json_integer(408709785), "408709785");
    expect_adam(AC, "notification.adamId", json_string("408709785"), "408709785");
    expect_adam(AM, "notification.assignments[0].adamId", json_integer(7), "7");
    expect_adam(SC, "notification.adamId", json_string("12345"), "12345");
    expect_adam(SM, "notification.assignments[0].adamId", json_string("12345"), "12345");
    expect_adam(AC, "notification.adamId", json_integer(0), "0");
    expect_adam(AC, "notification.adamId", json_integer(INT64_MAX), "9223372036854775807");
    expect_adam(AC, "notification.adamId", json_string("18446744073709551615"),
                "18446744073709551615");
    expect_adam(AC, "notification.adamId", json_string("99999999999999999999"),
                "99999999999999999999");
    /* Leading zeros of the string form are dropped, so "0042" and 42 are the same asset. */
    expect_adam(AC, "notification.adamId", json_string("0042"), "42");
    expect_adam(AC, "notification.adamId", json_string("00000000000000000000"), "0");
    /* parentAdamId takes the same forms. */
    n = expect_valid(SC, "notification.parentAdamId", json_string("054321"));
    assert_int_equal(n->has_parent_adam_id, 1);
    assert_string_equal(n->parent_adam_id.s, "54321");
    vn_notification_free(n);
}

static void test_adam_id_rejects(void **state)
{
    expect_invalid(AC, "notification.adamId", json_integer(-5),
                   "notification.adamId: negative (-5)");
    expect_invalid(AC, "notification.adamId", json_real(408709785.0),
                   "notification.adamId: not an integer (408709785.0)");
    expect_invalid(AC, "notification.adamId", json_real(1.5),
                   "notification.adamId: not an integer (1.5)");
    expect_invalid(AC, "notification.adamId", json_real(1e300),
                   "notification.adamId: not an integer (1e+300)");
    expect_invalid(AC, "notification.adamId", json_real(-0.25),
                   "notification.adamId: not an integer (-0.25)");
    expect_invalid(AC, "notification.adamId", json_string(""), "notification.adamId: empty string");
    expect_invalid(AC, "notification.adamId", json_string("12a"),
                   "notification.adamId: not a string of digits ('12a')");
    expect_invalid(AC, "notification.adamId", json_string("-5"),
                   "notification.adamId: not a string of digits ('-5')");
    expect_invalid(AC, "notification.adamId", json_string(" 5"),
                   "notification.adamId: not a string of digits (' 5')");
    expect_invalid(AC, "notification.adamId", json_string("5.0"),
                   "notification.adamId: not a string of digits ('5.0')");
    expect_invalid(AC, "notification.adamId", json_string("\xd9\xa3"), /* ARABIC-INDIC 3 */
                   "notification.adamId: not a string of digits ('\xd9\xa3')");
    expect_invalid(AC, "notification.adamId", json_string("123456789012345678901"),
                   "notification.adamId: more than 20 digits (21)");
    expect_invalid(SC, "notification.parentAdamId", json_integer(-1),
                   "notification.parentAdamId: negative (-1)");
    expect_invalid(SM, "notification.assignments[0].adamId", json_real(12345.5),
                   "notification.assignments[0].adamId: not an integer (12345.5)");
    expect_invalid(AM, "notification.assignments[2].adamId", json_string("x"),
                   "notification.assignments[2].adamId: not a string of digits ('x')");
}

/* The brief's own example: the fourth assignment's adamId is a boolean. */
static void test_message_names_the_element(void **state)
{
    char *text = variant(AM, "notification.assignments.3",
                         json_pack("{s:b, s:s}", "adamId", 1, "clientUserId", "u"));

    expect_invalid_text(text, "notification.assignments[3].adamId: expected string or number, "
                              "got boolean");
    free(text);
}

/* ---- enums, exactly one id, optional fields --------------------------------------------- */

static void test_enum_values(void **state)
{
    struct vn_notification *n;

    expect_invalid(AM, "notification.type", json_string("FOO"),
                   "notification.type: unknown value 'FOO' (expected ASSOCIATE, DISASSOCIATE "
                   "or REVOKE)");
    expect_invalid(AM, "notification.type", json_string("associate"),
                   "notification.type: unknown value 'associate' (expected ASSOCIATE, "
                   "DISASSOCIATE or REVOKE)");
    expect_invalid(AM, "notification.type", json_string("CREATE"),
                   "notification.type: unknown value 'CREATE' (expected ASSOCIATE, DISASSOCIATE "
                   "or REVOKE)");
    expect_invalid(UM, "notification.type", json_string("ASSOCIATE"),
                   "notification.type: unknown value 'ASSOCIATE' (expected CREATE, UPDATE or "
                   "RETIRE)");
    expect_invalid(SM, "notification.type", json_string("REVOKE"),
                   "notification.type: unknown value 'REVOKE' (expected ASSOCIATE or "
                   "DISASSOCIATE)");
    expect_invalid(AM, "notification.result", json_string("PENDING"),
                   "notification.result: unknown value 'PENDING' (expected SUCCESS or FAILURE)");
    expect_invalid(UM, "notification.result", json_string(""),
                   "notification.result: unknown value '' (expected SUCCESS or FAILURE)");
    expect_invalid(AM, "notification.type", json_string("ASSOCIATE "),
                   "notification.type: unknown value 'ASSOCIATE ' (expected ASSOCIATE, "
                   "DISASSOCIATE or REVOKE)");
    n = expect_valid(SM, "notification.result", json_string("FAILURE"));
    assert_int_equal(n->result, VN_RES_FAILURE);
    vn_notification_free(n);
    n = expect_valid(SM, "notification.type", json_string("DISASSOCIATE"));
    assert_int_equal(n->action, VN_ACT_DISASSOCIATE);
    vn_notification_free(n);
}

static void test_exactly_one_of_user_or_serial(void **state)
{
    struct vn_notification *n;

    expect_invalid(AM, "notification.assignments[1].clientUserId", json_string("client-100"),
                   "notification.assignments[1]: both clientUserId and serialNumber (expected "
                   "exactly one)");
    expect_invalid(AD, "notification.assignments[0].clientUserId", NULL,
                   "notification.assignments[0]: " NEITHER);
    /* null is absent: a null serialNumber beside a clientUserId is a user assignment. */
    n = expect_valid(AD, "notification.assignments[0].serialNumber", json_null());
    assert_string_equal(n->assignments[0].client_user_id, "client-100");
    assert_null(n->assignments[0].serial_number);
    vn_notification_free(n);
    expect_invalid(AD, "notification.assignments[0].serialNumber", json_string("S"),
                   "notification.assignments[0]: both clientUserId and serialNumber (expected "
                   "exactly one)");
    /* An empty identifier is not an identifier. */
    expect_invalid(AD, "notification.assignments[0].clientUserId", json_string(""),
                   "notification.assignments[0].clientUserId: empty string");
}

/* Parse a body given as text; returns the owned notification (envelope must be valid). */
static struct vn_notification *parse_body_text(const char *body)
{
    struct vn_notification *n = NULL;

    assert_int_equal(vn_notification_parse(body, strlen(body), NULL, &n, NULL), 0);
    assert_non_null(n);
    return n;
}

#define ENVELOPE(type, payload)                                                                    \
    "{\"notificationId\":\"f1\",\"notificationType\":\"" type "\",\"uId\":\"2049025000431439\","   \
    "\"notification\":" payload "}"

/*
 * A FAILURE element only has to name its item (contract 3.1): Apple's REVOKE of a clientUserId
 * it never knew carries {clientUserId} alone. Such a notification is valid (applied: recorded
 * on its event); the same element in a SUCCESS notification is not (a mirror row needs it).
 */
static void test_failure_elements_name_the_item_partly(void **state)
{
    struct vn_notification *n;

    (void)state;
    n = parse_body_text(ENVELOPE("ASSET_MANAGEMENT",
                                 "{\"type\":\"REVOKE\",\"result\":\"FAILURE\",\"eventId\":\"e1\","
                                 "\"error\":{\"errorNumber\":9609},"
                                 "\"assignments\":[{\"clientUserId\":\"ghost\"}]}"));
    assert_true(n->valid);
    assert_string_equal(n->assignments[0].adam_id.s, "");
    assert_null(n->assignments[0].pricing_param);
    assert_string_equal(n->assignments[0].client_user_id, "ghost");
    vn_notification_free(n);

    n = parse_body_text(ENVELOPE("ASSET_MANAGEMENT",
                                 "{\"type\":\"REVOKE\",\"result\":\"SUCCESS\",\"eventId\":\"e1\","
                                 "\"assignments\":[{\"clientUserId\":\"ghost\"}]}"));
    assert_false(n->valid);
    assert_string_equal(n->error, "notification.assignments[0].adamId: missing");
    vn_notification_free(n);

    /* Still needs something to name: a FAILURE element with no identifier is invalid. */
    n = parse_body_text(ENVELOPE("ASSET_MANAGEMENT",
                                 "{\"type\":\"REVOKE\",\"result\":\"FAILURE\",\"eventId\":\"e1\","
                                 "\"assignments\":[{\"pricingParam\":\"STDQ\"}]}"));
    assert_false(n->valid);
    vn_notification_free(n);

    n = parse_body_text(
        ENVELOPE("SUBSCRIPTION_MANAGEMENT",
                 "{\"type\":\"ASSOCIATE\",\"result\":\"FAILURE\",\"eventId\":\"e2\","
                 "\"assignments\":[{\"clientUserId\":\"ghost\"}]}"));
    assert_true(n->valid);
    assert_string_equal(n->seats[0].adam_id.s, "");
    vn_notification_free(n);
}

static void test_optional_fields_absent_or_null(void **state)
{
    struct vn_notification *n;

    n = expect_valid(AM, "notification.eventId", json_null());
    assert_null(n->event_id);
    vn_notification_free(n);
    n = expect_valid(UM, "notification.eventId", NULL);
    assert_null(n->event_id);
    assert_int_equal(n->n_items, 1);
    vn_notification_free(n);
    /* pricingParam defaults to Apple's "STDQ", also when null; other values are kept. */
    n = expect_valid(AD, "notification.assignments[0].pricingParam", NULL);
    assert_string_equal(n->assignments[0].pricing_param, "STDQ");
    vn_notification_free(n);
    n = expect_valid(AD, "notification.assignments[0].pricingParam", json_null());
    assert_string_equal(n->assignments[0].pricing_param, "STDQ");
    vn_notification_free(n);
    n = expect_valid(AD, "notification.assignments[0].pricingParam", json_string("PLUS"));
    assert_string_equal(n->assignments[0].pricing_param, "PLUS");
    vn_notification_free(n);
    /* ASSET_COUNT without pricingParam is Apple's STDQ asset too (docs/SCHEMA.md), not invalid. */
    n = expect_valid(AC, "notification.pricingParam", NULL);
    assert_string_equal(n->pricing_param, "STDQ");
    vn_notification_free(n);
    n = expect_valid(AC, "notification.pricingParam", json_null());
    assert_string_equal(n->pricing_param, "STDQ");
    vn_notification_free(n);
    /* User fields. */
    n = expect_valid(UM, "notification.users[0].email", json_null());
    assert_null(n->users[0].email);
    assert_string_equal(n->users[0].client_user_id, "client-100");
    assert_string_equal(n->users[0].status, "Registered");
    vn_notification_free(n);
    n = expect_valid(UA, "notification.associatedUsers[0].status", NULL);
    assert_null(n->users[0].status);
    assert_string_equal(n->users[0].id_hash, "leSKk3IaE2vk2KLmv2k3/200D3=");
    vn_notification_free(n);
    n = expect_valid(UA, "notification.associatedUsers[0].inviteCode", json_string(""));
    assert_string_equal(n->users[0].invite_code, "");
    vn_notification_free(n);
    /* parentAdamId null or absent. */
    n = expect_valid(SC, "notification.parentAdamId", json_null());
    assert_int_equal(n->has_parent_adam_id, 0);
    assert_string_equal(n->parent_adam_id.s, "");
    assert_string_equal(n->adam_id.s, "12345");
    vn_notification_free(n);
    n = expect_valid(SC, "notification.parentAdamId", NULL);
    assert_int_equal(n->has_parent_adam_id, 0);
    vn_notification_free(n);
    /* renewing: 1 when absent or null, else as given. */
    n = expect_valid(SM, "notification.assignments[0].renewing", NULL);
    assert_int_equal(n->seats[0].renewing, 1);
    vn_notification_free(n);
    n = expect_valid(SM, "notification.assignments[0].renewing", json_null());
    assert_int_equal(n->seats[0].renewing, 1);
    vn_notification_free(n);
    n = expect_valid(SM, "notification.assignments[0].renewing", json_false());
    assert_int_equal(n->seats[0].renewing, 0);
    vn_notification_free(n);
}

static void test_empty_lists_are_valid(void **state)
{
    static const char *const cases[][2] = {
        {AM, "notification.assignments"},
        {UM, "notification.users"},
        {UA, "notification.associatedUsers"},
        {SM, "notification.assignments"},
    };

    for (size_t i = 0; i < 4; i++) {
        struct vn_notification *n = expect_valid(cases[i][0], cases[i][1], json_array());

        assert_int_equal(n->n_items, 0);
        vn_notification_free(n);
    }
}

/* ---- limits ----------------------------------------------------------------------------- */

static void test_string_limits(void **state)
{
    struct vn_notification *n;

    n = expect_valid(AM, "notification.eventId", long_string(VN_ID_MAX));
    assert_int_equal(strlen(n->event_id), VN_ID_MAX);
    vn_notification_free(n);
    expect_invalid(AM, "notification.eventId", long_string(VN_ID_MAX + 1),
                   "notification.eventId: longer than 256 bytes (257)");
    expect_invalid(AD, "notification.assignments[0].clientUserId", long_string(300),
                   "notification.assignments[0].clientUserId: longer than 256 bytes (300)");
    expect_invalid(AM, "notification.assignments[0].serialNumber", long_string(257),
                   "notification.assignments[0].serialNumber: longer than 256 bytes (257)");
    expect_invalid(AC, "notification.pricingParam", long_string(257),
                   "notification.pricingParam: longer than 256 bytes (257)");
    expect_invalid(SM, "notification.assignments[0].clientUserId", long_string(257),
                   "notification.assignments[0].clientUserId: longer than 256 bytes (257)");
    n = expect_valid(UM, "notification.users[0].email", long_string(VN_TEXT_MAX));
    assert_int_equal(strlen(n->users[0].email), VN_TEXT_MAX);
    vn_notification_free(n);
    expect_invalid(UM, "notification.users[0].email", long_string(VN_TEXT_MAX + 1),
                   "notification.users[0].email: longer than 1024 bytes (1025)");
    expect_invalid(UA, "notification.associatedUsers[0].idHash", long_string(2000),
                   "notification.associatedUsers[0].idHash: longer than 1024 bytes (2000)");
    expect_invalid(UM, "notification.users[0].inviteCode", long_string(1025),
                   "notification.users[0].inviteCode: longer than 1024 bytes (1025)");
    expect_invalid(UM, "notification.users[0].status", long_string(1025),
                   "notification.users[0].status: longer than 1024 bytes (1025)");
    expect_invalid(AM, "notification.error.errorMessage", long_string(1025),
                   "notification.error.errorMessage: longer than 1024 bytes (1025)");
}

/* A list of count copies of one element (JSON text, free()). */
static char *many(const char *fixture, const char *key, size_t count)
{
    char path[64];
    json_t *arr = json_array();
    json_t *item;
    char *text;

    snprintf(path, sizeof(path), "notification.%s.0", key);
    text = variant(fixture, "notificationId", json_string("many"));
    {
        json_error_t je;
        json_t *root = json_loads(text, 0, &je);

        free(text);
        item = json_array_get(json_object_get(json_object_get(root, "notification"), key), 0);
        for (size_t i = 0; i < count; i++)
            json_array_append(arr, item);
        json_object_set_new(json_object_get(root, "notification"), key, arr);
        text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
    }
    return text;
}

static void test_list_limits(void **state)
{
    char *text = many(AD, "assignments", VN_ITEMS_MAX);
    struct vn_notification *n = parse_body_text(text);

    assert_int_equal(n->valid, 1);
    assert_int_equal(n->n_items, VN_ITEMS_MAX);
    assert_string_equal(n->assignments[VN_ITEMS_MAX - 1].client_user_id, "client-100");
    vn_notification_free(n);
    free(text);
    text = many(AD, "assignments", VN_ITEMS_MAX + 1);
    expect_invalid_text(text, "notification.assignments: 10001 elements, more than 10000");
    free(text);
    text = many(UM, "users", VN_ITEMS_MAX + 1);
    expect_invalid_text(text, "notification.users: 10001 elements, more than 10000");
    free(text);
    text = many(UA, "associatedUsers", VN_ITEMS_MAX + 1);
    expect_invalid_text(text, "notification.associatedUsers: 10001 elements, more than 10000");
    free(text);
    text = many(SM, "assignments", VN_ITEMS_MAX + 1);
    expect_invalid_text(text, "notification.assignments: 10001 elements, more than 10000");
    free(text);
    /* The last of 100 elements is checked too (no early stop). */
    text = many(SM, "assignments", 100);
    {
        json_error_t je;
        json_t *root = json_loads(text, 0, &je);
        json_t *arr = json_object_get(json_object_get(root, "notification"), "assignments");

        free(text);
        json_object_set_new(json_array_get(arr, 99), "renewing", json_string("no"));
        text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
    }
    expect_invalid_text(text, "notification.assignments[99].renewing: expected boolean, got "
                              "string");
    free(text);
}

static void test_integers(void **state)
{
    struct vn_notification *n;

    n = expect_valid(AC, "notification.countDelta", json_integer(INT64_MIN));
    assert_true(n->count_delta == INT64_MIN);
    vn_notification_free(n);
    n = expect_valid(AC, "notification.countDelta", json_integer(INT64_MAX));
    assert_true(n->count_delta == INT64_MAX);
    vn_notification_free(n);
    n = expect_valid(AC, "notification.countDelta", json_integer(0));
    assert_int_equal(n->count_delta, 0);
    vn_notification_free(n);
    expect_invalid(AC, "notification.countDelta", json_real(-12.0),
                   "notification.countDelta: not an integer (-12.0)");
    expect_invalid(AC, "notification.countDelta", json_string("-12"),
                   "notification.countDelta: expected integer, got string");
    n = expect_valid(SC, "notification.counts.total.renewing", json_integer(INT32_MAX));
    assert_int_equal(n->counts.total_renewing, INT32_MAX);
    vn_notification_free(n);
    n = expect_valid(SC, "notification.counts.available.expiring", json_integer(0));
    assert_int_equal(n->counts.available_expiring, 0);
    assert_int_equal(n->counts.available_renewing, 15);
    vn_notification_free(n);
    expect_invalid(SC, "notification.counts.total.renewing", json_integer((long long)INT32_MAX + 1),
                   "notification.counts.total.renewing: greater than 2147483647 (2147483648)");
    expect_invalid(SC, "notification.counts.available.expiring", json_integer(-1),
                   "notification.counts.available.expiring: negative (-1)");
    expect_invalid(SC, "notification.counts.available.renewing", json_real(15.0),
                   "notification.counts.available.renewing: not an integer (15.0)");
    expect_invalid(AM, "notification.error.errorNumber", json_real(9709.5),
                   "notification.error.errorNumber: not an integer (9709.5)");
}

static void test_apple_error(void **state)
{
    struct vn_notification *n;
    json_t *e = json_pack("{s:i, s:s, s:[{s:s}]}", "errorNumber", 9709, "errorMessage",
                          "There aren't enough assets available to complete this association.",
                          "errorInfo", "adamId", "1");

    n = expect_valid(AM, "notification.error", e);
    assert_int_equal(n->apple_error.present, 1);
    assert_int_equal(n->apple_error.number, 9709);
    assert_string_equal(n->apple_error.message,
                        "There aren't enough assets available to complete this association.");
    assert_int_equal(n->n_items, 3);
    vn_notification_free(n);
    /* Both members optional; an empty object is still an error object. */
    n = expect_valid(UM, "notification.error", json_object());
    assert_int_equal(n->apple_error.present, 1);
    assert_int_equal(n->apple_error.number, 0);
    assert_null(n->apple_error.message);
    vn_notification_free(n);
    n = expect_valid(SM, "notification.error",
                     json_pack("{s:n, s:n}", "errorNumber", "errorMessage"));
    assert_int_equal(n->apple_error.present, 1);
    assert_int_equal(n->apple_error.number, 0);
    assert_null(n->apple_error.message);
    vn_notification_free(n);
    n = expect_valid(SM, "notification.error", json_null());
    assert_int_equal(n->apple_error.present, 0);
    vn_notification_free(n);
    n = expect_valid(SM, "notification.error.errorNumber", json_integer(-3));
    assert_int_equal(n->apple_error.number, -3);
    vn_notification_free(n);
}

/* ---- unknown types, unknown keys, TEST_NOTIFICATION ------------------------------------- */

static void test_unknown_types(void **state)
{
    static const char *const names[] = {"UNLIMITED_ASSET", "asset_count", "ASSET_COUNT ", "X"};
    char msg[128];

    for (size_t i = 0; i < 4; i++) {
        struct vn_notification *n = parse_variant(AC, "notificationType", json_string(names[i]));

        assert_int_equal(n->type, VN_NT_UNKNOWN);
        assert_int_equal(n->valid, 0);
        assert_string_equal(n->type_name, names[i]);
        assert_string_equal(n->id, "4a7801be-53f0-42e1-9505-81c0d1dc9da3");
        assert_string_equal(n->uid, "2049025000431439");
        snprintf(msg, sizeof(msg), "unknown notificationType '%s'", names[i]);
        assert_string_equal(n->error, msg);
        /* The payload of an unknown type is not read at all. */
        assert_string_equal(n->adam_id.s, "");
        assert_null(n->pricing_param);
        vn_notification_free(n);
    }
}

static void test_unknown_keys_ignored(void **state)
{
    struct vn_notification *n;

    n = expect_valid(AC, "notification.future", json_pack("{s:[i,i]}", "x", 1, 2));
    assert_string_equal(n->adam_id.s, "408709785");
    vn_notification_free(n);
    n = expect_valid(AM, "notification.assignments[0].userStatus", json_string("Registered"));
    assert_int_equal(n->n_items, 3);
    vn_notification_free(n);
    n = expect_valid(SC, "notification.counts.assigned", json_pack("{s:i}", "renewing", -1));
    assert_int_equal(n->counts.total_expiring, 20);
    vn_notification_free(n);
    n = expect_valid(UA, "mdmInfo", json_null());
    assert_int_equal(n->n_items, 1);
    vn_notification_free(n);
    n = expect_valid("test_notification.json", "notification.anything",
                     json_pack("{s:[n,b,f]}", "deep", 1, 1.5));
    assert_int_equal(n->type, VN_NT_TEST_NOTIFICATION);
    vn_notification_free(n);
}

/* ---- message quoting -------------------------------------------------------------------- */

/* 1 if s is valid UTF-8 without control characters. */
static int printable_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;

        if (*p < 0x20 || *p == 0x7f)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((p[k] & 0xc0) != 0x80)
                return 0;
        p += len;
    }
    return 1;
}

static void test_messages_quote_values_safely(void **state)
{
    struct vn_notification *n;
    char *long_e = malloc(2 * 100 + 1);

    /* Control characters are escaped, other characters kept. */
    expect_invalid(AM, "notification.type", json_string("A\nB\x1f\x7f\xc3\xa9"),
                   "notification.type: unknown value 'A\\x0aB\\x1f\\x7f\xc3\xa9' (expected "
                   "ASSOCIATE, DISASSOCIATE or REVOKE)");
    /* A long value is cut with "...", never inside a character. */
    for (size_t i = 0; i < 100; i++)
        memcpy(long_e + 2 * i, "\xc3\xa9", 2);
    long_e[200] = '\0';
    n = parse_variant(AC, "notificationType", json_string(long_e));
    assert_int_equal(n->valid, 0);
    assert_true(printable_utf8(n->error));
    assert_non_null(strstr(n->error, "\xc3\xa9..."));
    assert_string_equal(n->error + strlen(n->error) - 4, "...'");
    assert_true(strlen(n->error) < 80);
    vn_notification_free(n);
    free(long_e);
    n = parse_variant(AC, "notificationType", long_string(256));
    assert_string_equal(n->error, "unknown notificationType "
                                  "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");
    vn_notification_free(n);
    n = parse_variant(AC, "notification.adamId", long_string(70000));
    assert_string_equal(n->error, "notification.adamId: not a string of digits "
                                  "('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...')");
    vn_notification_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_missing_null_and_wrong_type),
        cmocka_unit_test(test_adam_id_string_or_number),
        cmocka_unit_test(test_adam_id_rejects),
        cmocka_unit_test(test_message_names_the_element),
        cmocka_unit_test(test_enum_values),
        cmocka_unit_test(test_exactly_one_of_user_or_serial),
        cmocka_unit_test(test_failure_elements_name_the_item_partly),
        cmocka_unit_test(test_optional_fields_absent_or_null),
        cmocka_unit_test(test_empty_lists_are_valid),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_list_limits),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_apple_error),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_messages_quote_values_safely),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
