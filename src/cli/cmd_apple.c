/*
 * cmd_apple.c - the commands that set up a location's link to Apple (contract section 5), as
 * doors into the library's workflows (workflow_location.h, workflow_request.h): the subscribe
 * flow of `location add --stoken-file`, `location set-stoken`, and `events track`. Also what
 * every command that runs a workflow shares: the Apple client from --apple-url, the sealing
 * key file, the store with its inline writer.
 *
 * An sToken is read from a 0600 file, never from argv, and is only ever stored sealed. A
 * notification token handed to Apple here is never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/apple.h"
#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/stoken.h"
#include "vppnotify/util.h"
#include "vppnotify/workflow_location.h"
#include "vppnotify/workflow_request.h"
#include "vppnotify/writer.h"

struct vn_apple *vn_cli_apple(const struct vn_cli *c)
{
    struct vn_apple_options o = {
        .base_url = c->apple_url,
        .timeout_ms = c->apple_timeout_ms,
        .config_refresh_ms = c->apple_config_refresh_ms,
        .max_attempts = (int)c->apple_attempts,
        .backoff_ms = c->apple_backoff_ms,
        .backoff_max_ms = c->apple_retry_max_ms < 60000 ? c->apple_retry_max_ms : 60000,
        .retry_after_max_ms = c->apple_retry_max_ms,
        .lock_wait_ms = c->apple_lock_wait_ms > 0 ? c->apple_lock_wait_ms : VN_APPLE_NO_WAIT,
        .instance = c->instance[0] ? c->instance : NULL,
    };
    struct vn_error err = {0};
    struct vn_apple *a = vn_apple_new(&o, &err);

    if (!a)
        vn_cli_error("%s", err.msg);
    return a;
}

int vn_cli_key_file(const struct vn_cli *c, char *out, size_t outlen)
{
    struct vn_error err = {0};

    if (c->key_file && *c->key_file) {
        vn_strlcpy(out, c->key_file, outlen);
        return 0;
    }
    if (vn_seal_key_path(c->db, out, outlen, &err) != 0) {
        vn_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

int vn_cli_wf_open(const struct vn_cli *c, int db_mode, int flags, struct vn_cli_wf *x)
{
    memset(x, 0, sizeof(*x));
    if (flags & VN_CLI_WF_APPLE) {
        if (vn_cli_key_file(c, x->key_path, sizeof(x->key_path)) != 0 ||
            !(x->wf.apple = vn_cli_apple(c)))
            return VN_EXIT_FAIL;
        x->wf.key_file = x->key_path;
    }
    if (!(x->wf.st = vn_cli_open_store(c, db_mode)))
        return VN_EXIT_FAIL;
    if (!(x->wf.w = vn_writer_inline(x->wf.st))) {
        vn_cli_error("out of memory");
        return VN_EXIT_FAIL;
    }
    return 0;
}

void vn_cli_wf_close(struct vn_cli_wf *x)
{
    vn_writer_free(x->wf.w);
    vn_store_free(x->wf.st);
    vn_apple_free(x->wf.apple);
    memset(x, 0, sizeof(*x));
}

int vn_cli_wf_exit(int rc)
{
    return rc == VN_EUSAGE ? VN_EXIT_USAGE : rc ? VN_EXIT_FAIL : VN_EXIT_OK;
}

/* What the command line adds to a refusal: how to get past it with this program. */
static void print_refusal(int rc, const char *msg)
{
    if (rc == VN_ECONFLICT)
        vn_cli_error("%s. Pass --take-over to make vppnotify that MDM", msg);
    else if (rc == VN_EDUP)
        vn_cli_error("%s; use 'location set-stoken' for a new sToken or 'location rotate-token' "
                     "for a new notification token",
                     msg);
    else
        vn_cli_error("%s", msg);
}

int vn_cli_token_file(const struct vn_cli *c, char *tok, size_t cap)
{
    struct vn_error err = {0};

    tok[0] = '\0';
    if (!c->token_file)
        return 0;
    if (vn_secret_read_file(c->token_file, tok, cap, &err) != 0 || vn_token_check(tok, &err) != 0) {
        vn_cli_error("token file '%s': %s", c->token_file, err.msg);
        vn_wipe(tok, cap);
        return -1;
    }
    return 0;
}

/* ---- location add --stoken-file ----------------------------------------------------------- */

int vn_cli_location_subscribe(struct vn_cli *c)
{
    struct vn_stoken tok = {0};
    struct vn_subscribe_input in = {
        .uid = c->uid, .name = c->name, .public_url = c->public_url, .take_over = c->take_over};
    struct vn_subscribe_result r;
    struct vn_cli_wf x = {0};
    struct vn_error err = {0};
    char ntok[VN_TOKEN_MAX + 1], when[VN_TIME_ISO_LEN];
    int rc;

    if (c->uid && vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    if (!c->public_url) {
        vn_cli_error("--public-url is required: the https:// address where Apple reaches "
                     "vppnotify serve (e.g. https://mdm.example.com/notifications)");
        return VN_EXIT_USAGE;
    }
    if (vn_workflow_check_public_url(c->public_url, &err) != 0) {
        vn_cli_error("--public-url: %s", err.msg);
        return VN_EXIT_USAGE;
    }
    if (vn_stoken_read_file(c->stoken_file, &tok, &err) != 0) {
        vn_cli_error("%s", err.msg);
        return VN_EXIT_FAIL;
    }
    if (vn_cli_token_file(c, ntok, sizeof(ntok)) != 0) {
        vn_stoken_release(&tok);
        return VN_EXIT_FAIL;
    }
    in.stoken = &tok;
    in.token = ntok[0] ? ntok : NULL;
    rc = vn_cli_wf_open(c, VN_CLI_DB_CREATE, VN_CLI_WF_APPLE, &x);
    if (rc == 0) {
        rc = vn_workflow_subscribe(&x.wf, &in, &r, &err);
        if (rc) {
            print_refusal(rc, err.msg);
            rc = vn_cli_wf_exit(rc);
        } else {
            if (r.foreign_mdm)
                vn_cli_error("warning: Apple still echoes another MDM's mdmInfo for '%s'", r.uid);
            vn_time_iso(r.token_expires_ms, when);
            printf("location %s (%s) subscribed: notifications go to %s (%zu types); its sToken "
                   "(%s) expires %s\n",
                   r.uid, r.name, r.url, r.ntypes,
                   r.org_name[0] ? r.org_name : "organization unknown", when);
        }
    }
    vn_cli_wf_close(&x);
    vn_wipe(ntok, sizeof(ntok));
    vn_stoken_release(&tok);
    return rc;
}

/* ---- location set-stoken -------------------------------------------------------------------- */

static int cmd_set_stoken(struct vn_cli *c, int argc, char **argv)
{
    struct vn_stoken tok = {0};
    struct vn_set_stoken_result r;
    struct vn_cli_wf x = {0};
    struct vn_error err = {0};
    char when[VN_TIME_ISO_LEN];
    int rc;

    (void)argc;
    (void)argv;
    if (vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    if (!c->stoken_file) {
        vn_cli_error("--stoken-file is required");
        return VN_EXIT_USAGE;
    }
    if (vn_stoken_read_file(c->stoken_file, &tok, &err) != 0) {
        vn_cli_error("%s", err.msg);
        return VN_EXIT_FAIL;
    }
    rc = vn_cli_wf_open(c, VN_CLI_DB_WRITE, VN_CLI_WF_APPLE, &x);
    if (rc == 0) {
        rc = vn_workflow_set_stoken(&x.wf, c->uid, &tok, &r, &err);
        if (rc == VN_ENOTFOUND)
            vn_cli_error("%s (location add --stoken-file creates one)", err.msg);
        else if (rc)
            vn_cli_error("%s", err.msg);
        if (rc) {
            rc = vn_cli_wf_exit(rc);
        } else {
            if (r.other_mdm[0])
                vn_cli_error("warning: Apple names another MDM for location '%s' (mdmInfo %s)",
                             c->uid, r.other_mdm);
            vn_time_iso(r.token_expires_ms, when);
            printf("location %s: new sToken installed (expires %s); calls to Apple resume\n",
                   c->uid, when);
        }
    }
    vn_cli_wf_close(&x);
    vn_stoken_release(&tok);
    return rc;
}

/* ---- events track ----------------------------------------------------------------------------
 */

static int cmd_track(struct vn_cli *c, int argc, char **argv)
{
    struct vn_track_result r;
    struct vn_cli_wf x = {0};
    struct vn_error err = {0};
    const char *event_id = argv[0];
    int rc;

    (void)argc;
    if (!*event_id || strlen(event_id) > VN_ID_MAX) {
        vn_cli_error("events track: the eventId must be 1..%d characters", VN_ID_MAX);
        return VN_EXIT_USAGE;
    }
    if (vn_cli_check_uid(c->uid))
        return VN_EXIT_USAGE;
    rc = vn_cli_wf_open(c, VN_CLI_DB_WRITE, VN_CLI_WF_APPLE, &x);
    if (rc == 0) {
        rc = vn_workflow_track(&x.wf, c->uid, event_id, &r, &err);
        if (r.already)
            fprintf(stderr, "event %s is tracked already\n", event_id);
        if (rc) {
            vn_cli_error("%s", err.msg);
            rc = vn_cli_wf_exit(rc);
        } else {
            printf("%s %s", event_id, r.status.status);
            if (r.status.num_requested >= 0)
                printf(" numRequested=%lld numCompleted=%lld", r.status.num_requested,
                       r.status.num_completed);
            printf("\n");
            fprintf(stderr,
                    "vppnotify serve follows it from now on (vppnotify events --event-id "
                    "%s)\n",
                    event_id);
        }
    }
    vn_cli_wf_close(&x);
    return rc;
}

#define APPLE_OPTS VN_CLI_APPLE_OPTS

static const char *const o_set_stoken[] = {
    "help", "config", "db", "log-level", "log-format", "uid", "stoken-file", APPLE_OPTS, NULL};
static const char *const o_track[] = {"help",       "config", "db",       "log-level",
                                      "log-format", "uid",    APPLE_OPTS, NULL};

const struct vn_command vn_cmd_apple[] = {
    {"location set-stoken", "vppnotify location set-stoken --uid UID --stoken-file FILE",
     "install a new sToken for a location (after it expired, was revoked or renewed); Apple "
     "checks it first",
     o_set_stoken, cmd_set_stoken, 0},
    {"events track", "vppnotify events track EVENTID --uid UID",
     "track an event another program started: serve polls Event Status and re-syncs as for its "
     "own",
     o_track, cmd_track, 1},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
