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
    const char *path;      /* display path: notification.users[0].email */
    enum kind kind;
    int required;
    const char *missing;   /* message when deleted, if not "<path>: missing" */
};

#define AM "asset_management-associate.json"
#define AD "asset_management-disassociate.json"
#define AC "asset_count.json"
#define UM "user_management-create.json"
#define UA "user_associated.json"
#define SC "subscription_count.json"
#define SM "subscription_management-associate.json"
#define NEITHER "neither clientUserId nor serialNumber (expected exactly one)"

static const struct field fields[] = {
    {AC, "notification.adamId", K_ADAM, 1, NULL},
    {AC, "notification.pricingParam", K_ID, 1, NULL},
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
            snprintf(msg, sizeof(msg), "%s: expected %s, got null", f->path,
                     kind_expects(f->kind));
            expect_invalid(f->fixture, f->path, json_null(), msg);
        } else {
            vn_notification_free(expect_valid(f->fixture, f->path, json_null()));
        }
        size_t n_wrong = wrong_values(f->kind, wrong, names);

        assert_true(n_wrong >= 3);
        for (size_t w = 0; w < n_wrong; w++) {
            snprintf(msg, sizeof(msg), "%s: expected %s, got %s", f->path,
                     kind_expects(f->kind), names[w]);
            expect_invalid(f->fixture, f->path, wrong[w], msg);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_missing_null_and_wrong_type),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
