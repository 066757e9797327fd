/*
 * main.c - vppsim's entry point: the option table (every option, --help and
 * `vppsim help --markdown` come from it), start-up in dependency order, and shutdown on
 * SIGTERM/SIGINT: the delivery workers stop first (a delivery cut short is due again at the
 * next start), then the engine answers what is still waiting, then the HTTP server closes.
 */
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "delivery.h"
#include "engine.h"
#include "faults.h"
#include "limits.h"
#include "outbox.h"
#include "reqlog.h"
#include "rng.h"
#include "server.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/net.h"
#include "vppnotify/opts.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE_QUEUE_MAX 4096 /* requests waiting for the engine; beyond: 503 */

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
        "seed of every random choice, printed at start (0: draw one)", seed),
    OPT("limit", VN_OPT_LIST, NULL, 0, 0, NULL, NULL, "NAME=N",
        "override a Service Config limit, e.g. maxRequestPerSecond=1000 (repeatable)", limit),
    OPT("max-body", VN_OPT_SIZE, "1M", 1024, 1LL << 30, NULL, NULL, "SIZE",
        "largest request body on /mdm/v2 (413 beyond)", max_body),
    OPT("max-control-body", VN_OPT_SIZE, "64M", 1024, 1LL << 31, NULL, NULL, "SIZE",
        "largest request body on /_sim/ (seeding)", max_control_body),
    OPT("http-threads", VN_OPT_INT, "4", 1, 64, NULL, NULL, "N",
        "threads that read and answer HTTP requests (they never wait for the state)", http_threads),
    OPT("request-log", VN_OPT_INT, "100000", 1, 10000000, NULL, NULL, "N",
        "/mdm/v2 requests kept in the request log (GET /_sim/request-log)", request_log),
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
    OPT("fault-latency", VN_OPT_DURATION, "0", 0, 60000, NULL, NULL, "DURATION",
        "hold every /mdm/v2 answer this long before sending it (not scaled)", fault_latency_ms),
    OPT("fault-429", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "answer the next N API requests 429/9646 with Retry-After", fault_429),
    OPT("fault-503", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "answer the next N API requests 503/9729 with Retry-After", fault_503),
    OPT("fault-500", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "answer the next N API requests 500/9603 with Retry-After", fault_500),
    OPT("fault-error-body", VN_OPT_INT, "0", 0, 1000000, NULL, NULL, "N",
        "answer the next N API requests HTTP 200 with an error body (9603)", fault_error_body),
    OPT("fault-retry-after", VN_OPT_INT, "1", 0, 86400, NULL, NULL, "SECONDS",
        "Retry-After of forced 429/503/500 answers", fault_retry_after),
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
    "http-threads",
    "request-log",
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
    "fault-latency",
    "fault-429",
    "fault-503",
    "fault-500",
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

/* What vppsim runs with; built in order by start(), taken down in reverse by stop(). */
struct vppsim {
    struct sim_config *cfg;
    struct sim_ctx ctx;
    struct sim_rng rng;
    struct sim_limits limits;
    int rng_ready, limits_ready;
    struct sim_engine *engine;
    struct sim_delivery *delivery;
    struct sim_server *server;
    int delivery_started;
};

static int parse_scale(struct sim_config *c, double *scale, struct vn_error *err)
{
    char *end;

    errno = 0;
    *scale = strtod(c->time_scale_text, &end);
    if (errno || *end || !isfinite(*scale) || *scale < 0 || *scale > 1000)
        return vn_error_set(err, VN_EUSAGE,
                            "option '--time-scale' value '%s': expected a number from 0 to 1000",
                            c->time_scale_text);
    return 0;
}

static int start(struct vppsim *v, struct vn_error *err)
{
    struct sim_config *c = v->cfg;
    struct sim_ctx *x = &v->ctx;
    enum vn_log_level lvl;
    int rc;

    x->cfg = c;
    if ((rc = parse_scale(c, &x->time_scale, err)))
        return rc;
    sim_limits_init(&v->limits);
    v->limits_ready = 1;
    x->limits = &v->limits;
    for (size_t i = 0; i < c->limit.n; i++)
        if ((rc = sim_limit_parse(&v->limits, c->limit.v[i], err)))
            return rc;
    vn_log_level_parse(c->log_level, &lvl);
    vn_log_setup(lvl, strcmp(c->log_format, "json") ? VN_LOG_TEXT : VN_LOG_JSON, 2);
    if ((rc = sim_db_open(c->state, &x->db, err)))
        return rc;
    /* The stream of ids is keyed by the run, so that ids never repeat after a restart. */
    sim_rng_init(&v->rng, (uint64_t)c->seed, (uint64_t)sim_db_run(x->db));
    v->rng_ready = 1;
    x->rng = &v->rng;
    if ((rc = sim_faults_new(c, x->rng, &x->faults, err)))
        return rc;
    if (sim_reqlog_new((size_t)c->request_log, &x->reqlog) || sim_batch_new(&x->batch) ||
        sim_engine_new(x, ENGINE_QUEUE_MAX, &x->engine))
        return vn_error_set(err, -ENOMEM, "out of memory");
    v->engine = x->engine;
    if (sim_delivery_new(c, sim_engine_post_done, v->engine, &v->delivery))
        return vn_error_set(err, -ENOMEM, "out of memory");
    if ((rc = sim_server_start(c, v->engine, x->reqlog, &v->server, x->bound, sizeof(x->bound),
                               err)))
        return rc;
    /* Requests may wait in the engine's queue until here; the threads see a complete ctx. */
    if (sim_delivery_start(v->delivery) != 0 || sim_engine_start(v->engine, v->delivery) != 0)
        return vn_error_set(err, VN_ESTORE, "cannot start vppsim's threads");
    v->delivery_started = 1;
    return 0;
}

static void stop(struct vppsim *v)
{
    struct sim_ctx *x = &v->ctx;

    if (v->delivery)
        sim_delivery_stop(v->delivery);
    if (v->engine)
        sim_engine_stop(v->engine);
    sim_server_stop(v->server);
    sim_engine_free(v->engine);
    sim_delivery_free(v->delivery);
    sim_batch_free(x->batch);
    sim_reqlog_free(x->reqlog);
    sim_faults_free(x->faults);
    sim_db_close(x->db);
    if (v->rng_ready)
        sim_rng_release(&v->rng);
    if (v->limits_ready)
        sim_limits_release(&v->limits);
}

static int serve(struct sim_config *cfg)
{
    struct vppsim v;
    struct vn_error err = {0};
    sigset_t set;
    char seed[32];
    int sig = 0, rc = 1;

    memset(&v, 0, sizeof(v));
    v.cfg = cfg;
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
    if (start(&v, &err) != 0) {
        fprintf(stderr, "vppsim: %s\n", err.msg);
        rc = err.code == VN_EUSAGE ? 2 : 1;
        goto out;
    }
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)sim_rng_seed(&v.rng));
    vn_log_fields(
        VN_LOG_INFO, "vppsim listening",
        (struct vn_log_field[]){VN_LF_S("address", v.ctx.bound), VN_LF_S("state", cfg->state),
                                VN_LF_S("timeScale", cfg->time_scale_text), VN_LF_S("seed", seed),
                                VN_LF_I("run", sim_db_run(v.ctx.db))},
        5);
    if (strncmp(v.ctx.bound, "127.", 4) != 0 && strncmp(v.ctx.bound, "[::1]", 5) != 0)
        vn_log_warn("listening on %s, not loopback: the /_sim/ control API has no"
                    " authentication",
                    v.ctx.bound);
    if (cfg->ready_file && vn_ready_file_write(cfg->ready_file, v.ctx.bound) != 0) {
        fprintf(stderr, "vppsim: cannot write ready file '%s': %s\n", cfg->ready_file,
                strerror(errno));
        goto out;
    }
    sigwait(&set, &sig);
    vn_log_info("signal %d: stopping", sig);
    rc = 0;
out:
    stop(&v);
    curl_global_cleanup();
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
