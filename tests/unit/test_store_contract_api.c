/*
 * The store contract, the integration API's webhook endpoints and Idempotency-Key (see
 * test_store_contract.c for how to run it against another backend; tests/pg runs it on
 * PostgreSQL): an endpoint's outbox is the change log after its cursor, updates name the
 * cursor they read, deliveries are logged, redelivery rewinds, retention never drops what an
 * active endpoint has not taken; an Idempotency-Key is begun once and its answer kept. Through
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

#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#define VN_TEST_DIR_PREFIX "/tmp/vn_test_contract_api_"
#include "store_test.h"

#include "store_contract_test.h"

struct hooks {
    size_t n;
    struct vn_webhook w[8];
    char url[8][128];
    uint8_t secret[8][64];
};

static int collect_hook(void *ud, const struct vn_webhook *w)
{
    struct hooks *h = ud;

    if (h->n >= 8 || w->secret_len > sizeof(h->secret[0]))
        return 1;
    h->w[h->n] = *w;
    vn_strlcpy(h->url[h->n], w->url, sizeof(h->url[0]));
    memcpy(h->secret[h->n], w->secret, w->secret_len);
    h->w[h->n].url = h->url[h->n];
    h->w[h->n].secret = h->secret[h->n];
    h->w[h->n].kinds = NULL; /* borrowed from the store: not kept */
    h->n++;
    return 0;
}

static size_t hooks(struct vn_store *st, int64_t id, struct hooks *h)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(vn_store_webhooks(st, id, collect_hook, h), 0);
    return h->n;
}

static int64_t last_seq(struct vn_store *st)
{
    struct vn_changes_head h;

    assert_int_equal(vn_store_changes_head(st, &h), 0);
    return h.last_seq;
}

static void adjust(struct vn_store *st, const char *adam_id)
{
    assert_int_equal(vn_store_begin(st), 0);
    assert_int_equal(vn_store_asset_adjust(st, "u1", adam_id, "STDQ", 1, 0, 1), 0);
    assert_int_equal(vn_store_commit(st), 0);
}

struct seqs {
    size_t n;
    int64_t seq[16];
};

static int collect_seq(void *ud, const struct vn_change *c)
{
    struct seqs *s = ud;

    if (s->n >= 16)
        return 1;
    s->seq[s->n++] = c->seq;
    return 0;
}

static int update(struct vn_store *st, int64_t id, const struct vn_webhook_state *s,
                  const struct vn_webhook_attempt *a, size_t n)
{
    int rc;

    assert_int_equal(vn_store_begin(st), 0);
    rc = vn_store_webhook_update(st, id, s, a, n);
    if (rc) {
        vn_store_rollback(st);
        return rc;
    }
    return vn_store_commit(st);
}

static void test_webhook_outbox_cursor_and_deliveries(void **state)
{
    struct fx *f = *state;
    static const uint8_t secret[] = {0x00, 0x01, 0xfe, 0xff, 0x00, 0x42, 0x10};
    int64_t now = at("2026-11-25T10:00:00.000Z"), id = 0, id2 = 0, before;
    struct vn_filter fl = {0};
    struct hooks h;
    struct seqs s = {0};
    struct rows r;
    char ids[24];

    adjust(f->st, "1"); /* before the endpoint: not its business */
    before = last_seq(f->st);
    assert_true(before > 0);
    assert_int_equal(vn_store_webhook_add(f->st, "https://mdm.example/hook", "asset,event", secret,
                                          sizeof(secret), now, &id),
                     0);
    assert_true(id > 0);
    assert_int_equal(hooks(f->st, 0, &h), 1);
    assert_int_equal(h.w[0].id, id);
    assert_string_equal(h.w[0].url, "https://mdm.example/hook");
    assert_int_equal(h.w[0].secret_len, sizeof(secret)); /* bytes, NULs and all */
    assert_memory_equal(h.secret[0], secret, sizeof(secret));
    assert_int_equal(h.w[0].cursor, before); /* what commits from now on */
    assert_int_equal(h.w[0].active, 1);
    assert_int_equal(h.w[0].attempts, 0);
    assert_int_equal(h.w[0].next_attempt_ms, 0);

    /* Its outbox is the change log after its cursor: two commits queue two messages. */
    adjust(f->st, "2");
    adjust(f->st, "3");
    assert_int_equal(vn_store_changes(f->st, h.w[0].cursor, 10, collect_seq, &s), 0);
    assert_int_equal(s.n, 2);

    /* A failed attempt of the first: the cursor stays, the attempt is logged. */
    {
        struct vn_webhook_state st = {.expect_cursor = before,
                                      .cursor = before,
                                      .active = 1,
                                      .attempts = 1,
                                      .failing_since_ms = now + 1000,
                                      .next_attempt_ms = now + 2000,
                                      .last_attempt_ms = now + 1000,
                                      .last_status = 503,
                                      .last_error = "HTTP 503"};
        struct vn_webhook_attempt a = {.endpoint_id = id,
                                       .seq = s.seq[0],
                                       .message_id = "msg_a",
                                       .type = "asset.updated",
                                       .attempt = 1,
                                       .at_ms = now + 1000,
                                       .status = 503,
                                       .error = "HTTP 503",
                                       .duration_ms = 7};
        assert_int_equal(update(f->st, id, &st, &a, 1), 0);
    }
    assert_int_equal(hooks(f->st, id, &h), 1);
    assert_int_equal(h.w[0].cursor, before);
    assert_int_equal(h.w[0].attempts, 1);
    assert_int_equal(h.w[0].failing_since_ms, now + 1000);
    assert_int_equal(h.w[0].next_attempt_ms, now + 2000);

    /* An update based on a cursor that moved meanwhile writes nothing. */
    {
        struct vn_webhook_state st = {.expect_cursor = before + 100, .cursor = s.seq[1]};
        struct vn_webhook_attempt a = {.endpoint_id = id,
                                       .seq = s.seq[0],
                                       .message_id = "msg_lost",
                                       .type = "asset.updated",
                                       .attempt = 2,
                                       .at_ms = now + 1500,
                                       .ok = 1};
        assert_int_equal(update(f->st, id, &st, &a, 1), VN_ECONFLICT);
        assert_int_equal(update(f->st, id + 1000, &st, NULL, 0), VN_ENOTFOUND);
    }

    /* Both delivered: the cursor moves past them, the failure is over. */
    {
        struct vn_webhook_state st = {.expect_cursor = before,
                                      .cursor = s.seq[1],
                                      .active = 1,
                                      .last_attempt_ms = now + 3000,
                                      .last_status = 204,
                                      .delivered = 2};
        struct vn_webhook_attempt a[2] = {{.endpoint_id = id,
                                           .seq = s.seq[0],
                                           .message_id = "msg_a",
                                           .type = "asset.updated",
                                           .attempt = 2,
                                           .at_ms = now + 3000,
                                           .status = 204,
                                           .ok = 1,
                                           .duration_ms = 3},
                                          {.endpoint_id = id,
                                           .seq = s.seq[1],
                                           .message_id = "msg_b",
                                           .type = "asset.created",
                                           .attempt = 1,
                                           .at_ms = now + 3001,
                                           .status = 204,
                                           .ok = 1,
                                           .duration_ms = 2}};
        assert_int_equal(update(f->st, id, &st, a, 2), 0);
    }
    assert_int_equal(hooks(f->st, id, &h), 1);
    assert_int_equal(h.w[0].cursor, s.seq[1]);
    assert_int_equal(h.w[0].attempts, 0);
    assert_int_equal(h.w[0].failing_since_ms, 0);

    /* What webhook list and webhook deliveries show. */
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    fl.webhook = ids;
    assert_int_equal(q(f->st, VN_Q_WEBHOOKS, &fl, &r), 1);
    assert_non_null(strstr(r.text[0], "url=https://mdm.example/hook kinds=asset,event "
                                      "state=active "));
    assert_non_null(strstr(r.text[0], " delivered=2 attempts=0 failingSince=null "
                                      "nextAttemptAt=null lastAttemptAt=2026-11-25T10:00:03.000Z "
                                      "lastStatus=204 lastError=null disabledReason=null "
                                      "createdAt=2026-11-25T10:00:00.000Z"));
    assert_int_equal(q(f->st, VN_Q_WEBHOOK_DELIVERIES, &fl, &r), 3);
    assert_non_null(strstr(r.text[0], " messageId=msg_a type=asset.updated attempt=1 "
                                      "at=2026-11-25T10:00:01.000Z status=503 ok=false "
                                      "error=HTTP 503 durationMs=7"));
    assert_non_null(strstr(r.text[1], " messageId=msg_a type=asset.updated attempt=2 "
                                      "at=2026-11-25T10:00:03.000Z status=204 ok=true "
                                      "error=null durationMs=3"));
    assert_non_null(strstr(r.text[2], " messageId=msg_b type=asset.created attempt=1 "));
    fl.state = "failed";
    assert_int_equal(q(f->st, VN_Q_WEBHOOK_DELIVERIES, &fl, &r), 1);
    assert_non_null(strstr(r.text[0], "messageId=msg_a type=asset.updated attempt=1 "));
    fl.state = NULL;

    /* 410 disables it; redeliver enables it again, rewinding to a seq when asked (never
     * forward). */
    {
        struct vn_webhook_state st = {.expect_cursor = s.seq[1],
                                      .cursor = s.seq[1],
                                      .disabled_reason = "the endpoint answered 410 Gone",
                                      .attempts = 1,
                                      .failing_since_ms = now + 4000,
                                      .last_attempt_ms = now + 4000,
                                      .last_status = 410,
                                      .last_error = "HTTP 410"};
        assert_int_equal(update(f->st, id, &st, NULL, 0), 0);
    }
    assert_int_equal(hooks(f->st, id, &h), 1);
    assert_int_equal(h.w[0].active, 0);
    assert_int_equal(q(f->st, VN_Q_WEBHOOKS, &fl, &r), 1);
    assert_non_null(strstr(r.text[0], "state=disabled "));
    assert_non_null(strstr(r.text[0], "disabledReason=the endpoint answered 410 Gone"));
    assert_int_equal(vn_store_webhook_redeliver(f->st, id, s.seq[1] + 50), 0);
    assert_int_equal(hooks(f->st, id, &h), 1);
    assert_int_equal(h.w[0].active, 1);
    assert_int_equal(h.w[0].attempts, 0);
    assert_int_equal(h.w[0].cursor, s.seq[1]); /* not forward */
    assert_int_equal(vn_store_webhook_redeliver(f->st, id, before), 0);
    assert_int_equal(hooks(f->st, id, &h), 1);
    assert_int_equal(h.w[0].cursor, before);
    assert_int_equal(vn_store_webhook_redeliver(f->st, id + 1000, -1), VN_ENOTFOUND);

    /* A second endpoint; removing the first forgets it and its deliveries. */
    assert_int_equal(
        vn_store_webhook_add(f->st, "http://127.0.0.1:9/x", NULL, secret, 1, now, &id2), 0);
    assert_true(id2 > id);
    assert_int_equal(hooks(f->st, 0, &h), 2);
    assert_int_equal(h.w[1].cursor, last_seq(f->st));
    assert_int_equal(vn_store_webhook_remove(f->st, id), 0);
    assert_int_equal(vn_store_webhook_remove(f->st, id), VN_ENOTFOUND);
    assert_int_equal(hooks(f->st, 0, &h), 1);
    assert_int_equal(h.w[0].id, id2);
    assert_int_equal(vn_store_webhooks(f->st, id, collect_hook, &h), VN_ENOTFOUND);
    assert_int_equal(q(f->st, VN_Q_WEBHOOK_DELIVERIES, &fl, &r), 0);
}

/* Retention never drops a change an active endpoint has not taken yet. */
static void test_webhook_holds_back_retention(void **state)
{
    struct fx *f = *state;
    static const uint8_t secret[] = {1, 2, 3};
    struct vn_changes_head hd;
    struct vn_error err = {0};
    struct vn_store *other;
    struct hooks h;
    struct seqs s = {0};
    int64_t id = 0, cursor;

    adjust(f->st, "1");
    assert_int_equal(vn_store_webhook_add(f->st, "https://mdm.example/hook", NULL, secret,
                                          sizeof(secret), vn_now_ms(), &id),
                     0);
    assert_int_equal(hooks(f->st, id, &h), 1);
    cursor = h.w[0].cursor;
    adjust(f->st, "2");
    adjust(f->st, "3");
    assert_int_equal(vn_store_changes_set_retention(f->st, 1), 0);
    {
        /* Polled, not slept: the clock must pass the newest change's time by 1 ms. */
        int64_t until = vn_now_ms() + 2;
        while (vn_now_ms() < until)
            ;
    }
    other = vn_store_open(f->url, NULL, &err); /* prunes at its first commit */
    assert_non_null(other);
    adjust(other, "4");
    assert_int_equal(vn_store_changes_head(other, &hd), 0);
    assert_true(hd.pruned_through <= cursor);
    assert_int_equal(vn_store_changes(other, cursor, 10, collect_seq, &s), 0);
    assert_int_equal(s.n, 3); /* "2", "3" and "4": all still there for the endpoint */
    vn_store_free(other);
}

static void test_idempotency_key_begun_once_answer_kept(void **state)
{
    struct fx *f = *state;
    struct vn_idempotency k;
    uint8_t h1[VN_DIGEST_LEN], h2[VN_DIGEST_LEN];
    int64_t now = at("2026-11-25T10:00:00.000Z");

    vn_digest("POST /v1/assets/associate\0{}", 28, h1);
    vn_digest("POST /v1/users\0{}", 17, h2);
    assert_int_equal(vn_store_idempotency_get(f->st, "ops", "k-1", &k), VN_ENOTFOUND);

    /* Begun in a transaction that rolls back: nothing is kept. */
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_idempotency_begin(f->st, "ops", "k-1", h1, now), 0);
    assert_int_equal(vn_store_rollback(f->st), 0);
    assert_int_equal(vn_store_idempotency_get(f->st, "ops", "k-1", &k), VN_ENOTFOUND);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_idempotency_begin(f->st, "ops", "k-1", h1, now), 0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_idempotency_begin(f->st, "ops", "k-1", h2, now), VN_EDUP);
    /* Keys are per API key: another key's "k-1" is its own. */
    assert_int_equal(vn_store_idempotency_begin(f->st, "ci", "k-1", h2, now), 0);
    assert_int_equal(vn_store_commit(f->st), 0);

    assert_int_equal(vn_store_idempotency_get(f->st, "ops", "k-1", &k), 0);
    assert_int_equal(k.done, 0); /* running */
    assert_memory_equal(k.request_hash, h1, VN_DIGEST_LEN);
    assert_null(k.body);
    assert_int_equal(k.created_ms, now);

    assert_int_equal(vn_store_begin(f->st), 0);
    assert_int_equal(vn_store_idempotency_finish(f->st, "ops", "k-1", 202,
                                                 "{\"eventIds\":[\"e1\"],\"note\":\"\\u00e9\"}"),
                     0);
    assert_int_equal(vn_store_commit(f->st), 0);
    assert_int_equal(vn_store_idempotency_get(f->st, "ops", "k-1", &k), 0);
    assert_int_equal(k.done, 1);
    assert_int_equal(k.status, 202);
    assert_string_equal(k.body, "{\"eventIds\":[\"e1\"],\"note\":\"\\u00e9\"}");
    free(k.body);
    assert_int_equal(vn_store_idempotency_get(f->st, "ci", "k-1", &k), 0);
    assert_int_equal(k.done, 0);
    assert_memory_equal(k.request_hash, h2, VN_DIGEST_LEN);
    free(k.body);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_webhook_outbox_cursor_and_deliveries),
        T(test_webhook_holds_back_retention),
        T(test_idempotency_key_begun_once_answer_kept),
    };

    if (vn_secret_init() != 0)
        return 1;
    (void)insert_note;
    (void)tokens;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
