/* The tickinfer CLI of the build a test belongs to: build/<kind>/tickinfer, found from the
 * test's own path (build/<kind>/tests/<module>/test_x).  Tests that drive the CLI use it
 * so a release test runs the release CLI and an ASan test the ASan one. */
#ifndef TICKINFER_TESTS_CLI_PATH_H
#define TICKINFER_TESTS_CLI_PATH_H

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tickinfer/clock.h"

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

/* Start `cli serve ARGS...` (args NULL-terminated, "serve" not included) with its stdout
 * on a pipe, and read its first line for the port it bound ("... 127.0.0.1:PORT ...").
 * Returns the port (0 if none came within timeout_s); *pid and *fd (the pipe) are the
 * caller's to wait for and close either way. */
static inline int ti_test_serve_spawn(const char *cli, const char *const *args, pid_t *pid, int *fd, double timeout_s)
{
    const char *argv[32] = {cli, "serve"};
    int k = 2;
    for (; args[k - 2] && k < 31; k++) argv[k] = args[k - 2];
    argv[k] = NULL;
    int out[2];
    *pid = -1, *fd = -1;
    if (pipe(out) != 0) return 0;
    *pid = fork();
    if (*pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execv(cli, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(out[1]);
    *fd = out[0];
    char line[512] = "";
    size_t n = 0;
    const uint64_t until = ti_now_ns() + (uint64_t)(timeout_s * 1e9);
    while (n < sizeof line - 1 && !strchr(line, '\n') && ti_now_ns() < until) {
        ssize_t r = read(out[0], line + n, sizeof line - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        line[n] = '\0';
    }
    const char *p = strstr(line, "127.0.0.1:");
    const int port = p ? atoi(p + 10) : 0;
    if (!port) fprintf(stderr, "  serve printed no port: '%s'\n", line);
    return port;
}

#endif
