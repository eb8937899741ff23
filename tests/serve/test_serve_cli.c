/* `tickinfer serve` as a process: starts on port 0 and prints the port, answers, and on
 * SIGTERM finishes the request in flight before exiting 0.  The CLI binary is found next
 * to this test's build folder (build/<kind>/tickinfer). */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "cli_path.h"
#include "harness.h"
#include "http_client.h"
#include "tickinfer/clock.h"

static char g_cli[PATH_MAX];

static int find_cli(void) { return ti_test_find_cli(g_cli, sizeof g_cli); }

typedef struct slow_req {
    int port, status;
} slow_req;

static void *send_one(void *p)
{
    slow_req *a = p;
    const char *body = "{\"x\":[[0,0.6,0.2,0,3,0.0005,0.001,0.0012,0,0.0004,7,0]]}";
    tc_resp r;
    a->status = tc_request(a->port, "POST", "/predict", NULL, body, strlen(body), &r) == 0 ? r.status : -1;
    tc_resp_free(&r);
    return NULL;
}

TI_TEST(cli_serves_and_drains_on_sigterm)
{
    int have = find_cli() == 0;
    TI_CHECK_MSG(have, "tickinfer CLI not built next to the tests (%s)", g_cli);
    if (!have) return;
    int out[2];
    TI_CHECK(pipe(out) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        /* a 400 ms batching delay keeps the request in flight when SIGTERM arrives */
        execl(g_cli, g_cli, "serve", "--port", "0", "--model", "rv=models/rv_causal_optiver.safetensors",
              "--max-delay-us", "400000", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    size_t n = 0;
    uint64_t until = ti_now_ns() + 20000000000ull;
    while (n < sizeof line - 1 && !strchr(line, '\n') && ti_now_ns() < until) {
        ssize_t k = read(out[0], line + n, sizeof line - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        line[n] = '\0';
    }
    const char *p = strstr(line, "127.0.0.1:");
    int port = p ? atoi(p + 10) : 0;
    TI_CHECK_MSG(port > 0, "no port in '%s'", line);
    if (port > 0) {
        tc_resp r;
        TI_CHECK(tc_request(port, "GET", "/v2/health/ready", NULL, NULL, 0, &r) == 0 && r.status == 200);
        tc_resp_free(&r);
        slow_req a = {port, 0};
        pthread_t th;
        pthread_create(&th, NULL, send_one, &a);
        usleep(150000); /* the request is now waiting for its batch */
        kill(pid, SIGTERM);
        pthread_join(th, NULL);
        TI_CHECK_MSG(a.status == 200, "request in flight at SIGTERM got %d", a.status);
    } else {
        kill(pid, SIGTERM);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    TI_CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serve exited with status %d", st);
    close(out[0]);
}

int main(void)
{
    TI_RUN(cli_serves_and_drains_on_sigterm);
    return ti_test_summary();
}
