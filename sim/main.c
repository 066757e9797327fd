/*
 * main.c - vppsim's entry point: the option table (every option, --help and
 * `vppsim help --markdown` come from it), start-up and shutdown on SIGTERM/SIGINT.
 */
#include "sim.h"

#include "vppnotify/net.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/opts.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPT(name, type, def, min, max, choices, env, metavar, help, field)                         \
    {                                                                                              \
        name, type, def, min, max, choices, env, metavar, help, offsetof(struct sim_config, field) \
    }
#define HOUR_MS (3600LL * 1000)

static const struct vn_opt options[] = {
    OPT("listen", VN_OPT_STRING, "127.0.0.1:8081", 0, 0, NULL, "VPPSIM_LISTEN", "HOST:PORT",
        "address to listen on (port 0 picks a free port)", listen),
    OPT("ready-file", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "FILE",
        "write the bound host:port to FILE once listening", ready_file),
    OPT("time-scale", VN_OPT_STRING, "1", 0, 0, NULL, "VPPSIM_TIME_SCALE", "X",
        "multiply every delay (event processing, retries, fault delays) by X, e.g. 0.01",
        time_scale_text),
    OPT("page-size", VN_OPT_INT, "500", 1, 100000, NULL, NULL, "N",
        "records per page of every paginated endpoint", page_size),
    OPT("state", VN_OPT_STRING, ":memory:", 0, 0, NULL, "VPPSIM_STATE", "FILE",
        "SQLite file that keeps the state across restarts (:memory: keeps nothing)", state),
    OPT("seed", VN_OPT_INT, "0", 0, 4611686018427387903LL, NULL, NULL, "N",
        "make ids and fault decisions deterministic (0: random)", seed),
    OPT("limit", VN_OPT_LIST, NULL, 0, 0, NULL, NULL, "NAME=N",
        "override a Service Config limit, e.g. maxRequestPerSecond=1000 (repeatable)", limit),
    OPT("max-body", VN_OPT_SIZE, "1M", 1024, 1LL << 30, NULL, NULL, "SIZE",
        "largest request body on /mdm/v2 (413 beyond)", max_body),
    OPT("max-control-body", VN_OPT_SIZE, "64M", 1024, 1LL << 31, NULL, NULL, "SIZE",
        "largest request body on /_sim/ (seeding)", max_control_body),
    OPT("connect-timeout", VN_OPT_DURATION, "5s", 10, HOUR_MS, NULL, NULL, "DURATION",
        "connect timeout of a notification delivery (not scaled)", connect_timeout_ms),
    OPT("delivery-timeout", VN_OPT_DURATION, "10s", 10, HOUR_MS, NULL, NULL, "DURATION",
        "total timeout of one delivery attempt (not scaled)", delivery_timeout_ms),
    OPT("delivery-workers", VN_OPT_INT, "4", 1, 64, NULL, NULL, "N",
        "notifications delivered concurrently", delivery_workers),
    OPT("ca-file", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "FILE",
        "PEM CA bundle trusted for https:// receivers (e.g. a test CA)", ca_file),
    OPT("event-delay", VN_OPT_DURATION, "2s", 0, HOUR_MS, NULL, NULL, "DURATION",
        "time an async event stays PENDING before it is processed (scaled)", event_delay_ms),
    OPT("event-batch", VN_OPT_INT, "1000", 1, 1000000, NULL, NULL, "N",
        "tasks of an async event processed per step (notifications per step)", event_batch),
    OPT("event-step", VN_OPT_DURATION, "1s", 0, HOUR_MS, NULL, NULL, "DURATION",
        "time between two steps of one event (scaled)", event_step_ms),
    OPT("token-expiration-field", VN_OPT_CHOICE, "always", 0, 0, "always|within-15-days", NULL,
        "WHEN", "when responses carry tokenExpirationDate", token_expiration_field),
    OPT("fault-duplicate", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "P",
        "probability that a delivered notification is delivered again", fault_duplicate),
    OPT("fault-drop", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "P",
        "probability that a notification is lost (never attempted)", fault_drop),
    OPT("fault-reorder", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "P",
        "probability that the notifications of one batch are delivered shuffled", fault_reorder),
    OPT("fault-delay", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "P",
        "probability that a notification's first attempt is delayed by --fault-delay-by",
        fault_delay),
    OPT("fault-delay-by", VN_OPT_DURATION, "30s", 0, 24 * HOUR_MS, NULL, NULL, "DURATION",
        "extra delay of a delayed notification (scaled)", fault_delay_by_ms),
    OPT("fault-429", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "answer the next N API requests 429/9646 with Retry-After", fault_429),
    OPT("fault-503", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "answer the next N API requests 503/9729 with Retry-After", fault_503),
    OPT("fault-error-body", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "answer the next N API requests HTTP 200 with an error body (9603)", fault_error_body),
    OPT("fault-retry-after", VN_OPT_INT, "1", 0, 86400, NULL, NULL, "SECONDS",
        "Retry-After of forced 429/503 answers", fault_retry_after),
    OPT("fault-path", VN_OPT_STRING, NULL, 0, 0, NULL, NULL, "PATH",
        "limit the forced API faults to one path, e.g. /mdm/v2/assets", fault_path),
    OPT("fault-version-change", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "the next N next-page requests see changed data and a new versionId", fault_version_change),
    OPT("log-level", VN_OPT_CHOICE, "info", 0, 0, "error|warn|info|debug", "VPPSIM_LOG_LEVEL",
        "LEVEL", "log verbosity", log_level),
    OPT("log-format", VN_OPT_CHOICE, "text", 0, 0, "text|json", NULL, "FORMAT", "log line format",
        log_format),
    OPT("config", VN_OPT_STRING, NULL, 0, 0, NULL, "VPPSIM_CONFIG", "FILE",
        "read options from FILE (name = value lines)", config),
    OPT("markdown", VN_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL,
        "help: print the options as a Markdown table", markdown),
    OPT("help", VN_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL, "show this help", help),
};

static const struct vn_opt_table table = {options, sizeof(options) / sizeof(options[0])};

static const char *const serve_opts[] = {
    "listen",
    "ready-file",
    "time-scale",
    "page-size",
    "state",
    "seed",
    "limit",
    "max-body",
    "max-control-body",
    "connect-timeout",
    "delivery-timeout",
    "delivery-workers",
    "ca-file",
    "event-delay",
    "event-batch",
    "event-step",
    "token-expiration-field",
    "fault-duplicate",
    "fault-drop",
    "fault-reorder",
    "fault-delay",
    "fault-delay-by",
    "fault-429",
    "fault-503",
    "fault-error-body",
    "fault-retry-after",
    "fault-path",
    "fault-version-change",
    "log-level",
    "log-format",
    "config",
    "help",
    NULL,
};
static const char *const help_opts[] = {"markdown", "help", NULL};

static const char summary[] =
    "vppsim: a local emulator of Apple's Apps and Books (VPP) v2 service, with its\n"
    "notifications, retries, duplicates and losses. Apple's API under /mdm/v2/, the control\n"
    "API under /_sim/. See docs/VPPSIM.md.\n\n"
    "commands:\n"
    "  serve         run the emulator\n"
    "  help          this text (--markdown: the options as a Markdown table)\n"
    "  version       print the version";

static int apply_config(struct sim *s, struct vn_error *err)
{
    struct sim_config *c = s->cfg;
    char *end;
    enum vn_log_level lvl;

    errno = 0;
    s->time_scale = strtod(c->time_scale_text, &end);
    if (errno || *end || !isfinite(s->time_scale) || s->time_scale < 0 || s->time_scale > 1000)
        return vn_error_set(err, VN_EUSAGE,
                            "option '--time-scale' value '%s': expected a number from 0 to 1000",
                            c->time_scale_text);
    sim_limits_defaults(s);
    for (size_t i = 0; i < c->limit.n; i++) {
        char name[64];
        const char *eq = strchr(c->limit.v[i], '=');
        long long v;
        if (!eq || (size_t)(eq - c->limit.v[i]) >= sizeof(name) ||
            vn_parse_ll(eq + 1, 0, 2147483647LL, &v) != 0)
            return vn_error_set(err, VN_EUSAGE, "option '--limit' value '%s': expected NAME=N",
                                c->limit.v[i]);
        memcpy(name, c->limit.v[i], (size_t)(eq - c->limit.v[i]));
        name[eq - c->limit.v[i]] = '\0';
        if (sim_limit_set(s, name, v) != 0)
            return vn_error_set(err, VN_EUSAGE,
                                "option '--limit': unknown limit '%s' (see GET"
                                " /mdm/v2/service/config)",
                                name);
    }
    vn_log_level_parse(c->log_level, &lvl);
    vn_log_setup(lvl, strcmp(c->log_format, "json") ? VN_LOG_TEXT : VN_LOG_JSON, 2);
    return sim_faults_from_config(s, err);
}

static int serve(struct sim_config *cfg)
{
    struct sim s;
    struct vn_error err = {0};
    sigset_t set;
    int sig = 0, rc = 1;

    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    if (apply_config(&s, &err) != 0) {
        fprintf(stderr, "vppsim: %s\n", err.msg);
        return 2;
    }
    /* Signals are taken by sigwait in this thread only; every thread inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (vn_secret_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "vppsim: cannot initialise libsodium or libcurl\n");
        return 1;
    }
    sim_rng_init(&s, cfg->seed);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.work_cv, NULL);
    pthread_cond_init(&s.deliver_cv, NULL);
    pthread_cond_init(&s.settle_cv, NULL);
    if (sim_db_open(&s, cfg->state, &err) != 0) {
        fprintf(stderr, "vppsim: %s\n", err.msg);
        goto out_curl;
    }
    if (sim_events_start(&s) != 0 || sim_notify_start(&s) != 0) {
        fprintf(stderr, "vppsim: cannot start worker threads\n");
        goto out_threads;
    }
    if (sim_server_start(&s, &err) != 0) {
        fprintf(stderr, "vppsim: %s\n", err.msg);
        goto out_threads;
    }
    vn_log_fields(VN_LOG_INFO, "vppsim listening",
                  (struct vn_log_field[]){VN_LF_S("address", s.bound), VN_LF_S("state", cfg->state),
                                          VN_LF_S("timeScale", cfg->time_scale_text)},
                  3);
    if (strncmp(s.bound, "127.", 4) != 0 && strncmp(s.bound, "[::1]", 5) != 0)
        vn_log_warn("listening on %s, not loopback: the /_sim/ control API has no"
                    " authentication",
                    s.bound);
    if (cfg->ready_file && vn_ready_file_write(cfg->ready_file, s.bound) != 0) {
        fprintf(stderr, "vppsim: cannot write ready file '%s': %s\n", cfg->ready_file,
                strerror(errno));
        sim_server_stop(&s);
        goto out_threads;
    }
    sigwait(&set, &sig);
    vn_log_info("signal %d: stopping", sig);
    pthread_mutex_lock(&s.mu);
    __atomic_store_n(&s.stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s.settle_cv);
    pthread_mutex_unlock(&s.mu);
    sim_server_stop(&s);
    rc = 0;
out_threads:
    pthread_mutex_lock(&s.mu);
    __atomic_store_n(&s.stopping, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s.mu);
    sim_events_stop(&s);
    sim_notify_stop(&s);
    sim_db_close(&s);
out_curl:
    curl_global_cleanup();
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.work_cv);
    pthread_cond_destroy(&s.deliver_cv);
    pthread_cond_destroy(&s.settle_cv);
    return rc;
}

int main(int argc, char **argv)
{
    struct sim_config cfg;
    struct vn_error err = {0};
    const char *cmd = argc > 1 ? argv[1] : "help";
    int first = 0, rc;

    memset(&cfg, 0, sizeof(cfg));
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("vppsim %s\n", VN_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
        cmd = "help";
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "help") != 0) {
        fprintf(stderr, "vppsim: unknown command '%s' (try: vppsim help)\n", cmd);
        return 2;
    }
    rc = vn_opts_parse(&table, !strcmp(cmd, "serve") ? serve_opts : help_opts, &cfg, argc - 1,
                       argv + 1, &first, &err);
    if (rc != 0) {
        fprintf(stderr, "vppsim: %s\n", err.msg);
        vn_opts_release(&table, &cfg);
        return 2;
    }
    if (first < argc - 1) {
        fprintf(stderr, "vppsim: unexpected argument '%s'\n", argv[1 + first]);
        vn_opts_release(&table, &cfg);
        return 2;
    }
    if (!strcmp(cmd, "help") || cfg.help) {
        if (cfg.markdown)
            vn_opts_markdown(stdout, &table, serve_opts);
        else
            vn_opts_help(stdout, &table, serve_opts, "vppsim serve [options]", summary);
        vn_opts_release(&table, &cfg);
        return 0;
    }
    rc = serve(&cfg);
    vn_opts_release(&table, &cfg);
    return rc;
}
