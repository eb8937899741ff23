/* Random numbers for the simulator (internal): xoshiro256** seeded by splitmix64, with
 * uniform, exponential and normal (Marsaglia polar) draws.  Our own generator so that
 * output is identical on every libc and never touches rand()'s global state. */
#ifndef TICKINFER_DATA_SIM_RNG_H
#define TICKINFER_DATA_SIM_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
    double spare;             /* second normal of the last polar pair */
    int has_spare;
} sim_rng;

static inline uint64_t sim_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Independent stream number `stream` of generator `seed`: the pair is hashed through
 * splitmix64, whose outputs fill the xoshiro state (never all zero in practice; guarded). */
static inline void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t st = seed;
    uint64_t h = sim_splitmix64(&st) ^ (stream * UINT64_C(0xD1B54A32D192ED03));
    for (int i = 0; i < 4; i++) r->s[i] = sim_splitmix64(&h);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
    r->has_spare = 0;
    r->spare = 0.0;
}

static inline uint64_t sim_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t sim_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return out;
}

/* Uniform in the open interval (0, 1): safe to take the log of. */
static inline double sim_uniform(sim_rng *r) { return ((double)(sim_next(r) >> 11) + 0.5) * 0x1.0p-53; }

static inline double sim_exp1(sim_rng *r) { return -log(sim_uniform(r)); }

static inline double sim_normal(sim_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, q;
    do {
        u = 2.0 * sim_uniform(r) - 1.0;
        v = 2.0 * sim_uniform(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

#endif
