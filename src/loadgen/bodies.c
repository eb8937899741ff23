/* Request bodies for each target, built once per point from deterministic values, so a
 * point measures the server and not the client's serialisation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/loadgen_internal.h"

#define MAX_BODY (512u << 20)

static const char *const g_targets[TI_LG_TARGET__COUNT] = {"predict", "predict_np", "v2_json", "v2_binary", "inproc",
                                                            "stream", "ticks"};
static const char *const g_modes[TI_LG_MODE__COUNT] = {"serial", "closed", "open"};

const char *ti_lg_target_name(ti_lg_target t) { return (int)t >= 0 && t < TI_LG_TARGET__COUNT ? g_targets[t] : "?"; }
const char *ti_lg_mode_name(ti_lg_mode m) { return (int)m >= 0 && m < TI_LG_MODE__COUNT ? g_modes[m] : "?"; }

ti_err ti_lg_target_parse(ti_lg_target *out, const char *name)
{
    for (int i = 0; i < TI_LG_TARGET__COUNT; i++)
        if (name && !strcmp(name, g_targets[i])) {
            *out = (ti_lg_target)i;
            return TI_OK;
        }
    return ti_errorf(TI_ERR_INVALID_ARG,
                     "bench: unknown target '%s' (predict, predict_np, v2_json, v2_binary, inproc, stream, ticks)",
                     name ? name : "");
}

typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static int sb_reserve(sb *s, size_t more)
{
    if (s->n + more + 1 <= s->cap) return 0;
    size_t nc = s->cap ? s->cap : 4096;
    while (nc < s->n + more + 1) nc *= 2;
    if (nc > MAX_BODY) return -1;
    char *np = realloc(s->p, nc);
    if (!np) return -1;
    s->p = np;
    s->cap = nc;
    return 0;
}

static int sb_put(sb *s, const void *p, size_t n)
{
    if (sb_reserve(s, n)) return -1;
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = '\0';
    return 0;
}

static int sb_str(sb *s, const char *str) { return sb_put(s, str, strlen(str)); }

static int sb_floats(sb *s, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (sb_reserve(s, 24)) return -1;
        s->n += (size_t)snprintf(s->p + s->n, 24, i ? ",%.7g" : "%.7g", (double)x[i]);
    }
    return 0;
}

/* Nested [T][F] list. */
static int sb_rows(sb *s, const float *x, int T, int F)
{
    int bad = sb_str(s, "[");
    for (int t = 0; t < T && !bad; t++) {
        bad |= sb_str(s, t ? ",[" : "[");
        bad |= sb_floats(s, x + (size_t)t * (size_t)F, (size_t)F);
        bad |= sb_str(s, "]");
    }
    return bad | sb_str(s, "]");
}

/* Nested [B][T][F] list. */
static int sb_nested(sb *s, const float *x, int B, int T, int F)
{
    int bad = sb_str(s, "[");
    for (int b = 0; b < B && !bad; b++) {
        bad |= sb_str(s, b ? "," : "");
        bad |= sb_rows(s, x + (size_t)b * (size_t)T * (size_t)F, T, F);
    }
    return bad | sb_str(s, "]");
}

/* NPY v1.0: magic, version, header length (LE u16), dict padded to 64 bytes, data. */
static int sb_npy(sb *s, const float *x, int B, int T, int F)
{
    char dict[128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d), }", B, T, F);
    size_t total = 10 + (size_t)dl + 1;
    size_t pad = (64 - total % 64) % 64;
    unsigned hl = (unsigned)((size_t)dl + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    int bad = sb_put(s, pre, 10) | sb_put(s, dict, (size_t)dl);
    for (size_t i = 0; i < pad && !bad; i++) bad |= sb_str(s, " ");
    bad |= sb_str(s, "\n");
    return bad | sb_put(s, x, (size_t)B * (size_t)T * (size_t)F * sizeof(float));
}

/* One path per client and symbol: /v1/streams/S<client>_<k>/ticks[?model=m].  The sizes
 * were checked by the runner (clients x symbols <= TI_LG_MAX_STREAMS). */
static ti_err build_stream_paths(lg_request *r, const ti_lg_config *c, const char *query)
{
    size_t n = (size_t)c->concurrency * (size_t)c->symbols;
    r->stream_paths = malloc(n * sizeof *r->stream_paths);
    if (!r->stream_paths) return ti_errorf(TI_ERR_NOMEM, "bench: out of memory for %zu stream paths", n);
    for (size_t i = 0; i < n; i++)
        snprintf(r->stream_paths[i], LG_PATH_MAX, "/v1/streams/S%zu_%zu/ticks%s", i / (size_t)c->symbols,
                 i % (size_t)c->symbols, query);
    r->symbols = c->symbols;
    return TI_OK;
}

/* ticks: one body per client, {"symbols": ["T<c>_0", ...], "features": [[F], ...]}, the
 * same feature rows for every client (clients x batch checked by the runner). */
static ti_err build_ticks_bodies(lg_request *r, const ti_lg_config *c)
{
    r->client_bodies = calloc((size_t)c->concurrency, sizeof *r->client_bodies);
    r->client_lens = calloc((size_t)c->concurrency, sizeof *r->client_lens);
    if (!r->client_bodies || !r->client_lens) return ti_errorf(TI_ERR_NOMEM, "bench: out of memory");
    r->n_clients = c->concurrency;
    for (int cl = 0; cl < c->concurrency; cl++) {
        sb b = {0};
        int bad = sb_str(&b, "{\"symbols\": [");
        for (int k = 0; k < c->batch && !bad; k++) {
            char name[48];
            snprintf(name, sizeof name, "%s\"T%d_%d\"", k ? "," : "", cl, k);
            bad |= sb_str(&b, name);
        }
        bad |= sb_str(&b, "], \"features\": ") | sb_rows(&b, r->x, c->batch, c->F) | sb_str(&b, "}");
        r->client_bodies[cl] = b.p;
        r->client_lens[cl] = b.n;
        if (bad) return ti_errorf(TI_ERR_NOMEM, "bench: out of memory for the ticks bodies");
    }
    return TI_OK;
}

const char *lg_request_body(const lg_request *r, int client, size_t *len)
{
    if (!r->client_bodies) return *len = r->body_len, r->body;
    return *len = r->client_lens[client], r->client_bodies[client];
}

const char *lg_request_path(const lg_request *r, int client, uint64_t send)
{
    if (!r->stream_paths) return r->path;
    return r->stream_paths[(size_t)client * (size_t)r->symbols + (size_t)(send % (uint64_t)r->symbols)];
}

ti_err lg_request_build(lg_request *r, const ti_lg_config *c)
{
    memset(r, 0, sizeof *r);
    if (c->batch < 1 || c->T < 1 || c->F < 1 || c->batch > 65536 || c->T > 65536 || c->F > 4096 ||
        (double)c->batch * c->T * c->F > (double)(MAX_BODY / 16))
        return ti_errorf(TI_ERR_LIMIT, "bench: request shape [%d,%d,%d] out of range", c->batch, c->T, c->F);
    size_t n = (size_t)c->batch * (size_t)c->T * (size_t)c->F;
    r->x = malloc(n * sizeof *r->x);
    if (!r->x) return ti_errorf(TI_ERR_NOMEM, "bench: out of memory for [%d,%d,%d]", c->batch, c->T, c->F);
    uint64_t s = c->seed * 0x9E3779B97F4A7C15ull + 7;
    for (size_t i = 0; i < n; i++) { /* small values around 0: valid raw or normalised features */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        r->x[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    char q[96] = "";
    if (c->model[0]) snprintf(q, sizeof q, "?model=%s", c->model);
    sb b = {0};
    int bad = 0;
    switch (c->target) {
    case TI_LG_PREDICT:
        snprintf(r->path, sizeof r->path, "/predict%s", q);
        snprintf(r->headers, sizeof r->headers, "Content-Type: application/json\r\n");
        bad = sb_str(&b, "{\"x\": ") | sb_nested(&b, r->x, c->batch, c->T, c->F) | sb_str(&b, "}");
        break;
    case TI_LG_PREDICT_NP:
        snprintf(r->path, sizeof r->path, "/predict_np%s", q);
        snprintf(r->headers, sizeof r->headers, "Content-Type: application/x-npy\r\nAccept: application/x-npy\r\n");
        bad = sb_npy(&b, r->x, c->batch, c->T, c->F);
        break;
    case TI_LG_V2_JSON:
    case TI_LG_V2_BINARY: {
        if (!c->model[0]) {
            free(r->x);
            r->x = NULL;
            return ti_errorf(TI_ERR_INVALID_ARG, "bench: target %s needs the model name (--model-name)", ti_lg_target_name(c->target));
        }
        snprintf(r->path, sizeof r->path, "/v2/models/%s/infer", c->model);
        char head[512];
        int bin = c->target == TI_LG_V2_BINARY;
        int hl = snprintf(head, sizeof head, "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\"%s", c->batch,
                          c->T, c->F, bin ? ",\"parameters\":{\"binary_data_size\":" : ",\"data\":");
        bad = sb_put(&b, head, (size_t)hl);
        if (bin) {
            char tail[160];
            int tl = snprintf(tail, sizeof tail, "%zu}}],\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}]}",
                              n * sizeof(float));
            bad |= sb_put(&b, tail, (size_t)tl);
            snprintf(r->headers, sizeof r->headers,
                     "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: %zu\r\n", b.n);
            bad |= sb_put(&b, r->x, n * sizeof(float));
        } else {
            bad |= sb_str(&b, "[") | sb_floats(&b, r->x, n) | sb_str(&b, "]}]}");
            snprintf(r->headers, sizeof r->headers, "Content-Type: application/json\r\n");
        }
        break;
    }
    case TI_LG_STREAM: /* batch rows = ticks per request */
        snprintf(r->path, sizeof r->path, "/v1/streams/S0_0/ticks%s", q);
        snprintf(r->headers, sizeof r->headers, "Content-Type: application/json\r\n");
        bad = sb_str(&b, "{\"features\": ") | sb_rows(&b, r->x, c->batch, c->F) | sb_str(&b, "}");
        break;
    case TI_LG_TICKS: /* bodies per client below */
        snprintf(r->path, sizeof r->path, "/v1/ticks%s", q);
        snprintf(r->headers, sizeof r->headers, "Content-Type: application/json\r\n");
        break;
    case TI_LG_INPROC:
        break;
    default:
        bad = 1;
    }
    if (bad) {
        free(b.p);
        free(r->x);
        r->x = NULL;
        return ti_errorf(TI_ERR_LIMIT, "bench: request body for [%d,%d,%d] over %u MiB or out of memory", c->batch, c->T,
                         c->F, MAX_BODY >> 20);
    }
    r->body = b.p;
    r->body_len = b.n;
    ti_err e = c->target == TI_LG_STREAM ? build_stream_paths(r, c, q)
               : c->target == TI_LG_TICKS  ? build_ticks_bodies(r, c)
                                           : TI_OK;
    if (e) lg_request_free(r);
    return e;
}

void lg_request_free(lg_request *r)
{
    free(r->body);
    free(r->x);
    free(r->stream_paths);
    for (int i = 0; r->client_bodies && i < r->n_clients; i++) free(r->client_bodies[i]);
    free(r->client_bodies);
    free(r->client_lens);
    memset(r, 0, sizeof *r);
}
