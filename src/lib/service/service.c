/* service.c - see include/vppnotify/service.h. */
#include "vppnotify/service.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/metrics.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#define SAMPLES   64 /* one a second: a minute of history and some slack */
#define WINDOW_MS 60000
#define STATUS_MS 5000

struct sample {
    int64_t ms;
    struct vn_metrics_totals t;
};

struct vn_service {
    int active;           /* $NOTIFY_SOCKET is set */
    uint64_t watchdog_us; /* 0: no watchdog */
    int64_t last_watchdog_ms, last_status_ms;
    uint64_t last_progress;
    int64_t progress_ms; /* when progress last moved, or the queue was empty */
    int stalled_logged;
    struct sample ring[SAMPLES];
    size_t head, n; /* ring[head] is the newest of n samples */
    char status[256];
};

static void notify(struct vn_service *s, const char *msg)
{
    int rc;

    if (!s->active)
        return;
    rc = sd_notify(0, msg);
    if (rc < 0)
        vn_log_warn("cannot notify the service manager (%s): %s", msg, strerror(-rc));
}

struct vn_service *vn_service_new(void)
{
    struct vn_service *s = calloc(1, sizeof(*s));
    uint64_t usec = 0;
    const char *sock = getenv("NOTIFY_SOCKET");

    if (!s)
        return NULL;
    s->active = sock && *sock;
    if (s->active && sd_watchdog_enabled(0, &usec) > 0)
        s->watchdog_us = usec;
    s->progress_ms = (vn_mono_ns() / 1000000);
    vn_strlcpy(s->status, "starting", sizeof(s->status));
    return s;
}

int vn_service_active(const struct vn_service *s)
{
    return s && s->active;
}

int64_t vn_service_tick_ms(const struct vn_service *s)
{
    int64_t half = s && s->watchdog_us ? (int64_t)(s->watchdog_us / 2000) : 1000;

    if (half < 10)
        half = 10;
    return half < 1000 ? half : 1000;
}

/* Take a sample of the counters when a second has passed since the newest one. */
static void sample(struct vn_service *s, int64_t now)
{
    if (s->n && now - s->ring[s->head].ms < 1000)
        return;
    s->head = s->n ? (s->head + 1) % SAMPLES : 0;
    if (s->n < SAMPLES)
        s->n++;
    s->ring[s->head].ms = now;
    vn_metrics_totals(&s->ring[s->head].t);
}

static double rate(uint64_t a, uint64_t b, double seconds)
{
    return seconds > 0 && b >= a ? (double)(b - a) / seconds : 0.0;
}

/* STATUS= from the oldest sample within the last minute to now. */
static void make_status(struct vn_service *s, int64_t now, size_t queued)
{
    const struct sample *newest = &s->ring[s->head], *old = newest;
    double secs;

    for (size_t k = 1; k < s->n; k++) {
        const struct sample *c = &s->ring[(s->head + SAMPLES - k) % SAMPLES];
        if (now - c->ms > WINDOW_MS)
            break;
        old = c;
    }
    secs = (double)(newest->ms - old->ms) / 1000.0;
    snprintf(s->status, sizeof(s->status),
             "last %.0fs: %.1f/s applied, %.1f/s duplicate, %.1f/s stored, %.1f/s rejected "
             "(401/403), %.1f/s unavailable (503); queue %zu",
             secs, rate(old->t.applied, newest->t.applied, secs),
             rate(old->t.duplicates, newest->t.duplicates, secs),
             rate(old->t.stored, newest->t.stored, secs),
             rate(old->t.rejected, newest->t.rejected, secs),
             rate(old->t.unavailable, newest->t.unavailable, secs), queued);
}

static void send_status(struct vn_service *s, const char *extra)
{
    char msg[400];

    snprintf(msg, sizeof(msg), "%sSTATUS=%s", extra ? extra : "", s->status);
    notify(s, msg);
}

void vn_service_ready(struct vn_service *s, const char *address)
{
    int64_t now = (vn_mono_ns() / 1000000);

    sample(s, now);
    snprintf(s->status, sizeof(s->status), "listening on %s", address);
    send_status(s, "READY=1\n");
    s->last_status_ms = now;
    s->last_watchdog_ms = now;
    if (s->watchdog_us)
        notify(s, "WATCHDOG=1");
}

void vn_service_tick(struct vn_service *s, uint64_t progress, size_t queued)
{
    int64_t now = (vn_mono_ns() / 1000000), half = (int64_t)(s->watchdog_us / 2000);

    sample(s, now);
    if (progress != s->last_progress || queued == 0) {
        s->last_progress = progress;
        s->progress_ms = now;
        if (s->stalled_logged)
            vn_log_info("the writer makes progress again; watchdog pings resume");
        s->stalled_logged = 0;
    }
    if (now - s->last_status_ms >= STATUS_MS) {
        make_status(s, now, queued);
        send_status(s, NULL);
        s->last_status_ms = now;
    }
    if (!s->watchdog_us || now - s->last_watchdog_ms < half)
        return;
    if (now - s->progress_ms > half) {
        if (!s->stalled_logged)
            vn_log_error("%zu notification(s) waited %lld ms without the writer finishing one; "
                         "withholding the watchdog ping so that the service manager restarts "
                         "vppnotify",
                         queued, (long long)(now - s->progress_ms));
        s->stalled_logged = 1;
        return;
    }
    notify(s, "WATCHDOG=1");
    s->last_watchdog_ms = now;
}

void vn_service_reloading(struct vn_service *s)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
             (long long)(vn_mono_ns() / 1000));
    notify(s, msg);
}

void vn_service_reloaded(struct vn_service *s, const char *what)
{
    snprintf(s->status, sizeof(s->status), "%s", what);
    send_status(s, "READY=1\n");
}

void vn_service_stopping(struct vn_service *s, const char *why)
{
    snprintf(s->status, sizeof(s->status), "stopping: %s", why);
    send_status(s, "STOPPING=1\n");
}

const char *vn_service_status(const struct vn_service *s)
{
    return s->status;
}

void vn_service_free(struct vn_service *s)
{
    free(s);
}

int vn_service_credential(const char *name, char *out, size_t outlen)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    struct stat sb;

    if (!dir || !*dir)
        return VN_ENOTFOUND;
    if ((size_t)snprintf(out, outlen, "%s/%s", dir, name) >= outlen)
        return VN_ETOOBIG;
    return stat(out, &sb) == 0 && S_ISREG(sb.st_mode) ? 0 : VN_ENOTFOUND;
}
