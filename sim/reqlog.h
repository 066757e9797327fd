/*
 * reqlog.h - what vppsim was asked: per (method, route, status) counters of every answered
 * request (GET /_sim/requests: proves "no request storm"), and a bounded log of every
 * /mdm/v2 request with its location and its start and end on the monotonic clock
 * (GET /_sim/request-log: proves that no two requests of one location overlapped).
 *
 * Start is when vppsim has read the request's headers, end when it queued the answer: both
 * inside the client's own interval, so an overlap seen here was an overlap at the client.
 * The log is a ring of --request-log entries; older entries are overwritten and counted as
 * dropped.
 *
 * Threads: its own mutex (the control area); HTTP threads record, the engine reads.
 * Ownership: sim_reqlog_new returns an owned object (sim_reqlog_free); JSON returned is owned.
 */
#ifndef VPPSIM_REQLOG_H
#define VPPSIM_REQLOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sim_reqlog;

int sim_reqlog_new(size_t capacity, struct sim_reqlog **out);
void sim_reqlog_free(struct sim_reqlog *l);

/* One answered request. route: the counter's path (the request path for known routes,
 * "(unknown)" otherwise); uid "" when not authenticated; apple: a /mdm/v2 request (logged). */
struct sim_reqlog_entry {
    const char *method, *route, *path, *uid;
    int status;
    int apple;
    int64_t start_mono_us, end_mono_us; /* monotonic clock, microseconds */
    int64_t wall_ms;
    const char *agent; /* User-Agent, "" or NULL when none */
};
void sim_reqlog_record(struct sim_reqlog *l, const struct sim_reqlog_entry *e);

/* A /mdm/v2 request began (its headers were read) / ended (answered, or its connection went):
 * the log's inFlight count. */
void sim_reqlog_begin(struct sim_reqlog *l);
void sim_reqlog_end(struct sim_reqlog *l);

/* {total, requests: [{method, path, status, count}]}; reset clears the counters after
 * reading them. */
json_t *sim_reqlog_counters(struct sim_reqlog *l, int reset);
/* {capacity, dropped, maxConcurrent, inFlight, entries: [{id, uId, method, path, status,
 * startMs, endMs (monotonic, milliseconds with microsecond decimals), time, userAgent}]} of
 * entries after after_id (0: all kept), of uid only when not NULL, at most limit.
 * maxConcurrent: the most requests of one location in progress at once among them; inFlight:
 * the /mdm/v2 requests begun and not yet ended now (of every location). */
json_t *sim_reqlog_entries(struct sim_reqlog *l, const char *uid, int64_t after_id, size_t limit);

#endif
