/* auth.c - see include/vppnotify/auth.h. */
#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char uid[VN_ID_MAX + 1];
    uint8_t digest[VN_DIGEST_LEN];
    int64_t expires_ms; /* 0: current token */
};

/* An immutable snapshot; readers hold a reference while they compare. */
struct snapshot {
    struct entry *e;
    size_t n;
    int64_t checked_ms; /* when the version was last compared with the store's */
    int64_t version;    /* vn_store_tokens_version when loaded */
    int refs;
};

struct vn_auth {
    struct vn_store *st;
    int64_t refresh_ms;
    pthread_mutex_t lock; /* guards snap, refs and the store handle */
    struct snapshot *snap;
};

int vn_auth_parse_bearer(const char *header, const char **token, size_t *len)
{
    const char *t;
    size_t n;

    if (!header || vn_strncasecmp_ascii(header, "bearer ", 7) != 0)
        return VN_EAUTH;
    t = header + 7;
    n = strlen(t);
    if (n == 0 || n > VN_TOKEN_MAX)
        return VN_EAUTH;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return VN_EAUTH;
    *token = t;
    *len = n;
    return 0;
}

static void snapshot_put(struct snapshot *s)
{
    if (s && --s->refs == 0) {
        vn_wipe(s->e, s->n * sizeof(*s->e));
        free(s->e);
        free(s);
    }
}

struct loader {
    struct entry *e;
    size_t n, cap;
    int rc;
};

static int load_row(void *ud, const struct vn_token_row *row)
{
    struct loader *l = ud;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct entry *e = realloc(l->e, cap * sizeof(*e));
        if (!e) {
            l->rc = -ENOMEM;
            return 1;
        }
        l->e = e;
        l->cap = cap;
    }
    vn_strlcpy(l->e[l->n].uid, row->uid, sizeof(l->e[l->n].uid));
    memcpy(l->e[l->n].digest, row->digest, VN_DIGEST_LEN);
    l->e[l->n].expires_ms = row->expires_ms;
    l->n++;
    return 0;
}

/* Reload the snapshot; called with the lock held. */
static int reload_locked(struct vn_auth *a, int64_t now, struct vn_error *err)
{
    struct loader l = {0};
    struct snapshot *s;
    int64_t version = 0;
    int rc;

    /* The version first: a change between the two reads only causes one more reload. */
    rc = vn_store_tokens_version(a->st, &version);
    if (rc == 0)
        rc = vn_store_tokens(a->st, now, load_row, &l);
    if (rc == 0)
        rc = l.rc;
    if (rc) {
        free(l.e);
        return vn_error_set(err, rc, "cannot load notification tokens: %s",
                            vn_store_last_error(a->st));
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        free(l.e);
        return -ENOMEM;
    }
    s->e = l.e;
    s->n = l.n;
    s->checked_ms = now;
    s->version = version;
    s->refs = 1;
    snapshot_put(a->snap);
    a->snap = s;
    return 0;
}

struct vn_auth *vn_auth_new(struct vn_store *st, int64_t refresh_ms, struct vn_error *err)
{
    struct vn_auth *a = calloc(1, sizeof(*a));

    if (!a) {
        vn_store_free(st);
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    a->st = st;
    a->refresh_ms = refresh_ms;
    pthread_mutex_init(&a->lock, NULL);
    if (reload_locked(a, vn_now_ms(), err) != 0) {
        vn_auth_free(a);
        return NULL;
    }
    return a;
}

void vn_auth_free(struct vn_auth *a)
{
    if (!a)
        return;
    snapshot_put(a->snap);
    vn_store_free(a->st);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void vn_auth_invalidate(struct vn_auth *a)
{
    pthread_mutex_lock(&a->lock);
    if (a->snap)
        a->snap->checked_ms = 0;
    pthread_mutex_unlock(&a->lock);
}

/* Is the snapshot behind the database? One point read of the token version. */
static int stale_locked(struct vn_auth *a, int64_t now)
{
    int64_t v;

    if (vn_store_tokens_version(a->st, &v) != 0 || v != a->snap->version)
        return 1;
    a->snap->checked_ms = now;
    return 0;
}

/*
 * Take a reference to a current snapshot. The token version is compared with the store's
 * after every miss — so a token created a moment ago by another process (location add,
 * rotate-token; Apple's TEST_NOTIFICATION follows within milliseconds) is found on the first
 * request that carries it — and at least every refresh interval on hits, which bounds how long
 * a removed or rotated-out token is still accepted.
 */
static struct snapshot *acquire(struct vn_auth *a, int miss)
{
    struct snapshot *s;
    int64_t now = vn_now_ms();

    pthread_mutex_lock(&a->lock);
    if (!a->snap ||
        ((miss || now - a->snap->checked_ms >= a->refresh_ms) && stale_locked(a, now))) {
        struct vn_error err;
        if (reload_locked(a, now, &err) != 0)
            vn_log_warn("%s; using the previous token snapshot", err.msg);
    }
    s = a->snap;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&a->lock);
    return s;
}

static void release(struct vn_auth *a, struct snapshot *s)
{
    pthread_mutex_lock(&a->lock);
    snapshot_put(s);
    pthread_mutex_unlock(&a->lock);
}

/* Compare with every entry; no early exit, so timing does not reveal which one matched. */
static int lookup(const struct snapshot *s, const uint8_t digest[VN_DIGEST_LEN], int64_t now,
                  char uid[VN_ID_MAX + 1])
{
    size_t found = (size_t)-1;

    for (size_t i = 0; i < s->n; i++) {
        int eq = vn_ct_equal(s->e[i].digest, digest, VN_DIGEST_LEN);
        int live = s->e[i].expires_ms == 0 || s->e[i].expires_ms > now;
        if (eq && live)
            found = i;
    }
    if (found == (size_t)-1)
        return VN_EAUTH;
    vn_strlcpy(uid, s->e[found].uid, VN_ID_MAX + 1);
    return 0;
}

int vn_auth_check(struct vn_auth *a, const char *header, char uid[VN_ID_MAX + 1])
{
    uint8_t digest[VN_DIGEST_LEN];
    struct snapshot *s;
    const char *tok;
    size_t len;
    int rc;

    if (vn_auth_parse_bearer(header, &tok, &len) != 0)
        return VN_EAUTH;
    vn_digest(tok, len, digest);
    for (int attempt = 0; attempt < 2; attempt++) {
        s = acquire(a, attempt);
        if (!s)
            return VN_EAUTH;
        rc = lookup(s, digest, vn_now_ms(), uid);
        release(a, s);
        if (rc == 0)
            return 0;
    }
    return VN_EAUTH;
}
