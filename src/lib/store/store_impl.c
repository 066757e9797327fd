/*
 * store_impl.c - what store.c and every backend share (store_impl.h): recording a failure's
 * message on a handle, and the failure classes of store.h. Below both: the dispatcher calls
 * the backends, and they all call these.
 */
#include "store_impl.h"

#include <stdarg.h>
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
