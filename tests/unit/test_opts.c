/* Unit tests of what opts.c adds for a command line that guides: "did you mean", -h, where a
 * value came from, wrapped help. (Parsing and value errors: test_util.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vppnotify/error.h"
#include "vppnotify/opts.h"

struct cfg {
    int help;
    int json;
    char *db;
    char *config;
    long long n;
};

static const struct vn_opt opts[] = {
    {"help", VN_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL, "show help", offsetof(struct cfg, help)},
    {"json", VN_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL, "json", offsetof(struct cfg, json)},
    {"db", VN_OPT_STRING, "x.db", 0, 0, NULL, "VN_TEST_OPTS_DB", "PATH", "database",
     offsetof(struct cfg, db)},
    {"config", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "FILE", "config",
     offsetof(struct cfg, config)},
    {"max-body", VN_OPT_INT, "3", 1, 10, NULL, NULL, "N", "a number", offsetof(struct cfg, n)},
};
static const struct vn_opt_table table = {opts, sizeof(opts) / sizeof(opts[0])};
static const char *const all[] = {"help", "json", "db", "config", "max-body", NULL};
static const char *const some[] = {"help", "db", NULL};

static void test_distance(void **state)
{
    assert_int_equal(vn_opts_distance("assets", "assets"), 0);
    assert_int_equal(vn_opts_distance("asets", "assets"), 1);        /* deletion */
    assert_int_equal(vn_opts_distance("assetts", "assets"), 1);      /* insertion */
    assert_int_equal(vn_opts_distance("assots", "assets"), 1);       /* substitution */
    assert_int_equal(vn_opts_distance("assoicate", "associate"), 1); /* two swapped */
    assert_int_equal(vn_opts_distance("", "abc"), 3);
    assert_int_equal(vn_opts_distance("kitten", "sitting"), 3);
}

static void test_nearest(void **state)
{
    static const char *const cmds[] = {"serve",  "assets", "assignments", "users",
                                       "events", "sync",   "location",    NULL};
    static const char *const flags[] = {"json", "adam-id", "adam-ids", "client-user-id", NULL};

    assert_string_equal(vn_opts_nearest("asets", cmds), "assets");
    assert_string_equal(vn_opts_nearest("locaton", cmds), "location");
    assert_string_equal(vn_opts_nearest("evnets", cmds), "events");
    assert_string_equal(vn_opts_nearest("jsn", flags), "json");
    /* a prefix wins, the shortest of several */
    assert_string_equal(vn_opts_nearest("client", flags), "client-user-id");
    assert_string_equal(vn_opts_nearest("adam", flags), "adam-id");
    /* nothing near: no suggestion rather than a silly one */
    assert_null(vn_opts_nearest("frobnicate", cmds));
    assert_null(vn_opts_nearest("x", cmds));
    assert_null(vn_opts_nearest("", cmds));
}

static void test_unknown_option_suggests(void **state)
{
    char *argv1[] = {"prog", "--jsn"};
    char *argv2[] = {"prog", "--max-bdy", "3"};
    char *argv3[] = {"prog", "--json"};
    char *argv4[] = {"prog", "--zzzzzz"};
    struct cfg c;
    struct vn_error err;
    int first;

    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse(&table, all, &c, 2, argv1, &first, &err), VN_EUSAGE);
    assert_string_equal(err.msg, "unknown option '--jsn'; did you mean '--json'?");
    assert_int_equal(vn_opts_parse(&table, all, &c, 3, argv2, &first, &err), VN_EUSAGE);
    assert_string_equal(err.msg, "unknown option '--max-bdy'; did you mean '--max-body'?");
    /* an option of the table that this command does not take */
    assert_int_equal(vn_opts_parse(&table, some, &c, 2, argv3, &first, &err), VN_EUSAGE);
    assert_string_equal(err.msg, "option '--json' does not apply to this command");
    assert_int_equal(vn_opts_parse(&table, all, &c, 2, argv4, &first, &err), VN_EUSAGE);
    assert_string_equal(err.msg, "unknown option '--zzzzzz'");
    vn_opts_release(&table, &c);
}

static void test_dash_h(void **state)
{
    char *argv[] = {"prog", "pos", "-h"};
    char *argv2[] = {"prog", "-h"};
    static const char *const no_help[] = {"db", NULL};
    struct cfg c;
    struct vn_error err;
    int first;

    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse(&table, all, &c, 3, argv, &first, &err), 0);
    assert_int_equal(c.help, 1);
    assert_int_equal(first, 2); /* "pos" is the only positional */
    vn_opts_release(&table, &c);
    /* without "help" allowed, -h is an argument like any other */
    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse(&table, no_help, &c, 2, argv2, &first, &err), 0);
    assert_int_equal(c.help, 0);
    assert_int_equal(first, 1);
    vn_opts_release(&table, &c);
}

static void test_origin(void **state)
{
    char path[] = "/tmp/vn-opts-XXXXXX";
    enum vn_opt_origin origin[5];
    struct cfg c;
    struct vn_error err;
    int first, fd;
    char *argv1[] = {"prog"};
    char *argv2[] = {"prog", "--db", "argv.db"};
    char *argv3[] = {"prog", "--config", path};

    unsetenv("VN_TEST_OPTS_DB");
    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse_traced(&table, all, &c, 1, argv1, &first, origin, &err), 0);
    assert_int_equal(origin[2], VN_OPT_FROM_DEFAULT);
    assert_string_equal(c.db, "x.db");
    vn_opts_release(&table, &c);

    setenv("VN_TEST_OPTS_DB", "env.db", 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse_traced(&table, all, &c, 1, argv1, &first, origin, &err), 0);
    assert_int_equal(origin[2], VN_OPT_FROM_ENV);
    vn_opts_release(&table, &c);
    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse_traced(&table, all, &c, 3, argv2, &first, origin, &err), 0);
    assert_int_equal(origin[2], VN_OPT_FROM_ARGV);
    assert_string_equal(c.db, "argv.db");
    assert_int_equal(origin[4], VN_OPT_FROM_DEFAULT);
    vn_opts_release(&table, &c);
    unsetenv("VN_TEST_OPTS_DB");

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "db = cfg.db\n", 12), 12);
    close(fd);
    memset(&c, 0, sizeof(c));
    assert_int_equal(vn_opts_parse_traced(&table, all, &c, 3, argv3, &first, origin, &err), 0);
    assert_int_equal(origin[2], VN_OPT_FROM_CONFIG);
    assert_int_equal(origin[3], VN_OPT_FROM_ARGV);
    assert_string_equal(c.db, "cfg.db");
    vn_opts_release(&table, &c);
    unlink(path);
}

static void test_wrap(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    fputs("  --x      ", f);
    vn_opts_wrap(f, "one two three four five six", 11, 24);
    fclose(f);
    assert_string_equal(text, "  --x      one two three\n"
                              "           four five six\n");
    free(text);
}

/* vppsim's summary is laid out by hand (a command list in columns): kept as it is. */
static void test_help_keeps_laid_out_text(void **state)
{
    static const char *const allowed[] = {"db", NULL};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    vn_opts_help(f, &table, allowed, "prog serve [options]",
                 "prog: a summary\n\ncommands:\n  serve         run it\n  help          this");
    fclose(f);
    assert_non_null(strstr(text, "usage: prog serve [options]\n\nprog: a summary\n\ncommands:\n"
                                 "  serve         run it\n  help          this\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_unknown_option_suggests),
        cmocka_unit_test(test_dash_h),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_help_keeps_laid_out_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
