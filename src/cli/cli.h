/*
 * cli.h - vppnotify's command line: the option table, the commands, shared output helpers.
 *
 * Every option of every command is one row of the table in options.c; a command lists the
 * names it accepts. main.c dispatches; each cmd_*.c file implements a group of commands and
 * is a thin client of the library.
 */
#ifndef VPPNOTIFY_CLI_H
#define VPPNOTIFY_CLI_H

#include <stdio.h>

#include "vppnotify/opts.h"
#include "vppnotify/store.h"
#include "vppnotify/workflow.h"

/* Exit codes (contract section 4). */
#define VN_EXIT_OK    0
#define VN_EXIT_FAIL  1
#define VN_EXIT_USAGE 2

/* The options of talking to Apple, in every command that does (and serve): list them in a
 * command's option names (struct vn_command.opts). */
#define VN_CLI_APPLE_OPTS                                                                          \
    "apple-url", "apple-timeout", "apple-attempts", "apple-backoff", "apple-retry-max",            \
        "apple-lock-wait", "apple-config-refresh", "key-file"

/* Room for every row of the option table (options.c checks it at compile time). */
#define VN_CLI_OPTS_MAX 160

struct vn_cli {
    /* the command's own arguments (argv[0] is the command), for a reload to parse again */
    int argc;
    char **argv;
    /* common */
    int help;
    char *config;
    char *db;
    int json;
    int wide;
    char *log_level;
    char *log_format;
    /* filters */
    char *uid;
    char *adam_id;
    char *client_user_id;
    char *serial;
    char *event_id;
    char *state;
    char *type;
    long long limit;
    /* locations */
    char *name;
    char *token_file;
    long long grace_ms;
    /* serve */
    char *listen;
    char *path;
    char *tls_cert;
    char *tls_key;
    char *tls_priorities;
    struct vn_strlist trusted_proxy;
    long long max_body;
    long long max_header;
    long long max_connections;
    long long max_per_ip;
    long long idle_timeout_ms;
    long long header_timeout_ms;
    long long read_timeout_ms;
    long long threads;
    char *event_loop;
    long long max_depth;
    long long retry_after_ms;
    long long queue_max;
    long long batch_max;
    long long db_busy_timeout_ms;
    long long max_db_size;
    long long auth_refresh_ms;
    long long shutdown_timeout_ms;
    long long quarantine_max;
    long long rejections_max;
    long long rejections_max_age_ms;
    char *since;
    char *ready_file;
    /* talking to Apple */
    char *apple_url;
    long long apple_timeout_ms;
    long long apple_attempts;
    long long apple_backoff_ms;
    long long apple_retry_max_ms;
    long long apple_lock_wait_ms;
    long long apple_config_refresh_ms;
    char *key_file;
    char *copy_from; /* store copy --from */
    char *stoken_file;
    char *public_url;
    int take_over;
    /* async requests */
    struct vn_strlist assets;
    char *assets_file;
    struct vn_strlist serials;
    char *serials_file;
    struct vn_strlist client_user_ids;
    char *client_user_ids_file;
    char *users_file;
    struct vn_strlist adam_ids;
    char *adam_ids_file;
    int renewing;
    int deferred;
    /* tracking and sync */
    int full;
    long long event_quiet_ms;
    long long event_poll_ms;
    long long event_stall_ms;
    long long event_deferred_poll_ms;
    long long sync_full_ms;
    long long sync_delta_ms;
    long long lease_ttl_ms;
    /* set by serve, not an option: this instance's id (lease.h), sent in the User-Agent */
    char instance[16];
    /* the integration API (cmd_api.c, serve --api-*) */
    char *scope;
    char *api_listen;
    char *api_tls_cert;
    char *api_tls_key;
    long long api_threads;
    long long api_max_connections;
    long long api_max_body;
    long long api_idle_timeout_ms;
    long long changes_retention_ms;
    long long webhook_timeout_ms;
    long long webhook_backoff_ms;
    long long webhook_retry_for_ms;
    char *url;
    char *kinds;
    char *secret_file;
    long long id;
    int failed;
    long long after;
    int follow;
    /* backup, store copy (--to) */
    char *to;
    /* where each option's value came from, indexed like vn_cli_options.opts */
    enum vn_opt_origin origin[VN_CLI_OPTS_MAX];
};

struct vn_command {
    const char *name;        /* "assets", "location add" */
    const char *usage;       /* after "usage: " */
    const char *summary;     /* one or two sentences */
    const char *const *opts; /* accepted option names, NULL-terminated */
    int (*run)(struct vn_cli *c, int argc, char **argv); /* positionals only */
    int positionals; /* how many positional arguments it takes (-1: any) */
};

extern const struct vn_opt_table vn_cli_options;

/* Every command, group by group (each array ends with a NULL name): commands.c. main.c finds
 * the command in it, docgen.c generates the references from it. */
extern const struct vn_command *const *const vn_cli_groups;
extern const size_t vn_cli_ngroups;

/* The commands of each file, for main.c. */
extern const struct vn_command vn_cmd_serve[];
extern const struct vn_command vn_cmd_location[];
extern const struct vn_command vn_cmd_query[];
extern const struct vn_command vn_cmd_replay[];
extern const struct vn_command vn_cmd_apple[];
extern const struct vn_command vn_cmd_manage[];
extern const struct vn_command vn_cmd_sync[];
extern const struct vn_command vn_cmd_api[];
extern const struct vn_command vn_cmd_changes[];
extern const struct vn_command vn_cmd_backup[];
extern const struct vn_command vn_cmd_rejections[];
extern const struct vn_command vn_cmd_store[];
extern const struct vn_command vn_cmd_webhook[];

/* ---- serve (cmd_serve.c, serve_reload.c) -------------------------------------------- */

struct vn_httpd;
struct vn_httpd_options;
struct vn_auth;

/* The HTTP server's options from the command line (strings borrowed from c; serve_reload.c). */
void vn_cli_httpd_options(const struct vn_cli *c, struct vn_httpd_options *ho);

/*
 * SIGHUP: read the configuration again (config file, environment, the same command line; opts:
 * serve's option names, borrowed) and apply what may change while serving: the log level, the
 * limits (vn_httpd_reload) and the TLS certificate and key; a changed option that needs a
 * restart is named in a warning. Never stops serve: an error is logged and the running
 * configuration stays. 0, or -1 when something was refused (logged). The deploy engineer's
 * sd_notify RELOADING=1/READY=1 go around this call.
 */
int vn_cli_serve_reload(const struct vn_cli *running, const char *const *opts, struct vn_httpd *h,
                        struct vn_auth *auth);

/* ---- shared by the commands (common.c) ----------------------------------------------- */

/* Print "vppnotify: <msg>" on stderr (one line, the house style). */
void vn_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --uid is given and 1..VN_ID_MAX characters; else prints why and returns -1. */
int vn_cli_check_uid(const char *uid);

/* How a command opens the store. A command that only reads, or changes what must already be
 * there, never creates an empty database: a missing SQLite file is reported with where it was
 * looked for and why there (--db, VPPNOTIFY_DB, the config file or the default). */
#define VN_CLI_DB_CREATE 0 /* read-write, created when missing (serve, location add) */
#define VN_CLI_DB_READ   1 /* read-only; must exist */
#define VN_CLI_DB_WRITE  2 /* read-write; must exist */

/* Open the store named by --db (or VPPNOTIFY_DB), printing an error on failure. */
struct vn_store *vn_cli_open_store(const struct vn_cli *c, int mode);

/* Where option name's value came from. */
enum vn_opt_origin vn_cli_origin(const struct vn_cli *c, const char *name);

/* serve: hold "<db>.lock" beside an SQLite database (flock, for the life of the process) so
 * that a second serve on the same file refuses to start, naming the first one's pid. No-op
 * for PostgreSQL. 0, or -1 with the error printed. */
int vn_cli_serve_lock(const struct vn_cli *c);

/* `vppnotify help --markdown | --man DIR | --bash-completion | --zsh-completion` (docgen.c):
 * the references generated from the option table. Returns an exit code. */
int vn_cli_docgen(int argc, char **argv);

/*
 * The store options of the command line: --db-busy-timeout and --max-db-size as store URL
 * parameters (docs/STORE.md; the URL's own win). so->params points into params, which must
 * outlive so's use.
 */
void vn_cli_store_options(const struct vn_cli *c, int read_only, struct vn_store_options *so,
                          char *params, size_t len);

/* Set up logging from --log-level / --log-format; VN_EXIT_USAGE on a bad value. */
int vn_cli_setup_log(const struct vn_cli *c);

/* ---- talking to Apple, and the library's workflows (cmd_apple.c) ---------------------- */

struct vn_apple;

/* The Apple client configured by --apple-url and friends, or NULL (error printed). */
struct vn_apple *vn_cli_apple(const struct vn_cli *c);

/* The sealing key file: --key-file, else "<db>.key". 0, or -1 (error printed). */
int vn_cli_key_file(const struct vn_cli *c, char *out, size_t outlen);

/* What a command hands a workflow (workflow.h): the store opened in db_mode, an inline writer
 * on it, and with VN_CLI_WF_APPLE the Apple client and the key file. */
#define VN_CLI_KEY_PATH_MAX 4200
struct vn_cli_wf {
    struct vn_workflow wf;
    char key_path[VN_CLI_KEY_PATH_MAX];
};
#define VN_CLI_WF_APPLE 1 /* the command talks to Apple */

/* 0, or VN_EXIT_FAIL with the error printed. Release with vn_cli_wf_close (also on failure). */
int vn_cli_wf_open(const struct vn_cli *c, int db_mode, int flags, struct vn_cli_wf *x);
void vn_cli_wf_close(struct vn_cli_wf *x);

/* The exit code of a workflow's failure code: VN_EXIT_USAGE for VN_EUSAGE, else VN_EXIT_FAIL. */
int vn_cli_wf_exit(int rc);

/* --token-file (a notification token, 0600) into tok (cap bytes), or "" without the option.
 * 0, or -1 with the error printed. */
int vn_cli_token_file(const struct vn_cli *c, char *tok, size_t cap);

/* location add --stoken-file: the subscribe workflow (workflow_location.h). */
int vn_cli_location_subscribe(struct vn_cli *c);

/* Output of query rows: a table on a terminal-friendly layout, or one JSON array.
 * A table fits VN_OUTPUT_WIDTH columns unless --wide: it shows the command's default columns
 * (vn_output_columns) and shortens the widest cells, marked with '~', if it must; --wide shows
 * every column in full. */
#define VN_OUTPUT_WIDTH 100
struct vn_output;
struct vn_output *vn_output_new(int json, FILE *out);
/* The columns a table shows without --wide, in this order (keys, NULL-terminated, borrowed;
 * must outlive o). Without a call, or with wide, every column in the rows' order. */
void vn_output_columns(struct vn_output *o, int wide, const char *const *keys);
int vn_output_row(void *output, const struct vn_row *row); /* a vn_row_cb */
int vn_output_finish(struct vn_output *o);                 /* prints; frees; 0 or -errno */

#endif
