/* A small raw-socket HTTP/1.1 client for the server tests: keep-alive connections,
 * pipelining (send several requests, read the answers in order), and byte-level control
 * for malformed and slow requests.  Header-only (static functions): one copy per test. */
#ifndef TICKINFER_TESTS_SERVE_HTTP_CLIENT_H
#define TICKINFER_TESTS_SERVE_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct tc_conn {
    int fd;
    char *buf; /* bytes read but not yet consumed (pipelined answers) */
    size_t have, cap;
} tc_conn;

typedef struct tc_resp {
    int status;        /* 0: no answer (connection closed or timed out) */
    char headers[4096];
    char *body;        /* NUL-terminated, malloc'd */
    size_t body_len;
} tc_resp;

static inline void tc_resp_free(tc_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static inline int tc_open(tc_conn *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static inline void tc_close(tc_conn *c)
{
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static inline int tc_send(tc_conn *c, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Send a whole request; body may be NULL.  extra_headers: "Name: v\r\n..." or NULL. */
static inline int tc_send_req(tc_conn *c, const char *method, const char *path, const char *extra_headers, const void *body,
                       size_t body_len)
{
    char head[8192];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: %zu\r\n\r\n", method, path,
                     extra_headers ? extra_headers : "", body ? body_len : 0);
    if (n < 0 || (size_t)n >= sizeof head) return -1;
    if (tc_send(c, head, (size_t)n)) return -1;
    return body && body_len ? tc_send(c, body, body_len) : 0;
}

/* Read until `need` bytes are buffered; 0 ok, -1 closed / timeout (timeout_ms per wait). */
static inline int tc_fill(tc_conn *c, size_t need, int timeout_ms)
{
    while (c->have < need) {
        if (c->cap - c->have < 65536) {
            size_t nc = c->cap ? c->cap * 2 : 131072;
            char *nb = realloc(c->buf, nc + 1);
            if (!nb) return -1;
            c->buf = nb;
            c->cap = nc;
        }
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr <= 0) return -1;
        ssize_t k = recv(c->fd, c->buf + c->have, c->cap - c->have, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c->have += (size_t)k;
    }
    return 0;
}

static inline const char *tc_find(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    return NULL;
}

/* Value of header `name` in r (case-insensitive) into out; 0 if found. */
static inline int tc_header(const tc_resp *r, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    const char *p = r->headers;
    while ((p = strchr(p, '\n'))) {
        p++;
        if (strncasecmp(p, name, k) == 0 && p[k] == ':') {
            p += k + 1;
            while (*p == ' ') p++;
            size_t n = strcspn(p, "\r\n");
            if (n >= cap) n = cap - 1;
            memcpy(out, p, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* Read one response (Content-Length bodies). */
static inline int tc_read_resp(tc_conn *c, tc_resp *r, int timeout_ms)
{
    memset(r, 0, sizeof *r);
    const char *end = NULL;
    size_t need = 1;
    while (!(end = c->have ? tc_find(c->buf, c->have, "\r\n\r\n") : NULL)) {
        if (tc_fill(c, need, timeout_ms)) return -1;
        need = c->have + 1;
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    size_t copy = hlen < sizeof r->headers ? hlen : sizeof r->headers - 1;
    memcpy(r->headers, c->buf, copy);
    r->headers[copy] = '\0';
    if (sscanf(r->headers, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    char cl[32];
    size_t blen = 0;
    if (tc_header(r, "Content-Length", cl, sizeof cl) == 0) blen = (size_t)strtoull(cl, NULL, 10);
    if (tc_fill(c, hlen + blen, timeout_ms)) return -1;
    r->body = malloc(blen + 1);
    if (!r->body) return -1;
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->have - hlen - blen);
    c->have -= hlen + blen;
    return 0;
}

/* One request on a fresh connection. */
static inline int tc_request(int port, const char *method, const char *path, const char *extra_headers, const void *body,
                      size_t body_len, tc_resp *r)
{
    tc_conn c;
    memset(r, 0, sizeof *r);
    if (tc_open(&c, port)) return -1;
    int rc = tc_send_req(&c, method, path, extra_headers, body, body_len);
    if (!rc) rc = tc_read_resp(&c, r, 20000);
    tc_close(&c);
    return rc;
}

/* True when the server has closed the connection (EOF within timeout_ms). */
static inline int tc_closed_by_peer(tc_conn *c, int timeout_ms)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0) return 0;
    char b[256];
    ssize_t k = recv(c->fd, b, sizeof b, 0);
    return k == 0 || (k < 0 && errno == ECONNRESET);
}

#endif
