/*
 * apple_errors.h - every error number of Apple's v2 service (apple-api.md section 6.9), with
 * its HTTP status, a stable name and a clear message. Used by the Apple client to explain an
 * error and by vppsim to produce one, so that both sides agree.
 */
#ifndef VPPNOTIFY_APPLE_ERRORS_H
#define VPPNOTIFY_APPLE_ERRORS_H

struct vn_apple_error_info {
    int number;          /* errorNumber, e.g. 9709 */
    int http_status;     /* HTTP status of a synchronous error; 0 for async-only errors */
    const char *name;    /* stable identifier, e.g. "NOT_ENOUGH_LICENSES" */
    const char *message; /* errorMessage as vppsim sends it (Apple's wording, paraphrased) */
    const char *advice;  /* what an operator should do, or NULL */
};

/* The entry for number, or NULL if Apple has added a number we do not know yet. */
const struct vn_apple_error_info *vn_apple_error_lookup(int number);

/* All entries, in number order; *n receives the count. */
const struct vn_apple_error_info *vn_apple_errors(int *n);

/* Named numbers used in code. */
enum {
    VN_APPLE_LOGIN_REQUIRED = 9601,
    VN_APPLE_INVALID_ARGUMENT = 9602,
    VN_APPLE_INTERNAL_ERROR = 9603,
    VN_APPLE_USER_NOT_FOUND = 9609,
    VN_APPLE_TOKEN_EXPIRED = 9621,
    VN_APPLE_INVALID_APNS_TOKEN = 9623,
    VN_APPLE_TOKEN_REVOKED = 9625,
    VN_APPLE_SERVICE_REMOVED = 9634,
    VN_APPLE_ACCOUNT_ASSOCIATION_FAILED = 9635,
    VN_APPLE_FACILITATOR_NOT_ALLOWED = 9637,
    VN_APPLE_ACCOUNT_ALREADY_ASSOCIATED = 9641,
    VN_APPLE_MAINTENANCE = 9644,
    VN_APPLE_TOO_MANY_REQUESTS = 9646,
    VN_APPLE_LEGACY_TOKEN = 9647,
    VN_APPLE_PAGE_INDEX_OUT_OF_RANGE = 9650,
    VN_APPLE_TOO_MANY_ASSETS = 9700,
    VN_APPLE_TOO_MANY_CLIENT_USER_IDS = 9701,
    VN_APPLE_TOO_MANY_SERIAL_NUMBERS = 9702,
    VN_APPLE_DUPLICATE_ASSETS = 9703,
    VN_APPLE_DUPLICATE_CLIENT_USER_IDS = 9704,
    VN_APPLE_DUPLICATE_SERIAL_NUMBERS = 9705,
    VN_APPLE_ASSET_NOT_REVOCABLE = 9706,
    VN_APPLE_ASSET_NOT_DEVICE_ASSIGNABLE = 9707,
    VN_APPLE_EVENT_NOT_FOUND = 9708,
    VN_APPLE_NOT_ENOUGH_LICENSES = 9709,
    VN_APPLE_NOTIFICATION_URL_AND_TOKEN = 9710,
    VN_APPLE_NOTIFICATION_TOO_LONG = 9711,
    VN_APPLE_NOTIFICATION_URL_NOT_HTTPS = 9712,
    VN_APPLE_MDM_METADATA_TOO_LONG = 9713,
    VN_APPLE_TOO_MANY_USERS = 9714,
    VN_APPLE_DUPLICATE_USERS = 9715,
    VN_APPLE_USER_EXISTS = 9716,
    VN_APPLE_INVALID_EMAIL = 9717,
    VN_APPLE_ASSETS_REQUIRED = 9718,
    VN_APPLE_USERS_OR_SERIALS_REQUIRED = 9719,
    VN_APPLE_USERS_REQUIRED = 9720,
    VN_APPLE_INVALID_VERSION_ID = 9721,
    VN_APPLE_INVALID_AUTH_HEADER = 9722,
    VN_APPLE_MDM_INFO_INCOMPLETE = 9723,
    VN_APPLE_MDM_ID_TOO_LONG = 9724,
    VN_APPLE_MDM_NAME_TOO_LONG = 9725,
    VN_APPLE_METHOD_NOT_ALLOWED = 9726,
    VN_APPLE_UNSUPPORTED_CONTENT_TYPE = 9727,
    VN_APPLE_NOTIFICATION_URL_UNREACHABLE = 9728,
    VN_APPLE_SERVICE_UNAVAILABLE = 9729,
    VN_APPLE_INVALID_SUBSCRIPTION_REQUEST = 9811,
    VN_APPLE_INVALID_CURSOR = 9812,
    VN_APPLE_INVALID_ADAM_ID = 9813,
    VN_APPLE_NO_ASSOCIATED_USER = 9814,
    VN_APPLE_USER_NOT_ASSIGNED = 9815,
    VN_APPLE_TOO_MANY_SUBSCRIPTIONS = 9816,
    VN_APPLE_ASSIGNED_THROUGH_GROUP = 9817,
    VN_APPLE_SUBSCRIPTIONS_EXIST = 9818,
};

#endif
