/* Unit tests of the small helpers: util.c, buf.c, opts.c, json.c, secret.c, log.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/log.h"
#include "vppnotify/opts.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

static void test_parse_duration(void **state)
{
    long long ms;

    assert_int_equal(vn_parse_duration_ms("30s", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(vn_parse_duration_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(vn_parse_duration_ms("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(vn_parse_duration_ms("2h", &ms), 0);
    assert_int_equal(ms, 7200000);
    assert_int_equal(vn_parse_duration_ms("7", &ms), 0);
    assert_int_equal(ms, 7000);
    assert_int_equal(vn_parse_duration_ms("5 m", &ms), VN_EPARSE);
    assert_int_equal(vn_parse_duration_ms("-5s", &ms), VN_EPARSE);
    assert_int_equal(vn_parse_duration_ms("", &ms), VN_EPARSE);
    assert_int_equal(vn_parse_duration_ms("99999999999999999999s", &ms), VN_ETOOBIG);
}

static void test_parse_size(void **state)
{
    long long b;

    assert_int_equal(vn_parse_size("1M", &b), 0);
    assert_int_equal(b, 1048576);
    assert_int_equal(vn_parse_size("64KiB", &b), 0);
    assert_int_equal(b, 65536);
    assert_int_equal(vn_parse_size("100", &b), 0);
    assert_int_equal(b, 100);
    assert_int_equal(vn_parse_size("1T", &b), VN_EPARSE);
}

static void test_parse_ll(void **state)
{
    long long v;

    assert_int_equal(vn_parse_ll("-12", -100, 100, &v), 0);
    assert_int_equal(v, -12);
    assert_int_equal(vn_parse_ll("12x", 0, 100, &v), VN_EPARSE);
    assert_int_equal(vn_parse_ll("101", 0, 100, &v), VN_ETOOBIG);
    assert_int_equal(vn_parse_ll(" 1", 0, 100, &v), VN_EPARSE);
}

static void test_time_roundtrip(void **state)
{
    char iso[VN_TIME_ISO_LEN];
    int64_t ms;

    assert_int_equal(vn_time_parse("2030-11-08T22:33:22+0000", &ms), 0);
    vn_time_iso(ms, iso);
    assert_string_equal(iso, "2030-11-08T22:33:22.000Z");
    vn_time_apple(ms, iso);
    assert_string_equal(iso, "2030-11-08T22:33:22+0000");
    assert_int_equal(vn_time_parse("2030-11-08T23:33:22.5+01:00", &ms), 0);
    vn_time_iso(ms, iso);
    assert_string_equal(iso, "2030-11-08T22:33:22.500Z");
    assert_int_equal(vn_time_parse("2027-01-15", &ms), 0);
    vn_time_iso(ms, iso);
    assert_string_equal(iso, "2027-01-15T00:00:00.000Z");
    assert_int_equal(vn_time_parse("2030-13-08T22:33:22Z", &ms), VN_EPARSE);
    assert_int_equal(vn_time_parse("2030-11-08T22:33:22", &ms), VN_EPARSE);
}

static void test_buf_bounded(void **state)
{
    struct vn_buf b;

    vn_buf_init(&b, 8);
    assert_string_equal(vn_buf_str(&b), "");
    assert_int_equal(vn_buf_puts(&b, "12345"), 0);
    assert_int_equal(vn_buf_printf(&b, "%d", 678), 0);
    assert_string_equal(vn_buf_str(&b), "12345678");
    assert_int_equal(vn_buf_puts(&b, "9"), VN_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_int_equal(vn_buf_printf(&b, "x"), VN_ETOOBIG);
    vn_buf_release(&b);
}

struct cfg {
    int help;
    char *db;
    long long n;
    long long timeout;
    char *fmt;
    struct vn_strlist serial;
};

static const struct vn_opt opts[] = {
    {"help", VN_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL, "show help", offsetof(struct cfg, help)},
    {"db", VN_OPT_STRING, "x.db", 0, 0, NULL, "VN_TEST_DB", "PATH", "database",
     offsetof(struct cfg, db)},
    {"n", VN_OPT_INT, "3", 1, 10, NULL, NULL, "N", "a number", offsetof(struct cfg, n)},
    {"timeout", VN_OPT_DURATION, "30s", 1, 3600000, NULL, NULL, "DUR", "a duration",
     offsetof(struct cfg, timeout)},
    {"format", VN_OPT_CHOICE, "text", 0, 0, "text|json", NULL, "F", "format",
     offsetof(struct cfg, fmt)},
    {"serial", VN_OPT_LIST, NULL, 0, 0, NULL, NULL, "S", "serials", offsetof(struct cfg, serial)},
};
static const struct vn_opt_table table = {opts, sizeof(opts) / sizeof(opts[0])};
static const char *const all[] = {"help", "db", "n", "timeout", "format", "serial", NULL};

static void test_opts_precedence_and_positionals(void **state)
{
    char *argv[] = {"prog",     "pos1", "--n",      "7", "--timeout=5m", "pos2",
                    "--serial", "A,B",  "--serial", "C", "--",           "--n"};
    int argc = sizeof(argv) / sizeof(argv[0]), first = 0;
    struct cfg c;
    struct vn_error err;

    memset(&c, 0, sizeof(c));
    setenv("VN_TEST_DB", "env.db", 1);
    assert_int_equal(vn_opts_parse(&table, all, &c, argc, argv, &first, &err), 0);
    assert_string_equal(c.db, "env.db");
    assert_int_equal(c.n, 7);
    assert_int_equal(c.timeout, 300000);
    assert_string_equal(c.fmt, "text");
    assert_int_equal(c.serial.n, 3);
    assert_string_equal(c.serial.v[2], "C");
    assert_int_equal(argc - first, 3);
    assert_string_equal(argv[first], "pos1");
    assert_string_equal(argv[first + 1], "pos2");
    assert_string_equal(argv[first + 2], "--n");
    vn_opts_release(&table, &c);
    unsetenv("VN_TEST_DB");
}

static void test_opts_errors_quote_the_value(void **state)
{
    char *argv1[] = {"prog", "--n", "11"};
    char *argv2[] = {"prog", "--format", "xml"};
    char *argv3[] = {"prog", "--bogus"};
    char *argv4[] = {"prog", "--n"};
    char *argv5[] = {"prog", "--timeout", "-1s"};
    char *argv6[] = {"prog", "--timeout", "2h"};
    char *argv7[] = {"prog", "--n", "x"};
    struct cfg c;
    struct vn_error err;
    int first;

    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse(&table, all, &c, 3, argv1, &first, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "'--n' value '11' is outside 1..10"));
    assert_int_equal(vn_opts_parse(&table, all, &c, 3, argv2, &first, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "'xml': expected one of text|json"));
    assert_int_equal(vn_opts_parse(&table, all, &c, 2, argv3, &first, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "unknown option '--bogus'"));
    assert_int_equal(vn_opts_parse(&table, all, &c, 2, argv4, &first, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "'--n' needs a value"));
    /* a value that is not a number names the limits too */
    assert_int_equal(vn_opts_parse(&table, all, &c, 3, argv5, &first, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "'--timeout' value '-1s': expected a duration"));
    assert_non_null(strstr(err.msg, "(limits 1ms..1h)"));
    assert_int_equal(vn_opts_parse(&table, all, &c, 3, argv6, &first, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "'--timeout' value '2h' is outside 1ms..1h"));
    assert_int_equal(vn_opts_parse(&table, all, &c, 3, argv7, &first, &err), VN_EUSAGE);
    assert_non_null(strstr(err.msg, "'--n' value 'x': expected an integer (limits 1..10)"));
    vn_opts_release(&table, &c);
}

static void test_json_strict(void **state)
{
    struct vn_error err;
    json_t *v;

    v = vn_json_load("{\"a\":1,\"a\":2}", 13, 32, &err);
    assert_null(v);
    assert_non_null(strstr(err.msg, "duplicate"));
    v = vn_json_load("{\"a\":\"\xff\"}", 9, 32, &err);
    assert_null(v);
    v = vn_json_load("{\"a\":123456789012345678901234567890}", 36, 32, &err);
    assert_null(v);
    assert_non_null(strstr(err.msg, "too big"));
    v = vn_json_load("[[[[1]]]]", 9, 3, &err);
    assert_null(v);
    assert_non_null(strstr(err.msg, "deeper than 3"));
    v = vn_json_load("[[[[1]]]]", 9, 4, &err);
    assert_non_null(v);
    json_decref(v);
}

static void test_secret_file_permissions(void **state)
{
    char path[] = "/tmp/vn_test_secretXXXXXX", out[64];
    struct vn_error err;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "  tok-abcdefghijklmnop\n", 23), 23);
    close(fd);
    chmod(path, 0640);
    assert_int_equal(vn_secret_read_file(path, out, sizeof(out), &err), VN_EPERM);
    assert_non_null(strstr(err.msg, "mode 0640"));
    assert_non_null(strstr(err.msg, "chmod 600"));
    chmod(path, 0600);
    assert_int_equal(vn_secret_read_file(path, out, sizeof(out), &err), 0);
    assert_string_equal(out, "tok-abcdefghijklmnop");
    assert_int_equal(vn_secret_read_file(path, out, 8, &err), VN_ETOOBIG);
    unlink(path);
}

static void test_tokens(void **state)
{
    char a[VN_TOKEN_LEN + 1], b[VN_TOKEN_LEN + 1];
    struct vn_error err;

    vn_token_generate(a);
    vn_token_generate(b);
    assert_int_equal(strlen(a), VN_TOKEN_LEN);
    assert_string_not_equal(a, b);
    assert_int_equal(vn_token_check(a, &err), 0);
    assert_int_equal(vn_token_check("short", &err), VN_EPARSE);
    assert_int_equal(vn_token_check("has a space inside it", &err), VN_EPARSE);
    assert_true(vn_ct_equal("abcd", "abcd", 4));
    assert_false(vn_ct_equal("abcd", "abce", 4));
}

/* vn_digest is SHA-256 (GnuTLS's implementation): the FIPS 180-2 vectors, and libsodium's
 * digest of a longer input (several blocks, not a multiple of 64 bytes). */
static void test_digest_is_sha256(void **state)
{
    static const uint8_t empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                      0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                      0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                      0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t d[VN_DIGEST_LEN], want[32], buf[1000];

    (void)state;
    vn_digest("", 0, d);
    assert_memory_equal(d, empty, 32);
    vn_digest("abc", 3, d);
    assert_memory_equal(d, abc, 32);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 1; n <= sizeof(buf); n += 111) {
        crypto_hash_sha256(want, buf, n);
        vn_digest(buf, n, d);
        assert_memory_equal(d, want, 32);
    }
}

/* One line written to a pipe by f(), read back whole (without its newline). */
static void read_line(int fd, char *out, size_t size)
{
    size_t n = 0;

    for (;;) {
        ssize_t r = read(fd, out + n, size - 1 - n);
        assert_true(r > 0);
        n += (size_t)r;
        if (out[n - 1] == '\n')
            break;
        assert_true(n < size - 1);
    }
    out[n - 1] = '\0';
}

/* The line's timestamp: vn_time_iso's format, between the clock's readings around the call. */
static const char *check_ts(const char *line, const char *prefix, int64_t t0, int64_t t1)
{
    char ts[VN_TIME_ISO_LEN];
    int64_t ms;

    assert_memory_equal(line, prefix, strlen(prefix));
    line += strlen(prefix);
    memcpy(ts, line, 24);
    ts[24] = '\0';
    assert_int_equal(vn_time_parse(ts, &ms), 0);
    assert_true(ms >= t0 && ms <= t1);
    vn_time_iso(ms, ts + 0);
    assert_memory_equal(line, ts, 24);
    return line + 24;
}

/*
 * Log lines, byte for byte, in both formats (log.c formats numbers, timestamps and escapes by
 * hand on the request path): every escape, a value cut at 512 bytes, integers at their
 * extremes, latencies rounded as "%.3f" rounds them, halfway cases included.
 */
static void test_log_lines_exact(void **state)
{
    char line[4096], want[4096], big[700], ms[64];
    int p[2];
    int64_t t0, t1;
    const char *rest;
    struct vn_log_field f[] = {
        VN_LF_S("id", "n-1"),      VN_LF_S("nasty", "q\"b\\n\nr\rt\t\x01\x7f end"),
        VN_LF_S("absent", NULL),   VN_LF_S("empty", ""),
        VN_LF_I("min", INT64_MIN), VN_LF_I("neg", -5),
        VN_LF_I("zero", 0),        VN_LF_D("half", 0.0625),
        VN_LF_D("ms", 1234.5678),  VN_LF_D("tiny", -0.0001),
        VN_LF_S("big", big),
    };

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(pipe(p), 0);

    vn_log_setup(VN_LOG_INFO, VN_LOG_JSON, p[1]);
    t0 = vn_now_ms();
    vn_log_fields(VN_LOG_INFO, "notifi\"cation", f, (int)(sizeof(f) / sizeof(f[0])));
    t1 = vn_now_ms();
    read_line(p[0], line, sizeof(line));
    rest = check_ts(line, "{\"ts\":\"", t0, t1);
    snprintf(want, sizeof(want),
             "\",\"level\":\"info\",\"msg\":\"notifi\\\"cation\",\"id\":\"n-1\","
             "\"nasty\":\"q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u007f end\",\"empty\":\"\","
             "\"min\":-9223372036854775808,\"neg\":-5,\"zero\":0,\"half\":0.062,"
             "\"ms\":1234.568,\"tiny\":-0.000,\"big\":\"%.512s...\"}",
             big);
    assert_string_equal(rest, want);

    vn_log_setup(VN_LOG_INFO, VN_LOG_TEXT, p[1]);
    t0 = vn_now_ms();
    vn_log_fields(VN_LOG_WARN, "notification", f, 10);
    t1 = vn_now_ms();
    read_line(p[0], line, sizeof(line));
    rest = check_ts(line, "", t0, t1);
    assert_string_equal(rest,
                        " warn notification id=n-1 nasty=\"q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u007f "
                        "end\" empty=\"\" min=-9223372036854775808 neg=-5 zero=0 half=0.062 "
                        "ms=1234.568 tiny=-0.000");

    /* Below the level: nothing. Then latencies against printf's "%.3f", ties included. */
    vn_log_fields(VN_LOG_DEBUG, "hidden", f, 1);
    for (int i = 0; i < 4000; i++) {
        double v = i % 2 ? i * 0.0625 : i * 1.0137 + i / 7.0;
        struct vn_log_field one = VN_LF_D("ms", v);
        vn_log_fields(VN_LOG_ERROR, "m", &one, 1);
        read_line(p[0], line, sizeof(line));
        snprintf(ms, sizeof(ms), " error m ms=%.3f", v);
        assert_string_equal(line + 24, ms);
    }
    vn_log_setup(VN_LOG_INFO, VN_LOG_TEXT, 2);
    close(p[0]);
    close(p[1]);
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int flag;
};

static void *signal_flag(void *arg)
{
    struct waiter *w = arg;

    pthread_mutex_lock(&w->mu);
    w->flag = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* vn_cond_wait_until: -ETIMEDOUT only once the monotonic deadline has passed (a past one at
 * once), 0 when signalled long before it; the mutex is held again on return either way. */
static void test_cond_wait_until(void **state)
{
    struct waiter w = {.flag = 0};
    pthread_condattr_t ca;
    pthread_t t;
    int64_t until;
    int rc = 0;

    (void)state;
    pthread_mutex_init(&w.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&w.mu);
    assert_int_equal(vn_cond_wait_until(&w.cv, &w.mu, vn_mono_ns() - 1000000), -ETIMEDOUT);
    until = vn_mono_ns() + 20 * 1000000;
    while ((rc = vn_cond_wait_until(&w.cv, &w.mu, until)) == 0)
        ; /* spurious wakeups */
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(vn_mono_ns() >= until);
    assert_int_equal(pthread_mutex_trylock(&w.mu), EBUSY); /* held again */

    /* A signal long before a deadline an hour away wakes it with 0. */
    assert_int_equal(pthread_create(&t, NULL, signal_flag, &w), 0);
    until = vn_mono_ns() + 3600LL * 1000000000LL;
    while (!w.flag)
        assert_int_equal(vn_cond_wait_until(&w.cv, &w.mu, until), 0);
    pthread_mutex_unlock(&w.mu);
    pthread_join(t, NULL);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_ll),
        cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_buf_bounded),
        cmocka_unit_test(test_opts_precedence_and_positionals),
        cmocka_unit_test(test_opts_errors_quote_the_value),
        cmocka_unit_test(test_json_strict),
        cmocka_unit_test(test_secret_file_permissions),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_digest_is_sha256),
        cmocka_unit_test(test_log_lines_exact),
        cmocka_unit_test(test_cond_wait_until),
    };

    if (vn_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
