/*
 * net.h - small network helpers shared by the HTTP servers (vppnotify's httpd, vppsim, the
 * test receiver): listen addresses, printable socket addresses, libmicrohttpd's log hook.
 */
#ifndef VPPNOTIFY_NET_H
#define VPPNOTIFY_NET_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

struct vn_error;

/*
 * Resolve a listen address: "HOST:PORT", "[IPV6]:PORT" or ":PORT" (all addresses); HOST may be
 * numeric or a name such as localhost; PORT 0 asks for any free port. 0, or VN_EUSAGE with err
 * quoting the address.
 */
int vn_listen_resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                      struct vn_error *err);

/*
 * A listening TCP socket on a listen address (vn_listen_resolve's forms), close-on-exec, with
 * SO_REUSEADDR (and IPV6_V6ONLY for an IPv6 address). *fd is the caller's to close (or to hand
 * to libmicrohttpd). addr gets the bound "ADDR:PORT" (the real port when PORT was 0). 0, or an
 * error naming the address tried and the system call's reason ("cannot listen on
 * 127.0.0.1:8080: bind: Address already in use").
 */
int vn_listen_socket(const char *where, int backlog, int *fd, char *addr, size_t addrlen,
                     struct vn_error *err);

/* "ADDR:PORT" or "[ADDR]:PORT" of a socket address, with port replacing its own when > 0. */
void vn_sockaddr_format(const struct sockaddr *sa, unsigned port, char *out, size_t outlen);

/* The numeric host of a socket address ("127.0.0.1", "::1"), or "?". */
void vn_sockaddr_host(const struct sockaddr *sa, char *out, size_t outlen);

/* An address range: "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7", "::1"). */
struct vn_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned bits;
};

/* Parse a range. 0, or VN_EUSAGE with err quoting it. */
int vn_cidr_parse(const char *s, struct vn_cidr *out, struct vn_error *err);

/* 1 if sa (AF_INET, or AF_INET6 also as an IPv4-mapped address) is in one of the n ranges. */
int vn_cidr_match(const struct vn_cidr *c, size_t n, const struct sockaddr *sa);

/*
 * The client of a request that reached us through trusted proxies (X-Forwarded-For):
 * values are the header's values in order (several headers are one list). Entries are read
 * from the right; each one in a trusted range is a proxy and is skipped; the first that is not
 * is the client (the rightmost untrusted hop: what is left of it the client could have
 * written itself). If every entry is trusted, the leftmost one. peer is where the request came
 * from (the nearest proxy); with no entry it is the client. An entry that is not an address
 * (or a list longer than 64 entries) ends the walk: the last trusted hop is the client, and
 * VN_EPARSE says so. 0 or VN_EPARSE; *client is set either way.
 */
int vn_forwarded_client(const char *const *values, size_t nvalues, const struct vn_cidr *trusted,
                        size_t ntrusted, const struct sockaddr *peer,
                        struct sockaddr_storage *client);

/* Write "ADDR\n" to path atomically (a temporary file renamed), for tests and scripts that
 * wait for a server to listen. 0 or -errno. */
int vn_ready_file_write(const char *path, const char *addr);

/* libmicrohttpd's external logger: each message becomes one warn line "libmicrohttpd: ...". */
void vn_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
