/* error.c - see include/vppnotify/error.h. */
#include "vppnotify/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int vn_error_set(struct vn_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int vn_error_prefix(struct vn_error *err, const char *fmt, ...)
{
    char prefix[VN_ERROR_MSG_MAX];
    char old[VN_ERROR_MSG_MAX];
    va_list ap;

    if (!err)
        return 0;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    return err->code;
}

void vn_error_clear(struct vn_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *vn_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case VN_EPARSE:
        return "invalid input";
    case VN_EDUP:
        return "already exists";
    case VN_EAUTH:
        return "not authenticated";
    case VN_ETOOBIG:
        return "too big";
    case VN_ENOTFOUND:
        return "not found";
    case VN_ESTORE:
        return "store failure";
    case VN_EFULL:
        return "full";
    case VN_EUSAGE:
        return "usage error";
    case VN_ENOTSUP:
        return "not supported";
    case VN_EAPPLE:
        return "apple service error";
    case VN_EPERM:
        return "refused";
    case VN_ENET:
        return "network failure";
    case VN_ESHUTDOWN:
        return "shutting down";
    case VN_ECONFLICT:
        return "conflict";
    case VN_ERETRY:
        return "transient store failure, try again";
    case VN_EUNAVAIL:
        return "store unavailable";
    case VN_EFATAL:
        return "store i/o failure";
    default:
        if (code < 0 && code > -1000)
            return strerror(-code);
        return "unknown error";
    }
}
