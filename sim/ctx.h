/*
 * ctx.h - what the code running on vppsim's engine thread works with: the configuration, the
 * state (SQLite), randomness, the control-area settings, and the batch of notifications being
 * built. One struct, filled once by main.c; it names the parts and owns none of them.
 *
 * Threads: db and batch belong to the engine thread (engine.h); cfg is read-only; rng,
 * faults, limits and reqlog lock themselves.
 */
#ifndef VPPSIM_CTX_H
#define VPPSIM_CTX_H

struct sim_config;
struct sim_db;
struct sim_rng;
struct sim_faults;
struct sim_limits;
struct sim_reqlog;
struct sim_batch;
struct sim_engine;

struct sim_ctx {
    const struct sim_config *cfg;
    double time_scale; /* --time-scale, parsed */
    struct sim_db *db;
    struct sim_rng *rng;
    struct sim_faults *faults;
    struct sim_limits *limits;
    struct sim_reqlog *reqlog;
    struct sim_batch *batch;   /* outbox.c: the notifications of the batch being built */
    struct sim_engine *engine; /* for the handlers that wait (settle, Client Config) */
    char bound[128];           /* host:port the server listens on */
};

#endif
