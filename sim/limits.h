/*
 * limits.h - the Service Config `limits` (apple-api.md section 1.4): defaults are Apple's
 * example values, `--limit NAME=N` overrides them at start and POST /_sim/limits at run time.
 *
 * Threads: the values have their own mutex (the control area), so any thread may read them.
 * Ownership: the caller owns struct sim_limits (sim_limits_init / sim_limits_release); JSON
 * returned is owned by the caller.
 */
#ifndef VPPSIM_LIMITS_H
#define VPPSIM_LIMITS_H

#include <jansson.h>
#include <pthread.h>

struct vn_error;

enum sim_limit_id {
    LIM_MAX_ASSETS,
    LIM_MAX_CLIENT_USER_IDS,
    LIM_MAX_SERIAL_NUMBERS,
    LIM_MAX_REVOKE_CLIENT_USER_IDS,
    LIM_MAX_REVOKE_SERIAL_NUMBERS,
    LIM_MAX_USERS,
    LIM_MAX_SUBSCRIPTIONS,
    LIM_MAX_SUBSCRIPTION_CLIENT_USER_IDS,
    LIM_MAX_NOTIFICATION_LENGTH,
    LIM_MAX_MDM_NAME_LENGTH,
    LIM_MAX_MDM_ID_LENGTH,
    LIM_MAX_MDM_METADATA_LENGTH,
    LIM_MAX_REQUEST_PER_SECOND,
    LIM_COUNT
};

#define SIM_MAX_BUCKETS 1024

struct sim_bucket {
    char uid[40];
    double tokens;
    int64_t last_ns;
};

struct sim_limits {
    pthread_mutex_t mu;
    long long value[LIM_COUNT];
    struct sim_bucket buckets[SIM_MAX_BUCKETS];
    size_t nbuckets;
};

/* Apple's example values. */
void sim_limits_init(struct sim_limits *l);
void sim_limits_release(struct sim_limits *l);
long long sim_limit(struct sim_limits *l, enum sim_limit_id id);
/* Set one limit by its Service Config name: 0, or -1 if no limit has that name. */
int sim_limit_set(struct sim_limits *l, const char *name, long long value);
/* Apply "NAME=N" (the --limit option): 0 or VN_EUSAGE with err. */
int sim_limit_parse(struct sim_limits *l, const char *text, struct vn_error *err);
/* Apply a POST /_sim/limits body {name: N, ...}, all or nothing: 0 or VN_EPARSE with err. */
int sim_limits_update(struct sim_limits *l, const json_t *body, struct vn_error *err);
/* Take one request of uid from its bucket at now_ns (monotonic): 1 if allowed, 0 if the
 * location is over maxRequestPerSecond (429/9646). A limit of 0 allows everything. */
int sim_limits_admit(struct sim_limits *l, const char *uid, int64_t now_ns);
/* {name: value, ...} */
json_t *sim_limits_json(struct sim_limits *l);

#endif
