/*
 * json.h - strict JSON loading on jansson, shared by every parser in the project.
 *
 * Strict means: duplicate object keys, invalid UTF-8, NUL in strings, integers that do not fit
 * in 64 bits, reals that overflow and trailing garbage are all errors (jansson with
 * JSON_REJECT_DUPLICATES), and nesting deeper than a cap chosen by the caller is an error.
 */
#ifndef VPPNOTIFY_JSON_H
#define VPPNOTIFY_JSON_H

#include <jansson.h>
#include <stddef.h>

struct vn_error;

#define VN_JSON_DEFAULT_DEPTH 32

/*
 * Parse len bytes. Returns a new reference (json_decref it) or NULL with err filled:
 * "invalid JSON at line 1, column 7: duplicate object key", "JSON nested deeper than 32 levels".
 */
json_t *vn_json_load(const char *buf, size_t len, size_t max_depth, struct vn_error *err);

/* Nesting depth of a value: scalars 0, [] and {} 1, [[1]] 2. */
size_t vn_json_depth(const json_t *v);

/* A short name of a JSON value's type for error messages: "string", "number", "object"... */
const char *vn_json_type_name(const json_t *v);

/*
 * Serialise v compactly with sorted keys into a new string (free()), or NULL on failure.
 * Does not consume v.
 */
char *vn_json_dump(const json_t *v);

#endif
