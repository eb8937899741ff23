#include "harness.h"
#include "tickinfer/cpu.h"
#include "tickinfer/err.h"

static ti_err fails_with_path(const char *path) { return ti_errorf(TI_ERR_NOT_FOUND, "open %s: no such file", path); }

TI_TEST(errorf_sets_message)
{
    TI_CHECK_ERR(fails_with_path("x.parquet"), TI_ERR_NOT_FOUND, "x.parquet");
    TI_CHECK(strcmp(ti_err_name(TI_ERR_FORMAT), "TI_ERR_FORMAT") == 0);
    TI_CHECK(strcmp(ti_err_name((ti_err)999), "TI_ERR_UNKNOWN") == 0);
}

TI_TEST(wrap_prefixes_context)
{
    fails_with_path("a.csv");
    ti_err e = ti_error_wrap(TI_ERR_IO, "ingest %s: ", "dir");
    TI_CHECK(e == TI_ERR_IO);
    TI_CHECK(strcmp(ti_errmsg(), "ingest dir: open a.csv: no such file") == 0);
    ti_error_clear();
    TI_CHECK(ti_errmsg()[0] == '\0');
}

TI_TEST(wrap_adds_its_own_separator)
{
    ti_errorf(TI_ERR_RANGE, "c");
    ti_error_wrap(TI_ERR_RANGE, "b");
    ti_err e = ti_error_wrap(TI_ERR_RANGE, "a %d", 1);
    TI_CHECK(e == TI_ERR_RANGE);
    TI_CHECK_MSG(strcmp(ti_errmsg(), "a 1: b: c") == 0, "'%s'", ti_errmsg());
    /* the older style (prefix ends in ": ") gets no second separator */
    ti_error_wrap(TI_ERR_RANGE, "z: ");
    TI_CHECK_MSG(strcmp(ti_errmsg(), "z: a 1: b: c") == 0, "'%s'", ti_errmsg());
    /* nothing to wrap: the prefix alone */
    ti_error_clear();
    ti_error_wrap(TI_ERR_IO, "only");
    TI_CHECK_MSG(strcmp(ti_errmsg(), "only") == 0, "'%s'", ti_errmsg());
    ti_error_clear();
}

TI_TEST(simd_level_is_consistent)
{
    ti_simd_level sup = ti_simd_supported();
    TI_CHECK(ti_simd_active() <= sup);
    TI_CHECK(ti_cpu_get()->n_cores_online >= 1);
    if (sup >= TI_SIMD_AVX2) TI_CHECK(ti_cpu_get()->has_avx2 && ti_cpu_get()->has_fma);
}

int main(void)
{
    TI_RUN(errorf_sets_message);
    TI_RUN(wrap_prefixes_context);
    TI_RUN(wrap_adds_its_own_separator);
    TI_RUN(simd_level_is_consistent);
    return ti_test_summary();
}
