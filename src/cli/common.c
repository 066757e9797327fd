/*
 * common.c - what every command shares (cli.h): the error line, the --uid check, opening the
 * store (a missing database named with where it was looked for and why there), serve's lock
 * file and the log set up from the options. main.c finds and runs the command; this is what
 * the commands call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/notification.h"
#include "vppnotify/util.h"

#define PATH_TEXT_MAX 4200

void vn_cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("vppnotify: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int vn_cli_check_uid(const char *uid)
{
    if (!uid) {
        vn_cli_error("--uid is required");
        return -1;
    }
    if (!*uid || strlen(uid) > VN_ID_MAX) {
        vn_cli_error("--uid '%s' must be 1..%d characters", uid, VN_ID_MAX);
        return -1;
    }
    return 0;
}

void vn_cli_store_options(const struct vn_cli *c, int read_only, struct vn_store_options *so,
                          char *params, size_t len)
{
    int n = snprintf(params, len, "busy_timeout=%lldms", c->db_busy_timeout_ms);

    if (c->max_db_size > 0 && n >= 0 && (size_t)n < len)
        snprintf(params + n, len - (size_t)n, "&max_size=%lld", c->max_db_size);
    memset(so, 0, sizeof(*so));
    so->read_only = read_only;
    so->params = params;
}

enum vn_opt_origin vn_cli_origin(const struct vn_cli *c, const char *name)
{
    const struct vn_opt *o = vn_opts_find(&vn_cli_options, name);

    return o ? c->origin[o - vn_cli_options.opts] : VN_OPT_FROM_DEFAULT;
}

/* The file an SQLite --db names ("[sqlite:]PATH[?params]"), in buf; NULL for another kind of
 * database (PostgreSQL, memory). */
static const char *sqlite_file(const char *db, char *buf, size_t len)
{
    if (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11))
        return NULL;
    if (!strncmp(db, "sqlite:", 7))
        db += 7;
    if (snprintf(buf, len, "%.*s", (int)strcspn(db, "?"), db) >= (int)len)
        return NULL; /* too long to be a path: the store says so */
    return *buf && strcmp(buf, ":memory:") ? buf : NULL;
}

/* Why --db has its value, for people: "from --db", "the default, as ...". */
static void db_origin(const struct vn_cli *c, char *out, size_t outlen)
{
    const struct vn_opt *o = vn_opts_find(&vn_cli_options, "db");

    switch (vn_cli_origin(c, "db")) {
    case VN_OPT_FROM_ARGV:
        snprintf(out, outlen, "from --db");
        break;
    case VN_OPT_FROM_ENV:
        snprintf(out, outlen, "from %s", o->env);
        break;
    case VN_OPT_FROM_CONFIG:
        snprintf(out, outlen, "from config file '%s'", c->config ? c->config : "?");
        break;
    case VN_OPT_FROM_DEFAULT:
        snprintf(out, outlen, "the default, as neither --db nor %s is set", o->env);
        break;
    }
}

/* 1 when the SQLite file of --db does not exist. */
static int database_missing(const struct vn_cli *c)
{
    char buf[PATH_TEXT_MAX];
    const char *file = sqlite_file(c->db, buf, sizeof(buf));
    struct stat sb;

    /* other failures (permissions, ...) are the store's to explain */
    return file && stat(file, &sb) != 0 && errno == ENOENT;
}

/* Say that the SQLite file of --db is missing, where it was looked for, and why there. */
static void explain_missing(const struct vn_cli *c)
{
    char cwd[PATH_TEXT_MAX], where[PATH_TEXT_MAX + 512], why[600], buf[PATH_TEXT_MAX];
    const char *file = sqlite_file(c->db, buf, sizeof(buf));

    if (!file)
        return;
    if (file[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        snprintf(where, sizeof(where), "%s", file);
    else
        snprintf(where, sizeof(where), "%s/%s", strcmp(cwd, "/") ? cwd : "",
                 strncmp(file, "./", 2) ? file : file + 2);
    db_origin(c, why, sizeof(why));
    vn_cli_error("no database at '%s' (looked for %s; %s): point to it with --db PATH or "
                 "VPPNOTIFY_DB=PATH; 'vppnotify location add' or 'vppnotify serve' creates one",
                 c->db, where, why);
}

struct vn_store *vn_cli_open_store(const struct vn_cli *c, int mode)
{
    struct vn_store_options so;
    struct vn_error err = {0};
    struct vn_store *st;
    char params[128];

    if (mode != VN_CLI_DB_CREATE && database_missing(c)) {
        /* A read-only open creates nothing and still checks the URL: a misspelt parameter is
         * reported as such; any other failure is the missing file. */
        vn_cli_store_options(c, 1, &so, params, sizeof(params));
        st = vn_store_open(c->db, &so, &err);
        if (!st) {
            if (err.code == VN_EPARSE)
                vn_cli_error("%s", err.msg);
            else
                explain_missing(c);
            return NULL;
        }
        if (mode == VN_CLI_DB_READ)
            return st; /* it appeared meanwhile */
        vn_store_free(st);
    }
    vn_cli_store_options(c, mode == VN_CLI_DB_READ, &so, params, sizeof(params));
    st = vn_store_open(c->db, &so, &err);
    if (!st)
        vn_cli_error("%s", err.msg);
    return st;
}

/* ---- one serve per SQLite database -------------------------------------------------------- */

#define LOCK_PID_WAIT_MS 1000

/* The pid written in a lock file, or 0. The holder writes it right after locking: wait a
 * moment for it when the file is still empty. */
static long lock_holder(int fd)
{
    struct timespec pause = {0, 20 * 1000000};
    char text[32];
    long long pid = 0;

    for (int waited = 0; waited <= LOCK_PID_WAIT_MS; waited += 20) {
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        if (n > 0) {
            text[n] = '\0';
            text[strcspn(text, "\n")] = '\0';
            if (vn_parse_ll(text, 1, 1LL << 31, &pid) == 0)
                return (long)pid;
        }
        nanosleep(&pause, NULL);
    }
    return 0;
}

int vn_cli_serve_lock(const struct vn_cli *c)
{
    static int fd = -1; /* held, with its lock, until the process ends */
    char path[PATH_TEXT_MAX], pid[32], buf[PATH_TEXT_MAX];
    const char *file = sqlite_file(c->db, buf, sizeof(buf));
    int n;

    if (!file || fd >= 0)
        return 0;
    if (snprintf(path, sizeof(path), "%s.lock", file) >= (int)sizeof(path)) {
        vn_cli_error("serve: database path '%s' is too long", file);
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        vn_cli_error("serve: cannot open lock file '%s': %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long holder = e == EWOULDBLOCK ? lock_holder(fd) : 0;
        if (e != EWOULDBLOCK)
            vn_cli_error("serve: cannot lock '%s': %s", path, strerror(e));
        else if (holder)
            vn_cli_error("serve: another vppnotify serve (pid %ld) already uses database '%s' "
                         "(it holds '%s'); stop it first, or give this one another --db",
                         holder, c->db, path);
        else
            vn_cli_error("serve: another vppnotify serve already uses database '%s' (it holds "
                         "'%s'); stop it first, or give this one another --db",
                         c->db, path);
        close(fd);
        fd = -1;
        return -1;
    }
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        vn_log_warn("cannot write the pid to lock file '%s': %s", path, strerror(errno));
    return 0;
}

int vn_cli_setup_log(const struct vn_cli *c)
{
    enum vn_log_level level = VN_LOG_INFO;

    if (c->log_level && vn_log_level_parse(c->log_level, &level) != 0)
        return VN_EXIT_USAGE;
    vn_log_setup(level, c->log_format && !strcmp(c->log_format, "json") ? VN_LOG_JSON : VN_LOG_TEXT,
                 2);
    return 0;
}
