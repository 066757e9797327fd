/*
 * cmd_store.c - `vppnotify store copy --from URL --to URL`: move an installation between stores
 * (SQLite to PostgreSQL and back), then verify it by comparing every table (vn_store_copy,
 * vn_store_compare: docs/STORE.md). The sealed sTokens move as they are: keep the same key file
 * (--key-file) with the new store.
 */
#include <stdio.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/store.h"

static struct vn_store *open_url(const struct vn_cli *c, const char *url, int read_only)
{
    struct vn_store_options so;
    struct vn_error err = {0};
    struct vn_store *st;
    char params[128];

    vn_cli_store_options(c, read_only, &so, params, sizeof(params));
    st = vn_store_open(url, &so, &err);
    if (!st)
        vn_cli_error("%s", err.msg);
    return st;
}

static int cmd_store_copy(struct vn_cli *c, int argc, char **argv)
{
    struct vn_store_copy_report rep;
    struct vn_error err = {0};
    struct vn_store *from = NULL, *to = NULL;
    long long total = 0;
    int rc = VN_EXIT_FAIL;

    (void)argc;
    (void)argv;
    if (!c->copy_from || !*c->copy_from || !c->to || !*c->to) {
        vn_cli_error("store copy: --from URL and --to URL are both required");
        return VN_EXIT_USAGE;
    }
    from = open_url(c, c->copy_from, 1);
    if (!from)
        goto out;
    to = open_url(c, c->to, 0);
    if (!to)
        goto out;
    if (vn_store_copy(from, to, &rep, &err) != 0) {
        vn_cli_error("store copy: %s", err.msg);
        goto out;
    }
    for (size_t t = 0; t < rep.n; t++) {
        printf("%-26s %10lld rows\n", rep.tables[t].name, rep.tables[t].rows);
        total += rep.tables[t].rows;
    }
    if (vn_store_compare(from, to, &rep, &err) != 0) {
        vn_cli_error("store copy: the copy differs from its source: %s", err.msg);
        goto out;
    }
    printf("copied %lld rows of %zu tables from '%s' to '%s'; verified: every table equal\n", total,
           rep.n, vn_store_describe(from), vn_store_describe(to));
    rc = VN_EXIT_OK;
out:
    vn_store_free(to);
    vn_store_free(from);
    return rc;
}

static const char *const o_store_copy[] = {"help", "config", "from", "to", NULL};

const struct vn_command vn_cmd_store[] = {
    {"store copy", "vppnotify store copy --from URL --to URL",
     "copy every table of one store into a new, empty one (SQLite to PostgreSQL or back), then "
     "verify the copy table by table",
     o_store_copy, cmd_store_copy, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
