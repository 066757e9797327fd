/*
 * shape.c - what every backend's query rows look like (store.h, vn_store_query): the keys of
 * each query, in order, with the type of each value. A backend's SQL for query q returns
 * exactly these columns in this order; the keys are Apple's JSON names (contract.md section 4).
 */
#include "store_impl.h"

#define T VN_V_TEXT
#define I VN_V_INT
#define B VN_V_BOOL
#define J VN_V_JSON

static const char *const k_assets[] = {"uId",        "adamId",        "pricingParam",
                                       "totalCount", "assignedCount", "availableCount",
                                       "needsSync",  "updatedAt"};
static const enum vn_vtype t_assets[] = {T, T, T, I, I, I, B, T};

static const char *const k_assignments[] = {"uId",          "adamId",       "pricingParam",
                                            "clientUserId", "serialNumber", "updatedAt"};
static const enum vn_vtype t_assignments[] = {T, T, T, T, T, T};

static const char *const k_users[] = {"uId",    "clientUserId", "email",    "inviteCode",
                                      "idHash", "status",       "updatedAt"};
static const enum vn_vtype t_users[] = {T, T, T, T, T, T, T};

static const char *const k_subs[] = {"uId",
                                     "adamId",
                                     "parentAdamId",
                                     "counts.available.renewing",
                                     "counts.available.expiring",
                                     "counts.total.renewing",
                                     "counts.total.expiring",
                                     "updatedAt"};
static const enum vn_vtype t_subs[] = {T, T, T, I, I, I, I, T};

static const char *const k_seats[] = {"uId", "adamId", "clientUserId", "renewing", "updatedAt"};
static const enum vn_vtype t_seats[] = {T, T, T, B, T};

static const char *const k_events[] = {
    "eventId",       "uId",           "notificationType", "type",
    "notifications", "succeeded",     "failed",           "errors",
    "tracked",       "requestedAt",   "status",           "numRequested",
    "numCompleted",  "expectedItems", "notifiedItems",    "failures",
    "deferred",      "polls",         "lastPollAt",       "notificationsMissing",
    "stalled",       "resync",        "completedAt"};
static const enum vn_vtype t_events[] = {T, T, T, T, I, I, I, J, B, T, T, I,
                                         I, I, I, J, B, I, T, B, B, T, T};

static const char *const k_notifications[] = {
    "notificationId", "notificationType", "uId", "receivedAt", "state", "duplicates", "conflicts"};
static const enum vn_vtype t_notifications[] = {T, T, T, T, T, I, I};

static const char *const k_locations[] = {"uId",
                                          "name",
                                          "tokenCount",
                                          "lastTestNotificationAt",
                                          "orgName",
                                          "tokenStatus",
                                          "tokenExpirationDate",
                                          "tokenError",
                                          "notificationUrl",
                                          "notificationTypes",
                                          "subscribedAt",
                                          "takeover",
                                          "lastFullSyncAt",
                                          "lastDeltaSyncAt",
                                          "lastSyncError",
                                          "lastSyncDrift"};
static const enum vn_vtype t_locations[] = {T, T, I, T, T, T, T, T, T, J, T, J, T, T, T, J};

static const char *const k_quarantine[] = {"id", "receivedAt", "remoteAddr", "reason",
                                           "bodyLength"};
static const enum vn_vtype t_quarantine[] = {I, T, T, T, I};

static const char *const k_failed_items[] = {
    "eventId", "uId", "errorNumber", "adamId", "pricingParam", "clientUserId", "serialNumber"};
static const enum vn_vtype t_failed_items[] = {T, T, I, T, T, T, T};
static const char *const k_api_keys[] = {"name", "scope", "key", "createdAt", "revokedAt"};
static const enum vn_vtype t_api_keys[] = {T, T, T, T, T};

static const char *const k_leases[] = {"name", "holder", "expiresAt", "takenAt"};
static const enum vn_vtype t_leases[] = {T, T, T, T};

static const char *const k_webhooks[] = {
    "id",         "url",       "kinds",          "state",         "cursor",
    "delivered",  "attempts",  "failingSince",   "nextAttemptAt", "lastAttemptAt",
    "lastStatus", "lastError", "disabledReason", "createdAt"};
static const enum vn_vtype t_webhooks[] = {I, T, T, T, I, I, I, T, T, T, I, T, T, T};

static const char *const k_deliveries[] = {"id",   "webhookId", "seq",       "messageId",
                                           "type", "attempt",   "at",        "status",
                                           "ok",   "error",     "durationMs"};
static const enum vn_vtype t_deliveries[] = {I, I, I, T, T, I, T, I, B, T, I};

#undef T
#undef I
#undef B
#undef J

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define SHAPE(name)                                                                                \
    {                                                                                              \
        COUNT(k_##name), k_##name, t_##name                                                        \
    }
#define SAME_WIDTH(name)                                                                           \
    _Static_assert(COUNT(k_##name) == COUNT(t_##name) && COUNT(k_##name) <= VN__QUERY_COLS_MAX,    \
                   "keys and types of query " #name " disagree")
SAME_WIDTH(assets);
SAME_WIDTH(assignments);
SAME_WIDTH(users);
SAME_WIDTH(subs);
SAME_WIDTH(seats);
SAME_WIDTH(events);
SAME_WIDTH(notifications);
SAME_WIDTH(locations);
SAME_WIDTH(quarantine);
SAME_WIDTH(failed_items);
SAME_WIDTH(api_keys);
SAME_WIDTH(leases);
SAME_WIDTH(webhooks);
SAME_WIDTH(deliveries);

/* Indexed by enum vn_query. */
const struct vn__query_shape vn__query_shapes[] = {
    [VN_Q_ASSETS] = SHAPE(assets),
    [VN_Q_ASSIGNMENTS] = SHAPE(assignments),
    [VN_Q_USERS] = SHAPE(users),
    [VN_Q_SUBSCRIPTIONS] = SHAPE(subs),
    [VN_Q_SUBSCRIPTION_ASSIGNMENTS] = SHAPE(seats),
    [VN_Q_EVENTS] = SHAPE(events),
    [VN_Q_NOTIFICATIONS] = SHAPE(notifications),
    [VN_Q_LOCATIONS] = SHAPE(locations),
    [VN_Q_QUARANTINE] = SHAPE(quarantine),
    [VN_Q_EVENT_FAILED_ITEMS] = SHAPE(failed_items),
    [VN_Q_API_KEYS] = SHAPE(api_keys),
    [VN_Q_LEASES] = SHAPE(leases),
    [VN_Q_WEBHOOKS] = SHAPE(webhooks),
    [VN_Q_WEBHOOK_DELIVERIES] = SHAPE(deliveries),
};

const size_t vn__query_count = COUNT(vn__query_shapes);
