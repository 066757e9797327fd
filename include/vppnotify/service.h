/*
 * service.h - serve's side of the systemd service manager protocol (sd_notify, through
 * libsystemd): READY=1 once listening, STATUS= with the last minute's rates, WATCHDOG=1 at half
 * of WatchdogSec while the daemon makes progress, RELOADING=1 / READY=1 around a reload,
 * STOPPING=1 on the way out (docs/DEPLOY.md).
 *
 * Optional at run time: without $NOTIFY_SOCKET (not started by systemd with Type=notify) every
 * call does nothing but keep its counters. Not thread-safe: serve's main thread owns it.
 */
#ifndef VPPNOTIFY_SERVICE_H
#define VPPNOTIFY_SERVICE_H

#include <stddef.h>
#include <stdint.h>

struct vn_service;

/* Read $NOTIFY_SOCKET and the watchdog settings ($WATCHDOG_USEC, $WATCHDOG_PID). Returns an
 * owned handle (vn_service_free), or NULL when out of memory. */
struct vn_service *vn_service_new(void);

/* 1 when a service manager listens ($NOTIFY_SOCKET set). */
int vn_service_active(const struct vn_service *s);

/* How often the caller must call vn_service_tick: half the watchdog interval, at most 1 s. */
int64_t vn_service_tick_ms(const struct vn_service *s);

/* Listening on address: READY=1 and a first STATUS=. */
void vn_service_ready(struct vn_service *s, const char *address);

/*
 * Called every vn_service_tick_ms by the main loop. progress is a counter that grows while the
 * daemon does its work (jobs the writer finished), queued the work waiting for it. WATCHDOG=1
 * is sent when due, unless work has waited without progress for longer than half the watchdog
 * interval: then the service manager's watchdog restarts a daemon whose writer is stuck.
 * STATUS= (rates over the last minute) is refreshed every 5 s.
 */
void vn_service_tick(struct vn_service *s, uint64_t progress, size_t queued);

/* Around a reload (SIGHUP): RELOADING=1 with MONOTONIC_USEC=, then READY=1 with a STATUS=
 * saying how it went (what is borrowed for the call). */
void vn_service_reloading(struct vn_service *s);
void vn_service_reloaded(struct vn_service *s, const char *what);

/* STOPPING=1 with STATUS=why. */
void vn_service_stopping(struct vn_service *s, const char *why);

/* The latest STATUS= text (also kept without a service manager). Borrowed from s. */
const char *vn_service_status(const struct vn_service *s);

void vn_service_free(struct vn_service *s);

/*
 * The path of systemd credential name (LoadCredential=NAME:...) in $CREDENTIALS_DIRECTORY,
 * written to out. 0 when the variable is set and the file exists; VN_ENOTFOUND otherwise;
 * VN_ETOOBIG when the path does not fit. serve takes "tls.crt" and "tls.key" from there when
 * --tls-cert/--tls-key are not given.
 */
int vn_service_credential(const char *name, char *out, size_t outlen);

#endif
