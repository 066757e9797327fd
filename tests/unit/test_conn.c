/*
 * test_conn.c - the endpoint's connection tracker (src/lib/ingest/conn.h): per-address limits,
 * header and body deadlines, half-closed clients, headroom near the connection limit. Each
 * tracked "connection" is the server end of a real loopback TCP pair; what a client sees (EOF
 * after the server's shutdown) is what is asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/lib/ingest/conn.h"
#include "vppnotify/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pair {
    int client, server;
    struct sockaddr_in peer; /* the client's address, as the server sees it */
};

static int listener = -1;
static struct sockaddr_in laddr;

static int setup(void **state)
{
    socklen_t len = sizeof(laddr);

    (void)state;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    memset(&laddr, 0, sizeof(laddr));
    laddr.sin_family = AF_INET;
    laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&laddr, sizeof(laddr)) != 0 ||
        listen(listener, 64) != 0 || getsockname(listener, (struct sockaddr *)&laddr, &len) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(listener);
    return 0;
}

/* A connected pair whose client is bound to from ("127.0.0.2" ...). */
static void pair_open(struct pair *p, const char *from)
{
    struct sockaddr_in src = {.sin_family = AF_INET};
    socklen_t len = sizeof(p->peer);

    assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
    p->client = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->client >= 0);
    assert_int_equal(bind(p->client, (struct sockaddr *)&src, sizeof(src)), 0);
    assert_int_equal(connect(p->client, (struct sockaddr *)&laddr, sizeof(laddr)), 0);
    p->server = accept(listener, (struct sockaddr *)&p->peer, &len);
    assert_true(p->server >= 0);
}

static void pair_close(struct pair *p)
{
    close(p->client);
    close(p->server);
}

/* Did the server end the connection? (The client reads EOF at once, or not.) */
static int client_sees_eof(const struct pair *p)
{
    struct pollfd pfd = {.fd = p->client, .events = POLLIN};
    char b;

    return poll(&pfd, 1, 0) == 1 && recv(p->client, &b, 1, MSG_DONTWAIT) == 0;
}

static struct vn_conns *tracker(unsigned max, unsigned per_ip, int64_t header_ms, int64_t body_ms)
{
    struct vn_conns_limits l = {.max_connections = max,
                                .max_per_ip = per_ip,
                                .header_timeout_ms = header_ms,
                                .read_timeout_ms = body_ms,
                                .manual = 1};
    struct vn_error err = {0};
    struct vn_conns *t = vn_conns_new(&l, NULL, NULL, &err);

    assert_non_null(t);
    return t;
}

static void test_per_ip_limit(void **state)
{
    struct vn_conns *t = tracker(100, 2, 60000, 60000);
    struct pair a, b, c;
    struct vn_conn *ca, *cb, *cc;
    struct vn_conns_stats st;

    (void)state;
    pair_open(&a, "127.0.0.2");
    pair_open(&b, "127.0.0.2");
    pair_open(&c, "127.0.0.3");
    assert_true(vn_conns_may_accept(t, (struct sockaddr *)&a.peer));
    ca = vn_conns_opened(t, a.server, (struct sockaddr *)&a.peer);
    assert_true(vn_conns_may_accept(t, (struct sockaddr *)&b.peer));
    cb = vn_conns_opened(t, b.server, (struct sockaddr *)&b.peer);
    /* The third from 127.0.0.2 is refused; another address is not. */
    assert_false(vn_conns_may_accept(t, (struct sockaddr *)&a.peer));
    assert_true(vn_conns_may_accept(t, (struct sockaddr *)&c.peer));
    cc = vn_conns_opened(t, c.server, (struct sockaddr *)&c.peer);
    /* One closes: 127.0.0.2 may connect again. */
    vn_conns_closed(t, ca);
    assert_true(vn_conns_may_accept(t, (struct sockaddr *)&a.peer));
    vn_conns_stats(t, &st);
    assert_int_equal(st.refused_per_ip, 1);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.accepted, 3);
    vn_conns_closed(t, cb);
    vn_conns_closed(t, cc);
    vn_conns_free(t);
    pair_close(&a);
    pair_close(&b);
    pair_close(&c);
}

static int exempt_all(void *ud, const struct sockaddr *sa)
{
    (void)ud;
    (void)sa;
    return 1;
}

static void test_exempt_peer(void **state)
{
    struct vn_conns_limits l = {.max_connections = 100,
                                .max_per_ip = 1,
                                .header_timeout_ms = 60000,
                                .read_timeout_ms = 60000,
                                .manual = 1};
    struct vn_conns *t = vn_conns_new(&l, exempt_all, NULL, NULL);
    struct pair a;
    struct vn_conn *c1, *c2;

    (void)state;
    pair_open(&a, "127.0.0.2");
    c1 = vn_conns_opened(t, a.server, (struct sockaddr *)&a.peer);
    c2 = vn_conns_opened(t, a.server, (struct sockaddr *)&a.peer);
    assert_true(vn_conns_may_accept(t, (struct sockaddr *)&a.peer));
    vn_conns_closed(t, c1);
    vn_conns_closed(t, c2);
    vn_conns_free(t);
    pair_close(&a);
}

/* Headers not complete within the deadline: the server shuts the connection. A connection in
 * the body or busy phase is not subject to the header deadline. */
static void test_header_deadline(void **state)
{
    struct vn_conns *t = tracker(100, 0, 0, 60000);
    struct pair slow, busy;
    struct vn_conn *cs, *cb;
    struct vn_conns_stats st;

    (void)state;
    pair_open(&slow, "127.0.0.2");
    pair_open(&busy, "127.0.0.2");
    cs = vn_conns_opened(t, slow.server, (struct sockaddr *)&slow.peer);
    cb = vn_conns_opened(t, busy.server, (struct sockaddr *)&busy.peer);
    vn_conn_set_phase(cb, VN_CONN_BUSY);
    vn_conns_scan(t);
    assert_true(client_sees_eof(&slow));
    assert_false(client_sees_eof(&busy));
    vn_conns_stats(t, &st);
    assert_int_equal(st.header_timeouts, 1);
    vn_conns_closed(t, cs);
    vn_conns_closed(t, cb);
    vn_conns_free(t);
    pair_close(&slow);
    pair_close(&busy);
}

static void test_body_deadline(void **state)
{
    struct vn_conns *t = tracker(100, 0, 60000, 0);
    struct pair p;
    struct vn_conn *c;
    struct vn_conns_stats st;

    (void)state;
    pair_open(&p, "127.0.0.2");
    c = vn_conns_opened(t, p.server, (struct sockaddr *)&p.peer);
    vn_conns_scan(t);
    assert_false(client_sees_eof(&p));
    vn_conn_set_phase(c, VN_CONN_BODY);
    vn_conns_scan(t);
    assert_true(client_sees_eof(&p));
    vn_conns_stats(t, &st);
    assert_int_equal(st.body_timeouts, 1);
    vn_conns_closed(t, c);
    vn_conns_free(t);
    pair_close(&p);
}

/* A client that sent FIN mid-request, with nothing left to read, is closed on the second scan
 * (not the first: the server had a tick to read the last bytes); unread bytes keep it open. */
static void test_half_closed(void **state)
{
    struct vn_conns *t = tracker(100, 0, 60000, 60000);
    struct pair fin, pending;
    struct vn_conn *cf, *cp;
    struct vn_conns_stats st;
    struct pollfd pfd;

    (void)state;
    pair_open(&fin, "127.0.0.2");
    pair_open(&pending, "127.0.0.2");
    cf = vn_conns_opened(t, fin.server, (struct sockaddr *)&fin.peer);
    cp = vn_conns_opened(t, pending.server, (struct sockaddr *)&pending.peer);
    assert_int_equal(send(pending.client, "GET", 3, 0), 3);
    shutdown(fin.client, SHUT_WR);
    shutdown(pending.client, SHUT_WR);
    pfd = (struct pollfd){.fd = fin.server, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1); /* the FIN has arrived */
    vn_conns_scan(t);
    assert_false(client_sees_eof(&fin));
    vn_conns_scan(t);
    assert_true(client_sees_eof(&fin));
    assert_false(client_sees_eof(&pending));
    vn_conns_stats(t, &st);
    assert_int_equal(st.half_closed, 1);
    vn_conns_closed(t, cf);
    vn_conns_closed(t, cp);
    vn_conns_free(t);
    pair_close(&fin);
    pair_close(&pending);
}

/* Near the limit (7 of 8 kept), a new connection closes one still waiting for its headers,
 * from the address that holds the most: not the lone client's, not one in its body. */
static void test_headroom(void **state)
{
    struct vn_conns *t = tracker(8, 0, 60000, 60000);
    struct pair p[8];
    struct vn_conn *c[8];
    struct vn_conns_stats st;

    (void)state;
    pair_open(&p[0], "127.0.0.1"); /* the lone client, oldest of all */
    c[0] = vn_conns_opened(t, p[0].server, (struct sockaddr *)&p[0].peer);
    pair_open(&p[1], "127.0.0.2"); /* a hoarder's, in its body */
    c[1] = vn_conns_opened(t, p[1].server, (struct sockaddr *)&p[1].peer);
    vn_conn_set_phase(c[1], VN_CONN_BODY);
    for (int i = 2; i < 7; i++) {
        pair_open(&p[i], "127.0.0.2");
        c[i] = vn_conns_opened(t, p[i].server, (struct sockaddr *)&p[i].peer);
    }
    vn_conns_stats(t, &st);
    assert_int_equal(st.evicted, 0);
    pair_open(&p[7], "127.0.0.3");
    c[7] = vn_conns_opened(t, p[7].server, (struct sockaddr *)&p[7].peer);
    vn_conns_stats(t, &st);
    assert_int_equal(st.evicted, 1);
    assert_false(client_sees_eof(&p[0]));
    assert_false(client_sees_eof(&p[1]));
    assert_true(client_sees_eof(&p[2])); /* the hoarder's oldest waiting for headers */
    for (int i = 3; i < 8; i++)
        assert_false(client_sees_eof(&p[i]));
    for (int i = 0; i < 8; i++) {
        vn_conns_closed(t, c[i]);
        pair_close(&p[i]);
    }
    vn_conns_free(t);
}

static void test_generations(void **state)
{
    struct vn_conns *t = tracker(100, 0, 60000, 60000);
    struct pair a, b;
    struct vn_conn *ca, *cb;

    (void)state;
    pair_open(&a, "127.0.0.2");
    pair_open(&b, "127.0.0.2");
    ca = vn_conns_opened(t, a.server, (struct sockaddr *)&a.peer);
    assert_int_equal(vn_conns_next_generation(t), 1);
    cb = vn_conns_opened(t, b.server, (struct sockaddr *)&b.peer);
    assert_int_equal(vn_conn_generation(ca), 0);
    assert_int_equal(vn_conn_generation(cb), 1);
    assert_int_equal(vn_conns_oldest_generation(t), 0);
    vn_conns_closed(t, ca);
    assert_int_equal(vn_conns_oldest_generation(t), 1);
    vn_conns_closed(t, cb);
    assert_int_equal(vn_conns_oldest_generation(t), 1);
    vn_conns_free(t);
    pair_close(&a);
    pair_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_ip_limit),    cmocka_unit_test(test_exempt_peer),
        cmocka_unit_test(test_header_deadline), cmocka_unit_test(test_body_deadline),
        cmocka_unit_test(test_half_closed),     cmocka_unit_test(test_headroom),
        cmocka_unit_test(test_generations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
