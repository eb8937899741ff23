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
    /* a 400 ms batching delay keeps the request in flight when SIGTERM arrives */
    const char *args[] = {"--port", "0", "--model", "rv=models/rv_causal_optiver.safetensors", "--max-delay-us", "400000",
                          NULL};
    pid_t pid;
    int fd;
    const int port = ti_test_serve_spawn(g_cli, args, &pid, &fd, 20);
    TI_CHECK_MSG(port > 0, "serve printed no port");
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
    close(fd);
}

int main(void)
{
    TI_RUN(cli_serves_and_drains_on_sigterm);
    return ti_test_summary();
}
