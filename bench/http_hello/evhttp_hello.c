/* Hello-world keep-alive server on libevent's evhttp: one event loop per thread, each
 * accepting on its own SO_REUSEPORT socket.  For bench/http_hello.sh only.
 *   evhttp_hello PORT THREADS */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char k_body[] = "{\"live\":true}";
static int g_port;

static void on_req(struct evhttp_request *req, void *arg)
{
    struct evbuffer *b = evhttp_request_get_output_buffer(req);
    evbuffer_add_reference(b, k_body, sizeof k_body - 1, NULL, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void *loop(void *arg)
{
    struct event_base *base = event_base_new();
    struct evhttp *h = evhttp_new(base);
    evhttp_set_gencb(h, on_req, NULL);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 1024) || evhttp_accept_socket(h, fd)) {
        perror("evhttp_hello");
        exit(1);
    }
    event_base_dispatch(base);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    g_port = atoi(argv[1]);
    int threads = atoi(argv[2]);
    pthread_t th[64];
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&th[i], NULL, loop, NULL);
    pthread_join(th[0], NULL);
    return 0;
}
