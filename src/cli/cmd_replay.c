/*
 * cmd_replay.c - `vppnotify replay`: run every notification kept in state `stored` (an
 * unknown type, an invalid payload, a failed apply) through today's parser and apply rules,
 * one transaction each. Idempotent: what was applied is no longer `stored`, and the state
 * change happens in the same transaction as the apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/apply.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/notification.h"
#include "vppnotify/util.h"

/* 1 applied, 0 still not applicable, < 0 failure. */
static int replay_one(struct vn_store *st, const char *id, const struct vn_cli *c)
{
    struct vn_parse_limits limits = {.max_depth = (size_t)c->max_depth};
    struct vn_notification *n = NULL;
    struct vn_error err = {0};
    char *body = NULL;
    size_t len;
    int rc;

    rc = vn_store_notification_body(st, id, &body, &len);
    if (rc)
        return rc;
    rc = vn_notification_parse(body, len, &limits, &n, &err);
    if (rc || !n->valid) {
        vn_log_info("notification '%s' still not applicable: %s", id, rc ? err.msg : n->error);
        rc = 0;
        goto out;
    }
    rc = vn_store_begin(st);
    if (rc)
        goto out;
    /* The state change first: it fails (VN_ECONFLICT) if someone else applied it meanwhile. */
    rc = vn_store_notification_set_state(st, id, VN_NSTATE_APPLIED, NULL);
    if (rc == 0)
        rc = vn_apply(st, n, vn_now_ms(), NULL, &err);
    if (rc == 0)
        rc = vn_store_commit(st);
    if (rc) {
        vn_store_rollback(st);
        if (rc == VN_ECONFLICT) {
            rc = 0;
            goto out;
        }
        vn_cli_error("cannot replay notification '%s': %s", id,
                     err.msg[0] ? err.msg : vn_store_last_error(st));
        goto out;
    }
    vn_log_info("notification '%s' (%s) applied", id, n->type_name);
    rc = 1;
out:
    vn_notification_free(n);
    free(body);
    return rc;
}

static int cmd_replay(struct vn_cli *c, int argc, char **argv)
{
    struct vn_store *st = vn_cli_open_store(c, VN_CLI_DB_WRITE);
    size_t n = 0, applied = 0, failed = 0;
    char **ids = NULL;
    int rc;

    if (!st)
        return VN_EXIT_FAIL;
    rc = vn_store_stored_ids(st, c->uid, &ids, &n);
    if (rc) {
        vn_cli_error("cannot list stored notifications: %s", vn_store_last_error(st));
        vn_store_free(st);
        return VN_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        rc = replay_one(st, ids[i], c);
        if (rc > 0)
            applied++;
        else if (rc < 0)
            failed++;
        free(ids[i]);
    }
    free(ids);
    vn_store_free(st);
    printf("%zu stored notification(s): %zu applied, %zu still stored, %zu failed\n", n, applied,
           n - applied - failed, failed);
    return failed ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static const char *const o_replay[] = {"help",      "config",     "db",        "uid",
                                       "log-level", "log-format", "max-depth", NULL};

const struct vn_command vn_cmd_replay[] = {
    {"replay", "vppnotify replay [--db PATH] [--uid UID]",
     "apply stored notifications that today's parser accepts, once each", o_replay, cmd_replay, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
