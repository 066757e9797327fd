/* log.c - see include/vppnotify/log.h. */
#include "vppnotify/log.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

_Atomic int vn__log_level = VN_LOG_INFO;
static enum vn_log_format log_format = VN_LOG_TEXT;
static int log_fd = 2;

#define LINE_MAX_BYTES  8192
#define VALUE_MAX_BYTES 512 /* attacker-controlled values are truncated to this */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void vn_log_setup(enum vn_log_level level, enum vn_log_format format, int fd)
{
    vn__log_level = level;
    log_format = format;
    log_fd = fd;
}

void vn_log_set_level(enum vn_log_level level)
{
    vn__log_level = level;
}

int vn_log_level_parse(const char *s, enum vn_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum vn_log_level)i;
            return 0;
        }
    }
    return VN_EPARSE;
}

struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - 1 - l->len; /* keep one byte for the newline */

    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Does a text-format value need quotes? */
static int needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    for (; *s; s++)
        if (*s == ' ' || *s == '"' || *s == '=' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Append s escaped for JSON strings (also used inside quoted text values). */
static void put_escaped(struct line *l, const char *s)
{
    char tmp[8];
    size_t n = 0;

    for (; *s && n < VALUE_MAX_BYTES; s++, n++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':
            puts_(l, "\\\"");
            break;
        case '\\':
            puts_(l, "\\\\");
            break;
        case '\n':
            puts_(l, "\\n");
            break;
        case '\r':
            puts_(l, "\\r");
            break;
        case '\t':
            puts_(l, "\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof(tmp), "\\u%04x", c);
                puts_(l, tmp);
            } else {
                put(l, (const char *)&c, 1);
            }
        }
    }
    if (*s)
        puts_(l, "...");
}

static void begin(struct line *l, enum vn_log_level level, const char *msg)
{
    char ts[VN_TIME_ISO_LEN];

    l->len = 0;
    vn_time_iso(vn_now_ms(), ts);
    if (log_format == VN_LOG_JSON) {
        puts_(l, "{\"ts\":\"");
        puts_(l, ts);
        puts_(l, "\",\"level\":\"");
        puts_(l, level_names[level]);
        puts_(l, "\",\"msg\":\"");
        put_escaped(l, msg);
        puts_(l, "\"");
    } else {
        puts_(l, ts);
        puts_(l, " ");
        puts_(l, level_names[level]);
        puts_(l, " ");
        /* The message of a text line is free text: escape control characters only. */
        for (const char *p = msg; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 || c == 0x7f) {
                char tmp[8];
                snprintf(tmp, sizeof(tmp), "\\x%02x", c);
                puts_(l, tmp);
            } else {
                put(l, p, 1);
            }
        }
    }
}

static void field(struct line *l, const struct vn_log_field *f)
{
    char num[64];

    if (f->type == VN_LF_STR && !f->s)
        return;
    if (f->type == VN_LF_INT)
        snprintf(num, sizeof(num), "%lld", (long long)f->i);
    else if (f->type == VN_LF_MS)
        snprintf(num, sizeof(num), "%.3f", f->ms);
    if (log_format == VN_LOG_JSON) {
        puts_(l, ",\"");
        put_escaped(l, f->key);
        puts_(l, "\":");
        if (f->type == VN_LF_STR) {
            puts_(l, "\"");
            put_escaped(l, f->s);
            puts_(l, "\"");
        } else {
            puts_(l, num);
        }
    } else {
        puts_(l, " ");
        puts_(l, f->key);
        puts_(l, "=");
        if (f->type != VN_LF_STR) {
            puts_(l, num);
        } else if (needs_quotes(f->s)) {
            puts_(l, "\"");
            put_escaped(l, f->s);
            puts_(l, "\"");
        } else {
            put_escaped(l, f->s);
        }
    }
}

static void finish(struct line *l)
{
    ssize_t w;
    size_t off = 0;

    if (log_format == VN_LOG_JSON) {
        if (l->len > sizeof(l->buf) - 3)
            l->len = sizeof(l->buf) - 3;
        puts_(l, "}");
    }
    l->buf[l->len++] = '\n';
    while (off < l->len) {
        w = write(log_fd, l->buf + off, l->len - off);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

void vn__log_printf(enum vn_log_level level, const char *fmt, ...)
{
    struct line l;
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    begin(&l, level, msg);
    finish(&l);
}

void vn_log_fields(enum vn_log_level level, const char *msg, const struct vn_log_field *f, int n)
{
    struct line l;

    if ((int)level > vn__log_level)
        return;
    begin(&l, level, msg);
    for (int i = 0; i < n; i++)
        field(&l, &f[i]);
    finish(&l);
}
