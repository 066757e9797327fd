/* log.c - see include/vppnotify/log.h. */
#include "vppnotify/log.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Atomic int vn__log_level = VN_LOG_INFO;
static enum vn_log_format log_format = VN_LOG_TEXT;
static int log_fd = 2;

#define LINE_MAX_BYTES  8192
#define VALUE_MAX_BYTES 512 /* attacker-controlled values are truncated to this */
#define HOLD_BYTES      (64 * 1024)

/*
 * The most one write(2) of held lines carries (vn_log_setup): HOLD_BYTES to a regular file
 * (the kernel writes it whole under the file's lock), PIPE_BUF to anything else (a pipe, a
 * socket such as journald's, a terminal), where only writes of up to PIPE_BUF are atomic: a
 * longer one could be split and another thread's line land in the middle of ours.
 */
static size_t hold_max = PIPE_BUF;

/* A thread's held lines (vn_log_hold): made at its first hold, freed when it ends. */
struct hold {
    unsigned depth; /* nested holds; lines are held while > 0 */
    size_t len;
    char buf[HOLD_BYTES];
};

static __thread struct hold *held;
static pthread_key_t hold_key;
static pthread_once_t hold_once = PTHREAD_ONCE_INIT;
static int hold_key_ok; /* 0: holds do nothing (the key could not be made) */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void vn_log_setup(enum vn_log_level level, enum vn_log_format format, int fd)
{
    struct stat st;

    vn__log_level = level;
    log_format = format;
    log_fd = fd;
    hold_max = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? HOLD_BYTES : PIPE_BUF;
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

/* Does c need an escape inside a JSON string (or a quoted text value)? */
static int needs_escape(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20 || c == 0x7f;
}

/* Append s escaped for JSON strings (also used inside quoted text values); runs of characters
 * that need no escape are copied at once (the log line is on every request's path). */
static void put_escaped(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    while (*s && n < VALUE_MAX_BYTES) {
        size_t run = 0;
        unsigned char c;

        while (s[run] && n + run < VALUE_MAX_BYTES && !needs_escape((unsigned char)s[run]))
            run++;
        put(l, s, run);
        s += run;
        n += run;
        if (!*s || n >= VALUE_MAX_BYTES)
            break;
        c = (unsigned char)*s;
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
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, u, sizeof(u));
        }
        }
        s++;
        n++;
    }
    if (*s)
        puts_(l, "...");
}

/*
 * The line's timestamp, "YYYY-MM-DDTHH:MM:SS.mmmZ" as vn_time_iso writes it: the part up to
 * the second is formatted once per second and thread (gmtime_r and snprintf on every line
 * were a visible share of a notification's cost), the milliseconds are patched in.
 */
static size_t timestamp(char out[VN_TIME_ISO_LEN])
{
    static __thread int64_t cached_sec = INT64_MIN;
    static __thread char cached[VN_TIME_ISO_LEN];
    static __thread size_t cached_len;
    int64_t ms = vn_now_ms(), sec = ms / 1000, frac = ms % 1000;

    if (frac < 0) {
        frac += 1000;
        sec -= 1;
    }
    if (sec != cached_sec) {
        vn_time_iso(sec * 1000, cached);
        cached_len = strlen(cached);
        cached_sec = sec;
    }
    memcpy(out, cached, cached_len + 1);
    if (cached_len >= 5) { /* "...SS.000Z": the three digits before the 'Z' */
        out[cached_len - 4] = (char)('0' + frac / 100);
        out[cached_len - 3] = (char)('0' + frac / 10 % 10);
        out[cached_len - 2] = (char)('0' + frac % 10);
    }
    return cached_len;
}

/* Decimal digits of v into the end of buf (size n >= 21); returns where they start. */
static char *fmt_i64(int64_t v, char *buf, size_t n)
{
    char *p = buf + n;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

/*
 * A latency in ms with three decimals, exactly as "%.3f" prints it. The thousandths are
 * rounded here unless the value is within 1e-6 of a tie (or large), where the product's
 * rounding error could decide: then libc prints it.
 */
static const char *fmt_ms(double ms, char *buf, size_t n)
{
    double a = fabs(ms), p, f;
    int64_t t;
    char *q;

    p = a * 1000.0;
    f = p - floor(p);
    if (!(a < 1e6) || fabs(f - 0.5) < 1e-6) {
        snprintf(buf, n, "%.3f", ms);
        return buf;
    }
    t = (int64_t)floor(p) + (f > 0.5);
    q = buf + n;
    *--q = '\0';
    for (int i = 0; i < 3; i++) {
        *--q = (char)('0' + t % 10);
        t /= 10;
    }
    *--q = '.';
    do {
        *--q = (char)('0' + t % 10);
        t /= 10;
    } while (t);
    if (signbit(ms))
        *--q = '-'; /* as printf: "-0.000" for a small negative value too */
    return q;
}

static void begin(struct line *l, enum vn_log_level level, const char *msg)
{
    char ts[VN_TIME_ISO_LEN];

    l->len = 0;
    timestamp(ts);
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
    char buf[64];
    const char *num = "";

    if (f->type == VN_LF_STR && !f->s)
        return;
    if (f->type == VN_LF_INT)
        num = fmt_i64(f->i, buf, sizeof(buf));
    else if (f->type == VN_LF_MS)
        num = fmt_ms(f->ms, buf, sizeof(buf));
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

/* Write p whole (a partial write continues; EINTR retries). A failing log loses the line:
 * there is nowhere to report it. */
static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(log_fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void hold_flush(struct hold *h)
{
    write_all(h->buf, h->len);
    h->len = 0;
}

/* A thread ends (its hold's key destructor, on that thread): what it still holds is written
 * then, and later lines of it (another destructor's) go out one by one. */
static void hold_end(void *p)
{
    struct hold *h = p;

    held = NULL;
    hold_flush(h);
    free(h);
}

static void hold_key_make(void)
{
    hold_key_ok = pthread_key_create(&hold_key, hold_end) == 0;
}

/* A whole line: into the thread's hold if it holds (flushing first what would not fit with
 * it), else written at once. */
static void emit(const char *p, size_t n)
{
    struct hold *h = held;
    size_t max = hold_max;

    if (h && h->depth) {
        if (h->len + n > max)
            hold_flush(h);
        if (n <= max) {
            memcpy(h->buf + h->len, p, n);
            h->len += n;
            return;
        }
    }
    write_all(p, n);
}

void vn_log_hold(void)
{
    struct hold *h = held;

    if (!h) {
        pthread_once(&hold_once, hold_key_make);
        if (!hold_key_ok)
            return; /* as below */
        h = malloc(sizeof(*h));
        if (!h)
            return; /* lines go out one by one; the matching release finds nothing held */
        h->depth = 0;
        h->len = 0;
        if (pthread_setspecific(hold_key, h) != 0) {
            free(h);
            return;
        }
        held = h;
    }
    h->depth++;
}

void vn_log_release(void)
{
    struct hold *h = held;

    if (!h || !h->depth)
        return;
    if (--h->depth == 0 && h->len)
        hold_flush(h);
}

static void finish(struct line *l)
{
    if (log_format == VN_LOG_JSON) {
        if (l->len > sizeof(l->buf) - 3)
            l->len = sizeof(l->buf) - 3;
        puts_(l, "}");
    }
    l->buf[l->len++] = '\n';
    emit(l->buf, l->len);
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
