/*
 * stoken.h - Apple's content token (sToken) and how vppnotify keeps it at rest.
 *
 * An sToken is the Base64 text of a JSON object {"token", "expDate", "orgName"} that an
 * administrator downloads from Apple School Manager or Apple Business (a .vpptoken file). It is
 * sent whole as "Authorization: Bearer <sToken>" on every call to Apple. It is a credential:
 * it is never logged, never put in argv, wiped from memory after use, and stored only sealed
 * (libsodium crypto_secretbox) under a 32-byte key kept in a separate file (<db>.key, 0600).
 *
 * Messages never quote the token or any part of it.
 */
#ifndef VPPNOTIFY_STOKEN_H
#define VPPNOTIFY_STOKEN_H

#include <stddef.h>
#include <stdint.h>

struct vn_error;

#define VN_STOKEN_MAX   8192 /* characters of an sToken file (Apple's are a few hundred) */
#define VN_SEAL_KEY_LEN 32

struct vn_stoken {
    char *text;         /* the Base64 text without whitespace, as sent to Apple (owned) */
    int64_t expires_ms; /* expDate */
    char org_name[256]; /* orgName, "" if absent */
};

/*
 * Decode and validate an sToken: whitespace anywhere is ignored, Base64 with or without
 * padding, then a JSON object (compact or pretty-printed) with a non-empty string "token", a
 * string "expDate" in ISO-8601 ("2030-11-08T22:33:22+0000") and an optional string "orgName".
 * text is borrowed. On success *out owns a copy (vn_stoken_release); VN_EPARSE otherwise.
 */
int vn_stoken_parse(const char *text, struct vn_stoken *out, struct vn_error *err);

/* Read an sToken from a secret file (regular, owner-only, as vn_secret_read_file) and parse. */
int vn_stoken_read_file(const char *path, struct vn_stoken *out, struct vn_error *err);

/* Wipe and free what *t owns; t may be zeroed or already released. */
void vn_stoken_release(struct vn_stoken *t);

/*
 * The key that seals sTokens. path is the key file ("<db>.key" by default). With create, a
 * missing file is created with 32 random bytes, mode 0600, atomically (written to a temporary
 * file, fsynced, then linked into place, so two processes racing agree on one key). An
 * existing file must obey the secret-file rules and hold exactly 32 bytes. VN_ENOTFOUND when
 * it does not exist and create is 0.
 */
int vn_seal_key_load(const char *path, int create, uint8_t key[VN_SEAL_KEY_LEN],
                     struct vn_error *err);

/* The default key file of a database URL: "<path>.key" for an SQLite path (with or without
 * "sqlite:"); VN_ENOTSUP for other URLs (give --key-file). */
int vn_seal_key_path(const char *db_url, char *out, size_t outlen, struct vn_error *err);

/* Seal n bytes: *out (owned, free()) = 24-byte nonce || secretbox(plain). 0 or -ENOMEM. */
int vn_seal(const uint8_t key[VN_SEAL_KEY_LEN], const void *plain, size_t n, uint8_t **out,
            size_t *outlen);

/* Open what vn_seal made: *plain is owned, NUL-terminated (wipe it, then free). VN_EPARSE when
 * the box does not open (wrong key, damaged data). */
int vn_unseal(const uint8_t key[VN_SEAL_KEY_LEN], const uint8_t *in, size_t n, char **plain,
              struct vn_error *err);

#endif
