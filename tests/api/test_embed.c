/* examples/embed_stream.c, built by `make tests` against the installed library with
 * pkg-config (build/<flavour>/examples/embed_stream, shared), prints exactly what
 * `tickinfer stream replay --out` writes for the same trades and model: byte for byte.  The
 * same example linked statically from the installed archive with `pkg-config --static`
 * (checks Libs.private) prints the same again. */
#include <ftw.h>

#include "harness.h"
#include "api_fixture.h"
#include "tickinfer/version.h"

#define MODEL "models/rv_causal_optiver.safetensors"
#define SOURCE "data/optiver/trade_train.parquet"
#define N_SYMBOLS "3"
#define N_SESSIONS "5"

#ifdef __SANITIZE_ADDRESS__
#define EX_FLAGS "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer"
#else
#define EX_FLAGS "-O2"
#endif

static char bdir[PATH_MAX], tmp[] = "/tmp/ti_embed_XXXXXX";
static char cmd[12 * PATH_MAX];

/* First line where a and b differ (1-based), 0 if equal. */
static long first_diff(const char *a, const char *b)
{
    long line = 1;
    for (; *a && *a == *b; a++, b++)
        if (*a == '\n') line++;
    return *a == *b ? 0 : line;
}

static void compare_with_replay(const char *exe, const char *what)
{
    int rc = -1;
    snprintf(cmd, sizeof cmd,
             "'%s/tickinfer' stream replay --model " MODEL " --source " SOURCE " --symbols " N_SYMBOLS
             " --buckets " N_SESSIONS " --out '%s/replay.csv' 2>&1",
             bdir, tmp);
    char *o = api_run(cmd, &rc);
    TI_CHECK_MSG(rc == 0, "tickinfer stream replay failed (%d): %s", rc, o ? o : "");
    free(o);
    snprintf(cmd, sizeof cmd, "'%s' " MODEL " " SOURCE " " N_SYMBOLS " " N_SESSIONS " 2>'%s/embed.err'", exe, tmp);
    char *ex = api_run(cmd, &rc);
    snprintf(cmd, sizeof cmd, "%s/embed.err", tmp);
    char *err = api_slurp(cmd, NULL);
    TI_CHECK_MSG(rc == 0, "%s failed (%d): %s", exe, rc, err ? err : "");
    snprintf(cmd, sizeof cmd, "%s/replay.csv", tmp);
    char *rp = api_slurp(cmd, NULL);
    TI_CHECK(ex && rp);
    if (ex && rp) {
        long rows = 0;
        for (const char *p = rp; *p; p++) rows += *p == '\n';
        TI_CHECK_MSG(rows > 300, "replay wrote only %ld lines", rows);
        const long d = first_diff(ex, rp);
        TI_CHECK_MSG(d == 0, "%s: output differs from tickinfer stream replay at line %ld", what, d);
        if (d == 0) fprintf(stderr, "  %s: %ld lines equal to tickinfer stream replay\n", what, rows);
        TI_CHECK_MSG(err && strstr(err, "tickinfer " TI_VERSION_STRING), "banner missing: %s", err ? err : "");
    }
    free(ex);
    free(rp);
    free(err);
}

TI_TEST(shared_example_equals_replay)
{
    char exe[PATH_MAX + 32];
    snprintf(exe, sizeof exe, "%s/examples/embed_stream", bdir);
    TI_CHECK_MSG(access(exe, X_OK) == 0, "%s missing: `make tests` builds it", exe);
    if (access(exe, X_OK) != 0) return;
    /* linked against the installed shared library, not the archive */
    snprintf(cmd, sizeof cmd, "ldd '%s' 2>&1", exe);
    int rc = -1;
    char *o = api_run(cmd, &rc);
    TI_CHECK_MSG(o && strstr(o, "/stage/lib/libtickinfer.so"), "%s does not load the installed libtickinfer.so: %s",
                 exe, o ? o : "");
    free(o);
    compare_with_replay(exe, "shared");
}

TI_TEST(static_example_equals_replay)
{
    int rc = -1;
    /* a folder holding only the archives, so -ltickinfer resolves to libtickinfer.a */
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/a' && ln -sf '%s/stage/lib/libtickinfer.a' '%s/a/' && "
             "{ [ ! -f '%s/stage/lib/libtickinfer_cuda.a' ] || ln -sf '%s/stage/lib/libtickinfer_cuda.a' '%s/a/'; } && "
             "export PKG_CONFIG_PATH='%s/stage/lib/pkgconfig' && "
             "pkg-config --modversion tickinfer && "
             "${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Werror " EX_FLAGS " examples/embed_stream.c "
             "$(pkg-config --cflags tickinfer) -L'%s/a' $(pkg-config --static --libs tickinfer) "
             "-o '%s/embed_static' 2>&1",
             tmp, bdir, tmp, bdir, bdir, tmp, bdir, tmp, tmp);
    char *o = api_run(cmd, &rc);
    TI_CHECK_MSG(rc == 0, "static build with pkg-config --static failed (%d): %s", rc, o ? o : "");
    TI_CHECK_MSG(o && strncmp(o, TI_VERSION_STRING "\n", strlen(TI_VERSION_STRING) + 1) == 0,
                 "pkg-config --modversion: %s", o ? o : "");
    free(o);
    if (rc != 0) return;
    snprintf(cmd, sizeof cmd, "ldd '%s/embed_static' 2>&1 | grep -c libtickinfer", tmp);
    o = api_run(cmd, &rc);
    TI_CHECK_MSG(o && o[0] == '0', "the static example loads libtickinfer.so");
    free(o);
    char exe[PATH_MAX + 32];
    snprintf(exe, sizeof exe, "%s/embed_static", tmp);
    compare_with_replay(exe, "static");
}

TI_TEST(example_reports_errors)
{
    int rc = -1;
    snprintf(cmd, sizeof cmd, "'%s/examples/embed_stream' no/such/model.safetensors " SOURCE " 2>&1", bdir);
    char *o = api_run(cmd, &rc);
    TI_CHECK_MSG(rc == 1 && o && strstr(o, "no/such/model.safetensors") && strstr(o, "TI_ERR_NOT_FOUND"),
                 "rc %d, output: %s", rc, o ? o : "");
    free(o);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    if (api_build_dir(bdir, sizeof bdir) != 0 || !mkdtemp(tmp)) {
        fprintf(stderr, "cannot find the build folder or make a temp folder\n");
        printf("TI_RESULT pass=0 fail=1 skip=0\n");
        return 1;
    }
    TI_RUN(shared_example_equals_replay);
    TI_RUN(static_example_equals_replay);
    TI_RUN(example_reports_errors);
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return ti_test_summary();
}
