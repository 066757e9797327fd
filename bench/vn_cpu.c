/*
 * vn_cpu.c - the CPU cost of one notification, for callgrind (bench/cpu.sh).
 *
 *   vn_cpu DB KIND N     KIND: asset_count | assignments100 | duplicates
 *
 * Builds N notification bodies in memory, then runs them through the real path of the daemon
 * minus the network: vn_notification_parse (as an HTTP thread does), SHA-256 of the body, and
 * the ingest writer (dedupe + apply + ledger, group commits). Only that part is instrumented
 * (CALLGRIND_START_INSTRUMENTATION); the figure is instructions / N, stable across runs and
 * independent of machine noise. Outside valgrind the macros do nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>

#include "vppnotify/error.h"
#include "vppnotify/ingest.h"
#include "vppnotify/notification.h"
#include "vppnotify/secret.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#define UID "2049025000431439"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static size_t finished;

static void done(struct vn_ingest_job *job)
{
    pthread_mutex_lock(&lock);
    finished++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static char *make_body(const char *kind, const char *id)
{
    char *b = malloc(16384);
    size_t off;

    if (!b)
        exit(1);
    if (strcmp(kind, "assignments100") != 0) {
        snprintf(b, 16384,
                 "{\"notificationId\":\"%s\",\"notificationType\":\"ASSET_COUNT\",\"uId\":\"" UID
                 "\",\"notification\":{\"adamId\":\"408709785\",\"pricingParam\":\"STDQ\","
                 "\"countDelta\":1}}",
                 id);
        return b;
    }
    off = (size_t)snprintf(b, 16384,
                           "{\"notificationId\":\"%s\",\"notificationType\":\"ASSET_MANAGEMENT\","
                           "\"uId\":\"" UID "\",\"notification\":{\"type\":\"ASSOCIATE\","
                           "\"result\":\"SUCCESS\",\"eventId\":\"cpu\",\"assignments\":[",
                           id);
    for (int i = 0; i < 100; i++)
        off += (size_t)snprintf(b + off, 16384 - off,
                                "%s{\"adamId\":\"361309726\",\"pricingParam\":\"STDQ\","
                                "\"serialNumber\":\"%s-%d\"}",
                                i ? "," : "", id, i);
    snprintf(b + off, 16384 - off, "]}}");
    return b;
}

/* Parse and submit every body, then wait for the writer to finish them all. */
static int run_all(struct vn_ingest *ing, char **bodies, size_t n)
{
    struct vn_ingest_job *jobs = calloc(n, sizeof(*jobs));
    struct vn_notification **parsed = calloc(n, sizeof(*parsed));
    int rc = 0;

    if (!jobs || !parsed)
        return 1;
    finished = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(bodies[i]);
        if (vn_notification_parse(bodies[i], len, NULL, &parsed[i], NULL) != 0)
            return 1;
        jobs[i].kind = VN_JOB_NOTIFICATION;
        jobs[i].n = parsed[i];
        jobs[i].body = bodies[i];
        jobs[i].body_len = len;
        vn_digest(bodies[i], len, jobs[i].digest);
        jobs[i].received_ms = vn_now_ms();
        jobs[i].done = done;
        while (vn_ingest_submit(ing, &jobs[i]) == VN_EFULL)
            ; /* the queue is sized for n; this does not spin in practice */
    }
    pthread_mutex_lock(&lock);
    while (finished < n)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].outcome != VN_OUTCOME_APPLIED && jobs[i].outcome != VN_OUTCOME_DUPLICATE)
            rc = 1;
        vn_notification_free(parsed[i]);
    }
    free(jobs);
    free(parsed);
    return rc;
}

int main(int argc, char **argv)
{
    struct vn_writer_options wo = {.queue_max = 1000000, .batch_max = 64};
    struct vn_writer *w;
    uint8_t digest[VN_DIGEST_LEN];
    struct vn_error err = {0};
    struct vn_ingest *ing;
    struct vn_store *st;
    char **bodies, id[64];
    long long n;
    int rc;

    if (argc != 4 || vn_parse_ll(argv[3], 1, 1000000, &n) != 0) {
        fprintf(stderr, "usage: vn_cpu DB asset_count|assignments100|duplicates N\n");
        return 2;
    }
    vn_secret_init();
    st = vn_store_open(argv[1], NULL, &err);
    if (!st) {
        fprintf(stderr, "vn_cpu: %s\n", err.msg);
        return 1;
    }
    vn_digest("bench", 5, digest);
    vn_store_location_add(st, UID, "cpu", digest, vn_now_ms());
    w = vn_writer_start(st, &wo, &err);
    ing = w ? vn_ingest_new(w, &err) : NULL;
    if (!ing)
        return 1;
    bodies = calloc((size_t)n, sizeof(*bodies));
    for (long long i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s-%lld", argv[2], i);
        bodies[i] = make_body(argv[2], id);
    }
    if (strcmp(argv[2], "duplicates") == 0 && run_all(ing, bodies, (size_t)n) != 0)
        return 1; /* store them first: the measured run then only meets known ids */
    CALLGRIND_START_INSTRUMENTATION;
    rc = run_all(ing, bodies, (size_t)n);
    CALLGRIND_STOP_INSTRUMENTATION;
    vn_ingest_free(ing);
    vn_writer_free(w);
    vn_store_free(st);
    for (long long i = 0; i < n; i++)
        free(bodies[i]);
    free(bodies);
    return rc;
}
