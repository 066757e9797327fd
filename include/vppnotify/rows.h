/*
 * rows.h - the one JSON rendering of the store's query rows (struct vn_row), shared by the
 * CLI's --json and the integration API, so that both show the same objects (contract
 * section 4: stable keys, Apple's names, absent values left out).
 */
#ifndef VPPNOTIFY_ROWS_H
#define VPPNOTIFY_ROWS_H

#include <jansson.h>

struct vn_row;
struct vn_value;

/* One value: a new reference, or NULL for an absent (NULL) value. A JSON value that does not
 * parse is rendered as the string it is. */
json_t *vn_value_json(const struct vn_value *v);

/*
 * The row as one JSON object: dotted keys ("counts.available.renewing") become nested
 * objects; NULL values are left out. A new reference, or NULL when out of memory.
 */
json_t *vn_row_json(const struct vn_row *row);

/* Remove the members of obj whose value is null (the object's own, not nested ones): a row
 * rendered elsewhere as JSON (the change log's) then matches vn_row_json's. */
void vn_json_drop_nulls(json_t *obj);

#endif
