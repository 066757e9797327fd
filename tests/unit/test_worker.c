/*
 * Unit tests of worker.c, serve's Apple threads: a thread that cannot be started is reported
 * with the reason pthread_create gave (it returns the error and leaves errno alone; the
 * worker used to report -errno, that is 0 or a stale value); a worker starts and stops on a
 * read-only handle with nothing to do.
 *
 * This executable is linked with -Wl,--wrap=pthread_create (tests/CMakeLists.txt), so that a
 * test can make the next thread creation fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vppnotify/apple.h"
#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/worker.h"
#include "vppnotify/writer.h"

/* 0: create threads; n > 0: the n-th creation from now fails with EAGAIN. */
static int fail_at;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    if (fail_at > 0 && --fail_at == 0)
        return EAGAIN;
    return __real_pthread_create(t, a, fn, arg);
}

struct fixture {
    char dir[64], db[96], key[96];
    struct vn_store *st;
    struct vn_writer *w;
    struct vn_apple *apple;
    struct vn_worker_options o;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct vn_apple_options ao = {.base_url = "http://127.0.0.1:9/mdm/v2"};
    struct vn_error err = {0};

    snprintf(f->dir, sizeof(f->dir), "/tmp/vn_worker_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/w.db", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/w.key", f->dir);
    f->st = vn_store_open(f->db, NULL, &err);
    assert_non_null(f->st);
    f->w = vn_writer_start(f->st, NULL, &err);
    assert_non_null(f->w);
    f->apple = vn_apple_new(&ao, &err);
    assert_non_null(f->apple);
    f->o = (struct vn_worker_options){
        .db = f->db,
        .writer = f->w,
        .key_file = f->key,
        .apple = f->apple,
        .tracker = {.quiet_ms = 1000, .poll_ms = 1000, .stall_ms = 5000, .deferred_poll_ms = 5000},
        .full_ms = 60000};
    fail_at = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    vn_writer_free(f->w);
    vn_store_free(f->st);
    vn_apple_free(f->apple);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_a_thread_that_cannot_start_says_why(void **state)
{
    struct fixture *f = *state;
    struct vn_error err = {0};

    /* The tracker thread (the first one). */
    fail_at = 1;
    errno = 0;
    assert_null(vn_worker_start(&f->o, &err));
    assert_int_equal(err.code, -EAGAIN);
    assert_non_null(strstr(err.msg, "tracker thread"));
    assert_non_null(strstr(err.msg, strerror(EAGAIN)));

    /* The sync thread (the second one): the tracker already running is stopped again. */
    vn_error_clear(&err);
    fail_at = 2;
    errno = 0;
    assert_null(vn_worker_start(&f->o, &err));
    assert_int_equal(err.code, -EAGAIN);
    assert_non_null(strstr(err.msg, "sync thread"));
}

static void test_starts_and_stops(void **state)
{
    struct fixture *f = *state;
    struct vn_error err = {0};
    struct vn_worker *w = vn_worker_start(&f->o, &err);

    assert_non_null(w);
    vn_worker_stop(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_thread_that_cannot_start_says_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_starts_and_stops, setup, teardown),
    };

    vn_secret_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
