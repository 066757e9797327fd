/*
 * Unit tests of log.c's per-thread hold (vn_log_hold / vn_log_release). Lines go to a
 * SOCK_SEQPACKET socket, where each write(2) arrives as one message: the tests see how many
 * writes there were and what each carried, not only the bytes. A regular file shows the
 * larger bound of a write there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vppnotify/log.h"

#define TS_LEN 24 /* "2026-11-25T19:06:53.123Z" */

struct sink {
    int fd[2]; /* fd[1]: the log's; fd[0]: read here, non-blocking */
};

static void sink_open(struct sink *s)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s->fd), 0);
    assert_int_equal(fcntl(s->fd[0], F_SETFL, O_NONBLOCK), 0);
    vn_log_setup(VN_LOG_INFO, VN_LOG_TEXT, s->fd[1]);
}

static void sink_close(struct sink *s)
{
    vn_log_setup(VN_LOG_INFO, VN_LOG_TEXT, 2);
    close(s->fd[0]);
    close(s->fd[1]);
}

/* The next write's bytes (NUL-terminated in buf), or -1 when none is waiting. */
static ssize_t next_write(struct sink *s, char *buf, size_t size)
{
    ssize_t n = recv(s->fd[0], buf, size - 1, 0);

    if (n < 0) {
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        return -1;
    }
    buf[n] = '\0';
    return n;
}

/* Check that text holds exactly the given lines, each "<timestamp><rest>\n", in order. */
static void assert_lines(const char *text, const char *const *want, int n)
{
    const char *p = text;

    for (int i = 0; i < n; i++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true((size_t)(nl - p) > TS_LEN);
        assert_int_equal((size_t)(nl - p - TS_LEN), strlen(want[i]));
        assert_memory_equal(p + TS_LEN, want[i], strlen(want[i]));
        p = nl + 1;
    }
    assert_string_equal(p, "");
}

/* Held lines are written at the release, all in one write, in the order they were logged,
 * whichever function logged them; a line below the level is not held either. */
static void test_hold_writes_at_release_in_one_write(void **state)
{
    static const char *const want[] = {" info one 1", " warn two k=v", " error three"};
    struct vn_log_field f = VN_LF_S("k", "v");
    struct sink s;
    char buf[8192];

    (void)state;
    sink_open(&s);
    vn_log_hold();
    vn_log_info("one %d", 1);
    vn_log_fields(VN_LOG_WARN, "two", &f, 1);
    vn_log_debug("hidden");
    vn_log_error("three");
    assert_int_equal(next_write(&s, buf, sizeof(buf)), -1);
    vn_log_release();
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, want, 3);
    assert_int_equal(next_write(&s, buf, sizeof(buf)), -1); /* one write */

    /* Not held any more: a line is written at once. */
    vn_log_info("after");
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, (const char *const[]){" info after"}, 1);
    sink_close(&s);
}

/* Holds nest: only the outermost release writes; a release without a hold does nothing. */
static void test_nested_holds(void **state)
{
    static const char *const want[] = {" info a", " info b"};
    struct sink s;
    char buf[8192];

    (void)state;
    sink_open(&s);
    vn_log_release(); /* none held: nothing happens */
    vn_log_hold();
    vn_log_hold();
    vn_log_info("a");
    vn_log_release();
    assert_int_equal(next_write(&s, buf, sizeof(buf)), -1);
    vn_log_info("b");
    assert_int_equal(next_write(&s, buf, sizeof(buf)), -1);
    vn_log_release();
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, want, 2);
    vn_log_release();
    assert_int_equal(next_write(&s, buf, sizeof(buf)), -1);
    sink_close(&s);
}

/* What does not fit is written first: to a socket no write is larger than PIPE_BUF, each ends
 * at a line's end, none is lost and the order is kept; a line longer than PIPE_BUF goes out
 * alone, after what was held before it. */
static void test_overflow_writes_whole_lines_in_order(void **state)
{
    enum { N = 40 };
    char pad[201], buf[16384], *all = calloc(1, N * 512), big[520];
    struct vn_log_field fields[12];
    size_t alen = 0;
    int before = 0, writes = 0, line = 0;
    struct sink s;
    ssize_t n;

    (void)state;
    assert_non_null(all);
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    sink_open(&s);
    vn_log_hold();
    for (int i = 0; i < N; i++)
        vn_log_info("line %02d %s", i, pad);
    while ((n = next_write(&s, buf, sizeof(buf))) > 0) { /* written while still held */
        assert_true(n <= PIPE_BUF);
        assert_int_equal(buf[n - 1], '\n');
        memcpy(all + alen, buf, (size_t)n);
        alen += (size_t)n;
        before++;
    }
    assert_true(before >= 1); /* ~9 KiB were held: at least one write of a full buffer */
    vn_log_release();
    while ((n = next_write(&s, buf, sizeof(buf))) > 0) {
        assert_true(n <= PIPE_BUF);
        assert_int_equal(buf[n - 1], '\n');
        memcpy(all + alen, buf, (size_t)n);
        alen += (size_t)n;
        writes++;
    }
    assert_int_equal(writes, 1);
    for (char *p = all; *p; p = strchr(p, '\n') + 1) {
        char want[32];
        snprintf(want, sizeof(want), " info line %02d ", line++);
        assert_memory_equal(p + TS_LEN, want, strlen(want));
    }
    assert_int_equal(line, N);

    /* A line larger than one write to a socket may be: the held line first, then it alone. */
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 12; i++)
        fields[i] = VN_LF_S("f", big);
    vn_log_hold();
    vn_log_info("small");
    vn_log_fields(VN_LOG_INFO, "big", fields, 12);
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, (const char *const[]){" info small"}, 1);
    n = next_write(&s, buf, sizeof(buf));
    assert_true(n > PIPE_BUF);
    assert_memory_equal(buf + TS_LEN, " info big f=", 12);
    assert_int_equal(buf[n - 1], '\n');
    vn_log_info("last");
    assert_int_equal(next_write(&s, buf, sizeof(buf)), -1);
    vn_log_release();
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, (const char *const[]){" info last"}, 1);
    free(all);
    sink_close(&s);
}

/* To a regular file one write carries up to 64 KiB: 20 KiB stay held until the release,
 * 80 KiB do not; the file is whole lines in order either way. */
static void test_regular_file_holds_more(void **state)
{
    char path[] = "/tmp/vn-test-log.XXXXXX", pad[201];
    int fd = mkstemp(path), count = 0;
    struct stat st;
    FILE *f;
    char line[512];

    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    vn_log_setup(VN_LOG_INFO, VN_LOG_TEXT, fd);
    vn_log_hold();
    for (int i = 0; i < 80; i++)
        vn_log_info("line %03d %s", i, pad);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 0);
    for (int i = 80; i < 400; i++)
        vn_log_info("line %03d %s", i, pad);
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(st.st_size > 0 && st.st_size <= 64 * 1024);
    vn_log_release();
    vn_log_setup(VN_LOG_INFO, VN_LOG_TEXT, 2);

    f = fdopen(fd, "r");
    assert_non_null(f);
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        char want[32];
        snprintf(want, sizeof(want), " info line %03d ", count++);
        assert_memory_equal(line + TS_LEN, want, strlen(want));
        assert_int_equal(line[strlen(line) - 1], '\n');
    }
    assert_int_equal(count, 400);
    fclose(f);
}

static void *log_one(void *arg)
{
    vn_log_info("%s", (const char *)arg);
    return NULL;
}

static void *hold_and_end(void *arg)
{
    vn_log_hold();
    vn_log_info("%s", (const char *)arg);
    return NULL; /* ends holding */
}

/* A hold is the thread's own: another thread's line is written at once; a thread that ends
 * while it holds has its lines written then. */
static void test_hold_is_per_thread(void **state)
{
    struct sink s;
    pthread_t t;
    char buf[8192];

    (void)state;
    sink_open(&s);
    vn_log_hold();
    vn_log_info("main's");
    assert_int_equal(pthread_create(&t, NULL, log_one, "other's"), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, (const char *const[]){" info other's"}, 1);
    assert_int_equal(next_write(&s, buf, sizeof(buf)), -1);

    assert_int_equal(pthread_create(&t, NULL, hold_and_end, "ended holding"), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, (const char *const[]){" info ended holding"}, 1);

    vn_log_release();
    assert_true(next_write(&s, buf, sizeof(buf)) > 0);
    assert_lines(buf, (const char *const[]){" info main's"}, 1);
    sink_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_writes_at_release_in_one_write),
        cmocka_unit_test(test_nested_holds),
        cmocka_unit_test(test_overflow_writes_whole_lines_in_order),
        cmocka_unit_test(test_regular_file_holds_more),
        cmocka_unit_test(test_hold_is_per_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
