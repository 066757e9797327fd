/*
 * delivery.c - see delivery.h.
 */
#include "delivery.h"

#include "config.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_MAX (64 * 1024) /* a receiver's answer is read up to this and discarded */

struct sim_delivery {
    const struct sim_config *cfg;
    sim_post_done_fn done;
    void *ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sim_post *head, *tail;
    int stopping; /* read by transfers in progress without the lock (atomic) */
    pthread_t *threads;
    int nthreads;
};

int sim_delivery_new(const struct sim_config *cfg, sim_post_done_fn done, void *ud,
                     struct sim_delivery **out)
{
    struct sim_delivery *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (!d)
        return -ENOMEM;
    d->cfg = cfg;
    d->done = done;
    d->ud = ud;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    *out = d;
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    size_t *total = ud;
    (void)p;
    *total += size * n;
    return *total > RESPONSE_MAX ? 0 : size * n;
}

/* Abort a transfer in progress when vppsim is stopping. */
static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct sim_delivery *d = ud;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return __atomic_load_n(&d->stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

static void post_one(struct sim_delivery *d, struct sim_post *p)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", *auth;
    size_t alen = strlen(p->token) + 32, total = 0;
    int64_t m0 = vn_mono_ns();
    CURLcode res;

    p->time_ms = vn_now_ms();
    p->ok = 0;
    p->status = 0;
    p->why[0] = '\0';
    auth = malloc(alen);
    if (!c || !auth) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        curl_easy_cleanup(c);
        free(auth);
        return;
    }
    snprintf(auth, alen, "Authorization: Bearer %s", p->token);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(p->body));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)d->cfg->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->cfg->delivery_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &total);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vppsim/" VN_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
    if (d->cfg->ca_file && *d->cfg->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, d->cfg->ca_file);
    res = curl_easy_perform(c);
    if (res == CURLE_WRITE_ERROR && total > RESPONSE_MAX)
        res = CURLE_OK; /* the answer was long; its status is what counts */
    if (res == CURLE_ABORTED_BY_CALLBACK)
        p->aborted = 1;
    if (res == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->status);
    if (res != CURLE_OK)
        snprintf(p->why, sizeof(p->why), "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
    else if (p->status < 200 || p->status > 299)
        snprintf(p->why, sizeof(p->why), "HTTP %ld%s", p->status,
                 p->status >= 300 && p->status < 400 ? " (redirect not followed)" : "");
    p->ok = res == CURLE_OK && p->status >= 200 && p->status <= 299;
    p->duration_ms = (vn_mono_ns() - m0) / 1000000;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    vn_wipe(auth, alen);
    free(auth);
}

static void *worker(void *arg)
{
    struct sim_delivery *d = arg;

    pthread_mutex_lock(&d->mu);
    for (;;) {
        struct sim_post *p;
        while (!d->stopping && !d->head)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->stopping)
            break;
        p = d->head;
        d->head = p->next;
        if (!d->head)
            d->tail = NULL;
        p->next = NULL;
        pthread_mutex_unlock(&d->mu);
        post_one(d, p);
        d->done(p, d->ud);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int sim_delivery_start(struct sim_delivery *d)
{
    int n = (int)d->cfg->delivery_workers;

    d->threads = calloc((size_t)n, sizeof(pthread_t));
    if (!d->threads)
        return -ENOMEM;
    for (d->nthreads = 0; d->nthreads < n; d->nthreads++) {
        int rc = pthread_create(&d->threads[d->nthreads], NULL, worker, d);
        if (rc != 0)
            return -rc;
    }
    return 0;
}

int sim_delivery_push(struct sim_delivery *d, struct sim_post *p)
{
    pthread_mutex_lock(&d->mu);
    if (d->stopping) {
        pthread_mutex_unlock(&d->mu);
        return VN_ESHUTDOWN;
    }
    p->aborted = 0;
    if (p->urgent) {
        p->next = d->head;
        d->head = p;
        if (!d->tail)
            d->tail = p;
    } else {
        p->next = NULL;
        if (d->tail)
            d->tail->next = p;
        else
            d->head = p;
        d->tail = p;
    }
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

int sim_delivery_workers(const struct sim_delivery *d)
{
    return (int)d->cfg->delivery_workers;
}

void sim_delivery_stop(struct sim_delivery *d)
{
    struct sim_post *left;

    pthread_mutex_lock(&d->mu);
    __atomic_store_n(&d->stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&d->cv);
    left = d->head;
    d->head = d->tail = NULL;
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    d->nthreads = 0;
    while (left) {
        struct sim_post *p = left;
        left = p->next;
        p->next = NULL;
        p->aborted = 1;
        snprintf(p->why, sizeof(p->why), "vppsim stopped before the attempt");
        d->done(p, d->ud);
    }
}

void sim_delivery_free(struct sim_delivery *d)
{
    if (!d)
        return;
    free(d->threads);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
