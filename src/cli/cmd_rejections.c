/*
 * cmd_rejections.c - `vppnotify rejections`: the requests serve refused with 401 or 403
 * (docs/SCHEMA.md `rejections`), newest first, as a table or JSON.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

static const char *const columns[] = {"lastAt",     "remote", "status", "reason",
                                      "claimedUId", "count",  NULL};

/* --since: a time, or a duration back from now. 0 with *ms, or -1 (message printed). */
static int since_ms(const char *since, int64_t *ms)
{
    long long d;

    if (vn_time_parse(since, ms) == 0)
        return 0;
    if (vn_parse_duration_ms(since, &d) == 0 && d >= 0) {
        *ms = vn_now_ms() - d;
        return 0;
    }
    vn_cli_error("rejections: --since '%s': expected a time (2026-01-31T12:00:00Z) or a "
                 "duration back from now (90m, 7d)",
                 since);
    return -1;
}

static int cmd_rejections(struct vn_cli *c, int argc, char **argv)
{
    struct vn_output *out;
    struct vn_store *st;
    int64_t since = 0;
    int rc;

    (void)argc;
    (void)argv;
    if (c->since && since_ms(c->since, &since) != 0)
        return VN_EXIT_USAGE;
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
    rc = vn_store_rejections(st, since, c->limit, vn_output_row, out);
    if (rc < 0)
        vn_cli_error("rejections: %s",
                     vn_store_last_error(st)[0] ? vn_store_last_error(st) : vn_strerror(rc));
    if (vn_output_finish(out) != 0 && rc == 0) {
        vn_cli_error("cannot write the output");
        rc = -1;
    }
    vn_store_free(st);
    return rc < 0 ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static const char *const o_rejections[] = {"help", "config", "db",    "json",
                                           "wide", "since",  "limit", NULL};

const struct vn_command vn_cmd_rejections[] = {
    {"rejections", "vppnotify rejections [--db PATH] [--since WHEN] [--limit N] [--json | --wide]",
     "requests serve refused with 401 or 403, newest first: when, from where, why, and the "
     "uId claimed; rows sum up one second of one kind from one address (--wide: also the first "
     "time and the token's location)",
     o_rejections, cmd_rejections, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
