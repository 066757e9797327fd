/*
 * The store contract, Apple side (see test_store_contract.c for how to run it against another
 * backend): instance configuration, a location's link to Apple (sToken, status, subscription,
 * takeover), token unrotation, sync writes and sweeps, sync state, tracked events. Through
 * store.h alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#define VN_TEST_DIR_PREFIX "/tmp/vn_test_contract_apple_"
#include "store_test.h"

#include "store_contract_test.h"

/* ---- the Apple side: configuration, locations' links, sync, tracked events ---------------- */

static void test_config_ensure_first_value_wins(void **state)
{
    struct fx *f = *state;
    char *v = NULL;

    assert_int_equal(vn_store_config_ensure(f->st, "mdm_id", NULL, &v), VN_ENOTFOUND);
    assert_null(v);
    assert_int_equal(vn_store_config_ensure(f->st, "mdm_id", "first", &v), 0);
    assert_string_equal(v, "first");
    free(v);
    assert_int_equal(vn_store_config_ensure(f->st, "mdm_id", "second", &v), 0);
    assert_string_equal(v, "first");
    free(v);
    assert_int_equal(vn_store_config_ensure(f->st, "mdm_id", NULL, &v), 0);
    assert_string_equal(v, "first");
    free(v);
}

static void test_location_apple_fields(void **state)
{
    struct fx *f = *state;
    static const uint8_t sealed[] = {0x00, 0x01, 0xfe, 0xff, 0x00, 0x42};
    uint8_t d1[VN_DIGEST_LEN];
    int64_t now = at("2026-11-25T10:00:00.000Z");
    struct vn_location_apple l;
    struct vn_location_update u;
    struct rows rows;
    char **uids = NULL;
    size_t n = 0;

    digest_of("token-one-0123456789", d1);
    assert_int_equal(vn_store_location_add(f->st, "u1", "Main", d1, now), 0);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_string_equal(l.uid, "u1");
    assert_string_equal(l.name, "Main");
    assert_null(l.stoken);
    assert_string_equal(l.token_status, "");
    assert_string_equal(l.notification_types, "");
    assert_int_equal(l.subscribed_ms, 0);
    vn_location_apple_release(&l);
    assert_int_equal(vn_store_apple_uids(f->st, &uids, &n), 0);
    assert_int_equal(n, 0);
    free(uids);

    /* An sToken: bytes kept exactly (NULs included), status ok, org name. */
    memset(&u, 0, sizeof(u));
    u.what = VN_LU_STOKEN;
    u.stoken = sealed;
    u.stoken_len = sizeof(sealed);
    u.org_name = "Example School";
    u.token_expires_ms = at("2099-01-01T00:00:00.000Z");
    u.now_ms = now;
    assert_int_equal(vn_store_location_update(f->st, "u1", &u), 0);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_int_equal(l.stoken_len, sizeof(sealed));
    assert_memory_equal(l.stoken, sealed, sizeof(sealed));
    assert_string_equal(l.org_name, "Example School");
    assert_string_equal(l.token_status, "ok");
    assert_int_equal(l.token_expires_ms, at("2099-01-01T00:00:00.000Z"));
    vn_location_apple_release(&l);
    assert_null(l.stoken);
    assert_int_equal(vn_store_apple_uids(f->st, &uids, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(uids[0], "u1");
    free(uids[0]);
    free(uids);

    /* Status, subscription, takeover, warning: each written only when asked. */
    memset(&u, 0, sizeof(u));
    u.what = VN_LU_STATUS | VN_LU_SUBSCRIPTION | VN_LU_TAKEOVER | VN_LU_WARNED;
    u.token_status = "revoked";
    u.token_error = "9625: the token was revoked";
    u.notification_url = "https://mdm.example/notifications";
    u.notification_types = "[\"ASSET_COUNT\"]";
    u.subscribed_ms = at("2026-11-25T10:00:01.000Z");
    u.takeover = "{\"id\":\"other\"}";
    u.expiry_warned_ms = at("2026-11-25T10:00:02.000Z");
    u.now_ms = now;
    assert_int_equal(vn_store_location_update(f->st, "u1", &u), 0);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_memory_equal(l.stoken, sealed, sizeof(sealed)); /* untouched */
    assert_string_equal(l.token_status, "revoked");
    assert_string_equal(l.token_error, "9625: the token was revoked");
    assert_string_equal(l.notification_url, "https://mdm.example/notifications");
    assert_string_equal(l.notification_types, "[\"ASSET_COUNT\"]");
    assert_int_equal(l.subscribed_ms, at("2026-11-25T10:00:01.000Z"));
    assert_string_equal(l.takeover, "{\"id\":\"other\"}");
    assert_int_equal(l.expiry_warned_ms, at("2026-11-25T10:00:02.000Z"));
    vn_location_apple_release(&l);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "orgName=Example School tokenStatus=revoked "));

    /* A new sToken makes the status ok again and starts a new warning cycle. */
    memset(&u, 0, sizeof(u));
    u.what = VN_LU_STOKEN | VN_LU_TAKEOVER;
    u.stoken = sealed;
    u.stoken_len = 2;
    u.token_expires_ms = at("2099-06-01T00:00:00.000Z");
    u.takeover = NULL; /* clears */
    assert_int_equal(vn_store_location_update(f->st, "u1", &u), 0);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_int_equal(l.stoken_len, 2);
    assert_string_equal(l.org_name, "Example School"); /* kept when not given */
    assert_string_equal(l.token_status, "ok");
    assert_string_equal(l.token_error, "");
    assert_string_equal(l.takeover, "");
    assert_int_equal(l.expiry_warned_ms, 0);
    assert_string_equal(l.notification_url, "https://mdm.example/notifications");
    vn_location_apple_release(&l);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "tokenStatus=ok "));

    assert_int_equal(vn_store_location_update(f->st, "nope", &u), VN_ENOTFOUND);
    assert_int_equal(vn_store_location_apple(f->st, "nope", &l), VN_ENOTFOUND);
}

/* A location and its sToken in one transaction (location subscribe): all of it or nothing. */
static void test_location_add_linked_is_all_or_nothing(void **state)
{
    struct fx *f = *state;
    static const uint8_t sealed[] = {0x07, 0x00, 0x08, 0x09};
    static const uint8_t other[] = {0x0a, 0x0b};
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN], d3[VN_DIGEST_LEN];
    int64_t now = at("2026-11-29T10:00:00.000Z");
    struct vn_location_update u = {0};
    struct vn_location_apple l;
    struct rows rows;

    digest_of("token-linked-0123456789", d1);
    digest_of("token-linked-other-0123", d2);
    digest_of("token-linked-third-0123", d3);
    u.what = VN_LU_STOKEN;
    u.stoken = sealed;
    u.stoken_len = sizeof(sealed);
    u.org_name = "Linked School";
    u.token_expires_ms = at("2099-01-01T00:00:00.000Z");
    u.now_ms = now;
    assert_int_equal(vn_store_location_add_linked(f->st, "u1", "Main", d1, now, &u), 0);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_string_equal(l.name, "Main");
    assert_int_equal(l.stoken_len, sizeof(sealed));
    assert_memory_equal(l.stoken, sealed, sizeof(sealed));
    assert_string_equal(l.org_name, "Linked School");
    assert_string_equal(l.token_status, "ok");
    vn_location_apple_release(&l);

    /* The uid exists: VN_EDUP, its sToken and tokens untouched, the new token not kept. */
    u.stoken = other;
    u.stoken_len = sizeof(other);
    assert_int_equal(vn_store_location_add_linked(f->st, "u1", "Again", d2, now, &u), VN_EDUP);
    assert_int_equal(vn_store_location_apple(f->st, "u1", &l), 0);
    assert_string_equal(l.name, "Main");
    assert_memory_equal(l.stoken, sealed, sizeof(sealed));
    vn_location_apple_release(&l);

    /* The sToken's write fails (a status the schema refuses): no location, no token. */
    memset(&u, 0, sizeof(u));
    u.what = VN_LU_STATUS;
    u.token_status = "no-such-status";
    u.now_ms = now;
    assert_true(vn_store_location_add_linked(f->st, "u2", "Half", d3, now, &u) < 0);
    assert_int_equal(vn_store_location_apple(f->st, "u2", &l), VN_ENOTFOUND);
    assert_int_equal(q(f->st, VN_Q_LOCATIONS, NULL, &rows), 1);
    assert_non_null(strstr(rows.text[0], "u1"));
    /* Its token digest is free again: a plain add with it works. */
    assert_int_equal(vn_store_location_add(f->st, "u3", "Three", d3, now), 0);
    assert_int_equal(vn_store_location_add(f->st, "u4", "Four", d2, now), 0);
}

static void test_location_unrotate_restores_the_previous_token(void **state)
{
    struct fx *f = *state;
    uint8_t d1[VN_DIGEST_LEN], d2[VN_DIGEST_LEN];
    int64_t now = vn_now_ms();
    struct toks t;

    digest_of("token-one-0123456789", d1);
    digest_of("token-two-0123456789", d2);
    assert_int_equal(vn_store_location_add(f->st, "u1", "L", d1, now), 0);
    assert_int_equal(vn_store_location_rotate(f->st, "u1", d2, now, now + 3600 * 1000), 0);
    assert_int_equal(vn_store_location_unrotate(f->st, "u1", d2), 0);
    assert_int_equal(tokens(f->st, 0, &t), 1);
    assert_memory_equal(t.digest[0], d1, VN_DIGEST_LEN);
    assert_int_equal(t.expires[0], 0); /* current again, no grace end */
    assert_int_equal(vn_store_location_unrotate(f->st, "u1", d2), VN_ENOTFOUND);
    assert_int_equal(vn_store_location_unrotate(f->st, "nope", d1), VN_ENOTFOUND);
    /* Failed calls leave no transaction open. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
}

static void test_sync_writes_report_added_changed_unchanged(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a = {.pricing_param = "STDQ", .client_user_id = "c1"};
    struct vn_user u = {.client_user_id = "c1", .email = "a@x", .status = "Registered"};
    struct vn_counts c = {1, 2, 3, 4};
    struct vn_seat seat = {.client_user_id = "c1", .renewing = 1};
    struct rows r;

    vn_strlcpy(a.adam_id.s, "10", sizeof(a.adam_id.s));
    vn_strlcpy(seat.adam_id.s, "7", sizeof(seat.adam_id.s));
    assert_int_equal(vn_store_begin(f->st), 0);
    /* A notification made the asset unknown-and-flagged; the sync's counts clear the flag. */
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 5, INT64_MAX, "10", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 5, INT64_MAX, "10", "STDQ", 9, 1, 8), 2);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 5, INT64_MAX, "11", NULL, 1, 1, 0), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 5, INT64_MAX, &a), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 5, INT64_MAX, &a), 0);
    assert_int_equal(vn_store_sync_user(f->st, "u1", 5, INT64_MAX, &u), 1);
    assert_int_equal(vn_store_sync_user(f->st, "u1", 5, INT64_MAX, &u), 0);
    u.email = NULL; /* a sync writes every field as given */
    assert_int_equal(vn_store_sync_user(f->st, "u1", 5, INT64_MAX, &u), 2);
    assert_int_equal(vn_store_sync_subscription(f->st, "u1", 5, INT64_MAX, "7", "70", &c), 1);
    assert_int_equal(vn_store_sync_subscription(f->st, "u1", 5, INT64_MAX, "7", "70", &c), 0);
    c.total_expiring = 40;
    assert_int_equal(vn_store_sync_subscription(f->st, "u1", 5, INT64_MAX, "7", "70", &c), 2);
    assert_int_equal(vn_store_sync_seat(f->st, "u1", 5, INT64_MAX, &seat), 1);
    assert_int_equal(vn_store_sync_seat(f->st, "u1", 5, INT64_MAX, &seat), 0);
    seat.renewing = 0;
    assert_int_equal(vn_store_sync_seat(f->st, "u1", 5, INT64_MAX, &seat), 2);
    a.serial_number = "S"; /* both: refused */
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 5, INT64_MAX, &a), VN_EPARSE);
    assert_int_equal(vn_store_commit(f->st), 0);

    assert_int_equal(q(f->st, VN_Q_ASSETS, NULL, &r), 2);
    assert_string_equal(r.text[0], "uId=u1 adamId=10 pricingParam=STDQ totalCount=9 "
                                   "assignedCount=1 availableCount=8 needsSync=false");
    assert_string_equal(r.text[1], "uId=u1 adamId=11 pricingParam=STDQ totalCount=1 "
                                   "assignedCount=1 availableCount=0 needsSync=false");
    /* Counts waiting for a targeted read: the asset is flagged, its counts stay; an asset the
     * mirror does not have is not made up. */
    assert_int_equal(vn_store_mark_needs_sync(f->st, "u1", "11", NULL), 0);
    assert_int_equal(vn_store_mark_needs_sync(f->st, "u1", "99", "STDQ"), 0);
    assert_int_equal(q(f->st, VN_Q_ASSETS, NULL, &r), 2);
    assert_string_equal(r.text[0], "uId=u1 adamId=10 pricingParam=STDQ totalCount=9 "
                                   "assignedCount=1 availableCount=8 needsSync=false");
    assert_string_equal(r.text[1], "uId=u1 adamId=11 pricingParam=STDQ totalCount=1 "
                                   "assignedCount=1 availableCount=0 needsSync=true");
    assert_int_equal(q(f->st, VN_Q_USERS, NULL, &r), 1);
    assert_string_equal(r.text[0], "uId=u1 clientUserId=c1 email=null inviteCode=null "
                                   "idHash=null status=Registered");
    assert_int_equal(q(f->st, VN_Q_SUBSCRIPTIONS, NULL, &r), 1);
    assert_string_equal(r.text[0], "uId=u1 adamId=7 parentAdamId=70 "
                                   "counts.available.renewing=1 counts.available.expiring=2 "
                                   "counts.total.renewing=3 counts.total.expiring=40");
    assert_int_equal(q(f->st, VN_Q_SUBSCRIPTION_ASSIGNMENTS, NULL, &r), 1);
    assert_string_equal(r.text[0], "uId=u1 adamId=7 clientUserId=c1 renewing=false");
}

static void test_sync_sweep_removes_rows_of_other_generations_in_scope(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a[4];
    struct vn_mirror_scope scope = {.adam_id = "10"};
    const char *who[4] = {"c1", "c2", "c3", "c4"};
    const char *adam[4] = {"10", "10", "10", "20"};
    long long removed = -1;
    struct rows r;

    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        vn_strlcpy(a[i].adam_id.s, adam[i], sizeof(a[i].adam_id.s));
        a[i].pricing_param = "STDQ";
        a[i].client_user_id = who[i];
    }
    assert_int_equal(vn_store_begin(f->st), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(vn_store_sync_assignment(f->st, "u1", 1, INT64_MAX, &a[i]), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u2", &a[0]), 1); /* another location */
    /* A later sync of adamId 10 sees c1 and c3 only. */
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 2, INT64_MAX, &a[0]), 0);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 2, INT64_MAX, &a[2]), 0);
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 2, INT64_MAX, &scope, 0, &removed), 0);
    assert_int_equal(removed, 1); /* c2; c4 is outside the scope, u2 another location */
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, NULL, &r), 4);
    assert_non_null(strstr(r.text[0], "uId=u1 adamId=10 pricingParam=STDQ clientUserId=c1 "));
    assert_non_null(strstr(r.text[1], "uId=u1 adamId=10 pricingParam=STDQ clientUserId=c3 "));
    assert_non_null(strstr(r.text[2], "uId=u1 adamId=20 pricingParam=STDQ clientUserId=c4 "));
    assert_non_null(strstr(r.text[3], "uId=u2 adamId=10 pricingParam=STDQ clientUserId=c1 "));

    /* Without a scope, everything of the location not of the generation goes. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 3, INT64_MAX, NULL, 0, &removed), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, NULL, &r), 1);
    assert_non_null(strstr(r.text[0], "uId=u2 "));
}

/*
 * Two walks of one location that overlap (a CLI sync beside serve's scheduled one, or another
 * instance's): generations grow with the walk's start, a row keeps the highest generation that
 * returned it, and a sweep removes only rows of a lower one, so the older walk's sweep does not
 * delete what the newer walk returned, and the older walk's stale data does not replace what the
 * newer walk confirmed. (Before: the older walk's sweep emptied the table of the rows the newer
 * walk had re-tagged.)
 */
static void test_overlapping_walks_keep_each_others_rows(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a[4];
    const char *who[4] = {"s1", "s2", "s3", "s4"};
    long long removed = -1;
    struct rows r;

    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        vn_strlcpy(a[i].adam_id.s, "10", sizeof(a[i].adam_id.s));
        a[i].pricing_param = "STDQ";
        a[i].serial_number = who[i];
    }
    assert_int_equal(vn_store_begin(f->st), 0);
    /* The older walk (generation 100) returns s1, s2; the newer (200) s1, s2, s3; then the
     * older one's last page brings s4, which the newer walk did not see. */
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 100, INT64_MAX, &a[0]), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 100, INT64_MAX, &a[1]), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 200, INT64_MAX, &a[0]), 0);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 200, INT64_MAX, &a[1]), 0);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 200, INT64_MAX, &a[2]), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 100, INT64_MAX, &a[3]), 1);
    /* The older walk re-reads s1: the newer walk's mark stays. */
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 100, INT64_MAX, &a[0]) >= 0, 1);
    /* The older walk ends first: nothing the newer one returned goes. */
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 100, INT64_MAX, NULL, 0, &removed), 0);
    assert_int_equal(removed, 0);
    /* The newer walk ends: s4, which only the older walk returned, goes. */
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 200, INT64_MAX, NULL, 0, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_ASSIGNMENTS, NULL, &r), 3);
    assert_non_null(strstr(r.text[0], "serialNumber=s1"));
    assert_non_null(strstr(r.text[1], "serialNumber=s2"));
    assert_non_null(strstr(r.text[2], "serialNumber=s3"));

    /* Counts: the newer walk confirmed 5/1/4; the older walk's page said 3/1/2. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 100, INT64_MAX, "10", "STDQ", 3, 1, 2), 1);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 200, INT64_MAX, "10", "STDQ", 5, 1, 4), 2);
    assert_true(vn_store_sync_asset(f->st, "u1", 100, INT64_MAX, "10", "STDQ", 3, 1, 2) >= 0);
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSETS, "u1", 100, INT64_MAX, NULL, 0, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(q(f->st, VN_Q_ASSETS, NULL, &r), 1);
    assert_non_null(strstr(r.text[0], "totalCount=5 "));
}

struct user_row {
    char status[32], email[64];
};

static int on_user(void *ud, const struct vn_row *row)
{
    struct user_row *r = ud;

    for (size_t k = 0; k < row->n; k++) {
        if (row->vals[k].type != VN_V_TEXT)
            continue;
        if (!strcmp(row->keys[k], "status"))
            snprintf(r->status, sizeof(r->status), "%s", row->vals[k].s);
        else if (!strcmp(row->keys[k], "email"))
            snprintf(r->email, sizeof(r->email), "%s", row->vals[k].s);
    }
    return 0;
}

/* A sweep in chunks: each call deletes at most limit rows and says how many. */
static void test_sync_sweep_in_chunks(void **state)
{
    struct fx *f = *state;
    char sn[16];
    long long removed = -1, total = 0;
    int calls = 0;

    assert_int_equal(vn_store_begin(f->st), 0);
    for (int i = 0; i < 25; i++) {
        struct vn_assignment a = {.adam_id = {"10"}, .serial_number = sn};
        snprintf(sn, sizeof(sn), "S%d", i);
        assert_int_equal(vn_store_sync_assignment(f->st, "u1", i < 3 ? 9 : 8, INT64_MAX, &a), 1);
    }
    do {
        assert_int_equal(
            vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 9, INT64_MAX, NULL, 10, &removed),
            0);
        assert_true(removed <= 10);
        total += removed;
        calls++;
    } while (removed == 10);
    assert_int_equal(total, 22);
    assert_int_equal(calls, 3);
    assert_int_equal(vn_store_commit(f->st), 0);
}

/*
 * Apple keeps retired users' rows: one walk may return a clientUserId twice, and now that a
 * sync writes page by page the two records may be on different pages. Within one generation
 * an active row is kept against a Retired record; otherwise the later record wins.
 */
static void test_sync_user_retired_twice_in_one_walk(void **state)
{
    struct fx *f = *state;
    struct vn_user active = {.client_user_id = "c1", .email = "new@b.c", .status = "Registered"};
    struct vn_user retired = {.client_user_id = "c1", .email = "old@b.c", .status = "Retired"};
    struct vn_filter flt = {.client_user_id = "c1"};
    struct user_row r;

    assert_int_equal(vn_store_begin(f->st), 0);
    /* Active on page 1, its retired predecessor on page 2 (generation 7): active stays. */
    assert_int_equal(vn_store_sync_user(f->st, "u1", 7, INT64_MAX, &active), 1);
    assert_int_equal(vn_store_sync_user(f->st, "u1", 7, INT64_MAX, &retired), 0);
    /* The next walk (8) returns them the other way round: the later, active one wins. */
    assert_int_equal(vn_store_sync_user(f->st, "u1", 8, INT64_MAX, &retired), 2);
    assert_int_equal(vn_store_sync_user(f->st, "u1", 8, INT64_MAX, &active), 2);
    /* A walk (9) that only sees the user retired: the user is retired. */
    assert_int_equal(vn_store_sync_user(f->st, "u1", 9, INT64_MAX, &retired), 2);
    assert_int_equal(vn_store_commit(f->st), 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_query(f->st, VN_Q_USERS, &flt, on_user, &r), 0);
    assert_string_equal(r.status, "Retired");
    assert_string_equal(r.email, "old@b.c");
}

/* ---- convergence: the writer clock, tombstones, key history, send order, verification ---- */

/* A location, so that deletes leave tombstones (they are kept for existing locations only). */
static void add_location(struct fx *f, const char *uid)
{
    uint8_t d[VN_DIGEST_LEN];

    vn_digest(uid, strlen(uid), d);
    assert_int_equal(vn_store_location_add(f->st, uid, "L", d, vn_now_ms()), 0);
}

static int assignment_present(struct fx *f, const char *sn)
{
    struct vn_mirror_scope k = {.adam_id = "10", .pricing_param = "STDQ", .serial_number = sn};
    struct vn_key_state ks;

    assert_int_equal(vn_store_key_state(f->st, VN_MT_ASSIGNMENTS, "u1", &k, &ks), 0);
    return ks.present;
}

/*
 * A sync page fetched before a notification must not undo it (contract 3.1): rows changed
 * after the page's clock are kept, a row deleted after it is not brought back (tombstone), and
 * the sweep keeps rows changed after the walk began. A later page wins again.
 */
static void test_sync_keeps_changes_newer_than_its_page(void **state)
{
    struct fx *f = *state;
    struct vn_assignment s1 = {.adam_id = {"10"}, .serial_number = "S1"};
    struct vn_assignment s2 = {.adam_id = {"10"}, .serial_number = "S2"};
    struct vn_assignment s3 = {.adam_id = {"10"}, .serial_number = "S3"};
    int64_t c1 = 0, seen = 0, c2 = 0, later = 0;
    long long removed = -1;

    add_location(f, "u1");
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c1), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 5, INT64_MAX, "10", "STDQ", 10, 2, 8), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 5, INT64_MAX, &s1), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 5, INT64_MAX, &s2), 1);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_clock(f->st, &seen), 0);
    assert_int_equal(seen, c1);

    /* A notification after that: S1 gone, S3 added, the asset's counts moved. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c2), 0);
    assert_true(c2 > c1);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &s1), 1);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &s3), 1);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);

    /* A page fetched at `seen` (before the notification) still lists S1 and S2, not S3. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, NULL), 0);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 6, seen, &s1), 3); /* tombstone */
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 6, seen, &s2), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 6, seen, "10", "STDQ", 10, 2, 8), 3);
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 6, seen, NULL, 0, &removed), 0);
    assert_int_equal(removed, 0); /* S3 changed after the walk began: kept */
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_false(assignment_present(f, "S1"));
    assert_true(assignment_present(f, "S2"));
    assert_true(assignment_present(f, "S3"));

    /* A walk that began after the notification: Apple lists S1 again (re-associated) and S2. */
    assert_int_equal(vn_store_clock(f->st, &later), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, NULL), 0);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 7, later, &s1), 1);
    assert_int_equal(vn_store_sync_assignment(f->st, "u1", 7, later, &s2), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 7, later, "10", "STDQ", 11, 2, 9), 0);
    assert_int_equal(
        vn_store_sync_sweep(f->st, VN_MT_ASSIGNMENTS, "u1", 7, later, NULL, 0, &removed), 0);
    assert_int_equal(removed, 1); /* S3: not listed by a walk newer than its change */
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_true(assignment_present(f, "S1"));
    assert_false(assignment_present(f, "S3"));
}

/*
 * A page is written in chunks (separate transactions, each with its own clock), all with the
 * clock seen before the page was fetched. Apple's two records of one clientUserId (retired,
 * then created again) may fall into two chunks of one page: the second must still win over
 * the first (found by make chaos, seed 10975: the retired record stayed).
 */
static void test_sync_user_twice_in_one_page_two_chunks(void **state)
{
    struct fx *f = *state;
    struct vn_user retired = {.client_user_id = "n305", .invite_code = "old", .status = "Retired"};
    struct vn_user active = {
        .client_user_id = "n305", .invite_code = "new", .status = "Registered"};
    struct vn_mirror_scope k = {.client_user_id = "n305"};
    struct vn_key_state ks;
    int64_t seen = 0;

    add_location(f, "u1");
    assert_int_equal(vn_store_clock(f->st, &seen), 0);
    assert_int_equal(vn_store_begin(f->st), 0); /* chunk 1 */
    assert_int_equal(vn_store_clock_tick(f->st, NULL), 0);
    assert_int_equal(vn_store_sync_user(f->st, "u1", 11, seen, &retired), 1);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0); /* chunk 2, same page */
    assert_int_equal(vn_store_clock_tick(f->st, NULL), 0);
    assert_int_equal(vn_store_sync_user(f->st, "u1", 11, seen, &active), 2);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_USERS, "u1", &k, &ks), 0);
    assert_string_equal(ks.status, "Registered");
}

/* The state of a key: its row or its tombstone, its clock and the event of its last change. */
static void test_key_state_and_event(void **state)
{
    struct fx *f = *state;
    struct vn_assignment s1 = {.adam_id = {"10"}, .serial_number = "S1"};
    struct vn_mirror_scope k = {.adam_id = "10", .pricing_param = "STDQ", .serial_number = "S1"};
    struct vn_seat seat = {.adam_id = {"7"}, .client_user_id = "c1", .renewing = 1};
    struct vn_mirror_scope ks = {.adam_id = "7", .client_user_id = "c1"};
    struct vn_user u = {.client_user_id = "c1"};
    struct vn_mirror_scope ku = {.client_user_id = "c1"};
    struct vn_key_state st;
    int64_t c = 0;

    add_location(f, "u1");
    assert_int_equal(vn_store_key_state(f->st, VN_MT_ASSIGNMENTS, "u1", &k, &st), 0);
    assert_int_equal(st.present, 0);
    assert_int_equal(st.clock, 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c), 0);
    assert_int_equal(vn_store_assignment_insert(f->st, "u1", &s1), 1);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_ASSIGNMENTS, "u1", &k, "ev1"), 0);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_ASSIGNMENTS, "u1", &k, &st), 0);
    assert_int_equal(st.present, 1);
    assert_int_equal(st.clock, c);
    assert_string_equal(st.event_id, "ev1");
    assert_int_equal(vn_store_commit(f->st), 0);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c), 0);
    assert_int_equal(vn_store_assignment_delete(f->st, "u1", &s1), 1);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_ASSIGNMENTS, "u1", &k, &st), 0);
    assert_int_equal(st.present, 0);
    assert_int_equal(st.clock, c); /* the tombstone's */
    assert_string_equal(st.event_id, "");
    assert_int_equal(vn_store_key_event(f->st, VN_MT_ASSIGNMENTS, "u1", &k, "ev2"), 0);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_ASSIGNMENTS, "u1", &k, &st), 0);
    assert_string_equal(st.event_id, "ev2");
    /* Seats the same way; users by clientUserId, with their status. */
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &seat), 1);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_SEATS, "u1", &ks, "ev3"), 0);
    assert_int_equal(vn_store_seat_delete(f->st, "u1", &seat), 1);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_SEATS, "u1", &ks, &st), 0);
    assert_int_equal(st.present, 0);
    assert_int_equal(st.clock, c);
    assert_int_equal(vn_store_user_upsert(f->st, "u1", &u, "Retired"), 0);
    assert_int_equal(vn_store_key_event(f->st, VN_MT_USERS, "u1", &ku, "ev4"), 0);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_USERS, "u1", &ku, &st), 0);
    assert_int_equal(st.present, 1);
    assert_string_equal(st.status, "Retired");
    assert_string_equal(st.event_id, "ev4");
    assert_int_equal(vn_store_commit(f->st), 0);
}

/*
 * Every transaction that changes a row stamps it with its own clock, however often it changes
 * the row (SQLite's migration 15 skips the stamp when the row carries it already): changed
 * twice in one transaction, then twice in the next, the row has the second clock.
 */
static void test_clock_stamped_once_per_transaction(void **state)
{
    struct fx *f = *state;
    struct vn_user u = {.client_user_id = "c1"};
    struct vn_mirror_scope ku = {.client_user_id = "c1"};
    struct vn_seat seat = {.adam_id = {"7"}, .client_user_id = "c1", .renewing = 1};
    struct vn_mirror_scope kseat = {.adam_id = "7", .client_user_id = "c1"};
    struct vn_key_state st;
    int64_t c1 = 0, c2 = 0, c3 = 0;

    add_location(f, "u1");
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c1), 0);
    assert_int_equal(vn_store_user_upsert(f->st, "u1", &u, "Registered"), 0);
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &seat), 1);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 5, 0, 5), 0);
    assert_int_equal(vn_store_commit(f->st), 0);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c2), 0);
    assert_true(c2 > c1);
    assert_int_equal(vn_store_user_upsert(f->st, "u1", &u, "Retired"), 0);
    assert_int_equal(vn_store_user_upsert(f->st, "u1", &u, "Registered"), 0);
    seat.renewing = 0;
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &seat), 1);
    seat.renewing = 1;
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &seat), 1);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "10", "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_USERS, "u1", &ku, &st), 0);
    assert_int_equal(st.clock, c2);
    assert_int_equal(vn_store_key_state(f->st, VN_MT_SEATS, "u1", &kseat, &st), 0);
    assert_int_equal(st.clock, c2);
    /* The asset changed after c1: a sync page fetched at c1 does not overwrite it (3), one
     * fetched after c2 does (2: changed). */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c3), 0);
    assert_true(c3 > c2);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 9, c1, "10", "STDQ", 1, 0, 1), 3);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, NULL), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 10, c3, "10", "STDQ", 1, 0, 1), 2);
    assert_int_equal(vn_store_commit(f->st), 0);
}

/*
 * A write that does not bring the transaction's clock is stamped all the same: an asset
 * inserted without a tick takes the last clock, a sync's update takes its transaction's. So a
 * page fetched before either does not overwrite the row (3); one fetched after does (2).
 */
static void test_writes_without_their_clock_are_stamped(void **state)
{
    struct fx *f = *state;
    int64_t c1 = 0, c2 = 0, c3 = 0;

    add_location(f, "u1");
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c1), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0); /* no tick: the insert takes c1 */
    assert_int_equal(vn_store_asset_adjust(f->st, "u1", "20", "STDQ", 5, 0, 5), 0);
    assert_int_equal(vn_store_commit(f->st), 0);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c2), 0);
    assert_true(c2 > c1);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 1, c1 - 1, "20", "STDQ", 9, 0, 9), 3);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 1, c1, "20", "STDQ", 9, 0, 9), 2);
    assert_int_equal(vn_store_commit(f->st), 0);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_clock_tick(f->st, &c3), 0);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 2, c2 - 1, "20", "STDQ", 1, 0, 1), 3);
    assert_int_equal(vn_store_sync_asset(f->st, "u1", 2, c2, "20", "STDQ", 1, 0, 1), 2);
    assert_int_equal(vn_store_commit(f->st), 0);
}

static int verify_cb(void *ud, const struct vn_verify_item *it)
{
    struct vn_verify_item *out = ud;

    out->id = it->id;
    out->table = it->table;
    out->attempts = it->attempts;
    assert_string_equal(it->uid, "u1");
    assert_string_equal(it->key.serial_number, "S9");
    assert_null(it->key.client_user_id);
    return 0;
}

/* vppnotify's own requests are numbered in send order per location; keys wait for a read. */
static void test_send_order_and_verification_queue(void **state)
{
    struct fx *f = *state;
    struct vn_event_track t1 = {.event_id = "a1", .uid = "u1", .kind = "assets", .type = "X"};
    struct vn_event_track t2 = {.event_id = "a2", .uid = "u1", .kind = "assets", .type = "X"};
    struct vn_event_track other = {.event_id = "o1", .uid = "u1"}; /* `events track` */
    struct vn_mirror_scope k = {.adam_id = "10", .pricing_param = "STDQ", .serial_number = "S9"};
    struct vn_verify_item it = {.id = -1};
    struct vn_seat seat = {.adam_id = {"7"}, .client_user_id = "c1", .renewing = 0};
    long long seq = 0, ren = -1, exp = -1, removed = -1;

    add_location(f, "u1");
    assert_int_equal(vn_store_event_track(f->st, &t1), 0);
    assert_int_equal(vn_store_event_track(f->st, &t2), 0);
    assert_int_equal(vn_store_event_track(f->st, &other), 0);
    assert_int_equal(vn_store_event_send_seq(f->st, "a1", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(vn_store_event_send_seq(f->st, "a2", &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(vn_store_event_send_seq(f->st, "o1", &seq), VN_ENOTFOUND);
    assert_int_equal(vn_store_event_send_seq(f->st, "nope", &seq), VN_ENOTFOUND);

    assert_int_equal(vn_store_verify_add(f->st, VN_MT_ASSIGNMENTS, "u1", &k, "why"), 0);
    assert_int_equal(vn_store_verify_add(f->st, VN_MT_ASSIGNMENTS, "u1", &k, "again"), 0);
    assert_int_equal(vn_store_verify_list(f->st, NULL, 0, verify_cb, &it), 0);
    assert_true(it.id > 0);
    assert_int_equal(it.table, VN_MT_ASSIGNMENTS);
    assert_int_equal(vn_store_verify_done(f->st, it.id, "Apple unreachable"), 0);
    assert_int_equal(vn_store_verify_list(f->st, "u1", 10, verify_cb, &it), 0);
    assert_int_equal(it.attempts, 1);
    assert_int_equal(vn_store_verify_done(f->st, it.id, NULL), 0);
    it.id = -1;
    assert_int_equal(vn_store_verify_list(f->st, NULL, 0, verify_cb, &it), 0);
    assert_int_equal(it.id, -1); /* gone */

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_seat_upsert(f->st, "u1", &seat), 1);
    assert_int_equal(vn_store_seat_count(f->st, "u1", "7", &ren, &exp), 0);
    assert_int_equal(ren, 0);
    assert_int_equal(exp, 1);
    assert_int_equal(vn_store_seat_delete(f->st, "u1", &seat), 1);
    assert_int_equal(vn_store_tombstones_purge(f->st, vn_now_ms() + 60000, 0, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(vn_store_commit(f->st), 0);
}

static void test_sync_state_roundtrip(void **state)
{
    struct fx *f = *state;
    struct vn_sync_state in, out;

    memset(&out, 0x5a, sizeof(out));
    assert_int_equal(vn_store_sync_state_get(f->st, "u1", &out), 0); /* never synced: zeroed */
    assert_string_equal(out.assignments_version, "");
    assert_int_equal(out.last_full_ms, 0);
    assert_string_equal(out.last_kind, "");

    memset(&in, 0, sizeof(in));
    vn_strlcpy(in.assignments_version, "v-123", sizeof(in.assignments_version));
    vn_strlcpy(in.users_version, "u-9", sizeof(in.users_version));
    in.last_full_ms = at("2026-11-25T10:00:00.000Z");
    in.last_delta_ms = at("2026-11-25T11:00:00.250Z");
    in.last_attempt_ms = at("2026-11-25T11:00:00.000Z");
    vn_strlcpy(in.last_kind, "delta", sizeof(in.last_kind));
    vn_strlcpy(in.last_drift, "{\"assets\":{\"added\":1}}", sizeof(in.last_drift));
    assert_int_equal(vn_store_sync_state_put(f->st, "u1", &in), 0);
    assert_int_equal(vn_store_sync_state_get(f->st, "u1", &out), 0);
    assert_string_equal(out.assignments_version, "v-123");
    assert_string_equal(out.users_version, "u-9");
    assert_int_equal(out.last_full_ms, in.last_full_ms);
    assert_int_equal(out.last_delta_ms, in.last_delta_ms);
    assert_int_equal(out.last_attempt_ms, in.last_attempt_ms);
    assert_string_equal(out.last_kind, "delta");
    assert_string_equal(out.last_error, "");
    assert_string_equal(out.last_drift, "{\"assets\":{\"added\":1}}");

    /* A failed attempt replaces the row; empty fields become empty again. */
    in.users_version[0] = '\0';
    vn_strlcpy(in.last_error, "apple: 503", sizeof(in.last_error));
    assert_int_equal(vn_store_sync_state_put(f->st, "u1", &in), 0);
    assert_int_equal(vn_store_sync_state_get(f->st, "u1", &out), 0);
    assert_string_equal(out.users_version, "");
    assert_string_equal(out.last_error, "apple: 503");
    assert_int_equal(vn_store_sync_state_get(f->st, "u2", &out), 0);
    assert_string_equal(out.last_error, "");
}

struct tracked {
    size_t n;
    char ids[4][32];
    struct vn_tracked_event e[4];
    char status[4][16], request[4][64];
};

static int collect_tracked(void *ud, const struct vn_tracked_event *e)
{
    struct tracked *t = ud;

    if (t->n >= 4)
        return 1;
    t->e[t->n] = *e;
    vn_strlcpy(t->ids[t->n], e->event_id, sizeof(t->ids[0]));
    vn_strlcpy(t->status[t->n], e->status ? e->status : "(null)", sizeof(t->status[0]));
    vn_strlcpy(t->request[t->n], e->request ? e->request : "(null)", sizeof(t->request[0]));
    t->n++;
    return 0;
}

static size_t tracking(struct fx *f, const char *uid, struct tracked *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(vn_store_events_tracking(f->st, uid, collect_tracked, t), 0);
    return t->n;
}

static void test_event_tracking_lifecycle(void **state)
{
    struct fx *f = *state;
    struct vn_event_track tr = {.event_id = "ev1",
                                .uid = "u1",
                                .kind = "assets",
                                .type = "ASSOCIATE",
                                .request = "{\"assets\":[]}",
                                .expected = 3,
                                .requested_ms = at("2026-11-25T10:00:00.000Z")};
    struct vn_event_track tr2 = {
        .event_id = "ev2", .uid = "u2", .requested_ms = at("2026-11-25T10:00:01.000Z")};
    struct vn_event_note note = {.event_id = "ev1",
                                 .uid = "u1",
                                 .notification_type = "ASSET_MANAGEMENT",
                                 .action = "ASSOCIATE",
                                 .succeeded = 2,
                                 .ms = at("2026-11-25T10:00:05.000Z")};
    struct vn_event_tracking_update u;
    struct vn_filter fl = {.event_id = "ev1"};
    struct tracked t;
    struct rows r;

    assert_int_equal(vn_store_event_track(f->st, &tr), 0);
    assert_int_equal(vn_store_event_track(f->st, &tr), VN_EDUP);
    assert_int_equal(vn_store_event_track(f->st, &tr2), 0);
    tr2.uid = NULL;
    assert_int_equal(vn_store_event_track(f->st, &tr2), VN_EPARSE);
    assert_int_equal(tracking(f, NULL, &t), 2); /* oldest request first */
    assert_string_equal(t.ids[0], "ev1");
    assert_string_equal(t.ids[1], "ev2");
    assert_int_equal(tracking(f, "u1", &t), 1);
    assert_int_equal(t.e[0].expected, 3);
    assert_int_equal(t.e[0].requested_ms, tr.requested_ms);
    assert_string_equal(t.request[0], "{\"assets\":[]}");
    assert_string_equal(t.status[0], "(null)"); /* never polled */
    assert_int_equal(t.e[0].polls, 0);
    assert_int_equal(t.e[0].notifications, 0);

    /* Its notifications count in. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_event_note(f->st, &note), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(tracking(f, "u1", &t), 1);
    assert_int_equal(t.e[0].notifications, 1);
    assert_int_equal(t.e[0].succeeded, 2);
    assert_int_equal(t.e[0].last_notified_ms, note.ms);

    /* A poll, then stalled, then done. */
    memset(&u, 0, sizeof(u));
    u.what = VN_ETU_POLL;
    u.status = "PENDING";
    u.num_requested = 3;
    u.num_completed = 1;
    u.now_ms = at("2026-11-25T10:01:00.000Z");
    assert_int_equal(vn_store_event_tracking_update(f->st, "ev1", &u), 0);
    assert_int_equal(tracking(f, "u1", &t), 1);
    assert_string_equal(t.status[0], "PENDING");
    assert_int_equal(t.e[0].polls, 1);
    assert_int_equal(t.e[0].num_requested, 3);
    assert_int_equal(t.e[0].num_completed, 1);
    assert_int_equal(t.e[0].last_poll_ms, u.now_ms);
    memset(&u, 0, sizeof(u));
    u.what = VN_ETU_STALLED;
    u.num_requested = u.num_completed = -1;
    assert_int_equal(vn_store_event_tracking_update(f->st, "ev1", &u), 0);
    assert_int_equal(tracking(f, "u1", &t), 1);
    assert_int_equal(t.e[0].stalled, 1);
    assert_int_equal(t.e[0].num_completed, 1); /* kept */
    memset(&u, 0, sizeof(u));
    u.what = VN_ETU_DONE | VN_ETU_RESYNC;
    u.status = "COMPLETE";
    u.num_requested = 3;
    u.num_completed = 3;
    u.resync = "done";
    u.now_ms = at("2026-11-25T10:02:00.000Z");
    assert_int_equal(vn_store_event_tracking_update(f->st, "ev1", &u), 0);
    assert_int_equal(tracking(f, "u1", &t), 0); /* no longer tracked */
    assert_int_equal(vn_store_event_tracking_update(f->st, "nope", &u), VN_ENOTFOUND);

    /* The events query shows the whole story. */
    assert_int_equal(q(f->st, VN_Q_EVENTS, &fl, &r), 1);
    assert_non_null(strstr(r.text[0], "eventId=ev1 uId=u1 notificationType=ASSET_MANAGEMENT "
                                      "type=ASSOCIATE notifications=1 succeeded=2 failed=0 "));
    assert_non_null(strstr(r.text[0], "tracked=true requestedAt=2026-11-25T10:00:00.000Z "
                                      "status=COMPLETE numRequested=3 numCompleted=3 "
                                      "expectedItems=3 notifiedItems=2 "));
    assert_non_null(strstr(r.text[0], "polls=1 lastPollAt=2026-11-25T10:01:00.000Z "));
    assert_non_null(strstr(r.text[0], "stalled=true resync=done "
                                      "completedAt=2026-11-25T10:02:00.000Z"));
}

static void test_leases_one_holder_at_a_time(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store *other = vn_store_open(f->url, NULL, &err); /* another instance */
    struct rows r;
    int held = -1, i;

    assert_non_null(other);
    assert_int_equal(vn_store_lease_take(f->st, "location:u1", "instance-a", 60000, &held), 0);
    assert_int_equal(held, 1);
    assert_int_equal(vn_store_lease_take(other, "location:u1", "instance-b", 60000, &held), 0);
    assert_int_equal(held, 0);
    assert_int_equal(vn_store_lease_take(f->st, "location:u1", "instance-a", 60000, &held), 0);
    assert_int_equal(held, 1); /* renewed */
    assert_int_equal(vn_store_lease_take(other, "location:u2", "instance-b", 60000, &held), 0);
    assert_int_equal(held, 1); /* leases are per name */
    assert_int_equal(q(f->st, VN_Q_LEASES, NULL, &r), 2);
    assert_non_null(strstr(r.text[0], "name=location:u1 holder=instance-a expiresAt=20"));
    assert_non_null(strstr(r.text[1], "name=location:u2 holder=instance-b expiresAt=20"));

    /* A clean stop gives it up: the other takes it at once. Releasing what one does not
     * hold changes nothing. */
    assert_int_equal(vn_store_lease_release(other, "location:u1", "instance-b"), 0);
    assert_int_equal(vn_store_lease_release(f->st, "location:u1", "instance-a"), 0);
    assert_int_equal(vn_store_lease_take(other, "location:u1", "instance-b", 60000, &held), 0);
    assert_int_equal(held, 1);

    /* A holder that stops renewing (it died): its lease runs out, then another takes it.
     * Poll for it, bounded. */
    assert_int_equal(vn_store_lease_take(f->st, "location:u3", "dies", 50, &held), 0);
    assert_int_equal(held, 1);
    held = 0;
    for (i = 0; i < 400 && !held; i++) {
        struct timespec pause = {0, 10 * 1000000};

        assert_int_equal(vn_store_lease_take(other, "location:u3", "survivor", 60000, &held), 0);
        if (!held)
            nanosleep(&pause, NULL);
    }
    assert_int_equal(held, 1);
    assert_int_equal(vn_store_lease_take(f->st, "location:u3", "dies", 50, &held), 0);
    assert_int_equal(held, 0); /* the dead one does not get it back */

    assert_int_equal(vn_store_lease_take(f->st, "", "a", 1000, &held), VN_EPARSE);
    assert_int_equal(vn_store_lease_take(f->st, "x", "a", 0, &held), VN_EPARSE);
    assert_int_equal(held, 0);
    vn_store_free(other);
}

/* store.h vn_store_mutex_lock: one connection at a time per name across processes (each
 * handle is a process here); it ends with its connection (SQLite: the handle's lock file). */
static void test_mutex_one_connection_at_a_time(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store_options ro = {.read_only = 1}; /* serve's Apple threads read only */
    struct vn_store *other = vn_store_open(f->url, &ro, &err);
    int held = -1, lost = -1;

    assert_non_null(other);
    assert_int_equal(vn_store_mutex_lock(f->st, "location:u1", 0, &held), 0);
    assert_int_equal(held, 1);
    assert_int_equal(vn_store_mutex_lock(other, "location:u1", 100, &held), 0);
    assert_int_equal(held, 0); /* waited 100 ms in vain */
    assert_int_equal(vn_store_mutex_lock(other, "location:u2", 0, &held), 0);
    assert_int_equal(held, 1); /* per name */
    assert_int_equal(vn_store_mutex_unlock(other, "location:u2", &lost), 0);
    assert_int_equal(lost, 0);

    /* Given up: the other takes it. */
    assert_int_equal(vn_store_mutex_unlock(f->st, "location:u1", &lost), 0);
    assert_int_equal(lost, 0);
    assert_int_equal(vn_store_mutex_lock(other, "location:u1", 0, &held), 0);
    assert_int_equal(held, 1);
    /* Its connection ends (a process killed): the lock ends with it. */
    vn_store_free(other);
    assert_int_equal(vn_store_mutex_lock(f->st, "location:u1", 5000, &held), 0);
    assert_int_equal(held, 1);
    assert_int_equal(vn_store_mutex_unlock(f->st, "location:u1", &lost), 0);
    assert_int_equal(lost, 0);
    /* Not held (any more): said so. */
    assert_int_equal(vn_store_mutex_unlock(f->st, "location:u1", &lost), 0);
    assert_int_equal(lost, 1);

    assert_int_equal(vn_store_mutex_lock(f->st, "", 0, &held), VN_EPARSE);
    assert_int_equal(held, 0);
}

/* The fence of a mutex (store.h vn_store_mutex_fence): one token at a time, on any handle
 * (read-only too), held until given up or expired, by the database's clock (SQLite: the host's,
 * in the lock file beside the database; it outlives the handle as PostgreSQL's row does). */
static int fence_free_for(struct vn_store *st, const char *token)
{
    int held = 0;

    return vn_store_mutex_fence(st, "location:u1", token, 60000, &held) == 0 && held;
}

static void test_mutex_fence_outlives_the_lock(void **state)
{
    struct fx *f = *state;
    struct vn_error err = {0};
    struct vn_store_options ro = {.read_only = 1}; /* serve's Apple threads read only */
    struct vn_store *other = vn_store_open(f->url, &ro, &err);
    int held = -1;
    int64_t deadline;

    assert_non_null(other);
    assert_int_equal(vn_store_mutex_fence(other, "location:u1", "A", 60000, &held), 0);
    assert_int_equal(held, 1);
    assert_int_equal(vn_store_mutex_fence(f->st, "location:u1", "B", 60000, &held), 0);
    assert_int_equal(held, 0); /* A's runs */
    assert_int_equal(vn_store_mutex_fence(f->st, "location:u2", "B", 60000, &held), 0);
    assert_int_equal(held, 1); /* per name */
    assert_int_equal(vn_store_mutex_fence(other, "location:u1", "A", 60000, &held), 0);
    assert_int_equal(held, 1); /* renewed */
    /* The holder's handle goes (a process killed): the fence stays until given up... */
    vn_store_free(other);
    assert_int_equal(vn_store_mutex_fence(f->st, "location:u1", "B", 60000, &held), 0);
    assert_int_equal(held, 0);
    /* ... or until it expires. */
    assert_int_equal(vn_store_mutex_fence(f->st, "location:u1", "A", 0, &held), 0);
    assert_int_equal(vn_store_mutex_fence(f->st, "location:u1", "A", 1, &held), 0);
    assert_int_equal(held, 1);
    deadline = vn_mono_ns() + 5000000000LL;
    while (!fence_free_for(f->st, "B") && vn_mono_ns() < deadline)
        ;
    assert_true(fence_free_for(f->st, "B"));
    /* Given up: another takes it at once. */
    assert_int_equal(vn_store_mutex_fence(f->st, "location:u1", "B", 0, &held), 0);
    assert_int_equal(held, 0);
    assert_true(fence_free_for(f->st, "C"));
    assert_int_equal(vn_store_mutex_fence(f->st, "", "C", 1, &held), VN_EPARSE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_ensure_first_value_wins),
        T(test_location_apple_fields),
        T(test_location_add_linked_is_all_or_nothing),
        T(test_location_unrotate_restores_the_previous_token),
        T(test_sync_writes_report_added_changed_unchanged),
        T(test_sync_sweep_removes_rows_of_other_generations_in_scope),
        T(test_sync_sweep_in_chunks),
        T(test_overlapping_walks_keep_each_others_rows),
        T(test_sync_user_retired_twice_in_one_walk),
        T(test_sync_keeps_changes_newer_than_its_page),
        T(test_sync_user_twice_in_one_page_two_chunks),
        T(test_key_state_and_event),
        T(test_clock_stamped_once_per_transaction),
        T(test_writes_without_their_clock_are_stamped),
        T(test_send_order_and_verification_queue),
        T(test_sync_state_roundtrip),
        T(test_event_tracking_lifecycle),
        T(test_leases_one_holder_at_a_time),
        T(test_mutex_one_connection_at_a_time),
        T(test_mutex_fence_outlives_the_lock),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
