/*
 * cmd_changes.c - `vppnotify changes [--after SEQ] [--follow] [--json]`: the change log on the
 * command line, the same feed as GET /v1/changes (contract section 8), read from the store.
 *
 * A table (seq, at, kind, op, key) by default; with --json one change object per line (JSON
 * Lines: a feed is a stream, which one JSON array could not be while --follow runs). --follow
 * waits for newer changes (polling the log's head, 200 ms) until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "vppnotify/error.h"
#include "vppnotify/rows.h"
#include "vppnotify/util.h"

#define FOLLOW_POLL_MS 200
#define PAGE           1000

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    stopping = sig;
}

struct printer {
    int json;
    int64_t last;    /* seq of the last change printed (or --after) */
    long long count; /* changes printed */
    int rc;
};

static int print_change(void *ud, const struct vn_change *c)
{
    struct printer *p = ud;

    p->last = c->seq;
    p->count++;
    if (p->json) {
        json_t *key = json_loads(c->key, 0, NULL), *row = NULL, *obj;
        char *text;

        if (c->row && (row = json_loads(c->row, 0, NULL)) && json_is_object(row))
            vn_json_drop_nulls(row);
        obj = json_pack("{sI ss ss ss so so}", "seq", (json_int_t)c->seq, "at", c->at, "kind",
                        c->kind, "op", c->op, "key", key ? key : json_object(), "row",
                        row ? row : json_null());
        text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(obj);
        if (!text) {
            p->rc = -ENOMEM;
            return 1;
        }
        printf("%s\n", text);
        free(text);
    } else {
        printf("%-8lld %s %-22s %-9s %s\n", (long long)c->seq, c->at, c->kind, c->op, c->key);
    }
    return 0;
}

static int cmd_changes(struct vn_cli *c, int argc, char **argv)
{
    struct printer p = {.json = c->json, .last = c->after};
    struct vn_changes_head h;
    struct vn_store *st;
    int rc = VN_EXIT_OK;

    st = vn_cli_open_store(c, VN_CLI_DB_READ);
    if (!st)
        return VN_EXIT_FAIL;
    if (vn_store_changes_head(st, &h) != 0) {
        vn_cli_error("changes: cannot read the change log: %s", vn_store_last_error(st));
        vn_store_free(st);
        return VN_EXIT_FAIL;
    }
    if (c->after < h.pruned_through) {
        vn_cli_error("changes: the changes after %lld are gone (kept %lld days; the log starts "
                     "after %lld): read the mirror again, then follow from --after %lld",
                     c->after, (long long)(h.retention_ms / 86400000), (long long)h.pruned_through,
                     (long long)h.last_seq);
        vn_store_free(st);
        return VN_EXIT_FAIL;
    }
    if (c->follow) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    if (!c->json)
        printf("%-8s %-24s %-22s %-9s %s\n", "seq", "at", "kind", "op", "key");
    while (!stopping) {
        long long want = c->limit > 0 ? c->limit - p.count : PAGE;
        int64_t before = p.last;

        if (want <= 0)
            break;
        if (want > PAGE)
            want = PAGE;
        if (vn_store_changes(st, p.last, want, print_change, &p) != 0 || p.rc) {
            vn_cli_error("changes: cannot read the change log: %s", vn_store_last_error(st));
            rc = VN_EXIT_FAIL;
            break;
        }
        fflush(stdout);
        if (p.last != before)
            continue;
        if (!c->follow)
            break;
        {
            struct timespec pause = {0, FOLLOW_POLL_MS * 1000000L};
            nanosleep(&pause, NULL); /* --follow polls the log of another process */
        }
    }
    if (ferror(stdout))
        rc = VN_EXIT_FAIL;
    vn_store_free(st);
    return rc;
}

static const char *const o_changes[] = {"help",  "config", "db",    "json",
                                        "after", "follow", "limit", NULL};

const struct vn_command vn_cmd_changes[] = {
    {"changes", "vppnotify changes [--db PATH] [--after SEQ] [--follow] [--json]",
     "the change log: every change of the mirror, of events and of locations, in commit order "
     "(the feed of GET /v1/changes); --json prints one object per line",
     o_changes, cmd_changes, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
