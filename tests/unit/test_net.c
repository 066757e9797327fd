/* Unit tests of net.c's address ranges and X-Forwarded-For (the --trusted-proxy rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "vppnotify/error.h"
#include "vppnotify/net.h"

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        fail_msg("bad test address %s", text);
    return ss;
}

static int in(const struct vn_cidr *c, size_t n, const char *text)
{
    struct sockaddr_storage ss = addr(text);

    return vn_cidr_match(c, n, (struct sockaddr *)&ss);
}

static void test_cidr_parse_and_match(void **state)
{
    struct vn_cidr c[4];
    struct vn_error err = {0};

    (void)state;
    assert_int_equal(vn_cidr_parse("10.0.0.0/8", &c[0], &err), 0);
    assert_int_equal(vn_cidr_parse("192.0.2.7", &c[1], &err), 0);
    assert_int_equal(vn_cidr_parse("2001:db8::/32", &c[2], &err), 0);
    assert_int_equal(vn_cidr_parse("172.16.0.0/12", &c[3], &err), 0);
    assert_true(in(c, 4, "10.1.2.3"));
    assert_true(in(c, 4, "192.0.2.7"));
    assert_false(in(c, 4, "192.0.2.8"));
    assert_true(in(c, 4, "2001:db8:1::5"));
    assert_false(in(c, 4, "2001:db9::5"));
    assert_true(in(c, 4, "172.31.255.255"));
    assert_false(in(c, 4, "172.32.0.0"));
    assert_true(in(c, 4, "::ffff:10.9.8.7")); /* IPv4-mapped */
    assert_false(in(c, 4, "11.0.0.1"));
    assert_false(in(c, 0, "10.0.0.1"));
    assert_int_equal(vn_cidr_parse("0.0.0.0/0", &c[0], &err), 0);
    assert_true(in(c, 1, "203.0.113.9"));
    assert_false(in(c, 1, "2001:db8::1")); /* another family */
}

static void test_cidr_parse_errors(void **state)
{
    struct vn_cidr c;
    struct vn_error err = {0};

    (void)state;
    assert_int_equal(vn_cidr_parse("10.0.0.0/33", &c, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "'10.0.0.0/33'"));
    assert_non_null(strstr(err.msg, "0..32"));
    assert_int_equal(vn_cidr_parse("10.1.2.3/8", &c, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "past the /8 prefix"));
    assert_int_equal(vn_cidr_parse("proxy.example.com", &c, &err), VN_EUSAGE);
    assert_int_equal(vn_cidr_parse("10.0.0.0/", &c, &err), VN_EUSAGE);
    assert_int_equal(vn_cidr_parse("10.0.0.0/+8", &c, &err), VN_EUSAGE);
    assert_int_equal(vn_cidr_parse("", &c, &err), VN_EUSAGE);
}

/* client(values..., NULL): the client X-Forwarded-For names, as text. */
static const char *client_of(const struct vn_cidr *t, size_t nt, const char *peer, int *rc,
                             const char *const *values, size_t n)
{
    static char out[64];
    struct sockaddr_storage p = addr(peer), c;

    *rc = vn_forwarded_client(values, n, t, nt, (struct sockaddr *)&p, &c);
    vn_sockaddr_host((struct sockaddr *)&c, out, sizeof(out));
    return out;
}

static void test_forwarded_client(void **state)
{
    struct vn_cidr t[2];
    int rc;

    (void)state;
    assert_int_equal(vn_cidr_parse("10.0.0.0/8", &t[0], NULL), 0);
    assert_int_equal(vn_cidr_parse("2001:db8::/32", &t[1], NULL), 0);
    {
        /* No header: the peer itself. */
        assert_string_equal(client_of(t, 2, "10.0.0.1", &rc, NULL, 0), "10.0.0.1");
        assert_int_equal(rc, 0);
    }
    {
        /* The rightmost untrusted hop; what the client wrote left of it does not count. */
        const char *v[] = {"6.6.6.6, 203.0.113.5, 10.0.0.2"};
        assert_string_equal(client_of(t, 2, "10.0.0.1", &rc, v, 1), "203.0.113.5");
        assert_int_equal(rc, 0);
    }
    {
        /* Several headers are one list, in order. */
        const char *v[] = {"6.6.6.6", "198.51.100.4,10.0.0.9", " 10.1.1.1 "};
        assert_string_equal(client_of(t, 2, "10.0.0.1", &rc, v, 3), "198.51.100.4");
    }
    {
        /* Every hop trusted: the leftmost. */
        const char *v[] = {"10.3.3.3, 10.2.2.2"};
        assert_string_equal(client_of(t, 2, "10.0.0.1", &rc, v, 1), "10.3.3.3");
    }
    {
        /* IPv6, with brackets, and empty elements. */
        const char *v[] = {"[2001:db9::7],, 2001:db8::1"};
        assert_string_equal(client_of(t, 2, "10.0.0.1", &rc, v, 1), "2001:db9::7");
    }
    {
        /* Not an address: the walk ends at the last trusted hop, and says so. */
        const char *v[] = {"unknown, 10.0.0.5"};
        assert_string_equal(client_of(t, 2, "10.0.0.1", &rc, v, 1), "10.0.0.5");
        assert_int_equal(rc, VN_EPARSE);
        const char *w[] = {"garbage"};
        assert_string_equal(client_of(t, 2, "10.0.0.1", &rc, w, 1), "10.0.0.1");
        assert_int_equal(rc, VN_EPARSE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse_and_match),
        cmocka_unit_test(test_cidr_parse_errors),
        cmocka_unit_test(test_forwarded_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
