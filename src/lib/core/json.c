/* json.c - see include/vppnotify/json.h. */
#include "vppnotify/json.h"
#include "vppnotify/error.h"

/* Depth of v, stopping early once it exceeds limit (so a hostile value costs little). */
static size_t depth_upto(const json_t *v, size_t limit)
{
    size_t best = 0, d;

    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (best >= limit)
                break;
            d = depth_upto(e, limit);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            if (best >= limit)
                break;
            d = depth_upto(e, limit);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    return 0;
}

size_t vn_json_depth(const json_t *v)
{
    return depth_upto(v, (size_t)-1);
}

json_t *vn_json_load(const char *buf, size_t len, size_t max_depth, struct vn_error *err)
{
    json_error_t je;
    json_t *root;

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        vn_error_set(err, VN_EPARSE, "invalid JSON at line %d, column %d: %s", je.line, je.column,
                     je.text);
        return NULL;
    }
    if (depth_upto(root, max_depth + 1) > max_depth) {
        json_decref(root);
        vn_error_set(err, VN_EPARSE, "JSON nested deeper than %zu levels", max_depth);
        return NULL;
    }
    return root;
}

const char *vn_json_type_name(const json_t *v)
{
    if (!v)
        return "missing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

char *vn_json_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
