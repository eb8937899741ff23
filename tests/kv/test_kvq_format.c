/* Quantized KV row formats: FP8 E4M3 codec, int8 / fp8 / int4 rows, shapes, names. */
#include <float.h>
#include <stdint.h>

#include "harness.h"
#include "tickinfer/kvquant.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void) /* uniform [-1, 1) */
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* Independent oracle: value of a finite E4M3 code from its fields. */
static double e4m3_value(int c)
{
    int e = (c >> 3) & 15, m = c & 7;
    double v = e == 0 ? m * ldexp(1.0, -9) : (1.0 + m / 8.0) * ldexp(1.0, e - 7);
    return (c & 0x80) ? -v : v;
}

/* Brute-force nearest finite code to x (ties to the even mantissa, i.e. even code;
 * beyond 448 saturate), for non-negative x. */
static int nearest_code(double x)
{
    int best = 0;
    double bd = INFINITY;
    for (int c = 0; c < 0x7F; c++) {
        double d = fabs(e4m3_value(c) - x);
        if (d < bd || (d == bd && (c % 2 == 0))) {
            bd = d;
            best = c;
        }
    }
    return best;
}

TI_TEST(fp8_all_codes_round_trip)
{
    for (int c = 0; c < 256; c++) {
        float v = ti_fp8_e4m3_decode((uint8_t)c);
        if ((c & 0x7F) == 0x7F) {
            TI_CHECK_MSG(isnan(v), "code 0x%02X should be NaN", c);
            continue;
        }
        TI_CHECK_MSG((double)v == e4m3_value(c), "decode 0x%02X = %g, want %g", c, v, e4m3_value(c));
        TI_CHECK_MSG(ti_fp8_e4m3_encode(v) == c, "encode(decode(0x%02X)) = 0x%02X", c, ti_fp8_e4m3_encode(v));
    }
}

TI_TEST(fp8_known_values)
{
    TI_CHECK(ti_fp8_e4m3_encode(448.0f) == 0x7E);
    TI_CHECK(ti_fp8_e4m3_encode(-448.0f) == 0xFE);
    TI_CHECK(ti_fp8_e4m3_decode(0x7E) == 448.0f);
    TI_CHECK(ti_fp8_e4m3_encode(ldexpf(1.0f, -9)) == 0x01); /* smallest subnormal */
    TI_CHECK(ti_fp8_e4m3_decode(0x01) == ldexpf(1.0f, -9));
    TI_CHECK(ti_fp8_e4m3_encode(ldexpf(1.0f, -6)) == 0x08); /* smallest normal */
    TI_CHECK(ti_fp8_e4m3_encode(1.0f) == 0x38);
    TI_CHECK(ti_fp8_e4m3_encode(0.0f) == 0x00);
    TI_CHECK(ti_fp8_e4m3_encode(-0.0f) == 0x80);
    /* Saturation, not NaN, for overflow and infinities. */
    TI_CHECK(ti_fp8_e4m3_encode(464.0f) == 0x7E);
    TI_CHECK(ti_fp8_e4m3_encode(1e6f) == 0x7E);
    TI_CHECK(ti_fp8_e4m3_encode(INFINITY) == 0x7E);
    TI_CHECK(ti_fp8_e4m3_encode(-INFINITY) == 0xFE);
    TI_CHECK(ti_fp8_e4m3_encode(NAN) == 0x7F);
    TI_CHECK(isnan(ti_fp8_e4m3_decode(0xFF)));
}

TI_TEST(fp8_round_to_nearest_even)
{
    /* 1.0625 is halfway between 1.0 (m=0) and 1.125 (m=1): even -> 1.0. */
    TI_CHECK(ti_fp8_e4m3_encode(1.0625f) == 0x38);
    /* 1.1875 halfway between 1.125 (m=1) and 1.25 (m=2): even -> 1.25. */
    TI_CHECK(ti_fp8_e4m3_encode(1.1875f) == 0x3A);
    TI_CHECK(ti_fp8_e4m3_encode(nextafterf(1.0625f, 2.0f)) == 0x39);
    TI_CHECK(ti_fp8_e4m3_encode(-1.0625f) == 0xB8);
    /* Subnormals: 0.5, 1.5, 2.5 units of 2^-9. */
    TI_CHECK(ti_fp8_e4m3_encode(ldexpf(0.5f, -9)) == 0x00);
    TI_CHECK(ti_fp8_e4m3_encode(ldexpf(1.5f, -9)) == 0x02);
    TI_CHECK(ti_fp8_e4m3_encode(ldexpf(2.5f, -9)) == 0x02);
    /* 7.5 units of 2^-9 rounds up into the first normal (code 8). */
    TI_CHECK(ti_fp8_e4m3_encode(ldexpf(7.5f, -9)) == 0x08);
    /* 15.5 * 2^-4 = 0.96875 halfway between 0.9375 (0x36 m=6) and 1.0 (0x38): even -> 0x38. */
    TI_CHECK(ti_fp8_e4m3_encode(0.96875f) == 0x38);
    /* Every midpoint between neighbouring codes and random values vs the brute-force oracle. */
    int bad = 0;
    for (int c = 0; c < 0x7E; c++) {
        double mid = 0.5 * (e4m3_value(c) + e4m3_value(c + 1));
        if (ti_fp8_e4m3_encode((float)mid) != nearest_code(mid)) bad++;
    }
    for (int i = 0; i < 4000; i++) {
        float x = ldexpf(frand(), (int)(frand() * 12.0f) - 2);
        int want = nearest_code(fabs((double)x)) | (signbit(x) ? 0x80 : 0);
        if (ti_fp8_e4m3_encode(x) != want) bad++;
    }
    TI_CHECK_MSG(bad == 0, "%d encodings differ from the nearest-even oracle", bad);
}

TI_TEST(row_bytes_and_names)
{
    TI_CHECK(ti_kvq_row_bytes(TI_KV_F32, 4, 16) == 256);
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT8, 4, 16) == 4 * 4 + 64);
    TI_CHECK(ti_kvq_row_bytes(TI_KV_FP8, 8, 64) == 8 * 4 + 512);
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT4, 4, 16) == 4 * 4 + 32);      /* one group per head */
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT4, 8, 64) == 16 * 4 + 256);    /* two groups per head */
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT4, 2, 7) == 0);                /* odd hd */
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT4, 2, 48) == 0);               /* 48 % 32 != 0 */
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT8, 0, 16) == 0);
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT8, 257, 16) == 0);
    TI_CHECK(ti_kvq_row_bytes(TI_KV_INT8, 4, 129) == 0);
    TI_CHECK(ti_kvq_row_bytes(TI_KV_DTYPE__COUNT, 4, 16) == 0);
    for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
        ti_kv_dtype got;
        TI_CHECK_OK(ti_kv_dtype_parse(&got, ti_kv_dtype_name((ti_kv_dtype)d)));
        TI_CHECK(got == (ti_kv_dtype)d);
    }
    ti_kv_dtype got;
    TI_CHECK_ERR(ti_kv_dtype_parse(&got, "bf16"), TI_ERR_INVALID_ARG, "bf16");
    float src[14] = {0}, dst[14];
    uint8_t row[64];
    TI_CHECK_ERR(ti_kvq_quantize_row(row, src, TI_KV_INT4, 2, 7), TI_ERR_INVALID_ARG, "hd=7");
    TI_CHECK_ERR(ti_kvq_dequantize_row(dst, row, TI_KV_INT4, 2, 7), TI_ERR_INVALID_ARG, "int4");
}

/* Quantize + dequantize random rows; every element within half a step of its block's scale. */
static void check_round_trip(ti_kv_dtype dt, int H, int hd)
{
    float src[8 * 64], dst[8 * 64];
    uint8_t row[8 * 64 * 4];
    int n = H * hd, blk = dt == TI_KV_INT4 ? ti_kvq_int4_group(hd) : hd;
    float qmax = dt == TI_KV_INT8 ? 127.0f : 7.0f;
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < n; i++) src[i] = frand() * (float)(1 + (i / blk) % 5) * (rep % 2 ? 1e-3f : 30.0f);
        TI_CHECK_OK(ti_kvq_quantize_row(row, src, dt, H, hd));
        TI_CHECK_OK(ti_kvq_dequantize_row(dst, row, dt, H, hd));
        for (int b = 0; b < n / blk; b++) {
            float amax = 0.0f;
            for (int i = 0; i < blk; i++) amax = fmaxf(amax, fabsf(src[b * blk + i]));
            for (int i = b * blk; i < (b + 1) * blk; i++) {
                float err = fabsf(dst[i] - src[i]);
                /* int: half a step (amax/qmax/2); fp8: half an ulp = 2^-4 relative, or half
                 * the subnormal step 2^-10 * amax/448 for tiny values; + float slack. */
                float bound = dt == TI_KV_FP8 ? fmaxf(fabsf(src[i]) * 0.0625f, amax / 448.0f * ldexpf(1.0f, -10))
                                              : amax / qmax * 0.5f;
                bound = bound * 1.0001f + amax * 1e-6f;
                TI_CHECK_MSG(err <= bound, "%s H=%d hd=%d elem %d: %g vs %g (bound %g)", ti_kv_dtype_name(dt), H,
                             hd, i, dst[i], src[i], bound);
                if (err > bound) return;
            }
        }
    }
}

TI_TEST(int8_fp8_int4_round_trip)
{
    check_round_trip(TI_KV_INT8, 4, 16);
    check_round_trip(TI_KV_INT8, 3, 13);
    check_round_trip(TI_KV_FP8, 4, 16);
    check_round_trip(TI_KV_FP8, 8, 64);
    check_round_trip(TI_KV_INT4, 4, 16);
    check_round_trip(TI_KV_INT4, 8, 64);
    check_round_trip(TI_KV_INT4, 2, 6);
}

TI_TEST(extremes_and_zero_rows)
{
    float src[2 * 64], dst[2 * 64];
    uint8_t row[2 * 64 * 4];
    for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
        ti_kv_dtype dt = (ti_kv_dtype)d;
        /* All-zero row: exact zeros back. */
        for (int i = 0; i < 128; i++) src[i] = 0.0f;
        TI_CHECK_OK(ti_kvq_quantize_row(row, src, dt, 2, 64));
        TI_CHECK_OK(ti_kvq_dequantize_row(dst, row, dt, 2, 64));
        int nz = 0;
        for (int i = 0; i < 128; i++) nz += dst[i] != 0.0f;
        TI_CHECK_MSG(nz == 0, "%s: zero row gave %d non-zeros", ti_kv_dtype_name(dt), nz);
        /* Huge and tiny magnitudes (FLT_MAX, subnormals) stay finite; the FLT_MAX ones keep
         * their sign (1e30 is below half a step of FLT_MAX and may become 0). */
        for (int i = 0; i < 128; i++) src[i] = (i % 3 == 0 ? FLT_MAX : i % 3 == 1 ? -1e-40f : 1e30f) * (i % 2 ? -1.f : 1.f);
        TI_CHECK_OK(ti_kvq_quantize_row(row, src, dt, 2, 64));
        TI_CHECK_OK(ti_kvq_dequantize_row(dst, row, dt, 2, 64));
        int bad = 0;
        for (int i = 0; i < 128; i++) bad += !isfinite(dst[i]) || (fabsf(src[i]) == FLT_MAX && (dst[i] > 0) != (src[i] > 0));
        TI_CHECK_MSG(bad == 0, "%s: %d bad values on extreme row", ti_kv_dtype_name(dt), bad);
        /* Row of only subnormals: no division blow-up. */
        for (int i = 0; i < 128; i++) src[i] = (i % 2 ? -1e-41f : 3e-42f);
        TI_CHECK_OK(ti_kvq_quantize_row(row, src, dt, 2, 64));
        TI_CHECK_OK(ti_kvq_dequantize_row(dst, row, dt, 2, 64));
        bad = 0;
        for (int i = 0; i < 128; i++) bad += !(fabsf(dst[i] - src[i]) <= 1e-41f);
        TI_CHECK_MSG(bad == 0, "%s: %d bad values on subnormal row", ti_kv_dtype_name(dt), bad);
        src[5] = NAN;
        TI_CHECK_ERR(ti_kvq_quantize_row(row, src, dt == TI_KV_F32 ? TI_KV_INT8 : dt, 2, 64), TI_ERR_RANGE, "non-finite");
        src[5] = INFINITY;
        TI_CHECK_ERR(ti_kvq_quantize_row(row, src, dt == TI_KV_F32 ? TI_KV_INT8 : dt, 2, 64), TI_ERR_RANGE, "non-finite");
    }
    /* int4 codes: extremes of a group map to +-7 (nibbles 15 and 1), zero to 8. */
    float g[4] = {2.0f, -2.0f, 0.0f, 1.2f};
    uint8_t r4[4 + 2];
    TI_CHECK_OK(ti_kvq_quantize_row(r4, g, TI_KV_INT4, 1, 4));
    float s;
    memcpy(&s, r4, 4);
    TI_CHECK_NEAR(s, 2.0 / 7.0, 1e-7);
    TI_CHECK(r4[4] == (15 | (1 << 4)));
    TI_CHECK(r4[5] == (8 | (12 << 4))); /* 1.2/(2/7) = 4.2 -> 4 -> nibble 12 */
}

int main(void)
{
    TI_RUN(fp8_all_codes_round_trip);
    TI_RUN(fp8_known_values);
    TI_RUN(fp8_round_to_nearest_even);
    TI_RUN(row_bytes_and_names);
    TI_RUN(int8_fp8_int4_round_trip);
    TI_RUN(extremes_and_zero_rows);
    return ti_test_summary();
}
