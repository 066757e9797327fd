/* apple_errors.c - see include/vppnotify/apple_errors.h. Source: apple-api.md section 6.9. */
#include "vppnotify/apple_errors.h"

#include <stddef.h>

static const struct vn_apple_error_info table[] = {
    {9601, 401, "LOGIN_REQUIRED", "Login required.",
     "the sToken is missing or unknown; download a new one"},
    {9602, 400, "INVALID_ARGUMENT", "Invalid argument.", NULL},
    {9603, 500, "INTERNAL_ERROR", "Internal error.", "Apple failed; retry after Retry-After"},
    {9609, 400, "USER_NOT_FOUND", "Unable to find the registered user.",
     "create the user first (users create)"},
    {9621, 401, "TOKEN_EXPIRED",
     "The sToken has expired. Generate a new one at school.apple.com or business.apple.com.",
     "download a new content token from Apple School Manager or Apple Business Manager"},
    {9623, 400, "INVALID_APNS_TOKEN", "The provided Apple Push Notification token is invalid.",
     NULL},
    {9625, 401, "TOKEN_REVOKED", "The server has revoked the sToken.",
     "a new content token was downloaded elsewhere; install it here"},
    {9634, 410, "SERVICE_REMOVED", "Service removed.", NULL},
    {9635, 0, "ACCOUNT_ASSOCIATION_FAILED", "Couldn't associate the Apple Account with this user.",
     NULL},
    {9637, 403, "FACILITATOR_NOT_ALLOWED", "This operation isn't allowed for facilitator accounts.",
     NULL},
    {9641, 0, "ACCOUNT_ALREADY_ASSOCIATED",
     "The Apple Account is already associated with another user.", NULL},
    {9644, 0, "MAINTENANCE", "The service is in maintenance mode. Retry later.", NULL},
    {9646, 429, "TOO_MANY_REQUESTS",
     "Too many requests for the organization. Retry with an exponential backoff.", NULL},
    {9647, 403, "LEGACY_TOKEN", "This operation isn't supported for legacy tokens.", NULL},
    {9650, 400, "PAGE_INDEX_OUT_OF_RANGE",
     "The page index must be greater than 0 and less than total pages.", NULL},
    {9700, 400, "TOO_MANY_ASSETS", "Too many assets in the request.", NULL},
    {9701, 400, "TOO_MANY_CLIENT_USER_IDS", "Too many clientUserIds in the request.", NULL},
    {9702, 400, "TOO_MANY_SERIAL_NUMBERS", "Too many serialNumbers in the request.", NULL},
    {9703, 400, "DUPLICATE_ASSETS", "The request contains duplicate assets.", NULL},
    {9704, 400, "DUPLICATE_CLIENT_USER_IDS", "The request contains duplicate clientUserIds.", NULL},
    {9705, 400, "DUPLICATE_SERIAL_NUMBERS", "The request contains duplicate serialNumbers.", NULL},
    {9706, 400, "ASSET_NOT_REVOCABLE", "The asset isn't revocable.", NULL},
    {9707, 400, "ASSET_NOT_DEVICE_ASSIGNABLE", "The asset can't be assigned to a device.", NULL},
    {9708, 400, "EVENT_NOT_FOUND", "The eventId wasn't found.", NULL},
    {9709, 0, "NOT_ENOUGH_LICENSES",
     "There aren't enough assets available to complete this association.",
     "buy more licenses or disassociate unused ones"},
    {9710, 400, "NOTIFICATION_URL_AND_TOKEN",
     "The notification URL and the notification auth token must be provided together.", NULL},
    {9711, 400, "NOTIFICATION_TOO_LONG",
     "The notification URL or auth token is longer than the maximum length.", NULL},
    {9712, 400, "NOTIFICATION_URL_NOT_HTTPS", "The notification URL must be a valid HTTPS URL.",
     "give --public-url an https:// address that reaches vppnotify serve"},
    {9713, 400, "MDM_METADATA_TOO_LONG", "The mdmInfo metadata is longer than the maximum length.",
     NULL},
    {9714, 400, "TOO_MANY_USERS", "Too many users in the request.", NULL},
    {9715, 400, "DUPLICATE_USERS", "The request contains duplicate users.", NULL},
    {9716, 0, "USER_EXISTS", "A registered user with that clientUserId already exists.", NULL},
    {9717, 400, "INVALID_EMAIL", "The email address is invalid.", NULL},
    {9718, 400, "ASSETS_REQUIRED", "Assets are a required argument.", NULL},
    {9719, 400, "USERS_OR_SERIALS_REQUIRED", "Either clientUserIds or serialNumbers are required.",
     NULL},
    {9720, 400, "USERS_REQUIRED", "Users are a required argument.", NULL},
    {9721, 400, "INVALID_VERSION_ID", "The version ID is invalid.",
     "the delta base is gone; run a full sync"},
    {9722, 401, "INVALID_AUTH_HEADER",
     "The Authorization header is invalid. It must be 'Bearer {sToken}'.", NULL},
    {9723, 400, "MDM_INFO_INCOMPLETE", "The mdmInfo needs a name, an id and metadata.", NULL},
    {9724, 400, "MDM_ID_TOO_LONG", "The mdmInfo id is longer than the maximum length.", NULL},
    {9725, 400, "MDM_NAME_TOO_LONG", "The mdmInfo name is longer than the maximum length.", NULL},
    {9726, 405, "METHOD_NOT_ALLOWED",
     "This request contains an unsupported HTTP method for the requested endpoint.", NULL},
    {9727, 415, "UNSUPPORTED_CONTENT_TYPE", "This request contains an unsupported Content-Type.",
     NULL},
    {9728, 400, "NOTIFICATION_URL_UNREACHABLE", "The provided notification URL is unreachable.",
     "vppnotify serve must answer at the public URL before subscribing: Apple delivers a "
     "TEST_NOTIFICATION during the call and rejects the configuration when it fails"},
    {9729, 503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable.",
     "retry after Retry-After"},
    {9811, 400, "INVALID_SUBSCRIPTION_REQUEST", "The subscription association request is invalid.",
     NULL},
    {9812, 400, "INVALID_CURSOR", "The cursor is invalid.", NULL},
    {9813, 400, "INVALID_ADAM_ID", "The Adam ID is invalid.", NULL},
    {9814, 400, "NO_ASSOCIATED_USER",
     "There is no associated registered user for the clientUserId.", NULL},
    {9815, 400, "USER_NOT_ASSIGNED", "The registered user isn't assigned the requested adamId.",
     NULL},
    {9816, 400, "TOO_MANY_SUBSCRIPTIONS",
     "Too many subscriptions or subscription clientUserIds in the request.", NULL},
    {9817, 400, "ASSIGNED_THROUGH_GROUP",
     "The user is already assigned this subscription through group membership.", NULL},
    {9818, 400, "SUBSCRIPTIONS_EXIST",
     "Subscriptions exist, so subscription management can't be disabled.", NULL},
};

const struct vn_apple_error_info *vn_apple_error_lookup(int number)
{
    size_t lo = 0, hi = sizeof(table) / sizeof(table[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table[mid].number == number)
            return &table[mid];
        if (table[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct vn_apple_error_info *vn_apple_errors(int *n)
{
    *n = (int)(sizeof(table) / sizeof(table[0]));
    return table;
}
