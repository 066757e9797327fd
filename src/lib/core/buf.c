/* buf.c - see include/vppnotify/buf.h. */
#include "vppnotify/buf.h"
#include "vppnotify/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vn_buf_init(struct vn_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void vn_buf_release(struct vn_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void vn_buf_reset(struct vn_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int vn_buf_reserve(struct vn_buf *b, size_t n)
{
    size_t cap;
    char *p;

    if (n > b->max)
        return VN_ETOOBIG;
    if (n + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < n + 1)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

int vn_buf_append(struct vn_buf *b, const void *p, size_t n)
{
    int rc;

    if (n > b->max - b->len)
        return VN_ETOOBIG;
    rc = vn_buf_reserve(b, b->len + n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int vn_buf_puts(struct vn_buf *b, const char *s)
{
    return vn_buf_append(b, s, strlen(s));
}

int vn_buf_printf(struct vn_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n > b->max - b->len)
        return VN_ETOOBIG;
    rc = vn_buf_reserve(b, b->len + (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const char *vn_buf_str(const struct vn_buf *b)
{
    return b->data ? b->data : "";
}

char *vn_buf_detach(struct vn_buf *b, size_t *len)
{
    char *p = b->data;

    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
