/*
 * rng.c - see rng.h. The stream is randombytes_buf_deterministic keyed by SHA-256 of (stream
 * key, block counter); keyed draws are SHA-256 of (seed key, purpose, id, n).
 */
#include "rng.h"

#include "vppnotify/util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t run)
{
    char text[96];
    int n;

    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    while (seed == 0) /* 0 means "draw one", and stays reserved for that */
        randombytes_buf(&seed, sizeof(seed));
    seed &= 0x3fffffffffffffffULL; /* fits the --seed option's range */
    if (seed == 0)
        seed = 1;
    r->seed = seed;
    n = snprintf(text, sizeof(text), "vppsim-seed-%llu", (unsigned long long)seed);
    crypto_hash_sha256(r->key, (const unsigned char *)text, (unsigned long long)n);
    if (run == 0)
        memcpy(r->stream, r->key, sizeof(r->stream));
    else {
        n = snprintf(text, sizeof(text), "vppsim-seed-%llu-run-%llu", (unsigned long long)seed,
                     (unsigned long long)run);
        crypto_hash_sha256(r->stream, (const unsigned char *)text, (unsigned long long)n);
    }
    r->used = sizeof(r->pool);
}

void sim_rng_release(struct sim_rng *r)
{
    pthread_mutex_destroy(&r->mu);
    sodium_memzero(r->pool, sizeof(r->pool));
}

uint64_t sim_rng_seed(const struct sim_rng *r)
{
    return r->seed;
}

/* Next block of the stream. Called with r->mu held. */
static void refill(struct sim_rng *r)
{
    unsigned char in[40], key[32];

    memcpy(in, r->stream, 32);
    for (int i = 0; i < 8; i++)
        in[32 + i] = (unsigned char)(r->counter >> (8 * i));
    r->counter++;
    crypto_hash_sha256(key, in, sizeof(in));
    randombytes_buf_deterministic(r->pool, sizeof(r->pool), key);
    r->used = 0;
}

void sim_rng_bytes(struct sim_rng *r, void *p, size_t n)
{
    unsigned char *out = p;

    pthread_mutex_lock(&r->mu);
    while (n > 0) {
        size_t take;
        if (r->used == sizeof(r->pool))
            refill(r);
        take = sizeof(r->pool) - r->used;
        if (take > n)
            take = n;
        memcpy(out, r->pool + r->used, take);
        r->used += take;
        out += take;
        n -= take;
    }
    pthread_mutex_unlock(&r->mu);
}

uint64_t sim_rng_uniform(struct sim_rng *r, uint64_t upper)
{
    uint64_t v, limit;

    if (upper <= 1)
        return 0;
    /* Rejection sampling: no modulo bias. */
    limit = UINT64_MAX - (UINT64_MAX % upper);
    do {
        sim_rng_bytes(r, &v, sizeof(v));
    } while (v >= limit);
    return v % upper;
}

double sim_rng_double(struct sim_rng *r)
{
    uint64_t v;

    sim_rng_bytes(r, &v, sizeof(v));
    return (double)(v >> 11) / 9007199254740992.0; /* 53 bits */
}

int sim_rng_chance(struct sim_rng *r, double p)
{
    if (p <= 0)
        return 0;
    if (p >= 1)
        return 1;
    return sim_rng_double(r) < p;
}

void sim_uuid(struct sim_rng *r, char out[37])
{
    unsigned char b[16];

    sim_rng_bytes(r, b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void sim_hex_token(struct sim_rng *r, size_t n, char *out)
{
    unsigned char b[64];

    if (n > sizeof(b))
        n = sizeof(b);
    sim_rng_bytes(r, b, n);
    vn_hex(b, n, out);
}

double sim_rng_keyed(const struct sim_rng *r, const char *purpose, const char *id, int64_t n)
{
    crypto_hash_sha256_state st;
    unsigned char h[32], nb[8];
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        nb[i] = (unsigned char)((uint64_t)n >> (8 * i));
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, r->key, sizeof(r->key));
    crypto_hash_sha256_update(&st, (const unsigned char *)purpose, strlen(purpose) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)(id ? id : ""), strlen(id ? id : "") + 1);
    crypto_hash_sha256_update(&st, nb, sizeof(nb));
    crypto_hash_sha256_final(&st, h);
    for (int i = 0; i < 8; i++)
        v = (v << 8) | h[i];
    return (double)(v >> 11) / 9007199254740992.0;
}

int64_t sim_scaled_ms(double time_scale, double ms)
{
    double v = ms * time_scale;
    return v < 0 ? 0 : (int64_t)(v + 0.5);
}

int64_t sim_retry_offset_ms(double time_scale, double unit, int attempt)
{
    double lo = attempt <= 2 ? 60000 : 180000, span = attempt <= 2 ? 30000 : 60000;

    if (unit < 0)
        unit = 0;
    if (unit >= 1)
        unit = 0.999999;
    return sim_scaled_ms(time_scale, lo + unit * span);
}
