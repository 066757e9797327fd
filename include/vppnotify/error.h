/*
 * error.h - error codes and the optional error message a caller can ask for.
 *
 * A fallible function returns int: 0 on success or a negative code, either -errno or one of
 * the VN_E* domain codes below. Where a caller needs words, it passes a struct vn_error that
 * the callee fills (Redis anet style); passing NULL is always allowed. There is no global
 * error state.
 */
#ifndef VPPNOTIFY_ERROR_H
#define VPPNOTIFY_ERROR_H

#include <stddef.h>

enum {
    VN_EPARSE = -1001,    /* input is not what it must be: JSON, a field, a flag value */
    VN_EDUP = -1002,      /* the thing already exists (a notificationId, a location) */
    VN_EAUTH = -1003,     /* missing, malformed or unknown credentials */
    VN_ETOOBIG = -1004,   /* a bounded buffer, queue or field would exceed its maximum */
    VN_ENOTFOUND = -1005, /* the thing asked for does not exist */
    VN_ESTORE = -1006,    /* the store refused one operation (a constraint, misuse) */
    VN_EFULL = -1007,     /* a queue or the store (disk, size cap) is full; try again later */
    VN_EUSAGE = -1008,    /* the command line is wrong */
    VN_ENOTSUP = -1009,   /* not supported by this build or backend */
    VN_EAPPLE = -1010,    /* Apple's service (or vppsim) answered with an error */
    VN_EPERM = -1011,     /* a secret file is readable by others, or similar refusal */
    VN_ENET = -1012,      /* a network call failed: refused, timed out, TLS */
    VN_ESHUTDOWN = -1013, /* the component is stopping */
    VN_ECONFLICT = -1014, /* the state changed under us (versionId moved, grace expired) */
    /* Store failures by what the caller does about them (store.h, "failure classes"). */
    VN_ERETRY = -1015,   /* transient: busy, deadlock, transaction lost; run the batch again */
    VN_EUNAVAIL = -1016, /* the database cannot be reached: connection lost, files gone */
    VN_EFATAL = -1017,   /* I/O failure (fsync) after which the store cannot be trusted */
};

#define VN_ERROR_MSG_MAX 512

struct vn_error {
    int code;
    char msg[VN_ERROR_MSG_MAX];
};

/*
 * Fill err (if not NULL) with code and a printf-style message; returns code so that the
 * idiom is: return vn_error_set(err, VN_EPARSE, "bad value '%s'", v);
 * Messages follow the house style: lower-case, what failed first, the subject quoted.
 */
int vn_error_set(struct vn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "context: old message". err may be NULL. Returns err->code. */
int vn_error_prefix(struct vn_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset to "no error". */
void vn_error_clear(struct vn_error *err);

/* A short static description of a code (domain codes and -errno). Never NULL. */
const char *vn_strerror(int code);

#endif
