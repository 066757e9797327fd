/* net.c - see include/vppnotify/net.h. */
#include "vppnotify/net.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

int vn_listen_resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                      struct vn_error *err)
{
    struct addrinfo hints, *res = NULL;
    const char *colon;
    char host[256], port[16];
    size_t hl;
    int rc;

    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':')
            return vn_error_set(err, VN_EUSAGE, "listen address '%s': expected [ADDR]:PORT",
                                listen);
        hl = (size_t)(end - listen - 1);
        colon = end + 1;
        if (hl >= sizeof(host))
            return vn_error_set(err, VN_EUSAGE, "listen address '%s' is too long", listen);
        memcpy(host, listen + 1, hl);
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return vn_error_set(err, VN_EUSAGE, "listen address '%s': expected HOST:PORT", listen);
        hl = (size_t)(colon - listen);
        if (hl >= sizeof(host))
            return vn_error_set(err, VN_EUSAGE, "listen address '%s' is too long", listen);
        memcpy(host, listen, hl);
    }
    host[hl] = '\0';
    if (strlen(colon + 1) >= sizeof(port) || !vn_is_digits(colon + 1, strlen(colon + 1)) ||
        strlen(colon + 1) > 5 || strtol(colon + 1, NULL, 10) > 65535)
        return vn_error_set(err, VN_EUSAGE, "listen address '%s': port '%s' is not 0..65535",
                            listen, colon + 1);
    vn_strlcpy(port, colon + 1, sizeof(port));
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(hl ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res)
        return vn_error_set(err, VN_EUSAGE, "listen address '%s': %s", listen, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int vn_listen_socket(const char *where, int backlog, int *fd, char *addr, size_t addrlen,
                     struct vn_error *err)
{
    struct sockaddr_storage ss, bound;
    socklen_t sslen, blen = sizeof(bound);
    char tried[INET6_ADDRSTRLEN + 16];
    const char *step = "socket";
    int s, one = 1, rc;

    *fd = -1;
    rc = vn_listen_resolve(where, &ss, &sslen, err);
    if (rc)
        return rc;
    vn_sockaddr_format((struct sockaddr *)&ss, 0, tried, sizeof(tried));
    s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && (step = "setsockopt SO_REUSEADDR",
                   setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0))
        goto fail;
    if (s >= 0 && ss.ss_family == AF_INET6 &&
        (step = "setsockopt IPV6_V6ONLY",
         setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0))
        goto fail;
    if (s < 0 || (step = "bind", bind(s, (struct sockaddr *)&ss, sslen) != 0) ||
        (step = "listen", listen(s, backlog) != 0) ||
        (step = "getsockname", getsockname(s, (struct sockaddr *)&bound, &blen) != 0))
        goto fail;
    vn_sockaddr_format((struct sockaddr *)&bound, 0, addr, addrlen);
    *fd = s;
    return 0;
fail:
    rc = errno;
    if (s >= 0)
        close(s);
    return vn_error_set(err, VN_ENET, "cannot listen on %s%s%s%s: %s: %s", tried,
                        strcmp(tried, where) ? " ('" : "", strcmp(tried, where) ? where : "",
                        strcmp(tried, where) ? "')" : "", step, strerror(rc));
}

/* ---- address ranges and X-Forwarded-For ----------------------------------------------------- */

/* A numeric address into sa (port 0). 0, or -1 when text is not one. */
static int parse_ip(const char *text, size_t len, struct sockaddr_storage *ss)
{
    char buf[INET6_ADDRSTRLEN + 8];
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

int vn_cidr_parse(const char *s, struct vn_cidr *out, struct vn_error *err)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    struct sockaddr_storage ss;
    long long bits;
    unsigned max;

    memset(out, 0, sizeof(*out));
    if (parse_ip(s, alen, &ss) != 0 || (alen && s[0] == '['))
        return vn_error_set(err, VN_EUSAGE,
                            "trusted proxy '%s': expected an address or ADDRESS/BITS "
                            "(10.0.0.0/8, 2001:db8::/32)",
                            s);
    out->family = ss.ss_family;
    max = ss.ss_family == AF_INET ? 32 : 128;
    if (ss.ss_family == AF_INET)
        memcpy(out->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    else
        memcpy(out->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    out->bits = max;
    if (slash) {
        if (vn_parse_ll(slash + 1, 0, max, &bits) != 0 ||
            !vn_is_digits(slash + 1, strlen(slash + 1)))
            return vn_error_set(err, VN_EUSAGE, "trusted proxy '%s': prefix length must be 0..%u",
                                s, max);
        out->bits = (unsigned)bits;
    }
    /* The bits past the prefix must be zero: "10.1.2.3/8" is more likely a typo than a range. */
    for (unsigned i = out->bits; i < max; i++)
        if (out->addr[i / 8] & (0x80 >> (i % 8)))
            return vn_error_set(err, VN_EUSAGE,
                                "trusted proxy '%s': bits set past the /%u prefix (did you mean "
                                "a network address?)",
                                s, out->bits);
    return 0;
}

static int in_range(const struct vn_cidr *c, int family, const unsigned char *addr)
{
    unsigned full = c->bits / 8, rest = c->bits % 8;

    if (c->family != family)
        return 0;
    if (memcmp(c->addr, addr, full) != 0)
        return 0;
    return rest == 0 || ((c->addr[full] ^ addr[full]) & (0xff00 >> rest)) == 0;
}

int vn_cidr_match(const struct vn_cidr *c, size_t n, const struct sockaddr *sa)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a;
    int family;

    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        family = AF_INET;
        a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        family = AF_INET6;
        a = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            family = AF_INET;
            a += 12;
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (in_range(&c[i], family, a))
            return 1;
    return 0;
}

#define XFF_ENTRIES_MAX 64

int vn_forwarded_client(const char *const *values, size_t nvalues, const struct vn_cidr *trusted,
                        size_t ntrusted, const struct sockaddr *peer,
                        struct sockaddr_storage *client)
{
    size_t seen = 0;

    memset(client, 0, sizeof(*client));
    if (peer)
        memcpy(client, peer,
               peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
    /* From the last value's last entry to the first value's first. */
    for (size_t v = nvalues; v-- > 0;) {
        const char *start = values[v], *end = start + strlen(start);
        while (end > start) {
            const char *comma = end, *a, *b;
            struct sockaddr_storage ss;
            while (comma > start && comma[-1] != ',')
                comma--;
            a = comma;
            b = end;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            end = comma > start ? comma - 1 : start;
            if (a == b)
                continue; /* an empty element ("a,,b") */
            if (++seen > XFF_ENTRIES_MAX || parse_ip(a, (size_t)(b - a), &ss) != 0)
                return VN_EPARSE;
            *client = ss;
            if (!vn_cidr_match(trusted, ntrusted, (struct sockaddr *)&ss))
                return 0;
        }
    }
    return 0;
}

void vn_sockaddr_host(const struct sockaddr *sa, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
    vn_strlcpy(out, host, outlen);
}

void vn_sockaddr_format(const struct sockaddr *sa, unsigned port, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];

    vn_sockaddr_host(sa, host, sizeof(host));
    if (port == 0 && sa && sa->sa_family == AF_INET)
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    else if (port == 0 && sa && sa->sa_family == AF_INET6)
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    snprintf(out, outlen, sa && sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

int vn_ready_file_write(const char *path, const char *addr)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "%s\n", addr);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int rc = -errno;
        unlink(tmp);
        return rc;
    }
    return 0;
}

/*
 * libmicrohttpd reports what single clients did wrong (a closed connection, a bad header, a
 * failed TLS handshake) with the same function as its own failures. A client must not be
 * able to flood the log: those lines are debug, and the rest are capped per minute.
 */
static const char *const per_client[] = {
    "Connection socket is closed",
    "Connection was closed by remote side",
    "Socket has been disconnected",
    "Error processing request (HTTP response code",
    "received handshake message out of context",
    "Content-Length",
    "without `Host' header",
    "Failed to send",
    "Server reached connection limit",
    "Connection rejected by application",
    "Not enough memory in pool",
    "incomplete upload processing",
    "Too late to send an error response",
    "Application reported internal error", /* our handler closing a connection on purpose */
    "Setting TCP_NODELAY",
    "Setting TCP_CORK",
};

#define MHD_LOG_WINDOW_MS 60000
#define MHD_LOG_MAX       30

void vn_mhd_log(void *cls, const char *fmt, va_list ap)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t window_ms;
    static unsigned lines, dropped;
    char msg[512];
    unsigned was_dropped = 0;
    int64_t now;
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    for (size_t i = 0; i < sizeof(per_client) / sizeof(per_client[0]); i++) {
        if (strstr(msg, per_client[i])) {
            vn_log_debug("libmicrohttpd: %s", msg);
            return;
        }
    }
    now = vn_now_ms();
    pthread_mutex_lock(&mu);
    if (now - window_ms >= MHD_LOG_WINDOW_MS) {
        was_dropped = dropped;
        window_ms = now;
        lines = dropped = 0;
    }
    if (lines >= MHD_LOG_MAX) {
        dropped++;
        pthread_mutex_unlock(&mu);
        return;
    }
    lines++;
    pthread_mutex_unlock(&mu);
    if (was_dropped)
        vn_log_warn("libmicrohttpd: %u more messages in the last minute were not logged",
                    was_dropped);
    vn_log_warn("libmicrohttpd: %s", msg);
}
