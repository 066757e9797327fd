/*
 * cmd_sync.c - `vppnotify sync`: make the mirror of one location (or of every location with an
 * sToken) equal to Apple's records, now: a delta by default, everything with --full. Prints
 * the drift found per table; a progress line on stderr when it is a terminal.
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

static void print_report(const char *uid, const struct vn_sync_report *r, int json, int first)
{
    if (json) {
        char *text = vn_sync_report_json(r);
        /* {"uId": ..., then the report's own keys. */
        printf("%s{\"uId\":\"%s\",%s", first ? "[\n" : ",\n", uid, text ? text + 1 : "}");
        free(text);
        return;
    }
    printf("location %s: %s sync", uid, r->kind);
    for (int t = 0; t < VN_MT__COUNT; t++)
        if (r->walked[t])
            printf("; %s %lld fetched, %lld added, %lld removed, %lld changed",
                   vn_mirror_table_name((enum vn_mirror_table)t), r->t[t].fetched, r->t[t].added,
                   r->t[t].removed, r->t[t].changed);
    printf("; %lld pages%s\n", r->pages, r->restarts ? ", restarted after a versionId change" : "");
}

static int cmd_sync(struct vn_cli *c, int argc, char **argv)
{
    struct vn_sync_options o = {.full = c->full, .progress = isatty(2) && !c->json};
    struct vn_session_env env = {0};
    struct vn_apple *a = NULL;
    struct vn_store *st = NULL;
    char key_path[KEY_PATH_MAX], **uids = NULL;
    size_t n = 0, printed = 0;
    int rc = VN_EXIT_FAIL, failures = 0;

    (void)argc;
    (void)argv;
    if (vn_cli_key_file(c, key_path, sizeof(key_path)) != 0 || !(a = vn_cli_apple(c)) ||
        !(st = vn_cli_open_store(c, 0)))
        goto out;
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
            print_report(uids[i], &r, c->json, printed++ == 0);
        }
        vn_session_release(&s);
    }
    if (c->json)
        printf("%s]\n", printed ? "\n" : "[");
    if (!n)
        fprintf(stderr, "no location has an sToken (location add --stoken-file)\n");
    rc = failures ? VN_EXIT_FAIL : VN_EXIT_OK;
out:
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
    {"sync", "vppnotify sync [--uid UID] [--full] [--json]",
     "make the mirror equal Apple's records now (a sinceVersionId delta, or everything with "
     "--full) and print the drift found per table",
     o_sync, cmd_sync, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
