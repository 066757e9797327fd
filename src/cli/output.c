/*
 * output.c - print query rows as an aligned table or as one JSON array.
 *
 * JSON is streamed, one object per line inside the array, so a large mirror prints in
 * constant memory. Dotted keys ("counts.available.renewing") become nested objects; NULL
 * values are left out. Tables are buffered to align their columns.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/json.h"

struct vn_output {
    int json;
    FILE *out;
    size_t rows;
    /* table */
    size_t ncols;
    char **headers; /* owned */
    size_t *width;
    char **cells; /* rows * ncols owned strings */
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

/* Put v at the dotted path key inside obj, creating the intermediate objects. */
static int set_path(json_t *obj, const char *key, json_t *v)
{
    const char *dot;

    while ((dot = strchr(key, '.'))) {
        char part[128];
        size_t n = (size_t)(dot - key);
        json_t *child;

        if (n >= sizeof(part))
            n = sizeof(part) - 1;
        memcpy(part, key, n);
        part[n] = '\0';
        child = json_object_get(obj, part);
        if (!child) {
            child = json_object();
            if (!child || json_object_set_new(obj, part, child) != 0) {
                json_decref(v);
                return -ENOMEM;
            }
        }
        obj = child;
        key = dot + 1;
    }
    return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static json_t *to_json(const struct vn_value *v)
{
    switch (v->type) {
    case VN_V_INT:
        return json_integer(v->i);
    case VN_V_BOOL:
        return json_boolean(v->i);
    case VN_V_TEXT:
        return json_string(v->s);
    case VN_V_JSON: {
        json_t *j = json_loads(v->s, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(v->s);
    }
    case VN_V_NULL:
        break;
    }
    return NULL;
}

static int json_row(struct vn_output *o, const struct vn_row *row)
{
    json_t *obj = json_object();
    char *text;
    int rc = 0;

    if (!obj)
        return -ENOMEM;
    for (size_t k = 0; k < row->n && rc == 0; k++) {
        json_t *v = to_json(&row->vals[k]);
        if (v)
            rc = set_path(obj, row->keys[k], v);
    }
    text = rc == 0 ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
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

static int table_row(struct vn_output *o, const struct vn_row *row)
{
    if (o->rows == 0) {
        o->ncols = row->n;
        o->headers = calloc(row->n, sizeof(*o->headers));
        o->width = calloc(row->n, sizeof(*o->width));
        if (!o->headers || !o->width)
            return -ENOMEM;
        for (size_t k = 0; k < row->n; k++) {
            /* "counts.available.renewing" → "available.renewing": short but unambiguous. */
            const char *key = row->keys[k], *dot = strchr(key, '.');
            o->headers[k] = strdup(dot ? dot + 1 : key);
            if (!o->headers[k])
                return -ENOMEM;
            o->width[k] = strlen(o->headers[k]);
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
        len = strlen(t);
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

int vn_output_finish(struct vn_output *o)
{
    int rc = o->err;

    if (o->json) {
        fprintf(o->out, "%s]\n", o->rows ? "\n" : "[");
    } else if (o->rows) {
        for (size_t k = 0; k < o->ncols; k++)
            fprintf(o->out, "%-*s%s", k + 1 < o->ncols ? (int)o->width[k] : 0, o->headers[k],
                    k + 1 < o->ncols ? "  " : "\n");
        for (size_t r = 0; r < o->rows; r++)
            for (size_t k = 0; k < o->ncols; k++)
                fprintf(o->out, "%-*s%s", k + 1 < o->ncols ? (int)o->width[k] : 0,
                        o->cells[r * o->ncols + k], k + 1 < o->ncols ? "  " : "\n");
    }
    if (!o->json)
        fprintf(stderr, "%zu row%s\n", o->rows, o->rows == 1 ? "" : "s");
    if (fflush(o->out) != 0 && !rc)
        rc = -errno;
    for (size_t i = 0; i < o->rows * o->ncols; i++)
        free(o->cells[i]);
    for (size_t k = 0; k < o->ncols && o->headers; k++)
        free(o->headers[k]);
    free(o->cells);
    free(o->headers);
    free(o->width);
    free(o);
    return rc;
}
