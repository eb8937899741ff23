/* The tickinfer CLI of the build a test belongs to: build/<kind>/tickinfer, found from the
 * test's own path (build/<kind>/tests/<module>/test_x).  Tests that drive the CLI use it
 * so a release test runs the release CLI and an ASan test the ASan one. */
#ifndef TICKINFER_TESTS_CLI_PATH_H
#define TICKINFER_TESTS_CLI_PATH_H

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* 0 with out = the CLI's path if it exists and is executable, else -1. */
static inline int ti_test_find_cli(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = '\0';
    char *p = strstr(self, "/tests/");
    if (!p) return -1;
    *p = '\0';
    if ((size_t)snprintf(out, cap, "%s/tickinfer", self) >= cap) return -1;
    return access(out, X_OK);
}

#endif
