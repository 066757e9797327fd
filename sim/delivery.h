/*
 * delivery.h - the delivery workers: --delivery-workers threads that POST a JSON body to a
 * receiver with `Authorization: Bearer <token>` (libcurl), so that a slow receiver does not
 * stall the others. They know nothing of vppsim's state: the engine hands them posts and gets
 * each one back, with its outcome, through the done callback (called on a worker thread).
 *
 * Each attempt has --connect-timeout and --delivery-timeout; a redirect (3xx) is a failure
 * and is not followed; only http and https; the receiver's answer is read up to 64 KiB and
 * ignored. Stopping aborts transfers in progress: those posts come back with aborted set.
 *
 * Threads: push and stop from any thread; done runs on a worker (or in stop).
 * Ownership: a pushed post belongs to the pool until it is handed to done; the pool never
 * frees one. sim_delivery_new returns an owned pool (sim_delivery_free after stop).
 */
#ifndef VPPSIM_DELIVERY_H
#define VPPSIM_DELIVERY_H

#include <stdint.h>

struct sim_config;
struct sim_delivery;

#define SIM_WHY_LEN 320

struct sim_post {
    /* What to send (owned by whoever made the post). */
    const char *url, *token, *body;
    int urgent; /* to the front of the queue (a TEST_NOTIFICATION: a client waits) */
    /* What happened. */
    int ok;      /* the receiver answered 2xx */
    long status; /* HTTP status, 0 when there was no answer */
    int aborted; /* vppsim was stopping: this says nothing about the receiver */
    char why[SIM_WHY_LEN];
    int64_t time_ms, duration_ms;
    struct sim_post *next; /* the pool's queue */
};

typedef void (*sim_post_done_fn)(struct sim_post *p, void *ud);

int sim_delivery_new(const struct sim_config *cfg, sim_post_done_fn done, void *ud,
                     struct sim_delivery **out);
int sim_delivery_start(struct sim_delivery *d);
/* Queue a post: 0, or VN_ESHUTDOWN once stopping (the post is not taken). */
int sim_delivery_push(struct sim_delivery *d, struct sim_post *p);
/* Number of workers. */
int sim_delivery_workers(const struct sim_delivery *d);
/* Abort transfers in progress, join the workers; posts still queued come back aborted. */
void sim_delivery_stop(struct sim_delivery *d);
void sim_delivery_free(struct sim_delivery *d);

#endif
