/*
 * test_service.c - serve's side of the service manager protocol (service.c): what systemd
 * would receive on $NOTIFY_SOCKET, read here from a datagram socket the test binds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vppnotify/error.h"
#include "vppnotify/service.h"
#include "vppnotify/util.h"

struct fx {
    char path[108];
    int fd;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (!f)
        return -1;
    snprintf(f->path, sizeof(f->path), "/tmp/vn_service_%d.sock", (int)getpid());
    unlink(f->path);
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
    f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    setenv("NOTIFY_SOCKET", f->path, 1);
    unsetenv("WATCHDOG_PID");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    close(f->fd);
    unlink(f->path);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    free(f);
    return 0;
}

/* Every message received so far, joined with '|'; counts WATCHDOG=1 among them. */
static int drain(struct fx *f, char *out, size_t outlen)
{
    char msg[1024];
    int watchdogs = 0;
    ssize_t n;

    out[0] = '\0';
    while ((n = recv(f->fd, msg, sizeof(msg) - 1, 0)) > 0) {
        msg[n] = '\0';
        if (!strcmp(msg, "WATCHDOG=1"))
            watchdogs++;
        strncat(out, msg, outlen - strlen(out) - 2);
        strncat(out, "|", outlen - strlen(out) - 1);
    }
    return watchdogs;
}

/* Tick every 2 ms for about ms milliseconds of the monotonic clock. */
static void tick_for(struct vn_service *s, int64_t ms, uint64_t progress, size_t queued)
{
    int64_t end = vn_mono_ns() + ms * 1000000;
    struct timespec pause = {0, 2 * 1000000};

    while (vn_mono_ns() < end) {
        vn_service_tick(s, progress, queued);
        nanosleep(&pause, NULL);
    }
}

static void test_ready_and_status(void **state)
{
    struct fx *f = *state;
    struct vn_service *s = vn_service_new();
    char got[4096];

    assert_non_null(s);
    assert_true(vn_service_active(s));
    assert_int_equal(vn_service_tick_ms(s), 1000); /* no watchdog: once a second */
    vn_service_ready(s, "127.0.0.1:8080");
    assert_int_equal(drain(f, got, sizeof(got)), 0);
    assert_non_null(strstr(got, "READY=1\nSTATUS=listening on 127.0.0.1:8080|"));
    vn_service_reloading(s);
    vn_service_reloaded(s, "configuration re-read");
    drain(f, got, sizeof(got));
    assert_non_null(strstr(got, "RELOADING=1\nMONOTONIC_USEC="));
    assert_non_null(strstr(got, "READY=1\nSTATUS=configuration re-read|"));
    vn_service_stopping(s, "Terminated");
    drain(f, got, sizeof(got));
    assert_string_equal(got, "STOPPING=1\nSTATUS=stopping: Terminated|");
    vn_service_free(s);
}

/* The watchdog is fed while the writer makes progress (or has nothing to do), and starved
 * when work waits without progress: systemd then restarts the daemon. */
static void test_watchdog_withheld_while_the_writer_is_stuck(void **state)
{
    struct fx *f = *state;
    struct vn_service *s;
    char got[8192];

    setenv("WATCHDOG_USEC", "40000", 1); /* 40 ms: a ping every 20 ms */
    s = vn_service_new();
    assert_non_null(s);
    assert_int_equal(vn_service_tick_ms(s), 20);
    vn_service_ready(s, "x");
    drain(f, got, sizeof(got));

    tick_for(s, 200, 0, 0); /* idle: nothing queued */
    assert_true(drain(f, got, sizeof(got)) >= 2);
    /* Progress moves at every tick (5 queued, one more done each 5 ms): on a loaded machine a
     * constant count would look stuck 20 ms after its first tick. */
    for (uint64_t done = 10; done < 22; done++)
        tick_for(s, 5, done, 5);
    assert_true(drain(f, got, sizeof(got)) >= 1);

    /* Stuck: 5 queued, progress stays at 21. After half the interval, no more pings. */
    tick_for(s, 30, 21, 5);
    drain(f, got, sizeof(got));
    tick_for(s, 150, 21, 5);
    assert_int_equal(drain(f, got, sizeof(got)), 0);

    /* Progress again: pings resume. */
    for (uint64_t done = 22; done < 38; done++)
        tick_for(s, 5, done, 5);
    assert_true(drain(f, got, sizeof(got)) >= 1);
    vn_service_free(s);
}

static void test_nothing_without_a_service_manager(void **state)
{
    struct fx *f = *state;
    struct vn_service *s;
    char got[1024];

    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "40000", 1);
    s = vn_service_new();
    assert_false(vn_service_active(s));
    assert_int_equal(vn_service_tick_ms(s), 1000);
    vn_service_ready(s, "x");
    tick_for(s, 30, 0, 0);
    vn_service_stopping(s, "y");
    assert_int_equal(drain(f, got, sizeof(got)), 0);
    assert_string_equal(got, "");
    assert_string_equal(vn_service_status(s), "stopping: y");
    vn_service_free(s);
}

static void test_credentials(void **state)
{
    char path[256], dir[] = "/tmp/vn_creds_XXXXXX";
    FILE *fp;

    (void)state;
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(vn_service_credential("tls.key", path, sizeof(path)), VN_ENOTFOUND);
    assert_non_null(mkdtemp(dir));
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    assert_int_equal(vn_service_credential("tls.key", path, sizeof(path)), VN_ENOTFOUND);
    snprintf(path, sizeof(path), "%s/tls.key", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    path[0] = '\0';
    assert_int_equal(vn_service_credential("tls.key", path, sizeof(path)), 0);
    assert_non_null(strstr(path, "/tls.key"));
    assert_int_equal(vn_service_credential("tls.key", path, 8), VN_ETOOBIG);
    unlink(path);
    snprintf(path, sizeof(path), "%s/tls.key", dir);
    unlink(path);
    rmdir(dir);
    unsetenv("CREDENTIALS_DIRECTORY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_withheld_while_the_writer_is_stuck, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nothing_without_a_service_manager, setup, teardown),
        cmocka_unit_test(test_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
