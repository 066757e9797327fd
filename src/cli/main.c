/*
 * main.c - vppnotify's entry point: find the command, parse its options from the table,
 * run it. Exit 0 ok, 1 failure, 2 usage (contract section 4).
 *
 * It guides as git and kubectl do: -h and --help on every command, `vppnotify help COMMAND`,
 * "did you mean" for a mistyped command, subcommand or option, and a missing database named
 * with where it was looked for and why there. The generated references (docs/CLI.md, man
 * pages, shell completions) are in docgen.c.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/notification.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

static const struct vn_command *const groups[] = {
    vn_cmd_serve,      vn_cmd_location, vn_cmd_apple,  vn_cmd_query,   vn_cmd_manage,
    vn_cmd_sync,       vn_cmd_replay,   vn_cmd_api,    vn_cmd_changes, vn_cmd_backup,
    vn_cmd_rejections, vn_cmd_store,    vn_cmd_webhook};

const struct vn_command *const *const vn_cli_groups = groups;
const size_t vn_cli_ngroups = sizeof(groups) / sizeof(groups[0]);

#define NGROUPS       (sizeof(groups) / sizeof(groups[0]))
#define NAME_MAX_CMDS 128 /* command names for "did you mean" */
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

/* ---- finding the command ------------------------------------------------------------------ */

/* "  name   summary" (at least two spaces between), the summary wrapped to 100 columns. */
static void list_line(FILE *out, const struct vn_command *cmd)
{
    fprintf(out, "  %-27s ", cmd->name);
    vn_opts_wrap(out, cmd->summary, 30, 100);
}

static void print_overview(FILE *out)
{
    fprintf(out, "usage: vppnotify COMMAND [OPTIONS]\n\n"
                 "Durable receiver of Apple's Apps and Books notifications, and the tools to "
                 "see its mirror.\n\ncommands:\n");
    for (size_t g = 0; g < NGROUPS; g++)
        for (const struct vn_command *cmd = groups[g]; cmd->name; cmd++)
            list_line(out, cmd);
    fprintf(out, "\n'vppnotify help COMMAND' or 'vppnotify COMMAND -h' explains a command. The "
                 "database is --db PATH,\nVPPNOTIFY_DB or ./vppnotify.db. Exit status: 0 ok, 1 "
                 "failure, 2 usage error.\n");
}

/* The command named by words[0] (and words[1] for two-word commands, which win: "assets
 * associate" is not "assets" with an argument); *used says how many words it took. */
static const struct vn_command *find(int nwords, char **words, int *used)
{
    for (int pass = 2; pass >= 1; pass--) {
        for (size_t g = 0; g < NGROUPS; g++) {
            for (const struct vn_command *cmd = groups[g]; cmd->name; cmd++) {
                const char *space = strchr(cmd->name, ' ');
                size_t n = space ? (size_t)(space - cmd->name) : 0;
                if (pass == 1 && !space && strcmp(cmd->name, words[0]) == 0) {
                    *used = 1;
                    return cmd;
                }
                if (pass == 2 && space && nwords > 1 && strncmp(cmd->name, words[0], n) == 0 &&
                    words[0][n] == '\0' && strcmp(space + 1, words[1]) == 0) {
                    *used = 2;
                    return cmd;
                }
            }
        }
    }
    return NULL;
}

/* Names for "did you mean": the first words of every command (group = NULL), or the second
 * words of a group's commands. Returns how many (at most max - 1; NULL-terminated). */
static size_t names(const char *group, const char **out, char bufs[][64], size_t max)
{
    size_t n = 0, glen = group ? strlen(group) : 0;

    for (size_t g = 0; g < NGROUPS; g++) {
        for (const struct vn_command *cmd = groups[g]; cmd->name && n + 1 < max; cmd++) {
            const char *space = strchr(cmd->name, ' '), *word;
            size_t len;
            int dup = 0;
            if (group && !(space && strncmp(cmd->name, group, glen) == 0 && cmd->name[glen] == ' '))
                continue;
            word = group ? space + 1 : cmd->name;
            len = group ? strlen(word) : space ? (size_t)(space - cmd->name) : strlen(word);
            if (len >= sizeof(bufs[0]))
                continue;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strlen(out[k]) == len && !strncmp(out[k], word, len);
            if (dup)
                continue;
            memcpy(bufs[n], word, len);
            bufs[n][len] = '\0';
            out[n] = bufs[n];
            n++;
        }
    }
    out[n] = NULL;
    return n;
}

/* "location" alone: list its subcommands. 0 when word is not a group. */
static int group_help(FILE *out, const char *word)
{
    int found = 0;
    size_t n = strlen(word);

    for (size_t g = 0; g < NGROUPS; g++)
        for (const struct vn_command *cmd = groups[g]; cmd->name; cmd++)
            if (strncmp(cmd->name, word, n) == 0 && cmd->name[n] == ' ') {
                if (!found)
                    fprintf(out, "usage: vppnotify %s SUBCOMMAND [OPTIONS]\n\nsubcommands:\n",
                            word);
                list_line(out, cmd);
                found = 1;
            }
    if (found)
        fprintf(out, "\n'vppnotify help %s SUBCOMMAND' explains one.\n", word);
    return found;
}

/* An unknown command or subcommand: say so, with the nearest name. Returns VN_EXIT_USAGE. */
static int unknown_command(int nwords, char **words)
{
    const char *list[NAME_MAX_CMDS], *near;
    char bufs[NAME_MAX_CMDS][64];

    if (nwords > 1 && names(words[0], list, bufs, NAME_MAX_CMDS) > 0) {
        near = vn_opts_nearest(words[1], list);
        if (near)
            vn_cli_error("unknown subcommand '%s %s'; did you mean 'vppnotify %s %s'?", words[0],
                         words[1], words[0], near);
        else
            vn_cli_error("unknown subcommand '%s %s' (see 'vppnotify help %s')", words[0], words[1],
                         words[0]);
        return VN_EXIT_USAGE;
    }
    names(NULL, list, bufs, NAME_MAX_CMDS);
    near = vn_opts_nearest(words[0], list);
    if (near)
        vn_cli_error("unknown command '%s'; did you mean 'vppnotify %s'? (see 'vppnotify help')",
                     words[0], near);
    else
        vn_cli_error("unknown command '%s' (see 'vppnotify help')", words[0]);
    return VN_EXIT_USAGE;
}

static void command_help(FILE *out, const struct vn_command *cmd)
{
    char usage[512];

    snprintf(usage, sizeof(usage), "%s", cmd->usage);
    vn_opts_help(out, &vn_cli_options, cmd->opts, usage, cmd->summary);
    fprintf(out, "\nExit status: 0 ok, 1 failure, 2 usage error. See also 'man vppnotify-");
    for (const char *p = cmd->name; *p; p++)
        fputc(*p == ' ' ? '-' : *p, out);
    fprintf(out, "'.\n");
}

/* `vppnotify help [COMMAND [SUBCOMMAND] | --markdown | --man DIR | --bash-completion |
 * --zsh-completion]`. */
static int help(int argc, char **argv)
{
    const struct vn_command *cmd;
    int used;

    if (argc == 0) {
        print_overview(stdout);
        return VN_EXIT_OK;
    }
    if (argv[0][0] == '-')
        return vn_cli_docgen(argc, argv);
    cmd = find(argc, argv, &used);
    if (cmd && used == argc) {
        command_help(stdout, cmd);
        return VN_EXIT_OK;
    }
    if (argc == 1 && group_help(stdout, argv[0]))
        return VN_EXIT_OK;
    if (cmd && argc > used) {
        vn_cli_error("help: '%s' has no subcommand '%s' (see 'vppnotify help %s')", cmd->name,
                     argv[used], cmd->name);
        return VN_EXIT_USAGE;
    }
    return unknown_command(argc, argv);
}

/* A command given too many arguments: "assets assoc" may be a mistyped "assets associate". */
static void unexpected_argument(const struct vn_command *cmd, const char *arg)
{
    const char *list[NAME_MAX_CMDS], *near = NULL;
    char bufs[NAME_MAX_CMDS][64];

    if (!strchr(cmd->name, ' ') && names(cmd->name, list, bufs, NAME_MAX_CMDS) > 0)
        near = vn_opts_nearest(arg, list);
    if (near)
        vn_cli_error("%s: unexpected argument '%s'; did you mean 'vppnotify %s %s'?", cmd->name,
                     arg, cmd->name, near);
    else
        vn_cli_error("%s: unexpected argument '%s' (see 'vppnotify %s -h')", cmd->name, arg,
                     cmd->name);
}

int main(int argc, char **argv)
{
    const struct vn_command *cmd;
    struct vn_cli c;
    struct vn_error err = {0};
    int words, first, rc, npos;

    if (argc < 2) {
        print_overview(stderr);
        return VN_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return help(0, NULL);
    if (!strcmp(argv[1], "help"))
        return help(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("vppnotify %s\n", VN_VERSION);
        return VN_EXIT_OK;
    }
    if (argv[1][0] == '-') {
        vn_cli_error("'%s' before the command: options follow it ('vppnotify COMMAND %s ...'; "
                     "see 'vppnotify help')",
                     argv[1], argv[1]);
        return VN_EXIT_USAGE;
    }
    cmd = find(argc - 1, argv + 1, &words);
    if (!cmd) {
        if (argc == 2 && group_help(stderr, argv[1]))
            return VN_EXIT_USAGE;
        return unknown_command(argc - 1, argv + 1);
    }
    if (vn_secret_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        vn_cli_error("cannot initialise libsodium or libcurl");
        return VN_EXIT_FAIL;
    }
    memset(&c, 0, sizeof(c));
    /* argv[words] becomes the command's argv[0]. */
    rc = vn_opts_parse_traced(&vn_cli_options, cmd->opts, &c, argc - words, argv + words, &first,
                              c.origin, &err);
    if (rc) {
        vn_cli_error("%s: %s (see 'vppnotify %s -h')", cmd->name, err.msg, cmd->name);
        vn_opts_release(&vn_cli_options, &c);
        curl_global_cleanup();
        return VN_EXIT_USAGE;
    }
    if (c.help) {
        command_help(stdout, cmd);
        vn_opts_release(&vn_cli_options, &c);
        curl_global_cleanup();
        return VN_EXIT_OK;
    }
    npos = argc - words - first;
    if (cmd->positionals >= 0 && npos != cmd->positionals) {
        if (npos > cmd->positionals)
            unexpected_argument(cmd, argv[words + first + cmd->positionals]);
        else
            vn_cli_error("%s: missing argument (usage: %s)", cmd->name, cmd->usage);
        vn_opts_release(&vn_cli_options, &c);
        curl_global_cleanup();
        return VN_EXIT_USAGE;
    }
    if (vn_cli_setup_log(&c) != 0) {
        vn_opts_release(&vn_cli_options, &c);
        curl_global_cleanup();
        return VN_EXIT_USAGE;
    }
    c.argc = argc - words;
    c.argv = argv + words;
    rc = cmd->run(&c, npos, argv + words + first);
    vn_opts_release(&vn_cli_options, &c);
    curl_global_cleanup();
    return rc;
}
