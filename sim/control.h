/*
 * control.h - the /_sim/ control API: everything a test or a developer needs that Apple's
 * service does not offer (docs/VPPSIM.md lists each endpoint with a curl example). JSON in,
 * JSON out; errors are {"error": "..."} with 400 (bad input), 404 (unknown uId or path), 405,
 * 409 (the state does not allow it), 500 (the state failed) or 504 (settle timed out). Never
 * rate-limited, never authenticated: bind vppsim to loopback.
 *
 * Runs on the engine thread; /_sim/settle waits there without holding it (engine.h).
 */
#ifndef VPPSIM_CONTROL_H
#define VPPSIM_CONTROL_H

struct sim_req;

/* Answer a /_sim/ request (its body, if a POST, already parsed into r->json). */
void sim_control(struct sim_req *r);

#endif
