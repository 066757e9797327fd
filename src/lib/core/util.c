/* util.c - see include/vppnotify/util.h. */
#include "vppnotify/util.h"
#include "vppnotify/error.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t vn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vn_cond_nap(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stopping, int64_t ms)
{
    struct timespec ts;
    int stop;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(mu);
    if (!*stopping)
        pthread_cond_timedwait(cv, mu, &ts);
    stop = *stopping;
    pthread_mutex_unlock(mu);
    return stop;
}

int vn_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t until_ns)
{
    struct timespec ts;

    if (until_ns < 0)
        until_ns = 0;
    ts.tv_sec = (time_t)(until_ns / 1000000000);
    ts.tv_nsec = (long)(until_ns % 1000000000);
    return -pthread_cond_timedwait(cv, mu, &ts);
}

int64_t vn_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void split_ms(int64_t ms, struct tm *tm, int *frac)
{
    time_t secs = (time_t)(ms / 1000);
    int f = (int)(ms % 1000);

    if (f < 0) {
        f += 1000;
        secs -= 1;
    }
    gmtime_r(&secs, tm);
    *frac = f;
}

void vn_time_iso(int64_t ms, char out[VN_TIME_ISO_LEN])
{
    struct tm tm;
    int frac;

    split_ms(ms, &tm, &frac);
    snprintf(out, VN_TIME_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void vn_time_apple(int64_t ms, char out[VN_TIME_ISO_LEN])
{
    struct tm tm;
    int frac;

    split_ms(ms, &tm, &frac);
    snprintf(out, VN_TIME_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d+0000", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return VN_EPARSE;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return VN_EPARSE;
    (*p)++;
    return 0;
}

int vn_time_parse(const char *s, int64_t *ms)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
    const char *p = s;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
        digits(&p, 2, &d))
        return VN_EPARSE;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) || expect(&p, ':') ||
            digits(&p, 2, &sec))
            return VN_EPARSE;
        if (*p == '.') {
            int scale = 100;
            p++;
            if (!isdigit((unsigned char)*p))
                return VN_EPARSE;
            while (isdigit((unsigned char)*p)) {
                frac += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            if (digits(&p, 2, &oh))
                return VN_EPARSE;
            if (*p == ':')
                p++;
            if (digits(&p, 2, &om))
                return VN_EPARSE;
            off = sign * (oh * 60 + om);
        } else {
            return VN_EPARSE;
        }
    }
    if (*p != '\0')
        return VN_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return VN_EPARSE;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return VN_EPARSE;
    *ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
    return 0;
}

int vn_parse_ll(const char *s, long long min, long long max, long long *out)
{
    const char *p = s;
    char *end;
    long long v;

    if (!s || !*s)
        return VN_EPARSE;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return VN_EPARSE;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0')
        return VN_EPARSE;
    if (errno == ERANGE || v < min || v > max)
        return VN_ETOOBIG;
    *out = v;
    return 0;
}

/* Split "123abc" into the number and its unit. */
static int number_unit(const char *s, unsigned long long *num, const char **unit)
{
    unsigned long long v = 0;
    const char *p = s;

    if (!s || !isdigit((unsigned char)*p))
        return VN_EPARSE;
    while (isdigit((unsigned char)*p)) {
        if (v > (ULLONG_MAX - 9) / 10)
            return VN_ETOOBIG;
        v = v * 10 + (unsigned)(*p - '0');
        p++;
    }
    *num = v;
    *unit = p;
    return 0;
}

static int scale(unsigned long long v, unsigned long long mul, long long *out)
{
    if (mul && v > (unsigned long long)LLONG_MAX / mul)
        return VN_ETOOBIG;
    *out = (long long)(v * mul);
    return 0;
}

int vn_parse_duration_ms(const char *s, long long *ms)
{
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {{"", 1000},       {"ms", 1},          {"s", 1000},
                 {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400ULL * 1000}};
    unsigned long long v;
    const char *unit;
    int rc = number_unit(s, &v, &unit);

    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].unit) == 0)
            return scale(v, units[i].mul, ms);
    return VN_EPARSE;
}

int vn_parse_size(const char *s, long long *bytes)
{
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {{"", 1},        {"B", 1},         {"K", 1024},       {"KiB", 1024},
                 {"M", 1 << 20}, {"MiB", 1 << 20}, {"G", 1ULL << 30}, {"GiB", 1ULL << 30}};
    unsigned long long v;
    const char *unit;
    int rc = number_unit(s, &v, &unit);

    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].unit) == 0)
            return scale(v, units[i].mul, bytes);
    return VN_EPARSE;
}

void vn_format_duration(long long ms, char *out, size_t outlen)
{
    if (ms % 86400000 == 0 && ms)
        snprintf(out, outlen, "%lldd", ms / 86400000);
    else if (ms % 3600000 == 0 && ms)
        snprintf(out, outlen, "%lldh", ms / 3600000);
    else if (ms % 60000 == 0 && ms)
        snprintf(out, outlen, "%lldm", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(out, outlen, "%llds", ms / 1000);
    else
        snprintf(out, outlen, "%lldms", ms);
}

size_t vn_strlcpy(char *out, const char *src, size_t outlen)
{
    size_t n = strlen(src);

    if (outlen) {
        size_t c = n < outlen - 1 ? n : outlen - 1;
        memcpy(out, src, c);
        out[c] = '\0';
    }
    return n;
}

int vn_is_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int vn_strncasecmp_ascii(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ca = tolower((unsigned char)a[i]), cb = tolower((unsigned char)b[i]);
        if (ca != cb)
            return ca - cb;
        if (!ca)
            return 0;
    }
    return 0;
}

void vn_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}
