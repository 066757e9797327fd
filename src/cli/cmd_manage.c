/*
 * cmd_manage.c - Apple's asynchronous requests from the command line:
 * assets associate | disassociate | revoke, users create | update | retire,
 * subscriptions associate | disassociate.
 *
 * Ids come from flags (repeatable, comma-separated) and/or files (one per line; blank lines and
 * '#' comments skipped), so 10,000 serial numbers are as easy as one. The library splits them
 * at Apple's limits; each request sent prints its eventId on stdout (one per line, or a JSON
 * array with --json) and is tracked by serve. Reading the flags and files is this file's; the
 * planning, sending and tracking is the request workflow's (workflow_request.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/apple.h"
#include "vppnotify/error.h"
#include "vppnotify/manage.h"
#include "vppnotify/util.h"
#include "vppnotify/workflow_request.h"

#define LINE_MAX_LEN 4096

/* A growing list of owned strings. */
struct strv {
    char **v;
    size_t n, cap;
};

static int strv_add(struct strv *s, const char *p, size_t n)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strndup(p, n);
    if (!s->v[s->n])
        return -ENOMEM;
    s->n++;
    return 0;
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Flags first, then the file's lines. 0, or -1 with the error printed. */
static int gather(const struct vn_strlist *flags, const char *file, const char *option,
                  struct strv *out)
{
    char line[LINE_MAX_LEN];
    FILE *f;
    int lineno = 0, rc = 0;

    for (size_t i = 0; i < flags->n; i++)
        if (strv_add(out, flags->v[i], strlen(flags->v[i])) != 0)
            return -1;
    if (!file)
        return 0;
    f = fopen(file, "re");
    if (!f) {
        vn_cli_error("--%s '%s': %s", option, file, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *s = line, *e;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            vn_cli_error("--%s '%s' line %d: longer than %d bytes", option, file, lineno,
                         LINE_MAX_LEN - 1);
            rc = -1;
            break;
        }
        while (*s == ' ' || *s == '\t')
            s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (!*s || *s == '#')
            continue;
        if (strv_add(out, s, (size_t)(e - s)) != 0) {
            rc = -1;
            break;
        }
    }
    if (ferror(f)) {
        vn_cli_error("--%s '%s': cannot read it", option, file);
        rc = -1;
    }
    fclose(f);
    return rc;
}

/* users-file lines: clientUserId[,email[,managedAppleId]] (commas or tabs). */
static int parse_people(struct strv *lines, struct vn_manage_user **people)
{
    struct vn_manage_user *p = calloc(lines->n ? lines->n : 1, sizeof(*p));

    if (!p)
        return -1;
    for (size_t i = 0; i < lines->n; i++) {
        char *f[3] = {lines->v[i], NULL, NULL}, *sep;
        for (int k = 0; k < 2 && f[k] && (sep = strpbrk(f[k], ",\t")); k++) {
            *sep = '\0';
            f[k + 1] = sep + 1;
        }
        p[i].client_user_id = f[0];
        p[i].email = f[1] && *f[1] ? f[1] : NULL;
        p[i].managed_apple_id = f[2] && *f[2] ? f[2] : NULL;
        if (!*f[0]) {
            vn_cli_error("--users-file: line %zu has no clientUserId", i + 1);
            free(p);
            return -1;
        }
    }
    *people = p;
    return 0;
}

struct sent {
    int json;
    const char *uid;
    const char *kind, *type;
    size_t n;
};

static void on_planned(void *ud, size_t n, const struct vn_apple_limits *l)
{
    (void)ud;
    if (n > 1)
        fprintf(stderr,
                "%zu requests (Apple's limits: %lld assets, %lld serial numbers, %lld "
                "users per request)\n",
                n, l->max_assets, l->max_serial_numbers, l->max_client_user_ids);
}

static void on_sent(void *ud, const char *event_id, const struct vn_manage_request *r)
{
    struct sent *s = ud;

    if (s->json) {
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:I}", "eventId", event_id, "uId", s->uid, "kind",
                      s->kind, "type", s->type, "expectedItems", (json_int_t)r->expected);
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        printf("%s%s", s->n ? ",\n" : "[\n", text ? text : "{}");
        free(text);
        json_decref(o);
    } else
        printf("%s\n", event_id);
    fflush(stdout);
    s->n++;
}

static int run_manage(struct vn_cli *c, enum vn_manage_op op)
{
    struct strv assets = {0}, serials = {0}, users = {0}, adams = {0}, lines = {0};
    struct vn_manage_asset *av = NULL;
    struct vn_manage_user *people = NULL;
    struct vn_manage m = {.op = op, .renewing = c->renewing, .deferred = c->deferred};
    struct vn_request_result r = {0};
    struct vn_error err = {0};
    struct vn_cli_wf x = {0};
    struct sent sent = {
        .json = c->json, .uid = c->uid, .kind = vn_manage_kind(op), .type = vn_manage_type(op)};
    struct vn_request_progress p = {.planned = on_planned, .sent = on_sent, .ud = &sent};
    int rc = VN_EXIT_USAGE;

    if (gather(&c->assets, c->assets_file, "assets-file", &assets) ||
        gather(&c->serials, c->serials_file, "serials-file", &serials) ||
        gather(&c->client_user_ids, c->client_user_ids_file, "client-user-ids-file", &users) ||
        gather(&c->adam_ids, c->adam_ids_file, "adam-ids-file", &adams))
        goto out;
    if (assets.n && !(av = calloc(assets.n, sizeof(*av))))
        goto out;
    for (size_t i = 0; i < assets.n; i++) {
        if (vn_manage_asset_parse(assets.v[i], &av[i], &err) != 0) {
            vn_cli_error("%s", err.msg);
            goto out;
        }
    }
    if (!strcmp(vn_manage_kind(op), "users")) {
        /* --client-user-ids are users without email; --users-file may add details. */
        for (size_t i = 0; i < users.n; i++)
            if (strv_add(&lines, users.v[i], strlen(users.v[i])) != 0)
                goto out;
        if (gather(&(struct vn_strlist){0}, c->users_file, "users-file", &lines) ||
            parse_people(&lines, &people))
            goto out;
        m.people = people;
        m.npeople = lines.n;
    } else {
        m.client_user_ids = (const char *const *)users.v;
        m.nusers = users.n;
    }
    m.assets = av;
    m.nassets = assets.n;
    m.serials = (const char *const *)serials.v;
    m.nserials = serials.n;
    m.adam_ids = (const char *const *)adams.v;
    m.nadams = adams.n;

    if (vn_cli_check_uid(c->uid))
        goto out;
    if ((rc = vn_cli_wf_open(c, VN_CLI_DB_WRITE, VN_CLI_WF_APPLE, &x)) != 0)
        goto out;
    rc = vn_workflow_request(&x.wf, c->uid, &m, &p, &r, &err);
    if (c->json && r.planned)
        printf("%s]\n", sent.n ? "\n" : "[");
    if (rc && r.planned) {
        vn_cli_error("%s; %zu of %zu requests were sent (their eventIds are above)", err.msg,
                     r.sent, r.planned);
    } else if (rc) {
        vn_cli_error("%s", err.msg);
    } else {
        fprintf(stderr, "%zu event%s tracked; 'vppnotify events --uid %s' shows them\n", r.sent,
                r.sent == 1 ? "" : "s", c->uid);
    }
    rc = vn_cli_wf_exit(rc);
out:
    vn_request_result_release(&r);
    vn_cli_wf_close(&x);
    free(av);
    free(people);
    strv_free(&assets);
    strv_free(&serials);
    strv_free(&users);
    strv_free(&adams);
    strv_free(&lines);
    return rc;
}

#define MANAGE_CMD(fn, op)                                                                         \
    static int fn(struct vn_cli *c, int argc, char **argv)                                         \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        return run_manage(c, op);                                                                  \
    }

MANAGE_CMD(cmd_assoc, VN_MO_ASSETS_ASSOCIATE)
MANAGE_CMD(cmd_disassoc, VN_MO_ASSETS_DISASSOCIATE)
MANAGE_CMD(cmd_revoke, VN_MO_ASSETS_REVOKE)
MANAGE_CMD(cmd_ucreate, VN_MO_USERS_CREATE)
MANAGE_CMD(cmd_uupdate, VN_MO_USERS_UPDATE)
MANAGE_CMD(cmd_uretire, VN_MO_USERS_RETIRE)
MANAGE_CMD(cmd_sassoc, VN_MO_SUBS_ASSOCIATE)
MANAGE_CMD(cmd_sdisassoc, VN_MO_SUBS_DISASSOCIATE)

#define COMMON "help", "config", "db", "log-level", "log-format", "json", "uid", VN_CLI_APPLE_OPTS

static const char *const o_assets[] = {
    COMMON,         "assets",          "assets-file",          "serials",
    "serials-file", "client-user-ids", "client-user-ids-file", NULL};
static const char *const o_revoke[] = {
    COMMON, "serials", "serials-file", "client-user-ids", "client-user-ids-file", NULL};
static const char *const o_users[] = {COMMON, "client-user-ids", "client-user-ids-file",
                                      "users-file", NULL};
static const char *const o_sassoc[] = {
    COMMON,     "adam-ids", "adam-ids-file", "client-user-ids", "client-user-ids-file",
    "renewing", NULL};
static const char *const o_sdisassoc[] = {
    COMMON,     "adam-ids", "adam-ids-file", "client-user-ids", "client-user-ids-file",
    "deferred", NULL};

const struct vn_command vn_cmd_manage[] = {
    {"assets associate",
     "vppnotify assets associate --uid UID --assets ADAMID[,...] (--serials S[,...] | "
     "--client-user-ids ID[,...] | --serials-file F | --client-user-ids-file F)",
     "assign licenses of products to devices or users; prints one eventId per request", o_assets,
     cmd_assoc, 0},
    {"assets disassociate",
     "vppnotify assets disassociate --uid UID --assets ADAMID[,...] (--serials ... | "
     "--client-user-ids ...)",
     "take licenses of products back from devices or users; prints one eventId per request",
     o_assets, cmd_disassoc, 0},
    {"assets revoke", "vppnotify assets revoke --uid UID (--serials ... | --client-user-ids ...)",
     "take every revocable license back from devices or users; prints one eventId per request",
     o_revoke, cmd_revoke, 0},
    {"users create",
     "vppnotify users create --uid UID (--client-user-ids ID[,...] | --users-file F)",
     "register users (users-file lines: clientUserId[,email[,managedAppleId]]); prints one "
     "eventId per request",
     o_users, cmd_ucreate, 0},
    {"users update",
     "vppnotify users update --uid UID (--client-user-ids ID[,...] | --users-file F)",
     "change users' email or managedAppleId; prints one eventId per request", o_users, cmd_uupdate,
     0},
    {"users retire",
     "vppnotify users retire --uid UID (--client-user-ids ID[,...] | --users-file F)",
     "retire users (their licenses go back); prints one eventId per request", o_users, cmd_uretire,
     0},
    {"subscriptions associate",
     "vppnotify subscriptions associate --uid UID --adam-ids ID[,...] --client-user-ids "
     "ID[,...] [--renewing]",
     "give users seats of subscriptions; prints one eventId per request", o_sassoc, cmd_sassoc, 0},
    {"subscriptions disassociate",
     "vppnotify subscriptions disassociate --uid UID --adam-ids ID[,...] --client-user-ids "
     "ID[,...] [--deferred]",
     "take seats back, now or (--deferred) at the end of the billing period; prints one eventId "
     "per request",
     o_sdisassoc, cmd_sdisassoc, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
