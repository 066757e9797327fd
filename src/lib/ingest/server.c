/*
 * server.c - the life of the notification endpoint's HTTP server (include/vppnotify/httpd.h):
 * start (listening socket, libmicrohttpd's options, limits, TLS), the connections' start and
 * end (conn.h), the TLS certificate of each handshake (tls.h), reload, quiesce and stop. The
 * requests themselves are httpd.c's.
 */
#include "conn.h"
#include "httpd_impl.h"
#include "rejects.h"
#include "tls.h"
#include "vppnotify/auth.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/net.h"
#include "vppnotify/util.h"

#include "framing.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- connections: accept policy, start and end ------------------------------------------- */

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct vn_httpd *h = cls;

    (void)addrlen;
    return vn_conns_may_accept(h->conns, addr) ? MHD_YES : MHD_NO;
}

/* Track each connection from its start to its end (libmicrohttpd calls CLOSED before it closes
 * the socket, which is what makes the reaper's use of the fd safe). */
static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct vn_httpd *h = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ca =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context =
            fd ? vn_conns_opened(h->conns, fd->connect_fd, ca ? ca->client_addr : NULL) : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        vn_conns_closed(h->conns, *socket_context);
        *socket_context = NULL;
    }
    vn__httpd_resume_listed(h); /* a leader that closed: its thread still resumes the rest */
}

/* Every connection needs a descriptor: raise the soft limit when max_connections needs it. */
static void ensure_fd_limit(unsigned max_connections)
{
    rlim_t want = (rlim_t)max_connections + 128;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        vn_log_warn("--max-connections %u needs about %llu file descriptors but the limit is "
                    "%llu: lower --max-connections or raise the limit (systemd LimitNOFILE=)",
                    max_connections, (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

/* ---- start and stop ---------------------------------------------------------------------- */

/* ---- TLS: the certificate of each handshake, and reloads ---------------------------------- */

/*
 * GnuTLS asks for the certificate during each handshake: the pair current now (tls.h). The
 * session's pointer is its libmicrohttpd connection, whose socket context is its tracker entry
 * (conn.h), which knows the server.
 */
static int cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *pkey)
{
    struct MHD_Connection *conn = gnutls_session_get_ptr(session);
    struct vn_conn *c = conn ? vn__httpd_track(conn) : NULL;
    struct vn_httpd *h = c ? vn_conn_ud(c) : NULL;

    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (!h || !h->tls)
        return -1; /* an untracked connection (out of memory): no handshake */
    return vn_tls_retrieve(h->tls, pcert, pcert_length, pkey);
}

static void set_live(struct vn_httpd *h, const struct vn_httpd_options *o)
{
    atomic_store(&h->live.max_body, o->max_body);
    atomic_store(&h->live.max_depth, o->max_depth);
    atomic_store(&h->live.quarantine_max, o->quarantine_max);
    atomic_store(&h->live.retry_after_s, o->retry_after_s);
    atomic_store(&h->live.max_per_ip, o->max_per_ip);
    atomic_store(&h->live.read_timeout_ms, o->read_timeout_ms);
}

int vn_httpd_reload(struct vn_httpd *h, const struct vn_httpd_options *o, struct vn_error *err)
{
    struct vn_conns_limits cl = {.max_connections = h->o.max_connections,
                                 .max_per_ip = o->max_per_ip,
                                 .header_timeout_ms = o->header_timeout_ms,
                                 .read_timeout_ms = o->read_timeout_ms};
    int rc = 0;

    set_live(h, o);
    vn_conns_set_limits(h->conns, &cl);
    if (h->rejects)
        vn_rejects_set_retention(h->rejects, o->rejections_max, o->rejections_max_age_ms);
    if (h->tls) {
        if (!o->tls_cert_file || !o->tls_key_file)
            return vn_error_set(err, VN_EUSAGE,
                                "TLS cannot be turned off by a reload (restart without "
                                "--tls-cert); the current certificate stays");
        rc = vn_tls_reload(h->tls, o->tls_cert_file, o->tls_key_file,
                           vn_conns_next_generation(h->conns), err);
        vn_tls_collect(h->tls, vn_conns_oldest_generation(h->conns));
    } else if (o->tls_cert_file) {
        rc = vn_error_set(err, VN_EUSAGE,
                          "TLS cannot be turned on by a reload (restart with --tls-cert)");
    }
    return rc;
}

const char *vn_httpd_tls_describe(struct vn_httpd *h)
{
    return h->tls ? vn_tls_describe(h->tls) : NULL;
}

const char *vn_httpd_tls_fingerprint(struct vn_httpd *h)
{
    return h->tls ? vn_tls_fingerprint(h->tls) : NULL;
}

/* Refuse a priority string GnuTLS cannot use, saying where it stops understanding it. */
static int check_priorities(const char *p, struct vn_error *err)
{
    gnutls_priority_t prio;
    const char *where = NULL;
    int rc = gnutls_priority_init(&prio, p, &where);

    if (rc != GNUTLS_E_SUCCESS)
        return vn_error_set(err, VN_EUSAGE, "--tls-priorities '%s': %s at '%.40s'", p,
                            gnutls_strerror(rc), where ? where : "");
    gnutls_priority_deinit(prio);
    return 0;
}

struct vn_httpd *vn_httpd_start(const struct vn_httpd_options *opts, struct vn_ingest *ingest,
                                struct vn_auth *auth, struct vn_error *err)
{
    const char *priorities = opts->tls_priorities ? opts->tls_priorities : VN_HTTPD_TLS_PRIORITIES;
    struct vn_httpd *h = calloc(1, sizeof(*h));
    unsigned flags = MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    unsigned threads = opts->threads;
    int lfd = -1, mfd = -1;

    if (!h) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    h->o = *opts;
    h->ingest = ingest;
    h->auth = auth;
    set_live(h, opts);
    pthread_mutex_init(&h->authlog.lock, NULL);
    pthread_mutex_init(&h->slots_lock, NULL);
    if (opts->writer) {
        struct vn_rejects_options ro = {.max_rows = opts->rejections_max,
                                        .max_age_ms = opts->rejections_max_age_ms};
        h->rejects = vn_rejects_new(opts->writer, &ro, err);
        if (!h->rejects)
            goto fail;
    }
    if (opts->ntrusted_proxies) {
        h->trusted = calloc(opts->ntrusted_proxies, sizeof(*h->trusted));
        if (!h->trusted) {
            vn_error_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < opts->ntrusted_proxies; i++)
            if (vn_cidr_parse(opts->trusted_proxies[i], &h->trusted[i], err) != 0)
                goto fail;
        h->ntrusted = opts->ntrusted_proxies;
    }
    if (!!opts->tls_cert_file != !!opts->tls_key_file) {
        vn_error_set(err, VN_EUSAGE, "--tls-cert and --tls-key go together");
        goto fail;
    }
    if (opts->tls_cert_file) {
        h->tls = vn_tls_new(opts->tls_cert_file, opts->tls_key_file, err);
        if (!h->tls)
            goto fail;
        flags |= MHD_USE_TLS;
        if (check_priorities(priorities, err) != 0)
            goto fail;
    }
    /* Every notification waits suspended for its group commit; libmicrohttpd's epoll loop
     * takes a suspended connection out of its set and adds it back at resume (two epoll_ctl
     * per notification), its poll loop does not (docs/PERFORMANCE.md, session 8). */
    if (opts->event_loop == VN_HTTPD_POLL &&
        MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES) {
        flags |= MHD_USE_POLL_INTERNAL_THREAD;
        h->loop = "poll";
    } else {
        flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
        h->loop = "epoll";
    }
    /* One per CPU but the writer's: the writer is the one serial stage of every notification
     * (docs/PERFORMANCE.md, session 9: on 2 CPUs one HTTP thread serves 4 % more). */
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 1 ? (unsigned)n - 1 : 1;
    }
    h->threads = threads;
    /* The socket is bound here, not by libmicrohttpd, so that a failure names the address
     * tried and the real reason (errno of bind), and port 0 reports the port it got. */
    if (vn_listen_socket(opts->listen, 1024, &lfd, h->address, sizeof(h->address), err) != 0)
        goto fail;
    /* libmicrohttpd takes the socket, but closes it on some of its failures and not on
     * others: it gets a duplicate, and this one is closed either way (after a failure the
     * duplicate may stay open until serve exits, which it then does). */
    mfd = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
    if (mfd < 0) {
        vn_error_set(err, -errno, "cannot listen on %s: dup: %s", h->address, strerror(errno));
        goto fail;
    }
    {
        struct vn_conns_limits cl = {.max_connections = opts->max_connections,
                                     .max_per_ip = opts->max_per_ip,
                                     .header_timeout_ms = opts->header_timeout_ms,
                                     .read_timeout_ms = opts->read_timeout_ms};
        h->conns = vn_conns_new(&cl, vn__httpd_is_trusted, h, err);
        if (!h->conns)
            goto fail;
    }
    ensure_fd_limit(opts->max_connections);
    {
        /* TLS options only when TLS is on: MHD warns about them otherwise. */
        struct MHD_OptionItem tls[] = {
            {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)cert_callback},
            {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)priorities},
            {MHD_OPTION_END, 0, NULL},
        };
        struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};

        /* The per-address limit is ours (conn.c): libmicrohttpd's cannot exempt a proxy. */
        h->mhd = MHD_start_daemon(
            flags, 0, accept_policy, h, vn__httpd_handle, h, MHD_OPTION_EXTERNAL_LOGGER, vn_mhd_log,
            h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mfd, MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_CONNECTION_LIMIT, opts->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
            opts->idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, opts->max_header,
            MHD_OPTION_NOTIFY_COMPLETED, vn__httpd_request_completed, h,
            MHD_OPTION_NOTIFY_CONNECTION, connection_notify, h, MHD_OPTION_URI_LOG_CALLBACK,
            vn__httpd_request_new, h, MHD_OPTION_UNESCAPE_CALLBACK, vn_framing_unescape, NULL,
            MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_ARRAY, h->tls ? tls : none, MHD_OPTION_END);
    }
    close(lfd);
    lfd = -1;
    if (!h->mhd) {
        /* Its reason is in the "libmicrohttpd: ..." log line just before. */
        vn_error_set(err, VN_ENET,
                     "the HTTP server did not start on %s (libmicrohttpd's reason is logged "
                     "above)",
                     h->address);
        goto fail;
    }
    return h;
fail:
    if (lfd >= 0)
        close(lfd);
    vn_httpd_free(h);
    return NULL;
}

const char *vn_httpd_address(const struct vn_httpd *h)
{
    return h->address;
}

const char *vn_httpd_event_loop(const struct vn_httpd *h)
{
    return h->loop;
}

unsigned vn_httpd_threads(const struct vn_httpd *h)
{
    return h->threads;
}

void vn_httpd_quiesce(struct vn_httpd *h)
{
    vn_rejects_flush(h->rejects); /* while the writer still takes jobs */
    MHD_socket fd = MHD_quiesce_daemon(h->mhd);

    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

unsigned vn_httpd_in_flight(struct vn_httpd *h)
{
    return atomic_load(&h->in_flight);
}

void vn_httpd_free(struct vn_httpd *h)
{
    if (!h)
        return;
    /* No connection may stay suspended for a token check when libmicrohttpd stops. */
    if (h->auth)
        vn_auth_close_waits(h->auth);
    vn__httpd_resume_all(h); /* nor one the writer answered while its thread stopped */
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    vn_conns_free(h->conns); /* after the server: no connection is left */
    vn_rejects_free(h->rejects);
    vn_tls_free(h->tls);
    pthread_mutex_destroy(&h->authlog.lock);
    for (unsigned i = 0; i < atomic_load(&h->nslots); i++)
        pthread_mutex_destroy(&h->slots[i].lock);
    pthread_mutex_destroy(&h->slots_lock);
    free(h->trusted);
    free(h);
}
