/*
 * fuzz_notification.c - libFuzzer harness of the notification parser (notification.c).
 *
 * Parses the input, reads every string of the result (so ASan sees any string that does not
 * live as long as the notification or is not NUL-terminated), checks the promises the header
 * makes, and frees. A broken promise aborts, which the fuzzer reports like a crash.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vppnotify/error.h"
#include "vppnotify/notification.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_notification: broken promise: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static volatile size_t sink;

/* Read all of s; returns its length (0 for NULL). */
static size_t touch(const char *s)
{
    size_t len = s ? strlen(s) : 0;

    for (size_t i = 0; i < len; i++)
        sink += (unsigned char)s[i];
    return len;
}

static void check_id(const char *s, int required)
{
    size_t len = touch(s);

    CHECK(s || !required);
    CHECK(!s || (len >= 1 && len <= VN_ID_MAX));
}

static void check_text(const char *s)
{
    CHECK(touch(s) <= VN_TEXT_MAX);
}

/* An adamId is canonical decimal text: digits, no leading zero except "0" itself. */
static void check_adam_id(const struct vn_adam_id *a);

/* An item of a *_MANAGEMENT FAILURE need only name what was asked (notification.c): its adamId
 * may be missing (""), and then so may its pricingParam; anything there is checked as usual. */
static int failure_without_adam(const struct vn_notification *n, const struct vn_adam_id *a)
{
    return n->result == VN_RES_FAILURE && a->s[0] == '\0';
}

static void check_adam_id(const struct vn_adam_id *a)
{
    size_t len = touch(a->s);

    CHECK(len >= 1 && len <= VN_ADAM_ID_MAX);
    CHECK(len == 1 || a->s[0] != '0');
    for (size_t i = 0; i < len; i++)
        CHECK(a->s[i] >= '0' && a->s[i] <= '9');
}

/* Messages are what users see: non-empty, printable, valid UTF-8. */
static void check_message(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    CHECK(*p);
    while (*p) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;

        CHECK(*p >= 0x20 && *p != 0x7f);
        for (size_t k = 1; k < len; k++)
            CHECK((p[k] & 0xc0) == 0x80);
        p += len;
    }
}

static void check_management(const struct vn_notification *n)
{
    CHECK(vn_action_name(n->action) != NULL);
    CHECK(vn_result_name(n->result) != NULL);
    check_id(n->event_id, 0);
    CHECK(n->apple_error.present || (n->apple_error.number == 0 && !n->apple_error.message));
    check_text(n->apple_error.message);
}

static void check_payload(const struct vn_notification *n)
{
    const struct vn_counts *c = &n->counts;
    size_t i;

    CHECK(n->n_items <= VN_ITEMS_MAX);
    CHECK(!n->assignments || n->type == VN_NT_ASSET_MANAGEMENT);
    CHECK(!n->users || n->type == VN_NT_USER_MANAGEMENT || n->type == VN_NT_USER_ASSOCIATED);
    CHECK(!n->seats || n->type == VN_NT_SUBSCRIPTION_MANAGEMENT);
    CHECK(n->n_items == 0 || n->assignments || n->users || n->seats);
    switch (n->type) {
    case VN_NT_ASSET_COUNT:
        check_adam_id(&n->adam_id);
        check_id(n->pricing_param, 1);
        break;
    case VN_NT_SUBSCRIPTION_COUNT:
        check_adam_id(&n->adam_id);
        if (n->has_parent_adam_id)
            check_adam_id(&n->parent_adam_id);
        CHECK(c->available_renewing >= 0 && c->available_renewing <= INT32_MAX);
        CHECK(c->available_expiring >= 0 && c->available_expiring <= INT32_MAX);
        CHECK(c->total_renewing >= 0 && c->total_renewing <= INT32_MAX);
        CHECK(c->total_expiring >= 0 && c->total_expiring <= INT32_MAX);
        break;
    case VN_NT_ASSET_MANAGEMENT:
        check_management(n);
        for (i = 0; i < n->n_items; i++) {
            const struct vn_assignment *a = &n->assignments[i];

            if (failure_without_adam(n, &a->adam_id)) {
                check_id(a->pricing_param, 0);
            } else {
                check_adam_id(&a->adam_id);
                check_id(a->pricing_param, 1);
            }
            check_id(a->client_user_id, 0);
            check_id(a->serial_number, 0);
            CHECK(!a->client_user_id != !a->serial_number);
        }
        break;
    case VN_NT_USER_MANAGEMENT:
        check_management(n);
        /* fall through */
    case VN_NT_USER_ASSOCIATED:
        for (i = 0; i < n->n_items; i++) {
            const struct vn_user *u = &n->users[i];

            check_id(u->client_user_id, 1);
            check_text(u->email);
            check_text(u->invite_code);
            check_text(u->id_hash);
            check_text(u->status);
        }
        break;
    case VN_NT_SUBSCRIPTION_MANAGEMENT:
        check_management(n);
        for (i = 0; i < n->n_items; i++) {
            if (!failure_without_adam(n, &n->seats[i].adam_id))
                check_adam_id(&n->seats[i].adam_id);
            check_id(n->seats[i].client_user_id, 1);
            CHECK(n->seats[i].renewing == 0 || n->seats[i].renewing == 1);
        }
        break;
    case VN_NT_TEST_NOTIFICATION:
    case VN_NT_UNKNOWN:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vn_notification *n = (void *)1;
    struct vn_error err = {0};
    int rc;

    rc = vn_notification_parse((const char *)data, size, NULL, &n, &err);
    if (rc != 0) {
        CHECK(rc == VN_EPARSE || rc == -ENOMEM);
        CHECK(n == NULL);
        CHECK(err.code == rc);
        CHECK(touch(err.msg) > 0);
        return 0;
    }
    CHECK(n != NULL);
    check_id(n->id, 1);
    check_id(n->type_name, 1);
    check_id(n->uid, 1);
    CHECK(n->type == vn_ntype_from_name(n->type_name));
    if (n->valid) {
        CHECK(n->valid == 1 && n->error[0] == '\0' && n->type != VN_NT_UNKNOWN);
        check_payload(n);
    } else {
        /* An invalid payload exposes the envelope and the message only. */
        CHECK(memchr(n->error, '\0', sizeof(n->error)) != NULL);
        check_message(n->error);
        CHECK(!n->assignments && !n->users && !n->seats && n->n_items == 0);
        CHECK(n->action == VN_ACT_NONE && !n->event_id && !n->pricing_param);
    }
    vn_notification_free(n);
    return 0;
}
