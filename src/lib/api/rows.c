/* rows.c - see include/vppnotify/rows.h. */
#include "vppnotify/rows.h"
#include "vppnotify/store.h"

#include <string.h>

json_t *vn_value_json(const struct vn_value *v)
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

/* Put v at the dotted path key inside obj, creating the intermediate objects. Steals v. */
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
                return -1;
            }
        }
        obj = child;
        key = dot + 1;
    }
    return json_object_set_new(obj, key, v);
}

json_t *vn_row_json(const struct vn_row *row)
{
    json_t *obj = json_object();

    if (!obj)
        return NULL;
    for (size_t k = 0; k < row->n; k++) {
        json_t *v = vn_value_json(&row->vals[k]);
        if (v && set_path(obj, row->keys[k], v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

void vn_json_drop_nulls(json_t *obj)
{
    const char *key;
    json_t *m;
    void *tmp;

    json_object_foreach_safe(obj, tmp, key, m)
    {
        if (json_is_null(m))
            json_object_del(obj, key);
    }
}
