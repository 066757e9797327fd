/*
 * tls.h - the endpoint's TLS certificate and key, replaceable while serving (private to
 * src/lib/ingest).
 *
 * libmicrohttpd is given a certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK, GnuTLS's
 * retrieve function) instead of a fixed certificate: each handshake takes the credentials
 * current at that moment, so a reload (SIGHUP, after certbot renewed the files) changes what new
 * handshakes present without closing a connection. A new pair is loaded and checked completely
 * before it replaces the old one: the key file is a secret file (owner and mode checked on the
 * file a symlink leads to, so certbot's live/ -> archive/ layout works), the key belongs to the
 * certificate, the certificate is valid now; otherwise the old pair stays and the error says
 * why.
 *
 * GnuTLS keeps using the certificate a session was given until the session ends, so a replaced
 * pair is freed only when no connection that opened before the replacement is left
 * (generations: conn.h).
 */
#ifndef VPPNOTIFY_INGEST_TLS_H
#define VPPNOTIFY_INGEST_TLS_H

#include <gnutls/abstract.h>
#include <stdint.h>

struct vn_error;
struct vn_tls;

/* Load and check a pair (see above). NULL with err on failure. */
struct vn_tls *vn_tls_new(const char *cert_file, const char *key_file, struct vn_error *err);

/*
 * Load and check a new pair; when it is good, new handshakes use it. The replaced pair is
 * kept until vn_tls_collect says no connection of a generation below gen is left. 0, or an
 * error (the current pair stays).
 */
int vn_tls_reload(struct vn_tls *t, const char *cert_file, const char *key_file, uint64_t gen,
                  struct vn_error *err);

/* Free the replaced pairs that no open connection can use: oldest_gen is the oldest
 * generation of an open connection. */
void vn_tls_collect(struct vn_tls *t, uint64_t oldest_gen);

/* Free everything (after the HTTP server stopped). NULL is allowed. */
void vn_tls_free(struct vn_tls *t);

/* The current certificate: SHA-256 fingerprint (hex, 64 characters) and a description for
 * logs ("CN=host, valid until 2027-01-01T00:00:00Z"). Valid until the next reload; call from
 * the thread that reloads. */
const char *vn_tls_fingerprint(const struct vn_tls *t);
const char *vn_tls_describe(const struct vn_tls *t);

/* GnuTLS's certificate callback: the current pair of t. */
int vn_tls_retrieve(struct vn_tls *t, gnutls_pcert_st **pcert, unsigned int *pcert_length,
                    gnutls_privkey_t *pkey);

#endif
