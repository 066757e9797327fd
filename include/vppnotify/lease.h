/*
 * lease.h - which serve instance does a location's Apple-facing work (the event tracker, the
 * scheduled syncs, the expiry warnings) when several instances share one PostgreSQL database.
 *
 * A struct vn_leases runs one thread with its own store handle. It lists the locations with an
 * sToken every second (or ttl / 4 if shorter) and takes or renews the lease "location:<uId>"
 * of each every ttl / 4, of a new one at once (vn_store_lease_take, by the database's clock),
 * for this instance's holder id. The instance
 * acts for a location only while its own monotonic clock is within ttl / 2 of the START of the
 * last take that answered "held": a request begun then still has ttl / 2 to end before the
 * lease can pass to another instance (so keep --apple-timeout below --lease-ttl / 2). A holder
 * that dies is replaced within ttl + ttl / 4 (plus one lease statement) by whichever instance
 * polls first. A clean stop gives the leases up at once (vn_leases_stop).
 *
 * On a store only one instance may open (SQLite: serve's lock file), leases are trivially held:
 * no thread, no statement, vn_leases_held always 1.
 *
 * Other work than a location's can be leased the same way: options kind and list name what
 * (the webhook deliveries use "webhook:<endpoint id>", webhook.c, with a struct vn_leases of
 * their own). The rules above are the same for every kind.
 *
 * Thread-safe: vn_leases_held is called by the tracker and sync threads and by sessions.
 * Ownership: vn_leases_start returns an owned object (vn_leases_stop); strings are copied.
 */
#ifndef VPPNOTIFY_LEASE_H
#define VPPNOTIFY_LEASE_H

#include <stdint.h>

#include "vppnotify/store.h"

struct vn_error;
struct vn_leases;

#define VN_LEASE_HOLDER_MAX 96

struct vn_leases_options {
    const char *db; /* store URL; the lease thread opens its own handle */
    struct vn_store_options store;
    const char *holder; /* this instance's id, unique among the instances (vn_lease_holder);
                         * NULL or "": one is made */
    int64_t ttl_ms;     /* how long a lease lasts without renewal; >= 1000 */
    /* What is leased. NULL kind: "location", listed by vn_store_apple_uids. Otherwise leases
     * "<kind>:<key>" for each key list returns (called by the lease thread with its own store
     * handle, every second or ttl / 4: 0 and an array of keys, each at most VN_ID_MAX
     * characters, array and strings owned by the caller; or a store error), and says so in
     * the log as "... this instance <doing>" with the key as field key_field. */
    const char *kind;
    int (*list)(struct vn_store *st, void *ud, char ***keys, size_t *n);
    void *list_ud;         /* borrowed; outlives the leases */
    const char *doing;     /* "does the location's Apple work" */
    const char *key_field; /* "uId" */
};

/* An id for this instance: "<hostname>:<pid>:<12 random hex digits>" (random: unique even
 * where hostname and pid repeat, as in containers). id gets the random part alone, for the
 * User-Agent. */
void vn_lease_holder(char holder[VN_LEASE_HOLDER_MAX], char id[13]);

/* The holder "<hostname>:<pid>:<id>" of an id vn_lease_holder made (serve's other leases). */
void vn_lease_holder_of(char holder[VN_LEASE_HOLDER_MAX], const char *id);

/* Start (on PostgreSQL: the lease thread, which takes the leases at once). NULL with err. */
struct vn_leases *vn_leases_start(const struct vn_leases_options *o, struct vn_error *err);

/* 1 if this instance may act for key (a location's uId, an endpoint's id) now. NULL leases: 1. */
int vn_leases_held(struct vn_leases *l, const char *key);

/* 1 if every location is trivially held (SQLite): callers may skip the per-location checks. */
int vn_leases_trivial(const struct vn_leases *l);

/* Stop the thread and give up the leases held (another instance takes them at once). Call it
 * after the threads that act on the leases have stopped. NULL is allowed. */
void vn_leases_stop(struct vn_leases *l);

#endif
