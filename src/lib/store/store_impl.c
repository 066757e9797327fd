/*
 * store_impl.c - what store.c and every backend share (store_impl.h): recording a failure's
 * message on a handle, and the failure classes of store.h. Below both: the dispatcher calls
 * the backends, and they all call these.
 */
#include "store_impl.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

void vn__store_set_error(struct vn_store *st, const char *fmt, ...)
{
    va_list ap;

    if (!st)
        return;
    va_start(ap, fmt);
    vsnprintf(st->last_error, sizeof(st->last_error), fmt, ap);
    va_end(ap);
}

enum vn_store_class vn_store_class_of(int rc)
{
    if (rc >= 0)
        return VN_STORE_OK;
    switch (rc) {
    case VN_ERETRY:
        return VN_STORE_RETRY;
    case VN_EUNAVAIL:
        return VN_STORE_UNAVAILABLE;
    case VN_EFULL:
        return VN_STORE_FULL;
    case VN_EFATAL:
        return VN_STORE_FATAL;
    default:
        return VN_STORE_JOB;
    }
}

const char *vn_store_class_name(enum vn_store_class c)
{
    switch (c) {
    case VN_STORE_OK:
        return "ok";
    case VN_STORE_JOB:
        return "job";
    case VN_STORE_RETRY:
        return "retry";
    case VN_STORE_UNAVAILABLE:
        return "unavailable";
    case VN_STORE_FULL:
        return "full";
    case VN_STORE_FATAL:
        return "fatal";
    }
    return "unknown";
}

/* ---- an asset's counts (vn__asset_step) ----------------------------------------------- */

static int overflows(long long col, long long d)
{
    return (d > 0 && col > INT64_MAX - d) || (d < 0 && col < INT64_MIN - d);
}

static long long sat_add(long long col, long long d)
{
    if (d > 0 && col > INT64_MAX - d)
        return INT64_MAX;
    if (d < 0 && col < INT64_MIN - d)
        return INT64_MIN;
    return col + d;
}

void vn__asset_step(struct vn__asset_counts *c, long long d_total, long long d_assigned,
                    long long d_available)
{
    long long t = sat_add(c->total, d_total), a = sat_add(c->assigned, d_assigned),
              v = sat_add(c->available, d_available);

    c->needs_sync = c->needs_sync || overflows(c->total, d_total) ||
                    overflows(c->assigned, d_assigned) || overflows(c->available, d_available) ||
                    t < 0 || a < 0 || v < 0 || a > t;
    c->total = t;
    c->assigned = a;
    c->available = v;
}
