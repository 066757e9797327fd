/* opts.c - see include/vppnotify/opts.h. */
#include "vppnotify/opts.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_LINE_MAX 4096
#define WORD_MAX        128 /* longer words are never near anything: no suggestion */

static int allowed_has(const char *const *allowed, const char *name)
{
    for (; *allowed; allowed++)
        if (strcmp(*allowed, name) == 0)
            return 1;
    return 0;
}

const struct vn_opt *vn_opts_find(const struct vn_opt_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->opts[i].name, name) == 0)
            return &t->opts[i];
    return NULL;
}

static void *field(void *cfg, const struct vn_opt *o)
{
    return (char *)cfg + o->off;
}

static int choice_ok(const struct vn_opt *o, const char *v)
{
    size_t len = strlen(v);
    const char *p = o->choices;

    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, v, n) == 0)
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static int list_add(struct vn_strlist *l, const char *v)
{
    /* Each value may itself be a comma-separated list; empty items are skipped. */
    const char *p = v;

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n) {
            char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
            if (!nv)
                return -ENOMEM;
            l->v = nv;
            l->v[l->n] = strndup(p, n);
            if (!l->v[l->n])
                return -ENOMEM;
            l->n++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static void list_clear(struct vn_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* The limits of a number option, "MIN..MAX" as its values are written. */
static void range_text(const struct vn_opt *o, char *out, size_t outlen)
{
    char lo[32], hi[32];

    if (o->type == VN_OPT_DURATION) {
        vn_format_duration(o->min, lo, sizeof(lo));
        vn_format_duration(o->max, hi, sizeof(hi));
    } else {
        snprintf(lo, sizeof(lo), "%lld", o->min);
        snprintf(hi, sizeof(hi), "%lld", o->max);
    }
    snprintf(out, outlen, "%s..%s", lo, hi);
}

/* Set one option from text; source says where the text came from, for messages. */
static int set_value(const struct vn_opt *o, void *cfg, const char *v, const char *source,
                     struct vn_error *err)
{
    long long n = 0;
    char range[80];
    int rc = 0;

    switch (o->type) {
    case VN_OPT_FLAG:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
            *(int *)field(cfg, o) = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
            *(int *)field(cfg, o) = 0;
        else
            return vn_error_set(err, VN_EUSAGE, "%s '--%s' value '%s': expected true or false",
                                source, o->name, v);
        return 0;
    case VN_OPT_STRING:
    case VN_OPT_CHOICE: {
        char **s = field(cfg, o);
        if (o->type == VN_OPT_CHOICE && !choice_ok(o, v))
            return vn_error_set(err, VN_EUSAGE, "%s '--%s' value '%s': expected one of %s", source,
                                o->name, v, o->choices);
        free(*s);
        *s = strdup(v);
        return *s ? 0 : -ENOMEM;
    }
    case VN_OPT_LIST:
        return list_add(field(cfg, o), v);
    case VN_OPT_INT:
        rc = vn_parse_ll(v, o->min, o->max, &n);
        break;
    case VN_OPT_SIZE:
        rc = vn_parse_size(v, &n);
        break;
    case VN_OPT_DURATION:
        rc = vn_parse_duration_ms(v, &n);
        break;
    }
    range_text(o, range, sizeof(range));
    if (rc == VN_EPARSE)
        return vn_error_set(err, VN_EUSAGE, "%s '--%s' value '%s': expected %s (limits %s)", source,
                            o->name, v,
                            o->type == VN_OPT_INT    ? "an integer"
                            : o->type == VN_OPT_SIZE ? "a size such as 65536, 64K or 1M"
                                                     : "a duration such as 500ms, 30s, 5m or 1h",
                            range);
    if (rc == 0 && (n < o->min || n > o->max))
        rc = VN_ETOOBIG;
    if (rc == VN_ETOOBIG)
        return vn_error_set(err, VN_EUSAGE, "%s '--%s' value '%s' is outside %s", source, o->name,
                            v, range);
    if (rc)
        return rc;
    *(long long *)field(cfg, o) = n;
    return 0;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Config file: "name = value" or "name value" lines; '#' starts a comment line. Options the
 * command does not take are skipped, so that one file can serve every command. */
static int read_config(const struct vn_opt_table *t, const char *const *allowed, void *cfg,
                       const char *path, enum vn_opt_origin *origin, struct vn_error *err)
{
    char line[CONFIG_LINE_MAX], source[600];
    FILE *f = fopen(path, "re");
    int lineno = 0, rc = 0;

    if (!f)
        return vn_error_set(err, VN_EUSAGE, "cannot read config file '%s': %s", path,
                            strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        char *s = trim(line), *name, *value, *sep;
        const struct vn_opt *o;

        lineno++;
        if (!*s || *s == '#')
            continue;
        sep = strpbrk(s, "= \t");
        if (!sep) {
            rc = vn_error_set(err, VN_EUSAGE, "config file '%s' line %d: expected 'name = value'",
                              path, lineno);
            break;
        }
        *sep = '\0';
        name = trim(s);
        value = trim(sep + 1);
        if (*value == '=')
            value = trim(value + 1);
        o = vn_opts_find(t, name);
        if (!o || !strcmp(name, "config")) {
            rc = vn_error_set(err, VN_EUSAGE, "config file '%s' line %d: unknown option '%s'", path,
                              lineno, name);
            break;
        }
        if (!allowed_has(allowed, name))
            continue;
        snprintf(source, sizeof(source), "config file '%s' line %d: option", path, lineno);
        rc = set_value(o, cfg, value, source, err);
        if (rc)
            break;
        if (origin)
            origin[o - t->opts] = VN_OPT_FROM_CONFIG;
    }
    fclose(f);
    return rc;
}

/* "unknown option '--jsn'; did you mean '--json'?" */
static int unknown_option(const struct vn_opt_table *t, const char *const *allowed,
                          const char *name, struct vn_error *err)
{
    const char *near = vn_opts_nearest(name, allowed);

    if (near)
        return vn_error_set(err, VN_EUSAGE, "unknown option '--%s'; did you mean '--%s'?", name,
                            near);
    if (vn_opts_find(t, name))
        return vn_error_set(err, VN_EUSAGE, "option '--%s' does not apply to this command", name);
    return vn_error_set(err, VN_EUSAGE, "unknown option '--%s'", name);
}

int vn_opts_parse(const struct vn_opt_table *t, const char *const *allowed, void *cfg, int argc,
                  char **argv, int *first_positional, struct vn_error *err)
{
    return vn_opts_parse_traced(t, allowed, cfg, argc, argv, first_positional, NULL, err);
}

int vn_opts_parse_traced(const struct vn_opt_table *t, const char *const *allowed, void *cfg,
                         int argc, char **argv, int *first_positional, enum vn_opt_origin *origin,
                         struct vn_error *err)
{
    char **pos;
    int npos = 0, rc = 0, i;
    const char *config = NULL;

    if (origin)
        for (size_t k = 0; k < t->n; k++)
            origin[k] = VN_OPT_FROM_DEFAULT;
    /* Defaults for every option, so that code may read any field. */
    for (size_t k = 0; k < t->n; k++) {
        const struct vn_opt *o = &t->opts[k];
        if (o->def && (rc = set_value(o, cfg, o->def, "default of", err)))
            return rc;
    }
    /* The config file comes before the environment and the command line. */
    if (allowed_has(allowed, "config")) {
        for (i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--"))
                break;
            if (!strcmp(argv[i], "--config") && i + 1 < argc)
                config = argv[i + 1];
            else if (!strncmp(argv[i], "--config=", 9))
                config = argv[i] + 9;
        }
        if (!config && vn_opts_find(t, "config") && vn_opts_find(t, "config")->env)
            config = getenv(vn_opts_find(t, "config")->env);
        if (config && *config && (rc = read_config(t, allowed, cfg, config, origin, err)))
            return rc;
    }
    for (size_t k = 0; k < t->n; k++) {
        const struct vn_opt *o = &t->opts[k];
        const char *v;
        char source[128];
        if (!o->env || !allowed_has(allowed, o->name) || !(v = getenv(o->env)))
            continue;
        snprintf(source, sizeof(source), "environment %s for option", o->env);
        if ((rc = set_value(o, cfg, v, source, err)))
            return rc;
        if (origin)
            origin[k] = VN_OPT_FROM_ENV;
    }

    pos = calloc((size_t)argc + 1, sizeof(*pos));
    if (!pos)
        return -ENOMEM;
    for (i = 1; i < argc; i++) {
        char *a = argv[i], name[128];
        const char *value = NULL;
        const struct vn_opt *o;
        size_t nlen;

        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++)
                pos[npos++] = argv[i];
            break;
        }
        if (!strcmp(a, "-h") && allowed_has(allowed, "help") && (o = vn_opts_find(t, "help")) &&
            o->type == VN_OPT_FLAG) {
            *(int *)field(cfg, o) = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            pos[npos++] = a;
            continue;
        }
        nlen = strcspn(a + 2, "=");
        if (nlen >= sizeof(name)) {
            rc = vn_error_set(err, VN_EUSAGE, "unknown option '%.40s...' (longer than %zu)", a,
                              sizeof(name) - 1);
            break;
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        if (a[2 + nlen] == '=')
            value = a + 2 + nlen + 1;
        o = vn_opts_find(t, name);
        if (!o || !allowed_has(allowed, name)) {
            rc = unknown_option(t, allowed, name, err);
            break;
        }
        if (origin)
            origin[o - t->opts] = VN_OPT_FROM_ARGV;
        if (o->type == VN_OPT_FLAG && !value) {
            *(int *)field(cfg, o) = 1;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                rc = vn_error_set(err, VN_EUSAGE, "option '--%s' needs a value (%s)", name,
                                  o->metavar ? o->metavar : "VALUE");
                break;
            }
            value = argv[++i];
        }
        if ((rc = set_value(o, cfg, value, "option", err)))
            break;
    }
    if (rc == 0) {
        int first = argc - npos;
        for (int k = 0; k < npos; k++)
            argv[first + k] = pos[k];
        *first_positional = first;
    }
    free(pos);
    return rc;
}

void vn_opts_release(const struct vn_opt_table *t, void *cfg)
{
    for (size_t k = 0; k < t->n; k++) {
        const struct vn_opt *o = &t->opts[k];
        if (o->type == VN_OPT_STRING || o->type == VN_OPT_CHOICE) {
            char **s = field(cfg, o);
            free(*s);
            *s = NULL;
        } else if (o->type == VN_OPT_LIST) {
            list_clear(field(cfg, o));
        }
    }
}

static void describe_default(const struct vn_opt *o, char *out, size_t outlen)
{
    out[0] = '\0';
    if (o->def && o->type != VN_OPT_FLAG)
        snprintf(out, outlen, "default %s", o->def);
}

void vn_opts_wrap(FILE *out, const char *text, size_t indent, size_t width)
{
    size_t col = indent;
    const char *p = text;

    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > indent && col + 1 + word > width) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, word, out);
        col += word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

#define HELP_WIDTH 100

void vn_opts_help(FILE *out, const struct vn_opt_table *t, const char *const *allowed,
                  const char *usage, const char *summary)
{
    /* Text with its own line breaks is laid out already: printed as it is. */
    fprintf(out, "usage: ");
    if (strchr(usage, '\n'))
        fprintf(out, "%s\n", usage);
    else
        vn_opts_wrap(out, usage, 7, HELP_WIDTH);
    fputc('\n', out);
    if (strchr(summary, '\n'))
        fprintf(out, "%s\n", summary);
    else
        vn_opts_wrap(out, summary, 0, HELP_WIDTH);
    if (!allowed[0])
        return;
    fprintf(out, "\noptions:\n");
    for (const char *const *a = allowed; *a; a++) {
        const struct vn_opt *o = vn_opts_find(t, *a);
        char left[80], def[128], extra[256], text[1024];
        if (!o)
            continue;
        snprintf(left, sizeof(left), "%s--%s%s%s", strcmp(o->name, "help") ? "" : "-h, ", o->name,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        describe_default(o, def, sizeof(def));
        snprintf(extra, sizeof(extra), "%s%s%s%s%s", def[0] || o->env ? " (" : "", def,
                 def[0] && o->env ? "; " : "", o->env ? "env " : "", o->env ? o->env : "");
        snprintf(text, sizeof(text), "%s%s%s%s%s", o->help, extra, def[0] || o->env ? ")" : "",
                 o->type == VN_OPT_CHOICE ? "; one of: " : "",
                 o->type == VN_OPT_CHOICE ? o->choices : "");
        if (strlen(left) > 26)
            fprintf(out, "  %s\n%29s", left, "");
        else
            fprintf(out, "  %-26s ", left);
        vn_opts_wrap(out, text, 29, HELP_WIDTH);
    }
}

/* Text for a Markdown table cell: '|' would end the cell. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void vn_opts_markdown(FILE *out, const struct vn_opt_table *t, const char *const *allowed)
{
    fprintf(out, "| option | default | env | meaning |\n| --- | --- | --- | --- |\n");
    for (const char *const *a = allowed; *a; a++) {
        const struct vn_opt *o = vn_opts_find(t, *a);
        int def = o && o->def && o->type != VN_OPT_FLAG;
        if (!o)
            continue;
        fprintf(out, "| `%s--%s%s%s` | %s", strcmp(o->name, "help") ? "" : "-h`, `", o->name,
                o->metavar ? " " : "", o->metavar ? o->metavar : "", def ? "`" : "");
        md_cell(out, def ? o->def : "");
        fprintf(out, "%s | %s%s%s | ", def ? "`" : "", o->env ? "`" : "", o->env ? o->env : "",
                o->env ? "`" : "");
        md_cell(out, o->help);
        if (o->type == VN_OPT_CHOICE) {
            fputs("; one of ", out);
            md_cell(out, o->choices);
        }
        fputs(" |\n", out);
    }
}

unsigned vn_opts_distance(const char *a, const char *b)
{
    /* Three rows of the dynamic programme: the one before the previous (for swaps), the
     * previous and the current. Words longer than WORD_MAX are capped there. */
    unsigned rows[3][WORD_MAX + 1];
    size_t la = strnlen(a, WORD_MAX), lb = strnlen(b, WORD_MAX);
    unsigned *pp = rows[0], *prev = rows[1], *cur = rows[2];

    for (size_t j = 0; j <= lb; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned *t;
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1], best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb] < 255 ? prev[lb] : 255;
}

const char *vn_opts_nearest(const char *word, const char *const *candidates)
{
    size_t len = strlen(word);
    const char *best = NULL, *prefix_of = NULL;
    unsigned best_d = 255, limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;

    if (len == 0 || len > WORD_MAX)
        return NULL;
    for (const char *const *c = candidates; *c; c++) {
        unsigned d;
        if (strncmp(*c, word, len) == 0 && (*c)[len] != '\0' &&
            (!prefix_of || strlen(*c) < strlen(prefix_of)))
            prefix_of = *c;
        d = vn_opts_distance(word, *c);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    if (prefix_of && len >= 2)
        return prefix_of;
    return best_d <= limit && best_d < len ? best : NULL;
}

/* One comment line per chunk of text at most 96 columns wide, words kept whole. */
static void comment_wrapped(FILE *out, const char *text)
{
    const char *p = text;

    while (*p) {
        size_t n = strlen(p), cut = n;
        if (n > 94) {
            cut = 94;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = 94;
        }
        fprintf(out, "# %.*s\n", (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

void vn_opts_config(FILE *out, const struct vn_opt_table *t, const char *const *allowed,
                    const char *const *skip)
{
    for (const char *const *a = allowed; *a; a++) {
        const struct vn_opt *o = vn_opts_find(t, *a);
        char line[512];
        int skipped = 0;

        for (const char *const *s = skip; s && *s; s++)
            skipped |= !strcmp(*s, *a);
        if (!o || skipped)
            continue;
        snprintf(line, sizeof(line), "%s%s%s%s%s", o->help,
                 o->type == VN_OPT_CHOICE ? "; one of " : "",
                 o->type == VN_OPT_CHOICE ? o->choices : "", o->env ? "; env " : "",
                 o->env ? o->env : "");
        fputc('\n', out);
        comment_wrapped(out, line);
        if (o->type == VN_OPT_FLAG)
            fprintf(out, "#%s = false\n", o->name);
        else if (o->def)
            fprintf(out, "#%s = %s\n", o->name, o->def);
        else
            fprintf(out, "#%s = %s\n", o->name, o->metavar ? o->metavar : "VALUE");
    }
}
