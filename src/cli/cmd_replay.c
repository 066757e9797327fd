/*
 * cmd_replay.c - `vppnotify replay`: the replay workflow (workflow_replay.h) from the command
 * line. Notifications the store refuses are named on stderr as they come; the summary line
 * goes to stdout.
 */
#include <stdio.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/workflow_replay.h"
#include "vppnotify/writer.h"

static void on_item(void *ud, const struct vn_replay_item *item)
{
    (void)ud;
    if (item->outcome == VN_REPLAY_FAILED)
        vn_cli_error("cannot replay notification '%s': %s", item->id, item->why);
}

static int cmd_replay(struct vn_cli *c, int argc, char **argv)
{
    struct vn_store *st = vn_cli_open_store(c, VN_CLI_DB_WRITE);
    struct vn_replay_options o = {.uid = c->uid, .max_depth = (size_t)c->max_depth, .cb = on_item};
    struct vn_replay_result r;
    struct vn_workflow wf = {.st = st};
    struct vn_error err = {0};
    int rc;

    (void)argc;
    (void)argv;
    if (!st)
        return VN_EXIT_FAIL;
    wf.w = vn_writer_inline(st);
    if (!wf.w) {
        vn_cli_error("out of memory");
        vn_store_free(st);
        return VN_EXIT_FAIL;
    }
    rc = vn_workflow_replay(&wf, &o, &r, &err);
    vn_writer_free(wf.w);
    vn_store_free(st);
    if (rc)
        vn_cli_error("%s", err.msg);
    /* Raced: another replay applied it meanwhile; for this one it is not applied. */
    if (!rc || r.stored)
        printf("%zu stored notification(s): %zu applied, %zu still stored, %zu failed\n", r.stored,
               r.applied, r.still_stored + r.raced, r.failed);
    return rc || r.failed ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static const char *const o_replay[] = {"help",      "config",     "db",        "uid",
                                       "log-level", "log-format", "max-depth", NULL};

const struct vn_command vn_cmd_replay[] = {
    {"replay", "vppnotify replay [--db PATH] [--uid UID]",
     "apply stored notifications that today's parser accepts, once each", o_replay, cmd_replay, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
