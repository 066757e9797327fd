/*
 * serve_reload.c - serve's HTTP server options from the configuration (cli.h:
 * vn_cli_httpd_options), at start and at SIGHUP (vn_cli_serve_reload): the options are
 * parsed again exactly as at start (defaults, --config file, environment, the same command
 * line), and what may change while serving is applied; the rest waits for a restart and says
 * so. The running configuration (the struct vn_cli main filled) is not touched: the HTTP
 * server keeps pointers into it. cmd_serve.c calls both and passes serve's option names.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/httpd.h"
#include "vppnotify/log.h"
#include "vppnotify/service.h"

/* What a reload applies (everything else of serve's options needs a restart). */
static const char *const live[] = {
    "log-level",   "max-body",       "max-depth", "header-timeout", "read-timeout", "max-per-ip",
    "retry-after", "quarantine-max", "tls-cert",  "tls-key",        "help",         "config",
    NULL,
};

static int is_live(const char *name)
{
    for (const char *const *p = live; *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

void vn_cli_httpd_options(const struct vn_cli *c, struct vn_httpd_options *ho)
{
    *ho = (struct vn_httpd_options){
        .listen = c->listen,
        .path = c->path,
        .tls_cert_file = c->tls_cert,
        .tls_key_file = c->tls_key,
        .tls_priorities = c->tls_priorities,
        .trusted_proxies = (const char *const *)c->trusted_proxy.v,
        .ntrusted_proxies = c->trusted_proxy.n,
        .max_body = (size_t)c->max_body,
        .max_header = (size_t)c->max_header,
        .max_connections = (unsigned)c->max_connections,
        .max_per_ip = (unsigned)c->max_per_ip,
        .idle_timeout_s = (unsigned)((c->idle_timeout_ms + 999) / 1000),
        .header_timeout_ms = c->header_timeout_ms,
        .read_timeout_ms = c->read_timeout_ms,
        .threads = (unsigned)c->threads,
        .event_loop =
            c->event_loop && strcmp(c->event_loop, "epoll") == 0 ? VN_HTTPD_EPOLL : VN_HTTPD_POLL,
        .max_depth = (size_t)c->max_depth,
        .retry_after_s = (unsigned)((c->retry_after_ms + 999) / 1000),
        .quarantine_max = (size_t)c->quarantine_max,
        .rejections_max = c->rejections_max,
        .rejections_max_age_ms = c->rejections_max_age_ms,
    };
}

static int same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Does option o hold the same value in a and b? */
static int same_value(const struct vn_opt *o, const struct vn_cli *a, const struct vn_cli *b)
{
    const char *pa = (const char *)a + o->off, *pb = (const char *)b + o->off;

    switch (o->type) {
    case VN_OPT_FLAG:
        return *(const int *)pa == *(const int *)pb;
    case VN_OPT_STRING:
    case VN_OPT_CHOICE:
        return same_string(*(char *const *)pa, *(char *const *)pb);
    case VN_OPT_INT:
    case VN_OPT_SIZE:
    case VN_OPT_DURATION:
        return *(const long long *)pa == *(const long long *)pb;
    case VN_OPT_LIST: {
        const struct vn_strlist *la = (const void *)pa, *lb = (const void *)pb;
        if (la->n != lb->n)
            return 0;
        for (size_t i = 0; i < la->n; i++)
            if (strcmp(la->v[i], lb->v[i]) != 0)
                return 0;
        return 1;
    }
    }
    return 1;
}

/* Name each changed option that only a restart applies. */
static void warn_restart_only(const char *const *opts, const struct vn_cli *running,
                              const struct vn_cli *next)
{
    for (const char *const *name = opts; *name; name++) {
        const struct vn_opt *o = vn_opts_find(&vn_cli_options, *name);
        if (o && !is_live(*name) && !same_value(o, running, next))
            vn_log_warn("reload: --%s changed; it takes effect at the next start", *name);
    }
}

int vn_cli_serve_reload(const struct vn_cli *running, const char *const *opts, struct vn_httpd *h,
                        struct vn_auth *auth)
{
    struct vn_cli next;
    struct vn_httpd_options ho;
    struct vn_error err = {0};
    enum vn_log_level level = VN_LOG_INFO;
    char **argv = calloc((size_t)running->argc + 1, sizeof(*argv));
    const char *old_tls = vn_httpd_tls_describe(h);
    char old_desc[400] = "", cred_cert[4200], cred_key[4200];
    int first, rc = -1;

    memset(&next, 0, sizeof(next));
    if (!argv) {
        vn_log_error("reload: out of memory; nothing changed");
        return -1;
    }
    if (old_tls)
        snprintf(old_desc, sizeof(old_desc), "%s", old_tls);
    memcpy(argv, running->argv, (size_t)running->argc * sizeof(*argv));
    if (vn_opts_parse(&vn_cli_options, opts, &next, running->argc, argv, &first, &err) != 0) {
        vn_log_error("reload: %s; nothing changed", err.msg);
        goto out;
    }
    if (next.log_level && vn_log_level_parse(next.log_level, &level) != 0) {
        vn_log_error("reload: --log-level '%s' is not error, warn, info or debug; nothing changed",
                     next.log_level);
        goto out;
    }
    vn_log_set_level(level);
    warn_restart_only(opts, running, &next);
    vn_cli_httpd_options(&next, &ho);
    /* As at start (cmd_serve.c): systemd credentials when no --tls-cert/--tls-key is given. */
    if (!next.tls_cert && !next.tls_key &&
        vn_service_credential("tls.crt", cred_cert, sizeof(cred_cert)) == 0 &&
        vn_service_credential("tls.key", cred_key, sizeof(cred_key)) == 0) {
        ho.tls_cert_file = cred_cert;
        ho.tls_key_file = cred_key;
    }
    rc = vn_httpd_reload(h, &ho, &err);
    if (rc != 0)
        vn_log_error("reload: the new TLS certificate or key was refused, the current one stays "
                     "(%s): %s",
                     old_desc[0] ? old_desc : "none", err.msg);
    else if (vn_httpd_tls_describe(h))
        vn_log_info("reload: TLS certificate %s", vn_httpd_tls_describe(h));
    vn_auth_invalidate(auth);
    vn_log_info("reload: applied (log level %s, max body %lld, max depth %lld, header timeout "
                "%lld ms, read timeout %lld ms, max per ip %lld)",
                next.log_level ? next.log_level : "info", next.max_body, next.max_depth,
                next.header_timeout_ms, next.read_timeout_ms, next.max_per_ip);
    rc = rc ? -1 : 0;
out:
    vn_opts_release(&vn_cli_options, &next);
    free(argv);
    return rc;
}
