/*
 * secret.h - tokens, digests, constant-time comparison and secret files (libsodium).
 *
 * Notification tokens are 32 random bytes written as unpadded base64url (43 characters).
 * Only their SHA-256 digest is ever stored. Secret files must be regular files that neither
 * the group nor others may read or write (as OpenSSH insists for keys).
 */
#ifndef VPPNOTIFY_SECRET_H
#define VPPNOTIFY_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct vn_error;

#define VN_DIGEST_LEN 32
#define VN_TOKEN_LEN  43  /* characters of a generated token */
#define VN_TOKEN_MIN  16  /* shortest token accepted from a file */
#define VN_TOKEN_MAX  512 /* Apple's maxNotificationLength */
#define VN_UUID_LEN   36

/* Initialise libsodium; call once before threads start. 0 or -1. */
int vn_secret_init(void);

/* SHA-256 of n bytes (GnuTLS's, with the CPU's SHA instructions where there are). */
void vn_digest(const void *p, size_t n, uint8_t out[VN_DIGEST_LEN]);

/* 1 if the n bytes at a and b are equal, in time that depends only on n. */
int vn_ct_equal(const void *a, const void *b, size_t n);

/* Write a new random token and its NUL into out (at least VN_TOKEN_LEN + 1 bytes). */
void vn_token_generate(char out[VN_TOKEN_LEN + 1]);

/* A random version-4 UUID, lower-case, with its NUL (37 bytes). */
void vn_uuid(char out[VN_UUID_LEN + 1]);

/* n random bytes. */
void vn_random_bytes(void *p, size_t n);

/* A uniformly random integer in [0, upper). */
uint32_t vn_random_uniform(uint32_t upper);

/* Overwrite n bytes with zeros in a way the compiler keeps. */
void vn_wipe(void *p, size_t n);

/*
 * Read a secret from path into out (capacity outcap, NUL-terminated), trimming surrounding
 * whitespace. Symlinks are followed; the file they lead to is checked. Refuses (VN_EPERM, with
 * a message saying how to fix it) a file that is not regular, not owned by this user, or that
 * the group or others may access; VN_ETOOBIG if longer than outcap - 1;
 * VN_EPARSE if empty. The buffer is wiped on failure.
 */
int vn_secret_read_file(const char *path, char *out, size_t outcap, struct vn_error *err);

/*
 * Check a token for use as a notification bearer token: VN_TOKEN_MIN..VN_TOKEN_MAX visible
 * ASCII characters, no spaces. 0 or VN_EPARSE with a message (which never quotes the token).
 */
int vn_token_check(const char *token, struct vn_error *err);

/* Write data to path as a new file readable by the owner only (0600), fsynced. */
int vn_secret_write_file(const char *path, const char *data, struct vn_error *err);

#endif
