/*
 * notify.c - notifications: building them (at most 100 elements each), the outbox (table
 * `notifications`), fault decisions at creation (drop, delay, duplicate, reorder), and the
 * delivery workers that POST them with libcurl.
 *
 * Delivery follows Apple: up to 3 attempts until a 2xx; attempt 1 as soon as it is due,
 * attempt 2 60-90 s and attempt 3 180-240 s after attempt 1 (so all three fall inside the
 * documented 1-5 minutes), every delay multiplied by --time-scale. A redirect is a failure
 * and is not followed; each attempt has a connect and a total timeout. Every attempt is a row
 * of `deliveries` (GET /_sim/deliveries).
 */
#include "sim.h"

#include "vppnotify/log.h"
#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ELEMENTS 100
#define MAX_ATTEMPTS 3
#define RESPONSE_MAX (64 * 1024) /* a receiver's answer is read up to this and discarded */

int sim_url_acceptable(const char *url)
{
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = -1;

    if (!h)
        return -1;
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
        goto out;
    if (!strcmp(scheme, "https"))
        rc = 0;
    else if (!strcmp(scheme, "http") &&
             (!strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "[::1]")))
        rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(h);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */

int sim_notify(struct sim *s, const char *uid, const char *type, const char *event_id,
               json_t *payload)
{
    return sim_notify_raw(s, uid, type, event_id, payload, 0, NULL);
}

int sim_notify_raw(struct sim *s, const char *uid, const char *type, const char *event_id,
                   json_t *payload, int force, char nid_out[37])
{
    sqlite3_stmt *st;
    char *url = NULL, *token = NULL, *text = NULL, nid[37];
    json_t *body;
    int64_t now = vn_now_ms(), first = now;
    const char *state = "scheduled";
    int dup = 0, rc = 0;

    if (nid_out)
        nid_out[0] = '\0';
    if (!force && !api_subscribed(s, uid, type))
        return 0;
    st = sim_stmt(s, "SELECT notification_url, notification_auth_token FROM locations"
                     " WHERE uid = ?");
    sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        url = strdup((const char *)sqlite3_column_text(st, 0));
        token = strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (!url || !token)
        goto out;
    sim_uuid(s, nid);
    body = json_pack("{s:O, s:s, s:s, s:s}", "notification", payload, "notificationId", nid,
                     "notificationType", type, "uId", uid);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (sim_rng_chance(s, s->faults.drop))
        state = "dropped";
    if (sim_rng_chance(s, s->faults.delay))
        first += sim_scaled_ms(s, (double)s->faults.delay_by_ms);
    dup = sim_rng_chance(s, s->faults.duplicate);
    rc = sim_exec(s,
                  "INSERT INTO notifications(notification_id, uid, type, event_id, body, url,"
                  " auth_token, state, first_ms, next_ms, dup_left, created_ms)"
                  " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  "ttttttttiiii", nid, uid, type, event_id, text, url, token, state, first, first,
                  (int64_t)dup, now);
    if (nid_out)
        vn_strlcpy(nid_out, nid, 37);
    if (rc == 0 && s->in_batch && !strcmp(state, "scheduled") && s->batch_n < SIM_MAX_BATCH)
        s->batch_ids[s->batch_n++] = sqlite3_last_insert_rowid(s->db);
    vn_log_fields(VN_LOG_DEBUG, "notification queued",
                  (struct vn_log_field[]){VN_LF_S("notificationId", nid), VN_LF_S("type", type),
                                          VN_LF_S("uId", uid), VN_LF_S("eventId", event_id),
                                          VN_LF_S("state", state)},
                  5);
    pthread_cond_broadcast(&s->deliver_cv);
out:
    free(text);
    free(url);
    free(token);
    return rc;
}

int sim_notify_split(struct sim *s, const char *uid, const char *type, const char *event_id,
                     json_t *base, const char *key, json_t *items)
{
    size_t n = json_array_size(items);

    for (size_t off = 0; off < n; off += MAX_ELEMENTS) {
        json_t *part = json_array(), *payload = json_deep_copy(base);
        int rc;
        for (size_t i = off; i < n && i < off + MAX_ELEMENTS; i++)
            json_array_append(part, json_array_get(items, i));
        json_object_set_new(payload, key, part);
        rc = sim_notify(s, uid, type, event_id, payload);
        json_decref(payload);
        if (rc)
            return rc;
    }
    return 0;
}

void sim_notify_batch_begin(struct sim *s)
{
    s->in_batch = 1;
    s->batch_n = 0;
}

void sim_notify_batch_end(struct sim *s)
{
    size_t n = s->batch_n;

    s->in_batch = 0;
    s->batch_n = 0;
    if (n < 2 || !sim_rng_chance(s, s->faults.reorder))
        return;
    {
        size_t perm[SIM_MAX_BATCH], identity = 1;
        /* At most 10 s (scaled) for the whole batch, 1 s between two at the most. */
        int64_t now = vn_now_ms(), step = sim_scaled_ms(s, n > 10 ? 10000.0 / (double)n : 1000);
        if (step < 5)
            step = 5;
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)sim_rng_uniform(s, i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < n; i++)
            identity &= perm[i] == i;
        if (identity) /* a shuffle that changed nothing: reverse instead */
            for (size_t i = 0; i < n; i++)
                perm[i] = n - 1 - i;
        for (size_t i = 0; i < n; i++) {
            int64_t t = now + (int64_t)perm[i] * step;
            sim_exec(s, "UPDATE notifications SET first_ms = ?, next_ms = ? WHERE id = ?", "iii", t,
                     t, s->batch_ids[i]);
        }
        vn_log_info("reordered a batch of %zu notifications", n);
    }
}

/* ---------------------------------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    size_t *total = ud;
    (void)p;
    *total += size * n;
    return *total > RESPONSE_MAX ? 0 : size * n;
}

/* Abort a transfer in progress when vppsim is stopping (the flag is read without the lock:
 * a late read only costs one more progress call). */
static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct sim *s = ud;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return __atomic_load_n(&s->stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

/* POST body to url with the bearer token. 0 on 2xx; -1 with *status (0 if no HTTP answer)
 * and a reason. Never called with sim->mu held. */
static int http_post(struct sim *s, const char *url, const char *token, const char *body,
                     long *status, char *why, size_t whylen)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", *auth;
    size_t alen = strlen(token) + 32, total = 0;
    CURLcode res;

    *status = 0;
    auth = malloc(alen);
    if (!c || !auth) {
        snprintf(why, whylen, "out of memory");
        curl_easy_cleanup(c);
        free(auth);
        return -1;
    }
    snprintf(auth, alen, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->cfg->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->cfg->delivery_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &total);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vppsim/" VN_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    if (s->cfg->ca_file && *s->cfg->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, s->cfg->ca_file);
    res = curl_easy_perform(c);
    if (res == CURLE_WRITE_ERROR && total > RESPONSE_MAX)
        res = CURLE_OK; /* the answer was long; its status is what counts */
    if (res == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (res != CURLE_OK)
        snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
    else if (*status < 200 || *status > 299)
        snprintf(why, whylen, "HTTP %ld%s", *status,
                 *status >= 300 && *status < 400 ? " (redirect not followed)" : "");
    else
        why[0] = '\0';
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    vn_wipe(auth, alen);
    free(auth);
    return res == CURLE_OK && *status >= 200 && *status <= 299 ? 0 : -1;
}

static void record_attempt(struct sim *s, const char *nid, const char *uid, const char *type,
                           const char *event_id, int attempt, int duplicate, long status,
                           const char *why, int64_t t, int64_t dur)
{
    sim_exec(s,
             "INSERT INTO deliveries(notification_id, uid, type, event_id, attempt, duplicate,"
             " status, error, time_ms, duration_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             "ttttiiitii", nid, uid, type, event_id, (int64_t)attempt, (int64_t)duplicate,
             (int64_t)status, why && *why ? why : NULL, t, dur);
    vn_log_fields(VN_LOG_INFO, "delivery",
                  (struct vn_log_field[]){VN_LF_S("notificationId", nid), VN_LF_S("type", type),
                                          VN_LF_S("uId", uid), VN_LF_I("attempt", attempt),
                                          VN_LF_I("status", status),
                                          VN_LF_S("error", why && *why ? why : NULL)},
                  6);
}

int sim_notify_test(struct sim *s, const char *uid, const char *url, const char *token, char *why,
                    size_t whylen)
{
    char nid[37], *text;
    json_t *body;
    long status = 0;
    int64_t t0 = vn_now_ms(), m0 = vn_mono_ns();
    int rc;

    sim_uuid(s, nid);
    body = json_pack("{s:{}, s:s, s:s, s:s}", "notification", "notificationId", nid,
                     "notificationType", "TEST_NOTIFICATION", "uId", uid);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    s->sync_deliveries++;
    pthread_mutex_unlock(&s->mu);
    rc = http_post(s, url, token, text, &status, why, whylen);
    pthread_mutex_lock(&s->mu);
    s->sync_deliveries--;
    sim_exec(s,
             "INSERT INTO notifications(notification_id, uid, type, body, url, auth_token, state,"
             " attempts, first_ms, next_ms, created_ms, last_status)"
             " VALUES(?, ?, 'TEST_NOTIFICATION', ?, ?, ?, ?, 1, ?, ?, ?, ?)",
             "ttttttiiii", nid, uid, text, url, token, rc == 0 ? "delivered" : "failed", t0, t0, t0,
             (int64_t)status);
    record_attempt(s, nid, uid, "TEST_NOTIFICATION", NULL, 1, 0, status, why, t0,
                   (vn_mono_ns() - m0) / 1000000);
    pthread_cond_broadcast(&s->settle_cv);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */

struct job {
    int64_t id;
    char nid[64], uid[40], type[40], event_id[64];
    char *body, *url, *token;
    int attempts, duplicate, dup_left;
    int64_t first_ms;
};

/* Claim the next due notification: 1 and *j filled, or 0 with *wait_ms. Locked. */
static int claim(struct sim *s, struct job *j, int64_t *wait_ms)
{
    int64_t now = vn_now_ms(), next;
    sqlite3_stmt *st = sim_stmt(
        s, "SELECT id, notification_id, uid, type, event_id, body, url, auth_token, attempts,"
           " first_ms, dup_left, state FROM notifications"
           " WHERE state IN ('scheduled', 'redeliver') AND in_flight = 0 AND next_ms <= ?"
           " ORDER BY next_ms, id LIMIT 1");

    sqlite3_bind_int64(st, 1, now);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        next = sim_query_int(s, now + 1000,
                             "SELECT MIN(next_ms) FROM notifications WHERE state IN"
                             " ('scheduled', 'redeliver') AND in_flight = 0",
                             "");
        *wait_ms = next - now;
        if (*wait_ms > 1000)
            *wait_ms = 1000;
        if (*wait_ms < 1)
            *wait_ms = 1;
        return 0;
    }
    memset(j, 0, sizeof(*j));
    j->id = sqlite3_column_int64(st, 0);
    vn_strlcpy(j->nid, (const char *)sqlite3_column_text(st, 1), sizeof(j->nid));
    vn_strlcpy(j->uid, (const char *)sqlite3_column_text(st, 2), sizeof(j->uid));
    vn_strlcpy(j->type, (const char *)sqlite3_column_text(st, 3), sizeof(j->type));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        vn_strlcpy(j->event_id, (const char *)sqlite3_column_text(st, 4), sizeof(j->event_id));
    j->body = strdup((const char *)sqlite3_column_text(st, 5));
    j->url = strdup((const char *)sqlite3_column_text(st, 6));
    j->token = strdup((const char *)sqlite3_column_text(st, 7));
    j->attempts = sqlite3_column_int(st, 8);
    j->first_ms = sqlite3_column_int64(st, 9);
    j->dup_left = sqlite3_column_int(st, 10);
    j->duplicate = !strcmp((const char *)sqlite3_column_text(st, 11), "redeliver");
    sqlite3_reset(st);
    sim_exec(s, "UPDATE notifications SET in_flight = 1 WHERE id = ?", "i", j->id);
    return 1;
}

/* After an attempt: record it and decide what comes next. Locked. */
static void finish(struct sim *s, struct job *j, int ok, long status, const char *why, int64_t t,
                   int64_t dur)
{
    int attempt = j->attempts + 1;
    int64_t now = vn_now_ms();

    record_attempt(s, j->nid, j->uid, j->type, j->event_id[0] ? j->event_id : NULL,
                   j->duplicate ? j->attempts + 1 : attempt, j->duplicate, status, why, t, dur);
    if (j->duplicate) {
        sim_exec(s, "UPDATE notifications SET state = 'delivered', in_flight = 0 WHERE id = ?", "i",
                 j->id);
    } else if (ok && j->dup_left > 0) {
        /* Fault: deliver the same notification once more, a little later. */
        int64_t next = now + sim_scaled_ms(s, (double)(1000 + sim_rng_uniform(s, 4000)));
        sim_exec(s,
                 "UPDATE notifications SET state = 'redeliver', attempts = ?, dup_left = 0,"
                 " in_flight = 0, next_ms = ?, last_status = ?, first_ms = ? WHERE id = ?",
                 "iiiii", (int64_t)attempt, next, (int64_t)status, attempt == 1 ? t : j->first_ms,
                 j->id);
    } else if (ok) {
        sim_exec(s,
                 "UPDATE notifications SET state = 'delivered', attempts = ?, in_flight = 0,"
                 " last_status = ? WHERE id = ? ",
                 "iii", (int64_t)attempt, (int64_t)status, j->id);
    } else if (attempt >= MAX_ATTEMPTS) {
        sim_exec(s,
                 "UPDATE notifications SET state = 'failed', attempts = ?, in_flight = 0,"
                 " last_status = ? WHERE id = ?",
                 "iii", (int64_t)attempt, (int64_t)status, j->id);
        vn_log_fields(
            VN_LOG_INFO, "notification lost after 3 attempts",
            (struct vn_log_field[]){VN_LF_S("notificationId", j->nid), VN_LF_S("type", j->type)},
            2);
    } else {
        /* Retry: attempt 2 at +60-90 s, attempt 3 at +180-240 s after attempt 1 (scaled). */
        int64_t first = attempt == 1 ? t : j->first_ms;
        int64_t next = first + sim_retry_offset_ms(s, attempt + 1);
        if (next < now)
            next = now;
        sim_exec(s,
                 "UPDATE notifications SET attempts = ?, in_flight = 0, next_ms = ?,"
                 " first_ms = ?, last_status = ? WHERE id = ?",
                 "iiiii", (int64_t)attempt, next, first, (int64_t)status, j->id);
    }
    pthread_cond_broadcast(&s->settle_cv);
    pthread_cond_broadcast(&s->deliver_cv);
}

static void *delivery_main(void *arg)
{
    struct sim *s = arg;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct job j;
        int64_t wait_ms = 0;
        if (claim(s, &j, &wait_ms)) {
            long status = 0;
            char why[CURL_ERROR_SIZE + 64] = "";
            int64_t t = vn_now_ms(), m0;
            int ok;
            pthread_mutex_unlock(&s->mu);
            m0 = vn_mono_ns();
            ok = http_post(s, j.url, j.token, j.body, &status, why, sizeof(why)) == 0;
            pthread_mutex_lock(&s->mu);
            finish(s, &j, ok, status, why, t, (vn_mono_ns() - m0) / 1000000);
            free(j.body);
            free(j.url);
            free(j.token);
        } else {
            struct timespec ts;
            int64_t until = vn_now_ms() + wait_ms;
            ts.tv_sec = until / 1000;
            ts.tv_nsec = (long)(until % 1000) * 1000000L;
            pthread_cond_timedwait(&s->deliver_cv, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sim_notify_start(struct sim *s)
{
    s->ndelivery = (size_t)s->cfg->delivery_workers;
    s->delivery_threads = calloc(s->ndelivery, sizeof(pthread_t));
    if (!s->delivery_threads)
        return -ENOMEM;
    for (size_t i = 0; i < s->ndelivery; i++) {
        if (pthread_create(&s->delivery_threads[i], NULL, delivery_main, s) != 0) {
            s->ndelivery = i;
            return -EAGAIN;
        }
    }
    return 0;
}

void sim_notify_stop(struct sim *s)
{
    pthread_mutex_lock(&s->mu);
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->deliver_cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->ndelivery; i++)
        pthread_join(s->delivery_threads[i], NULL);
    free(s->delivery_threads);
    s->delivery_threads = NULL;
    s->ndelivery = 0;
}

int sim_notify_busy(struct sim *s)
{
    return s->sync_deliveries > 0 ||
           sim_query_int(s, 0,
                         "SELECT COUNT(*) FROM notifications WHERE state IN"
                         " ('scheduled', 'redeliver')",
                         "") > 0;
}
