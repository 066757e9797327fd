/*
 * cmd_query.c - the read commands: the mirror (assets, assignments, users, subscriptions,
 * subscription-assignments), the ledger (notifications, events) and the quarantine.
 * Each is one store query printed as a table or, with --json, one JSON array.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/error.h"

/* The columns each table shows without --wide: what fits 100 columns with typical values
 * (a 36-character eventId, a 16-digit uId, ISO times). --wide or --json show every key. */
static const char *const t_assets[] = {
    "uId",           "adamId",         "pricingParam", "totalCount",
    "assignedCount", "availableCount", "needsSync",    NULL};
static const char *const t_assignments[] = {"uId",          "adamId",       "pricingParam",
                                            "clientUserId", "serialNumber", NULL};
static const char *const t_users[] = {"uId", "clientUserId", "email", "status", NULL};
static const char *const t_subscriptions[] = {"uId",
                                              "adamId",
                                              "counts.available.renewing",
                                              "counts.available.expiring",
                                              "counts.total.renewing",
                                              "counts.total.expiring",
                                              NULL};
static const char *const t_seats[] = {"uId", "adamId", "clientUserId", "renewing", NULL};
static const char *const t_events[] = {"eventId",   "uId",    "type", "status",
                                       "succeeded", "failed", NULL};
static const char *const t_notifications[] = {"notificationId", "notificationType", "receivedAt",
                                              "state", NULL};
static const char *const t_quarantine[] = {"id",         "receivedAt", "remoteAddr",
                                           "bodyLength", "reason",     NULL};

static int run_query(struct vn_cli *c, enum vn_query q, const char *const *columns)
{
    struct vn_filter f = {
        .uid = c->uid,
        .adam_id = c->adam_id,
        .client_user_id = c->client_user_id,
        .serial_number = c->serial,
        .event_id = c->event_id,
        .state = c->state,
        .type_name = c->type,
        .limit = c->limit,
    };
    struct vn_output *out;
    struct vn_store *st;
    struct vn_adam_id adam;
    struct vn_error err = {0};
    int rc;

    if (c->adam_id && vn_adam_id_canonical(c->adam_id, strlen(c->adam_id), &adam, &err) != 0) {
        vn_cli_error("--adam-id: %s", err.msg);
        return VN_EXIT_USAGE;
    }
    st = vn_cli_open_store(c, VN_CLI_DB_READ);
    if (!st)
        return VN_EXIT_FAIL;
    out = vn_output_new(c->json, stdout);
    if (!out) {
        vn_store_free(st);
        vn_cli_error("out of memory");
        return VN_EXIT_FAIL;
    }
    vn_output_columns(out, c->wide, columns);
    rc = vn_store_query(st, q, &f, vn_output_row, out);
    if (rc < 0)
        vn_cli_error("query failed: %s",
                     vn_store_last_error(st)[0] ? vn_store_last_error(st) : vn_strerror(rc));
    if (vn_output_finish(out) != 0 && rc == 0) {
        vn_cli_error("cannot write the output");
        rc = -1;
    }
    vn_store_free(st);
    return rc < 0 ? VN_EXIT_FAIL : VN_EXIT_OK;
}

#define QUERY_CMD(fn, q, columns)                                                                  \
    static int fn(struct vn_cli *c, int argc, char **argv)                                         \
    {                                                                                              \
        return run_query(c, q, columns);                                                           \
    }

QUERY_CMD(cmd_assets, VN_Q_ASSETS, t_assets)
QUERY_CMD(cmd_assignments, VN_Q_ASSIGNMENTS, t_assignments)
QUERY_CMD(cmd_users, VN_Q_USERS, t_users)
QUERY_CMD(cmd_subscriptions, VN_Q_SUBSCRIPTIONS, t_subscriptions)
QUERY_CMD(cmd_seats, VN_Q_SUBSCRIPTION_ASSIGNMENTS, t_seats)
QUERY_CMD(cmd_events, VN_Q_EVENTS, t_events)
QUERY_CMD(cmd_notifications, VN_Q_NOTIFICATIONS, t_notifications)
QUERY_CMD(cmd_quarantine, VN_Q_QUARANTINE, t_quarantine)

#define COMMON "help", "config", "db", "json", "wide", "uid", "limit"

static const char *const o_assets[] = {COMMON, "adam-id", NULL};
static const char *const o_assignments[] = {COMMON, "adam-id", "client-user-id", "serial", NULL};
static const char *const o_users[] = {COMMON, "client-user-id", NULL};
static const char *const o_subscriptions[] = {COMMON, "adam-id", NULL};
static const char *const o_seats[] = {COMMON, "adam-id", "client-user-id", NULL};
static const char *const o_events[] = {COMMON, "event-id", "type", NULL};
static const char *const o_notifications[] = {COMMON, "state", "type", NULL};
static const char *const o_quarantine[] = {COMMON, NULL};

const struct vn_command vn_cmd_query[] = {
    {"assets", "vppnotify assets [--db PATH] [--uid UID] [--adam-id ID] [--json | --wide]",
     "licenses per product: total, assigned and available counts, and whether a sync is "
     "needed",
     o_assets, cmd_assets, 0},
    {"assignments",
     "vppnotify assignments [--db PATH] [--uid UID] [--adam-id ID] [--client-user-id ID] "
     "[--serial S] [--json | --wide]",
     "which user or device holds a license of which product", o_assignments, cmd_assignments, 0},
    {"users", "vppnotify users [--db PATH] [--uid UID] [--client-user-id ID] [--json | --wide]",
     "users of each location with their invitation and association state", o_users, cmd_users, 0},
    {"subscriptions",
     "vppnotify subscriptions [--db PATH] [--uid UID] [--adam-id ID] [--json | --wide]",
     "subscription seat counts (available and total, renewing and expiring)", o_subscriptions,
     cmd_subscriptions, 0},
    {"subscription-assignments",
     "vppnotify subscription-assignments [--db PATH] [--uid UID] [--adam-id ID] "
     "[--client-user-id ID] [--json | --wide]",
     "which user holds a seat of which subscription, renewing or not", o_seats, cmd_seats, 0},
    {"events",
     "vppnotify events [--db PATH] [--uid UID] [--event-id ID] [--type TYPE] [--json | --wide]",
     "Apple events (eventId) seen in notifications: items succeeded and failed, errors", o_events,
     cmd_events, 0},
    {"notifications",
     "vppnotify notifications [--db PATH] [--uid UID] [--state applied|stored] [--type TYPE] "
     "[--json | --wide]",
     "every notification received: when, its outcome, duplicates and conflicts", o_notifications,
     cmd_notifications, 0},
    {"quarantine", "vppnotify quarantine [--db PATH] [--json | --wide]",
     "bodies refused with 400 (not JSON, or no valid envelope), kept for inspection", o_quarantine,
     cmd_quarantine, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
