/*
 * commands.c - every command of vppnotify, group by group (cli.h: vn_cli_groups): main.c
 * finds the command to run in it and docgen.c generates the references from it. A table of
 * its own, so that neither of the two depends on the other for it.
 */
#include <stddef.h>

#include "cli.h"

static const struct vn_command *const groups[] = {
    vn_cmd_serve,      vn_cmd_location, vn_cmd_apple,  vn_cmd_query,   vn_cmd_manage,
    vn_cmd_sync,       vn_cmd_replay,   vn_cmd_api,    vn_cmd_changes, vn_cmd_backup,
    vn_cmd_rejections, vn_cmd_store,    vn_cmd_webhook};

const struct vn_command *const *const vn_cli_groups = groups;
const size_t vn_cli_ngroups = sizeof(groups) / sizeof(groups[0]);
