/* Decode attention over quantized KV segments: every ISA variant vs a double reference on
 * the dequantised rows (tight: same math, float rounding only), each dtype vs fp32
 * attention on the unquantised data (stated error bounds), explicit positions, ALiBi. */
#include <stdint.h>

#include "harness.h"
#include "tickinfer/kvquant.h"

#define MAXT 700
#define MAXC (8 * 64)

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static float frand(void) /* uniform [-1, 1) */
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* Plain fp32 K/V [T][H*hd] and their quantized rows, laid out with a byte stride. */
static float g_k[MAXT * MAXC], g_v[MAXT * MAXC], g_kd[MAXT * MAXC], g_vd[MAXT * MAXC];
static uint8_t g_kq[MAXT * (MAXC * 4 + 64)], g_vq[MAXT * (MAXC * 4 + 64)];

static void fill(int T, int C, float amp)
{
    for (int i = 0; i < T * C; i++) {
        g_k[i] = frand() * amp;
        g_v[i] = frand() * amp;
    }
}

/* Quantize rows at `stride` bytes; also keep the dequantised copies for the reference. */
static void quantize_all(ti_kv_dtype dt, int T, int H, int hd, size_t stride)
{
    int C = H * hd;
    for (int t = 0; t < T; t++) {
        TI_CHECK_OK(ti_kvq_quantize_row(g_kq + t * stride, g_k + t * C, dt, H, hd));
        TI_CHECK_OK(ti_kvq_quantize_row(g_vq + t * stride, g_v + t * C, dt, H, hd));
        TI_CHECK_OK(ti_kvq_dequantize_row(g_kd + t * C, g_kq + t * stride, dt, H, hd));
        TI_CHECK_OK(ti_kvq_dequantize_row(g_vd + t * C, g_vq + t * stride, dt, H, hd));
    }
}

/* Double-precision attention over fp32 rows k/v [T][C] with positions pos[T]. */
static void ref_attend(double *out, double *tokw, const float *q, const float *k, const float *v,
                       const int64_t *pos, int T, int H, int hd, int64_t q_pos, const float *alibi)
{
    static double s[MAXT];
    int C = H * hd;
    for (int t = 0; t < T; t++) tokw[t] = 0.0;
    for (int h = 0; h < H; h++) {
        double m = -INFINITY, l = 0.0;
        for (int t = 0; t < T; t++) {
            double d = 0.0;
            for (int i = 0; i < hd; i++) d += (double)q[h * hd + i] * k[t * C + h * hd + i];
            s[t] = d / sqrt((double)hd) - (alibi ? alibi[h] : 0.0) * (double)(q_pos - pos[t]);
            if (s[t] > m) m = s[t];
        }
        for (int t = 0; t < T; t++) l += exp(s[t] - m);
        for (int i = 0; i < hd; i++) out[h * hd + i] = 0.0;
        for (int t = 0; t < T; t++) {
            double p = exp(s[t] - m) / l;
            tokw[t] += p;
            for (int i = 0; i < hd; i++) out[h * hd + i] += p * v[t * C + h * hd + i];
        }
    }
}

/* Split T tokens into 3 segments (as a ring that wrapped would give), positions pos. */
static int make_segs(ti_kvq_seg *segs, int T, size_t stride, const int64_t *pos, int explicit_pos)
{
    int cut[4] = {0, T / 3, T / 3 + T / 4, T};
    for (int s = 0; s < 3; s++) {
        segs[s].k = g_kq + (size_t)cut[s] * stride;
        segs[s].v = g_vq + (size_t)cut[s] * stride;
        segs[s].stride = stride;
        segs[s].n = cut[s + 1] - cut[s];
        segs[s].pos0 = pos[cut[s]];
        segs[s].pos = explicit_pos ? pos + cut[s] : NULL;
    }
    return 3;
}

static const ti_simd_level k_levels[] = {TI_SIMD_SCALAR, TI_SIMD_AVX2, TI_SIMD_AVX512};

/* Every variant vs the double reference on the same dequantised values.  The only
 * difference is float32 rounding in dot products (hd <= 64 terms), exp and the running
 * sums over <= 600 tokens: a few 1e-7 relative, so 2e-5 of the output scale is tight. */
static void check_variants(ti_kv_dtype dt, int H, int hd, int T, size_t extra_stride)
{
    int C = H * hd;
    size_t stride = ti_kvq_row_bytes(dt, H, hd) + extra_stride;
    float q[MAXC], alibi[8], out[MAXC], tw[MAXT];
    double ref[MAXC], rtw[MAXT];
    int64_t pos[MAXT];
    fill(T, C, 1.0f);
    quantize_all(dt, T, H, hd, stride);
    for (int i = 0; i < C; i++) q[i] = 3.0f * frand();
    for (int h = 0; h < H; h++) alibi[h] = 0.02f * (float)(h + 1);
    for (int t = 0; t < T; t++) pos[t] = 1000 + t;
    ti_kvq_seg segs[3];
    int nseg = make_segs(segs, T, stride, pos, 0);
    int64_t q_pos = pos[T - 1];
    ref_attend(ref, rtw, q, g_kd, g_vd, pos, T, H, hd, q_pos, alibi);
    double scale = 0.0;
    for (int i = 0; i < C; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t li = 0; li < sizeof k_levels / sizeof k_levels[0]; li++) {
        if (ti_simd_supported() < k_levels[li]) continue;
        TI_CHECK_OK(ti_kvq_attend_level(k_levels[li], out, tw, q, segs, nseg, dt, H, hd, q_pos, alibi, 0.0f));
        double err = 0.0, werr = 0.0, wsum = 0.0;
        for (int i = 0; i < C; i++) err = fmax(err, fabs(out[i] - ref[i]));
        for (int t = 0; t < T; t++) {
            werr = fmax(werr, fabs(tw[t] - rtw[t]));
            wsum += tw[t];
        }
        TI_CHECK_MSG(err <= 2e-5 * scale, "%s %s H=%d hd=%d: max err %g (scale %g)", ti_simd_name(k_levels[li]),
                     ti_kv_dtype_name(dt), H, hd, err, scale);
        TI_CHECK_MSG(werr <= 1e-5, "%s %s: tok_weight err %g", ti_simd_name(k_levels[li]), ti_kv_dtype_name(dt), werr);
        TI_CHECK_NEAR(wsum, (double)H, 1e-4 * H);
    }
}

TI_TEST(variants_match_reference)
{
    for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
        ti_kv_dtype dt = (ti_kv_dtype)d;
        check_variants(dt, 4, 16, 600, 0);  /* bundled model shape */
        check_variants(dt, 8, 64, 300, 16); /* padded rows */
        check_variants(dt, 2, 24, 50, 4);   /* tails: 24 = 16 + 8; int4 group 24 */
        check_variants(dt, 3, 12, 40, 8);   /* int4 group 12: scalar fallback in SIMD */
        if (dt != TI_KV_INT4) check_variants(dt, 2, 37, 30, dt == TI_KV_F32 ? 4 : 3); /* odd hd, odd stride */
    }
}

/* Quantization error vs fp32 attention on the unquantised data, relative L2 over 40
 * queries.  Bounds fixed from the formats before running: K,V uniform in [-1,1) (sigma
 * 0.577), error per element uniform within half a step -> rms = step/sqrt(12):
 *   int8 step 1/127 -> rms 0.0023 = 0.4% of sigma;  int4 step 1/7 -> 0.041 = 7%;
 *   fp8 3 mantissa bits: relative rounding error <= 2^-4, rms ~2.5% of |x|.
 * The output error is the V error averaged like the signal plus the K error's effect on
 * the weights (same order), so bounds ~2x the per-element figure: 1e-2, 5e-2, 1.5e-1. */
TI_TEST(quantization_error_bounds)
{
    static const double bound[TI_KV_DTYPE__COUNT] = {1e-6, 1e-2, 5e-2, 1.5e-1};
    const int H = 4, hd = 16, T = 600, C = H * hd;
    float q[MAXC], out[MAXC], alibi[4] = {0.25f, 0.0625f, 0.015625f, 0.00390625f};
    double ref[MAXC], rtw[MAXT];
    int64_t pos[MAXT];
    for (int t = 0; t < T; t++) pos[t] = t;
    fill(T, C, 1.0f);
    for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
        ti_kv_dtype dt = (ti_kv_dtype)d;
        size_t stride = ti_kvq_row_bytes(dt, H, hd);
        quantize_all(dt, T, H, hd, stride);
        ti_kvq_seg segs[3];
        int nseg = make_segs(segs, T, stride, pos, 0);
        double num = 0.0, den = 0.0;
        g_rng = 77; /* same queries for every dtype */
        for (int rep = 0; rep < 40; rep++) {
            for (int i = 0; i < C; i++) q[i] = 3.0f * frand();
            ref_attend(ref, rtw, q, g_k, g_v, pos, T, H, hd, T - 1, rep % 2 ? alibi : NULL);
            TI_CHECK_OK(ti_kvq_attend(out, NULL, q, segs, nseg, dt, H, hd, T - 1, rep % 2 ? alibi : NULL, 0.0f));
            for (int i = 0; i < C; i++) {
                num += (out[i] - ref[i]) * (out[i] - ref[i]);
                den += ref[i] * ref[i];
            }
        }
        double rel = sqrt(num / den);
        printf("  %s: relative L2 error vs fp32 attention %.3e (bound %.1e)\n", ti_kv_dtype_name(dt), rel, bound[d]);
        TI_CHECK_MSG(rel <= bound[d], "%s: rel err %g > %g", ti_kv_dtype_name(dt), rel, bound[d]);
    }
}

/* Explicit consecutive positions equal the implicit ones bit for bit; splitting into
 * segments changes nothing either; with gaps, ALiBi uses the true distance. */
TI_TEST(positions_and_segments)
{
    const int H = 4, hd = 16, T = 200, C = H * hd;
    float q[MAXC], a[MAXC], b[MAXC], alibi[4] = {0.5f, 0.1f, 0.02f, 0.004f};
    double ref[MAXC], rtw[MAXT];
    int64_t pos[MAXT], gap[MAXT];
    fill(T, C, 1.0f);
    for (int i = 0; i < C; i++) q[i] = 2.0f * frand();
    for (int t = 0; t < T; t++) {
        pos[t] = 5000 + t;
        gap[t] = 5000 + 3 * t + (t > 100 ? 50 : 0); /* H2O-like holes */
    }
    for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
        ti_kv_dtype dt = (ti_kv_dtype)d;
        size_t stride = ti_kvq_row_bytes(dt, H, hd);
        quantize_all(dt, T, H, hd, stride);
        ti_kvq_seg segs[3], one = {g_kq, g_vq, stride, T, pos[0], NULL};
        int nseg = make_segs(segs, T, stride, pos, 1);
        int64_t qp = gap[T - 1] + 7;
        TI_CHECK_OK(ti_kvq_attend(a, NULL, q, segs, nseg, dt, H, hd, qp, alibi, 0.0f));
        make_segs(segs, T, stride, pos, 0);
        TI_CHECK_OK(ti_kvq_attend(b, NULL, q, segs, nseg, dt, H, hd, qp, alibi, 0.0f));
        TI_CHECK_MSG(memcmp(a, b, sizeof(float) * C) == 0, "%s: explicit consecutive pos != implicit",
                     ti_kv_dtype_name(dt));
        /* One segment vs three: softmax blocks start at segment starts, so only the
         * rounding of the running sums may differ. */
        TI_CHECK_OK(ti_kvq_attend(b, NULL, q, &one, 1, dt, H, hd, qp, alibi, 0.0f));
        double split = 0.0;
        for (int i = 0; i < C; i++) split = fmax(split, fabs(a[i] - b[i]));
        TI_CHECK_MSG(split <= 1e-6, "%s: split segments differ by %g", ti_kv_dtype_name(dt), split);
        make_segs(segs, T, stride, pos, 1);
        nseg = make_segs(segs, T, stride, gap, 1);
        TI_CHECK_OK(ti_kvq_attend(a, NULL, q, segs, nseg, dt, H, hd, qp, alibi, 0.0f));
        ref_attend(ref, rtw, q, g_kd, g_vd, gap, T, H, hd, qp, alibi);
        double err = 0.0, diff = 0.0;
        for (int i = 0; i < C; i++) {
            err = fmax(err, fabs(a[i] - ref[i]));
            diff = fmax(diff, fabs(a[i] - b[i]));
        }
        TI_CHECK_MSG(err <= 1e-5, "%s: gapped positions err %g", ti_kv_dtype_name(dt), err);
        TI_CHECK_MSG(diff > 1e-3, "%s: gaps had no effect (%g)", ti_kv_dtype_name(dt), diff);
    }
}

/* One cached token: the output is its V row, so every variant's in-register FP8 decode
 * must reproduce the table for all 256 codes (NaN codes included). */
TI_TEST(fp8_all_codes_in_kernel)
{
    enum { H = 2, HD = 128 };
    static uint8_t krow[H * 4 + H * HD], vrow[H * 4 + H * HD];
    float one = 1.0f, q[H * HD] = {0}, out[H * HD];
    memset(krow, 0, sizeof krow);
    for (int h = 0; h < H; h++) {
        memcpy(krow + 4 * h, &one, 4);
        memcpy(vrow + 4 * h, &one, 4);
    }
    for (int i = 0; i < H * HD; i++) vrow[H * 4 + i] = (uint8_t)i;
    ti_kvq_seg seg = {krow, vrow, sizeof krow, 1, 0, NULL};
    for (size_t li = 0; li < sizeof k_levels / sizeof k_levels[0]; li++) {
        if (ti_simd_supported() < k_levels[li]) continue;
        TI_CHECK_OK(ti_kvq_attend_level(k_levels[li], out, NULL, q, &seg, 1, TI_KV_FP8, H, HD, 0, NULL, 0.0f));
        int bad = 0;
        for (int c = 0; c < 256; c++) {
            float want = ti_fp8_e4m3_decode((uint8_t)c);
            bad += isnan(want) ? !isnan(out[c]) : !(out[c] == want); /* -0 sums to +0 */
        }
        TI_CHECK_MSG(bad == 0, "%s: %d fp8 codes decoded wrongly in the kernel", ti_simd_name(k_levels[li]), bad);
    }
}

TI_TEST(empty_and_bad_args)
{
    float q[64] = {0}, out[64];
    for (int i = 0; i < 64; i++) out[i] = 1.0f;
    TI_CHECK_OK(ti_kvq_attend(out, NULL, q, NULL, 0, TI_KV_INT8, 4, 16, 0, NULL, 0.0f));
    int nz = 0;
    for (int i = 0; i < 64; i++) nz += out[i] != 0.0f;
    TI_CHECK(nz == 0);
    uint8_t rows[2 * 80];
    memset(rows, 0, sizeof rows);
    ti_kvq_seg s = {rows, rows, 40, 2, 0, NULL};
    TI_CHECK_ERR(ti_kvq_attend(out, NULL, q, &s, 1, TI_KV_INT8, 4, 16, 1, NULL, 0.0f), TI_ERR_INVALID_ARG, "stride");
    s.stride = 80;
    TI_CHECK_OK(ti_kvq_attend(out, NULL, q, &s, 1, TI_KV_INT8, 4, 16, 1, NULL, 0.0f));
    TI_CHECK_ERR(ti_kvq_attend(out, NULL, q, &s, 1, TI_KV_INT4, 4, 7, 1, NULL, 0.0f), TI_ERR_INVALID_ARG, "hd=7");
    TI_CHECK_ERR(ti_kvq_attend(out, NULL, q, &s, 1, TI_KV_INT8, 4, 16, 1, NULL, -1.0f), TI_ERR_INVALID_ARG, "scale");
    ti_kvq_seg f = {rows + 1, rows + 1, 64, 1, 0, NULL};
    TI_CHECK_ERR(ti_kvq_attend(out, NULL, q, &f, 1, TI_KV_F32, 1, 16, 1, NULL, 0.0f), TI_ERR_INVALID_ARG, "aligned");
    s.n = -1;
    TI_CHECK_ERR(ti_kvq_attend(out, NULL, q, &s, 1, TI_KV_INT8, 4, 16, 1, NULL, 0.0f), TI_ERR_INVALID_ARG, "n=-1");
    if (ti_simd_supported() < TI_SIMD_AVX512) {
        s.n = 1;
        TI_CHECK_ERR(ti_kvq_attend_level(TI_SIMD_AVX512, out, NULL, q, &s, 1, TI_KV_INT8, 4, 16, 1, NULL, 0.0f),
                     TI_ERR_UNSUPPORTED, "lacks");
    }
}

int main(void)
{
    printf("  simd supported: %s\n", ti_simd_name(ti_simd_supported()));
    TI_RUN(variants_match_reference);
    TI_RUN(quantization_error_bounds);
    TI_RUN(positions_and_segments);
    TI_RUN(fp8_all_codes_in_kernel);
    TI_RUN(empty_and_bad_args);
    return ti_test_summary();
}
