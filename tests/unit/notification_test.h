/*
 * notification_test.h - helpers shared by the unit tests of notification.c: read a seed
 * fixture, build a variant of it with one field changed, parse and assert the outcome.
 * Included by test_notification*.c after cmocka.h; everything is static inline.
 */
#ifndef VN_TEST_NOTIFICATION_H
#define VN_TEST_NOTIFICATION_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vppnotify/error.h"
#include "vppnotify/notification.h"

#define SEED VN_FIXTURES "/seed/"

/* ---- helpers ---------------------------------------------------------------------------- */

/* The text of a seed fixture (free()); its length in *len. */
static inline char *read_seed(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *buf;
    long size;

    snprintf(path, sizeof(path), "%s%s", SEED, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* Parse text that must pass the envelope; returns the owned notification. */
static inline struct vn_notification *parse_text(const char *text)
{
    struct vn_notification *n = (void *)1;
    struct vn_error err = {0};
    int rc = vn_notification_parse(text, strlen(text), NULL, &n, &err);

    if (rc != 0)
        print_error("unexpected envelope failure: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(n);
    return n;
}

static inline struct vn_notification *parse_seed(const char *name)
{
    size_t len;
    char *text = read_seed(name, &len);
    struct vn_notification *n = parse_text(text);

    free(text);
    return n;
}

/* Parse text that must fail at the envelope with exactly msg. */
static inline void expect_envelope_error(const char *text, size_t len, const char *msg)
{
    struct vn_notification *n = (void *)1;
    struct vn_error err = {0};

    assert_int_equal(vn_notification_parse(text, len, NULL, &n, &err), VN_EPARSE);
    assert_null(n);
    assert_int_equal(err.code, VN_EPARSE);
    assert_string_equal(err.msg, msg);
}

/* Parse text that must pass the envelope and have an invalid payload with exactly msg. */
static inline void expect_invalid_text(const char *text, const char *msg)
{
    struct vn_notification *n = parse_text(text);

    if (n->valid)
        print_error("payload unexpectedly valid, expected '%s'\n", msg);
    assert_int_equal(n->valid, 0);
    assert_string_equal(n->error, msg);
    /* An invalid payload exposes nothing half-parsed. */
    assert_null(n->assignments);
    assert_null(n->users);
    assert_null(n->seats);
    assert_int_equal(n->n_items, 0);
    assert_int_equal(n->action, VN_ACT_NONE);
    assert_int_equal(n->result, VN_RES_NONE);
    assert_null(n->event_id);
    assert_null(n->pricing_param);
    assert_string_equal(n->adam_id.s, "");
    vn_notification_free(n);
}

/*
 * The seed fixture with one change at path (dots; array indices as numbers, "a.0.b"): value
 * set (stolen reference; missing parent objects are created; an index one past the end
 * appends) or, when value is NULL, the member deleted. Returns the JSON text (free()).
 */
static inline char *variant(const char *fixture, const char *path, json_t *value)
{
    char seg[128], *text;
    json_error_t je;
    json_t *root, *cur;
    const char *p = path;
    size_t len;

    snprintf(seg, sizeof(seg), "%s%s", SEED, fixture);
    root = json_load_file(seg, 0, &je);
    assert_non_null(root);
    cur = root;
    for (;;) {
        const char *dot = strchr(p, '.');
        int last = dot == NULL;

        len = last ? strlen(p) : (size_t)(dot - p);
        assert_true(len < sizeof(seg));
        memcpy(seg, p, len);
        seg[len] = '\0';
        if (last)
            break;
        if (json_is_array(cur)) {
            cur = json_array_get(cur, strtoul(seg, NULL, 10));
        } else {
            json_t *next = json_object_get(cur, seg);

            if (!next) {
                next = json_object();
                json_object_set_new(cur, seg, next);
            }
            cur = next;
        }
        assert_non_null(cur);
        p = dot + 1;
    }
    if (json_is_array(cur)) {
        size_t i = strtoul(seg, NULL, 10);

        if (value && i == json_array_size(cur))
            assert_int_equal(json_array_append_new(cur, value), 0);
        else if (value)
            assert_int_equal(json_array_set_new(cur, i, value), 0);
        else
            assert_int_equal(json_array_remove(cur, i), 0);
    } else if (value) {
        assert_int_equal(json_object_set_new(cur, seg, value), 0);
    } else {
        json_object_del(cur, seg); /* a member the fixture lacks is already deleted */
    }
    text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    json_decref(root);
    return text;
}

/* Convert "notification.users[2].email" into variant()'s "notification.users.2.email". */
static inline void dotted(const char *display, char *out, size_t outlen)
{
    size_t o = 0;

    for (const char *c = display; *c && o + 1 < outlen; c++) {
        if (*c == '[')
            out[o++] = '.';
        else if (*c != ']')
            out[o++] = *c;
    }
    out[o] = '\0';
}

static inline struct vn_notification *parse_variant(const char *fixture, const char *display,
                                                    json_t *value)
{
    char path[256];
    char *text;
    struct vn_notification *n;

    dotted(display, path, sizeof(path));
    text = variant(fixture, path, value);
    n = parse_text(text);
    free(text);
    return n;
}

static inline void expect_invalid(const char *fixture, const char *display, json_t *value,
                                  const char *msg)
{
    char path[256];
    char *text;

    dotted(display, path, sizeof(path));
    text = variant(fixture, path, value);
    expect_invalid_text(text, msg);
    free(text);
}

/* The variant must still validate; returns it for field checks. */
static inline struct vn_notification *expect_valid(const char *fixture, const char *display,
                                                   json_t *value)
{
    struct vn_notification *n = parse_variant(fixture, display, value);

    if (!n->valid)
        print_error("%s %s: unexpectedly invalid: %s\n", fixture, display, n->error);
    assert_int_equal(n->valid, 1);
    assert_string_equal(n->error, "");
    return n;
}

/* A string of n copies of c (free()). */
static inline char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static inline json_t *long_string(size_t n)
{
    char *s = repeat('x', n);
    json_t *v = json_string(s);

    free(s);
    return v;
}

#endif
