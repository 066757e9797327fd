/*
 * cmd_webhook.c - webhook endpoints on the command line (contract section 8):
 * `webhook add|list|remove|deliveries|redeliver`. serve delivers (src/lib/api/webhook.c);
 * these commands change what it delivers to, from another process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "vppnotify/api.h"
#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/stoken.h"
#include "vppnotify/util.h"

#include <sodium.h>

#define SECRET_TEXT_MAX 128

static const char *const kinds[] = {
    "asset", "assignment", "user", "subscription", "subscriptionAssignment", "event", "location",
};
static const char *const ops[] = {"created",   "updated", "deleted",
                                  "completed", "failed",  "stalled"};

/* Each comma-separated item is a kind or a kind.verb; 0, or -1 with the item printed. */
static int check_kinds(const char *list)
{
    char item[64];
    const char *p = list;

    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *dot;
        int ok = 0;

        if (n == 0 || n >= sizeof(item)) {
            vn_cli_error("webhook add: --kinds '%s': empty or overlong item", list);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        dot = strchr(item, '.');
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && !ok; k++) {
            size_t kl = strlen(kinds[k]);
            if (!dot) {
                ok = strcmp(item, kinds[k]) == 0;
                continue;
            }
            if ((size_t)(dot - item) != kl || strncmp(item, kinds[k], kl) != 0)
                continue;
            for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]) && !ok; o++)
                ok = strcmp(dot + 1, ops[o]) == 0;
        }
        if (!ok) {
            vn_cli_error("webhook add: --kinds item '%s' is neither a kind (asset, assignment, "
                         "user, subscription, subscriptionAssignment, event, location) nor a "
                         "message type (asset.updated, event.completed, ...)",
                         item);
            return -1;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* The endpoint's secret: read from the file, or made and written to it (0600) when absent. */
static int secret_of(const char *path, char secret[SECRET_TEXT_MAX], int *created)
{
    struct vn_error err = {0};
    struct stat sb;
    uint8_t key[64];
    size_t n;

    *created = 0;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        uint8_t raw[32];
        char b64[64];

        randombytes_buf(raw, sizeof(raw));
        sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(raw, sizeof(raw));
        snprintf(secret, SECRET_TEXT_MAX, "whsec_%s", b64);
        sodium_memzero(b64, sizeof(b64));
        if (vn_secret_write_file(path, secret, &err) != 0) {
            vn_cli_error("webhook add: %s", err.msg);
            return -1;
        }
        *created = 1;
        return 0;
    }
    if (vn_secret_read_file(path, secret, SECRET_TEXT_MAX, &err) != 0) {
        vn_cli_error("webhook add: %s", err.msg);
        return -1;
    }
    if (vn_webhook_secret_key(secret, key, sizeof(key), &n) != 0) {
        vn_cli_error("webhook add: the secret in '%s' is not whsec_ followed by 24 to 64 bytes "
                     "in base64 (Standard Webhooks)",
                     path);
        return -1;
    }
    sodium_memzero(key, sizeof(key));
    return 0;
}

static int cmd_add(struct vn_cli *c, int argc, char **argv)
{
    char secret[SECRET_TEXT_MAX], key_path[4200];
    uint8_t seal[VN_SEAL_KEY_LEN], *sealed = NULL;
    struct vn_error err = {0};
    struct vn_store *st = NULL;
    size_t sealed_len = 0;
    int64_t id = 0;
    int created = 0, rc = VN_EXIT_FAIL;

    if (!c->url || (strncmp(c->url, "https://", 8) != 0 && strncmp(c->url, "http://", 7) != 0)) {
        vn_cli_error("webhook add: --url '%s' must be an http:// or https:// URL",
                     c->url ? c->url : "");
        return VN_EXIT_USAGE;
    }
    if (strlen(c->url) >= 1000) {
        vn_cli_error("webhook add: --url is longer than 1000 characters");
        return VN_EXIT_USAGE;
    }
    if (!c->secret_file) {
        vn_cli_error("webhook add: --secret-file is required (created with a new secret when it "
                     "does not exist)");
        return VN_EXIT_USAGE;
    }
    if (c->kinds && check_kinds(c->kinds) != 0)
        return VN_EXIT_USAGE;
    if (vn_cli_key_file(c, key_path, sizeof(key_path)) != 0)
        return VN_EXIT_FAIL;
    st = vn_cli_open_store(c, VN_CLI_DB_CREATE);
    if (!st)
        return VN_EXIT_FAIL;
    if (secret_of(c->secret_file, secret, &created) != 0)
        goto out;
    if (vn_seal_key_load(key_path, 1, seal, &err) != 0 ||
        vn_seal(seal, secret, strlen(secret), &sealed, &sealed_len) != 0) {
        vn_cli_error("webhook add: cannot seal the secret: %s", err.msg[0] ? err.msg : "no memory");
        goto out;
    }
    if (vn_store_webhook_add(st, c->url, c->kinds, sealed, sealed_len, vn_now_ms(), &id) != 0) {
        vn_cli_error("webhook add: %s", vn_store_last_error(st));
        goto out;
    }
    printf("%lld\n", (long long)id);
    fprintf(stderr,
            "webhook %lld added: serve sends it every change committed from now on%s%s; its "
            "secret %s '%s'\n",
            (long long)id, c->kinds ? " of " : "", c->kinds ? c->kinds : "",
            created ? "was made and written to" : "is in", c->secret_file);
    if (strncmp(c->url, "http://", 7) == 0 && !strstr(c->url, "://127.") &&
        !strstr(c->url, "://localhost") && !strstr(c->url, "://[::1]"))
        fprintf(stderr,
                "warning: '%s' is plain HTTP to another host: the messages travel "
                "unencrypted (they are signed, not secret)\n",
                c->url);
    rc = VN_EXIT_OK;
out:
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(seal, sizeof(seal));
    free(sealed);
    vn_store_free(st);
    return rc;
}

static int run_query(struct vn_cli *c, enum vn_query q, const char *state)
{
    char id[32];
    struct vn_filter f = {.limit = c->limit, .state = state};
    struct vn_output *out;
    struct vn_store *st;
    int rc;

    if (c->id > 0) {
        snprintf(id, sizeof(id), "%lld", c->id);
        f.webhook = id;
    }
    st = vn_cli_open_store(c, VN_CLI_DB_READ);
    if (!st)
        return VN_EXIT_FAIL;
    out = vn_output_new(c->json, stdout);
    if (!out) {
        vn_store_free(st);
        return VN_EXIT_FAIL;
    }
    rc = vn_store_query(st, q, &f, vn_output_row, out);
    if (rc < 0)
        vn_cli_error("webhook: %s", vn_store_last_error(st));
    if (vn_output_finish(out) != 0 && rc == 0)
        rc = -1;
    vn_store_free(st);
    return rc < 0 ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static int cmd_list(struct vn_cli *c, int argc, char **argv)
{
    return run_query(c, VN_Q_WEBHOOKS, NULL);
}

static int cmd_deliveries(struct vn_cli *c, int argc, char **argv)
{
    return run_query(c, VN_Q_WEBHOOK_DELIVERIES, c->failed ? "failed" : NULL);
}

static int need_id(const struct vn_cli *c, const char *cmd)
{
    if (c->id > 0)
        return 0;
    vn_cli_error("%s: --id is required (see 'vppnotify webhook list')", cmd);
    return -1;
}

static int cmd_remove(struct vn_cli *c, int argc, char **argv)
{
    struct vn_store *st;
    int rc;

    if (need_id(c, "webhook remove"))
        return VN_EXIT_USAGE;
    st = vn_cli_open_store(c, VN_CLI_DB_WRITE);
    if (!st)
        return VN_EXIT_FAIL;
    rc = vn_store_webhook_remove(st, c->id);
    if (rc)
        vn_cli_error("webhook remove: %s", vn_store_last_error(st));
    else
        fprintf(stderr, "webhook %lld removed\n", c->id);
    vn_store_free(st);
    return rc ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static int cmd_redeliver(struct vn_cli *c, int argc, char **argv)
{
    int64_t after = vn_cli_origin(c, "after") == VN_OPT_FROM_DEFAULT ? -1 : c->after;
    struct vn_store *st;
    int rc;

    if (need_id(c, "webhook redeliver"))
        return VN_EXIT_USAGE;
    st = vn_cli_open_store(c, VN_CLI_DB_WRITE);
    if (!st)
        return VN_EXIT_FAIL;
    rc = vn_store_webhook_redeliver(st, c->id, after);
    if (rc)
        vn_cli_error("webhook redeliver: %s", vn_store_last_error(st));
    else if (after >= 0)
        fprintf(stderr, "webhook %lld enabled; serve sends every change after %lld again\n", c->id,
                (long long)after);
    else
        fprintf(stderr, "webhook %lld enabled; serve tries its next message now\n", c->id);
    vn_store_free(st);
    return rc ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static const char *const o_add[] = {"help", "config", "db",          "key-file",
                                    "url",  "kinds",  "secret-file", NULL};
static const char *const o_list[] = {"help", "config", "db", "json", "id", NULL};
static const char *const o_remove[] = {"help", "config", "db", "id", NULL};
static const char *const o_deliveries[] = {"help", "config", "db",    "json",
                                           "id",   "failed", "limit", NULL};
static const char *const o_redeliver[] = {"help", "config", "db", "id", "after", NULL};

const struct vn_command vn_cmd_webhook[] = {
    {"webhook add", "vppnotify webhook add --url URL [--kinds LIST] --secret-file F [--db PATH]",
     "send every change (or those of --kinds) committed from now on to URL as Standard "
     "Webhooks messages signed with the secret in F (made when F does not exist); prints the "
     "endpoint's id",
     o_add, cmd_add, 0},
    {"webhook list", "vppnotify webhook list [--db PATH] [--id N] [--json]",
     "webhook endpoints: URL, kinds, state, how far each got (cursor), failures", o_list, cmd_list,
     0},
    {"webhook remove", "vppnotify webhook remove --id N [--db PATH]",
     "stop sending to an endpoint and forget its deliveries", o_remove, cmd_remove, 0},
    {"webhook deliveries", "vppnotify webhook deliveries [--db PATH] [--id N] [--failed] [--json]",
     "every delivery attempt: message, status, error (kept as long as the change log)",
     o_deliveries, cmd_deliveries, 0},
    {"webhook redeliver", "vppnotify webhook redeliver --id N [--after SEQ] [--db PATH]",
     "enable an endpoint again (disabled after 410 or --webhook-retry-for of failures) and "
     "send its next message now; with --after, send every change after SEQ again",
     o_redeliver, cmd_redeliver, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
