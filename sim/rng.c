/*
 * rng.c - randomness of vppsim: ids, invite codes, fault decisions, retry jitter.
 *
 * Without --seed every byte comes from libsodium's system generator. With --seed N the bytes
 * come from randombytes_buf_deterministic, keyed by SHA-256 of N and a block counter, so that
 * a run with the same seed and the same sequence of requests makes the same decisions (thread
 * scheduling can still interleave concurrent requests differently).
 */
#include "sim.h"

#include "vppnotify/secret.h"
#include "vppnotify/util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void sim_rng_init(struct sim *s, long long seed)
{
    pthread_mutex_init(&s->rng_mu, NULL);
    s->rng_det = seed != 0;
    s->rng_counter = 0;
    s->rng_used = sizeof(s->rng_pool);
    if (s->rng_det) {
        char text[64];
        int n = snprintf(text, sizeof(text), "vppsim-seed-%lld", seed);
        crypto_hash_sha256(s->rng_key, (const unsigned char *)text, (unsigned long long)n);
    }
}

static void refill(struct sim *s)
{
    unsigned char in[40], key[32];

    memcpy(in, s->rng_key, 32);
    for (int i = 0; i < 8; i++)
        in[32 + i] = (unsigned char)(s->rng_counter >> (8 * i));
    s->rng_counter++;
    crypto_hash_sha256(key, in, sizeof(in));
    randombytes_buf_deterministic(s->rng_pool, sizeof(s->rng_pool), key);
    s->rng_used = 0;
}

void sim_rng_bytes(struct sim *s, void *p, size_t n)
{
    unsigned char *out = p;

    if (!s->rng_det) {
        randombytes_buf(p, n);
        return;
    }
    pthread_mutex_lock(&s->rng_mu);
    while (n > 0) {
        size_t take;
        if (s->rng_used == sizeof(s->rng_pool))
            refill(s);
        take = sizeof(s->rng_pool) - s->rng_used;
        if (take > n)
            take = n;
        memcpy(out, s->rng_pool + s->rng_used, take);
        s->rng_used += take;
        out += take;
        n -= take;
    }
    pthread_mutex_unlock(&s->rng_mu);
}

uint64_t sim_rng_uniform(struct sim *s, uint64_t upper)
{
    uint64_t v, limit;

    if (upper <= 1)
        return 0;
    /* Rejection sampling: no modulo bias. */
    limit = UINT64_MAX - (UINT64_MAX % upper);
    do {
        sim_rng_bytes(s, &v, sizeof(v));
    } while (v >= limit);
    return v % upper;
}

double sim_rng_double(struct sim *s)
{
    uint64_t v;

    sim_rng_bytes(s, &v, sizeof(v));
    return (double)(v >> 11) / 9007199254740992.0; /* 53 bits */
}

int sim_rng_chance(struct sim *s, double p)
{
    if (p <= 0)
        return 0;
    if (p >= 1)
        return 1;
    return sim_rng_double(s) < p;
}

void sim_uuid(struct sim *s, char out[37])
{
    unsigned char b[16];

    sim_rng_bytes(s, b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void sim_hex_token(struct sim *s, size_t n, char *out)
{
    unsigned char b[64];

    if (n > sizeof(b))
        n = sizeof(b);
    sim_rng_bytes(s, b, n);
    vn_hex(b, n, out);
}

int64_t sim_scaled_ms(const struct sim *s, double ms)
{
    double v = ms * s->time_scale;
    return v < 0 ? 0 : (int64_t)(v + 0.5);
}

int64_t sim_retry_offset_ms(struct sim *s, int attempt)
{
    /* Apple: 3 attempts within 1-5 minutes. Attempt 2 at +60-90 s, attempt 3 at +180-240 s. */
    double lo = attempt <= 2 ? 60000 : 180000, span = attempt <= 2 ? 30000 : 60000;

    return sim_scaled_ms(s, lo + sim_rng_double(s) * span);
}
