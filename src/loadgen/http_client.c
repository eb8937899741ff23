/* A small blocking HTTP/1.1 client for the load generator: one connection, kept alive,
 * every wait bounded by poll() against one per-request deadline. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getaddrinfo, SOCK_NONBLOCK (the Makefile defines it too) */
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tickinfer/clock.h"
#include "tickinfer/loadgen.h"

#define HDR_MAX (64u * 1024u)         /* status line + headers */
#define DEFAULT_MAX_BODY (256u << 20)

struct ti_http_client {
    char host[256];
    int port, timeout_ms, fd, connects;
    size_t max_body;
    char *buf;              /* received bytes; [pos, len) not yet consumed */
    size_t cap, len, pos;
    char *body;             /* assembled body of the last answer */
    size_t body_cap;
    char *req;              /* request head */
    size_t req_cap;
    ti_lg_errkind kind;
};

static const char *const g_kind_names[TI_LG_ERR__COUNT] = {"connect", "timeout", "io", "protocol",
                                                          "http_4xx", "http_5xx", "inproc"};

const char *ti_lg_errkind_name(ti_lg_errkind k)
{
    return (int)k >= 0 && k < TI_LG_ERR__COUNT ? g_kind_names[k] : "?";
}

static ti_err fail(ti_http_client *c, ti_lg_errkind k, ti_err e, const char *what)
{
    c->kind = k;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    return ti_errorf(e, "http %s:%d: %s", c->host, c->port, what);
}

ti_err ti_http_client_create(ti_http_client **out, const char *host, int port, int timeout_ms, size_t max_body)
{
    if (!out || !host || port <= 0 || port > 65535 || timeout_ms <= 0 || strlen(host) >= 256)
        return ti_errorf(TI_ERR_INVALID_ARG, "http client: bad host/port/timeout");
    ti_http_client *c = calloc(1, sizeof *c);
    if (!c) return ti_errorf(TI_ERR_NOMEM, "http client: out of memory");
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->timeout_ms = timeout_ms;
    c->fd = -1;
    c->max_body = max_body ? max_body : DEFAULT_MAX_BODY;
    *out = c;
    return TI_OK;
}

void ti_http_client_destroy(ti_http_client *c)
{
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    free(c->body);
    free(c->req);
    free(c);
}

ti_lg_errkind ti_http_client_last_kind(const ti_http_client *c) { return c->kind; }
int ti_http_client_connects(const ti_http_client *c) { return c->connects; }

static int ms_left(uint64_t deadline)
{
    uint64_t now = ti_now_ns();
    if (now >= deadline) return 0;
    uint64_t ms = (deadline - now + 999999u) / 1000000u;
    return ms > 1000000 ? 1000000 : (int)ms;
}

/* Wait for fd to be ready for `ev`; 1 ready, 0 deadline passed. */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
    for (;;) {
        int left = ms_left(deadline);
        if (left == 0) return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, left);
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return 1; /* let the read/write report it */
    }
}

static ti_err do_connect(ti_http_client *c, uint64_t deadline)
{
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(c->host, port, &hints, &ai) != 0 || !ai) return fail(c, TI_LG_ERR_CONNECT, TI_ERR_IO, "cannot resolve host");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return fail(c, TI_LG_ERR_CONNECT, TI_ERR_IO, "socket() failed");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    c->fd = fd;
    if (r != 0 && errno != EINPROGRESS) return fail(c, TI_LG_ERR_CONNECT, TI_ERR_IO, "connect refused");
    if (r != 0) {
        if (!wait_fd(fd, POLLOUT, deadline)) return fail(c, TI_LG_ERR_TIMEOUT, TI_ERR_LIMIT, "connect timed out");
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) return fail(c, TI_LG_ERR_CONNECT, TI_ERR_IO, "connect refused");
    }
    c->connects++;
    c->len = c->pos = 0;
    return TI_OK;
}

/* 1 sent, 0 the peer had closed (EPIPE/ECONNRESET: retryable), -1 error set. */
static int send_all(ti_http_client *c, const void *p, size_t n, uint64_t deadline, ti_err *e)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(c->fd, POLLOUT, deadline)) {
                *e = fail(c, TI_LG_ERR_TIMEOUT, TI_ERR_LIMIT, "send timed out");
                return -1;
            }
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            if (errno == EPIPE || errno == ECONNRESET) return 0;
            *e = fail(c, TI_LG_ERR_IO, TI_ERR_IO, "send failed");
            return -1;
        }
    }
    return 1;
}

/* Read more bytes into buf.  >0 bytes read, 0 EOF, -1 error set (timeout, reset). */
static ssize_t fill(ti_http_client *c, uint64_t deadline, size_t limit, ti_err *e)
{
    if (c->pos > 0 && c->pos == c->len) c->len = c->pos = 0;
    if (c->len - c->pos >= limit) {
        *e = fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_LIMIT, "answer over the size limit");
        return -1;
    }
    if (c->cap - c->len < 16384) {
        if (c->pos > 0) { /* compact before growing */
            memmove(c->buf, c->buf + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        }
        if (c->cap - c->len < 16384) {
            size_t nc = c->cap ? c->cap * 2 : 65536;
            char *nb = realloc(c->buf, nc);
            if (!nb) {
                *e = fail(c, TI_LG_ERR_IO, TI_ERR_NOMEM, "out of memory");
                return -1;
            }
            c->buf = nb;
            c->cap = nc;
        }
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r > 0) {
            c->len += (size_t)r;
            return r;
        }
        if (r == 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_fd(c->fd, POLLIN, deadline)) {
                *e = fail(c, TI_LG_ERR_TIMEOUT, TI_ERR_LIMIT, "answer timed out");
                return -1;
            }
            continue;
        }
        *e = fail(c, TI_LG_ERR_IO, TI_ERR_IO, "connection reset");
        return -1;
    }
}

/* Find "\r\n" at or after buf+from within [pos,len); returns index or -1. */
static long find_crlf(const ti_http_client *c, size_t from)
{
    for (size_t i = from; i + 1 < c->len; i++)
        if (c->buf[i] == '\r' && c->buf[i + 1] == '\n') return (long)i;
    return -1;
}

static ti_err body_append(ti_http_client *c, const char *p, size_t n, size_t *blen)
{
    if (*blen + n > c->max_body) return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_LIMIT, "body over the size limit");
    if (*blen + n + 1 > c->body_cap) {
        size_t nc = c->body_cap ? c->body_cap : 4096;
        while (nc < *blen + n + 1) nc *= 2;
        char *nb = realloc(c->body, nc);
        if (!nb) return fail(c, TI_LG_ERR_IO, TI_ERR_NOMEM, "out of memory");
        c->body = nb;
        c->body_cap = nc;
    }
    memcpy(c->body + *blen, p, n);
    *blen += n;
    c->body[*blen] = '\0';
    return TI_OK;
}

/* Parse a hex chunk size line "1a;ext"; -1 if malformed. */
static long long parse_hex(const char *s, const char *end)
{
    long long v = 0;
    int digits = 0;
    for (; s < end && *s != ';' && *s != ' '; s++, digits++) {
        int d = (*s >= '0' && *s <= '9') ? *s - '0' : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
              : (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10 : -1;
        if (d < 0 || digits >= 15) return -1;
        v = v * 16 + d;
    }
    return digits ? v : -1;
}

static ti_err read_chunked(ti_http_client *c, uint64_t deadline, size_t *blen)
{
    ti_err e = TI_OK;
    for (;;) {
        long eol;
        while ((eol = find_crlf(c, c->pos)) < 0)
            if (fill(c, deadline, 4096, &e) <= 0) return e ? e : fail(c, TI_LG_ERR_IO, TI_ERR_IO, "closed inside chunked body");
        long long sz = parse_hex(c->buf + c->pos, c->buf + eol);
        if (sz < 0) return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "bad chunk size line");
        if ((unsigned long long)sz > c->max_body) return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_LIMIT, "chunk over the size limit");
        c->pos = (size_t)eol + 2;
        if (sz == 0) { /* trailers until an empty line */
            for (;;) {
                while ((eol = find_crlf(c, c->pos)) < 0)
                    if (fill(c, deadline, HDR_MAX, &e) <= 0) return e ? e : fail(c, TI_LG_ERR_IO, TI_ERR_IO, "closed inside trailers");
                int empty = (size_t)eol == c->pos;
                c->pos = (size_t)eol + 2;
                if (empty) return TI_OK;
            }
        }
        size_t need = (size_t)sz + 2;
        while (c->len - c->pos < need)
            if (fill(c, deadline, need + 1, &e) <= 0) return e ? e : fail(c, TI_LG_ERR_IO, TI_ERR_IO, "closed inside a chunk");
        if (c->buf[c->pos + (size_t)sz] != '\r' || c->buf[c->pos + (size_t)sz + 1] != '\n')
            return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "chunk not followed by CRLF");
        e = body_append(c, c->buf + c->pos, (size_t)sz, blen);
        if (e) return e;
        c->pos += need;
    }
}

/* Read one answer.  *fresh_eof = 1 when the peer closed before sending a byte (stale
 * keep-alive connection: the caller may retry). */
static ti_err read_answer(ti_http_client *c, ti_http_response *r, uint64_t deadline, int head_only, int *fresh_eof)
{
    ti_err e = TI_OK;
    long hend;
    *fresh_eof = 0;
    for (;;) { /* end of headers: "\r\n\r\n" */
        hend = -1;
        for (size_t i = c->pos; i + 3 < c->len; i++)
            if (!memcmp(c->buf + i, "\r\n\r\n", 4)) {
                hend = (long)i;
                break;
            }
        if (hend >= 0) break;
        size_t had = c->len - c->pos;
        ssize_t n = fill(c, deadline, HDR_MAX, &e);
        if (n < 0) {
            /* A reset before any byte of the answer: also what a stale connection gives. */
            if (had == 0 && c->kind == TI_LG_ERR_IO) *fresh_eof = 1;
            return e;
        }
        if (n == 0) {
            if (had == 0) *fresh_eof = 1;
            return fail(c, TI_LG_ERR_IO, TI_ERR_IO, had ? "closed inside the answer headers" : "closed before answering");
        }
    }
    const char *p = c->buf + c->pos, *hdr_end = c->buf + hend;
    int minor = 0, status = 0;
    if (hdr_end - p < 12 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "malformed status line");
    minor = p[7] - '0';
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "malformed status code");
        status = status * 10 + (p[i] - '0');
    }
    if (status < 100) return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "malformed status code");
    long long clen = -1;
    int chunked = 0, close_conn = (minor == 0);
    r->content_type[0] = '\0';
    const char *line = memchr(p, '\n', (size_t)(hdr_end - p));
    while (line && line < hdr_end) {
        line++;
        const char *eol = memchr(line, '\r', (size_t)(hdr_end + 2 - line));
        if (!eol) eol = hdr_end;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon) {
            if (eol > line) return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "header line without ':'");
        } else {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            size_t vl = (size_t)(eol - v);
            if (nl == 14 && !strncasecmp(line, "content-length", 14)) {
                clen = 0;
                if (vl == 0) return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "empty Content-Length");
                for (size_t i = 0; i < vl && v[i] != ' '; i++) {
                    if (v[i] < '0' || v[i] > '9') return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_FORMAT, "bad Content-Length");
                    if (clen > (long long)c->max_body)
                        return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_LIMIT, "Content-Length over the size limit");
                    clen = clen * 10 + (v[i] - '0');
                }
            } else if (nl == 17 && !strncasecmp(line, "transfer-encoding", 17)) {
                chunked = vl >= 7 && !strncasecmp(v + vl - 7, "chunked", 7);
            } else if (nl == 10 && !strncasecmp(line, "connection", 10)) {
                if (vl >= 5 && !strncasecmp(v, "close", 5)) close_conn = 1;
                if (vl >= 10 && !strncasecmp(v, "keep-alive", 10)) close_conn = 0;
            } else if (nl == 12 && !strncasecmp(line, "content-type", 12)) {
                size_t n = vl < sizeof r->content_type - 1 ? vl : sizeof r->content_type - 1;
                memcpy(r->content_type, v, n);
                r->content_type[n] = '\0';
            }
        }
        line = memchr(eol, '\n', (size_t)(hdr_end + 2 - eol));
    }
    if (clen > (long long)c->max_body) return fail(c, TI_LG_ERR_PROTOCOL, TI_ERR_LIMIT, "Content-Length over the limit");
    c->pos = (size_t)hend + 4;
    size_t blen = 0;
    e = body_append(c, "", 0, &blen); /* ensure a NUL-terminated buffer */
    if (e) return e;
    if (head_only || status == 204 || status == 304 || (status >= 100 && status < 200)) {
        /* no body */
    } else if (chunked) {
        e = read_chunked(c, deadline, &blen);
        if (e) return e;
    } else if (clen >= 0) {
        while (c->len - c->pos < (size_t)clen)
            if (fill(c, deadline, (size_t)clen + 1, &e) <= 0) return e ? e : fail(c, TI_LG_ERR_IO, TI_ERR_IO, "closed inside the body");
        e = body_append(c, c->buf + c->pos, (size_t)clen, &blen);
        if (e) return e;
        c->pos += (size_t)clen;
    } else { /* body runs to close */
        close_conn = 1;
        for (;;) {
            ssize_t n = fill(c, deadline, c->max_body + 1, &e);
            if (n < 0) return e;
            if (n == 0) break;
        }
        e = body_append(c, c->buf + c->pos, c->len - c->pos, &blen);
        if (e) return e;
        c->pos = c->len;
    }
    r->status = status;
    r->body = c->body;
    r->body_len = blen;
    r->keep_alive = !close_conn;
    if (close_conn) {
        close(c->fd);
        c->fd = -1;
    }
    return TI_OK;
}

ti_err ti_http_client_request(ti_http_client *c, ti_http_response *resp, const char *method, const char *path,
                              const char *extra_headers, const void *body, size_t body_len)
{
    if (!c || !resp || !method || !path || (body_len && !body)) return ti_errorf(TI_ERR_INVALID_ARG, "http request: NULL argument");
    memset(resp, 0, sizeof *resp);
    uint64_t deadline = ti_now_ns() + (uint64_t)c->timeout_ms * 1000000u;
    size_t need = strlen(method) + strlen(path) + strlen(c->host) + (extra_headers ? strlen(extra_headers) : 0) + 128;
    if (need > HDR_MAX) return ti_errorf(TI_ERR_LIMIT, "http request: path/headers over %u bytes", HDR_MAX);
    if (need > c->req_cap) {
        char *nr = realloc(c->req, need);
        if (!nr) return ti_errorf(TI_ERR_NOMEM, "http request: out of memory");
        c->req = nr;
        c->req_cap = need;
    }
    int hl = snprintf(c->req, need, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\n%s\r\n", method, path,
                      c->host, c->port, body_len, extra_headers ? extra_headers : "");
    int head = !strcmp(method, "HEAD");
    for (int attempt = 0;; attempt++) {
        ti_err e = TI_OK;
        int reused = c->fd >= 0;
        if (!reused && (e = do_connect(c, deadline)) != TI_OK) return e;
        c->len = c->pos = 0; /* nothing of a previous answer is pending on a good connection */
        int s = send_all(c, c->req, (size_t)hl, deadline, &e);
        if (s > 0 && body_len) s = send_all(c, body, body_len, deadline, &e);
        if (s < 0) return e;
        int fresh_eof = 0;
        if (s > 0) {
            e = read_answer(c, resp, deadline, head, &fresh_eof);
            if (!e) return TI_OK;
        }
        /* A kept-alive connection the server closed while idle: retry once, fresh. */
        if (reused && attempt == 0 && (s == 0 || fresh_eof)) {
            if (c->fd >= 0) close(c->fd);
            c->fd = -1;
            continue;
        }
        if (s == 0) return fail(c, TI_LG_ERR_IO, TI_ERR_IO, "connection reset while sending");
        return e;
    }
}
