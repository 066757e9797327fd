/*
 * log.h - one line per event, text or JSON, to stderr (or a file descriptor).
 *
 * vn_log() checks the level before formatting (Redis serverLog). Structured lines use
 * vn_log_fields(): every value is escaped (control characters, quotes), so an
 * attacker-controlled field cannot forge a line (CWE-117). Never pass a token, an
 * Authorization header or a request body to these functions.
 *
 * Text:  2026-11-25T19:06:53.123Z info notification id=... type=ASSET_COUNT outcome=applied
 * JSON:  {"ts":"2026-11-25T19:06:53.123Z","level":"info","msg":"notification","id":"..."}
 *
 * Thread-safe: each line is built in a local buffer and written with one write(2), or held
 * with the calling thread's other lines and written with them (vn_log_hold).
 */
#ifndef VPPNOTIFY_LOG_H
#define VPPNOTIFY_LOG_H

#include <stdint.h>

enum vn_log_level { VN_LOG_ERROR = 0, VN_LOG_WARN = 1, VN_LOG_INFO = 2, VN_LOG_DEBUG = 3 };
enum vn_log_format { VN_LOG_TEXT = 0, VN_LOG_JSON = 1 };

extern _Atomic int vn__log_level;

/* Set level, format and the file descriptor lines go to (2 = stderr). Not thread-safe: call
 * it at start-up, before threads exist. */
void vn_log_setup(enum vn_log_level level, enum vn_log_format format, int fd);

/* Change the level while threads log (a reload). Thread-safe. */
void vn_log_set_level(enum vn_log_level level);

/*
 * A per-thread hold: from vn_log_hold() to the matching vn_log_release(), every line of the
 * calling thread (any level, any caller) is appended to a buffer of that thread instead of
 * being written, and the release writes them in one write(2) (continued after a partial write
 * or EINTR). Other threads' lines are not held. Guarantees:
 *   - a thread's lines keep their order, held or not, and no line is split or dropped: a line
 *     that does not fit with what is held writes the held lines first;
 *   - one write carries at most 64 KiB to a regular file and PIPE_BUF (4 KiB) to anything else
 *     (a pipe, journald's socket), the most that Linux writes there in one piece: another
 *     thread's line never lands inside ours;
 *   - holds nest: only the outermost release writes; a release without a hold does nothing;
 *   - a thread that ends while it holds (returns from its start routine or pthread_exit) has
 *     its lines written then. exit() does not: the thread that holds must release first.
 * A held line is late by as long as the hold lasts: a caller holds only across work that
 * ends by itself (httpd.c: the answers of one group commit on an HTTP thread). The buffer is
 * the thread's own (64 KiB, allocated at its first hold, freed when it ends); no allocation
 * per line. Out of memory, a hold does nothing and lines go out one by one.
 */
void vn_log_hold(void);
void vn_log_release(void);

/* "error", "warn", "info", "debug" -> level; 0 or VN_EPARSE. */
int vn_log_level_parse(const char *s, enum vn_log_level *out);

#define vn_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((int)(level) <= vn__log_level)                                                         \
            vn__log_printf((level), __VA_ARGS__);                                                  \
    } while (0)

#define vn_log_error(...) vn_log(VN_LOG_ERROR, __VA_ARGS__)
#define vn_log_warn(...)  vn_log(VN_LOG_WARN, __VA_ARGS__)
#define vn_log_info(...)  vn_log(VN_LOG_INFO, __VA_ARGS__)
#define vn_log_debug(...) vn_log(VN_LOG_DEBUG, __VA_ARGS__)

enum vn_log_ftype { VN_LF_STR, VN_LF_INT, VN_LF_MS };

/* One key=value of a structured line. A VN_LF_STR field with s == NULL is left out. */
struct vn_log_field {
    const char *key;
    enum vn_log_ftype type;
    const char *s; /* VN_LF_STR */
    int64_t i;     /* VN_LF_INT */
    double ms;     /* VN_LF_MS: a latency, printed with 3 decimals */
};

#define VN_LF_S(k, v) ((struct vn_log_field){.key = (k), .type = VN_LF_STR, .s = (v)})
#define VN_LF_I(k, v) ((struct vn_log_field){.key = (k), .type = VN_LF_INT, .i = (v)})
#define VN_LF_D(k, v) ((struct vn_log_field){.key = (k), .type = VN_LF_MS, .ms = (v)})

/* A structured line: msg plus fields. Checks the level itself. */
void vn_log_fields(enum vn_log_level level, const char *msg, const struct vn_log_field *f, int n);

void vn__log_printf(enum vn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
