/* Helpers shared by the ONNX tests: a temp folder, the Python oracle (tests/py/onnx_oracle.py
 * via TI_PYTHON), raw f32 files, deterministic inputs and error measures. */
#ifndef TICKINFER_TESTS_ONNX_UTIL_H
#define TICKINFER_TESTS_ONNX_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ORACLE "tests/py/onnx_oracle.py"
#define RV_CAUSAL_CKPT "models/rv_causal_optiver.safetensors"
#define SEED_PT "tests/model/data/seed_rv_tiny/best.pt"

static char g_tmp[64];

static void tmp_init(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ti_onnx_test_XXXXXX");
    if (!mkdtemp(g_tmp)) g_tmp[0] = '\0';
}

static void tmp_cleanup(void)
{
    if (!g_tmp[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
}

/* path of `name` in the temp folder (static buffer rotation: 4 at a time) */
static const char *tmp_path(const char *name)
{
    static char bufs[4][160];
    static int k;
    char *p = bufs[k++ & 3];
    snprintf(p, sizeof bufs[0], "%s/%s", g_tmp, name);
    return p;
}

static const char *python(void)
{
    const char *py = getenv("TI_PYTHON");
    return py && *py ? py : NULL;
}

/* Run the oracle with printf-formatted arguments; 0 on success. */
static int oracle(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int oracle(const char *fmt, ...)
{
    char args[1024], cmd[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' " ORACLE " %s", python(), args);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "oracle failed (%d): %s\n", rc, cmd);
    return rc;
}

static int write_f32(const char *path, const float *x, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = fwrite(x, sizeof *x, n, f);
    return fclose(f) == 0 && w == n;
}

/* n floats from path, NULL (and a failed check) if the size differs */
static float *read_f32(const char *path, size_t n)
{
    float *x = malloc(n * sizeof *x + 4);
    FILE *f = fopen(path, "rb");
    size_t got = f && x ? fread(x, sizeof *x, n + 1, f) : 0;
    if (f) fclose(f);
    if (got != n) {
        TI_FAILF("%s: %zu floats, expected %zu", path, got, n);
        free(x);
        return NULL;
    }
    return x;
}

/* deterministic N(0,1)-ish inputs (sum of uniforms) */
static void fill_inputs(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; i < n; i++) {
        float acc = 0;
        for (int k = 0; k < 4; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            acc += (float)((s >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f;
        }
        x[i] = acc * 1.7f;
    }
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d != d) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}

#endif
