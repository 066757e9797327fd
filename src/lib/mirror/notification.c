/*
 * notification.c - see include/vppnotify/notification.h.
 *
 * The envelope is checked straight into a struct vn_error (failure = VN_EPARSE). Payload
 * checks write their message into n->error and return VN_EPARSE, which the caller turns into
 * valid = 0; only -ENOMEM (the one item array) escapes from a payload check as an error.
 *
 * Messages name the field by its path in the body ("notification.assignments[3].adamId") and
 * quote offending values through quote(), which escapes control characters and cuts long
 * values at a character boundary, so a message is always short, printable and valid UTF-8.
 */
#include "vppnotify/notification.h"
#include "vppnotify/error.h"
#include "vppnotify/json.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------------------------ */

static const char *const ntype_names[] = {
    [VN_NT_TEST_NOTIFICATION] = "TEST_NOTIFICATION",
    [VN_NT_ASSET_COUNT] = "ASSET_COUNT",
    [VN_NT_ASSET_MANAGEMENT] = "ASSET_MANAGEMENT",
    [VN_NT_USER_MANAGEMENT] = "USER_MANAGEMENT",
    [VN_NT_USER_ASSOCIATED] = "USER_ASSOCIATED",
    [VN_NT_SUBSCRIPTION_COUNT] = "SUBSCRIPTION_COUNT",
    [VN_NT_SUBSCRIPTION_MANAGEMENT] = "SUBSCRIPTION_MANAGEMENT",
};

static const char *const action_names[] = {
    [VN_ACT_ASSOCIATE] = "ASSOCIATE", [VN_ACT_DISASSOCIATE] = "DISASSOCIATE",
    [VN_ACT_REVOKE] = "REVOKE",       [VN_ACT_CREATE] = "CREATE",
    [VN_ACT_UPDATE] = "UPDATE",       [VN_ACT_RETIRE] = "RETIRE",
};

static const char *const result_names[] = {
    [VN_RES_SUCCESS] = "SUCCESS",
    [VN_RES_FAILURE] = "FAILURE",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *vn_ntype_name(enum vn_ntype t)
{
    return (size_t)t < COUNT_OF(ntype_names) ? ntype_names[t] : NULL;
}

const char *vn_action_name(enum vn_action a)
{
    return (size_t)a < COUNT_OF(action_names) ? action_names[a] : NULL;
}

const char *vn_result_name(enum vn_result r)
{
    return (size_t)r < COUNT_OF(result_names) ? result_names[r] : NULL;
}

enum vn_ntype vn_ntype_from_name(const char *s)
{
    if (!s)
        return VN_NT_UNKNOWN;
    for (size_t i = 1; i < COUNT_OF(ntype_names); i++)
        if (strcmp(s, ntype_names[i]) == 0)
            return (enum vn_ntype)i;
    return VN_NT_UNKNOWN;
}

/* ---- message helpers -------------------------------------------------------------------- */

/* A JSON value's type in JSON's own words: integers and reals are both "number". */
static const char *jtype(const json_t *v)
{
    if (json_is_number(v))
        return "number";
    return vn_json_type_name(v);
}

#define QUOTE_MAX 48

/*
 * Copy the len bytes of s into out as the body of a quoted value: control characters and any
 * byte that does not start a complete UTF-8 character become \xNN, and a value longer than
 * fits is cut at a character boundary and ends with "...". Returns out.
 */
static const char *quote(char out[QUOTE_MAX], const char *s, size_t len)
{
    const size_t room = QUOTE_MAX - 4; /* keep space for "..." and the NUL */
    size_t i = 0, o = 0;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t clen = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        int escape = c < 0x20 || c == 0x7f || clen == 0 || i + clen > len;

        for (size_t k = 1; !escape && k < clen; k++)
            if (((unsigned char)s[i + k] & 0xc0) != 0x80)
                escape = 1;
        if (escape)
            clen = 1;
        if (o + (escape ? 4 : clen) > room) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (escape) {
            snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        } else {
            memcpy(out + o, s + i, clen);
            o += clen;
        }
        i += clen;
    }
    out[o] = '\0';
    return out;
}

/* A JSON real for a message, in a form that still reads as a real: 1.5, 12.0, 1e+300. */
static const char *real_text(char out[32], double d)
{
    snprintf(out, 32, "%.15g", d);
    if (!strpbrk(out, ".eEni")) /* not already 1.5, 1e+300, inf or nan */
        vn_strlcpy(out + strlen(out), ".0", 32 - strlen(out));
    return out;
}

/* Where a value sits in the body: "<base>[<index>]", or just "<base>" when index < 0. */
struct loc {
    const char *base;
    long index;
};

static const struct loc top = {"notification", -1};

/*
 * Write "<loc>.<key>: <message>" (or "<loc>: <message>" without key) into n->error.
 * Returns VN_EPARSE so that a check can end with return fail(...).
 */
static int fail(struct vn_notification *n, const struct loc *at, const char *key, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static int fail(struct vn_notification *n, const struct loc *at, const char *key, const char *fmt,
                ...)
{
    char msg[sizeof(n->error)];
    char where[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (at->index >= 0)
        snprintf(where, sizeof(where), "%s[%ld]", at->base, at->index);
    else
        snprintf(where, sizeof(where), "%s", at->base);
    snprintf(n->error, sizeof(n->error), "%s%s%s: %s", where, key ? "." : "", key ? key : "", msg);
    return VN_EPARSE;
}

/* ---- typed getters: 0, or VN_EPARSE with n->error set ----------------------------------- */

enum { OPTIONAL = 0, REQUIRED = 1 };

/* Member key of obj; NULL when absent, and also when JSON null for an optional member. */
static const json_t *member(const json_t *obj, const char *key, int need)
{
    const json_t *v = json_object_get(obj, key);

    if (v && json_is_null(v) && need == OPTIONAL)
        return NULL;
    return v;
}

/* A string of at most max bytes (non-empty if nonempty). *out is NULL when optional and absent. */
static int get_string(struct vn_notification *n, const json_t *obj, const struct loc *at,
                      const char *key, int need, size_t max, int nonempty, const char **out)
{
    const json_t *v = member(obj, key, need);
    size_t len;

    *out = NULL;
    if (!v)
        return need == REQUIRED ? fail(n, at, key, "missing") : 0;
    if (!json_is_string(v))
        return fail(n, at, key, "expected string, got %s", jtype(v));
    len = json_string_length(v);
    if (len == 0 && nonempty)
        return fail(n, at, key, "empty string");
    if (len > max)
        return fail(n, at, key, "longer than %zu bytes (%zu)", max, len);
    *out = json_string_value(v);
    return 0;
}

/* An identifier: non-empty, at most VN_ID_MAX bytes. */
static int get_id(struct vn_notification *n, const json_t *obj, const struct loc *at,
                  const char *key, int need, const char **out)
{
    return get_string(n, obj, at, key, need, VN_ID_MAX, 1, out);
}

/* Optional free text: may be empty, at most VN_TEXT_MAX bytes. */
static int get_text(struct vn_notification *n, const json_t *obj, const struct loc *at,
                    const char *key, const char **out)
{
    return get_string(n, obj, at, key, OPTIONAL, VN_TEXT_MAX, 0, out);
}

/* A JSON integer within [min, max]. *out is left alone when optional and absent. */
static int get_int(struct vn_notification *n, const json_t *obj, const struct loc *at,
                   const char *key, int need, long long min, long long max, long long *out)
{
    const json_t *v = member(obj, key, need);
    char r[32];
    long long x;

    if (!v)
        return need == REQUIRED ? fail(n, at, key, "missing") : 0;
    if (json_is_real(v))
        return fail(n, at, key, "not an integer (%s)", real_text(r, json_real_value(v)));
    if (!json_is_integer(v))
        return fail(n, at, key, "expected integer, got %s", jtype(v));
    x = json_integer_value(v);
    if (x < min)
        return min == 0 ? fail(n, at, key, "negative (%lld)", x)
                        : fail(n, at, key, "less than %lld (%lld)", min, x);
    if (x > max)
        return fail(n, at, key, "greater than %lld (%lld)", max, x);
    *out = x;
    return 0;
}

/* A JSON boolean; *out is left alone when optional and absent. */
static int get_bool(struct vn_notification *n, const json_t *obj, const struct loc *at,
                    const char *key, int need, int *out)
{
    const json_t *v = member(obj, key, need);

    if (!v)
        return need == REQUIRED ? fail(n, at, key, "missing") : 0;
    if (!json_is_boolean(v))
        return fail(n, at, key, "expected boolean, got %s", jtype(v));
    *out = json_is_true(v);
    return 0;
}

int vn_adam_id_canonical(const char *s, size_t len, struct vn_adam_id *out, struct vn_error *err)
{
    char q[QUOTE_MAX];

    if (len == 0)
        return vn_error_set(err, VN_EPARSE, "empty adamId");
    if (!vn_is_digits(s, len))
        return vn_error_set(err, VN_EPARSE, "adamId '%s' is not a string of digits",
                            quote(q, s, len));
    while (len > 1 && s[0] == '0') {
        s++;
        len--;
    }
    if (len > VN_ADAM_ID_MAX)
        return vn_error_set(err, VN_EPARSE, "adamId '%s' has more than %d digits", quote(q, s, len),
                            VN_ADAM_ID_MAX);
    memcpy(out->s, s, len);
    out->s[len] = '\0';
    return 0;
}

/*
 * An adamId: a string of 1..VN_ADAM_ID_MAX ASCII digits or a non-negative JSON integer, kept
 * as canonical decimal text (leading zeros of the string form dropped, so that "0042" and 42
 * name the same asset). *present says whether it was there (optional form only).
 */
static int get_adam_id(struct vn_notification *n, const json_t *obj, const struct loc *at,
                       const char *key, int need, struct vn_adam_id *out, int *present)
{
    const json_t *v = member(obj, key, need);
    char q[QUOTE_MAX], r[32];

    if (present)
        *present = 0;
    if (!v)
        return need == REQUIRED ? fail(n, at, key, "missing") : 0;
    if (json_is_integer(v)) {
        long long x = json_integer_value(v);

        if (x < 0)
            return fail(n, at, key, "negative (%lld)", x);
        snprintf(out->s, sizeof(out->s), "%lld", x);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);

        if (len == 0)
            return fail(n, at, key, "empty string");
        if (!vn_is_digits(s, len))
            return fail(n, at, key, "not a string of digits ('%s')", quote(q, s, len));
        if (len > VN_ADAM_ID_MAX)
            return fail(n, at, key, "more than %d digits (%zu)", VN_ADAM_ID_MAX, len);
        vn_adam_id_canonical(s, len, out, NULL);
    } else if (json_is_real(v)) {
        return fail(n, at, key, "not an integer (%s)", real_text(r, json_real_value(v)));
    } else {
        return fail(n, at, key, "expected string or number, got %s", jtype(v));
    }
    if (present)
        *present = 1;
    return 0;
}

struct enum_val {
    const char *name;
    int value;
};

/* A required string that must be one of vals (NULL-terminated); expected lists them. */
static int get_enum(struct vn_notification *n, const json_t *obj, const struct loc *at,
                    const char *key, const struct enum_val *vals, const char *expected, int *out)
{
    const json_t *v = member(obj, key, REQUIRED);
    char q[QUOTE_MAX];
    const char *s;

    if (!v)
        return fail(n, at, key, "missing");
    if (!json_is_string(v))
        return fail(n, at, key, "expected string, got %s", jtype(v));
    s = json_string_value(v);
    for (; vals->name; vals++) {
        if (strcmp(s, vals->name) == 0) {
            *out = vals->value;
            return 0;
        }
    }
    return fail(n, at, key, "unknown value '%s' (expected %s)", quote(q, s, json_string_length(v)),
                expected);
}

/* An object member; *out is NULL when optional and absent. */
static int get_object(struct vn_notification *n, const json_t *obj, const struct loc *at,
                      const char *key, int need, const json_t **out)
{
    const json_t *v = member(obj, key, need);

    *out = NULL;
    if (!v)
        return need == REQUIRED ? fail(n, at, key, "missing") : 0;
    if (!json_is_object(v))
        return fail(n, at, key, "expected object, got %s", jtype(v));
    *out = v;
    return 0;
}

/* A required array member of the payload with at most VN_ITEMS_MAX elements. */
static int get_items(struct vn_notification *n, const json_t *payload, const char *key,
                     const json_t **out)
{
    const json_t *v = member(payload, key, REQUIRED);
    size_t size;

    *out = NULL;
    if (!v)
        return fail(n, &top, key, "missing");
    if (!json_is_array(v))
        return fail(n, &top, key, "expected array, got %s", jtype(v));
    size = json_array_size(v);
    if (size > VN_ITEMS_MAX)
        return fail(n, &top, key, "%zu elements, more than %d", size, VN_ITEMS_MAX);
    *out = v;
    return 0;
}

/* The one allocation of a payload: count zeroed items of size bytes (none when count is 0). */
static int alloc_items(struct vn_notification *n, size_t count, size_t size, void **out)
{
    *out = NULL;
    n->n_items = 0;
    if (count == 0)
        return 0;
    *out = calloc(count, size);
    if (!*out)
        return -ENOMEM;
    n->n_items = count;
    return 0;
}

/* ---- payload parts ---------------------------------------------------------------------- */

static const struct enum_val results[] = {
    {"SUCCESS", VN_RES_SUCCESS},
    {"FAILURE", VN_RES_FAILURE},
    {NULL, 0},
};

/* "type", "result" and the optional "eventId" of every *_MANAGEMENT payload. */
static int parse_head(struct vn_notification *n, const json_t *p, const struct enum_val *actions,
                      const char *expected)
{
    int action = 0, result = 0;

    if (get_enum(n, p, &top, "type", actions, expected, &action) ||
        get_enum(n, p, &top, "result", results, "SUCCESS or FAILURE", &result) ||
        get_id(n, p, &top, "eventId", OPTIONAL, &n->event_id))
        return VN_EPARSE;
    n->action = (enum vn_action)action;
    n->result = (enum vn_result)result;
    return 0;
}

/* The optional "error" object: {errorNumber?, errorMessage?} (errorInfo is ignored). */
static int parse_apple_error(struct vn_notification *n, const json_t *p)
{
    static const struct loc at = {"notification.error", -1};
    const json_t *e;

    if (get_object(n, p, &top, "error", OPTIONAL, &e))
        return VN_EPARSE;
    if (!e)
        return 0;
    if (get_int(n, e, &at, "errorNumber", OPTIONAL, LLONG_MIN, LLONG_MAX, &n->apple_error.number) ||
        get_text(n, e, &at, "errorMessage", &n->apple_error.message))
        return VN_EPARSE;
    n->apple_error.present = 1;
    return 0;
}

/* The element at->index of an item array must be an object. */
static int item_object(struct vn_notification *n, const json_t *e, const struct loc *at)
{
    if (!json_is_object(e))
        return fail(n, at, NULL, "expected object, got %s", jtype(e));
    return 0;
}

/*
 * An element of ASSET_MANAGEMENT assignments. A SUCCESS element is a mirror row: adamId and
 * exactly one of clientUserId/serialNumber. A FAILURE element only has to name the item (Apple's
 * REVOKE of a clientUserId it never knew carries {clientUserId} alone): adamId may be missing
 * (adam_id.s is "" then), and at least one of clientUserId/serialNumber is there.
 */
static int parse_assignment(struct vn_notification *n, const json_t *e, const struct loc *at,
                            struct vn_assignment *a)
{
    int failure = n->result == VN_RES_FAILURE, has_adam = 1;

    if (item_object(n, e, at) ||
        get_adam_id(n, e, at, "adamId", failure ? OPTIONAL : REQUIRED, &a->adam_id,
                    failure ? &has_adam : NULL) ||
        get_id(n, e, at, "pricingParam", OPTIONAL, &a->pricing_param) ||
        get_id(n, e, at, "clientUserId", OPTIONAL, &a->client_user_id) ||
        get_id(n, e, at, "serialNumber", OPTIONAL, &a->serial_number))
        return VN_EPARSE;
    if (!has_adam)
        a->adam_id.s[0] = '\0';
    if (!a->pricing_param && has_adam)
        a->pricing_param = "STDQ";
    if (a->client_user_id && a->serial_number)
        return fail(n, at, NULL, "both clientUserId and serialNumber (expected exactly one)");
    if (!a->client_user_id && !a->serial_number)
        return fail(n, at, NULL, "neither clientUserId nor serialNumber (expected exactly one)");
    return 0;
}

static int parse_user(struct vn_notification *n, const json_t *e, const struct loc *at,
                      struct vn_user *u)
{
    if (item_object(n, e, at) || get_id(n, e, at, "clientUserId", REQUIRED, &u->client_user_id) ||
        get_text(n, e, at, "email", &u->email) ||
        get_text(n, e, at, "inviteCode", &u->invite_code) ||
        get_text(n, e, at, "idHash", &u->id_hash) || get_text(n, e, at, "status", &u->status))
        return VN_EPARSE;
    return 0;
}

/* An element of SUBSCRIPTION_MANAGEMENT assignments; a FAILURE one may lack adamId. */
static int parse_seat(struct vn_notification *n, const json_t *e, const struct loc *at,
                      struct vn_seat *s)
{
    int failure = n->result == VN_RES_FAILURE, has_adam = 1;

    s->renewing = 1;
    if (item_object(n, e, at) ||
        get_adam_id(n, e, at, "adamId", failure ? OPTIONAL : REQUIRED, &s->adam_id,
                    failure ? &has_adam : NULL) ||
        get_id(n, e, at, "clientUserId", REQUIRED, &s->client_user_id) ||
        get_bool(n, e, at, "renewing", OPTIONAL, &s->renewing))
        return VN_EPARSE;
    if (!has_adam)
        s->adam_id.s[0] = '\0';
    return 0;
}

/* The users of USER_MANAGEMENT ("users") or USER_ASSOCIATED ("associatedUsers"). */
static int parse_users(struct vn_notification *n, const json_t *p, const char *key,
                       const char *path)
{
    struct loc at = {path, 0};
    const json_t *arr;
    void *items;
    int rc;

    if (get_items(n, p, key, &arr))
        return VN_EPARSE;
    rc = alloc_items(n, json_array_size(arr), sizeof(*n->users), &items);
    if (rc)
        return rc;
    n->users = items;
    for (size_t i = 0; i < n->n_items; i++) {
        at.index = (long)i;
        if (parse_user(n, json_array_get(arr, i), &at, &n->users[i]))
            return VN_EPARSE;
    }
    return 0;
}

/* One {renewing, expiring} object of SUBSCRIPTION_COUNT counts. */
static int parse_count_pair(struct vn_notification *n, const json_t *counts, const char *key,
                            const char *path, long long *renewing, long long *expiring)
{
    static const struct loc at_counts = {"notification.counts", -1};
    const struct loc at = {path, -1};
    const json_t *o;

    if (get_object(n, counts, &at_counts, key, REQUIRED, &o) ||
        get_int(n, o, &at, "renewing", REQUIRED, 0, INT32_MAX, renewing) ||
        get_int(n, o, &at, "expiring", REQUIRED, 0, INT32_MAX, expiring))
        return VN_EPARSE;
    return 0;
}

/* ---- payloads per type ------------------------------------------------------------------ */

static int parse_asset_count(struct vn_notification *n, const json_t *p)
{
    if (get_adam_id(n, p, &top, "adamId", REQUIRED, &n->adam_id, NULL) ||
        get_id(n, p, &top, "pricingParam", OPTIONAL, &n->pricing_param) ||
        get_int(n, p, &top, "countDelta", REQUIRED, LLONG_MIN, LLONG_MAX, &n->count_delta))
        return VN_EPARSE;
    /* Apple's default, as for assignments and requests (apple-api.md 2.4): docs/SCHEMA.md. */
    if (!n->pricing_param)
        n->pricing_param = "STDQ";
    return 0;
}

static int parse_asset_management(struct vn_notification *n, const json_t *p)
{
    static const struct enum_val actions[] = {
        {"ASSOCIATE", VN_ACT_ASSOCIATE},
        {"DISASSOCIATE", VN_ACT_DISASSOCIATE},
        {"REVOKE", VN_ACT_REVOKE},
        {NULL, 0},
    };
    struct loc at = {"notification.assignments", 0};
    const json_t *arr;
    void *items;
    int rc;

    if (parse_head(n, p, actions, "ASSOCIATE, DISASSOCIATE or REVOKE") ||
        get_items(n, p, "assignments", &arr))
        return VN_EPARSE;
    rc = alloc_items(n, json_array_size(arr), sizeof(*n->assignments), &items);
    if (rc)
        return rc;
    n->assignments = items;
    for (size_t i = 0; i < n->n_items; i++) {
        at.index = (long)i;
        if (parse_assignment(n, json_array_get(arr, i), &at, &n->assignments[i]))
            return VN_EPARSE;
    }
    return parse_apple_error(n, p);
}

static int parse_user_management(struct vn_notification *n, const json_t *p)
{
    static const struct enum_val actions[] = {
        {"CREATE", VN_ACT_CREATE},
        {"UPDATE", VN_ACT_UPDATE},
        {"RETIRE", VN_ACT_RETIRE},
        {NULL, 0},
    };
    int rc;

    if (parse_head(n, p, actions, "CREATE, UPDATE or RETIRE"))
        return VN_EPARSE;
    rc = parse_users(n, p, "users", "notification.users");
    if (rc)
        return rc;
    return parse_apple_error(n, p);
}

static int parse_user_associated(struct vn_notification *n, const json_t *p)
{
    return parse_users(n, p, "associatedUsers", "notification.associatedUsers");
}

static int parse_subscription_count(struct vn_notification *n, const json_t *p)
{
    const json_t *counts;

    if (get_adam_id(n, p, &top, "adamId", REQUIRED, &n->adam_id, NULL) ||
        get_adam_id(n, p, &top, "parentAdamId", OPTIONAL, &n->parent_adam_id,
                    &n->has_parent_adam_id) ||
        get_object(n, p, &top, "counts", REQUIRED, &counts) ||
        parse_count_pair(n, counts, "available", "notification.counts.available",
                         &n->counts.available_renewing, &n->counts.available_expiring) ||
        parse_count_pair(n, counts, "total", "notification.counts.total", &n->counts.total_renewing,
                         &n->counts.total_expiring))
        return VN_EPARSE;
    return 0;
}

static int parse_subscription_management(struct vn_notification *n, const json_t *p)
{
    static const struct enum_val actions[] = {
        {"ASSOCIATE", VN_ACT_ASSOCIATE},
        {"DISASSOCIATE", VN_ACT_DISASSOCIATE},
        {NULL, 0},
    };
    struct loc at = {"notification.assignments", 0};
    const json_t *arr;
    void *items;
    int rc;

    if (parse_head(n, p, actions, "ASSOCIATE or DISASSOCIATE") ||
        get_items(n, p, "assignments", &arr))
        return VN_EPARSE;
    rc = alloc_items(n, json_array_size(arr), sizeof(*n->seats), &items);
    if (rc)
        return rc;
    n->seats = items;
    for (size_t i = 0; i < n->n_items; i++) {
        at.index = (long)i;
        if (parse_seat(n, json_array_get(arr, i), &at, &n->seats[i]))
            return VN_EPARSE;
    }
    return parse_apple_error(n, p);
}

/* 0 (valid), VN_EPARSE (invalid or unknown type: n->error says why) or -ENOMEM. */
static int parse_payload(struct vn_notification *n, const json_t *p)
{
    char q[QUOTE_MAX];

    switch (n->type) {
    case VN_NT_TEST_NOTIFICATION:
        return 0;
    case VN_NT_ASSET_COUNT:
        return parse_asset_count(n, p);
    case VN_NT_ASSET_MANAGEMENT:
        return parse_asset_management(n, p);
    case VN_NT_USER_MANAGEMENT:
        return parse_user_management(n, p);
    case VN_NT_USER_ASSOCIATED:
        return parse_user_associated(n, p);
    case VN_NT_SUBSCRIPTION_COUNT:
        return parse_subscription_count(n, p);
    case VN_NT_SUBSCRIPTION_MANAGEMENT:
        return parse_subscription_management(n, p);
    case VN_NT_UNKNOWN:
        break;
    }
    snprintf(n->error, sizeof(n->error), "unknown notificationType '%s'",
             quote(q, n->type_name, strlen(n->type_name)));
    return VN_EPARSE;
}

/* Forget every payload field after a failed check, so that valid = 0 exposes no half-parsed
 * data: only the envelope and the message remain. */
static void clear_payload(struct vn_notification *n)
{
    struct vn_notification keep = *n;

    free(n->assignments);
    free(n->users);
    free(n->seats);
    memset(n, 0, sizeof(*n));
    n->id = keep.id;
    n->type_name = keep.type_name;
    n->uid = keep.uid;
    n->type = keep.type;
    n->priv = keep.priv;
    memcpy(n->error, keep.error, sizeof(n->error));
}

/* ---- envelope --------------------------------------------------------------------------- */

/* A required non-empty string of at most VN_ID_MAX bytes at the top of the envelope. */
static int envelope_string(const json_t *root, const char *key, const char **out,
                           struct vn_error *err)
{
    const json_t *v = json_object_get(root, key);
    size_t len;

    if (!v)
        return vn_error_set(err, VN_EPARSE, "%s: missing", key);
    if (!json_is_string(v))
        return vn_error_set(err, VN_EPARSE, "%s: expected string, got %s", key, jtype(v));
    len = json_string_length(v);
    if (len == 0)
        return vn_error_set(err, VN_EPARSE, "%s: empty string", key);
    if (len > VN_ID_MAX)
        return vn_error_set(err, VN_EPARSE, "%s: longer than %d bytes (%zu)", key, VN_ID_MAX, len);
    *out = json_string_value(v);
    return 0;
}

int vn_notification_parse(const char *body, size_t len, const struct vn_parse_limits *limits,
                          struct vn_notification **out, struct vn_error *err)
{
    size_t depth = limits && limits->max_depth ? limits->max_depth : VN_JSON_DEFAULT_DEPTH;
    const char *id = NULL, *type_name = NULL, *uid = NULL;
    struct vn_notification *n = NULL;
    const json_t *payload;
    json_t *root;
    int rc;

    *out = NULL;
    root = vn_json_load(body ? body : "", body ? len : 0, depth, err);
    if (!root)
        return VN_EPARSE;
    if (!json_is_object(root)) {
        rc = vn_error_set(err, VN_EPARSE, "envelope: expected object, got %s", jtype(root));
        goto out;
    }
    rc = envelope_string(root, "notificationId", &id, err);
    if (!rc)
        rc = envelope_string(root, "notificationType", &type_name, err);
    if (!rc)
        rc = envelope_string(root, "uId", &uid, err);
    if (rc)
        goto out;
    payload = json_object_get(root, "notification");
    if (!payload) {
        rc = vn_error_set(err, VN_EPARSE, "notification: missing");
        goto out;
    }
    if (!json_is_object(payload)) {
        rc = vn_error_set(err, VN_EPARSE, "notification: expected object, got %s", jtype(payload));
        goto out;
    }

    n = calloc(1, sizeof(*n));
    if (!n) {
        rc = vn_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    n->priv = root;
    root = NULL;
    n->id = id;
    n->type_name = type_name;
    n->uid = uid;
    n->type = vn_ntype_from_name(type_name);

    rc = parse_payload(n, payload);
    if (rc == -ENOMEM) {
        vn_error_set(err, rc, "out of memory");
        goto out;
    }
    if (rc == 0) {
        n->valid = 1;
    } else {
        n->valid = 0;
        clear_payload(n);
    }
    *out = n;
    n = NULL;
    rc = 0;
out:
    vn_notification_free(n);
    json_decref(root);
    return rc;
}

void vn_notification_free(struct vn_notification *n)
{
    if (!n)
        return;
    free(n->assignments);
    free(n->users);
    free(n->seats);
    json_decref((json_t *)n->priv);
    free(n);
}
