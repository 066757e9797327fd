/*
 * url.c - store URLs (docs/STORE.md): which backend, its target (a file path, or a libpq URI
 * without its query) and the parameters after '?', of which each backend takes its own.
 *
 *   [sqlite:]PATH[?busy_timeout=DURATION&max_size=SIZE]
 *   postgresql://[user@]host[:port]/dbname[?param=value&...]   (also postgres://)
 *
 * Parameters are key=value pairs joined by '&', values percent-decoded (%2F). A later value of
 * a key replaces an earlier one; the URL's own come after struct vn_store_options.params, so
 * they win. A backend marks what it takes (vn__store_param*); vn__store_params_done refuses
 * the rest by name, so that a misspelt parameter is an error rather than silently ignored.
 */
#include "store_impl.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <string.h>

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into out (NUL-terminated): 0, VN_EPARSE (a bad escape, or one that
 * makes a NUL) or VN_ETOOBIG (longer than outlen - 1). */
static int decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return VN_EPARSE;
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            if (c == '\0')
                return VN_EPARSE;
            i += 2;
        }
        if (o + 1 >= outlen)
            return VN_ETOOBIG;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* A parameter name: lower-case letters, digits and '_', not empty. */
static int valid_key(const char *k)
{
    if (!*k)
        return 0;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
            return 0;
    return 1;
}

/* Add the parameters of q ("k=v&k=v") to u. */
static int parse_query(struct vn__store_url *u, const char *q, struct vn_error *err)
{
    while (*q) {
        const char *end = strchr(q, '&'), *eq;
        size_t n = end ? (size_t)(end - q) : strlen(q);
        char key[VN__STORE_KEY_MAX + 1];
        struct vn__store_param *p = NULL;
        int rc;

        eq = memchr(q, '=', n);
        if (n == 0) {
            q += 1; /* "a=1&&b=2": an empty pair is nothing */
            continue;
        }
        if (!eq)
            return vn_error_set(err, VN_EPARSE,
                                "store URL '%s': parameter '%.*s' has no value (key=value)",
                                u->shown, (int)(n > 64 ? 64 : n), q);
        rc = decode(q, (size_t)(eq - q), key, sizeof(key));
        if (rc || !valid_key(key))
            return vn_error_set(err, VN_EPARSE,
                                "store URL '%s': '%.*s' is not a parameter name (lower-case "
                                "letters, digits, '_'; at most %d)",
                                u->shown, (int)((eq - q) > 64 ? 64 : (eq - q)), q,
                                VN__STORE_KEY_MAX);
        for (size_t i = 0; i < u->n; i++)
            if (!strcmp(u->p[i].key, key))
                p = &u->p[i];
        if (!p) {
            if (u->n == VN__STORE_PARAMS_MAX)
                return vn_error_set(err, VN_ETOOBIG, "store URL '%s': more than %d parameters",
                                    u->shown, VN__STORE_PARAMS_MAX);
            p = &u->p[u->n++];
            vn_strlcpy(p->key, key, sizeof(p->key));
        }
        rc = decode(eq + 1, n - (size_t)(eq + 1 - q), p->value, sizeof(p->value));
        if (rc == VN_ETOOBIG)
            return vn_error_set(err, VN_ETOOBIG,
                                "store URL '%s': the value of '%s' is longer than %d bytes",
                                u->shown, key, VN__STORE_VALUE_MAX);
        if (rc)
            return vn_error_set(err, VN_EPARSE,
                                "store URL '%s': the value of '%s' has a bad %%-escape", u->shown,
                                key);
        p->used = 0;
        q += n + (end ? 1 : 0);
    }
    return 0;
}

void vn__store_url_redact(const char *url, char *out, size_t outlen)
{
    const char *auth = strstr(url, "://"), *end, *at, *colon, *pw;
    size_t o;

    vn_strlcpy(out, url, outlen);
    if (auth) {
        auth += 3;
        end = auth + strcspn(auth, "/?");
        at = memchr(auth, '@', (size_t)(end - auth));
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon && (size_t)(colon + 1 - url) < outlen) {
            o = (size_t)(colon + 1 - url);
            snprintf(out + o, outlen - o, "***%s", at);
        }
    }
    /* A password given as a parameter: keep the name, hide the value. */
    pw = strstr(out, "password=");
    if (pw && (pw == out || pw[-1] == '?' || pw[-1] == '&')) {
        char tail[VN__STORE_SHOWN_MAX];
        const char *amp = strchr(pw, '&');

        vn_strlcpy(tail, amp ? amp : "", sizeof(tail));
        o = (size_t)(pw - out) + strlen("password=");
        if (o < outlen)
            snprintf(out + o, outlen - o, "***%s", tail);
    }
}

int vn__store_url_parse(const char *url, const char *params, struct vn__store_url *u,
                        struct vn_error *err)
{
    const char *q, *target = url;
    size_t n;
    int rc;

    memset(u, 0, sizeof(*u));
    if (!url || !*url)
        return vn_error_set(err, VN_EPARSE, "no database given");
    vn__store_url_redact(url, u->shown, sizeof(u->shown));
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        u->backend = VN__STORE_POSTGRES;
    } else {
        u->backend = VN__STORE_SQLITE;
        if (has_prefix(url, "sqlite:"))
            target = url + strlen("sqlite:");
    }
    q = strchr(target, '?');
    n = q ? (size_t)(q - target) : strlen(target);
    if (n == 0)
        return vn_error_set(err, VN_EPARSE, "empty database path in '%s'", u->shown);
    if (n >= sizeof(u->target))
        return vn_error_set(err, VN_ETOOBIG, "store URL '%.64s...' is longer than %zu bytes",
                            u->shown, sizeof(u->target) - 1);
    memcpy(u->target, target, n);
    u->target[n] = '\0';
    if (params) {
        rc = parse_query(u, params, err);
        if (rc)
            return rc;
    }
    return q ? parse_query(u, q + 1, err) : 0;
}

const char *vn__store_param(struct vn__store_url *u, const char *key)
{
    for (size_t i = 0; i < u->n; i++) {
        if (!strcmp(u->p[i].key, key)) {
            u->p[i].used = 1;
            return u->p[i].value;
        }
    }
    return NULL;
}

int vn__store_param_duration(struct vn__store_url *u, const char *key, long long def, long long max,
                             long long *ms, struct vn_error *err)
{
    const char *v = vn__store_param(u, key);
    char lim[32];

    *ms = def;
    if (!v)
        return 0;
    vn_format_duration(max, lim, sizeof(lim));
    if (vn_parse_duration_ms(v, ms) != 0 || *ms < 0 || *ms > max)
        return vn_error_set(err, VN_EPARSE,
                            "store URL '%s': %s '%s' is not a duration from 0 to %s (300ms, "
                            "5s, 1m)",
                            u->shown, key, v, lim);
    return 0;
}

int vn__store_param_size(struct vn__store_url *u, const char *key, long long def, long long max,
                         long long *bytes, struct vn_error *err)
{
    const char *v = vn__store_param(u, key);

    *bytes = def;
    if (!v)
        return 0;
    if (vn_parse_size(v, bytes) != 0 || *bytes < 0 || *bytes > max)
        return vn_error_set(err, VN_EPARSE,
                            "store URL '%s': %s '%s' is not a size from 0 to %lld bytes (400K, "
                            "1GiB)",
                            u->shown, key, v, max);
    return 0;
}

int vn__store_params_done(const struct vn__store_url *u, const char *takes, struct vn_error *err)
{
    for (size_t i = 0; i < u->n; i++)
        if (!u->p[i].used)
            return vn_error_set(
                err, VN_EPARSE, "store URL '%s': unknown parameter '%s' (%s takes: %s)", u->shown,
                u->p[i].key, u->backend == VN__STORE_SQLITE ? "sqlite" : "postgresql", takes);
    return 0;
}
