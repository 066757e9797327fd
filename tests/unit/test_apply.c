/*
 * Unit tests of apply.c: one test per row of contract.md section 3 (named test_row_*), then the
 * cases around counting, needsSync, ordering and events. Notifications are built by hand (the
 * parser is tested on its own); results are read back through vn_store_query, as the CLI shows
 * them, from a file database in a temporary directory.
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
#include <unistd.h>

#include "vppnotify/apply.h"
#include "vppnotify/error.h"
#include "vppnotify/notification.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#define VN_TEST_DIR_PREFIX "/tmp/vn_test_apply_"
#include "store_test.h"

#define UID "2049025000431439"
#define T0  1790000000000LL /* a fixed receive time */

static size_t q(struct fx *f, enum vn_query which, struct rows *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(vn_store_query(f->st, which, NULL, render, r), 0);
    return r->n;
}

/* The one asset row of (adamId, pricingParam) as text, or "" when there is none. */
static const char *asset(struct fx *f, const char *adam, const char *pp)
{
    static struct rows r;
    struct vn_filter fl = {.uid = UID, .adam_id = adam};
    size_t i;

    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_query(f->st, VN_Q_ASSETS, &fl, render, &r), 0);
    for (i = 0; i < r.n; i++) {
        char want[64];

        snprintf(want, sizeof(want), "pricingParam=%s ", pp);
        if (strstr(r.text[i], want))
            return r.text[i];
    }
    return "";
}

/* The counts part of an asset row: "totalCount=.. assignedCount=.. ... needsSync=..". */
static const char *counts(struct fx *f, const char *adam, const char *pp)
{
    const char *row = asset(f, adam, pp);
    const char *c = strstr(row, "totalCount=");

    return c ? c : "";
}

/* ---- building notifications ------------------------------------------------------------- */

static struct vn_notification mk(enum vn_ntype type, const char *type_name, const char *id)
{
    struct vn_notification n;

    memset(&n, 0, sizeof(n));
    n.id = id;
    n.type_name = type_name;
    n.uid = UID;
    n.type = type;
    n.valid = 1;
    return n;
}

static struct vn_notification mgmt(enum vn_ntype type, const char *type_name, const char *id,
                                   enum vn_action action, enum vn_result result,
                                   const char *event_id)
{
    struct vn_notification n = mk(type, type_name, id);

    n.action = action;
    n.result = result;
    n.event_id = event_id;
    return n;
}

static void set_adam(struct vn_adam_id *a, const char *s)
{
    vn_strlcpy(a->s, s, sizeof(a->s));
}

static struct vn_assignment asg(const char *adam, const char *pp, const char *cuid,
                                const char *serial)
{
    struct vn_assignment a;

    memset(&a, 0, sizeof(a));
    set_adam(&a.adam_id, adam);
    a.pricing_param = pp;
    a.client_user_id = cuid;
    a.serial_number = serial;
    return a;
}

static struct vn_seat seat(const char *adam, const char *cuid, int renewing)
{
    struct vn_seat s;

    memset(&s, 0, sizeof(s));
    set_adam(&s.adam_id, adam);
    s.client_user_id = cuid;
    s.renewing = renewing;
    return s;
}

static struct vn_notification asset_count(const char *id, const char *adam, const char *pp,
                                          long long delta)
{
    struct vn_notification n = mk(VN_NT_ASSET_COUNT, "ASSET_COUNT", id);

    set_adam(&n.adam_id, adam);
    n.pricing_param = pp;
    n.count_delta = delta;
    return n;
}

/* Apply n in its own transaction, as the ingest writer does; the transaction commits only on
 * success. Returns vn_apply's result. */
static int apply(struct fx *f, const struct vn_notification *n, struct vn_apply_stats *stats)
{
    struct vn_error err = {0};
    int rc;

    assert_int_equal(vn_store_begin(f->st), 0);
    rc = vn_apply(f->st, n, T0, stats, &err);
    if (rc) {
        assert_int_equal(err.code, rc);
        assert_string_not_equal(err.msg, "");
        assert_int_equal(vn_store_rollback(f->st), 0);
        return rc;
    }
    assert_int_equal(vn_store_commit(f->st), 0);
    return 0;
}

/* Put a known asset in the mirror as a sync does: exact counts, needsSync clear. */
static void seed_asset(struct fx *f, const char *adam, const char *pp, long long total,
                       long long assigned, long long available)
{
    static int64_t gen = 1000;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_true(vn_store_sync_asset(f->st, UID, ++gen, INT64_MAX, adam, pp, total, assigned,
                                    available) >= 0);
    assert_int_equal(vn_store_commit(f->st), 0);
}

/* Remove every asset of the location, as a sync that found none does. */
static void drop_assets(struct fx *f)
{
    long long removed = 0;

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_sync_sweep(f->st, VN_MT_ASSETS, UID, 1, INT64_MAX, NULL, 0, &removed),
                     0);
    assert_int_equal(vn_store_commit(f->st), 0);
}

/* The failed items recorded with events (filter fl, or all), one text row each. */
static size_t failed_items(struct fx *f, const struct vn_filter *fl, struct rows *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(vn_store_query(f->st, VN_Q_EVENT_FAILED_ITEMS, fl, render, r), 0);
    return r->n;
}

/* Everything the mirror (and, with events, the events) holds, as text: to show that
 * something changed nothing. */
static void snapshot(struct fx *f, int events, char *out, size_t outlen)
{
    static const enum vn_query all[] = {VN_Q_ASSETS,
                                        VN_Q_ASSIGNMENTS,
                                        VN_Q_USERS,
                                        VN_Q_SUBSCRIPTIONS,
                                        VN_Q_SUBSCRIPTION_ASSIGNMENTS,
                                        VN_Q_EVENTS};
    struct rows r;
    size_t i, k, used = 0;

    out[0] = '\0';
    for (i = 0; i < sizeof(all) / sizeof(all[0]) - (events ? 0 : 1); i++) {
        q(f, all[i], &r);
        for (k = 0; k < r.n; k++)
            used += (size_t)snprintf(out + used, outlen - used, "%s\n", r.text[k]);
        assert_true(used < outlen);
    }
}

/* ---- one test per row of contract.md section 3 ------------------------------------------ */

static void test_row_test_notification(void **state)
{
    struct fx *f = *state;
    uint8_t d[VN_DIGEST_LEN];
    struct vn_notification n = mk(VN_NT_TEST_NOTIFICATION, "TEST_NOTIFICATION", "t1");
    struct vn_notification other = n;
    char iso[VN_TIME_ISO_LEN], want[128];
    struct rows r;

    vn_digest("a-token-of-sufficient-length", 28, d);
    assert_int_equal(vn_store_location_add(f->st, UID, "Main", d, T0 - 1000), 0);
    assert_int_equal(apply(f, &n, NULL), 0);
    vn_time_iso(T0, iso);
    snprintf(want, sizeof(want), "uId=%s name=Main tokenCount=1 lastTestNotificationAt=%s", UID,
             iso);
    assert_int_equal(q(f, VN_Q_LOCATIONS, &r), 1);
    assert_string_equal(r.text[0], want);
    /* A test notification for a location we do not have is an error, not a silent no-op. */
    other.uid = "no-such-location";
    assert_int_equal(apply(f, &other, NULL), VN_ENOTFOUND);
}

static void test_row_asset_count(void **state)
{
    struct fx *f = *state;
    struct vn_notification up = asset_count("c1", "408709785", "STDQ", 5);
    struct vn_notification down = asset_count("c2", "408709785", "STDQ", -12);
    struct vn_apply_stats stats;

    seed_asset(f, "408709785", "STDQ", 20, 2, 18);
    assert_int_equal(apply(f, &up, &stats), 0);
    assert_int_equal(stats.upserted, 1);
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=25 assignedCount=2 availableCount=23 needsSync=false");
    assert_int_equal(apply(f, &down, NULL), 0);
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=13 assignedCount=2 availableCount=11 needsSync=false");
    /* The other pricingParam is another asset. */
    assert_string_equal(asset(f, "408709785", "PLUS"), "");
}

static void test_row_asset_count_unknown_asset_is_created_and_needs_sync(void **state)
{
    struct fx *f = *state;
    struct vn_notification n = asset_count("c1", "1234", "PLUS", 7);
    char want[160];

    assert_int_equal(apply(f, &n, NULL), 0);
    snprintf(want, sizeof(want),
             "uId=%s adamId=1234 pricingParam=PLUS totalCount=7 "
             "assignedCount=0 availableCount=7 needsSync=true",
             UID);
    assert_string_equal(asset(f, "1234", "PLUS"), want);
}

static void test_row_asset_management_associate_success(void **state)
{
    struct fx *f = *state;
    struct vn_assignment items[4];
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev1");
    struct vn_apply_stats stats;
    struct rows r;
    char want[256];

    seed_asset(f, "408709785", "STDQ", 10, 0, 10);
    seed_asset(f, "55", "STDQ", 3, 0, 3);
    items[0] = asg("408709785", "STDQ", NULL, "C02XXXXXXX");
    items[1] = asg("408709785", "STDQ", "client-100", NULL);
    items[2] = asg("55", "STDQ", "client-100", NULL);
    items[3] = asg("408709785", "STDQ", "client-101", NULL);
    n.assignments = items;
    n.n_items = 4;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.inserted, 4);
    assert_int_equal(stats.deleted, 0);
    assert_int_equal(stats.upserted, 2); /* one adjustment per asset, not per assignment */

    assert_int_equal(q(f, VN_Q_ASSIGNMENTS, &r), 4);
    snprintf(want, sizeof(want),
             "uId=%s adamId=55 pricingParam=STDQ clientUserId=client-100 "
             "serialNumber=null",
             UID);
    assert_string_equal(r.text[0], want);
    snprintf(want, sizeof(want),
             "uId=%s adamId=408709785 pricingParam=STDQ clientUserId=null "
             "serialNumber=C02XXXXXXX",
             UID);
    assert_string_equal(r.text[1], want);
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=3 availableCount=7 needsSync=false");
    assert_string_equal(counts(f, "55", "STDQ"),
                        "totalCount=3 assignedCount=1 availableCount=2 needsSync=false");
    assert_int_equal(q(f, VN_Q_EVENTS, &r), 1);
    snprintf(want, sizeof(want),
             "eventId=ev1 uId=%s notificationType=ASSET_MANAGEMENT "
             "type=ASSOCIATE notifications=1 succeeded=4 failed=0 errors=[]",
             UID);
    assert_string_equal(r.text[0], want);
}

static int count_verify(void *ud, const struct vn_verify_item *it)
{
    (void)it;
    (*(int *)ud)++;
    return 0;
}

/* Keys queued for a targeted read at Apple. */
static int verify_queued(struct fx *f)
{
    int n = 0;

    assert_int_equal(vn_store_verify_list(f->st, NULL, 0, count_verify, &n), 0);
    return n;
}

static void associate_three(struct fx *f, struct vn_assignment items[3])
{
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev1");

    items[0] = asg("408709785", "STDQ", NULL, "SER1");
    items[1] = asg("408709785", "STDQ", "client-100", NULL);
    items[2] = asg("408709785", "STDQ", "client-101", NULL);
    n.assignments = items;
    n.n_items = 3;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=3 availableCount=7 needsSync=false");
}

static void test_row_asset_management_disassociate_success(void **state)
{
    struct fx *f = *state;
    struct vn_assignment items[3];
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m2",
                                    VN_ACT_DISASSOCIATE, VN_RES_SUCCESS, "ev2");
    struct vn_apply_stats stats;
    struct rows r;

    seed_asset(f, "408709785", "STDQ", 10, 0, 10);
    associate_three(f, items);
    n.assignments = items; /* the device and client-100 */
    n.n_items = 2;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.deleted, 2);
    assert_int_equal(q(f, VN_Q_ASSIGNMENTS, &r), 1);
    assert_non_null(strstr(r.text[0], "clientUserId=client-101 "));
    /* Another event than the associate's, neither sent by vppnotify: their order is not
     * known, so the keys are marked and queued for a read at Apple (contract 3.1). */
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=1 availableCount=9 needsSync=true");
    assert_int_equal(verify_queued(f), 2);
}

/* A request vppnotify sent, tracked with its send order (as manage.c records it). */
static void sent(struct fx *f, const char *event_id, const char *type)
{
    struct vn_event_track t = {.event_id = event_id,
                               .uid = UID,
                               .kind = "assets",
                               .type = type,
                               .expected = 1,
                               .requested_ms = T0};

    assert_int_equal(vn_store_event_track(f->st, &t), 0);
}

/*
 * Issue 10 item 1: vppnotify sent ASSOCIATE X1, then DISASSOCIATE X1. The DISASSOCIATE's
 * notification comes first (the ASSOCIATE's first delivery failed), Apple's retry of the
 * ASSOCIATE later: the send order decides, X1 stays out, nothing needs a sync. The same for a
 * seat. In the sent order the second change wins, as usual.
 */
static void test_order_of_requests_vppnotify_sent(void **state)
{
    struct fx *f = *state;
    uint8_t d[VN_DIGEST_LEN];
    struct vn_assignment x1 = asg("408709785", "STDQ", NULL, "X1");
    struct vn_seat seat = {.client_user_id = "c1", .renewing = 1};
    struct vn_notification dis = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "n2",
                                      VN_ACT_DISASSOCIATE, VN_RES_SUCCESS, "ev-dis");
    struct vn_notification assoc = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "n1",
                                        VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev-assoc");
    struct vn_notification sdis = mgmt(VN_NT_SUBSCRIPTION_MANAGEMENT, "SUBSCRIPTION_MANAGEMENT",
                                       "n4", VN_ACT_DISASSOCIATE, VN_RES_SUCCESS, "ev-sdis");
    struct vn_notification sassoc = mgmt(VN_NT_SUBSCRIPTION_MANAGEMENT, "SUBSCRIPTION_MANAGEMENT",
                                         "n3", VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev-sassoc");
    struct vn_notification again = assoc;
    struct vn_apply_stats stats;
    struct rows r;

    vn_digest("a-token-of-sufficient-length", 28, d);
    assert_int_equal(vn_store_location_add(f->st, UID, "Main", d, T0 - 1000), 0);
    seed_asset(f, "408709785", "STDQ", 10, 0, 10);
    sent(f, "ev-assoc", "ASSOCIATE");
    sent(f, "ev-dis", "DISASSOCIATE");
    sent(f, "ev-sassoc", "ASSOCIATE");
    sent(f, "ev-sdis", "DISASSOCIATE");
    sent(f, "ev-assoc2", "ASSOCIATE");

    dis.assignments = assoc.assignments = &x1;
    dis.n_items = assoc.n_items = 1;
    assert_int_equal(apply(f, &dis, &stats), 0); /* X1 was never mirrored: nothing to delete */
    assert_int_equal(stats.deleted, 0);
    assert_int_equal(apply(f, &assoc, &stats), 0); /* the late retry of the earlier request */
    assert_int_equal(stats.inserted, 0);
    assert_int_equal(stats.skipped, 1);
    assert_int_equal(q(f, VN_Q_ASSIGNMENTS, &r), 0);
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=0 availableCount=10 needsSync=false");
    assert_int_equal(verify_queued(f), 0);

    set_adam(&seat.adam_id, "7");
    sdis.seats = sassoc.seats = &seat;
    sdis.n_items = sassoc.n_items = 1;
    assert_int_equal(apply(f, &sdis, &stats), 0);
    assert_int_equal(apply(f, &sassoc, &stats), 0);
    assert_int_equal(stats.skipped, 1);
    assert_int_equal(q(f, VN_Q_SUBSCRIPTION_ASSIGNMENTS, &r), 0);

    /* A third request, sent after both: it applies. */
    again.id = "n5";
    again.event_id = "ev-assoc2";
    again.assignments = &x1;
    again.n_items = 1;
    assert_int_equal(apply(f, &again, &stats), 0);
    assert_int_equal(stats.inserted, 1);
    assert_int_equal(q(f, VN_Q_ASSIGNMENTS, &r), 1);
    assert_int_equal(verify_queued(f), 0);
}

static void test_row_asset_management_revoke_success(void **state)
{
    struct fx *f = *state;
    struct vn_assignment items[3];
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m2", VN_ACT_REVOKE,
                                    VN_RES_SUCCESS, "ev2");
    struct vn_apply_stats stats;
    struct rows r;

    seed_asset(f, "408709785", "STDQ", 10, 0, 10);
    associate_three(f, items);
    n.assignments = items + 1; /* client-100 and client-101 */
    n.n_items = 2;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.deleted, 2);
    assert_int_equal(q(f, VN_Q_ASSIGNMENTS, &r), 1);
    assert_non_null(strstr(r.text[0], "serialNumber=SER1"));
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=1 availableCount=9 needsSync=true");
    assert_int_equal(verify_queued(f), 2);
    assert_int_equal(q(f, VN_Q_EVENTS, &r), 2);
    assert_non_null(strstr(r.text[1], "type=REVOKE notifications=1 succeeded=2 failed=0"));
}

static void test_row_asset_management_failure(void **state)
{
    struct fx *f = *state;
    struct vn_assignment items[2];
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                    VN_ACT_ASSOCIATE, VN_RES_FAILURE, "ev9");
    struct vn_apply_stats stats;
    struct rows r;
    char want[320], before[4096], after[4096];

    seed_asset(f, "1234", "STDQ", 1, 1, 0);
    items[0] = asg("1234", "STDQ", "user1", NULL);
    items[1] = asg("1234", "STDQ", NULL, "SERX");
    n.assignments = items;
    n.n_items = 2;
    n.apple_error.present = 1;
    n.apple_error.number = 9709;
    n.apple_error.message = "There aren't enough assets available to complete this association.";
    snapshot(f, 0, before, sizeof(before));
    assert_int_equal(apply(f, &n, &stats), 0);
    snapshot(f, 0, after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(stats.inserted + stats.deleted + stats.upserted, 0);
    assert_int_equal(q(f, VN_Q_ASSIGNMENTS, &r), 0);
    assert_string_equal(counts(f, "1234", "STDQ"),
                        "totalCount=1 assignedCount=1 availableCount=0 needsSync=false");
    assert_int_equal(q(f, VN_Q_EVENTS, &r), 1);
    snprintf(want, sizeof(want),
             "eventId=ev9 uId=%s notificationType=ASSET_MANAGEMENT type=ASSOCIATE "
             "notifications=1 succeeded=0 failed=2 errors=[{\"errorNumber\":9709,"
             "\"errorMessage\":\"There aren't enough assets available to complete this "
             "association.\",\"count\":2}]",
             UID);
    assert_string_equal(r.text[0], want);
    /* The affected items are kept with the event. */
    assert_int_equal(failed_items(f, NULL, &r), 2);
    snprintf(want, sizeof(want),
             "eventId=ev9 uId=%s errorNumber=9709 adamId=1234 pricingParam=STDQ "
             "clientUserId=user1 serialNumber=null",
             UID);
    assert_string_equal(r.text[0], want);
    snprintf(want, sizeof(want),
             "eventId=ev9 uId=%s errorNumber=9709 adamId=1234 pricingParam=STDQ "
             "clientUserId=null serialNumber=SERX",
             UID);
    assert_string_equal(r.text[1], want);
}

static void test_row_user_management_create_update(void **state)
{
    struct fx *f = *state;
    struct vn_user create = {.client_user_id = "client-100",
                             .email = "a@example.com",
                             .invite_code = "f551b37d",
                             .status = "Registered"};
    struct vn_user update = {.client_user_id = "client-100", .email = "b@example.com"};
    struct vn_notification n =
        mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u1", VN_ACT_CREATE, VN_RES_SUCCESS, "evc");
    struct vn_apply_stats stats;
    struct rows r;
    char want[256];

    n.users = &create;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.upserted, 1);
    assert_int_equal(q(f, VN_Q_USERS, &r), 1);
    snprintf(want, sizeof(want),
             "uId=%s clientUserId=client-100 email=a@example.com "
             "inviteCode=f551b37d idHash=null status=Registered",
             UID);
    assert_string_equal(r.text[0], want);

    n = mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u2", VN_ACT_UPDATE, VN_RES_SUCCESS, "evu");
    n.users = &update;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_int_equal(q(f, VN_Q_USERS, &r), 1);
    snprintf(want, sizeof(want),
             "uId=%s clientUserId=client-100 email=b@example.com "
             "inviteCode=f551b37d idHash=null status=Registered",
             UID);
    assert_string_equal(r.text[0], want);
}

static void test_row_user_management_retire(void **state)
{
    struct fx *f = *state;
    struct vn_user create = {.client_user_id = "client-100",
                             .email = "a@example.com",
                             .invite_code = "f551b37d",
                             .id_hash = "H1",
                             .status = "Associated"};
    /* Apple's RETIRE example still shows inviteCode; here it is absent and must be kept. */
    struct vn_user retire = {.client_user_id = "client-100", .status = "Registered"};
    struct vn_notification n =
        mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u1", VN_ACT_CREATE, VN_RES_SUCCESS, "evc");
    struct rows r;
    char want[256];

    n.users = &create;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    n = mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u2", VN_ACT_RETIRE, VN_RES_SUCCESS, "evr");
    n.users = &retire;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_int_equal(q(f, VN_Q_USERS, &r), 1);
    snprintf(want, sizeof(want),
             "uId=%s clientUserId=client-100 email=a@example.com "
             "inviteCode=f551b37d idHash=H1 status=Retired",
             UID);
    assert_string_equal(r.text[0], want);
}

static void test_row_user_management_failure(void **state)
{
    struct fx *f = *state;
    struct vn_user create = {
        .client_user_id = "client-100", .email = "a@example.com", .status = "Registered"};
    struct vn_user users[2] = {{.client_user_id = "client-100", .email = "evil@example.com"},
                               {.client_user_id = "client-200", .status = "Registered"}};
    struct vn_notification n =
        mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u1", VN_ACT_CREATE, VN_RES_SUCCESS, "evc");
    char before[4096], after[4096];
    struct vn_filter fl = {.event_id = "evf"};
    struct rows r;

    n.users = &create;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    n = mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u2", VN_ACT_UPDATE, VN_RES_FAILURE, "evf");
    n.users = users;
    n.n_items = 2;
    n.apple_error.present = 1;
    n.apple_error.number = 9610;
    n.apple_error.message = "not found";
    snapshot(f, 0, before, sizeof(before));
    assert_int_equal(apply(f, &n, NULL), 0);
    snapshot(f, 0, after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(q(f, VN_Q_USERS, &r), 1);
    assert_non_null(strstr(r.text[0], "email=a@example.com "));
    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_query(f->st, VN_Q_EVENTS, &fl, render, &r), 0);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.text[0], "type=UPDATE notifications=1 succeeded=0 failed=2 "
                                      "errors=[{\"errorNumber\":9610,\"errorMessage\":\"not "
                                      "found\",\"count\":2}]"));
    assert_int_equal(failed_items(f, &fl, &r), 2);
    assert_non_null(strstr(r.text[0], "errorNumber=9610 adamId=null pricingParam=null "
                                      "clientUserId=client-100 serialNumber=null"));
    assert_non_null(strstr(r.text[1], "errorNumber=9610 adamId=null pricingParam=null "
                                      "clientUserId=client-200 serialNumber=null"));
}

static void test_row_user_associated(void **state)
{
    struct fx *f = *state;
    struct vn_user create = {.client_user_id = "client-100",
                             .email = "a@example.com",
                             .invite_code = "f551b37d",
                             .status = "Registered"};
    struct vn_user assoc[2] = {
        {.client_user_id = "client-100",
         .id_hash = "leSKk3IaE2vk2KLmv2k3/200D3=",
         .status = "Associated"},
        {.client_user_id = "client-new", .id_hash = "H2", .email = "n@example.com"}};
    struct vn_notification n =
        mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u1", VN_ACT_CREATE, VN_RES_SUCCESS, "evc");
    struct vn_apply_stats stats;
    struct rows r;
    char want[256];

    n.users = &create;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    n = mk(VN_NT_USER_ASSOCIATED, "USER_ASSOCIATED", "a1");
    n.users = assoc;
    n.n_items = 2;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.upserted, 2);
    assert_int_equal(q(f, VN_Q_USERS, &r), 2);
    snprintf(want, sizeof(want),
             "uId=%s clientUserId=client-100 email=a@example.com "
             "inviteCode=f551b37d idHash=leSKk3IaE2vk2KLmv2k3/200D3= "
             "status=Associated",
             UID);
    assert_string_equal(r.text[0], want);
    /* A user we had not seen is created; status is Associated even when the payload omits it. */
    snprintf(want, sizeof(want),
             "uId=%s clientUserId=client-new email=n@example.com "
             "inviteCode=null idHash=H2 status=Associated",
             UID);
    assert_string_equal(r.text[1], want);
    /* No eventId: only the CREATE's event exists. */
    assert_int_equal(q(f, VN_Q_EVENTS, &r), 1);
}

static void test_row_subscription_count(void **state)
{
    struct fx *f = *state;
    struct vn_notification n = mk(VN_NT_SUBSCRIPTION_COUNT, "SUBSCRIPTION_COUNT", "s1");
    struct vn_apply_stats stats;
    struct rows r;
    char want[256];

    set_adam(&n.adam_id, "12345");
    n.has_parent_adam_id = 1;
    set_adam(&n.parent_adam_id, "54321");
    n.counts = (struct vn_counts){15, 5, 100, 20};
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.upserted, 1);
    /* Absolute values: a second notification sets, it does not add. */
    n.id = "s2";
    n.counts = (struct vn_counts){14, 5, 100, 19};
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_int_equal(q(f, VN_Q_SUBSCRIPTIONS, &r), 1);
    snprintf(want, sizeof(want),
             "uId=%s adamId=12345 parentAdamId=54321 "
             "counts.available.renewing=14 counts.available.expiring=5 "
             "counts.total.renewing=100 counts.total.expiring=19",
             UID);
    assert_string_equal(r.text[0], want);
}

static void test_row_subscription_management_associate(void **state)
{
    struct fx *f = *state;
    struct vn_seat seats[2] = {seat("12345", "vpp-user", 1), seat("12345", "other", 0)};
    struct vn_notification n = mgmt(VN_NT_SUBSCRIPTION_MANAGEMENT, "SUBSCRIPTION_MANAGEMENT", "sm1",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "evs");
    struct vn_apply_stats stats;
    struct rows r;
    char want[160];

    n.seats = seats;
    n.n_items = 2;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.inserted, 2);
    assert_int_equal(q(f, VN_Q_SUBSCRIPTION_ASSIGNMENTS, &r), 2);
    snprintf(want, sizeof(want), "uId=%s adamId=12345 clientUserId=other renewing=false", UID);
    assert_string_equal(r.text[0], want);
    snprintf(want, sizeof(want), "uId=%s adamId=12345 clientUserId=vpp-user renewing=true", UID);
    assert_string_equal(r.text[1], want);
    /* An upsert: the same seat again with renewing changed updates it. */
    seats[1].renewing = 1;
    n.id = "sm2";
    n.seats = seats + 1;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_int_equal(q(f, VN_Q_SUBSCRIPTION_ASSIGNMENTS, &r), 2);
    assert_non_null(strstr(r.text[0], "clientUserId=other renewing=true"));
}

static void test_row_subscription_management_disassociate(void **state)
{
    struct fx *f = *state;
    struct vn_seat seats[2] = {seat("12345", "vpp-user", 1), seat("12345", "other", 0)};
    struct vn_notification n = mgmt(VN_NT_SUBSCRIPTION_MANAGEMENT, "SUBSCRIPTION_MANAGEMENT", "sm1",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "evs");
    struct vn_apply_stats stats;
    struct rows r;

    n.seats = seats;
    n.n_items = 2;
    assert_int_equal(apply(f, &n, NULL), 0);
    /* Apple's DISASSOCIATE shows the renewing of the seat that was held; it does not matter. */
    n = mgmt(VN_NT_SUBSCRIPTION_MANAGEMENT, "SUBSCRIPTION_MANAGEMENT", "sm2", VN_ACT_DISASSOCIATE,
             VN_RES_SUCCESS, "evd");
    seats[0].renewing = 0;
    n.seats = seats;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.deleted, 1);
    assert_int_equal(q(f, VN_Q_SUBSCRIPTION_ASSIGNMENTS, &r), 1);
    assert_non_null(strstr(r.text[0], "clientUserId=other "));
    /* A seat we do not hold: nothing to delete. */
    n.id = "sm3";
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.deleted, 0);
}

static void test_row_subscription_management_failure(void **state)
{
    struct fx *f = *state;
    struct vn_seat s1 = seat("12345", "vpp-user", 1);
    struct vn_notification n = mgmt(VN_NT_SUBSCRIPTION_MANAGEMENT, "SUBSCRIPTION_MANAGEMENT", "sm1",
                                    VN_ACT_ASSOCIATE, VN_RES_FAILURE, "evx");
    char before[4096], after[4096];
    struct vn_seat held = seat("12345", "held", 1);
    struct vn_notification pre = mgmt(VN_NT_SUBSCRIPTION_MANAGEMENT, "SUBSCRIPTION_MANAGEMENT",
                                      "sm0", VN_ACT_ASSOCIATE, VN_RES_SUCCESS, NULL);
    struct rows r;

    pre.seats = &held;
    pre.n_items = 1;
    assert_int_equal(apply(f, &pre, NULL), 0);

    n.seats = &s1;
    n.n_items = 1;
    n.apple_error.present = 1;
    n.apple_error.number = 9700;
    snapshot(f, 0, before, sizeof(before));
    assert_int_equal(apply(f, &n, NULL), 0);
    snapshot(f, 0, after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(q(f, VN_Q_SUBSCRIPTION_ASSIGNMENTS, &r), 1);
    assert_non_null(strstr(r.text[0], "clientUserId=held "));
    assert_int_equal(q(f, VN_Q_EVENTS, &r), 1);
    assert_non_null(strstr(r.text[0], "failed=1 errors=[{\"errorNumber\":9700,"
                                      "\"errorMessage\":null,\"count\":1}]"));
    assert_int_equal(failed_items(f, NULL, &r), 1);
    assert_non_null(strstr(r.text[0], "eventId=evx "));
    assert_non_null(strstr(r.text[0], "errorNumber=9700 adamId=12345 pricingParam=null "
                                      "clientUserId=vpp-user serialNumber=null"));
}

static void test_row_anything_else_is_not_applied(void **state)
{
    struct fx *f = *state;
    struct vn_notification unknown = mk(VN_NT_UNKNOWN, "UNLIMITED_ASSET", "x1");
    struct vn_notification invalid = asset_count("x2", "1", "STDQ", 5);
    struct vn_notification odd = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "x3",
                                      VN_ACT_RETIRE, VN_RES_SUCCESS, "evz");
    struct vn_error err = {0};
    char before[4096], after[4096];

    snapshot(f, 1, before, sizeof(before));
    assert_int_equal(apply(f, &unknown, NULL), VN_EPARSE);
    invalid.valid = 0;
    vn_strlcpy(invalid.error, "notification.countDelta: expected integer, got string",
               sizeof(invalid.error));
    assert_int_equal(apply(f, &invalid, NULL), VN_EPARSE);
    assert_int_equal(apply(f, &odd, NULL), VN_EPARSE);
    snapshot(f, 1, after, sizeof(after));
    assert_string_equal(before, after);
    /* The reason is in the error, with the notification named. */
    assert_int_equal(vn_apply(f->st, &invalid, T0, NULL, &err), VN_EPARSE);
    assert_non_null(strstr(err.msg, "'x2'"));
    assert_non_null(strstr(err.msg, "countDelta"));
}

/* ---- counting, needsSync and order ------------------------------------------------------ */

static void test_associate_same_assignment_twice_counts_once(void **state)
{
    struct fx *f = *state;
    struct vn_assignment items[2] = {asg("408709785", "STDQ", "client-100", NULL),
                                     asg("408709785", "STDQ", "client-100", NULL)};
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev1");
    struct vn_apply_stats stats;
    struct rows r;

    seed_asset(f, "408709785", "STDQ", 10, 0, 10);
    n.assignments = items; /* the same assignment twice in one notification */
    n.n_items = 2;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.inserted, 1);
    n.id = "m2"; /* and again in another notification (a re-sent event) */
    n.n_items = 1;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.inserted, 0);
    assert_int_equal(stats.upserted, 0);
    assert_int_equal(q(f, VN_Q_ASSIGNMENTS, &r), 1);
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=1 availableCount=9 needsSync=false");
}

static void test_disassociate_missing_assignment_changes_no_count(void **state)
{
    struct fx *f = *state;
    struct vn_assignment known = asg("408709785", "STDQ", "nobody", NULL);
    struct vn_assignment unknown = asg("999", "STDQ", NULL, "SER-NONE");
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                    VN_ACT_DISASSOCIATE, VN_RES_SUCCESS, "ev1");
    struct vn_apply_stats stats;

    seed_asset(f, "408709785", "STDQ", 10, 2, 8);
    n.assignments = &known;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.deleted, 0);
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=2 availableCount=8 needsSync=false");
    /* Nothing deleted for an asset we never saw: no asset row appears for it. */
    n.id = "m2";
    n.assignments = &unknown;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_string_equal(asset(f, "999", "STDQ"), "");
}

static void test_associate_unknown_asset_is_created_and_needs_sync(void **state)
{
    struct fx *f = *state;
    struct vn_assignment a = asg("777", "PLUS", "client-1", NULL);
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev1");

    n.assignments = &a;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_string_equal(counts(f, "777", "PLUS"),
                        "totalCount=0 assignedCount=1 availableCount=-1 needsSync=true");
}

static void test_negative_count_marks_needs_sync_and_it_stays(void **state)
{
    struct fx *f = *state;
    struct vn_notification down = asset_count("c1", "5", "STDQ", -2);
    struct vn_notification up = asset_count("c2", "5", "STDQ", 10);

    seed_asset(f, "5", "STDQ", 1, 0, 1);
    assert_int_equal(apply(f, &down, NULL), 0);
    /* Applied exactly, not clamped at zero. */
    assert_string_equal(counts(f, "5", "STDQ"),
                        "totalCount=-1 assignedCount=0 availableCount=-1 needsSync=true");
    assert_int_equal(apply(f, &up, NULL), 0);
    assert_string_equal(counts(f, "5", "STDQ"),
                        "totalCount=9 assignedCount=0 availableCount=9 needsSync=true");
}

static void test_each_negative_count_alone_marks_needs_sync(void **state)
{
    struct fx *f = *state;
    struct vn_notification down = asset_count("c1", "11", "STDQ", -2);
    struct vn_assignment drift = asg("12", "STDQ", "c", NULL);
    struct vn_notification dis = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                      VN_ACT_DISASSOCIATE, VN_RES_SUCCESS, NULL);

    /* Only availableCount goes below zero (total stays >= assigned >= 0). */
    seed_asset(f, "11", "STDQ", 10, 2, 1);
    assert_int_equal(apply(f, &down, NULL), 0);
    assert_string_equal(counts(f, "11", "STDQ"),
                        "totalCount=8 assignedCount=2 availableCount=-1 needsSync=true");
    /* Only assignedCount goes below zero: the mirror had an assignment the counts missed. */
    seed_asset(f, "12", "STDQ", 5, 0, 5);
    assert_int_equal(vn_store_assignment_insert(f->st, UID, &drift), 1);
    dis.assignments = &drift;
    dis.n_items = 1;
    assert_int_equal(apply(f, &dis, NULL), 0);
    assert_string_equal(counts(f, "12", "STDQ"),
                        "totalCount=5 assignedCount=-1 availableCount=6 needsSync=true");
}

static void test_inconsistent_count_marks_needs_sync(void **state)
{
    struct fx *f = *state;
    struct vn_assignment items[3] = {asg("6", "STDQ", "a", NULL), asg("6", "STDQ", "b", NULL),
                                     asg("6", "STDQ", "c", NULL)};
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev1");

    /* Nothing goes negative here; only assigned > total is wrong. */
    seed_asset(f, "6", "STDQ", 2, 0, 5);
    n.assignments = items;
    n.n_items = 3;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_string_equal(counts(f, "6", "STDQ"),
                        "totalCount=2 assignedCount=3 availableCount=2 needsSync=true");
}

/* Issue 10 item 9: a count that would leave int64 stays at the limit, exact, and the asset
 * needs a sync; it never becomes an approximation (SQLite turns an overflowing sum into REAL). */
static void test_count_delta_saturates_at_int64_max_and_needs_sync(void **state)
{
    struct fx *f = *state;
    struct vn_notification up10 = asset_count("c1", "1", "STDQ", 10);
    struct vn_notification up20 = asset_count("c2", "1", "STDQ", 20);
    struct vn_notification down20 = asset_count("c3", "1", "STDQ", -20);
    struct vn_notification quarter = asset_count("c4", "2", "STDQ", 1LL << 62);

    /* Up to the limit exactly: no overflow, nothing to flag. */
    seed_asset(f, "1", "STDQ", INT64_MAX - 10, 0, INT64_MAX - 10);
    assert_int_equal(apply(f, &up10, NULL), 0);
    assert_string_equal(counts(f, "1", "STDQ"),
                        "totalCount=9223372036854775807 assignedCount=0 "
                        "availableCount=9223372036854775807 needsSync=false");
    /* Past it: saturated and flagged ... */
    seed_asset(f, "1", "STDQ", INT64_MAX - 10, 0, INT64_MAX - 10);
    assert_int_equal(apply(f, &up20, NULL), 0);
    assert_string_equal(counts(f, "1", "STDQ"),
                        "totalCount=9223372036854775807 assignedCount=0 "
                        "availableCount=9223372036854775807 needsSync=true");
    /* ... and still an exact integer: coming back down gives exact numbers (a REAL would
     * have rounded to a multiple of 2048 and stayed at the limit). */
    assert_int_equal(apply(f, &down20, NULL), 0);
    assert_string_equal(counts(f, "1", "STDQ"),
                        "totalCount=9223372036854775787 assignedCount=0 "
                        "availableCount=9223372036854775787 needsSync=true");

    /* Repeated deltas that cross the limit: 2^62 four times. */
    seed_asset(f, "2", "STDQ", 0, 0, 0);
    assert_int_equal(apply(f, &quarter, NULL), 0);
    assert_string_equal(counts(f, "2", "STDQ"),
                        "totalCount=4611686018427387904 assignedCount=0 "
                        "availableCount=4611686018427387904 needsSync=false");
    for (int i = 0; i < 3; i++)
        assert_int_equal(apply(f, &quarter, NULL), 0);
    assert_string_equal(counts(f, "2", "STDQ"),
                        "totalCount=9223372036854775807 assignedCount=0 "
                        "availableCount=9223372036854775807 needsSync=true");
}

static void test_count_delta_saturates_at_int64_min_and_needs_sync(void **state)
{
    struct fx *f = *state;
    struct vn_notification min = asset_count("c1", "1", "STDQ", INT64_MIN);
    struct vn_notification max = asset_count("c2", "1", "STDQ", INT64_MAX);

    seed_asset(f, "1", "STDQ", 0, 0, 0);
    assert_int_equal(apply(f, &min, NULL), 0); /* 0 + INT64_MIN: exact, negative */
    assert_string_equal(counts(f, "1", "STDQ"),
                        "totalCount=-9223372036854775808 assignedCount=0 "
                        "availableCount=-9223372036854775808 needsSync=true");
    assert_int_equal(apply(f, &min, NULL), 0); /* past the limit: saturated */
    assert_string_equal(counts(f, "1", "STDQ"),
                        "totalCount=-9223372036854775808 assignedCount=0 "
                        "availableCount=-9223372036854775808 needsSync=true");
    assert_int_equal(apply(f, &max, NULL), 0); /* exact on the way back */
    assert_string_equal(counts(f, "1", "STDQ"),
                        "totalCount=-1 assignedCount=0 availableCount=-1 needsSync=true");
}

static void test_out_of_order_asset_count_after_associate_converges(void **state)
{
    struct fx *f = *state;
    struct vn_assignment items[12];
    struct vn_notification assoc = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "m1",
                                        VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev1");
    struct vn_notification buy = asset_count("c1", "408709785", "STDQ", 5);
    char cuid[12][16], in_order[128];
    size_t i;

    for (i = 0; i < 12; i++) {
        snprintf(cuid[i], sizeof(cuid[i]), "client-%zu", i);
        items[i] = asg("408709785", "STDQ", cuid[i], NULL);
    }
    assoc.assignments = items;
    assoc.n_items = 12;

    /* Apple's order: a purchase of 5, then 12 assignments; the result in that order. */
    seed_asset(f, "408709785", "STDQ", 10, 0, 10);
    assert_int_equal(apply(f, &buy, NULL), 0);
    assert_int_equal(apply(f, &assoc, NULL), 0);
    vn_strlcpy(in_order, counts(f, "408709785", "STDQ"), sizeof(in_order));
    assert_string_equal(in_order,
                        "totalCount=15 assignedCount=12 availableCount=3 needsSync=false");

    /* The same two notifications arriving the other way round, in a fresh location state. */
    assert_int_equal(vn_store_begin(f->st), 0);
    for (i = 0; i < 12; i++)
        assert_int_equal(vn_store_assignment_delete(f->st, UID, &items[i]), 1);
    assert_int_equal(vn_store_commit(f->st), 0);
    drop_assets(f);
    seed_asset(f, "408709785", "STDQ", 10, 0, 10);
    assert_int_equal(apply(f, &assoc, NULL), 0);
    /* In between, available is negative: flagged, not clamped. */
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=10 assignedCount=12 availableCount=-2 needsSync=true");
    assert_int_equal(apply(f, &buy, NULL), 0);
    /* Same counts as in order; needsSync stays set until a sync confirms them. */
    assert_string_equal(counts(f, "408709785", "STDQ"),
                        "totalCount=15 assignedCount=12 availableCount=3 needsSync=true");
}

static void test_user_fields_absent_keep_stored_values(void **state)
{
    struct fx *f = *state;
    struct vn_user full = {.client_user_id = "c",
                           .email = "e@x",
                           .invite_code = "I",
                           .id_hash = "H",
                           .status = "Associated"};
    struct vn_user bare = {.client_user_id = "c"};
    struct vn_notification n =
        mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u1", VN_ACT_CREATE, VN_RES_SUCCESS, "ev1");
    struct rows r;
    char want[160];

    n.users = &full;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    n = mgmt(VN_NT_USER_MANAGEMENT, "USER_MANAGEMENT", "u2", VN_ACT_UPDATE, VN_RES_SUCCESS, "ev2");
    n.users = &bare;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    assert_int_equal(q(f, VN_Q_USERS, &r), 1);
    snprintf(want, sizeof(want),
             "uId=%s clientUserId=c email=e@x inviteCode=I idHash=H "
             "status=Associated",
             UID);
    assert_string_equal(r.text[0], want);
}

static void test_subscription_count_null_parent_keeps_stored(void **state)
{
    struct fx *f = *state;
    struct vn_notification n = mk(VN_NT_SUBSCRIPTION_COUNT, "SUBSCRIPTION_COUNT", "s1");
    struct vn_notification orphan = mk(VN_NT_SUBSCRIPTION_COUNT, "SUBSCRIPTION_COUNT", "s3");
    struct vn_filter fl = {.adam_id = "12345"};
    struct rows r;

    set_adam(&n.adam_id, "12345");
    n.has_parent_adam_id = 1;
    set_adam(&n.parent_adam_id, "54321");
    n.counts = (struct vn_counts){1, 1, 1, 1};
    assert_int_equal(apply(f, &n, NULL), 0);
    n.id = "s2";
    n.has_parent_adam_id = 0; /* null or absent */
    memset(&n.parent_adam_id, 0, sizeof(n.parent_adam_id));
    n.counts = (struct vn_counts){2, 2, 2, 2};
    assert_int_equal(apply(f, &n, NULL), 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_query(f->st, VN_Q_SUBSCRIPTIONS, &fl, render, &r), 0);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.text[0], "parentAdamId=54321 counts.available.renewing=2 "));
    /* A subscription first seen without a parent has parentAdamId null. */
    set_adam(&orphan.adam_id, "999");
    assert_int_equal(apply(f, &orphan, NULL), 0);
    fl.adam_id = "999";
    memset(&r, 0, sizeof(r));
    assert_int_equal(vn_store_query(f->st, VN_Q_SUBSCRIPTIONS, &fl, render, &r), 0);
    assert_non_null(strstr(r.text[0], "parentAdamId=null "));
}

static void test_event_counters_across_notifications(void **state)
{
    struct fx *f = *state;
    struct vn_assignment ok[3] = {asg("1", "STDQ", "a", NULL), asg("1", "STDQ", "b", NULL),
                                  asg("1", "STDQ", "c", NULL)};
    struct vn_assignment bad[2] = {asg("1", "STDQ", "d", NULL), asg("1", "STDQ", "e", NULL)};
    struct vn_notification n;
    struct rows r;
    char want[400];

    seed_asset(f, "1", "STDQ", 100, 0, 100);
    /* Parts of one event, in any order: a success, two failures of one error, an error
     * naming no item (counts 1). */
    n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "p1", VN_ACT_ASSOCIATE, VN_RES_FAILURE,
             "ev");
    n.assignments = bad;
    n.n_items = 2;
    n.apple_error = (struct vn_apple_error){1, 9709, "not enough"};
    assert_int_equal(apply(f, &n, NULL), 0);
    n.id = "p2";
    n.assignments = bad + 1;
    n.n_items = 1;
    assert_int_equal(apply(f, &n, NULL), 0);
    n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "p3", VN_ACT_ASSOCIATE, VN_RES_SUCCESS,
             "ev");
    n.assignments = ok;
    n.n_items = 3;
    assert_int_equal(apply(f, &n, NULL), 0);
    n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "p4", VN_ACT_ASSOCIATE, VN_RES_FAILURE,
             "ev");
    n.apple_error = (struct vn_apple_error){1, 9610, "gone"};
    assert_int_equal(apply(f, &n, NULL), 0);

    assert_int_equal(q(f, VN_Q_EVENTS, &r), 1);
    snprintf(want, sizeof(want),
             "eventId=ev uId=%s notificationType=ASSET_MANAGEMENT type=ASSOCIATE "
             "notifications=4 succeeded=3 failed=3 errors=[{\"errorNumber\":9610,"
             "\"errorMessage\":\"gone\",\"count\":1},{\"errorNumber\":9709,\"errorMessage\":"
             "\"not enough\",\"count\":3}]",
             UID);
    assert_string_equal(r.text[0], want);
    /* The items each FAILURE named (the one without items named none). */
    assert_int_equal(failed_items(f, NULL, &r), 3);
    assert_non_null(strstr(r.text[0], "eventId=ev "));
    assert_non_null(strstr(r.text[0], "errorNumber=9709 adamId=1 pricingParam=STDQ "
                                      "clientUserId=d serialNumber=null"));
    assert_non_null(strstr(r.text[1], "errorNumber=9709 adamId=1 pricingParam=STDQ "
                                      "clientUserId=e serialNumber=null"));
    assert_non_null(strstr(r.text[2], "errorNumber=9709 adamId=1 pricingParam=STDQ "
                                      "clientUserId=e serialNumber=null"));
    assert_string_equal(counts(f, "1", "STDQ"),
                        "totalCount=100 assignedCount=3 availableCount=97 needsSync=false");
}

static void test_many_items_spanning_many_assets(void **state)
{
    struct fx *f = *state;
    enum { N = 300 }; /* more than fit on apply's stack array */
    struct vn_assignment *items = calloc(N, sizeof(*items));
    char(*cuid)[16] = calloc(N, sizeof(*cuid));
    struct vn_notification n = mgmt(VN_NT_ASSET_MANAGEMENT, "ASSET_MANAGEMENT", "big",
                                    VN_ACT_ASSOCIATE, VN_RES_SUCCESS, "ev");
    struct vn_apply_stats stats;
    size_t i;

    assert_non_null(items);
    assert_non_null(cuid);
    for (i = 0; i < N; i++) {
        snprintf(cuid[i], sizeof(cuid[i]), "c%zu", i);
        items[i] = asg(i % 3 == 0 ? "1" : i % 3 == 1 ? "2" : "3", "STDQ", cuid[i], NULL);
    }
    seed_asset(f, "1", "STDQ", 100, 0, 100);
    seed_asset(f, "2", "STDQ", 100, 0, 100);
    seed_asset(f, "3", "STDQ", 100, 0, 100);
    n.assignments = items;
    n.n_items = N;
    assert_int_equal(apply(f, &n, &stats), 0);
    assert_int_equal(stats.inserted, N);
    assert_int_equal(stats.upserted, 3);
    for (i = 1; i <= 3; i++) {
        char adam[2] = {(char)('0' + i), '\0'};

        assert_string_equal(counts(f, adam, "STDQ"),
                            "totalCount=100 assignedCount=100 availableCount=0 needsSync=false");
    }
    free(items);
    free(cuid);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_row_test_notification),
        T(test_row_asset_count),
        T(test_row_asset_count_unknown_asset_is_created_and_needs_sync),
        T(test_row_asset_management_associate_success),
        T(test_row_asset_management_disassociate_success),
        T(test_row_asset_management_revoke_success),

        T(test_order_of_requests_vppnotify_sent),
        T(test_row_asset_management_failure),
        T(test_row_user_management_create_update),
        T(test_row_user_management_retire),
        T(test_row_user_management_failure),
        T(test_row_user_associated),
        T(test_row_subscription_count),
        T(test_row_subscription_management_associate),
        T(test_row_subscription_management_disassociate),
        T(test_row_subscription_management_failure),
        T(test_row_anything_else_is_not_applied),
        T(test_associate_same_assignment_twice_counts_once),
        T(test_disassociate_missing_assignment_changes_no_count),
        T(test_associate_unknown_asset_is_created_and_needs_sync),
        T(test_negative_count_marks_needs_sync_and_it_stays),
        T(test_each_negative_count_alone_marks_needs_sync),
        T(test_inconsistent_count_marks_needs_sync),
        T(test_count_delta_saturates_at_int64_max_and_needs_sync),
        T(test_count_delta_saturates_at_int64_min_and_needs_sync),
        T(test_out_of_order_asset_count_after_associate_converges),
        T(test_user_fields_absent_keep_stored_values),
        T(test_subscription_count_null_parent_keeps_stored),
        T(test_event_counters_across_notifications),
        T(test_many_items_spanning_many_assets),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
