/* secret.c - see include/vppnotify/secret.h. */
#include "vppnotify/secret.h"
#include "vppnotify/error.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vn_secret_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

/*
 * GnuTLS's SHA-256 (nettle's) uses the CPU's SHA extensions where it has them: about four times
 * as fast as libsodium's portable one, on every notification body (same digest; libsodium's
 * if GnuTLS refuses, which it does not for SHA-256).
 */
void vn_digest(const void *p, size_t n, uint8_t out[VN_DIGEST_LEN])
{
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, out) != GNUTLS_E_SUCCESS)
        crypto_hash_sha256(out, p, n);
}

int vn_ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

void vn_token_generate(char out[VN_TOKEN_LEN + 1])
{
    unsigned char raw[32];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, VN_TOKEN_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void vn_uuid(char out[VN_UUID_LEN + 1])
{
    unsigned char b[16];

    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, VN_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

void vn_random_bytes(void *p, size_t n)
{
    randombytes_buf(p, n);
}

uint32_t vn_random_uniform(uint32_t upper)
{
    return upper ? randombytes_uniform(upper) : 0;
}

void vn_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int vn_secret_read_file(const char *path, char *out, size_t outcap, struct vn_error *err)
{
    struct stat st;
    size_t len = 0, start = 0;
    ssize_t n;
    int fd, rc = 0;

    /* Symlinks are followed (certbot's live/ -> archive/, systemd credentials): the checks
     * below are made on the file that was opened, whatever the path went through. O_NONBLOCK:
     * a FIFO must not block the open (it is refused as not regular). */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return vn_error_set(err, -errno, "cannot open secret file '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) < 0) {
        rc = vn_error_set(err, -errno, "cannot stat secret file '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = vn_error_set(err, VN_EPERM, "secret file '%s' is not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = vn_error_set(err, VN_EPERM,
                          "secret file '%s' is accessible by group or others (mode %04o); "
                          "run: chmod 600 '%s'",
                          path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = vn_error_set(err, VN_EPERM, "secret file '%s' is owned by uid %u, not by uid %u", path,
                          (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    while ((n = read(fd, out + len, outcap - 1 - len)) > 0) {
        len += (size_t)n;
        if (len == outcap - 1) {
            char extra;
            if (read(fd, &extra, 1) > 0) {
                rc = vn_error_set(err, VN_ETOOBIG, "secret file '%s' is longer than %zu bytes",
                                  path, outcap - 1);
                goto out;
            }
            break;
        }
    }
    if (n < 0) {
        rc = vn_error_set(err, -errno, "cannot read secret file '%s': %s", path, strerror(errno));
        goto out;
    }
    out[len] = '\0';
    while (len > 0 && is_space(out[len - 1]))
        out[--len] = '\0';
    while (start < len && is_space(out[start]))
        start++;
    if (start)
        memmove(out, out + start, len - start + 1);
    if (!out[0])
        rc = vn_error_set(err, VN_EPARSE, "secret file '%s' is empty", path);
out:
    if (rc)
        sodium_memzero(out, outcap);
    close(fd);
    return rc;
}

int vn_token_check(const char *token, struct vn_error *err)
{
    size_t n = strlen(token);

    if (n < VN_TOKEN_MIN || n > VN_TOKEN_MAX)
        return vn_error_set(err, VN_EPARSE, "token length %zu is outside %d..%d characters", n,
                            VN_TOKEN_MIN, VN_TOKEN_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c <= 0x20 || c >= 0x7f)
            return vn_error_set(err, VN_EPARSE,
                                "token has a space or a non-printable character at offset %zu", i);
    }
    return 0;
}

int vn_secret_write_file(const char *path, const char *data, struct vn_error *err)
{
    size_t len = strlen(data), off = 0;
    int fd, rc = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return vn_error_set(err, -errno, "cannot create secret file '%s': %s", path,
                            strerror(errno));
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = vn_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (!rc && fsync(fd) < 0)
        rc = vn_error_set(err, -errno, "cannot sync '%s': %s", path, strerror(errno));
    close(fd);
    if (rc)
        unlink(path);
    return rc;
}
