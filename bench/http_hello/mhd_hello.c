/* Hello-world keep-alive server on libmicrohttpd (epoll + internal thread pool), the mode
 * `tickinfer serve` uses.  For bench/http_hello.sh only (not built by make).
 *   mhd_hello PORT THREADS */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char k_body[] = "{\"live\":true}";

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *up, size_t *up_size, void **con_cls)
{
    static int first;
    if (*con_cls == NULL) { /* headers only: wait for the (empty) body */
        *con_cls = &first;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof k_body - 1, (void *)k_body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int port = atoi(argv[1]), threads = atoi(argv[2]);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL,
                                            on_req, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                                            MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                            MHD_OPTION_END);
    if (!d) return 1;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigprocmask(SIG_BLOCK, &s, NULL);
    int sig;
    sigwait(&s, &sig);
    MHD_stop_daemon(d);
    return 0;
}
