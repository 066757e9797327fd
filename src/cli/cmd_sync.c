/*
 * cmd_sync.c - `vppnotify sync`: make the mirror of one location (or of every location with an
 * sToken) equal to Apple's records, now: a delta by default, everything with --full. Prints
 * the drift found per table (a table, or JSON); a progress line on stderr when it is a
 * terminal. The door of the sync workflow (workflow_sync.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/workflow_sync.h"

/* The drift of one sync: one table row per mirror table walked (the pages on stderr), or one
 * JSON object. */
static void print_report(const char *uid, const struct vn_sync_report *r, int json, int first,
                         struct vn_output *out)
{
    static const char *const keys[] = {"uId",   "sync",    "table",  "fetched",
                                       "added", "removed", "changed"};
    struct vn_value v[7];
    struct vn_row row = {7, keys, v, NULL};

    if (json) {
        char *text = vn_sync_report_json(r);
        /* {"uId": ..., then the report's own keys. */
        printf("%s{\"uId\":\"%s\",%s", first ? "[\n" : ",\n", uid, text ? text + 1 : "}");
        free(text);
        return;
    }
    for (int t = 0; t < VN_MT__COUNT; t++) {
        if (!r->walked[t])
            continue;
        v[0] = (struct vn_value){VN_V_TEXT, 0, uid};
        v[1] = (struct vn_value){VN_V_TEXT, 0, r->kind};
        v[2] = (struct vn_value){VN_V_TEXT, 0, vn_mirror_table_name((enum vn_mirror_table)t)};
        v[3] = (struct vn_value){VN_V_INT, r->t[t].fetched, NULL};
        v[4] = (struct vn_value){VN_V_INT, r->t[t].added, NULL};
        v[5] = (struct vn_value){VN_V_INT, r->t[t].removed, NULL};
        v[6] = (struct vn_value){VN_V_INT, r->t[t].changed, NULL};
        vn_output_row(out, &row);
    }
    fprintf(stderr, "location %s: %s sync, %lld pages%s\n", uid, r->kind, r->pages,
            r->restarts ? ", restarted after a versionId change" : "");
}

struct printer {
    const struct vn_cli *c;
    struct vn_output *out;
    size_t printed;
};

static void on_done(void *ud, const char *uid, int rc, const struct vn_sync_report *r,
                    const struct vn_error *err)
{
    struct printer *p = ud;

    if (rc)
        vn_cli_error("%s", err->msg);
    else
        print_report(uid, r, p->c->json, p->printed++ == 0, p->out);
}

static int cmd_sync(struct vn_cli *c, int argc, char **argv)
{
    struct printer p = {.c = c};
    struct vn_workflow_sync_options o = {.uid = c->uid,
                                         .full = c->full,
                                         .progress = isatty(2) && !c->json,
                                         .done = on_done,
                                         .ud = &p};
    struct vn_workflow_sync_result r = {0};
    struct vn_cli_wf x = {0};
    struct vn_error err = {0};
    int rc, failures;

    (void)argc;
    (void)argv;
    if ((rc = vn_cli_wf_open(c, VN_CLI_DB_WRITE, VN_CLI_WF_APPLE, &x)) != 0)
        goto out;
    if (!c->json && !(p.out = vn_output_new(0, stdout))) {
        vn_cli_error("out of memory");
        rc = VN_EXIT_FAIL;
        goto out;
    }
    if (p.out)
        vn_output_columns(p.out, c->wide, NULL);
    rc = vn_workflow_sync(&x.wf, &o, &r, &err);
    /* A location's failure was printed as it happened; anything else is said now. */
    if (rc && !r.failed)
        vn_cli_error("%s", err.msg);
    failures = rc != 0;
    if (c->json)
        printf("%s]\n", p.printed ? "\n" : "[");
    if (p.out && vn_output_finish(p.out) != 0)
        failures++;
    p.out = NULL;
    if (!rc && !r.locations)
        fprintf(stderr, "no location has an sToken (location add --stoken-file)\n");
    rc = failures ? vn_cli_wf_exit(rc ? rc : -1) : VN_EXIT_OK;
out:
    if (p.out)
        vn_output_finish(p.out);
    vn_cli_wf_close(&x);
    return rc;
}

static const char *const o_sync[] = {"help", "config", "db",  "log-level", "log-format",
                                     "json", "wide",   "uid", "full",      VN_CLI_APPLE_OPTS,
                                     NULL};

const struct vn_command vn_cmd_sync[] = {
    {"sync", "vppnotify sync [--uid UID] [--full] [--json | --wide]",
     "make the mirror equal Apple's records now (a sinceVersionId delta, or everything with "
     "--full) and print the drift found per table",
     o_sync, cmd_sync, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
