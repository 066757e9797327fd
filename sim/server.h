/*
 * server.h - vppsim's HTTP front (libmicrohttpd): a pool of --http-threads threads that read
 * requests (bodies bounded by --max-body, --max-control-body: 413 beyond), copy what the
 * handlers need, suspend the connection and hand the request to the engine (engine.h); when
 * the engine is done the connection resumes and the answer is sent. So an HTTP thread never
 * waits for the state, an event step, a settle or a receiver. Every answer is counted and
 * every /mdm/v2 request logged with its start and end (reqlog.h).
 *
 * Threads: MHD's; start and stop from main.
 * Ownership: sim_server_start returns an owned server (sim_server_stop frees it); it borrows
 * the configuration, the engine and the request log.
 */
#ifndef VPPSIM_SERVER_H
#define VPPSIM_SERVER_H

#include <stddef.h>

struct sim_config;
struct sim_engine;
struct sim_reqlog;
struct sim_server;
struct vn_error;

/* Listen on cfg->listen; the address actually bound ("127.0.0.1:PORT") goes into bound. */
int sim_server_start(const struct sim_config *cfg, struct sim_engine *e, struct sim_reqlog *log,
                     struct sim_server **out, char *bound, size_t boundlen, struct vn_error *err);
/* Stop listening and close every connection (none may be suspended: stop the engine first). */
void sim_server_stop(struct sim_server *s);

#endif
