/*
 * cmd_location.c - locations (Apple's uId) and their notification tokens:
 * location add | list | remove | rotate-token.
 *
 * A token is read from a 0600 file, or generated and printed once on stdout (and nowhere
 * else); the database keeps its SHA-256 digest only.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/notification.h"
#include "vppnotify/secret.h"
#include "vppnotify/stoken.h"
#include "vppnotify/util.h"
#include "vppnotify/workflow_location.h"

static void show_token(const char *uid, const char *tok)
{
    /* stdout carries the token alone, so that it can be captured; words go to stderr. */
    fprintf(stderr,
            "notification token for location '%s' (shown once; give it to Apple's "
            "Client Config as notificationAuthToken):\n",
            uid);
    printf("%s\n", tok);
    fflush(stdout);
}

static int cmd_add(struct vn_cli *c, int argc, char **argv)
{
    struct vn_location_add_result r = {0};
    struct vn_cli_wf x = {0};
    struct vn_error err = {0};
    char tok[VN_TOKEN_MAX + 1] = "";
    int rc;

    (void)argc;
    (void)argv;
    if (c->stoken_file)
        return vn_cli_location_subscribe(c);
    if (c->public_url) {
        vn_cli_error("--public-url needs --stoken-file (vppnotify subscribes the location with "
                     "Apple only when it has its sToken)");
        return VN_EXIT_USAGE;
    }
    if (vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    if (vn_cli_token_file(c, tok, sizeof(tok)) != 0)
        return VN_EXIT_FAIL;
    rc = vn_cli_wf_open(c, VN_CLI_DB_CREATE, 0, &x);
    if (rc == 0) {
        rc = vn_workflow_location_add(&x.wf, c->uid, c->name, tok[0] ? tok : NULL, &r, &err);
        if (rc == VN_EDUP)
            vn_cli_error("%s (use 'location rotate-token' for a new token)", err.msg);
        else if (rc)
            vn_cli_error("%s", err.msg);
        else if (r.generated)
            show_token(c->uid, r.token);
        else
            fprintf(stderr, "location '%s' added with the token of '%s'\n", c->uid, c->token_file);
        rc = vn_cli_wf_exit(rc);
    }
    vn_wipe(r.token, sizeof(r.token));
    vn_wipe(tok, sizeof(tok));
    vn_cli_wf_close(&x);
    return rc;
}

/* location list without --wide: who, tokens, and whether Apple's side is healthy. */
static const char *const t_list[] = {
    "uId", "name", "tokenCount", "tokenStatus", "lastTestNotificationAt", NULL};

static int cmd_list(struct vn_cli *c, int argc, char **argv)
{
    struct vn_filter f = {.uid = c->uid};
    struct vn_output *out;
    struct vn_store *st = vn_cli_open_store(c, VN_CLI_DB_READ);
    int rc;

    if (!st)
        return VN_EXIT_FAIL;
    out = vn_output_new(c->json, stdout);
    if (out)
        vn_output_columns(out, c->wide, t_list);
    rc = out ? vn_store_query(st, VN_Q_LOCATIONS, &f, vn_output_row, out) : -1;
    if (rc < 0)
        vn_cli_error("cannot list locations: %s", vn_store_last_error(st));
    if (out && vn_output_finish(out) != 0)
        rc = -1;
    vn_store_free(st);
    return rc < 0 ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static int cmd_remove(struct vn_cli *c, int argc, char **argv)
{
    struct vn_cli_wf x = {0};
    struct vn_error err = {0};
    int rc;

    (void)argc;
    (void)argv;
    if (vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    rc = vn_cli_wf_open(c, VN_CLI_DB_WRITE, 0, &x);
    if (rc == 0) {
        rc = vn_workflow_location_remove(&x.wf, c->uid, &err);
        if (rc)
            vn_cli_error("%s", err.msg);
        else
            fprintf(stderr, "location '%s' removed with its tokens, mirror and events\n", c->uid);
        rc = vn_cli_wf_exit(rc);
    }
    vn_cli_wf_close(&x);
    return rc;
}

static int cmd_rotate(struct vn_cli *c, int argc, char **argv)
{
    struct vn_rotate_input in = {.uid = c->uid,
                                 .grace_ms = c->grace_ms,
                                 .public_url = c->public_url,
                                 .take_over = c->take_over};
    struct vn_rotate_result r;
    struct vn_cli_wf x = {0};
    struct vn_error err = {0};
    char tok[VN_TOKEN_MAX + 1] = "", grace[32];
    int rc;

    (void)argc;
    (void)argv;
    if (vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    if (vn_cli_token_file(c, tok, sizeof(tok)) != 0)
        return VN_EXIT_FAIL;
    in.token = tok[0] ? tok : NULL;
    /* The Apple side is needed only for a subscribed location: the workflow decides. A key
     * file that cannot be named (another backend without --key-file) is its problem then. */
    if ((rc = vn_cli_wf_open(c, VN_CLI_DB_WRITE, 0, &x)) != 0)
        goto out;
    if (!(x.wf.apple = vn_cli_apple(c))) {
        rc = VN_EXIT_FAIL;
        goto out;
    }
    if (vn_seal_key_path(c->db, x.key_path, sizeof(x.key_path), NULL) == 0 || c->key_file)
        x.wf.key_file = c->key_file && *c->key_file ? c->key_file : x.key_path;
    rc = vn_workflow_rotate(&x.wf, &in, &r, &err);
    vn_format_duration(c->grace_ms, grace, sizeof(grace));
    if (rc == VN_ECONFLICT) {
        vn_cli_error("%s. Pass --take-over to make vppnotify that MDM", err.msg);
    } else if (rc) {
        vn_cli_error("%s", err.msg);
    } else if (r.subscribed) {
        fprintf(stderr,
                "location '%s': Apple has its new notification token (for %s); the previous "
                "one stays valid for %s\n",
                c->uid, r.url, grace);
    } else {
        if (r.generated)
            show_token(c->uid, r.token);
        fprintf(stderr, "the previous token of '%s' stays valid for %s\n", c->uid, grace);
    }
    vn_wipe(r.token, sizeof(r.token));
    rc = vn_cli_wf_exit(rc);
out:
    vn_wipe(tok, sizeof(tok));
    vn_cli_wf_close(&x);
    return rc;
}

#define APPLE_OPTS VN_CLI_APPLE_OPTS, "log-level", "log-format"

static const char *const o_add[] = {"help",      "config",     "db",          "uid",
                                    "name",      "token-file", "stoken-file", "public-url",
                                    "take-over", APPLE_OPTS,   NULL};
static const char *const o_list[] = {"help", "config", "db", "uid", "json", "wide", NULL};
static const char *const o_remove[] = {"help", "config", "db", "uid", NULL};
static const char *const o_rotate[] = {"help",  "config",     "db",        "uid",      "token-file",
                                       "grace", "public-url", "take-over", APPLE_OPTS, NULL};

const struct vn_command vn_cmd_location[] = {
    {"location add",
     "vppnotify location add --uid UID [--name NAME] [--token-file FILE] | location add "
     "--stoken-file FILE --public-url URL [--uid UID] [--take-over]",
     "create a location and its notification token (generated and printed once unless "
     "--token-file); with --stoken-file, subscribe it with Apple's Client Config (every "
     "notification type, this instance's mdmInfo; serve must answer at --public-url)",
     o_add, cmd_add, 0},
    {"location list", "vppnotify location list [--uid UID] [--json | --wide]",
     "locations: valid tokens, last TEST_NOTIFICATION, sToken status (ok, expiring, expired, "
     "revoked, takeover), subscription and last syncs",
     o_list, cmd_list, 0},
    {"location remove", "vppnotify location remove --uid UID",
     "delete a location with its tokens, mirror and events (the notification ledger stays)",
     o_remove, cmd_remove, 0},
    {"location rotate-token",
     "vppnotify location rotate-token --uid UID [--grace DURATION] [--token-file FILE] "
     "[--public-url URL] [--take-over]",
     "give a location a new token; the old one is still accepted for the grace window; a "
     "subscribed location's new token goes to Apple (and is not printed); with --public-url, "
     "a location with an sToken is (re)subscribed at that URL",
     o_rotate, cmd_rotate, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
