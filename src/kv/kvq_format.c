/* Quantized KV row formats: sizes, quantize/dequantize, FP8 E4M3 codec, dtype names. */
#include <math.h>
#include <string.h>

#include "kv/kvq_internal.h"

const float ti_kvq_fp8_lut[256] = {
    0.0f, 0.001953125f, 0.00390625f, 0.005859375f, 0.0078125f, 0.009765625f, 0.01171875f, 0.013671875f,
    0.015625f, 0.017578125f, 0.01953125f, 0.021484375f, 0.0234375f, 0.025390625f, 0.02734375f, 0.029296875f,
    0.03125f, 0.03515625f, 0.0390625f, 0.04296875f, 0.046875f, 0.05078125f, 0.0546875f, 0.05859375f,
    0.0625f, 0.0703125f, 0.078125f, 0.0859375f, 0.09375f, 0.1015625f, 0.109375f, 0.1171875f,
    0.125f, 0.140625f, 0.15625f, 0.171875f, 0.1875f, 0.203125f, 0.21875f, 0.234375f,
    0.25f, 0.28125f, 0.3125f, 0.34375f, 0.375f, 0.40625f, 0.4375f, 0.46875f,
    0.5f, 0.5625f, 0.625f, 0.6875f, 0.75f, 0.8125f, 0.875f, 0.9375f,
    1.0f, 1.125f, 1.25f, 1.375f, 1.5f, 1.625f, 1.75f, 1.875f,
    2.0f, 2.25f, 2.5f, 2.75f, 3.0f, 3.25f, 3.5f, 3.75f,
    4.0f, 4.5f, 5.0f, 5.5f, 6.0f, 6.5f, 7.0f, 7.5f,
    8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f, 14.0f, 15.0f,
    16.0f, 18.0f, 20.0f, 22.0f, 24.0f, 26.0f, 28.0f, 30.0f,
    32.0f, 36.0f, 40.0f, 44.0f, 48.0f, 52.0f, 56.0f, 60.0f,
    64.0f, 72.0f, 80.0f, 88.0f, 96.0f, 104.0f, 112.0f, 120.0f,
    128.0f, 144.0f, 160.0f, 176.0f, 192.0f, 208.0f, 224.0f, 240.0f,
    256.0f, 288.0f, 320.0f, 352.0f, 384.0f, 416.0f, 448.0f, NAN,
    -0.0f, -0.001953125f, -0.00390625f, -0.005859375f, -0.0078125f, -0.009765625f, -0.01171875f, -0.013671875f,
    -0.015625f, -0.017578125f, -0.01953125f, -0.021484375f, -0.0234375f, -0.025390625f, -0.02734375f, -0.029296875f,
    -0.03125f, -0.03515625f, -0.0390625f, -0.04296875f, -0.046875f, -0.05078125f, -0.0546875f, -0.05859375f,
    -0.0625f, -0.0703125f, -0.078125f, -0.0859375f, -0.09375f, -0.1015625f, -0.109375f, -0.1171875f,
    -0.125f, -0.140625f, -0.15625f, -0.171875f, -0.1875f, -0.203125f, -0.21875f, -0.234375f,
    -0.25f, -0.28125f, -0.3125f, -0.34375f, -0.375f, -0.40625f, -0.4375f, -0.46875f,
    -0.5f, -0.5625f, -0.625f, -0.6875f, -0.75f, -0.8125f, -0.875f, -0.9375f,
    -1.0f, -1.125f, -1.25f, -1.375f, -1.5f, -1.625f, -1.75f, -1.875f,
    -2.0f, -2.25f, -2.5f, -2.75f, -3.0f, -3.25f, -3.5f, -3.75f,
    -4.0f, -4.5f, -5.0f, -5.5f, -6.0f, -6.5f, -7.0f, -7.5f,
    -8.0f, -9.0f, -10.0f, -11.0f, -12.0f, -13.0f, -14.0f, -15.0f,
    -16.0f, -18.0f, -20.0f, -22.0f, -24.0f, -26.0f, -28.0f, -30.0f,
    -32.0f, -36.0f, -40.0f, -44.0f, -48.0f, -52.0f, -56.0f, -60.0f,
    -64.0f, -72.0f, -80.0f, -88.0f, -96.0f, -104.0f, -112.0f, -120.0f,
    -128.0f, -144.0f, -160.0f, -176.0f, -192.0f, -208.0f, -224.0f, -240.0f,
    -256.0f, -288.0f, -320.0f, -352.0f, -384.0f, -416.0f, -448.0f, NAN,
};

static const char *const k_dtype_names[TI_KV_DTYPE__COUNT] = {"f32", "int8", "fp8", "int4"};

const char *ti_kv_dtype_name(ti_kv_dtype dt)
{
    return ((int)dt >= 0 && dt < TI_KV_DTYPE__COUNT) ? k_dtype_names[dt] : "?";
}

ti_err ti_kv_dtype_parse(ti_kv_dtype *out, const char *name)
{
    for (int i = 0; name && i < TI_KV_DTYPE__COUNT; i++) {
        if (strcmp(name, k_dtype_names[i]) == 0) {
            *out = (ti_kv_dtype)i;
            return TI_OK;
        }
    }
    return ti_errorf(TI_ERR_INVALID_ARG, "kvquant: unknown KV dtype '%s' (want f32, int8, fp8 or int4)",
                     name ? name : "(null)");
}

int ti_kvq_int4_group(int hd) { return hd < 32 ? hd : 32; }

size_t ti_kvq_row_bytes(ti_kv_dtype dt, int H, int hd)
{
    if (H < 1 || H > TI_KVQ_MAX_HEADS || hd < 1 || hd > TI_KVQ_MAX_HD) return 0;
    size_t n = (size_t)H * (size_t)hd;
    switch (dt) {
    case TI_KV_F32: return n * sizeof(float);
    case TI_KV_INT8:
    case TI_KV_FP8: return (size_t)H * sizeof(float) + n;
    case TI_KV_INT4:
        /* Two codes per byte and whole groups per head keep every head byte-aligned. */
        if (hd % 2 != 0 || hd % ti_kvq_int4_group(hd) != 0) return 0;
        return (size_t)ti_kvq_n_scales(dt, H, hd) * sizeof(float) + n / 2;
    default: return 0;
    }
}

static ti_err check_shape(ti_kv_dtype dt, int H, int hd)
{
    if (ti_kvq_row_bytes(dt, H, hd) == 0)
        return ti_errorf(TI_ERR_INVALID_ARG,
                         "kvquant: unsupported row shape dtype=%s H=%d hd=%d (H 1..%d, hd 1..%d; "
                         "int4 needs hd even and hd <= 32 or a multiple of 32)",
                         ti_kv_dtype_name(dt), H, hd, TI_KVQ_MAX_HEADS, TI_KVQ_MAX_HD);
    return TI_OK;
}

uint8_t ti_fp8_e4m3_encode(float x)
{
    if (isnan(x)) return 0x7F;
    uint8_t sign = signbit(x) ? 0x80 : 0x00;
    float a = fabsf(x);
    if (a >= 448.0f) return (uint8_t)(sign | 0x7E); /* saturate (also +-inf) */
    if (a < 0.015625f) {
        /* Subnormal range: value = m * 2^-9.  nearbyintf rounds half to even; m == 8 is
         * exactly the smallest normal, whose code is also 8. */
        int m = (int)nearbyintf(a * 512.0f);
        return (uint8_t)(sign | m);
    }
    int e2;
    float f = frexpf(a, &e2);          /* a = f * 2^e2, f in [0.5, 1) */
    int e = e2 - 1;                    /* a = (2f) * 2^e, 2f in [1, 2) */
    int m = (int)nearbyintf((2.0f * f - 1.0f) * 8.0f); /* exact: 2f-1 has <= 24 bits */
    if (m == 8) {
        m = 0;
        e++;
    }
    int be = e + 7;
    if (be > 15 || (be == 15 && m == 7)) return (uint8_t)(sign | 0x7E);
    return (uint8_t)(sign | (be << 3) | m);
}

float ti_fp8_e4m3_decode(uint8_t code) { return ti_kvq_fp8_lut[code]; }

/* max |x| over n values; -1 if any is not finite. */
static float absmax(const float *x, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) return -1.0f;
        float a = fabsf(x[i]);
        if (a > m) m = a;
    }
    return m;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

ti_err ti_kvq_quantize_row(void *dst, const float *src, ti_kv_dtype dt, int H, int hd)
{
    ti_err e = check_shape(dt, H, hd);
    if (e) return e;
    uint8_t *row = dst;
    if (dt == TI_KV_F32) {
        memcpy(row, src, (size_t)H * (size_t)hd * sizeof(float));
        return TI_OK;
    }
    /* One scale per head (int8/fp8) or per group of G values (int4): the block of values
     * sharing a scale is `blk` long. */
    int blk = dt == TI_KV_INT4 ? ti_kvq_int4_group(hd) : hd;
    int nblk = ti_kvq_n_scales(dt, H, hd);
    float qmax = dt == TI_KV_INT8 ? 127.0f : dt == TI_KV_FP8 ? 448.0f : 7.0f;
    uint8_t *codes = row + (size_t)nblk * sizeof(float);
    for (int b = 0; b < nblk; b++) {
        const float *x = src + (size_t)b * blk;
        float amax = absmax(x, blk);
        if (amax < 0.0f)
            return ti_errorf(TI_ERR_RANGE, "kvquant: non-finite value in K/V row block %d (dtype %s)", b,
                             ti_kv_dtype_name(dt));
        float scale = amax / qmax;
        /* Near FLT_MAX, amax/qmax may round up so that qmax*scale overflows to inf on the
         * way back: step the scale down until the largest code dequantises finitely. */
        while (isinf(scale * qmax)) scale = nextafterf(scale, 0.0f);
        memcpy(row + (size_t)b * sizeof(float), &scale, sizeof scale);
        for (int i = 0; i < blk; i++) {
            size_t idx = (size_t)b * blk + (size_t)i;
            /* Divide rather than multiply by 1/scale: a subnormal scale has no finite
             * reciprocal.  A zero scale (all-zero or underflowing block) gives code 0. */
            float y = scale > 0.0f ? x[i] / scale : 0.0f;
            if (dt == TI_KV_INT8) {
                codes[idx] = (uint8_t)(int8_t)clampi((int)nearbyintf(y), -127, 127);
            } else if (dt == TI_KV_FP8) {
                codes[idx] = ti_fp8_e4m3_encode(y);
            } else {
                int c = clampi((int)nearbyintf(y), -7, 7) + 8;
                if (idx % 2 == 0)
                    codes[idx / 2] = (uint8_t)c;
                else
                    codes[idx / 2] = (uint8_t)(codes[idx / 2] | (c << 4));
            }
        }
    }
    return TI_OK;
}

ti_err ti_kvq_dequantize_row(float *dst, const void *src, ti_kv_dtype dt, int H, int hd)
{
    ti_err e = check_shape(dt, H, hd);
    if (e) return e;
    const uint8_t *row = src;
    size_t n = (size_t)H * (size_t)hd;
    if (dt == TI_KV_F32) {
        memcpy(dst, row, n * sizeof(float));
        return TI_OK;
    }
    int blk = dt == TI_KV_INT4 ? ti_kvq_int4_group(hd) : hd;
    int nblk = ti_kvq_n_scales(dt, H, hd);
    const uint8_t *codes = row + (size_t)nblk * sizeof(float);
    for (size_t i = 0; i < n; i++) {
        float s = ti_kvq_scale_at(row, (int)(i / (size_t)blk));
        float v;
        if (dt == TI_KV_INT8)
            v = (float)(int8_t)codes[i];
        else if (dt == TI_KV_FP8)
            v = ti_kvq_fp8_lut[codes[i]];
        else
            v = (float)((i % 2 == 0 ? codes[i / 2] & 0xF : codes[i / 2] >> 4) - 8);
        dst[i] = s * v;
    }
    return TI_OK;
}
