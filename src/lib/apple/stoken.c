/* stoken.c - see include/vppnotify/stoken.h. */
#include "vppnotify/stoken.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_HEX_LEN (VN_SEAL_KEY_LEN * 2)

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int vn_stoken_parse(const char *text, struct vn_stoken *out, struct vn_error *err)
{
    size_t n = strlen(text), len = 0, rawlen = 0;
    char *clean = NULL;
    unsigned char *raw = NULL;
    json_t *obj = NULL, *v;
    const char *exp;
    int rc = VN_EPARSE;

    memset(out, 0, sizeof(*out));
    if (n > VN_STOKEN_MAX)
        return vn_error_set(err, VN_EPARSE, "the sToken is longer than %d characters",
                            VN_STOKEN_MAX);
    clean = malloc(n + 1);
    raw = malloc(n + 1);
    if (!clean || !raw) {
        rc = vn_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_space(text[i]))
            clean[len++] = text[i];
    clean[len] = '\0';
    if (!len) {
        vn_error_set(err, VN_EPARSE, "the sToken is empty");
        goto out;
    }
    if (sodium_base642bin(raw, n, clean, len, NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 &&
        sodium_base642bin(raw, n, clean, len, NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
        vn_error_set(err, VN_EPARSE,
                     "the sToken is not Base64 (expected the content of a .vpptoken file)");
        goto out;
    }
    obj = vn_json_load((const char *)raw, rawlen, 4, NULL);
    if (!json_is_object(obj)) {
        vn_error_set(err, VN_EPARSE, "the sToken does not decode to a JSON object");
        goto out;
    }
    v = json_object_get(obj, "token");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        vn_error_set(err, VN_EPARSE, "the sToken has no \"token\" string");
        goto out;
    }
    exp = json_string_value(json_object_get(obj, "expDate"));
    if (!exp) {
        vn_error_set(err, VN_EPARSE, "the sToken has no \"expDate\" string");
        goto out;
    }
    if (vn_time_parse(exp, &out->expires_ms) != 0) {
        vn_error_set(err, VN_EPARSE, "the sToken's expDate '%.40s' is not an ISO-8601 date", exp);
        goto out;
    }
    v = json_object_get(obj, "orgName");
    if (v && !json_is_null(v) && !json_is_string(v)) {
        vn_error_set(err, VN_EPARSE, "the sToken's orgName is not a string");
        goto out;
    }
    if (json_is_string(v))
        vn_strlcpy(out->org_name, json_string_value(v), sizeof(out->org_name));
    out->text = clean;
    clean = NULL;
    rc = 0;
out:
    if (obj) {
        /* The decoded JSON holds the inner token: wipe jansson's copy of it too. */
        v = json_object_get(obj, "token");
        if (json_is_string(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
        json_decref(obj);
    }
    if (clean) {
        sodium_memzero(clean, n + 1);
        free(clean);
    }
    if (raw) {
        sodium_memzero(raw, n + 1);
        free(raw);
    }
    if (rc)
        out->expires_ms = 0;
    return rc;
}

int vn_stoken_read_file(const char *path, struct vn_stoken *out, struct vn_error *err)
{
    char *buf = malloc(VN_STOKEN_MAX + 1);
    int rc;

    memset(out, 0, sizeof(*out));
    if (!buf)
        return vn_error_set(err, -ENOMEM, "out of memory");
    rc = vn_secret_read_file(path, buf, VN_STOKEN_MAX + 1, err);
    if (!rc) {
        rc = vn_stoken_parse(buf, out, err);
        if (rc)
            vn_error_prefix(err, "sToken file '%s'", path);
    }
    sodium_memzero(buf, VN_STOKEN_MAX + 1);
    free(buf);
    return rc;
}

void vn_stoken_release(struct vn_stoken *t)
{
    if (t->text) {
        sodium_memzero(t->text, strlen(t->text));
        free(t->text);
    }
    memset(t, 0, sizeof(*t));
}

/* ---- the sealing key -------------------------------------------------------------------- */

int vn_seal_key_path(const char *db_url, char *out, size_t outlen, struct vn_error *err)
{
    const char *path = db_url;

    if (!strncmp(db_url, "postgres://", 11) || !strncmp(db_url, "postgresql://", 13))
        return vn_error_set(err, VN_ENOTSUP,
                            "the database '%s' is not a file: give --key-file for the sToken key",
                            db_url);
    if (!strncmp(path, "sqlite:", 7))
        path += 7;
    if (!*path || !strcmp(path, ":memory:"))
        return vn_error_set(err, VN_ENOTSUP,
                            "the database '%s' is not a file: give --key-file for the sToken key",
                            db_url);
    if ((size_t)snprintf(out, outlen, "%s.key", path) >= outlen)
        return vn_error_set(err, VN_ETOOBIG, "database path '%s' is too long", path);
    return 0;
}

static int read_key(const char *path, uint8_t key[VN_SEAL_KEY_LEN], struct vn_error *err)
{
    char hex[KEY_HEX_LEN + 2];
    size_t bin = 0;
    int rc = vn_secret_read_file(path, hex, sizeof(hex), err);

    if (rc == VN_ETOOBIG || (!rc && strlen(hex) != KEY_HEX_LEN))
        rc = vn_error_set(err, VN_EPARSE, "key file '%s' must hold %d hexadecimal digits", path,
                          KEY_HEX_LEN);
    if (!rc && (sodium_hex2bin(key, VN_SEAL_KEY_LEN, hex, KEY_HEX_LEN, NULL, &bin, NULL) != 0 ||
                bin != VN_SEAL_KEY_LEN))
        rc = vn_error_set(err, VN_EPARSE, "key file '%s' must hold %d hexadecimal digits", path,
                          KEY_HEX_LEN);
    sodium_memzero(hex, sizeof(hex));
    return rc;
}

/* Write a new key to a temporary file and link it into place; EEXIST means another process
 * won the race, which is fine: its key is read back. */
static int create_key(const char *path, struct vn_error *err)
{
    uint8_t key[VN_SEAL_KEY_LEN];
    char hex[KEY_HEX_LEN + 2], tmp[4200], dir[4200];
    int rc = 0, fd;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= sizeof(tmp))
        return vn_error_set(err, VN_ETOOBIG, "key file path '%s' is too long", path);
    randombytes_buf(key, sizeof(key));
    sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
    sodium_memzero(key, sizeof(key));
    hex[KEY_HEX_LEN] = '\n';
    hex[KEY_HEX_LEN + 1] = '\0';
    unlink(tmp);
    rc = vn_secret_write_file(tmp, hex, err);
    sodium_memzero(hex, sizeof(hex));
    if (rc)
        return rc;
    if (link(tmp, path) != 0 && errno != EEXIST)
        rc = vn_error_set(err, -errno, "cannot create key file '%s': %s", path, strerror(errno));
    unlink(tmp);
    /* Make the new directory entry durable, as the database's own files are. */
    vn_strlcpy(dir, path, sizeof(dir));
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return rc;
}

int vn_seal_key_load(const char *path, int create, uint8_t key[VN_SEAL_KEY_LEN],
                     struct vn_error *err)
{
    int rc;

    if (access(path, F_OK) != 0) {
        if (errno != ENOENT)
            return vn_error_set(err, -errno, "cannot read key file '%s': %s", path,
                                strerror(errno));
        if (!create)
            return vn_error_set(err, VN_ENOTFOUND,
                                "key file '%s' does not exist (it is created with the first "
                                "sToken; give --key-file if it lives elsewhere)",
                                path);
        rc = create_key(path, err);
        if (rc)
            return rc;
    }
    return read_key(path, key, err);
}

/* ---- sealing ---------------------------------------------------------------------------- */

int vn_seal(const uint8_t key[VN_SEAL_KEY_LEN], const void *plain, size_t n, uint8_t **out,
            size_t *outlen)
{
    size_t len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    uint8_t *b = malloc(len);

    *out = NULL;
    *outlen = 0;
    if (!b)
        return -ENOMEM;
    randombytes_buf(b, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, plain, n, b, key);
    *out = b;
    *outlen = len;
    return 0;
}

int vn_unseal(const uint8_t key[VN_SEAL_KEY_LEN], const uint8_t *in, size_t n, char **plain,
              struct vn_error *err)
{
    size_t overhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES, len;
    char *p;

    *plain = NULL;
    if (!in || n < overhead)
        return vn_error_set(err, VN_EPARSE, "the stored sToken is damaged");
    len = n - overhead;
    p = malloc(len + 1);
    if (!p)
        return vn_error_set(err, -ENOMEM, "out of memory");
    if (crypto_secretbox_open_easy((unsigned char *)p, in + crypto_secretbox_NONCEBYTES,
                                   n - crypto_secretbox_NONCEBYTES, in, key) != 0) {
        free(p);
        return vn_error_set(err, VN_EPARSE,
                            "the stored sToken does not open with this key file (a different "
                            "--key-file, or a damaged database): install it again with "
                            "'location set-stoken'");
    }
    p[len] = '\0';
    *plain = p;
    return 0;
}
