/*
 * buf.h - a growable byte buffer with a maximum size set at init (curl's dynbuf).
 *
 * The buffer owns data; it is always NUL-terminated so that text can be used as a C string.
 * Growing past max is an error (VN_ETOOBIG), never silent truncation or unbounded growth.
 */
#ifndef VPPNOTIFY_BUF_H
#define VPPNOTIFY_BUF_H

#include <stddef.h>

struct vn_buf {
    char *data; /* owned; NULL until the first append; NUL-terminated after one */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the most len may ever be */
};

/* Initialise an empty buffer that may hold up to max bytes. Allocates nothing. */
void vn_buf_init(struct vn_buf *b, size_t max);

/* Free the contents; b may be re-initialised or re-used after vn_buf_init. */
void vn_buf_release(struct vn_buf *b);

/* Forget the contents but keep the allocation. */
void vn_buf_reset(struct vn_buf *b);

/* Make room for at least n bytes in total. 0, VN_ETOOBIG or -ENOMEM. */
int vn_buf_reserve(struct vn_buf *b, size_t n);

/* Append n bytes. 0, VN_ETOOBIG (nothing appended) or -ENOMEM. */
int vn_buf_append(struct vn_buf *b, const void *p, size_t n);

/* Append a C string. */
int vn_buf_puts(struct vn_buf *b, const char *s);

/* Append formatted text. */
int vn_buf_printf(struct vn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text so far; "" for an empty buffer, never NULL. Borrowed from b. */
const char *vn_buf_str(const struct vn_buf *b);

/* Take the data out: the caller owns the returned pointer (free()); b is left empty. */
char *vn_buf_detach(struct vn_buf *b, size_t *len);

#endif
