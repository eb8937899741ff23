/* URL routing and the handlers that answer at once (health, metadata, repository,
 * metrics); inference handlers parse and queue a job.  docs/serving.md lists the routes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/json_read.h"
#include "serve/serve_internal.h"
#include "tickinfer/version.h"

#define MAX_SEGS 8

static int split_path(const char *url, char seg[MAX_SEGS][TI_MODEL_MAX_NAME], int *n)
{
    *n = 0;
    const char *p = url;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *s = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (*n >= MAX_SEGS || len >= TI_MODEL_MAX_NAME) return -1;
        memcpy(seg[*n], s, len);
        seg[*n][len] = '\0';
        (*n)++;
    }
    return 0;
}

static int parse_version(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && *end == '\0' && v >= 1 && v <= 1000000000) ? (int)v : -1;
}

/* Sets ep and the expected method; 0 if the path matched. */
static int match(sv_request *r, char seg[MAX_SEGS][TI_MODEL_MAX_NAME], int n, int *want_post)
{
    *want_post = 0;
    if (n == 1 && strcmp(seg[0], "predict") == 0) return r->ep = SV_EP_PREDICT, *want_post = 1, 0;
    if (n == 1 && strcmp(seg[0], "predict_np") == 0) return r->ep = SV_EP_PREDICT_NP, *want_post = 1, 0;
    if (n == 1 && strcmp(seg[0], "metrics") == 0) return r->ep = SV_EP_METRICS, 0;
    if (n == 1 && strcmp(seg[0], "openapi.json") == 0) return r->ep = SV_EP_OPENAPI, 0;
    if (n == 2 && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "ticks") == 0) return r->ep = SV_EP_TICKS, *want_post = 1, 0;
    if (n >= 3 && n <= 4 && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "streams") == 0) {
        if (n == 4 && strcmp(seg[3], "ticks") != 0) return -1;
        snprintf(r->symbol, sizeof r->symbol, "%s", seg[2]);
        r->ep = SV_EP_STREAM;
        *want_post = n == 4 ? 1 : 2; /* POST .../ticks, DELETE /v1/streams/{symbol} */
        return 0;
    }
    if (n < 1 || strcmp(seg[0], "v2") != 0) return -1;
    if (n == 1) return r->ep = SV_EP_V2_SERVER, 0;
    if (n == 3 && strcmp(seg[1], "health") == 0 && (strcmp(seg[2], "live") == 0 || strcmp(seg[2], "ready") == 0)) {
        snprintf(r->action, sizeof r->action, "%s", seg[2]);
        return r->ep = SV_EP_HEALTH, 0;
    }
    if (strcmp(seg[1], "repository") == 0) {
        *want_post = 1;
        r->ep = SV_EP_REPOSITORY;
        if (n == 3 && strcmp(seg[2], "index") == 0) return snprintf(r->action, sizeof r->action, "index"), 0;
        if (n == 5 && strcmp(seg[2], "models") == 0 && (strcmp(seg[4], "load") == 0 || strcmp(seg[4], "unload") == 0)) {
            snprintf(r->model_name, sizeof r->model_name, "%s", seg[3]);
            snprintf(r->action, sizeof r->action, "%s", seg[4]);
            return 0;
        }
        return -1;
    }
    if (strcmp(seg[1], "models") != 0 || n < 3) return -1;
    if (n == 3 && strcmp(seg[2], "stats") == 0) return r->model_name[0] = '\0', r->ep = SV_EP_MODEL_STATS, 0;
    snprintf(r->model_name, sizeof r->model_name, "%s", seg[2]);
    int k = 3;
    if (n >= 5 && strcmp(seg[3], "versions") == 0) {
        r->model_version = parse_version(seg[4]);
        if (r->model_version < 0) return -1;
        k = 5;
    }
    if (n == k) return r->ep = SV_EP_MODEL_META, 0;
    if (n == k + 1 && strcmp(seg[k], "ready") == 0) return r->ep = SV_EP_MODEL_READY, 0;
    if (n == k + 1 && strcmp(seg[k], "config") == 0) return r->ep = SV_EP_MODEL_CONFIG, 0;
    if (n == k + 1 && strcmp(seg[k], "stats") == 0) return r->ep = SV_EP_MODEL_STATS, 0;
    if (n == k + 1 && strcmp(seg[k], "infer") == 0) return r->ep = SV_EP_INFER, *want_post = 1, 0;
    return -1;
}

static int set_error(sv_request *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_error(sv_request *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sv_sbuf_clear(&r->out);
    if (sv_sbuf_puts(&r->out, "{\"error\":") || sv_sbuf_json_str(&r->out, msg) || sv_sbuf_puts(&r->out, "}")) return 500;
    return status;
}

int sv_route(sv_request *r, const char *method, const char *url)
{
    char seg[MAX_SEGS][TI_MODEL_MAX_NAME];
    int n, want_post;
    int is_post = strcmp(method, "POST") == 0, is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    r->method_post = is_post;
    r->method_delete = strcmp(method, "DELETE") == 0;
    if (split_path(url, seg, &n) != 0 || match(r, seg, n, &want_post) != 0) {
        r->ep = SV_EP_OTHER;
        return set_error(r, 404, "no route for %s %.200s", method, url);
    }
    int ok = want_post == 2 ? r->method_delete : want_post ? is_post : is_get;
    if (!ok) {
        static const char *const names[3] = {"GET", "POST", "DELETE"};
        r->allow = names[want_post]; /* for the Allow header */
        return set_error(r, 405, "%s %.200s: use %s", method, url, names[want_post]);
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static int err_status(ti_err e)
{
    switch (e) {
    case TI_ERR_NOMEM: return 500;
    case TI_ERR_NOT_FOUND: return 404;
    case TI_ERR_STATE: return 503;
    default: return 400;
    }
}

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

static enum MHD_Result respond_json_or_500(sv_request *r, ti_err e)
{
    if (e) return sv_respond_error(r, 500, "response: %s", ti_errmsg());
    return sv_respond(r, 200, "application/json");
}

static enum MHD_Result not_loaded(sv_request *r)
{
    if (r->model_version)
        return sv_respond_error(r, 404, "model '%s' version %d is not loaded", r->model_name, r->model_version);
    return sv_respond_error(r, 404, "model '%s' is not loaded", r->model_name);
}

/* ---- repository (admin) --------------------------------------------------------------- */

static int authorised(sv_request *r)
{
    const char *tok = r->srv->cfg.admin_token;
    if (!*tok) return -1;
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    /* Compare in constant time over the token's length. */
    const char *g = h + 7;
    size_t n = strlen(tok), gn = strlen(g);
    unsigned diff = (unsigned)(n != gn);
    for (size_t i = 0; i < n; i++) diff |= (unsigned)(tok[i] ^ (i < gn ? g[i] : 0));
    return diff == 0;
}

static enum MHD_Result repo_index(sv_request *r)
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
    return respond_json_or_500(r, e);
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

static enum MHD_Result repo_load(sv_request *r)
{
    ti_server *s = r->srv;
    char path[SV_REG_MAX_PATH];
    ti_err e = load_body_path(r, path, sizeof path);
    if (e) return sv_respond_error(r, 400, "load request body: %s", ti_errmsg());
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
        return sv_respond_error(r, 404, "model '%s': no known path and no %s/%s.safetensors or .pt", r->model_name,
                                s->cfg.models_dir, r->model_name);
    /* Loading happens on this HTTP thread; the old version keeps serving until the new
     * one is warm, and requests already holding it finish on it. */
    if ((e = ti_server_add_model(s, r->model_name, path))) return sv_respond_error(r, err_status(e) == 404 ? 404 : 400, "%s", ti_errmsg());
    sv_sbuf_clear(&r->out);
    return sv_respond(r, 200, "application/json");
}

static enum MHD_Result handle_repository(sv_request *r)
{
    if (strcmp(r->action, "index") == 0) return repo_index(r);
    int a = authorised(r);
    if (a < 0) return sv_respond_error(r, 403, "model repository admin is disabled: set TICKINFER_ADMIN_TOKEN or admin_token");
    if (a == 0) return sv_respond_error(r, 401, "model repository admin needs 'Authorization: Bearer <token>'");
    if (strcmp(r->action, "load") == 0) return repo_load(r);
    ti_err e = sv_registry_remove(&r->srv->reg, r->model_name);
    if (e) return sv_respond_error(r, 404, "%s", ti_errmsg());
    return sv_respond(r, 200, "application/json");
}

/* ---- inference ---------------------------------------------------------------------------- */

static int query_flag(sv_request *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static enum MHD_Result handle_infer(sv_request *r)
{
    ti_server *s = r->srv;
    if (r->ep == SV_EP_INFER) {
        r->model = sv_registry_get(&s->reg, r->model_name, r->model_version);
    } else {
        const char *name = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "model");
        if (name) {
            snprintf(r->model_name, sizeof r->model_name, "%s", name);
            r->model = sv_registry_get(&s->reg, name, 0);
        } else {
            r->model = first_loaded(&s->reg);
            if (!r->model) snprintf(r->model_name, sizeof r->model_name, "(default)");
        }
    }
    if (!r->model) return not_loaded(r);
    if (r->body.len == 0) return sv_respond_error(r, 400, "empty request body");
    ti_err e;
    if (r->ep == SV_EP_INFER) {
        size_t hl = 0;
        const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Inference-Header-Content-Length");
        if (h) {
            char *end;
            unsigned long long v = strtoull(h, &end, 10);
            if (!*h || *end || v > r->body.len)
                return sv_respond_error(r, 400, "Inference-Header-Content-Length '%.40s' is not a length within the %zu-byte body",
                                        h, r->body.len);
            hl = (size_t)v;
        }
        e = sv_v2_parse_infer(r, r->body.data, r->body.len, hl);
    } else {
        r->last_only = !query_flag(r, "all_steps");
        e = r->ep == SV_EP_PREDICT ? sv_predict_parse_json(r) : sv_predict_parse_npy(r);
    }
    if (e) return sv_respond_error(r, err_status(e), "%s", ti_errmsg());
    sv_submit(r);
    return MHD_YES;
}

enum MHD_Result sv_finish_job(sv_request *r)
{
    const sv_job *j = &r->job;
    if (j->status) {
        int st = j->status == TI_ERR_LIMIT || j->status == TI_ERR_STATE ? 503 : 500;
        return sv_respond_error(r, st, "model '%s': %s", r->model->name, j->err);
    }
    sv_sbuf_clear(&r->out);
    ti_err e = r->ep == SV_EP_INFER ? sv_v2_write_infer(r) : sv_predict_write(r);
    if (e) return sv_respond_error(r, 500, "response: %s", ti_errmsg());
    const char *ct = r->fmt == SV_OUT_JSON ? "application/json" : r->fmt == SV_OUT_NPY ? "application/x-npy"
                                                                                         : "application/octet-stream";
    return sv_respond(r, 200, ct);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

enum MHD_Result sv_handle(sv_request *r)
{
    ti_server *s = r->srv;
    ti_err e = TI_OK;
    sv_model_entry *m;
    switch (r->ep) {
    case SV_EP_V2_SERVER:
        e = sv_sbuf_puts(&r->out, "{\"name\":\"tickinfer\",\"version\":\"" TI_VERSION_STRING
                                  "\",\"extensions\":[\"binary_tensor_data\",\"model_repository\","
                                  "\"model_configuration\",\"statistics\"]}");
        return respond_json_or_500(r, e);
    case SV_EP_HEALTH:
        if (strcmp(r->action, "live") == 0) return respond_json_or_500(r, sv_sbuf_puts(&r->out, "{\"live\":true}"));
        if (atomic_load(&s->draining) || count_loaded(&s->reg) == 0)
            return sv_respond_error(r, 503, "not ready: %s", atomic_load(&s->draining) ? "shutting down" : "no model loaded");
        return respond_json_or_500(r, sv_sbuf_puts(&r->out, "{\"ready\":true}"));
    case SV_EP_MODEL_STATS:
        if (!r->model_name[0]) return respond_json_or_500(r, sv_v2_write_model_stats(r, NULL));
        /* fall through */
    case SV_EP_MODEL_META:
    case SV_EP_MODEL_READY:
    case SV_EP_MODEL_CONFIG:
        m = sv_registry_get(&s->reg, r->model_name, r->model_version);
        if (!m) return not_loaded(r);
        r->model = m; /* released with the slot */
        if (r->ep == SV_EP_MODEL_META) e = sv_v2_write_model_meta(r, m);
        else if (r->ep == SV_EP_MODEL_CONFIG) e = sv_v2_write_model_config(r, m);
        else if (r->ep == SV_EP_MODEL_STATS) e = sv_v2_write_model_stats(r, m);
        else {
            e = sv_sbuf_puts(&r->out, "{\"name\":");
            if (!e) e = sv_sbuf_json_str(&r->out, m->name);
            if (!e) e = sv_sbuf_printf(&r->out, ",\"version\":\"%d\",\"ready\":true}", m->version);
        }
        return respond_json_or_500(r, e);
    case SV_EP_INFER:
    case SV_EP_PREDICT:
    case SV_EP_PREDICT_NP:
        return handle_infer(r);
    case SV_EP_REPOSITORY:
        return handle_repository(r);
    case SV_EP_METRICS:
        e = sv_metrics_render(&s->met, &r->out, atomic_load(&s->inflight), count_loaded(&s->reg));
        if (!e) e = render_stream_metrics(&s->reg, &r->out);
        if (e) return sv_respond_error(r, 500, "metrics: %s", ti_errmsg());
        return sv_respond(r, 200, "text/plain; version=0.0.4");
    case SV_EP_OPENAPI:
        return respond_json_or_500(r, sv_sbuf_puts(&r->out, sv_openapi_json()));
    case SV_EP_STREAM:
    case SV_EP_TICKS: {
        const char *name = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "model");
        if (name) snprintf(r->model_name, sizeof r->model_name, "%s", name);
        m = name ? sv_registry_get(&s->reg, name, 0) : first_streaming(&s->reg);
        if (!m) return name ? not_loaded(r) : sv_respond_error(r, 404, "no causal model loaded for streams");
        r->model = m;
        return r->ep == SV_EP_TICKS ? sv_handle_ticks(r, m) : sv_handle_stream(r, m);
    }
    default:
        return sv_respond_error(r, 404, "no route");
    }
}
