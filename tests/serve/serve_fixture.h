/* Shared helpers for the server tests: deterministic raw feature inputs, an in-process
 * reference forward (same checkpoint, same normalisation), JSON request builders and
 * response parsing (jansson).  Header-only. */
#ifndef TICKINFER_TESTS_SERVE_FIXTURE_H
#define TICKINFER_TESTS_SERVE_FIXTURE_H

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>

#include "serve/sbuf.h"
#include "tickinfer/transformer.h"

#define RV_PATH "models/rv_causal_optiver.safetensors"

typedef struct ref_model {
    ti_tfm *m;
    ti_ckpt_meta meta;
    ti_runstate *rs;
} ref_model;

static inline ti_err ref_open(ref_model *r, const char *path, int B_max)
{
    memset(r, 0, sizeof *r);
    ti_err e = ti_tfm_load(&r->m, &r->meta, path, NULL);
    if (!e) e = ti_runstate_create(&r->rs, r->m, B_max, 0, 0);
    return e;
}

static inline void ref_close(ref_model *r)
{
    ti_runstate_destroy(r->rs);
    ti_tfm_destroy(r->m);
    ti_ckpt_meta_free(&r->meta);
}

/* y [B,T] (causal) from raw x [B,T,F]: normalise with the checkpoint's mean/std, forward. */
static inline ti_err ref_forward(ref_model *r, float *y, const float *x_raw, int B, int T)
{
    int F = ti_tfm_get_config(r->m)->n_features;
    size_t n = (size_t)B * (size_t)T * (size_t)F;
    float *x = malloc(n * sizeof *x);
    if (!x) return TI_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int f = (int)(i % (size_t)F);
        x[i] = r->meta.mean ? (x_raw[i] - r->meta.mean[f]) / r->meta.std[f] : x_raw[i];
    }
    ti_err e = ti_tfm_forward(r->m, r->rs, y, x, B, T, NULL);
    free(x);
    return e;
}

/* Raw features around the checkpoint's mean, deterministic in seed. */
static inline void make_input(const ref_model *r, float *x, int B, int T, uint64_t seed)
{
    int F = ti_tfm_get_config(r->m)->n_features;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < (size_t)B * (size_t)T * (size_t)F; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        int f = (int)(i % (size_t)F);
        double mu = r->meta.mean ? r->meta.mean[f] : 0, sd = r->meta.std ? r->meta.std[f] : 1;
        x[i] = (float)(mu + sd * u);
    }
}

/* Nested JSON array of x [B,T,F]. */
static inline ti_err json_tensor3(sv_sbuf *o, const float *x, int B, int T, int F)
{
    ti_err e = sv_sbuf_puts(o, "[");
    for (int b = 0; b < B && !e; b++) {
        e = sv_sbuf_puts(o, b ? ",[" : "[");
        for (int t = 0; t < T && !e; t++) {
            e = sv_sbuf_puts(o, t ? ",[" : "[");
            if (!e) e = sv_sbuf_floats(o, x + ((size_t)b * (size_t)T + (size_t)t) * (size_t)F, (size_t)F);
            if (!e) e = sv_sbuf_puts(o, "]");
        }
        if (!e) e = sv_sbuf_puts(o, "]");
    }
    return e ? e : sv_sbuf_puts(o, "]");
}

/* Flatten a (nested) JSON number array into out[cap]; returns the count or -1. */
static inline long json_flatten(const json_t *a, float *out, long cap, long n)
{
    if (json_is_number(a)) {
        if (n >= cap) return -1;
        out[n] = (float)json_number_value(a);
        return n + 1;
    }
    if (!json_is_array(a)) return -1;
    for (size_t i = 0; i < json_array_size(a) && n >= 0; i++) n = json_flatten(json_array_get(a, i), out, cap, n);
    return n;
}

static inline int max_rel_ok(const float *a, const float *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - (double)b[i]) <= tol * (1.0 + fabs((double)b[i])))) return 0;
    return 1;
}

/* Run `cmd` (a shell line), echo its output indented on stderr, return its exit code
 * (-1 if it did not exit normally). */
static inline int run_echo(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    while (fgets(line, sizeof line, p)) fprintf(stderr, "    %s", line);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
