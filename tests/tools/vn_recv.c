/*
 * vn_recv.c - a scripted webhook receiver for the integration tests.
 *
 *   vn_recv --listen 127.0.0.1:0 --ready-file F --log FILE.jsonl --script 500,500,200
 *           [--default 200] [--token T] [--delay 0ms] [--hold-while-file F]
 *
 * Answers each POST with the status the script gives for that notificationId's attempt
 * (attempt 1 -> first entry ...), then --default; a TEST_NOTIFICATION always gets
 * --test-status. With --token, a request whose
 * Authorization is not "Bearer T" gets 401 (and counts as an attempt). Each request becomes
 * one JSON line in --log: timeMs, notificationId, notificationType, eventId, attempt, status,
 * auth ("ok", "bad", "none"), body (the parsed JSON, or null), once --delay has passed and
 * then once F of --hold-while-file does not exist (a test holds answers until it removes F).
 * SIGTERM/SIGINT: exit 0 at once; a request still held then is dropped unanswered and unlogged
 * (a receiver that went away), so a test stops a slow receiver without waiting it out.
 */
#include "vppnotify/buf.h"
#include "vppnotify/error.h"
#include "vppnotify/net.h"
#include "vppnotify/opts.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY   (4 * 1024 * 1024)
#define MAX_SCRIPT 64
#define MAX_IDS    1000000

struct cfg {
    char *listen, *ready_file, *log, *script, *token, *tls_cert, *tls_key, *hold_file;
    long long def, test_status, delay_ms;
    int help;
};

#define OPT(name, type, def, min, max, metavar, help, field)                                       \
    {                                                                                              \
        name, type, def, min, max, NULL, NULL, metavar, help, offsetof(struct cfg, field)          \
    }

static const struct vn_opt options[] = {
    OPT("listen", VN_OPT_STRING, "127.0.0.1:0", 0, 0, "HOST:PORT", "IPv4 address to listen on",
        listen),
    OPT("ready-file", VN_OPT_STRING, NULL, 0, 0, "FILE", "write host:port here when listening",
        ready_file),
    OPT("log", VN_OPT_STRING, NULL, 0, 0, "FILE", "append one JSON line per request", log),
    OPT("script", VN_OPT_STRING, "", 0, 0, "S1,S2,...", "statuses of attempts 1, 2, ...", script),
    OPT("default", VN_OPT_INT, "200", 100, 599, "STATUS", "status after the script", def),
    OPT("test-status", VN_OPT_INT, "200", 100, 599, "STATUS",
        "status of every TEST_NOTIFICATION (the script does not apply to them)", test_status),
    OPT("token", VN_OPT_STRING, NULL, 0, 0, "T", "require Authorization: Bearer T", token),
    OPT("delay", VN_OPT_DURATION, "0", 0, 600000, "DURATION", "wait before answering", delay_ms),
    OPT("hold-while-file", VN_OPT_STRING, NULL, 0, 0, "FILE",
        "then wait until FILE does not exist before answering", hold_file),
    OPT("tls-cert", VN_OPT_STRING, NULL, 0, 0, "FILE", "serve https with this PEM certificate",
        tls_cert),
    OPT("tls-key", VN_OPT_STRING, NULL, 0, 0, "FILE", "the PEM key of --tls-cert", tls_key),
    OPT("help", VN_OPT_FLAG, NULL, 0, 0, NULL, "show this help", help),
};
static const struct vn_opt_table table = {options, sizeof(options) / sizeof(options[0])};
static const char *const allowed[] = {
    "listen", "ready-file", "log",     "script", "default",         "test-status", "token",
    "delay",  "tls-cert",   "tls-key", "help",   "hold-while-file", NULL};

static struct cfg cfg;
static int script[MAX_SCRIPT], nscript;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *attempts; /* notificationId -> count */
static FILE *log_out;
static pthread_cond_t stop_cv; /* with mu; CLOCK_MONOTONIC; signalled when stopping is set */
static int stopping;           /* under mu: SIGTERM/SIGINT came */

/* Waits ms milliseconds, or less if the receiver is stopped meanwhile: 1 then, else 0. */
static int wait_stopped(long long ms)
{
    struct timespec until;
    int64_t ns;
    int stopped;

    clock_gettime(CLOCK_MONOTONIC, &until);
    ns = (int64_t)until.tv_nsec + ms % 1000 * 1000000;
    until.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&mu);
    while (!stopping && pthread_cond_timedwait(&stop_cv, &mu, &until) != ETIMEDOUT)
        ;
    stopped = stopping;
    pthread_mutex_unlock(&mu);
    return stopped;
}

/* Waits --delay, then while --hold-while-file exists (looked at every 10 ms): 1 if the
 * receiver was stopped meanwhile, else 0. */
static int hold_stopped(void)
{
    if (cfg.delay_ms > 0 && wait_stopped(cfg.delay_ms))
        return 1;
    while (cfg.hold_file && access(cfg.hold_file, F_OK) == 0)
        if (wait_stopped(10))
            return 1;
    return 0;
}

struct conn {
    struct vn_buf body;
};

/* The whole of a small file as a string (free()), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    struct vn_buf b;
    char chunk[4096];
    size_t n;

    if (!f)
        return NULL;
    vn_buf_init(&b, 1 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (vn_buf_append(&b, chunk, n) != 0)
            break;
    fclose(f);
    return vn_buf_detach(&b, &n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct conn *cs = *con_cls;
    const char *auth_h, *nid = NULL, *type = NULL, *event = NULL, *auth = "none";
    json_t *body, *line;
    int attempt = 1, status;
    char *text;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    if (!cs) {
        cs = calloc(1, sizeof(*cs));
        if (!cs)
            return MHD_NO;
        vn_buf_init(&cs->body, MAX_BODY);
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_size) {
        vn_buf_append(&cs->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    body = json_loadb(vn_buf_str(&cs->body), cs->body.len, 0, NULL);
    nid = json_string_value(json_object_get(body, "notificationId"));
    type = json_string_value(json_object_get(body, "notificationType"));
    event = json_string_value(json_object_get(json_object_get(body, "notification"), "eventId"));
    auth_h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth_h) {
        auth = "bad";
        if (cfg.token && !strncmp(auth_h, "Bearer ", 7)) {
            uint8_t a[VN_DIGEST_LEN], b[VN_DIGEST_LEN];
            vn_digest(auth_h + 7, strlen(auth_h + 7), a);
            vn_digest(cfg.token, strlen(cfg.token), b);
            if (vn_ct_equal(a, b, sizeof(a)))
                auth = "ok";
        } else if (!cfg.token && !strncmp(auth_h, "Bearer ", 7)) {
            auth = "ok";
        }
    }
    pthread_mutex_lock(&mu);
    if (nid) {
        attempt = (int)json_integer_value(json_object_get(attempts, nid)) + 1;
        if (json_object_size(attempts) < MAX_IDS || attempt > 1)
            json_object_set_new(attempts, nid, json_integer(attempt));
    }
    pthread_mutex_unlock(&mu);
    if (type && !strcmp(type, "TEST_NOTIFICATION"))
        status = (int)cfg.test_status;
    else
        status = attempt <= nscript ? script[attempt - 1] : (int)cfg.def;
    if (cfg.token && strcmp(auth, "ok") != 0)
        status = 401;
    if (hold_stopped()) {
        json_decref(body);
        return MHD_NO; /* stopped during the delay: no answer, no log line */
    }
    line = json_pack("{s:I, s:s?, s:s?, s:s?, s:i, s:i, s:s, s:o}", "timeMs",
                     (json_int_t)vn_now_ms(), "notificationId", nid, "notificationType", type,
                     "eventId", event, "attempt", attempt, "status", status, "auth", auth, "body",
                     body ? json_incref(body) : json_null());
    text = json_dumps(line, JSON_COMPACT);
    pthread_mutex_lock(&mu);
    if (log_out && text) {
        fprintf(log_out, "%s\n", text);
        fflush(log_out);
    }
    pthread_mutex_unlock(&mu);
    free(text);
    json_decref(line);
    json_decref(body);
    resp = MHD_create_response_from_buffer(2, "{}", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status >= 300 && status < 400)
        MHD_add_response_header(resp, "Location", "http://127.0.0.1:1/elsewhere");
    ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *cs = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (cs) {
        vn_buf_release(&cs->body);
        free(cs);
        *con_cls = NULL;
    }
}

int main(int argc, char **argv)
{
    struct vn_error err = {0};
    struct sockaddr_storage sa;
    socklen_t salen;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    char *cert = NULL, *key = NULL;
    sigset_t set;
    pthread_condattr_t ca;
    int first, sig, rc = 1;

    if (vn_opts_parse(&table, allowed, &cfg, argc, argv, &first, &err) != 0) {
        fprintf(stderr, "vn_recv: %s\n", err.msg);
        return 2;
    }
    if (cfg.help) {
        vn_opts_help(stdout, &table, allowed, "vn_recv [options]", "a scripted webhook receiver");
        vn_opts_release(&table, &cfg);
        return 0;
    }
    for (const char *p = cfg.script; *p && nscript < MAX_SCRIPT;) {
        long long v;
        char item[16];
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof(item))
            goto usage;
        memcpy(item, p, n);
        item[n] = '\0';
        if (vn_parse_ll(item, 100, 599, &v) != 0)
            goto usage;
        script[nscript++] = (int)v;
        p += n;
        if (*p == ',')
            p++;
    }
    if (vn_listen_resolve(cfg.listen, &sa, &salen, NULL) != 0)
        goto usage;
    if (vn_secret_init() != 0)
        return 1;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    attempts = json_object();
    if (cfg.log && !(log_out = fopen(cfg.log, "ae"))) {
        fprintf(stderr, "vn_recv: cannot open '%s'\n", cfg.log);
        goto out;
    }
    if (cfg.tls_cert && cfg.tls_key) {
        cert = read_file(cfg.tls_cert);
        key = read_file(cfg.tls_key);
        if (!cert || !key) {
            fprintf(stderr, "vn_recv: cannot read --tls-cert or --tls-key\n");
            goto out;
        }
        d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_TLS, 0, NULL,
            NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)30, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
            MHD_OPTION_END);
    } else {
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                             NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                             NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    }
    if (!d) {
        fprintf(stderr, "vn_recv: cannot listen on '%s'\n", cfg.listen);
        goto out;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (cfg.ready_file) {
        char addr[96];
        vn_sockaddr_format((struct sockaddr *)&sa, info ? (unsigned)info->port : 0u, addr,
                           sizeof(addr));
        vn_ready_file_write(cfg.ready_file, addr);
    }
    sigwait(&set, &sig);
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&stop_cv);
    pthread_mutex_unlock(&mu);
    MHD_stop_daemon(d);
    rc = 0;
out:
    pthread_cond_destroy(&stop_cv);
    free(cert);
    free(key);
    if (log_out)
        fclose(log_out);
    json_decref(attempts);
    vn_opts_release(&table, &cfg);
    return rc;
usage:
    fprintf(stderr, "vn_recv: bad --script or --listen (see --help)\n");
    vn_opts_release(&table, &cfg);
    return 2;
}
