/*
 * engine.h - vppsim's one state thread. Every read and write of the state (SQLite) happens
 * on it, so the state needs no lock and every change is one short transaction in order, as
 * the daemon's single writer does. It runs, one at a time:
 *
 *   - the requests the HTTP threads hand it (their connections suspended meanwhile, so no
 *     HTTP thread ever waits for the state, an event step or a receiver);
 *   - the steps of async events when they are due (unless processing is paused);
 *   - the outbox: it claims due notifications and hands them to the delivery workers
 *     (delivery.h), and records each attempt when it comes back;
 *   - waiting requests: /_sim/settle until nothing is pending or its timeout, Client Config
 *     until its TEST_NOTIFICATION has been answered.
 *
 * Threads: sim_engine_submit and the delivery callback from any thread; the wait functions
 * and the processing switch from handlers, which run on the engine thread.
 * Ownership: a submitted request stays the server's; the engine hands it back through
 * r->done exactly once and never touches it afterwards. sim_engine_new returns an owned
 * engine (sim_engine_free after stop); it borrows the context and the delivery pool.
 */
#ifndef VPPSIM_ENGINE_H
#define VPPSIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "req.h"

struct sim_ctx;
struct sim_delivery;
struct sim_engine;
struct sim_post;

/* queue_max bounds the requests waiting for the engine (beyond: 503). */
int sim_engine_new(struct sim_ctx *c, size_t queue_max, struct sim_engine **out);
/* The callback to give sim_delivery_new (ud: the engine). */
void sim_engine_post_done(struct sim_post *p, void *ud);
int sim_engine_start(struct sim_engine *e, struct sim_delivery *d);
/* Finish what came back from the delivery workers, answer every queued and waiting request
 * with 503, and stop the thread. Call after sim_delivery_stop. */
void sim_engine_stop(struct sim_engine *e);
void sim_engine_free(struct sim_engine *e);

/* Hand a request to the engine: it runs r->run(r), then r->done(r) (perhaps later, when it
 * waits). VN_EFULL when the queue is full, VN_ESHUTDOWN when stopping: not taken then. */
int sim_engine_submit(struct sim_engine *e, struct sim_req *r);

/* From a handler: answer r through fn once nothing is pending (no event waiting to be
 * processed, no notification scheduled or being delivered) or at deadline_ms. */
void sim_engine_wait_settled(struct sim_engine *e, struct sim_req *r, int64_t deadline_ms,
                             sim_settled_fn fn);
/* From a handler: deliver body to url now, one attempt, and answer r through fn with its
 * outcome. VN_ESHUTDOWN (r not waiting) when the delivery workers are stopping. */
int sim_engine_wait_tested(struct sim_engine *e, struct sim_req *r, const char *url,
                           const char *token, const char *body, sim_tested_fn fn);

/* Requests waiting now: for settle, for their TEST_NOTIFICATION. Engine thread. */
void sim_engine_waiting(const struct sim_engine *e, int *settles, int *tests);

/* Event processing switch (POST /_sim/processing). */
void sim_engine_set_paused(struct sim_engine *e, int paused);
int sim_engine_paused(const struct sim_engine *e);

#endif
