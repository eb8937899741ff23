/* Progress bar: NULL safety, the non-TTY line format (stderr redirected to a temp
 * file), TI_PROGRESS=0, concurrent adds. */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/progress.h"
#include "tickinfer/threadpool.h"

/* Run fn with stderr going to a temp file; return what it wrote (malloc'd). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/ti_test_progress_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *buf = calloc((size_t)n + 1, 1);
    if (buf && n > 0 && pread(fd, buf, (size_t)n, 0) != n) buf[0] = '\0';
    close(fd);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The i-th line (0-based) of s, copied into out. */
static void nth_line(char *out, size_t cap, const char *s, int i)
{
    for (; i > 0 && *s; s++)
        if (*s == '\n') i--;
    size_t n = strcspn(s, "\n");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
}

static void null_calls(void *arg)
{
    (void)arg;
    ti_progress_add(NULL, 5);
    ti_progress_set_note(NULL, "x");
    ti_progress_finish(NULL);
}

/* NULL (what ti_progress_start returns when out of memory) is accepted and prints nothing. */
TI_TEST(null_is_a_no_op)
{
    char *out = capture_stderr(null_calls, NULL);
    TI_CHECK(out != NULL);
    if (!out) return;
    TI_CHECK_MSG(out[0] == '\0', "got output:\n%s", out);
    free(out);
}

static void count_to_100(void *arg)
{
    (void)arg;
    ti_progress *p = ti_progress_start("ingest", "symbols", 100);
    for (int i = 0; i < 100; i++) {
        if (i == 50) ti_progress_set_note(p, "loss 0.231");
        ti_progress_add(p, 1);
    }
    ti_progress_finish(p);
}

TI_TEST(non_tty_prints_each_tenth_and_a_final_line)
{
    unsetenv("TI_PROGRESS");
    char *out = capture_stderr(count_to_100, NULL);
    TI_CHECK(out != NULL);
    if (!out) return;
    TI_CHECK_MSG(count_lines(out) == 10, "got %d lines:\n%s", count_lines(out), out);
    TI_CHECK(strchr(out, '\r') == NULL && strchr(out, '\x1b') == NULL); /* no TTY controls */
    char line[256], want[64];
    for (int i = 0; i < 9; i++) {
        nth_line(line, sizeof line, out, i);
        snprintf(want, sizeof want, "ingest: %3d%% %d/100 symbols", (i + 1) * 10, (i + 1) * 10);
        TI_CHECK_MSG(strncmp(line, want, strlen(want)) == 0, "line %d: '%s', want prefix '%s'", i, line, want);
        TI_CHECK_MSG(strstr(line, "symbols/s") && strstr(line, "ETA"), "line %d lacks rate/ETA: '%s'", i, line);
        TI_CHECK((i >= 5) == (strstr(line, "loss 0.231") != NULL)); /* note shown once set */
    }
    nth_line(line, sizeof line, out, 9);
    TI_CHECK_MSG(strncmp(line, "ingest: 100/100 symbols done in ", 32) == 0, "final line '%s'", line);
    TI_CHECK(strstr(line, "loss 0.231") != NULL);
    free(out);
}

static void jump(void *arg)
{
    (void)arg;
    ti_progress *p = ti_progress_start("train", "steps", 1000);
    ti_progress_add(p, 250); /* straight to 25%: one line, not two */
    ti_progress_add(p, 10);  /* still 26%: nothing */
    ti_progress_finish(p);
}

TI_TEST(jumps_print_one_line)
{
    char *out = capture_stderr(jump, NULL);
    if (!out) return;
    TI_CHECK_MSG(count_lines(out) == 2, "got:\n%s", out);
    TI_CHECK_MSG(strncmp(out, "train:  25% 250/1000 steps", 26) == 0, "got:\n%s", out);
    TI_CHECK(strstr(out, "train: 260/1000 steps done in") != NULL);
    free(out);
}

static void unknown_total(void *arg)
{
    (void)arg;
    ti_progress *p = ti_progress_start("scan", NULL, 0);
    for (int i = 0; i < 1000; i++) ti_progress_add(p, 1);
    ti_progress_finish(p);
}

TI_TEST(unknown_total_prints_final_line)
{
    char *out = capture_stderr(unknown_total, NULL);
    if (!out) return;
    TI_CHECK_MSG(count_lines(out) == 1, "got:\n%s", out);
    TI_CHECK(strncmp(out, "scan: 1000 items done in", 24) == 0);
    free(out);
}

TI_TEST(env_zero_disables)
{
    setenv("TI_PROGRESS", "0", 1);
    char *out = capture_stderr(count_to_100, NULL);
    unsetenv("TI_PROGRESS");
    if (!out) return;
    TI_CHECK_MSG(out[0] == '\0', "got output:\n%s", out);
    free(out);
}

static void add_items(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    for (size_t i = begin; i < end; i++) ti_progress_add(ctx, 1);
}

static void threaded(void *arg)
{
    ti_pool *pool = arg;
    ti_progress *p = ti_progress_start("par", "rows", 100000);
    ti_pool_parallel_for(pool, 100000, 64, add_items, p);
    ti_progress_finish(p);
}

TI_TEST(concurrent_adds_count_exactly_and_lines_go_up)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 4));
    if (!pool) return;
    char *out = capture_stderr(threaded, pool);
    ti_pool_destroy(pool);
    if (!out) return;
    int n = count_lines(out);
    TI_CHECK_MSG(n >= 2 && n <= 10, "got %d lines:\n%s", n, out);
    char line[256];
    int last_pct = 0;
    for (int i = 0; i + 1 < n; i++) {
        nth_line(line, sizeof line, out, i);
        int pct = 0;
        TI_CHECK(sscanf(line, "par: %d%%", &pct) == 1);
        TI_CHECK_MSG(pct > last_pct, "line %d went from %d%% to %d%%", i, last_pct, pct);
        last_pct = pct;
    }
    nth_line(line, sizeof line, out, n - 1);
    TI_CHECK_MSG(strncmp(line, "par: 100000/100000 rows done in", 31) == 0, "final line '%s'", line);
    free(out);
}

int main(void)
{
    TI_RUN(null_is_a_no_op);
    TI_RUN(non_tty_prints_each_tenth_and_a_final_line);
    TI_RUN(jumps_print_one_line);
    TI_RUN(unknown_total_prints_final_line);
    TI_RUN(env_zero_disables);
    TI_RUN(concurrent_adds_count_exactly_and_lines_go_up);
    return ti_test_summary();
}
