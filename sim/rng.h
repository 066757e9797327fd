/*
 * rng.h - vppsim's randomness: ids, invite codes, fault decisions, retry jitter.
 *
 * Every random choice derives from one seed (--seed N; when N is 0 a seed is drawn from the
 * system and printed at start), so that a run can be replayed:
 *
 *   - a stream (sim_rng_bytes and the functions built on it) for ids, in the order they are
 *     asked for. The stream of a restart with --state is keyed by the seed and the run number,
 *     so that ids never repeat across restarts and a replay with the same restarts repeats them;
 *   - keyed draws (sim_rng_keyed) for decisions about a thing that has an id (drop this
 *     notification, the jitter of its second attempt): they depend only on the seed and the
 *     id, not on the order in which threads happened to ask.
 *
 * Thread safety: the stream has its own mutex; keyed draws touch no state.
 * Ownership: the caller owns struct sim_rng (sim_rng_init / sim_rng_release).
 */
#ifndef VPPSIM_RNG_H
#define VPPSIM_RNG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct sim_rng {
    pthread_mutex_t mu;
    uint64_t seed;
    unsigned char key[32];    /* SHA-256 of the seed: keyed draws */
    unsigned char stream[32]; /* SHA-256 of the seed and the run: the stream */
    uint64_t counter;
    unsigned char pool[1024];
    size_t used;
};

/* Seed the generator (seed 0: draw one from the system; read it back with sim_rng_seed).
 * run selects the stream (the run number of a --state file; 0 for none). */
void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t run);
void sim_rng_release(struct sim_rng *r);
uint64_t sim_rng_seed(const struct sim_rng *r);

/* The stream. */
void sim_rng_bytes(struct sim_rng *r, void *p, size_t n);
/* Uniform in [0, upper). */
uint64_t sim_rng_uniform(struct sim_rng *r, uint64_t upper);
/* Uniform in [0, 1). */
double sim_rng_double(struct sim_rng *r);
/* 1 with probability p (p <= 0 never, p >= 1 always, drawing nothing then). */
int sim_rng_chance(struct sim_rng *r, double p);
/* A version-4 UUID into out (37 bytes with the NUL). */
void sim_uuid(struct sim_rng *r, char out[37]);
/* n (at most 64) random bytes as lower-case hex into out (2n+1 bytes). */
void sim_hex_token(struct sim_rng *r, size_t n, char *out);

/* A keyed draw in [0, 1): a function of the seed, purpose, id and n only. */
double sim_rng_keyed(const struct sim_rng *r, const char *purpose, const char *id, int64_t n);

/* A duration of ms milliseconds multiplied by --time-scale (never negative). */
int64_t sim_scaled_ms(double time_scale, double ms);
/* When delivery attempt 2 or 3 is due after attempt 1, in scaled milliseconds: Apple's three
 * attempts within 1-5 minutes (attempt 2 at +60-90 s, attempt 3 at +180-240 s); unit in [0, 1)
 * picks the point in the window. */
int64_t sim_retry_offset_ms(double time_scale, double unit, int attempt);

#endif
