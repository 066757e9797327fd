/*
 * cmd_backup.c - `vppnotify backup --to FILE`: a consistent copy of the database while serve
 * keeps running (SQLite's online backup API, vn_store_backup). Restore: stop serve, put the
 * copy in place of the database file, start serve (docs/DEPLOY.md). On PostgreSQL the copy is
 * a SQLite file from one snapshot; restore with `store copy` into an empty schema
 * (docs/STORE.md).
 */
#include <stdio.h>

#include "cli.h"
#include "vppnotify/error.h"

static int cmd_backup(struct vn_cli *c, int argc, char **argv)
{
    struct vn_store *st;
    int rc;

    if (!c->to || !*c->to) {
        vn_cli_error("backup: --to FILE is required (a new file for the copy)");
        return VN_EXIT_USAGE;
    }
    st = vn_cli_open_store(c, 0);
    if (!st)
        return VN_EXIT_FAIL;
    rc = vn_store_backup(st, c->to);
    if (rc)
        vn_cli_error("backup: %s", vn_store_last_error(st));
    else {
        char shown[512];

        vn_store_url_redact(c->db, shown, sizeof(shown));
        printf("backed up '%s' to '%s'\n", shown, c->to);
    }
    vn_store_free(st);
    return rc ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static const char *const o_backup[] = {"help",       "config",          "db", "log-level",
                                       "log-format", "db-busy-timeout", "to", NULL};

const struct vn_command vn_cmd_backup[] = {
    {"backup", "vppnotify backup --to FILE [--db PATH]",
     "copy the database, consistent as of one instant, to a new file (mode 0600) while serve "
     "keeps running",
     o_backup, cmd_backup, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
