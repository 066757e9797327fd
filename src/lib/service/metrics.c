/* metrics.c - see include/vppnotify/metrics.h. The store-backed gauges are in metrics_store.c. */
#include "vppnotify/metrics.h"
#include "vppnotify/buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- fixed label sets ---------------------------------------------------------------------- */

/* HTTP statuses the notification listener answers (contract section 2), then "other". */
static const unsigned http_codes[] = {200, 202, 400, 401, 403, 404, 405, 408,
                                      411, 413, 414, 415, 431, 500, 503};
#define N_HTTP (sizeof(http_codes) / sizeof(http_codes[0]) + 1)

/* Indexed by enum vn_ntype (0 = a type vppnotify does not know); QUARANTINED has no type. */
#define N_TYPES 8
static const char *const type_label[N_TYPES] = {
    "other",           "TEST_NOTIFICATION", "ASSET_COUNT",        "ASSET_MANAGEMENT",
    "USER_MANAGEMENT", "USER_ASSOCIATED",   "SUBSCRIPTION_COUNT", "SUBSCRIPTION_MANAGEMENT",
};

enum { O_APPLIED, O_DUPLICATE, O_STORED, O_UNAVAILABLE, N_OUTCOMES };
static const char *const outcome_label[N_OUTCOMES] = {"applied", "duplicate", "stored",
                                                      "unavailable"};

static const char *const backoff_label[VN_BACKOFF_N] = {"rate_limited", "server_error",
                                                        "unreachable"};

/* ---- histograms with fixed buckets --------------------------------------------------------- */

#define MAX_BUCKETS 16

struct histogram {
    const char *name, *help;
    int seconds;             /* observations are ns, rendered as seconds; else plain counts */
    size_t n;                /* finite bounds; one more bucket for +Inf */
    int64_t le[MAX_BUCKETS]; /* upper bounds (ns or counts) */
    _Atomic uint64_t count[MAX_BUCKETS + 1];
    _Atomic uint64_t sum;
};

#define MS(x) ((int64_t)((x)*1000000.0))

static struct histogram latency = {
    "vppnotify_ingest_latency_seconds",
    "time from a notification request's first byte to its answer (after the commit)",
    1,
    14,
    {MS(0.5), MS(1), MS(2.5), MS(5), MS(10), MS(25), MS(50), MS(100), MS(250), MS(500), MS(1000),
     MS(2500), MS(5000), MS(10000)},
    {0},
    0,
};

static struct histogram commit_time = {
    "vppnotify_commit_duration_seconds",
    "time one group commit (COMMIT, the fsync) took",
    1,
    12,
    {MS(0.1), MS(0.25), MS(0.5), MS(1), MS(2.5), MS(5), MS(10), MS(25), MS(50), MS(100), MS(250),
     MS(1000)},
    {0},
    0,
};

static struct histogram batch_size = {
    "vppnotify_ingest_batch_size",
    "jobs (notifications, health checks, bookkeeping) committed in one group commit",
    0,
    12,
    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096},
    {0},
    0,
};

static void observe(struct histogram *h, int64_t v)
{
    size_t i = 0;

    if (v < 0)
        v = 0;
    while (i < h->n && v > h->le[i])
        i++;
    atomic_fetch_add_explicit(&h->count[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, (uint64_t)v, memory_order_relaxed);
}

/* ---- the counters -------------------------------------------------------------------------- */

static _Atomic uint64_t http_total[N_HTTP];
static _Atomic uint64_t notif_total[N_TYPES][N_OUTCOMES];
static _Atomic uint64_t quarantined_total;
static _Atomic uint64_t queue_depth;
static _Atomic uint64_t batch_reruns;
static _Atomic uint64_t backoff_total[VN_BACKOFF_N];

struct apple_slot {
    const char *endpoint; /* borrowed literal; NULL: free */
    int status;
    uint64_t count;
};
static pthread_mutex_t apple_mu = PTHREAD_MUTEX_INITIALIZER;
static struct apple_slot apple[VN_METRICS_APPLE_MAX];
static uint64_t apple_other;

static size_t http_index(unsigned status)
{
    for (size_t i = 0; i < N_HTTP - 1; i++)
        if (http_codes[i] == status)
            return i;
    return N_HTTP - 1;
}

void vn_metrics_http_status(unsigned status)
{
    atomic_fetch_add_explicit(&http_total[http_index(status)], 1, memory_order_relaxed);
}

void vn_metrics_notification(enum vn_ntype type, enum vn_outcome outcome)
{
    size_t t = (size_t)type < N_TYPES ? (size_t)type : 0;
    int o;

    switch (outcome) {
    case VN_OUTCOME_APPLIED:
        o = O_APPLIED;
        break;
    case VN_OUTCOME_DUPLICATE:
        o = O_DUPLICATE;
        break;
    case VN_OUTCOME_STORED:
        o = O_STORED;
        break;
    case VN_OUTCOME_QUARANTINED:
        atomic_fetch_add_explicit(&quarantined_total, 1, memory_order_relaxed);
        return;
    case VN_OUTCOME_UNAVAILABLE:
        o = O_UNAVAILABLE;
        break;
    default:
        return;
    }
    atomic_fetch_add_explicit(&notif_total[t][o], 1, memory_order_relaxed);
}

void vn_metrics_ingest_latency(int64_t ns)
{
    observe(&latency, ns);
}

void vn_metrics_batch(size_t jobs)
{
    observe(&batch_size, (int64_t)jobs);
}

void vn_metrics_commit(int64_t ns)
{
    observe(&commit_time, ns);
}

void vn_metrics_batch_rerun(void)
{
    atomic_fetch_add_explicit(&batch_reruns, 1, memory_order_relaxed);
}

void vn_metrics_queue_depth(size_t queued)
{
    atomic_store_explicit(&queue_depth, (uint64_t)queued, memory_order_relaxed);
}

void vn_metrics_apple_request(const char *endpoint, int http_status)
{
    size_t i;

    if (!endpoint)
        endpoint = "other";
    pthread_mutex_lock(&apple_mu);
    for (i = 0; i < VN_METRICS_APPLE_MAX && apple[i].endpoint; i++)
        if (apple[i].status == http_status && !strcmp(apple[i].endpoint, endpoint))
            break;
    if (i == VN_METRICS_APPLE_MAX) {
        apple_other++;
    } else {
        if (!apple[i].endpoint) {
            apple[i].endpoint = endpoint;
            apple[i].status = http_status;
        }
        apple[i].count++;
    }
    pthread_mutex_unlock(&apple_mu);
}

void vn_metrics_apple_backoff(enum vn_backoff_reason why)
{
    if ((unsigned)why < VN_BACKOFF_N)
        atomic_fetch_add_explicit(&backoff_total[why], 1, memory_order_relaxed);
}

static uint64_t load(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

void vn_metrics_totals(struct vn_metrics_totals *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t t = 0; t < N_TYPES; t++) {
        out->applied += load(&notif_total[t][O_APPLIED]);
        out->duplicates += load(&notif_total[t][O_DUPLICATE]);
        out->stored += load(&notif_total[t][O_STORED]);
        out->unavailable += load(&notif_total[t][O_UNAVAILABLE]);
    }
    out->quarantined = load(&quarantined_total);
    out->rejected = load(&http_total[http_index(401)]) + load(&http_total[http_index(403)]);
}

void vn_metrics_reset(void)
{
    for (size_t i = 0; i < N_HTTP; i++)
        atomic_store(&http_total[i], 0);
    for (size_t t = 0; t < N_TYPES; t++)
        for (size_t o = 0; o < N_OUTCOMES; o++)
            atomic_store(&notif_total[t][o], 0);
    atomic_store(&quarantined_total, 0);
    atomic_store(&queue_depth, 0);
    atomic_store(&batch_reruns, 0);
    for (size_t i = 0; i < VN_BACKOFF_N; i++)
        atomic_store(&backoff_total[i], 0);
    struct histogram *hs[] = {&latency, &commit_time, &batch_size};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i <= MAX_BUCKETS; i++)
            atomic_store(&hs[k]->count[i], 0);
        atomic_store(&hs[k]->sum, 0);
    }
    pthread_mutex_lock(&apple_mu);
    memset(apple, 0, sizeof(apple));
    apple_other = 0;
    pthread_mutex_unlock(&apple_mu);
}

/* ---- rendering ----------------------------------------------------------------------------- */

static int header(struct vn_buf *out, const char *name, const char *type, const char *help)
{
    return vn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int render_histogram(struct vn_buf *out, struct histogram *h)
{
    uint64_t cum = 0, counts[MAX_BUCKETS + 1];
    int rc = header(out, h->name, "histogram", h->help);

    /* Read the buckets once; the count is their sum, so a scrape is self-consistent. */
    for (size_t i = 0; i <= h->n; i++)
        counts[i] = load(&h->count[i]);
    for (size_t i = 0; rc == 0 && i < h->n; i++) {
        cum += counts[i];
        if (h->seconds)
            rc = vn_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", h->name, (double)h->le[i] / 1e9,
                               (unsigned long long)cum);
        else
            rc = vn_buf_printf(out, "%s_bucket{le=\"%lld\"} %llu\n", h->name, (long long)h->le[i],
                               (unsigned long long)cum);
    }
    cum += counts[h->n];
    if (rc == 0)
        rc = vn_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", h->name, (unsigned long long)cum);
    if (rc == 0 && h->seconds)
        rc = vn_buf_printf(out, "%s_sum %.9f\n", h->name, (double)load(&h->sum) / 1e9);
    else if (rc == 0)
        rc = vn_buf_printf(out, "%s_sum %llu\n", h->name, (unsigned long long)load(&h->sum));
    if (rc == 0)
        rc = vn_buf_printf(out, "%s_count %llu\n", h->name, (unsigned long long)cum);
    return rc;
}

static int render_apple(struct vn_buf *out)
{
    struct apple_slot copy[VN_METRICS_APPLE_MAX];
    uint64_t other;
    int rc;

    pthread_mutex_lock(&apple_mu);
    memcpy(copy, apple, sizeof(copy));
    other = apple_other;
    pthread_mutex_unlock(&apple_mu);
    rc = header(out, "vppnotify_apple_requests_total", "counter",
                "requests to Apple's service by endpoint and HTTP status (0: no answer)");
    for (size_t i = 0; rc == 0 && i < VN_METRICS_APPLE_MAX && copy[i].endpoint; i++)
        rc = vn_buf_printf(out,
                           "vppnotify_apple_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                           copy[i].endpoint, copy[i].status, (unsigned long long)copy[i].count);
    if (rc == 0 && other)
        rc = vn_buf_printf(out,
                           "vppnotify_apple_requests_total{endpoint=\"other\",status=\"other\"} "
                           "%llu\n",
                           (unsigned long long)other);
    if (rc == 0)
        rc = header(out, "vppnotify_apple_backoffs_total", "counter",
                    "waits before repeating a request to Apple, by reason");
    for (size_t i = 0; rc == 0 && i < VN_BACKOFF_N; i++)
        rc = vn_buf_printf(out, "vppnotify_apple_backoffs_total{reason=\"%s\"} %llu\n",
                           backoff_label[i], (unsigned long long)load(&backoff_total[i]));
    return rc;
}

int vn_metrics_render(struct vn_buf *out)
{
    int rc = header(out, "vppnotify_notifications_total", "counter",
                    "notifications answered, by notificationType and outcome");

    for (size_t t = 0; rc == 0 && t < N_TYPES; t++)
        for (size_t o = 0; rc == 0 && o < N_OUTCOMES; o++)
            rc = vn_buf_printf(
                out, "vppnotify_notifications_total{type=\"%s\",outcome=\"%s\"} %llu\n",
                type_label[t], outcome_label[o], (unsigned long long)load(&notif_total[t][o]));
    if (rc == 0)
        rc = header(out, "vppnotify_quarantined_total", "counter",
                    "request bodies that were not notifications (400), kept in quarantine");
    if (rc == 0)
        rc = vn_buf_printf(out, "vppnotify_quarantined_total %llu\n",
                           (unsigned long long)load(&quarantined_total));
    if (rc == 0)
        rc = header(out, "vppnotify_http_responses_total", "counter",
                    "answers of the notification listener by HTTP status (401/403: rejected)");
    for (size_t i = 0; rc == 0 && i < N_HTTP; i++) {
        char code[16];
        if (i < N_HTTP - 1)
            snprintf(code, sizeof(code), "%u", http_codes[i]);
        else
            snprintf(code, sizeof(code), "other");
        rc = vn_buf_printf(out, "vppnotify_http_responses_total{code=\"%s\"} %llu\n", code,
                           (unsigned long long)load(&http_total[i]));
    }
    if (rc == 0)
        rc = render_histogram(out, &latency);
    if (rc == 0)
        rc = render_histogram(out, &batch_size);
    if (rc == 0)
        rc = render_histogram(out, &commit_time);
    if (rc == 0)
        rc = header(out, "vppnotify_ingest_queue_depth", "gauge",
                    "notifications waiting for the writer");
    if (rc == 0)
        rc = vn_buf_printf(out, "vppnotify_ingest_queue_depth %llu\n",
                           (unsigned long long)load(&queue_depth));
    if (rc == 0)
        rc = header(out, "vppnotify_writer_batch_reruns_total", "counter",
                    "optimistic group commits run again with a savepoint per job");
    if (rc == 0)
        rc = vn_buf_printf(out, "vppnotify_writer_batch_reruns_total %llu\n",
                           (unsigned long long)load(&batch_reruns));
    if (rc == 0)
        rc = render_apple(out);
    return rc;
}
