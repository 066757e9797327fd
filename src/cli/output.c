/*
 * output.c - print query rows as an aligned table or as one JSON array.
 *
 * JSON is streamed, one object per line inside the array, so a large mirror prints in
 * constant memory; each object is vn_row_json's (rows.h), the rendering the integration API
 * uses too. Tables are buffered to align their columns, and fit VN_OUTPUT_WIDTH
 * columns unless --wide: the command's default columns only, and if that is still too wide,
 * the widest cells shortened (ending in '~'). Widths count characters (UTF-8 code points).
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/json.h"
#include "vppnotify/rows.h"

struct vn_output {
    int json;
    FILE *out;
    size_t rows;
    /* table */
    size_t ncols;
    char **keys;    /* owned */
    char **headers; /* owned */
    size_t *width;
    int wide;
    const char *const *pick; /* borrowed: default columns, or NULL for all */
    char **cells;            /* rows * ncols owned strings */
    size_t cap;
    int err;
};

struct vn_output *vn_output_new(int json, FILE *out)
{
    struct vn_output *o = calloc(1, sizeof(*o));

    if (o) {
        o->json = json;
        o->out = out;
    }
    return o;
}

void vn_output_columns(struct vn_output *o, int wide, const char *const *keys)
{
    o->wide = wide;
    o->pick = keys;
}

static int json_row(struct vn_output *o, const struct vn_row *row)
{
    json_t *obj = vn_row_json(row);
    char *text;

    text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (!text)
        return -ENOMEM;
    fprintf(o->out, "%s%s", o->rows ? ",\n" : "[\n", text);
    free(text);
    return 0;
}

static char *cell_text(const struct vn_value *v)
{
    char num[32];

    switch (v->type) {
    case VN_V_INT:
        snprintf(num, sizeof(num), "%lld", v->i);
        return strdup(num);
    case VN_V_BOOL:
        return strdup(v->i ? "yes" : "no");
    case VN_V_TEXT:
    case VN_V_JSON:
        return strdup(v->s);
    case VN_V_NULL:
        break;
    }
    return strdup("-");
}

/* Characters of UTF-8 text: bytes that do not continue a sequence. */
static size_t text_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int table_row(struct vn_output *o, const struct vn_row *row)
{
    if (o->rows == 0) {
        o->ncols = row->n;
        o->keys = calloc(row->n, sizeof(*o->keys));
        o->headers = calloc(row->n, sizeof(*o->headers));
        o->width = calloc(row->n, sizeof(*o->width));
        if (!o->keys || !o->headers || !o->width)
            return -ENOMEM;
        for (size_t k = 0; k < row->n; k++) {
            /* "counts.available.renewing" → "available.renewing": short but unambiguous. */
            const char *key = row->keys[k], *dot = strchr(key, '.');
            o->keys[k] = strdup(key);
            o->headers[k] = strdup(dot ? dot + 1 : key);
            if (!o->keys[k] || !o->headers[k])
                return -ENOMEM;
            o->width[k] = text_width(o->headers[k]);
        }
    }
    if ((o->rows + 1) * o->ncols > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64 * o->ncols;
        char **cells = realloc(o->cells, cap * sizeof(*cells));
        if (!cells)
            return -ENOMEM;
        o->cells = cells;
        o->cap = cap;
    }
    for (size_t k = 0; k < o->ncols; k++) {
        char *t = k < row->n ? cell_text(&row->vals[k]) : strdup("");
        size_t len;
        if (!t)
            return -ENOMEM;
        /* Control characters would break the layout (and could fool a terminal). */
        for (char *p = t; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        len = text_width(t);
        o->cells[o->rows * o->ncols + k] = t;
        if (len > o->width[k])
            o->width[k] = len;
    }
    return 0;
}

int vn_output_row(void *output, const struct vn_row *row)
{
    struct vn_output *o = output;
    int rc = o->json ? json_row(o, row) : table_row(o, row);

    if (rc) {
        o->err = rc;
        return rc;
    }
    o->rows++;
    return 0;
}

/* Print text in a column of width w (padded unless last); longer text is cut, ending in '~'. */
static void print_cell(FILE *out, const char *t, size_t w, int last)
{
    size_t chars = text_width(t), n = 0;
    const char *p = t;

    if (chars > w) {
        /* w - 1 characters, then the mark. */
        while (*p && n < w - 1) {
            p++;
            while (((unsigned char)*p & 0xC0) == 0x80)
                p++;
            n++;
        }
        fwrite(t, 1, (size_t)(p - t), out);
        fputc('~', out);
        chars = w;
    } else {
        fputs(t, out);
    }
    if (last)
        fputc('\n', out);
    else
        fprintf(out, "%*s", (int)(w - chars + 2), "");
}

#define COLUMN_MIN 6 /* a column is never shortened below this */

/*
 * Which columns to show (indexes into the rows) and how wide: the picked ones, or all; then,
 * unless wide, the widest shortened one character at a time until the line fits. Returns the
 * number shown; *cut is set when a column had to be shortened.
 */
static size_t layout(struct vn_output *o, size_t *show, size_t *w, int *cut)
{
    size_t n = 0, total;

    *cut = 0;
    if (o->pick && !o->wide) {
        for (const char *const *p = o->pick; *p; p++)
            for (size_t k = 0; k < o->ncols; k++)
                if (!strcmp(o->keys[k], *p))
                    show[n++] = k;
    }
    if (n == 0) {
        for (size_t k = 0; k < o->ncols; k++)
            show[n++] = k;
    }
    for (size_t i = 0; i < n; i++)
        w[i] = o->width[show[i]];
    if (o->wide || n == 0)
        return n;
    for (;;) {
        size_t widest = 0;
        total = 2 * (n - 1);
        for (size_t i = 0; i < n; i++) {
            total += w[i];
            if (w[i] > w[widest])
                widest = i;
        }
        if (total <= VN_OUTPUT_WIDTH || w[widest] <= COLUMN_MIN)
            break;
        w[widest]--;
        *cut = 1;
    }
    return n;
}

int vn_output_finish(struct vn_output *o)
{
    int rc = o->err, cut = 0;
    size_t *show = NULL, *w = NULL, n = 0;

    if (o->json) {
        fprintf(o->out, "%s]\n", o->rows ? "\n" : "[");
    } else if (o->rows) {
        show = calloc(o->ncols, sizeof(*show));
        w = calloc(o->ncols, sizeof(*w));
        if (!show || !w) {
            rc = rc ? rc : -ENOMEM;
        } else {
            n = layout(o, show, w, &cut);
            for (size_t i = 0; i < n; i++)
                print_cell(o->out, o->headers[show[i]], w[i], i + 1 == n);
            for (size_t r = 0; r < o->rows; r++)
                for (size_t i = 0; i < n; i++)
                    print_cell(o->out, o->cells[r * o->ncols + show[i]], w[i], i + 1 == n);
        }
    }
    /* The table first, then the line about it (stderr is not buffered). */
    if (fflush(o->out) != 0 && !rc)
        rc = -errno;
    if (!o->json) {
        fprintf(stderr, "%zu row%s", o->rows, o->rows == 1 ? "" : "s");
        if (o->rows && n < o->ncols)
            fprintf(stderr, "; %zu more column%s with --wide or --json", o->ncols - n,
                    o->ncols - n == 1 ? "" : "s");
        if (cut)
            fprintf(stderr, "; cells ending in '~' are shortened (--wide shows them whole)");
        fputc('\n', stderr);
    }
    for (size_t i = 0; i < o->rows * o->ncols; i++)
        free(o->cells[i]);
    for (size_t k = 0; k < o->ncols && o->headers; k++)
        free(o->headers[k]);
    for (size_t k = 0; k < o->ncols && o->keys; k++)
        free(o->keys[k]);
    free(show);
    free(w);
    free(o->cells);
    free(o->headers);
    free(o->keys);
    free(o->width);
    free(o);
    return rc;
}
