/*
 * store_contract_test.h - helpers of the store contract suite (test_store_contract*.c): query
 * rows, digests, times, ledger records, token lists. Static inline so that each test program
 * takes what it uses. Include after store_test.h.
 */
#ifndef VPPNOTIFY_TESTS_STORE_CONTRACT_TEST_H
#define VPPNOTIFY_TESTS_STORE_CONTRACT_TEST_H

static inline size_t q(struct vn_store *st, enum vn_query which, const struct vn_filter *f,
                       struct rows *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(vn_store_query(st, which, f, render, r), 0);
    return r->n;
}

static inline void digest_of(const char *token, uint8_t d[VN_DIGEST_LEN])
{
    vn_digest(token, strlen(token), d);
}

static inline int64_t at(const char *iso)
{
    int64_t ms = 0;

    assert_int_equal(vn_time_parse(iso, &ms), 0);
    return ms;
}

static inline void record(struct vn_notification_record *r, const char *id, const char *uid,
                          const char *body, int64_t ms)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->uid = uid;
    r->type_name = "ASSET_COUNT";
    r->state = VN_NSTATE_APPLIED;
    r->body = body;
    r->body_len = strlen(body);
    vn_digest(body, r->body_len, r->digest);
    r->received_ms = ms;
}

static inline int insert_note(struct vn_store *st, const char *id, const char *uid,
                              const char *body, int64_t ms)
{
    struct vn_notification_record r;

    record(&r, id, uid, body, ms);
    return vn_store_notification_insert(st, &r);
}

struct toks {
    size_t n;
    char uid[8][32];
    uint8_t digest[8][VN_DIGEST_LEN];
    int64_t expires[8];
};

static inline int collect_token(void *ud, const struct vn_token_row *row)
{
    struct toks *t = ud;

    if (t->n >= 8)
        return 1;
    vn_strlcpy(t->uid[t->n], row->uid, sizeof(t->uid[0]));
    memcpy(t->digest[t->n], row->digest, VN_DIGEST_LEN);
    t->expires[t->n] = row->expires_ms;
    t->n++;
    return 0;
}

static inline size_t tokens(struct vn_store *st, int64_t now, struct toks *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(vn_store_tokens(st, now, collect_token, t), 0);
    return t->n;
}

#endif
