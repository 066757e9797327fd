/*
 * keys.c - API keys (see include/vppnotify/api.h): their format, creation, and the cache of
 * digests every request is checked against.
 *
 * A key is "vnk_" followed by 32 random bytes in unpadded base64url: 256 bits, so the
 * digest of a key needs no slow password hash (as for notification tokens). The store keeps
 * the SHA-256 of the whole key and its first characters, to recognise it in a list. The
 * cache compares a presented key's digest with every digest, in constant time and without an
 * early exit, so the time taken does not tell which key, or which byte, differed.
 */
#include "api_impl.h"
#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(VN_API_NAME_MAX == VN_API_KEY_NAME_MAX, "the API and the store disagree");

int vn_api_scope_parse(const char *s, enum vn_api_scope *out)
{
    if (s && strcmp(s, "read") == 0)
        *out = VN_API_READ;
    else if (s && strcmp(s, "manage") == 0)
        *out = VN_API_MANAGE;
    else
        return VN_EPARSE;
    return 0;
}

const char *vn_api_scope_name(enum vn_api_scope scope)
{
    switch (scope) {
    case VN_API_PUBLIC:
        break;
    case VN_API_READ:
        return "read";
    case VN_API_MANAGE:
        return "manage";
    }
    return "public";
}

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > VN_API_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f)
            return 0;
    return 1;
}

int vn_api_key_create(struct vn_store *st, const char *name, enum vn_api_scope scope,
                      char key_out[VN_API_KEY_LEN + 1], struct vn_error *err)
{
    char token[VN_TOKEN_LEN + 1], shown[VN_API_KEY_SHOW_LEN + 1];
    uint8_t digest[VN_DIGEST_LEN];
    int rc;

    if (!name_ok(name))
        return vn_error_set(err, VN_EPARSE,
                            "API key name '%s' must be 1..%d visible characters without spaces",
                            name ? name : "", VN_API_NAME_MAX);
    if (scope != VN_API_READ && scope != VN_API_MANAGE)
        return vn_error_set(err, VN_EPARSE, "API key scope must be read or manage");
    vn_token_generate(token);
    memcpy(key_out, VN_API_KEY_PREFIX, strlen(VN_API_KEY_PREFIX));
    memcpy(key_out + strlen(VN_API_KEY_PREFIX), token, VN_TOKEN_LEN + 1);
    vn_wipe(token, sizeof(token));
    vn_digest(key_out, VN_API_KEY_LEN, digest);
    vn_strlcpy(shown, key_out, sizeof(shown));
    rc = vn_store_api_key_add(st, name, vn_api_scope_name(scope), digest, shown, vn_now_ms());
    if (rc) {
        vn_wipe(key_out, VN_API_KEY_LEN + 1);
        return vn_error_set(err, rc, "cannot add API key '%s': %s", name, vn_store_last_error(st));
    }
    return 0;
}

/* ---- the cache ---------------------------------------------------------------------- */

struct entry {
    char name[VN_API_NAME_MAX + 1];
    enum vn_api_scope scope;
    uint8_t digest[VN_DIGEST_LEN];
};

/* An immutable snapshot; readers hold a reference while they compare. */
struct snapshot {
    struct entry *e;
    size_t n;
    int64_t checked_ms; /* when the version was last compared with the store's */
    int64_t version;
    int refs;
};

struct vn__api_keys {
    struct vn_store *st;
    int64_t refresh_ms;
    pthread_mutex_t lock; /* guards snap, refs and the store handle */
    struct snapshot *snap;
};

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

static int load_row(void *ud, const struct vn_api_key_row *row)
{
    struct loader *l = ud;
    enum vn_api_scope scope;

    if (vn_api_scope_parse(row->scope, &scope) != 0)
        return 0; /* the schema's CHECK forbids it */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct entry *e = realloc(l->e, cap * sizeof(*e));
        if (!e) {
            l->rc = -ENOMEM;
            return 1;
        }
        l->e = e;
        l->cap = cap;
    }
    vn_strlcpy(l->e[l->n].name, row->name, sizeof(l->e[l->n].name));
    l->e[l->n].scope = scope;
    memcpy(l->e[l->n].digest, row->digest, VN_DIGEST_LEN);
    l->n++;
    return 0;
}

/* Reload the snapshot; called with the lock held. */
static int reload_locked(struct vn__api_keys *k, int64_t now, struct vn_error *err)
{
    struct loader l = {0};
    struct snapshot *s;
    int64_t version = 0;
    int rc;

    /* The version first: a change between the two reads only causes one more reload. */
    rc = vn_store_api_keys_version(k->st, &version);
    if (rc == 0)
        rc = vn_store_api_keys(k->st, load_row, &l);
    if (rc == 0)
        rc = l.rc;
    if (rc) {
        free(l.e);
        return vn_error_set(err, rc, "cannot load API keys: %s", vn_store_last_error(k->st));
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        free(l.e);
        return vn_error_set(err, -ENOMEM, "out of memory");
    }
    s->e = l.e;
    s->n = l.n;
    s->checked_ms = now;
    s->version = version;
    s->refs = 1;
    snapshot_put(k->snap);
    k->snap = s;
    return 0;
}

struct vn__api_keys *vn__api_keys_new(struct vn_store *st, int64_t refresh_ms, struct vn_error *err)
{
    struct vn__api_keys *k = calloc(1, sizeof(*k));

    if (!k) {
        vn_store_free(st);
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    k->st = st;
    k->refresh_ms = refresh_ms;
    pthread_mutex_init(&k->lock, NULL);
    if (reload_locked(k, vn_now_ms(), err) != 0) {
        vn__api_keys_free(k);
        return NULL;
    }
    return k;
}

void vn__api_keys_free(struct vn__api_keys *k)
{
    if (!k)
        return;
    snapshot_put(k->snap);
    vn_store_free(k->st);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static struct snapshot *acquire(struct vn__api_keys *k, int miss)
{
    struct snapshot *s;
    int64_t now = vn_now_ms(), v;

    pthread_mutex_lock(&k->lock);
    if (miss || now - k->snap->checked_ms >= k->refresh_ms) {
        if (vn_store_api_keys_version(k->st, &v) != 0 || v != k->snap->version) {
            struct vn_error err;
            if (reload_locked(k, now, &err) != 0)
                vn_log_warn("%s; using the previous API key snapshot", err.msg);
        } else {
            k->snap->checked_ms = now;
        }
    }
    s = k->snap;
    s->refs++;
    pthread_mutex_unlock(&k->lock);
    return s;
}

static void release(struct vn__api_keys *k, struct snapshot *s)
{
    pthread_mutex_lock(&k->lock);
    snapshot_put(s);
    pthread_mutex_unlock(&k->lock);
}

int vn__api_keys_check(struct vn__api_keys *k, const char *header, enum vn_api_scope *scope,
                       char *name)
{
    uint8_t digest[VN_DIGEST_LEN];
    const char *key;
    size_t len;

    if (vn_auth_parse_bearer(header, &key, &len) != 0)
        return VN_EAUTH;
    vn_digest(key, len, digest);
    for (int attempt = 0; attempt < 2; attempt++) {
        struct snapshot *s = acquire(k, attempt);
        size_t found = (size_t)-1;

        /* Every entry, no early exit. */
        for (size_t i = 0; i < s->n; i++)
            if (vn_ct_equal(s->e[i].digest, digest, VN_DIGEST_LEN))
                found = i;
        if (found != (size_t)-1) {
            *scope = s->e[found].scope;
            if (name)
                vn_strlcpy(name, s->e[found].name, VN_API_NAME_MAX + 1);
            release(k, s);
            return 0;
        }
        release(k, s);
    }
    return VN_EAUTH;
}
