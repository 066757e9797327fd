/*
 * opts.h - one table describes every option of a program (Redis static_configs, nginx
 * command tables): name, type, default, bounds, environment variable, help text. Flags, the
 * config file, --help and the generated docs (docs/CLI.md) all come from it; no option is
 * parsed anywhere else.
 *
 * Precedence, lowest first: default, config file (--config), environment, command line.
 *
 * Values live in a program-defined struct at each option's offset:
 *   VN_OPT_FLAG -> int; VN_OPT_STRING, VN_OPT_CHOICE -> char *;
 *   VN_OPT_INT, VN_OPT_SIZE (bytes), VN_OPT_DURATION (milliseconds) -> long long;
 *   VN_OPT_LIST -> struct vn_strlist (repeatable; each value may also be comma-separated).
 * The struct owns every string in it; vn_opts_release frees them.
 */
#ifndef VPPNOTIFY_OPTS_H
#define VPPNOTIFY_OPTS_H

#include <stddef.h>
#include <stdio.h>

struct vn_error;

enum vn_opt_type {
    VN_OPT_FLAG,
    VN_OPT_STRING,
    VN_OPT_INT,
    VN_OPT_SIZE,
    VN_OPT_DURATION,
    VN_OPT_CHOICE,
    VN_OPT_LIST,
};

struct vn_strlist {
    char **v; /* owned strings */
    size_t n;
};

struct vn_opt {
    const char *name; /* long name without dashes: "max-body" for --max-body */
    enum vn_opt_type type;
    const char *def;     /* default as it would be written on the command line; NULL: unset */
    long long min, max;  /* bounds of INT, SIZE (bytes) and DURATION (ms) values */
    const char *choices; /* CHOICE: allowed values separated by '|' */
    const char *env;     /* environment variable that sets it, or NULL */
    const char *metavar; /* placeholder in help ("PATH"); NULL for flags */
    const char *help;    /* one line, lower-case, no full stop */
    size_t off;          /* offsetof(program config struct, field) */
};

struct vn_opt_table {
    const struct vn_opt *opts;
    size_t n;
};

/* Where an option's value came from (vn_opts_parse_traced), for messages that must say why a
 * value is what it is ("no database at './vppnotify.db', the default"). */
enum vn_opt_origin {
    VN_OPT_FROM_DEFAULT = 0, /* the table's default, or unset */
    VN_OPT_FROM_CONFIG,      /* the --config file */
    VN_OPT_FROM_ENV,         /* the option's environment variable */
    VN_OPT_FROM_ARGV,        /* the command line */
};

/*
 * Parse argv for a command that accepts the options named in allowed (NULL-terminated).
 * Non-option arguments are moved, in order, to the end of argv; *first_positional is set to
 * the index of the first one (argc if none). A "--config FILE" (when "config" is allowed)
 * is read first. "-h" means "--help" when "help" is allowed. Returns 0, or VN_EUSAGE with err
 * saying what is wrong with which option; an unknown option's message suggests the allowed
 * one nearest to it ("did you mean '--json'?"). cfg must be zeroed before the first call.
 */
int vn_opts_parse(const struct vn_opt_table *t, const char *const *allowed, void *cfg, int argc,
                  char **argv, int *first_positional, struct vn_error *err);

/* vn_opts_parse that also records, in origin[i] (t->n entries, borrowed), where the value of
 * t->opts[i] came from. */
int vn_opts_parse_traced(const struct vn_opt_table *t, const char *const *allowed, void *cfg,
                         int argc, char **argv, int *first_positional, enum vn_opt_origin *origin,
                         struct vn_error *err);

/* Free every string the table's fields own in cfg. */
void vn_opts_release(const struct vn_opt_table *t, void *cfg);

/* Print "usage:" line, summary and the allowed options with defaults and env names. */
void vn_opts_help(FILE *out, const struct vn_opt_table *t, const char *const *allowed,
                  const char *usage, const char *summary);

/* Print the allowed options as a Markdown table (for docs/CLI.md). */
void vn_opts_markdown(FILE *out, const struct vn_opt_table *t, const char *const *allowed);

/*
 * Print the allowed options (except those in skip, NULL-terminated; may be NULL) as a config
 * file of commented defaults: per option, its help as comment lines, then "#name = default"
 * (or "#name = METAVAR" without a default). Uncommenting a line sets the option. The packaged
 * /etc/vppnotify/vppnotify.conf is this output.
 */
void vn_opts_config(FILE *out, const struct vn_opt_table *t, const char *const *allowed,
                    const char *const *skip);

/* Look up an option by name, or NULL. */
const struct vn_opt *vn_opts_find(const struct vn_opt_table *t, const char *name);

/*
 * The candidate nearest to word, for "did you mean ...?": the shortest one that word is a prefix
 * of (at least 2 characters), else the one at the smallest edit distance (insert, delete,
 * substitute, swap two neighbours) when that distance is small for the word's length (at most 1 up
 * to 4 characters, 2 up to 8, then 3). candidates is NULL-terminated and borrowed; returns one of
 * them, or NULL if none is near.
 */
const char *vn_opts_nearest(const char *word, const char *const *candidates);

/* Print text word-wrapped to width columns, as if it started at column indent (the caller has
 * printed what comes before it); continuation lines are indented to that column. Ends the
 * line. */
void vn_opts_wrap(FILE *out, const char *text, size_t indent, size_t width);

/* Edit distance between a and b (optimal string alignment), capped at 255. */
unsigned vn_opts_distance(const char *a, const char *b);

#endif
