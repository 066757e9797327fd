/*
 * util.h - clocks, timestamps, and strict parsing of numbers, sizes and durations.
 *
 * Timestamps on disk and in output are ISO-8601 UTC with milliseconds and a 'Z'
 * ("2026-11-25T19:06:53.123Z"); Apple's form ("2030-11-08T22:33:22+0000") is accepted on input.
 */
#ifndef VPPNOTIFY_UTIL_H
#define VPPNOTIFY_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define VN_TIME_ISO_LEN 32

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t vn_now_ms(void);

/* Nanoseconds of a monotonic clock, for latencies and deadlines. */
int64_t vn_mono_ns(void);

/*
 * Sleep up to ms on cv (a condition variable of the default clock, CLOCK_REALTIME) with mu
 * locked inside, unless *stopping is set; wakes early on a signal of cv. Returns *stopping as
 * read under mu: non-zero when the caller should stop.
 */
int vn_cond_nap(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stopping, int64_t ms);

/*
 * Wait on cv, with mu locked by the caller (and locked again on return), until the monotonic
 * time until_ns (vn_mono_ns) or a signal of cv. cv must measure time on CLOCK_MONOTONIC
 * (pthread_condattr_setclock), so that a change of the wall clock moves no deadline. Returns 0
 * when woken (perhaps spuriously: the caller checks its condition), -ETIMEDOUT once until_ns
 * has passed.
 */
int vn_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t until_ns);

/* Format ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (VN_TIME_ISO_LEN bytes). */
void vn_time_iso(int64_t ms, char out[VN_TIME_ISO_LEN]);

/* Format as Apple does: "YYYY-MM-DDTHH:MM:SS+0000". */
void vn_time_apple(int64_t ms, char out[VN_TIME_ISO_LEN]);

/*
 * Parse an ISO-8601 date-time: "YYYY-MM-DDTHH:MM:SS" followed by optional ".fff" and a zone
 * "Z", "+HHMM", "+HH:MM" (or '-'). Also "YYYY-MM-DD" (midnight UTC). 0 or VN_EPARSE.
 */
int vn_time_parse(const char *s, int64_t *ms);

/*
 * Strict integer: optional sign, decimal digits only, within [min, max]. 0 or VN_EPARSE
 * (not a number, trailing characters) or VN_ETOOBIG (out of range).
 */
int vn_parse_ll(const char *s, long long min, long long max, long long *out);

/* Duration to milliseconds: "250ms", "30s", "10m", "2h", "7d"; a bare number is seconds. */
int vn_parse_duration_ms(const char *s, long long *ms);

/* Size to bytes: "1048576", "512K", "1M", "1G" (binary multiples; "KiB", "MiB" also). */
int vn_parse_size(const char *s, long long *bytes);

/* Format a duration in ms the way vn_parse_duration_ms reads it back ("1500ms", "30s", "5m"). */
void vn_format_duration(long long ms, char *out, size_t outlen);

/* Copy at most outlen-1 bytes and NUL-terminate; returns strlen(src) (truncated if >= outlen). */
size_t vn_strlcpy(char *out, const char *src, size_t outlen);

/* 1 if s (length n) is non-empty and made only of ASCII digits. */
int vn_is_digits(const char *s, size_t n);

/* Case-insensitive ASCII comparison of the first n bytes, 0 when equal. */
int vn_strncasecmp_ascii(const char *a, const char *b, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void vn_hex(const uint8_t *p, size_t n, char *out);

#endif
