/* tls.c - see tls.h. */
#include "tls.h"
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAIN_MAX 16
#define FILE_MAX  (64 * 1024)

struct pair {
    gnutls_pcert_st pcert[CHAIN_MAX];
    unsigned n;
    gnutls_privkey_t key;
    char fingerprint[2 * 32 + 1];
    char describe[320];
    uint64_t retired_gen; /* the generation that replaced it */
    struct pair *next;    /* the retired list */
};

struct vn_tls {
    _Atomic(struct pair *) cur; /* what handshakes take */
    struct pair *retired;       /* the reloading thread's only */
};

static void pair_free(struct pair *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++)
        gnutls_pcert_deinit(&p->pcert[i]);
    if (p->key)
        gnutls_privkey_deinit(p->key);
    free(p);
}

/* A public file (the certificate chain), whole; symlinks followed. */
static int read_public(const char *path, struct vn_buf *b, struct vn_error *err)
{
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "re");

    if (!f)
        return vn_error_set(err, -errno, "cannot open TLS certificate '%s': %s", path,
                            strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (vn_buf_append(b, chunk, n) != 0) {
            fclose(f);
            return vn_error_set(err, VN_ETOOBIG, "TLS certificate '%s' is larger than %d bytes",
                                path, FILE_MAX);
        }
    }
    fclose(f);
    if (b->len == 0)
        return vn_error_set(err, VN_EPARSE, "TLS certificate '%s' is empty", path);
    return 0;
}

static void iso_of(time_t t, char out[VN_TIME_ISO_LEN])
{
    vn_time_iso((int64_t)t * 1000, out);
}

/* The checks on the leaf certificate: dates, fingerprint, a description for logs. */
static int check_leaf(struct pair *p, const char *cert_file, struct vn_error *err)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0};
    unsigned char fp[32];
    size_t fplen = sizeof(fp);
    char from[VN_TIME_ISO_LEN], until[VN_TIME_ISO_LEN];
    time_t now = time(NULL), act, exp;
    int rc = 0;

    if (gnutls_x509_crt_init(&crt) < 0 ||
        gnutls_x509_crt_import(crt, &p->pcert[0].cert, GNUTLS_X509_FMT_DER) < 0) {
        rc = vn_error_set(err, VN_EPARSE, "cannot read TLS certificate '%s'", cert_file);
        goto out;
    }
    act = gnutls_x509_crt_get_activation_time(crt);
    exp = gnutls_x509_crt_get_expiration_time(crt);
    iso_of(act, from);
    iso_of(exp, until);
    if (exp != (time_t)-1 && now > exp) {
        rc = vn_error_set(err, VN_EPARSE, "TLS certificate '%s' expired at %s", cert_file, until);
        goto out;
    }
    if (act != (time_t)-1 && now < act) {
        rc = vn_error_set(err, VN_EPARSE, "TLS certificate '%s' is not valid before %s", cert_file,
                          from);
        goto out;
    }
    if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen) < 0 ||
        fplen != sizeof(fp)) {
        rc = vn_error_set(err, VN_EPARSE, "cannot fingerprint TLS certificate '%s'", cert_file);
        goto out;
    }
    vn_hex(fp, sizeof(fp), p->fingerprint);
    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0)
        dn.data = NULL;
    snprintf(p->describe, sizeof(p->describe), "subject '%.200s', valid until %s, sha256 %s",
             dn.data ? (const char *)dn.data : "?", until, p->fingerprint);
out:
    gnutls_free(dn.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

/* Does the key belong to the leaf certificate? (Same public key.) */
static int key_matches(struct pair *p)
{
    gnutls_pubkey_t kp = NULL;
    unsigned char a[64], b[64];
    size_t alen = sizeof(a), blen = sizeof(b);
    int ok = 0;

    if (gnutls_pubkey_init(&kp) < 0)
        return 0;
    if (gnutls_pubkey_import_privkey(kp, p->key, 0, 0) >= 0 &&
        gnutls_pubkey_get_key_id(kp, GNUTLS_KEYID_USE_SHA256, a, &alen) >= 0 &&
        gnutls_pubkey_get_key_id(p->pcert[0].pubkey, GNUTLS_KEYID_USE_SHA256, b, &blen) >= 0)
        ok = alen == blen && memcmp(a, b, alen) == 0;
    gnutls_pubkey_deinit(kp);
    return ok;
}

static int load_pair(const char *cert_file, const char *key_file, struct pair **out,
                     struct vn_error *err)
{
    struct pair *p = calloc(1, sizeof(*p));
    char *key = calloc(1, FILE_MAX);
    struct vn_buf cert;
    gnutls_datum_t d;
    unsigned n = CHAIN_MAX;
    int rc;

    vn_buf_init(&cert, FILE_MAX);
    if (!p || !key) {
        rc = vn_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = read_public(cert_file, &cert, err);
    if (rc)
        goto out;
    rc = vn_secret_read_file(key_file, key, FILE_MAX, err);
    if (rc) {
        vn_error_prefix(err, "TLS key");
        goto out;
    }
    d.data = (unsigned char *)vn_buf_str(&cert);
    d.size = (unsigned)cert.len;
    rc = gnutls_pcert_list_import_x509_raw(p->pcert, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || n == 0) {
        rc = vn_error_set(err, VN_EPARSE, "cannot read TLS certificate '%s': %s", cert_file,
                          rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
        n = 0;
        goto out;
    }
    p->n = n;
    d.data = (unsigned char *)key;
    d.size = (unsigned)strlen(key);
    if (gnutls_privkey_init(&p->key) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(p->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        rc = vn_error_set(err, VN_EPARSE, "cannot read TLS key '%s': %s", key_file,
                          gnutls_strerror(rc));
        goto out;
    }
    if (!key_matches(p)) {
        rc = vn_error_set(err, VN_EPARSE,
                          "the key in '%s' does not belong to the certificate in "
                          "'%s'",
                          key_file, cert_file);
        goto out;
    }
    rc = check_leaf(p, cert_file, err);
    if (rc)
        goto out;
    *out = p;
    p = NULL;
out:
    if (key) {
        vn_wipe(key, FILE_MAX);
        free(key);
    }
    vn_buf_release(&cert);
    pair_free(p);
    return rc;
}

struct vn_tls *vn_tls_new(const char *cert_file, const char *key_file, struct vn_error *err)
{
    struct vn_tls *t = calloc(1, sizeof(*t));
    struct pair *p = NULL;

    if (!t) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    if (load_pair(cert_file, key_file, &p, err) != 0) {
        free(t);
        return NULL;
    }
    atomic_store(&t->cur, p);
    return t;
}

int vn_tls_reload(struct vn_tls *t, const char *cert_file, const char *key_file, uint64_t gen,
                  struct vn_error *err)
{
    struct pair *p = NULL, *old;
    int rc = load_pair(cert_file, key_file, &p, err);

    if (rc)
        return rc;
    old = atomic_exchange(&t->cur, p);
    old->retired_gen = gen;
    old->next = t->retired;
    t->retired = old;
    return 0;
}

void vn_tls_collect(struct vn_tls *t, uint64_t oldest_gen)
{
    struct pair **pp = &t->retired;

    while (*pp) {
        struct pair *p = *pp;
        if (p->retired_gen <= oldest_gen) {
            *pp = p->next;
            pair_free(p);
        } else {
            pp = &p->next;
        }
    }
}

void vn_tls_free(struct vn_tls *t)
{
    if (!t)
        return;
    vn_tls_collect(t, UINT64_MAX);
    pair_free(atomic_load(&t->cur));
    free(t);
}

const char *vn_tls_fingerprint(const struct vn_tls *t)
{
    return atomic_load(&((struct vn_tls *)t)->cur)->fingerprint;
}

const char *vn_tls_describe(const struct vn_tls *t)
{
    return atomic_load(&((struct vn_tls *)t)->cur)->describe;
}

int vn_tls_retrieve(struct vn_tls *t, gnutls_pcert_st **pcert, unsigned int *pcert_length,
                    gnutls_privkey_t *pkey)
{
    struct pair *p = atomic_load(&t->cur);

    /* GnuTLS does not free or change what it is given here (it stays ours). */
    *pcert = p->pcert;
    *pcert_length = p->n;
    *pkey = p->key;
    return 0;
}
