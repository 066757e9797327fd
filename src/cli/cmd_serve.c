/*
 * cmd_serve.c - `vppnotify serve`: wire the store, the one writer, ingest, the token cache, the
 * Apple threads and the HTTP server together; stop gracefully on SIGTERM/SIGINT, at once on a
 * second one (docs/ARCHITECTURE.md, Shutdown).
 *
 * Teardown has one order on every path, the error paths included: stop accepting, let the
 * requests in flight finish, stop the Apple threads, wait for every ingest job (which resumes
 * its suspended connection), stop the writer, and only then free the HTTP server.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vppnotify/api.h"
#include "vppnotify/apple.h"
#include "vppnotify/auth.h"
#include "vppnotify/dashboard.h"
#include "vppnotify/error.h"
#include "vppnotify/lease.h"
#include "vppnotify/httpd.h"
#include "vppnotify/ingest.h"
#include "vppnotify/log.h"
#include "vppnotify/net.h"
#include "vppnotify/service.h"
#include "vppnotify/util.h"
#include "vppnotify/worker.h"
#include "vppnotify/writer.h"

/* Wait for SIGTERM/SIGINT, or for the store to fail; SIGHUP reloads (serve_reload.c).
 * Returns the signal, or 0 on failure. Each tick also feeds the service manager (sd_notify:
 * watchdog, status). */
static int wait_for_stop(struct vn_ingest *ing, const sigset_t *set, struct vn_service *svc,
                         const struct vn_cli *c, struct vn_httpd *h, struct vn_auth *auth)
{
    int64_t tick_ms = vn_service_tick_ms(svc);
    struct timespec tick = {tick_ms / 1000, (tick_ms % 1000) * 1000000};
    struct vn_ingest_stats s;

    for (;;) {
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGHUP) {
            /* systemctl reload (ExecReload=kill -HUP): RELOADING=1 ... READY=1 around it. */
            vn_service_reloading(svc);
            if (vn_cli_serve_reload(c, vn_cmd_serve[0].opts, h, auth) == 0)
                vn_service_reloaded(svc, "SIGHUP: configuration and TLS certificate reloaded");
            else
                vn_service_reloaded(svc, "SIGHUP: part of the reload was refused (see the log)");
        }
        vn_ingest_stats(ing, &s);
        vn_service_tick(svc, s.batched_jobs, s.queued);
        if (s.store_failed) {
            vn_log_error("the store reported an I/O error (%s); stopping so that a supervisor "
                         "restarts vppnotify on a sane state",
                         s.last_error);
            return 0;
        }
    }
}

/*
 * After the first signal: a second SIGTERM/SIGINT ends the process at once (safe: nothing that
 * is not committed was acknowledged). Every other thread blocks them, so the default action
 * reaches this one.
 */
static void second_signal_exits(const sigset_t *set)
{
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_IGN); /* no reload while stopping, and not the default action (exit) */
    pthread_sigmask(SIG_UNBLOCK, set, NULL);
}

/* The one teardown order (see the top of this file). Every argument may be NULL. */
static void stop_all(struct vn_httpd *h, struct vn_worker *worker, struct vn_ingest *ing,
                     struct vn_writer *w, long long timeout_ms)
{
    int64_t deadline = vn_mono_ns() + timeout_ms * 1000000;
    struct timespec pause = {0, 20 * 1000000};

    if (h) {
        vn_httpd_quiesce(h);
        while (w && vn_httpd_in_flight(h) > 0 && vn_mono_ns() < deadline)
            nanosleep(&pause, NULL);
        if (vn_httpd_in_flight(h) > 0)
            vn_log_warn("%u request(s) still in progress after %lld ms; closing them (nothing "
                        "unanswered was acknowledged)",
                        vn_httpd_in_flight(h), timeout_ms);
    }
    vn_worker_stop(worker);
    if (ing)
        vn_ingest_stop(ing); /* every submitted job done: no connection stays suspended */
    if (w)
        vn_writer_stop(w);
    vn_httpd_free(h);
}

/* --changes-retention, recorded in the store: every process that writes prunes by it. */
static int set_retention(const struct vn_cli *c)
{
    struct vn_changes_head h;
    struct vn_store *st = vn_cli_open_store(c, VN_CLI_DB_WRITE);
    int rc;

    if (!st)
        return -1;
    rc = vn_store_changes_head(st, &h);
    if (rc == 0 && h.retention_ms != c->changes_retention_ms)
        rc = vn_store_changes_set_retention(st, c->changes_retention_ms);
    if (rc)
        vn_cli_error("serve: cannot set the change log's retention: %s", vn_store_last_error(st));
    vn_store_free(st);
    return rc ? -1 : 0;
}

/*
 * The integration API's listener (contract section 8), unless --api-listen is "off": its
 * routes are mounted here, between vn_api_new and vn_api_start (api.h says how). 0, or -1
 * with the error printed.
 */
static int api_start(const struct vn_cli *c, struct vn_writer *writer, const char *key_file,
                     struct vn_apple *apple, struct vn_api **out,
                     const struct vn_dashboard_options *dopt, struct vn_dashboard **dash)
{
    struct vn_store_options so;
    char params[128];
    struct vn_api_options ao = {
        .listen = c->api_listen,
        .tls_cert_file = c->api_tls_cert,
        .tls_key_file = c->api_tls_key,
        .threads = (unsigned)c->api_threads,
        .max_connections = (unsigned)c->api_max_connections,
        .max_body = (size_t)c->api_max_body,
        .max_header = (size_t)c->max_header,
        .idle_timeout_s = (unsigned)((c->api_idle_timeout_ms + 999) / 1000),
        .db = c->db,
        .store = &so,
        .key_refresh_ms = c->auth_refresh_ms,
        .webhooks = {.writer = writer,
                     .key_file = key_file,
                     .timeout_ms = c->webhook_timeout_ms,
                     .backoff_ms = c->webhook_backoff_ms,
                     .retry_for_ms = c->webhook_retry_for_ms,
                     .lease_ttl_ms = c->lease_ttl_ms,
                     .instance = c->instance},
        .apple = apple,
    };
    struct vn_error err = {0};
    struct vn_api *api;

    *out = NULL;
    if (!c->api_listen || !*c->api_listen || strcmp(c->api_listen, "off") == 0)
        return 0;
    vn_cli_store_options(c, 1, &so, params, sizeof(params));
    if (set_retention(c) != 0)
        return -1;
    api = vn_api_new(&ao, &err);
    /* /metrics, /healthz details and the dashboard (dashboard.h) before the /v1 routes. */
    if (api && !(*dash = vn_dashboard_mount(api, dopt, &err))) {
        vn_cli_error("serve: %s", err.msg);
        vn_api_free(api);
        return -1;
    }
    if (!api || vn_api_mount_v1(api, &err) != 0 || vn_api_start(api, &err) != 0) {
        vn_cli_error("serve: %s", err.msg);
        vn_api_free(api);
        return -1;
    }
    vn_log_info("integration API on %s://%s (API keys: vppnotify api-key add)",
                vn_api_tls(api) ? "https" : "http", vn_api_address(api));
    *out = api;
    return 0;
}

static int cmd_serve(struct vn_cli *c, int argc, char **argv)
{
    struct vn_httpd_options ho;
    struct vn_writer_options wro = {.queue_max = (size_t)c->queue_max,
                                    .batch_max = (size_t)c->batch_max};
    struct vn_ingest_stats s;
    struct vn_error err = {0};
    struct vn_store *wst = NULL, *ast = NULL;
    struct vn_writer *writer = NULL;
    struct vn_ingest *ing = NULL;
    struct vn_auth *auth = NULL;
    struct vn_httpd *h = NULL;
    struct vn_apple *apple = NULL;
    struct vn_worker *worker = NULL;
    struct vn_service *svc = NULL;
    struct vn_api *api = NULL;
    struct vn_dashboard *dash = NULL;
    struct vn_dashboard_options dopt = {0};
    char ready[256];
    struct vn_worker_options wo = {
        .db = c->db,
        .tracker = {.quiet_ms = c->event_quiet_ms,
                    .poll_ms = c->event_poll_ms,
                    .stall_ms = c->event_stall_ms,
                    .deferred_poll_ms = c->event_deferred_poll_ms},
        .full_ms = c->sync_full_ms,
        .delta_ms = c->sync_delta_ms,
        .lease_ttl_ms = c->lease_ttl_ms,
    };
    char holder[VN_LEASE_HOLDER_MAX];
    char key_path[4200], db_params[128], cred_cert[4200], cred_key[4200];
    sigset_t set;
    int rc = VN_EXIT_FAIL, sig;

#ifdef __GLIBC__
    /* No fastbins: every request frees jansson's small blocks and then asks for a block of
     * 1 KiB or more (its state, its body), which makes glibc consolidate the fastbins each
     * time; without them a free coalesces at once. 3-5 % more notifications/s under load
     * (docs/PERFORMANCE.md, session 9). */
    mallopt(M_MXFAST, 0);
#endif
    vn_cli_httpd_options(c, &ho);
    if (c->path[0] != '/') {
        vn_cli_error("serve: --path '%s' must start with '/'", c->path);
        return VN_EXIT_USAGE;
    }
    /* Signals are taken by sigtimedwait in this thread only: block them before any thread. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP); /* a reload (serve_reload.c), not the end */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    svc = vn_service_new();
    if (!svc) {
        vn_cli_error("serve: out of memory");
        goto out;
    }

    if (vn_cli_serve_lock(c) != 0)
        goto out;
    vn_cli_store_options(c, 0, &wo.store, db_params, sizeof(db_params));
    wst = vn_cli_open_store(c, VN_CLI_DB_CREATE);
    if (!wst)
        goto out;
    vn_log_info("store: %s", vn_store_describe(wst));
    if (vn_store_shared(wst) && c->apple_timeout_ms > c->lease_ttl_ms / 2)
        vn_log_warn("--apple-timeout (%lld ms) is more than half of --lease-ttl (%lld ms): a "
                    "request begun just before a lease lapses can still run when another "
                    "instance takes the location over, which then waits for it (the request's "
                    "fence in the database)",
                    c->apple_timeout_ms, c->lease_ttl_ms);
    ast = vn_cli_open_store(c, VN_CLI_DB_READ);
    if (!ast)
        goto out;
    auth = vn_auth_new(ast, c->auth_refresh_ms, &err);
    ast = NULL; /* owned by auth, even on failure */
    if (!auth) {
        vn_cli_error("%s", err.msg);
        goto out;
    }
    writer = vn_writer_start(wst, &wro, &err);
    if (!writer) {
        vn_cli_error("%s", err.msg);
        goto out;
    }
    wo.writer = writer;
    ing = vn_ingest_new(writer, &err);
    if (!ing) {
        vn_cli_error("%s", err.msg);
        goto out;
    }
    /* The Apple side: event tracker and scheduled syncs, each thread with its own handle, under
     * the locations' leases; the instance's id also goes in the User-Agent. */
    vn_lease_holder(holder, c->instance);
    wo.holder = holder;
    if (vn_cli_key_file(c, key_path, sizeof(key_path)) != 0 || !(apple = vn_cli_apple(c)))
        goto out;
    wo.key_file = key_path;
    wo.apple = apple;
    worker = vn_worker_start(&wo, &err);
    if (!worker) {
        vn_cli_error("serve: %s", err.msg);
        goto out;
    }
    /* systemd credentials (LoadCredential=tls.crt:..., tls.key:...) unless given as options. */
    if (!c->tls_cert && !c->tls_key &&
        vn_service_credential("tls.crt", cred_cert, sizeof(cred_cert)) == 0 &&
        vn_service_credential("tls.key", cred_key, sizeof(cred_key)) == 0) {
        ho.tls_cert_file = cred_cert;
        ho.tls_key_file = cred_key;
        vn_log_info("TLS certificate and key from the service's credentials (%s)", cred_cert);
    }
    ho.writer = writer;
    h = vn_httpd_start(&ho, ing, auth, &err);
    if (!h) {
        vn_cli_error("serve: %s", err.msg);
        goto out;
    }
    vn_log_info("listening on %s://%s%s (max body %lld bytes, %s, event loop %s, %u HTTP "
                "thread%s)",
                ho.tls_cert_file ? "https" : "http", vn_httpd_address(h), c->path, c->max_body,
                ho.tls_cert_file ? "TLS" : "plain HTTP: loopback or behind a TLS proxy only",
                vn_httpd_event_loop(h), vn_httpd_threads(h), vn_httpd_threads(h) == 1 ? "" : "s");
    dopt.ingest = ing;
    dopt.health_extra = vn_worker_health;
    dopt.health_ud = worker;
    dopt.secure_cookie = c->api_tls_cert != NULL;
    if (api_start(c, writer, key_path, apple, &api, &dopt, &dash) != 0)
        goto out;
    /* The ready file: the notification endpoint's address, then the API's on a second line. */
    snprintf(ready, sizeof(ready), "%s%s%s", vn_httpd_address(h), api ? "\n" : "",
             api ? vn_api_address(api) : "");
    if (c->ready_file && vn_ready_file_write(c->ready_file, ready) != 0) {
        vn_cli_error("cannot write ready file '%s': %s", c->ready_file, strerror(errno));
        goto out;
    }

    vn_service_ready(svc, vn_httpd_address(h));
    sig = wait_for_stop(ing, &set, svc, c, h, auth);
    signal(SIGHUP, SIG_IGN); /* no reload while stopping */
    second_signal_exits(&set);
    vn_log_info("%s; finishing requests in progress (a second signal exits at once)",
                sig ? strsignal(sig) : "store failed");
    vn_service_stopping(svc, sig ? strsignal(sig) : "the store failed");
    vn_apple_drain(apple); /* no new wait for a location's lock; requests sent run on */
    vn_api_quiesce(api, c->shutdown_timeout_ms); /* long polls answered, the rest drained */
    vn_dashboard_detach(dash);
    stop_all(h, worker, ing, writer, c->shutdown_timeout_ms);
    h = NULL;
    worker = NULL;
    vn_ingest_stats(ing, &s);
    vn_log_info("stopped: %llu applied, %llu duplicates (%llu conflicts), %llu stored, %llu "
                "quarantined, %llu unavailable, %llu commits",
                (unsigned long long)s.applied, (unsigned long long)s.duplicates,
                (unsigned long long)s.conflicts, (unsigned long long)s.stored,
                (unsigned long long)s.quarantined, (unsigned long long)s.unavailable,
                (unsigned long long)s.commits);
    rc = sig ? VN_EXIT_OK : VN_EXIT_FAIL;
out:
    vn_dashboard_detach(dash); /* its routes stop reading the worker and ingest, freed next */
    stop_all(h, worker, ing, writer, c->shutdown_timeout_ms);
    vn_apple_free(apple);
    vn_ingest_free(ing);
    vn_writer_free(writer);
    vn_api_free(api); /* after the writer: no job of an API request is left */
    vn_dashboard_free(dash);
    vn_auth_free(auth);
    vn_store_free(ast);
    vn_store_free(wst);
    if (c->ready_file)
        unlink(c->ready_file);
    vn_service_free(svc);
    return rc;
}

static const char *const o_serve[] = {"help",
                                      "config",
                                      "db",
                                      "log-level",
                                      "log-format",
                                      "listen",
                                      "path",
                                      "tls-cert",
                                      "tls-key",
                                      "tls-priorities",
                                      "trusted-proxy",
                                      "max-body",
                                      "max-header",
                                      "max-connections",
                                      "max-per-ip",
                                      "idle-timeout",
                                      "header-timeout",
                                      "read-timeout",
                                      "threads",
                                      "event-loop",
                                      "max-depth",
                                      "retry-after",
                                      "queue-max",
                                      "batch-max",
                                      "db-busy-timeout",
                                      "max-db-size",
                                      "auth-refresh",
                                      "shutdown-timeout",
                                      "quarantine-max",
                                      "rejections-max",
                                      "rejections-max-age",
                                      "ready-file",
                                      VN_CLI_APPLE_OPTS,
                                      "event-quiet",
                                      "event-poll-interval",
                                      "event-stall",
                                      "event-deferred-poll",
                                      "sync-full-interval",
                                      "sync-delta-interval",
                                      "lease-ttl",
                                      "api-listen",
                                      "api-tls-cert",
                                      "api-tls-key",
                                      "api-threads",
                                      "api-max-connections",
                                      "api-max-body",
                                      "api-idle-timeout",
                                      "changes-retention",
                                      "webhook-timeout",
                                      "webhook-backoff",
                                      "webhook-retry-for",
                                      NULL};

const struct vn_command vn_cmd_serve[] = {
    {"serve",
     "vppnotify serve [--listen ADDR:PORT] [--db PATH] [--path /notifications] "
     "[--tls-cert F --tls-key F] [--api-listen ADDR:PORT] [OPTIONS]",
     "receive notifications: authenticate, dedupe, apply, and answer only once on disk; track "
     "events (Event Status) and re-sync locations with an sToken on a schedule",
     o_serve, cmd_serve, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
