/* The route table and the handlers that answer at once (health, metadata, repository,
 * metrics); inference handlers parse the body and prepare a job.  Nothing here talks to
 * the HTTP library: handlers read the parsed request (r->in, r->body) and fill the answer
 * (r->resp, r->out); server.c does the rest.  docs/serving.md lists the routes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/json_read.h"
#include "serve/serve_internal.h"
#include "tickinfer/version.h"

/* ---- answers ------------------------------------------------------------------------- */

void sv_reply_header(sv_request *r, const char *name, const char *fmt, ...)
{
    sv_http_out *o = &r->resp;
    if (o->n_headers >= SV_RESP_MAX_HEADERS) return;
    o->header[o->n_headers].name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->header[o->n_headers].value, sizeof o->header[0].value, fmt, ap);
    va_end(ap);
    o->n_headers++;
}

sv_hres sv_reply(sv_request *r, int status, const char *content_type)
{
    r->resp.status = status;
    r->resp.content_type = content_type;
    if (status == 503) sv_reply_header(r, "Retry-After", "1");
    if (status == 401) sv_reply_header(r, "WWW-Authenticate", "Bearer");
    return SV_H_DONE;
}

static ti_err error_body(sv_request *r, const char *msg)
{
    sv_sbuf_clear(&r->out);
    r->fmt = SV_OUT_JSON;
    r->resp.n_headers = 0;
    ti_err e = sv_sbuf_puts(&r->out, "{\"error\":");
    if (!e) e = sv_sbuf_json_str(&r->out, msg);
    if (!e) e = sv_sbuf_puts(&r->out, "}");
    return e;
}

sv_hres sv_reply_error(sv_request *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (error_body(r, msg)) {
        r->resp.drop = 1;
        r->resp.status = status;
        return SV_H_DONE;
    }
    return sv_reply(r, status, "application/json");
}

static sv_hres reply_json_or_500(sv_request *r, ti_err e)
{
    if (e) return sv_reply_error(r, 500, "response: %s", ti_errmsg());
    return sv_reply(r, 200, "application/json");
}

static int err_status(ti_err e)
{
    switch (e) {
    case TI_ERR_NOMEM: return 500;
    case TI_ERR_NOT_FOUND: return 404;
    case TI_ERR_STATE: return 503;
    default: return 400;
    }
}

/* ---- registry helpers ---------------------------------------------------------------- */

static int count_loaded(sv_registry *reg)
{
    int k = 0;
    pthread_mutex_lock(&reg->mu);
    for (int i = 0; i < reg->n; i++) k += reg->slot[i].entry != NULL;
    pthread_mutex_unlock(&reg->mu);
    return k;
}

static sv_model_entry *first_loaded(sv_registry *reg)
{
    sv_model_entry *e = NULL;
    pthread_mutex_lock(&reg->mu);
    for (int i = 0; i < reg->n && !e; i++)
        if (reg->slot[i].entry) e = reg->slot[i].entry, sv_entry_ref(e);
    pthread_mutex_unlock(&reg->mu);
    return e;
}

static sv_model_entry *first_streaming(sv_registry *reg)
{
    sv_model_entry *e = NULL;
    pthread_mutex_lock(&reg->mu);
    for (int i = 0; i < reg->n && !e; i++)
        if (reg->slot[i].entry && reg->slot[i].entry->streams) e = reg->slot[i].entry, sv_entry_ref(e);
    pthread_mutex_unlock(&reg->mu);
    return e;
}

static sv_hres not_loaded(sv_request *r)
{
    if (r->model_version)
        return sv_reply_error(r, 404, "model '%s' version %d is not loaded", r->model_name, r->model_version);
    return sv_reply_error(r, 404, "model '%s' is not loaded", r->model_name);
}

/* The model of a /v2/models/{model}[/versions/{version}] route, referenced in r->model
 * (released with the slot); NULL if not loaded. */
static sv_model_entry *route_model(sv_request *r)
{
    r->model = sv_registry_get(&r->srv->reg, r->model_name, r->model_version);
    return r->model;
}

/* The model named by ?model=, else `dflt` of the registry; referenced in r->model. */
static sv_model_entry *query_model(sv_request *r, sv_model_entry *(*dflt)(sv_registry *))
{
    if (r->in.q_model) {
        snprintf(r->model_name, sizeof r->model_name, "%s", r->in.q_model);
        r->model = sv_registry_get(&r->srv->reg, r->in.q_model, 0);
    } else {
        r->model = dflt(&r->srv->reg);
    }
    return r->model;
}

/* ---- server, health, metadata -------------------------------------------------------- */

static sv_hres h_server_meta(sv_request *r)
{
    return reply_json_or_500(r, sv_sbuf_puts(&r->out, "{\"name\":\"tickinfer\",\"version\":\"" TI_VERSION_STRING
                                                      "\",\"extensions\":[\"binary_tensor_data\",\"model_repository\","
                                                      "\"model_configuration\",\"statistics\"]}"));
}

static sv_hres h_live(sv_request *r) { return reply_json_or_500(r, sv_sbuf_puts(&r->out, "{\"live\":true}")); }

static sv_hres h_ready(sv_request *r)
{
    ti_server *s = r->srv;
    if (atomic_load(&s->draining) || count_loaded(&s->reg) == 0)
        return sv_reply_error(r, 503, "not ready: %s", atomic_load(&s->draining) ? "shutting down" : "no model loaded");
    return reply_json_or_500(r, sv_sbuf_puts(&r->out, "{\"ready\":true}"));
}

static sv_hres h_model_meta(sv_request *r)
{
    sv_model_entry *m = route_model(r);
    return m ? reply_json_or_500(r, sv_v2_write_model_meta(r, m)) : not_loaded(r);
}

static sv_hres h_model_ready(sv_request *r)
{
    sv_model_entry *m = route_model(r);
    if (!m) return not_loaded(r);
    ti_err e = sv_sbuf_puts(&r->out, "{\"name\":");
    if (!e) e = sv_sbuf_json_str(&r->out, m->name);
    if (!e) e = sv_sbuf_printf(&r->out, ",\"version\":\"%d\",\"ready\":true}", m->version);
    return reply_json_or_500(r, e);
}

static sv_hres h_model_config(sv_request *r)
{
    sv_model_entry *m = route_model(r);
    return m ? reply_json_or_500(r, sv_v2_write_model_config(r, m)) : not_loaded(r);
}

static sv_hres h_model_stats(sv_request *r)
{
    sv_model_entry *m = route_model(r);
    return m ? reply_json_or_500(r, sv_v2_write_model_stats(r, m)) : not_loaded(r);
}

static sv_hres h_all_stats(sv_request *r) { return reply_json_or_500(r, sv_v2_write_model_stats(r, NULL)); }

/* ---- metrics, OpenAPI ------------------------------------------------------------------ */

/* Live streams and their KV cache memory, per causal model. */
static ti_err render_stream_metrics(sv_registry *reg, sv_sbuf *o)
{
    ti_err e = sv_sbuf_puts(o, "# HELP tickinfer_streams_open Open tick streams.\n# TYPE tickinfer_streams_open gauge\n"
                               "# HELP tickinfer_kv_bytes KV cache bytes held by streams.\n# TYPE tickinfer_kv_bytes gauge\n");
    pthread_mutex_lock(&reg->mu);
    for (int i = 0; i < reg->n && !e; i++) {
        sv_model_entry *m = reg->slot[i].entry;
        if (!m || !m->streams) continue;
        int open;
        size_t kv;
        sv_serve_streams_stats(m->streams, &open, &kv);
        e = sv_sbuf_printf(o, "tickinfer_streams_open{model=\"%s\"} %d\ntickinfer_kv_bytes{model=\"%s\"} %zu\n", m->name,
                           open, m->name, kv);
    }
    pthread_mutex_unlock(&reg->mu);
    if (!e) e = sv_registry_render_steps(reg, o);
    return e;
}

static sv_hres h_metrics(sv_request *r)
{
    ti_server *s = r->srv;
    ti_err e = sv_metrics_render(&s->met, &r->out, atomic_load(&s->inflight), count_loaded(&s->reg));
    if (!e) e = render_stream_metrics(&s->reg, &r->out);
    if (e) return sv_reply_error(r, 500, "metrics: %s", ti_errmsg());
    return sv_reply(r, 200, "text/plain; version=0.0.4");
}

static sv_hres h_openapi(sv_request *r) { return reply_json_or_500(r, sv_sbuf_puts(&r->out, sv_openapi_json())); }

/* ---- repository (admin) --------------------------------------------------------------- */

static int authorised(sv_request *r)
{
    const char *tok = r->srv->cfg.admin_token;
    if (!*tok) return -1;
    const char *h = r->in.authorization;
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    /* Compare in constant time over the token's length. */
    const char *g = h + 7;
    size_t n = strlen(tok), gn = strlen(g);
    unsigned diff = (unsigned)(n != gn);
    for (size_t i = 0; i < n; i++) diff |= (unsigned)(tok[i] ^ (i < gn ? g[i] : 0));
    return diff == 0;
}

/* 0 if the request may use the admin endpoints, else the answer was set. */
static int admin_refused(sv_request *r)
{
    int a = authorised(r);
    if (a < 0) return sv_reply_error(r, 403, "model repository admin is disabled: set TICKINFER_ADMIN_TOKEN or admin_token"), 1;
    if (a == 0) return sv_reply_error(r, 401, "model repository admin needs 'Authorization: Bearer <token>'"), 1;
    return 0;
}

static sv_hres h_repo_index(sv_request *r)
{
    sv_registry *reg = &r->srv->reg;
    ti_err e = sv_sbuf_puts(&r->out, "[");
    pthread_mutex_lock(&reg->mu);
    for (int i = 0; i < reg->n && !e; i++) {
        const sv_model_entry *m = reg->slot[i].entry;
        e = sv_sbuf_printf(&r->out, "%s{\"name\":", i ? "," : "");
        if (!e) e = sv_sbuf_json_str(&r->out, reg->slot[i].name);
        if (!e)
            e = sv_sbuf_printf(&r->out, ",\"version\":\"%d\",\"state\":\"%s\"}",
                               m ? m->version : reg->slot[i].last_version, m ? "READY" : "UNAVAILABLE");
    }
    pthread_mutex_unlock(&reg->mu);
    if (!e) e = sv_sbuf_puts(&r->out, "]");
    return reply_json_or_500(r, e);
}

/* Optional body {"parameters": {"path": "..."}} names the checkpoint to load. */
static ti_err load_body_path(sv_request *r, char *path, size_t cap)
{
    path[0] = '\0';
    if (r->body.len == 0) return TI_OK;
    sv_jr jr;
    sv_jr_init(&jr, r->body.data, r->body.len);
    char key[64];
    int more;
    ti_err e = sv_jr_obj_begin(&jr);
    while (!e && !(e = sv_jr_obj_next(&jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "parameters") != 0) {
            e = sv_jr_skip(&jr);
            continue;
        }
        if ((e = sv_jr_obj_begin(&jr))) break;
        while (!(e = sv_jr_obj_next(&jr, key, sizeof key, &more)) && more)
            e = strcmp(key, "path") == 0 ? sv_jr_string(&jr, path, cap, NULL) : sv_jr_skip(&jr);
    }
    return e ? e : sv_jr_finish(&jr);
}

static sv_hres h_repo_load(sv_request *r)
{
    if (admin_refused(r)) return SV_H_DONE;
    ti_server *s = r->srv;
    char path[SV_REG_MAX_PATH];
    ti_err e = load_body_path(r, path, sizeof path);
    if (e) return sv_reply_error(r, 400, "load request body: %s", ti_errmsg());
    int next;
    char known[SV_REG_MAX_PATH];
    int have = sv_registry_lookup_path(&s->reg, r->model_name, known, sizeof known, &next);
    if (!path[0] && have) snprintf(path, sizeof path, "%s", known);
    if (!path[0]) {
        static const char *const ext[2] = {".safetensors", ".pt"};
        for (int i = 0; i < 2 && !path[0]; i++) {
            char cand[SV_REG_MAX_PATH];
            if (snprintf(cand, sizeof cand, "%s/%s%s", s->cfg.models_dir, r->model_name, ext[i]) >= (int)sizeof cand) continue;
            FILE *f = fopen(cand, "rb");
            if (f) fclose(f), snprintf(path, sizeof path, "%s", cand);
        }
    }
    if (!path[0])
        return sv_reply_error(r, 404, "model '%s': no known path and no %s/%s.safetensors or .pt", r->model_name,
                              s->cfg.models_dir, r->model_name);
    /* Loading happens on this HTTP thread; the old version keeps serving until the new
     * one is warm, and requests already holding it finish on it. */
    if ((e = ti_server_add_model(s, r->model_name, path)))
        return sv_reply_error(r, err_status(e) == 404 ? 404 : 400, "%s", ti_errmsg());
    sv_sbuf_clear(&r->out);
    return sv_reply(r, 200, "application/json");
}

static sv_hres h_repo_unload(sv_request *r)
{
    if (admin_refused(r)) return SV_H_DONE;
    ti_err e = sv_registry_remove(&r->srv->reg, r->model_name);
    if (e) return sv_reply_error(r, 404, "%s", ti_errmsg());
    return sv_reply(r, 200, "application/json");
}

/* ---- inference (queued jobs) --------------------------------------------------------- */

static sv_hres infer_body(sv_request *r, ti_err (*parse)(sv_request *))
{
    if (r->body.len == 0) return sv_reply_error(r, 400, "empty request body");
    ti_err e = parse(r);
    if (e) return sv_reply_error(r, err_status(e), "%s", ti_errmsg());
    return SV_H_JOB;
}

static ti_err parse_v2(sv_request *r)
{
    size_t hl = 0;
    const char *h = r->in.infer_header_len;
    if (h) {
        char *end;
        unsigned long long v = strtoull(h, &end, 10);
        if (!*h || *end || v > r->body.len)
            return ti_errorf(TI_ERR_FORMAT, "Inference-Header-Content-Length '%.40s' is not a length within the %zu-byte body",
                             h, r->body.len);
        hl = (size_t)v;
    }
    return sv_v2_parse_infer(r, r->body.data, r->body.len, hl);
}

static sv_hres h_v2_infer(sv_request *r)
{
    if (!route_model(r)) return not_loaded(r);
    return infer_body(r, parse_v2);
}

static sv_hres predict(sv_request *r, ti_err (*parse)(sv_request *))
{
    if (!query_model(r, first_loaded)) {
        if (!r->in.q_model) snprintf(r->model_name, sizeof r->model_name, "(default)");
        return not_loaded(r);
    }
    r->last_only = !r->in.q_all_steps;
    return infer_body(r, parse);
}

static sv_hres h_predict(sv_request *r) { return predict(r, sv_predict_parse_json); }
static sv_hres h_predict_np(sv_request *r) { return predict(r, sv_predict_parse_npy); }

/* The job's answer: its error, or the route's writer. */
static sv_hres finish_job(sv_request *r, ti_err (*write)(sv_request *))
{
    const sv_job *j = &r->job;
    if (j->status) {
        int st = j->status == TI_ERR_LIMIT || j->status == TI_ERR_STATE ? 503 : 500;
        return sv_reply_error(r, st, "model '%s': %s", r->model->name, j->err);
    }
    sv_sbuf_clear(&r->out);
    ti_err e = write(r);
    if (e) return sv_reply_error(r, 500, "response: %s", ti_errmsg());
    if (r->fmt == SV_OUT_V2_BINARY) sv_reply_header(r, "Inference-Header-Content-Length", "%zu", r->json_header_len);
    return sv_reply(r, 200, r->fmt == SV_OUT_JSON  ? "application/json"
                            : r->fmt == SV_OUT_NPY ? "application/x-npy"
                                                   : "application/octet-stream");
}

static sv_hres f_v2_infer(sv_request *r) { return finish_job(r, sv_v2_write_infer); }
static sv_hres f_predict(sv_request *r) { return finish_job(r, sv_predict_write); }

/* ---- streams ------------------------------------------------------------------------------ */

static sv_model_entry *stream_model(sv_request *r)
{
    sv_model_entry *m = query_model(r, first_streaming);
    if (!m) {
        if (r->in.q_model) not_loaded(r);
        else sv_reply_error(r, 404, "no causal model loaded for streams");
    }
    return m;
}

static sv_hres h_stream_push(sv_request *r)
{
    sv_model_entry *m = stream_model(r);
    return m ? sv_handle_stream_push(r, m) : SV_H_DONE;
}

static sv_hres h_stream_close(sv_request *r)
{
    sv_model_entry *m = stream_model(r);
    return m ? sv_handle_stream_close(r, m) : SV_H_DONE;
}

static sv_hres h_ticks(sv_request *r)
{
    sv_model_entry *m = stream_model(r);
    return m ? sv_handle_ticks(r, m) : SV_H_DONE;
}

/* ---- the route table ------------------------------------------------------------------------ */

#define MODEL "/v2/models/{model}"
#define MODEL_V "/v2/models/{model}/versions/{version}"

static const sv_route k_routes[] = {
    {SV_GET, "/v2", SV_EP_V2_SERVER, h_server_meta, NULL},
    {SV_GET, "/v2/health/live", SV_EP_HEALTH, h_live, NULL},
    {SV_GET, "/v2/health/ready", SV_EP_HEALTH, h_ready, NULL},
    {SV_GET, "/v2/models/stats", SV_EP_MODEL_STATS, h_all_stats, NULL}, /* before {model} */
    {SV_GET, MODEL, SV_EP_MODEL_META, h_model_meta, NULL},
    {SV_GET, MODEL_V, SV_EP_MODEL_META, h_model_meta, NULL},
    {SV_GET, MODEL "/ready", SV_EP_MODEL_READY, h_model_ready, NULL},
    {SV_GET, MODEL_V "/ready", SV_EP_MODEL_READY, h_model_ready, NULL},
    {SV_GET, MODEL "/config", SV_EP_MODEL_CONFIG, h_model_config, NULL},
    {SV_GET, MODEL_V "/config", SV_EP_MODEL_CONFIG, h_model_config, NULL},
    {SV_GET, MODEL "/stats", SV_EP_MODEL_STATS, h_model_stats, NULL},
    {SV_GET, MODEL_V "/stats", SV_EP_MODEL_STATS, h_model_stats, NULL},
    {SV_POST, MODEL "/infer", SV_EP_INFER, h_v2_infer, f_v2_infer},
    {SV_POST, MODEL_V "/infer", SV_EP_INFER, h_v2_infer, f_v2_infer},
    {SV_POST, "/v2/repository/index", SV_EP_REPOSITORY, h_repo_index, NULL},
    {SV_POST, "/v2/repository/models/{model}/load", SV_EP_REPOSITORY, h_repo_load, NULL},
    {SV_POST, "/v2/repository/models/{model}/unload", SV_EP_REPOSITORY, h_repo_unload, NULL},
    {SV_POST, "/predict", SV_EP_PREDICT, h_predict, f_predict},
    {SV_POST, "/predict_np", SV_EP_PREDICT_NP, h_predict_np, f_predict},
    {SV_POST, "/v1/ticks", SV_EP_TICKS, h_ticks, NULL},
    {SV_POST, "/v1/streams/{symbol}/ticks", SV_EP_STREAM, h_stream_push, NULL},
    {SV_DELETE, "/v1/streams/{symbol}", SV_EP_STREAM, h_stream_close, NULL},
    {SV_GET, "/metrics", SV_EP_METRICS, h_metrics, NULL},
    {SV_GET, "/openapi.json", SV_EP_OPENAPI, h_openapi, NULL},
};

#define N_ROUTES ((int)(sizeof k_routes / sizeof k_routes[0]))

const sv_route *sv_routes(int *n)
{
    *n = N_ROUTES;
    return k_routes;
}

/* ---- matching ------------------------------------------------------------------------------ */

#define MAX_SEGS 8

typedef struct path_segs {
    int n;
    const char *s[MAX_SEGS];
    size_t len[MAX_SEGS];
} path_segs;

/* Split the path (empty segments dropped, so "//v2/" is "/v2"); -1 if too many or too long. */
static int split_path(const char *url, path_segs *ps)
{
    ps->n = 0;
    const char *p = url;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *s = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (ps->n >= MAX_SEGS || len >= TI_MODEL_MAX_NAME) return -1;
        ps->s[ps->n] = s;
        ps->len[ps->n] = len;
        ps->n++;
    }
    return 0;
}

static int parse_version(const char *s, size_t len)
{
    if (len < 1 || len > 10) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 1000000000 ? (int)v : -1;
}

typedef struct captures {
    int model, symbol, version; /* segment index, -1 if none */
    int version_value;
} captures;

/* Does the pattern match the segments?  Fills *c on a match. */
static int pattern_matches(const char *pat, const path_segs *ps, captures *c)
{
    c->model = c->symbol = c->version = -1;
    int i = 0;
    const char *p = pat;
    while (*p) {
        p++; /* '/' */
        const char *s = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (i >= ps->n) return 0;
        if (len > 2 && s[0] == '{') {
            if (strncmp(s, "{model}", len) == 0) c->model = i;
            else if (strncmp(s, "{symbol}", len) == 0) c->symbol = i;
            else if (strncmp(s, "{version}", len) == 0) {
                if ((c->version_value = parse_version(ps->s[i], ps->len[i])) < 0) return 0;
                c->version = i;
            } else return 0;
        } else if (ps->len[i] != len || memcmp(ps->s[i], s, len) != 0) {
            return 0;
        }
        i++;
    }
    return i == ps->n;
}

static void copy_seg(char *dst, size_t cap, const path_segs *ps, int i)
{
    snprintf(dst, cap, "%.*s", (int)ps->len[i], ps->s[i]);
}

int sv_route_match(sv_request *r)
{
    const sv_http_in *in = &r->in;
    const char *url = in->url ? in->url : "";
    unsigned want = in->method == SV_HEAD ? SV_GET : in->method;
    unsigned others = 0; /* methods of routes that match the path only */
    path_segs ps;
    captures c;
    r->route = NULL;
    r->ep = SV_EP_OTHER;
    if (split_path(url, &ps) == 0)
        for (int k = 0; k < N_ROUTES; k++) {
            const sv_route *rt = &k_routes[k];
            if (!pattern_matches(rt->pattern, &ps, &c)) continue;
            if (!(rt->methods & want)) {
                others |= rt->methods;
                continue;
            }
            r->route = rt;
            r->ep = rt->ep;
            if (c.model >= 0) copy_seg(r->model_name, sizeof r->model_name, &ps, c.model);
            if (c.symbol >= 0) copy_seg(r->symbol, sizeof r->symbol, &ps, c.symbol);
            r->model_version = c.version >= 0 ? c.version_value : 0;
            return 0;
        }
    if (!others) {
        sv_reply_error(r, 404, "no route for %s %.200s", in->method_name ? in->method_name : "?", url);
        return 404;
    }
    char allow[32] = "";
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{SV_GET, "GET"}, {SV_POST, "POST"}, {SV_DELETE, "DELETE"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (others & names[i].bit)
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s", allow[0] ? ", " : "", names[i].name);
    sv_reply_error(r, 405, "%s %.200s: use %s", in->method_name ? in->method_name : "?", url, allow);
    sv_reply_header(r, "Allow", "%s", allow);
    return 405;
}

sv_hres sv_dispatch(sv_request *r)
{
    if (!r->route) return sv_reply_error(r, 404, "no route");
    return r->route->handle(r);
}

void sv_finish(sv_request *r)
{
    if (r->route && r->route->finish) r->route->finish(r);
    else sv_reply_error(r, 500, "no answer for this request");
}
