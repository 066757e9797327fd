/*
 * cmd_api.c - the integration API's keys on the command line: `api-key add|list|revoke`
 * (contract section 8). A key is printed once, when it is created; the store keeps its
 * digest only.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/api.h"
#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

static int cmd_key_add(struct vn_cli *c, int argc, char **argv)
{
    char key[VN_API_KEY_LEN + 1];
    struct vn_error err = {0};
    enum vn_api_scope scope;
    struct vn_store *st;
    int rc;

    if (!c->name) {
        vn_cli_error("api-key add: --name is required");
        return VN_EXIT_USAGE;
    }
    if (vn_api_scope_parse(c->scope, &scope) != 0) {
        vn_cli_error("api-key add: --scope is required (read or manage)");
        return VN_EXIT_USAGE;
    }
    st = vn_cli_open_store(c, VN_CLI_DB_CREATE);
    if (!st)
        return VN_EXIT_FAIL;
    rc = vn_api_key_create(st, c->name, scope, key, &err);
    vn_store_free(st);
    if (rc) {
        vn_cli_error("%s", err.msg);
        return rc == VN_EPARSE ? VN_EXIT_USAGE : VN_EXIT_FAIL;
    }
    /* The key on stdout alone (scripts capture it); the words on stderr. */
    printf("%s\n", key);
    fflush(stdout);
    vn_wipe(key, sizeof(key));
    fprintf(stderr,
            "API key '%s' (scope %s) created. It is shown only now: keep it in a secret "
            "store; send it as 'Authorization: Bearer <key>'.\n",
            c->name, vn_api_scope_name(scope));
    return VN_EXIT_OK;
}

static int cmd_key_list(struct vn_cli *c, int argc, char **argv)
{
    struct vn_filter f = {.limit = c->limit};
    struct vn_output *out;
    struct vn_store *st;
    int rc;

    st = vn_cli_open_store(c, VN_CLI_DB_READ);
    if (!st)
        return VN_EXIT_FAIL;
    out = vn_output_new(c->json, stdout);
    if (!out) {
        vn_store_free(st);
        vn_cli_error("out of memory");
        return VN_EXIT_FAIL;
    }
    vn_output_columns(out, c->wide, NULL); /* every column; --wide: none shortened */
    rc = vn_store_query(st, VN_Q_API_KEYS, &f, vn_output_row, out);
    if (rc < 0)
        vn_cli_error("api-key list: %s",
                     vn_store_last_error(st)[0] ? vn_store_last_error(st) : vn_strerror(rc));
    if (vn_output_finish(out) != 0 && rc == 0) {
        vn_cli_error("cannot write the output");
        rc = -1;
    }
    vn_store_free(st);
    return rc < 0 ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static int cmd_key_revoke(struct vn_cli *c, int argc, char **argv)
{
    struct vn_store *st;
    int rc;

    if (!c->name) {
        vn_cli_error("api-key revoke: --name is required");
        return VN_EXIT_USAGE;
    }
    st = vn_cli_open_store(c, VN_CLI_DB_WRITE);
    if (!st)
        return VN_EXIT_FAIL;
    rc = vn_store_api_key_revoke(st, c->name, vn_now_ms());
    if (rc)
        vn_cli_error("api-key revoke: %s", vn_store_last_error(st));
    else
        fprintf(stderr, "API key '%s' revoked; serve refuses it within --auth-refresh\n", c->name);
    vn_store_free(st);
    return rc ? VN_EXIT_FAIL : VN_EXIT_OK;
}

static const char *const o_add[] = {"help", "config", "db", "name", "scope", NULL};
static const char *const o_list[] = {"help", "config", "db", "json", "wide", "limit", NULL};
static const char *const o_revoke[] = {"help", "config", "db", "name", NULL};

const struct vn_command vn_cmd_api[] = {
    {"api-key add", "vppnotify api-key add --name NAME --scope read|manage [--db PATH]",
     "create a key for the integration API (serve --api-listen) and print it once; only its "
     "digest is stored",
     o_add, cmd_key_add, 0},
    {"api-key list", "vppnotify api-key list [--db PATH] [--json | --wide]",
     "the API keys: name, scope, the first characters of the key, when created and revoked", o_list,
     cmd_key_list, 0},
    {"api-key revoke", "vppnotify api-key revoke --name NAME [--db PATH]",
     "revoke an API key: serve refuses it from then on (within --auth-refresh)", o_revoke,
     cmd_key_revoke, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
