/*
 * main.c - vppnotify's entry point: find the command, parse its options from the table,
 * run it. Exit 0 ok, 1 failure, 2 usage (contract section 4).
 *
 * It guides as git and kubectl do: -h and --help on every command, `vppnotify help COMMAND`,
 * "did you mean" for a mistyped command, subcommand or option. The commands are listed in
 * commands.c, what they share (errors, opening the store, ...) is in common.c, and the
 * generated references (docs/CLI.md, man pages, shell completions) are in docgen.c.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/secret.h"

#define NAME_MAX_CMDS 128 /* command names for "did you mean" */

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
    for (size_t g = 0; g < vn_cli_ngroups; g++)
        for (const struct vn_command *cmd = vn_cli_groups[g]; cmd->name; cmd++)
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
        for (size_t g = 0; g < vn_cli_ngroups; g++) {
            for (const struct vn_command *cmd = vn_cli_groups[g]; cmd->name; cmd++) {
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

    for (size_t g = 0; g < vn_cli_ngroups; g++) {
        for (const struct vn_command *cmd = vn_cli_groups[g]; cmd->name && n + 1 < max; cmd++) {
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

    for (size_t g = 0; g < vn_cli_ngroups; g++)
        for (const struct vn_command *cmd = vn_cli_groups[g]; cmd->name; cmd++)
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
