/* framing.c - see framing.h. */
#include "framing.h"
#include "vppnotify/util.h"

#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define QUOTE_MAX 40 /* bytes of a client's value quoted in a message */

struct walk {
    uintptr_t start, end; /* the header block: [method, method + header size) */
    const char *prev_end; /* the end of the last string libmicrohttpd handed out */
    int headers;          /* seen so far */
    int nul, folded;      /* what was found */
    int n_cl, n_te;       /* Content-Length, Transfer-Encoding headers */
    const char *te;       /* the (first) Transfer-Encoding value */
    const char *prev_key; /* the header whose line ends at prev_end; NULL: the request line */
    const char *nul_in;   /* the header holding the NUL byte; NULL: the request line */
};

static int inside(const struct walk *w, const char *p)
{
    return (uintptr_t)p >= w->start && (uintptr_t)p < w->end;
}

/* Between a and b (a <= b): only zeros, between min and max of them (a line end). */
static int line_end_ok(const char *a, const char *b, size_t min, size_t max)
{
    size_t n = (size_t)(b - a);

    if (b < a || n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != '\0')
            return 0;
    return 1;
}

static enum MHD_Result walk_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct walk *w = cls;
    const char *p;

    (void)kind;
    if (!key || !value || !inside(w, key) || !inside(w, value) || value <= key + key_size) {
        w->folded = 1; /* libmicrohttpd copied it elsewhere: a continued line */
        return MHD_NO;
    }
    /* The previous line's end, then this name; the colon, blanks, then this value. */
    if (!line_end_ok(w->prev_end, key, 1, 2)) {
        w->nul = 1;
        w->nul_in = w->prev_key;
        return MHD_NO;
    }
    for (p = key + key_size; p < value; p++) {
        if (p == key + key_size ? *p != '\0' : *p != ' ' && *p != '\t') {
            w->nul = 1;
            w->nul_in = key;
            return MHD_NO;
        }
    }
    w->prev_end = value + value_size;
    w->prev_key = key;
    w->headers++;
    if (key_size == 14 && vn_strncasecmp_ascii(key, "Content-Length", 14) == 0)
        w->n_cl++;
    if (key_size == 17 && vn_strncasecmp_ascii(key, "Transfer-Encoding", 17) == 0) {
        if (!w->te)
            w->te = value;
        w->n_te++;
    }
    return MHD_YES;
}

unsigned vn_framing_check(struct MHD_Connection *conn, const char *method, const char *url,
                          const char *version, size_t url_raw_len, char *why, size_t whylen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct walk w = {0};
    size_t mlen = strlen(method);
    const char *p;

    if (!ci) {
        snprintf(why, whylen, "request headers could not be examined");
        return MHD_HTTP_BAD_REQUEST;
    }
    w.start = (uintptr_t)method;
    w.end = (uintptr_t)method + ci->header_size;
    /* The request line: METHOD, the zeroed space and any blanks, the target (measured before
     * unescaping), the zeroed space, the version, the line end. */
    if (url[0] != '/') {
        snprintf(why, whylen,
                 "request target must be a path starting with '/' and hold no "
                 "NUL byte (%%00)");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (!inside(&w, url) || !inside(&w, version) || (uintptr_t)url <= w.start + mlen ||
        version != url + url_raw_len + 1) {
        snprintf(why, whylen, "NUL byte in the request line");
        return MHD_HTTP_BAD_REQUEST;
    }
    for (p = method + mlen + 1; p < url; p++) {
        if (*p != ' ') {
            snprintf(why, whylen, "NUL byte in the request line");
            return MHD_HTTP_BAD_REQUEST;
        }
    }
    w.prev_end = version + strlen(version);
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, walk_header, &w);
    if (w.folded) {
        snprintf(why, whylen, "a header continued on the next line (obs-fold) is not accepted");
        return MHD_HTTP_BAD_REQUEST;
    }
    /* After the last line: its end and the empty line's. */
    if (!w.nul && !line_end_ok(w.prev_end, (const char *)w.end, 2, 4)) {
        w.nul = 1;
        w.nul_in = w.prev_key;
    }
    if (w.nul) {
        if (w.nul_in)
            snprintf(why, whylen, "NUL byte in header '%.*s'", QUOTE_MAX, w.nul_in);
        else
            snprintf(why, whylen, "NUL byte in the request line");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (w.n_cl > 1) {
        snprintf(why, whylen, "more than one Content-Length header");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (w.n_te && w.n_cl) {
        snprintf(why, whylen, "Transfer-Encoding and Content-Length together");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (w.n_te > 1) {
        snprintf(why, whylen, "more than one Transfer-Encoding header");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (w.n_te && strcmp(version, MHD_HTTP_VERSION_1_0) == 0) {
        snprintf(why, whylen, "Transfer-Encoding in an HTTP/1.0 request");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (w.n_te && (strlen(w.te) != 7 || vn_strncasecmp_ascii(w.te, "chunked", 7) != 0)) {
        snprintf(why, whylen, "Transfer-Encoding '%.*s' is not supported (only chunked)", QUOTE_MAX,
                 w.te);
        return MHD_HTTP_NOT_IMPLEMENTED;
    }
    return 0;
}

size_t vn_framing_unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    if (strstr(uri, "%00")) {
        uri[0] = '\0';
        return 0;
    }
    return MHD_http_unescape(uri);
}

int vn_framing_answer_now(struct MHD_Connection *conn, unsigned status, const char *json)
{
    const union MHD_ConnectionInfo *tls =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char buf[1024];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n%s",
                     status, MHD_get_reason_phrase_for(status), strlen(json), json);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    /* Nothing else writes to this connection now: no response is queued on it, and this is
     * the thread that serves it. The socket is non-blocking; a short answer fits at once. */
    if (tls && tls->tls_session)
        return gnutls_record_send((gnutls_session_t)tls->tls_session, buf, (size_t)n) == n ? 0 : -1;
    if (!fd)
        return -1;
    return send(fd->connect_fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n ? 0 : -1;
}
