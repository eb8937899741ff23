/* Streaming decode: exactness against an independent double-precision banded-causal
 * reference and against the full forward, ring vs paged, pool leaks and cross-symbol
 * corruption under random open/close, prefix copy-on-write, incremental features. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "tickinfer/features.h"
#include "tickinfer/ingest.h"
#include "tickinfer/kernels.h"
#include "tickinfer/stream.h"

#define BUNDLED_MODEL "models/rv_causal_optiver.safetensors"

/* |a - b| / max(|b|, 1e-3): y is a log RV (about -6), so this is a relative error. */
static double rel_err(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-3); }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static float nrand(void) { return (float)(sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand())); }

/* ---- the reference: banded causal forward over the whole stream, in double -------------- */

static const float *T_(const ti_tfm *m, const char *fmt, int l)
{
    char name[64];
    snprintf(name, sizeof name, fmt, l);
    const ti_tfm_tensor *t = ti_tfm_find_tensor(m, name);
    if (!t) {
        fprintf(stderr, "tensor %s missing\n", name);
        abort();
    }
    return ti_tfm_params(m) + t->offset;
}

static void ref_linear(double *out, const double *in, const float *W, const float *b, int N, int K)
{
    for (int n = 0; n < N; n++) {
        double s = b ? b[n] : 0.0;
        for (int k = 0; k < K; k++) s += (double)W[(size_t)n * K + k] * in[k];
        out[n] = s;
    }
}

static void ref_ln(double *out, const double *in, const float *w, const float *b, int C, double eps)
{
    double mu = 0, var = 0;
    for (int i = 0; i < C; i++) mu += in[i];
    mu /= C;
    for (int i = 0; i < C; i++) var += (in[i] - mu) * (in[i] - mu);
    var /= C;
    const double r = 1.0 / sqrt(var + eps);
    for (int i = 0; i < C; i++) out[i] = (in[i] - mu) * r * w[i] + b[i];
}

/* y [N] for inputs x [N,F] (normalised), query i attending keys (i-W, i] and the sinks
 * j < K at every layer. */
static void ref_forward_banded(double *y, const ti_tfm *m, const float *x, int N, int W, int K)
{
    const ti_tfm_config *c = ti_tfm_get_config(m);
    const int C = c->d_model, H = c->n_heads, hd = C / H, D = c->d_ff, F = c->n_features;
    const float *alibi = ti_tfm_alibi(m);
    double *h = malloc(sizeof(double) * (size_t)N * C), *qkv = malloc(sizeof(double) * (size_t)N * 3 * C);
    double ln[1024], att[1024], tmp[1024], fc[4096], xin[256];
    double *p = malloc(sizeof(double) * (size_t)(W + K));
    int *js = malloc(sizeof(int) * (size_t)(W + K));
    for (int i = 0; i < N; i++) {
        for (int f = 0; f < F; f++) xin[f] = x[(size_t)i * F + f];
        ref_linear(h + (size_t)i * C, xin, T_(m, "proj.weight", 0), T_(m, "proj.bias", 0), C, F);
    }
    for (int l = 0; l < c->n_layers; l++) {
        for (int i = 0; i < N; i++) {
            ref_ln(ln, h + (size_t)i * C, T_(m, "layers.%d.norm1.weight", l), T_(m, "layers.%d.norm1.bias", l), C,
                   c->ln_eps);
            ref_linear(qkv + (size_t)i * 3 * C, ln, T_(m, "layers.%d.in_proj.weight", l),
                       T_(m, "layers.%d.in_proj.bias", l), 3 * C, C);
        }
        for (int i = 0; i < N; i++) {
            const int j0 = i - W + 1 > 0 ? i - W + 1 : 0;
            int nj = 0; /* the keys query i sees: sinks below the band, then the band */
            for (int j = 0; j < K && j < j0; j++) js[nj++] = j;
            for (int j = j0; j <= i; j++) js[nj++] = j;
            for (int hh = 0; hh < H; hh++) {
                const double *q = qkv + (size_t)i * 3 * C + hh * hd;
                double mx = -INFINITY, sum = 0;
                for (int t = 0; t < nj; t++) {
                    const double *k = qkv + (size_t)js[t] * 3 * C + C + hh * hd;
                    double s = 0;
                    for (int d = 0; d < hd; d++) s += q[d] * k[d];
                    s = s / sqrt((double)hd) - (double)alibi[hh] * (i - js[t]);
                    p[t] = s;
                    mx = fmax(mx, s);
                }
                for (int t = 0; t < nj; t++) sum += (p[t] = exp(p[t] - mx));
                for (int d = 0; d < hd; d++) {
                    double a = 0;
                    for (int t = 0; t < nj; t++) a += p[t] * qkv[(size_t)js[t] * 3 * C + 2 * C + hh * hd + d];
                    att[hh * hd + d] = a / sum;
                }
            }
            double *hi = h + (size_t)i * C;
            ref_linear(tmp, att, T_(m, "layers.%d.out_proj.weight", l), T_(m, "layers.%d.out_proj.bias", l), C, C);
            for (int d = 0; d < C; d++) hi[d] += tmp[d];
            ref_ln(ln, hi, T_(m, "layers.%d.norm2.weight", l), T_(m, "layers.%d.norm2.bias", l), C, c->ln_eps);
            ref_linear(fc, ln, T_(m, "layers.%d.linear1.weight", l), T_(m, "layers.%d.linear1.bias", l), D, C);
            for (int d = 0; d < D; d++) {
                const double v = fc[d];
                fc[d] = 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
            }
            ref_linear(tmp, fc, T_(m, "layers.%d.linear2.weight", l), T_(m, "layers.%d.linear2.bias", l), C, D);
            for (int d = 0; d < C; d++) hi[d] += tmp[d];
        }
    }
    for (int i = 0; i < N; i++) {
        ref_ln(ln, h + (size_t)i * C, T_(m, "head.0.weight", 0), T_(m, "head.0.bias", 0), C, c->ln_eps);
        ref_linear(&y[i], ln, T_(m, "head.1.weight", 0), T_(m, "head.1.bias", 0), 1, C);
    }
    free(h), free(qkv), free(p), free(js);
}

static ti_tfm *bundled(ti_ckpt_meta *meta)
{
    ti_tfm *m = NULL;
    if (ti_tfm_load(&m, meta, BUNDLED_MODEL, NULL) != TI_OK) return NULL;
    return m;
}

/* A small random causal model for the heavy randomized tests. */
static ti_tfm *small_model(int context)
{
    ti_tfm_config cfg;
    ti_tfm_config_default(&cfg, TI_TFM_RV_CAUSAL);
    cfg.n_features = 5, cfg.d_model = 16, cfg.n_heads = 2, cfg.n_layers = 2, cfg.d_ff = 24, cfg.context = context;
    ti_tfm *m = NULL;
    if (ti_tfm_create(&m, &cfg) != TI_OK) return NULL;
    ti_tfm_init(m, 7);
    /* head bias at a realistic log RV (the trainer starts it at the mean log target) */
    ti_tfm_params_mut(m)[ti_tfm_find_tensor(m, "head.1.bias")->offset] = -6.0f;
    if (ti_tfm_pack(m) != TI_OK) return NULL;
    return m;
}

/* The bundled model with its context raised to 4096 (ALiBi has no position table, so the
 * weights load unchanged): lets the window exceed the 300 it was trained on. */
static ti_tfm *bundled_long(void)
{
    ti_ckpt_meta meta;
    ti_tfm *probe = bundled(&meta);
    if (!probe) return NULL;
    ti_tfm_config cfg = *ti_tfm_get_config(probe);
    ti_tfm_destroy(probe);
    ti_ckpt_meta_free(&meta);
    cfg.context = 4096;
    ti_tfm *m = NULL;
    if (ti_tfm_load(&m, NULL, BUNDLED_MODEL, &(ti_tfm_load_opts){.config = &cfg}) != TI_OK) return NULL;
    return m;
}

/* The contract of stream.h over a 10,000-tick stream, for each layout and window. */
static void exact_stream(ti_kv_layout layout, int W, int K, int N)
{
    ti_tfm *m = bundled_long();
    TI_CHECK(m != NULL);
    if (!m) return;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    const int F = c->n_features;
    float *x = malloc(sizeof(float) * (size_t)N * F);
    for (size_t i = 0; i < (size_t)N * F; i++) x[i] = nrand();
    double *ref = malloc(sizeof(double) * N);
    ref_forward_banded(ref, m, x, N, W, K);
    ti_stream_engine *e;
    TI_CHECK_OK(ti_stream_engine_create(&e, m, NULL, 1.0f, &(ti_stream_opts){.window = W, .layout = layout, .sinks = K}));
    ti_stream *s;
    TI_CHECK_OK(ti_stream_open(e, &s, "X"));
    /* (a) while the stream fits the window: the full causal forward's last position */
    const int Tf = W < c->context ? W : c->context;
    ti_runstate *rs;
    TI_CHECK_OK(ti_runstate_create(&rs, m, 1, Tf, 0));
    float *yf = malloc(sizeof(float) * Tf);
    TI_CHECK_OK(ti_tfm_forward(m, rs, yf, x, 1, Tf, NULL));
    double worst_a = 0, worst_b = 0;
    for (int i = 0; i < N; i++) {
        ti_forecast fc;
        TI_CHECK_OK(ti_stream_push_normalized(s, x + (size_t)i * F, &fc));
        if (i < Tf) worst_a = fmax(worst_a, rel_err(fc.y_log, yf[i]));
        worst_b = fmax(worst_b, rel_err(fc.y_log, ref[i]));
    }
    printf("  %s W=%d sinks=%d: max rel err vs full forward (t < %d) %.2e, vs banded reference (%d ticks) %.2e\n",
           ti_kv_layout_name(layout), W, K, Tf, worst_a, N, worst_b);
    TI_CHECK_MSG(worst_a <= 1e-5, "%s W=%d: decode vs full forward %.3e > 1e-5", ti_kv_layout_name(layout), W, worst_a);
    TI_CHECK_MSG(worst_b <= 1e-5, "%s W=%d: decode vs reference %.3e > 1e-5", ti_kv_layout_name(layout), W, worst_b);
    TI_CHECK(ti_stream_len(s) == N);
    ti_stream_close(s);
    ti_stream_engine_destroy(e);
    ti_runstate_destroy(rs);
    ti_tfm_destroy(m);
    free(x), free(ref), free(yf);
}

TI_TEST(decode_equals_reference_ring)
{
    exact_stream(TI_KV_RING, 128, 0, 10000);
    exact_stream(TI_KV_RING, 600, 0, 10000);
}

TI_TEST(decode_equals_reference_paged)
{
    exact_stream(TI_KV_PAGED, 128, 0, 10000);
    exact_stream(TI_KV_PAGED, 600, 0, 10000);
}

TI_TEST(decode_with_sinks_equals_reference)
{
    /* 4 sinks + a 128 window over 3,000 ticks; the reference sees j < 4 besides the band, so
     * a cache that forgot the sinks would be off by far more than 1e-5 */
    exact_stream(TI_KV_RING, 128, 4, 3000);
    exact_stream(TI_KV_PAGED, 128, 4, 3000);
    exact_stream(TI_KV_PAGED, 40, 20, 500); /* sinks spanning a block boundary */
}

TI_TEST(every_kernel_level_accumulates_like_one_call)
{
    /* attention_decode_accum over random splits == attention_decode over the whole cache */
    const int H = 4, hd = 16, T = 333, C = H * hd;
    float *kv = malloc(sizeof(float) * (size_t)T * 2 * C), q[64], alibi[4], ref[64], acc[64], m_[4], l_[4];
    for (int i = 0; i < T * 2 * C; i++) kv[i] = nrand();
    for (int i = 0; i < C; i++) q[i] = nrand();
    ti_alibi_slopes(alibi, H);
    const ti_kernels *k0 = ti_kernels_get(TI_SIMD_SCALAR);
    TI_CHECK_OK(k0->attention_decode(ref, q, kv, kv + C, T, H, hd, 2 * C, T - 1, alibi, 0));
    for (int lvl = 0; lvl < TI_SIMD__COUNT; lvl++) {
        const ti_kernels *k = ti_kernels_get((ti_simd_level)lvl);
        if (!k) continue;
        memset(acc, 0, sizeof acc);
        for (int h = 0; h < H; h++) m_[h] = -INFINITY, l_[h] = 0;
        int t = 0;
        while (t < T) {
            int n = 1 + (int)(urand() * 40);
            if (t + n > T) n = T - t;
            TI_CHECK_OK(k->attention_decode_accum(acc, m_, l_, q, kv + (size_t)t * 2 * C, kv + (size_t)t * 2 * C + C, n,
                                                  H, hd, 2 * C, T - 1 + 1000, t + 1000, alibi, 0));
            t += n;
        }
        double worst = 0;
        for (int h = 0; h < H; h++)
            for (int d = 0; d < hd; d++) worst = fmax(worst, fabs(acc[h * hd + d] / l_[h] - ref[h * hd + d]));
        TI_CHECK_MSG(worst < 1e-5, "%s: accumulated decode differs by %.3e", k->name, worst);
        /* keys after the query are refused */
        TI_CHECK_ERR(k->attention_decode_accum(acc, m_, l_, q, kv, kv + C, 2, H, hd, 2 * C, 5, 5, alibi, 0),
                     TI_ERR_INVALID_ARG, "after the query");
    }
    free(kv);
}

/* Random open/close/push over many streams in a small pool: outputs equal those of ring
 * streams fed the same inputs (no cross-symbol corruption); at the end no block leaks. */
TI_TEST(paged_pool_random_streams_no_leak_no_corruption)
{
    ti_tfm *m = small_model(64);
    TI_CHECK(m != NULL);
    if (!m) return;
    const int F = 5, W = 40, SLOTS = 64, OPS = 40000;
    ti_stream_engine *ep, *er;
    TI_CHECK_OK(ti_stream_engine_create(&ep, m, NULL, 1, &(ti_stream_opts){.window = W, .layout = TI_KV_PAGED, .block_size = 8}));
    TI_CHECK_OK(ti_stream_engine_create(&er, m, NULL, 1, &(ti_stream_opts){.window = W, .layout = TI_KV_RING}));
    ti_stream *sp[64] = {0}, *sr[64] = {0};
    int opened = 0, mismatches = 0;
    float x[5];
    for (int op = 0; op < OPS; op++) {
        const int i = (int)(urand() * SLOTS);
        const double r = urand();
        if (!sp[i]) {
            char name[32];
            snprintf(name, sizeof name, "S%d_%d", i, op);
            TI_CHECK_OK(ti_stream_open(ep, &sp[i], name));
            TI_CHECK_OK(ti_stream_open(er, &sr[i], name));
            opened++;
        } else if (r < 0.05) {
            ti_stream_close(sp[i]), ti_stream_close(sr[i]);
            sp[i] = sr[i] = NULL;
        } else {
            for (int f = 0; f < F; f++) x[f] = nrand();
            ti_forecast a, b;
            TI_CHECK_OK(ti_stream_push_normalized(sp[i], x, &a));
            TI_CHECK_OK(ti_stream_push_normalized(sr[i], x, &b));
            if (rel_err(a.y_log, b.y_log) > 1e-5) {
                if (mismatches < 3)
                    printf("  mismatch %s at %lld: paged %.9g ring %.9g\n", ti_stream_symbol(sp[i]),
                           (long long)ti_stream_len(sp[i]), a.y_log, b.y_log);
                mismatches++;
            }
        }
    }
    ti_stream_stats st;
    ti_stream_engine_stats(ep, &st);
    printf("  %d streams opened; live %d, blocks used %zu of %zu allocated, utilisation %.2f\n", opened, st.streams,
           st.pool.blocks_used, st.pool.blocks_alloc, st.utilisation);
    TI_CHECK(opened > 1000);
    TI_CHECK_MSG(mismatches == 0, "%d paged outputs differ from the ring", mismatches);
    TI_CHECK(st.pool.blocks_used <= (size_t)st.streams * (W / 8 + 2));
    for (int i = 0; i < SLOTS; i++)
        if (sp[i]) ti_stream_close(sp[i]), ti_stream_close(sr[i]);
    ti_stream_engine_stats(ep, &st);
    TI_CHECK_MSG(st.pool.blocks_used == 0 && st.pool.refs == 0, "leak: %zu blocks, %zu refs after closing all",
                 st.pool.blocks_used, st.pool.refs);
    ti_stream_engine_destroy(ep);
    ti_stream_engine_destroy(er);
    ti_tfm_destroy(m);
}

/* A prefix decoded once and forked into many symbols: stored once; a push through one
 * symbol never shows in another (copy-on-write of the shared tail block). */
TI_TEST(prefix_sharing_copy_on_write)
{
    ti_tfm *m = small_model(64);
    TI_CHECK(m != NULL);
    if (!m) return;
    const int F = 5, P = 20, K = 30;
    ti_stream_engine *e;
    TI_CHECK_OK(ti_stream_engine_create(&e, m, NULL, 1, &(ti_stream_opts){.window = 48, .layout = TI_KV_PAGED, .block_size = 16}));
    float prefix[20][5], own[2][30][5];
    for (int t = 0; t < P; t++)
        for (int f = 0; f < F; f++) prefix[t][f] = nrand();
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < K; t++)
            for (int f = 0; f < F; f++) own[s][t][f] = nrand();
    ti_stream *root, *kids[50];
    TI_CHECK_OK(ti_stream_open(e, &root, "MKT"));
    for (int t = 0; t < P; t++) TI_CHECK_OK(ti_stream_push_normalized(root, prefix[t], NULL));
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof name, "K%d", i);
        TI_CHECK_OK(ti_stream_fork(e, &kids[i], name, root));
    }
    ti_stream_stats st;
    ti_stream_engine_stats(e, &st);
    TI_CHECK_MSG(st.pool.blocks_used == 2 && st.pool.blocks_shared == 2,
                 "prefix of %d positions in 16-blocks: used %zu shared %zu (want 2, 2)", P, st.pool.blocks_used,
                 st.pool.blocks_shared);
    TI_CHECK(ti_stream_kv_bytes(kids[0]) * 51 <= 2 * st.pool.block_bytes + 51);
    /* kid 0 and kid 1 diverge; each must equal a private stream fed prefix + its own ticks */
    ti_stream_engine *ref_e;
    TI_CHECK_OK(ti_stream_engine_create(&ref_e, m, NULL, 1, &(ti_stream_opts){.window = 48, .layout = TI_KV_RING}));
    for (int s = 0; s < 2; s++) {
        ti_stream *r;
        TI_CHECK_OK(ti_stream_open(ref_e, &r, "R"));
        for (int t = 0; t < P; t++) TI_CHECK_OK(ti_stream_push_normalized(r, prefix[t], NULL));
        double worst = 0;
        for (int t = 0; t < K; t++) {
            ti_forecast a, b;
            TI_CHECK_OK(ti_stream_push_normalized(kids[s], own[s][t], &a));
            TI_CHECK_OK(ti_stream_push_normalized(r, own[s][t], &b));
            worst = fmax(worst, rel_err(a.y_log, b.y_log));
        }
        TI_CHECK_MSG(worst <= 1e-5, "forked stream %d differs from a private one by %.3e", s, worst);
        ti_stream_close(r);
    }
    /* the root and an untouched kid still see only the prefix: their next outputs agree */
    float probe[5] = {0.1f, -0.2f, 0.3f, 0.0f, 1.0f};
    ti_forecast a, b;
    TI_CHECK_OK(ti_stream_push_normalized(root, probe, &a));
    TI_CHECK_OK(ti_stream_push_normalized(kids[7], probe, &b));
    TI_CHECK(a.y_log == b.y_log);
    ti_stream_close(root);
    for (int i = 0; i < 50; i++) ti_stream_close(kids[i]);
    ti_stream_engine_stats(e, &st);
    TI_CHECK(st.pool.blocks_used == 0 && st.pool.refs == 0);
    ti_stream_engine_destroy(ref_e);
    ti_stream_engine_destroy(e);
    ti_tfm_destroy(m);
}

/* Raw trades pushed tick by tick give exactly the offline builder's features. */
TI_TEST(trades_give_the_offline_features)
{
    struct stat sb;
    int have = stat("data/optiver", &sb) == 0;
    TI_CHECK_MSG(have, "bundled data/optiver missing");
    if (!have) return;
    ti_source *src;
    TI_CHECK_OK(ti_source_open(&src, "data/optiver"));
    ti_symbol_data sd;
    TI_CHECK_OK(src->load(src, 0, &sd));
    ti_ckpt_meta meta;
    ti_tfm *m = bundled(&meta);
    TI_CHECK(m != NULL);
    ti_stream_engine *e;
    TI_CHECK_OK(ti_stream_engine_create(&e, m, &meta, 1, NULL));
    ti_stream *s;
    TI_CHECK_OK(ti_stream_open(e, &s, sd.symbol));
    const int F = ti_features_count(0), NB = sd.n_buckets < 20 ? (int)sd.n_buckets : 20;
    float *offline = malloc(sizeof(float) * TI_BUCKET_LEN * F);
    ti_feat_state *scratch = malloc(sizeof *scratch);
    int checked = 0, bad = 0;
    for (int b = 0; b < NB; b++) {
        ti_bucket_view v = {.stock_id = 0, .time_id = sd.time_ids[b], .bars = sd.bars + sd.bar_start[b],
                            .n_bars = (uint32_t)(sd.bar_start[b + 1] - sd.bar_start[b]), .book = NULL};
        ti_features_bucket(offline, scratch, &v, TI_BUCKET_LEN);
        ti_stream_reset(s);
        int64_t closed = 0;
        for (uint32_t j = 0; j <= v.n_bars; j++) {
            const int64_t t = j < v.n_bars ? v.bars[j].sec : TI_BUCKET_LEN;
            /* close the seconds before t one at a time so each row can be compared */
            while (closed < t) {
                int n;
                TI_CHECK_OK(ti_stream_advance(s, closed + 1, NULL, &n));
                const float *got = ti_stream_last_features(s);
                for (int f = 0; f < F; f++)
                    if (got[f] != offline[closed * F + f]) bad++;
                checked++;
                closed++;
            }
            if (j < v.n_bars)
                TI_CHECK_OK(ti_stream_push_trade(s, t, v.bars[j].price, v.bars[j].size, v.bars[j].order_count, NULL, NULL));
        }
    }
    printf("  %d seconds of %d real buckets (%s): %d feature values differ\n", checked, NB, sd.symbol, bad);
    TI_CHECK(checked == NB * TI_BUCKET_LEN);
    TI_CHECK(bad == 0);
    TI_CHECK_ERR(ti_stream_push_trade(s, 0, 10.0f, 1.0f, 1, NULL, NULL), TI_ERR_INVALID_ARG, "already closed");
    TI_CHECK_ERR(ti_stream_push_trade(s, 900, -1.0f, 1.0f, 1, NULL, NULL), TI_ERR_INVALID_ARG, "price");
    free(offline), free(scratch);
    ti_stream_close(s);
    ti_stream_engine_destroy(e);
    ti_tfm_destroy(m);
    ti_ckpt_meta_free(&meta);
    ti_symbol_data_free(&sd);
    ti_source_close(src);
}

TI_TEST(bad_arguments_are_named)
{
    ti_tfm *m = small_model(64);
    TI_CHECK(m != NULL);
    if (!m) return;
    ti_stream_engine *e;
    TI_CHECK_ERR(ti_stream_engine_create(&e, m, NULL, 1, &(ti_stream_opts){.window = 65}), TI_ERR_INVALID_ARG,
                 "window 65");
    TI_CHECK_OK(ti_stream_engine_create(&e, m, NULL, 1, &(ti_stream_opts){.max_streams = 2}));
    ti_stream *a, *b, *c;
    TI_CHECK_OK(ti_stream_open(e, &a, "A"));
    TI_CHECK_OK(ti_stream_open(e, &b, "B"));
    TI_CHECK_ERR(ti_stream_open(e, &c, "C"), TI_ERR_LIMIT, "max_streams");
    float nanrow[5] = {0, NAN, 0, 0, 0};
    TI_CHECK_ERR(ti_stream_push_normalized(a, nanrow, NULL), TI_ERR_INVALID_ARG, "finite");
    ti_stream_close(a);
    ti_stream_engine_destroy(e); /* closes b */
    ti_tfm_config tc;
    ti_tfm_config_default(&tc, TI_TFM_TINYRV);
    ti_tfm *tiny;
    TI_CHECK_OK(ti_tfm_create(&tiny, &tc));
    TI_CHECK_ERR(ti_stream_engine_create(&e, tiny, NULL, 1, NULL), TI_ERR_INVALID_ARG, "rv_causal");
    ti_tfm_destroy(tiny);
    ti_tfm_destroy(m);
}

int main(void)
{
    TI_RUN(every_kernel_level_accumulates_like_one_call);
    TI_RUN(decode_equals_reference_ring);
    TI_RUN(decode_equals_reference_paged);
    TI_RUN(decode_with_sinks_equals_reference);
    TI_RUN(paged_pool_random_streams_no_leak_no_corruption);
    TI_RUN(prefix_sharing_copy_on_write);
    TI_RUN(trades_give_the_offline_features);
    TI_RUN(bad_arguments_are_named);
    return ti_test_summary();
}
