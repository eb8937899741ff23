/* The load generator's HTTP client against a tiny scripted server in this process:
 * keep-alive, chunked, Connection: close, close-delimited bodies, a stale kept-alive
 * connection, timeouts, malformed answers and limits -> errors with the right kind. */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/clock.h"
#include "tickinfer/loadgen.h"

static int g_lfd, g_port;
static atomic_int g_stop;

static void send_str(int fd, const char *s) { (void)!send(fd, s, strlen(s), MSG_NOSIGNAL); }

/* Read one request head (+ its Content-Length body); the path into path[].  0 on EOF. */
static int read_request(int fd, char *path, size_t cap)
{
    char buf[8192];
    size_t n = 0;
    while (n < sizeof buf - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 3000) <= 0) return 0;
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0) return 0;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        const char *cl = strstr(buf, "Content-Length: ");
        size_t want = (size_t)(end + 4 - buf) + (cl ? (size_t)atol(cl + 16) : 0);
        while (n < want && n < sizeof buf - 1) {
            r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
            if (r <= 0) return 0;
            n += (size_t)r;
        }
        const char *sp = strchr(buf, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
        if (!sp2 || (size_t)(sp2 - sp - 1) >= cap) return 0;
        memcpy(path, sp + 1, (size_t)(sp2 - sp - 1));
        path[sp2 - sp - 1] = '\0';
        return 1;
    }
    return 0;
}

/* Answer requests on one connection; returns when it closes. */
static void serve_conn(int fd)
{
    char path[256];
    while (read_request(fd, path, sizeof path)) {
        if (!strcmp(path, "/ka")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        } else if (!strcmp(path, "/chunked")) {
            /* split across sends, with a chunk extension and a trailer */
            send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n4\r\nabcd\r\n");
            usleep(20000);
            send_str(fd, "A;ext=1\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n");
        } else if (!strcmp(path, "/close")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye");
            return;
        } else if (!strcmp(path, "/eof")) { /* body delimited by close */
            send_str(fd, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
            return;
        } else if (!strcmp(path, "/idleclose")) { /* keep-alive answer, then closes anyway */
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            return;
        } else if (!strcmp(path, "/hang")) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, 3000); /* until the client gives up */
            return;
        } else if (!strcmp(path, "/badstatus")) {
            send_str(fd, "HTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            return;
        } else if (!strcmp(path, "/badchunk")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n");
            return;
        } else if (!strcmp(path, "/badlen")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n");
            return;
        } else if (!strcmp(path, "/big")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
            return;
        } else if (!strcmp(path, "/truncated")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
            return;
        } else if (!strcmp(path, "/503")) {
            send_str(fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
        } else {
            send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop)) {
        struct pollfd p = {.fd = g_lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(g_lfd, NULL, NULL);
        if (fd < 0) continue;
        serve_conn(fd);
        close(fd);
    }
    return NULL;
}

static int start_server(pthread_t *th)
{
    g_lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (g_lfd < 0 || bind(g_lfd, (struct sockaddr *)&a, sizeof a) || listen(g_lfd, 8) ||
        getsockname(g_lfd, (struct sockaddr *)&a, &al))
        return -1;
    g_port = ntohs(a.sin_port);
    return pthread_create(th, NULL, server_main, NULL) ? -1 : 0;
}

static ti_err req(ti_http_client *c, ti_http_response *r, const char *path)
{
    return ti_http_client_request(c, r, "POST", path, "Content-Type: text/plain\r\n", "body!", 5);
}

TI_TEST(keep_alive_and_chunked)
{
    ti_http_client *c;
    ti_http_response r;
    TI_CHECK_OK(ti_http_client_create(&c, "127.0.0.1", g_port, 2000, 0));
    for (int i = 0; i < 3; i++) {
        TI_CHECK_OK(req(c, &r, "/ka"));
        TI_CHECK(r.status == 200 && r.body_len == 5 && !memcmp(r.body, "hello", 5) && r.keep_alive);
    }
    TI_CHECK_OK(req(c, &r, "/chunked"));
    TI_CHECK(r.status == 200 && r.body_len == 14 && !strcmp(r.body, "abcd0123456789"));
    TI_CHECK(!strcmp(r.content_type, "text/plain"));
    TI_CHECK_OK(req(c, &r, "/503"));
    TI_CHECK(r.status == 503 && r.body_len == 4);
    TI_CHECK(ti_http_client_connects(c) == 1); /* all on one connection */
    ti_http_client_destroy(c);
}

TI_TEST(close_and_reconnect)
{
    ti_http_client *c;
    ti_http_response r;
    TI_CHECK_OK(ti_http_client_create(&c, "127.0.0.1", g_port, 2000, 0));
    TI_CHECK_OK(req(c, &r, "/close"));
    TI_CHECK(r.status == 200 && !r.keep_alive && r.body_len == 3);
    TI_CHECK_OK(req(c, &r, "/eof"));
    TI_CHECK(r.status == 200 && r.body_len == 13 && !strcmp(r.body, "until the end"));
    TI_CHECK(ti_http_client_connects(c) == 2);
    /* The server closes a kept-alive connection after answering: the next request finds
     * it dead before any byte and is retried once on a new connection. */
    TI_CHECK_OK(req(c, &r, "/idleclose"));
    usleep(20000);
    TI_CHECK_OK(req(c, &r, "/ka"));
    TI_CHECK(r.status == 200 && r.body_len == 5);
    TI_CHECK(ti_http_client_connects(c) == 4);
    ti_http_client_destroy(c);
}

TI_TEST(timeout_is_an_error)
{
    ti_http_client *c;
    ti_http_response r;
    TI_CHECK_OK(ti_http_client_create(&c, "127.0.0.1", g_port, 200, 0));
    uint64_t t = ti_now_ns();
    TI_CHECK_ERR(req(c, &r, "/hang"), TI_ERR_LIMIT, "timed out");
    double s = (double)(ti_now_ns() - t) / 1e9;
    TI_CHECK(s >= 0.19 && s < 1.5);
    TI_CHECK(ti_http_client_last_kind(c) == TI_LG_ERR_TIMEOUT);
    TI_CHECK_OK(req(c, &r, "/ka")); /* usable afterwards */
    TI_CHECK(r.status == 200);
    ti_http_client_destroy(c);
}

TI_TEST(malformed_answers_are_errors)
{
    ti_http_client *c;
    ti_http_response r;
    TI_CHECK_OK(ti_http_client_create(&c, "127.0.0.1", g_port, 2000, 1000));
    TI_CHECK_ERR(req(c, &r, "/badstatus"), TI_ERR_FORMAT, "status line");
    TI_CHECK(ti_http_client_last_kind(c) == TI_LG_ERR_PROTOCOL);
    TI_CHECK_ERR(req(c, &r, "/badchunk"), TI_ERR_FORMAT, "chunk");
    TI_CHECK_ERR(req(c, &r, "/badlen"), TI_ERR_FORMAT, "Content-Length");
    TI_CHECK_ERR(req(c, &r, "/big"), TI_ERR_LIMIT, "limit");
    TI_CHECK(ti_http_client_last_kind(c) == TI_LG_ERR_PROTOCOL);
    TI_CHECK_ERR(req(c, &r, "/truncated"), TI_ERR_IO, "closed inside the body");
    TI_CHECK(ti_http_client_last_kind(c) == TI_LG_ERR_IO);
    TI_CHECK_OK(req(c, &r, "/ka"));
    TI_CHECK(r.status == 200);
    ti_http_client_destroy(c);
}

TI_TEST(connect_refused)
{
    /* A port we bound and closed: nothing listens there. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    TI_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    close(fd);
    ti_http_client *c;
    ti_http_response r;
    TI_CHECK_OK(ti_http_client_create(&c, "127.0.0.1", ntohs(a.sin_port), 1000, 0));
    TI_CHECK_ERR(req(c, &r, "/ka"), TI_ERR_IO, "connect");
    TI_CHECK(ti_http_client_last_kind(c) == TI_LG_ERR_CONNECT);
    ti_http_client_destroy(c);
    TI_CHECK_ERR(ti_http_client_create(&c, "127.0.0.1", 0, 1000, 0), TI_ERR_INVALID_ARG, "port");
}

TI_TEST(metrics_parse)
{
    const char *txt = "# TYPE tickinfer_inference_duration_seconds histogram\n"
                      "tickinfer_inference_duration_seconds_bucket{model=\"rv\",stage=\"queue\",le=\"0.001\"} 3\n"
                      "tickinfer_inference_duration_seconds_sum{model=\"rv\",stage=\"queue\"} 0.25\n"
                      "tickinfer_inference_duration_seconds_count{model=\"rv\",stage=\"queue\"} 10\n"
                      "tickinfer_inference_duration_seconds_sum{model=\"rv\",stage=\"compute\"} 1.5\n"
                      "tickinfer_inference_duration_seconds_count{model=\"rv\",stage=\"compute\"} 10\n"
                      "tickinfer_inference_duration_seconds_sum{model=\"tiny\",stage=\"compute\"} 2.0\n"
                      "tickinfer_inference_duration_seconds_count{model=\"tiny\",stage=\"compute\"} 5\n"
                      "tickinfer_inference_duration_seconds_sum{model=\"rv\",stage=\"stream\"} 0.004\n"
                      "tickinfer_inference_duration_seconds_count{model=\"rv\",stage=\"stream\"} 200\n";
    ti_lg_server_stats s;
    TI_CHECK_OK(ti_lg_parse_metrics(&s, txt, strlen(txt), "rv"));
    TI_CHECK(s.present);
    TI_CHECK_NEAR(s.queue_sum_s, 0.25, 1e-12);
    TI_CHECK_NEAR(s.compute_sum_s, 1.5, 1e-12);
    TI_CHECK_NEAR(s.count, 10, 0);
    TI_CHECK_NEAR(s.stream_sum_s, 0.004, 1e-12);
    TI_CHECK_NEAR(s.stream_count, 200, 0);
    TI_CHECK_OK(ti_lg_parse_metrics(&s, txt, strlen(txt), ""));
    TI_CHECK_NEAR(s.compute_sum_s, 3.5, 1e-12);
    TI_CHECK_NEAR(s.count, 15, 0);
    TI_CHECK_OK(ti_lg_parse_metrics(&s, "other 1\n", 8, ""));
    TI_CHECK(!s.present);
    const char *bad = "tickinfer_inference_duration_seconds_sum{model=\"rv\",stage=\"queue\"} zz\n";
    TI_CHECK_ERR(ti_lg_parse_metrics(&s, bad, strlen(bad), ""), TI_ERR_FORMAT, "bad value");
}

int main(void)
{
    pthread_t th;
    if (start_server(&th)) {
        fprintf(stderr, "cannot start the test server\n");
        return 1;
    }
    TI_RUN(keep_alive_and_chunked);
    TI_RUN(close_and_reconnect);
    TI_RUN(timeout_is_an_error);
    TI_RUN(malformed_answers_are_errors);
    TI_RUN(connect_refused);
    TI_RUN(metrics_parse);
    atomic_store(&g_stop, 1);
    pthread_join(th, NULL);
    close(g_lfd);
    return ti_test_summary();
}
