/*
 * framing.h - how a request is framed, checked before anything else reads it (private to
 * src/lib/ingest). Behind a proxy, a request the proxy and this server split differently is
 * request smuggling (RFC 9112 section 6.3, section 11.2); a NUL byte that libmicrohttpd
 * silently treats as the end of a string turns "Bearer T\0junk" into "Bearer T". Both are
 * refused here, and the connection is closed after the answer.
 *
 * | request | answer |
 * | --- | --- |
 * | more than one Content-Length header | 400 |
 * | Transfer-Encoding and Content-Length | 400 |
 * | Transfer-Encoding in an HTTP/1.0 request, or more than one | 400 |
 * | a Transfer-Encoding other than "chunked" | 501 (RFC 9112: a coding the server does not
 *   understand) |
 * | a NUL byte in the request line (raw or %00) or in a header line | 400 |
 * | obs-fold (a header continued on the next line) | 400 (RFC 9112 section 5.2 allows it) |
 *
 * libmicrohttpd 0.9.75 gives no raw bytes: the checks use its own layout. The request line
 * and the headers are one buffer starting at the method; libmicrohttpd zeroes the separators
 * in place (the spaces around the target, each colon, CR and LF) and hands out pointers into
 * it. Between the end of one string it handed out and the start of the next there may be only
 * those zeros (and the blanks it skipped); anything else is a NUL byte the client sent. The
 * target is measured before libmicrohttpd unescapes it (the URI log callback). One case cannot
 * be told apart: a NUL directly before a bare LF looks like CR LF; the value is then what
 * precedes it, whole, and nothing is cut.
 */
#ifndef VPPNOTIFY_INGEST_FRAMING_H
#define VPPNOTIFY_INGEST_FRAMING_H

#include <microhttpd.h>
#include <stddef.h>

/*
 * Check a request's framing at its first access-handler call. method, url and version are
 * the handler's arguments; url_raw_len is strlen of the target as the URI log callback saw
 * it. Returns 0, or the status to answer (400, 501) with why filled (a message for the
 * client and the log).
 */
unsigned vn_framing_check(struct MHD_Connection *conn, const char *method, const char *url,
                          const char *version, size_t url_raw_len, char *why, size_t whylen);

/* libmicrohttpd's unescape callback: its own decoding, except that a target or argument
 * holding %00 becomes empty (vn_framing_check then refuses a target that is not a path). */
size_t vn_framing_unescape(void *cls, struct MHD_Connection *conn, char *uri);

/*
 * Answer a request while its body is still arriving (libmicrohttpd 0.9.75 queues a response
 * only before or after the body): writes a whole "HTTP/1.1 STATUS" response with a JSON body
 * and "Connection: close" straight to the socket (through TLS when the connection has it).
 * The caller then stops reading and lets the connection close. 0, or -1 when it could not be
 * written at once (the connection is closed without it).
 */
int vn_framing_answer_now(struct MHD_Connection *conn, unsigned status, const char *json);

#endif
