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

/* Write "ADDR\n" to path atomically (a temporary file renamed), for tests and scripts that
 * wait for a server to listen. 0 or -errno. */
int vn_ready_file_write(const char *path, const char *addr);

/* libmicrohttpd's external logger: each message becomes one warn line "libmicrohttpd: ...". */
void vn_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
