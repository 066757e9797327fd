/*
 * cmd_sync.c - `vppnotify sync`: make the mirror of one location (or of every location with an
 * sToken) equal to Apple's records, now: a delta by default, everything with --full. Prints
 * the drift found per table (a table, or JSON); a progress line on stderr when it is a
 * terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vppnotify/apple.h"
#include "vppnotify/error.h"
#include "vppnotify/session.h"
#include "vppnotify/sync.h"

#define KEY_PATH_MAX 4200

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

static int cmd_sync(struct vn_cli *c, int argc, char **argv)
{
    struct vn_sync_options o = {.full = c->full, .progress = isatty(2) && !c->json};
    struct vn_session_env env = {0};
    struct vn_apple *a = NULL;
    struct vn_store *st = NULL;
    struct vn_output *out = NULL;
    char key_path[KEY_PATH_MAX], **uids = NULL;
    size_t n = 0, printed = 0;
    int rc = VN_EXIT_FAIL, failures = 0;

    (void)argc;
    (void)argv;
    if (vn_cli_key_file(c, key_path, sizeof(key_path)) != 0 || !(a = vn_cli_apple(c)) ||
        !(st = vn_cli_open_store(c, VN_CLI_DB_WRITE)))
        goto out;
    if (!c->json && !(out = vn_output_new(0, stdout))) {
        vn_cli_error("out of memory");
        goto out;
    }
    if (out)
        vn_output_columns(out, c->wide, NULL);
    env.apple = a;
    env.key_file = key_path;
    if (c->uid) {
        uids = calloc(1, sizeof(*uids));
        if (!uids || !(uids[0] = strdup(c->uid)))
            goto out;
        n = 1;
    } else if (vn_store_apple_uids(st, &uids, &n) != 0) {
        vn_cli_error("cannot list the locations: %s", vn_store_last_error(st));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct vn_session s;
        struct vn_sync_report r;
        struct vn_error err = {0};
        if (vn_session_open(&s, &env, st, uids[i], &err) != 0) {
            vn_cli_error("%s", err.msg);
            failures++;
            continue;
        }
        if (vn_sync_run(&s, &o, &r, &err) != 0) {
            vn_cli_error("sync of location '%s' failed: %s", uids[i], err.msg);
            failures++;
        } else {
            print_report(uids[i], &r, c->json, printed++ == 0, out);
        }
        vn_session_release(&s);
    }
    if (c->json)
        printf("%s]\n", printed ? "\n" : "[");
    if (out && vn_output_finish(out) != 0)
        failures++;
    out = NULL;
    if (!n)
        fprintf(stderr, "no location has an sToken (location add --stoken-file)\n");
    rc = failures ? VN_EXIT_FAIL : VN_EXIT_OK;
out:
    if (out)
        vn_output_finish(out);
    for (size_t i = 0; i < n; i++)
        free(uids[i]);
    free(uids);
    vn_store_free(st);
    vn_apple_free(a);
    return rc;
}

static const char *const o_sync[] = {"help",
                                     "config",
                                     "db",
                                     "log-level",
                                     "log-format",
                                     "json",
                                     "wide",
                                     "uid",
                                     "full",
                                     "apple-url",
                                     "apple-timeout",
                                     "apple-attempts",
                                     "apple-backoff",
                                     "apple-retry-max",
                                     "apple-config-refresh",
                                     "key-file",
                                     NULL};

const struct vn_command vn_cmd_sync[] = {
    {"sync", "vppnotify sync [--uid UID] [--full] [--json | --wide]",
     "make the mirror equal Apple's records now (a sinceVersionId delta, or everything with "
     "--full) and print the drift found per table",
     o_sync, cmd_sync, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
