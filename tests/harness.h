/* Minimal test harness.  A test file is one executable:
 *
 *   #include "harness.h"
 *   TI_TEST(parses_header) { TI_CHECK(x == 3); TI_CHECK_NEAR(a, b, 1e-6); }
 *   int main(void) { TI_RUN(parses_header); return ti_test_summary(); }
 *
 * A failed check prints file:line and the expression, marks the current test failed
 * and continues.  TI_SKIP("why") marks the current test skipped (and returns); only an
 * absent optional oracle (a Python package, TI_PYTHON unset) or missing hardware (GPU, a
 * CPU feature) may skip: bundled data a test cannot find is a failure.  A skipped test
 * prints "TI_SKIPPED <name>\t<why>" on stdout (tests/run_all.sh lists the reasons).
 * ti_test_summary() prints "TI_RESULT pass=P fail=F skip=S" (read by tests/run_all.sh)
 * and returns 1 if anything failed. */
#ifndef TICKINFER_TESTS_HARNESS_H
#define TICKINFER_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/err.h"

static int ti__pass, ti__fail, ti__skip, ti__cur_failed, ti__cur_skipped;
static const char *ti__cur_name;
static char ti__skip_why[512];

#define TI_TEST(name) static void name(void)

#define TI_FAILF(...)                                                            \
    do {                                                                         \
        fprintf(stderr, "  FAIL %s (%s:%d): ", ti__cur_name, __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                                            \
        fprintf(stderr, "\n");                                                   \
        ti__cur_failed = 1;                                                      \
    } while (0)

#define TI_CHECK(cond)                                 \
    do {                                               \
        if (!(cond)) TI_FAILF("check failed: %s", #cond); \
    } while (0)

#define TI_CHECK_MSG(cond, ...)          \
    do {                                 \
        if (!(cond)) TI_FAILF(__VA_ARGS__); \
    } while (0)

/* Expression returning ti_err must be TI_OK. */
#define TI_CHECK_OK(expr)                                                                 \
    do {                                                                                  \
        ti_err ti__e = (expr);                                                            \
        if (ti__e != TI_OK) TI_FAILF("%s -> %s: %s", #expr, ti_err_name(ti__e), ti_errmsg()); \
    } while (0)

/* Expression must fail with `code`; its message must contain `substr` (may be ""). */
#define TI_CHECK_ERR(expr, code, substr)                                                   \
    do {                                                                                   \
        ti_error_clear();                                                                  \
        ti_err ti__e = (expr);                                                             \
        if (ti__e != (code))                                                               \
            TI_FAILF("%s -> %s, want %s (msg: %s)", #expr, ti_err_name(ti__e), ti_err_name(code), \
                     ti_errmsg());                                                         \
        else if (strstr(ti_errmsg(), (substr)) == NULL)                                    \
            TI_FAILF("%s: message '%s' lacks '%s'", #expr, ti_errmsg(), (substr));          \
    } while (0)

#define TI_CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                   \
        double ti__a = (double)(a), ti__b = (double)(b);                                   \
        if (!(fabs(ti__a - ti__b) <= (tol)))                                               \
            TI_FAILF("%s = %.9g vs %s = %.9g (tol %g)", #a, ti__a, #b, ti__b, (double)(tol)); \
    } while (0)

#define TI_SKIP(...)                                                   \
    do {                                                               \
        snprintf(ti__skip_why, sizeof ti__skip_why, __VA_ARGS__);      \
        fprintf(stderr, "  SKIP %s: %s\n", ti__cur_name, ti__skip_why); \
        ti__cur_skipped = 1;                                           \
        return;                                                        \
    } while (0)

#define TI_RUN(name)                                                         \
    do {                                                                     \
        ti__cur_name = #name;                                                \
        ti__cur_failed = 0;                                                  \
        ti__cur_skipped = 0;                                                 \
        name();                                                              \
        if (ti__cur_failed) ti__fail++;                                      \
        else if (ti__cur_skipped) {                                          \
            ti__skip++;                                                      \
            printf("TI_SKIPPED %s\t%s\n", #name, ti__skip_why);              \
        } else ti__pass++;                                                   \
        if (getenv("TI_TEST_VERBOSE"))                                       \
            fprintf(stderr, "  %s %s\n",                                     \
                    ti__cur_failed ? "FAIL" : ti__cur_skipped ? "SKIP" : "ok", #name); \
    } while (0)

static inline int ti_test_summary(void)
{
    printf("TI_RESULT pass=%d fail=%d skip=%d\n", ti__pass, ti__fail, ti__skip);
    fflush(stdout);
    return ti__fail ? 1 : 0;
}

/* Path of a test data file relative to the repository root (tests run from there). */
#define TI_TEST_DATA(rel) ("tests/data/" rel)

#endif
