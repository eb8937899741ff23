/* Helpers of the embedding-API tests: the build folder of this test binary, running
 * commands, reading files. */
#ifndef TICKINFER_TESTS_API_FIXTURE_H
#define TICKINFER_TESTS_API_FIXTURE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* build/<flavour> from /proc/self/exe = build/<flavour>/tests/api/<name>; 0 on success. */
static inline int api_build_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    for (int up = 0; up < 3; up++) {
        char *s = strrchr(exe, '/');
        if (!s) return -1;
        *s = 0;
    }
    return snprintf(out, cap, "%s", exe) < (int)cap ? 0 : -1;
}

/* All of a stream, NUL-terminated (free it), or NULL. */
static inline char *api_read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t k; b && (k = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (cap - n - 1 == 0) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    if (b) b[n] = 0;
    if (len) *len = n;
    return b;
}

/* Whole file, NUL-terminated (free it), or NULL. */
static inline char *api_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = api_read_all(f, len);
    fclose(f);
    return b;
}

/* Output of a shell command (free it) and its exit code in *rc, or NULL. */
static inline char *api_run(const char *cmd, int *rc)
{
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    char *b = api_read_all(p, NULL);
    const int st = pclose(p);
    if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return b;
}

#endif
