/* Server configuration file and model discovery: ti_server_config_load,
 * ti_server_add_config_models, ti_server_add_models_dir (see serve.h). */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"
#include "serve/json_read.h"
#include "tickinfer/config.h"
#include "tickinfer/fileio.h"

/* ---- the option table ----------------------------------------------------------------
 * One row per server option: config key, flag, environment variable, default, range and
 * help.  ti_server_config_default, the config file reader, the flag and environment
 * parsers, ti_server_create's checks, `tickinfer serve --help` and the options table of
 * docs/serving.md (tests/serve/test_serve_options.c compares) all read it. */

#define FIELD(f) offsetof(ti_server_config, f), sizeof(((ti_server_config *)0)->f)
#define KIB ((int64_t)1 << 10)
#define MIB ((int64_t)1 << 20)
#define GIB ((int64_t)1 << 30)

static const ti_server_option k_options[] = {
    {"host", "--host", "TICKINFER_HOST", "ADDR", "127.0.0.1", "bind address (IPv4)", TI_SERVER_OPT_STRING, 0, 0,
     NULL, FIELD(host)},
    {"port", "--port", "TICKINFER_PORT", "N", "8000", "port; 0 = any free port (printed at start)", TI_SERVER_OPT_INT,
     0, 65535, NULL, FIELD(port)},
    {"http_threads", "--http-threads", "TICKINFER_HTTP_THREADS", "N", "2", "HTTP threads (libmicrohttpd's pool)",
     TI_SERVER_OPT_INT, 1, 256, NULL, FIELD(http_threads)},
    {"workers_per_model", "--workers", "TICKINFER_WORKERS", "N", "1", "inference workers per model",
     TI_SERVER_OPT_INT, 1, 256, NULL, FIELD(workers_per_model)},
    {"intra_op_threads", "--intra-op-threads", "TICKINFER_INTRA_OP_THREADS", "N", "0",
     "threads sharing each worker's forward; 0 = online cores / workers", TI_SERVER_OPT_INT, 0, 1024, NULL,
     FIELD(intra_op_threads)},
    {"max_batch", "--max-batch", "TICKINFER_MAX_BATCH", "N", "32", "rows per forward", TI_SERVER_OPT_INT, 1, 4096,
     NULL, FIELD(max_batch)},
    {"max_queue_delay_us", "--max-delay-us", "TICKINFER_MAX_QUEUE_DELAY_US", "N", "0",
     "wait this long to fill a batch; 0 = take what is queued", TI_SERVER_OPT_INT, 0, 10000000, NULL,
     FIELD(max_queue_delay_us)},
    {"preferred_batch", "--preferred-batch", "TICKINFER_PREFERRED_BATCH", "N", "0",
     "stop waiting once N rows are gathered; 0 = max_batch", TI_SERVER_OPT_INT, 0, 4096, NULL,
     FIELD(preferred_batch)},
    {"request_timeout_ms", "--request-timeout-ms", "TICKINFER_REQUEST_TIMEOUT_MS", "N", "10000",
     "queue + wait before compute, else 503; 0 = no deadline", TI_SERVER_OPT_INT, 0, 3600000, NULL,
     FIELD(request_timeout_ms)},
    {"max_inflight", "--max-inflight", "TICKINFER_MAX_INFLIGHT", "N", "256",
     "request slots; beyond: 503 + Retry-After", TI_SERVER_OPT_INT, 1, 65536, NULL, FIELD(max_inflight)},
    {"max_body_bytes", "--max-body-bytes", "TICKINFER_MAX_BODY_BYTES", "BYTES", "64M",
     "request body limit (413 beyond)", TI_SERVER_OPT_BYTES, KIB, 16 * GIB, NULL, FIELD(max_body_bytes)},
    {"max_header_bytes", "--max-header-bytes", "TICKINFER_MAX_HEADER_BYTES", "BYTES", "32K",
     "request line + headers (414 / 431 beyond)", TI_SERVER_OPT_BYTES, 4 * KIB, 16 * GIB, NULL,
     FIELD(max_header_bytes)},
    {"idle_timeout_s", "--idle-timeout-s", "TICKINFER_IDLE_TIMEOUT_S", "N", "30",
     "close a connection idle or stalled this long", TI_SERVER_OPT_INT, 1, 86400, NULL, FIELD(idle_timeout_s)},
    {"max_connections", "--max-connections", "TICKINFER_MAX_CONNECTIONS", "N", "1024",
     "open connections (refused at accept beyond)", TI_SERVER_OPT_INT, 1, 1000000, NULL, FIELD(max_connections)},
    {"max_request_rows", "--max-request-rows", "TICKINFER_MAX_REQUEST_ROWS", "N", "4096",
     "rows (B) per request (400 beyond)", TI_SERVER_OPT_INT, 1, 1 << 20, NULL, FIELD(max_request_rows)},
    {"stream_kv_dtype", "--stream-kv-dtype", "TICKINFER_STREAM_KV_DTYPE", "D", "f32",
     "KV cache of the tick streams (docs/kv_quant.md)", TI_SERVER_OPT_CHOICE, 0, 0, "f32,int8,fp8,int4",
     FIELD(stream_kv_dtype)},
    {"admin_token", "--admin-token", "TICKINFER_ADMIN_TOKEN", "TOKEN", "",
     "bearer token of /v2/repository/models/M/load|unload (none: 403); prefer the env to the flag",
     TI_SERVER_OPT_STRING, 0, 0, NULL, FIELD(admin_token)},
    {"models_dir", "--models-dir", "TICKINFER_MODELS_DIR", "DIR", "models",
     "where load by name looks; as a flag also: serve every checkpoint in DIR", TI_SERVER_OPT_STRING, 0, 0, NULL,
     FIELD(models_dir)},
    {"drain_ms", "--drain-ms", "TICKINFER_DRAIN_MS", "N", "10000",
     "on SIGTERM / SIGINT, wait this long for requests in flight", TI_SERVER_OPT_INT, 0, 3600000, NULL,
     FIELD(drain_ms)},
};

#define N_OPTIONS ((int)(sizeof k_options / sizeof k_options[0]))

const ti_server_option *ti_server_options(int *n)
{
    *n = N_OPTIONS;
    return k_options;
}

const ti_server_option *ti_server_option_find(const char *name)
{
    for (int i = 0; i < N_OPTIONS; i++)
        if (strcmp(name, k_options[i].key) == 0 || strcmp(name, k_options[i].flag) == 0 ||
            strcmp(name, k_options[i].env) == 0)
            return &k_options[i];
    return NULL;
}

/* "f32,int8,fp8" -> "f32, int8 or fp8" */
static void choices_text(char *buf, size_t cap, const char *choices)
{
    buf[0] = '\0';
    const char *p = choices;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t used = strlen(buf);
        const char *sep = used == 0 ? "" : p[n] ? ", " : " or ";
        snprintf(buf + used, cap - used, "%s%.*s", sep, (int)n, p);
        p += n;
        if (*p) p++;
    }
}

static int is_choice(const char *choices, const char *v)
{
    size_t len = strlen(v);
    const char *p = choices;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, v, n) == 0) return 1;
        p += n;
        if (*p) p++;
    }
    return 0;
}

static void *field(ti_server_config *c, const ti_server_option *o) { return (char *)c + o->offset; }

static int64_t get_number(const ti_server_config *c, const ti_server_option *o)
{
    const char *p = (const char *)c + o->offset;
    if (o->type == TI_SERVER_OPT_BYTES) return (int64_t) * (const size_t *)(const void *)p;
    return *(const int *)(const void *)p;
}

/* "8K" -> "8K"-style text of a byte count, for help and messages. */
static void bytes_text(char *buf, size_t cap, int64_t v)
{
    if (v && v % GIB == 0) snprintf(buf, cap, "%lldG", (long long)(v / GIB));
    else if (v && v % MIB == 0) snprintf(buf, cap, "%lldM", (long long)(v / MIB));
    else if (v && v % KIB == 0) snprintf(buf, cap, "%lldK", (long long)(v / KIB));
    else snprintf(buf, cap, "%lld", (long long)v);
}

static void range_text(char *buf, size_t cap, const ti_server_option *o)
{
    if (o->type == TI_SERVER_OPT_INT) {
        snprintf(buf, cap, "%lld..%lld", (long long)o->lo, (long long)o->hi);
    } else if (o->type == TI_SERVER_OPT_BYTES) {
        char a[32], b[32];
        bytes_text(a, sizeof a, o->lo);
        bytes_text(b, sizeof b, o->hi);
        if (snprintf(buf, cap, "%s..%s", a, b) >= (int)cap) buf[cap - 1] = '\0';
    } else if (o->type == TI_SERVER_OPT_CHOICE) {
        snprintf(buf, cap, "%s", o->choices);
        for (char *q = buf; *q; q++)
            if (*q == ',') *q = '|';
    } else {
        snprintf(buf, cap, "text, up to %zu bytes", o->size - 1);
    }
}

static ti_err store_number(ti_server_config *c, const ti_server_option *o, int64_t v, const char *text,
                           const char *where, ti_err code)
{
    if (v < o->lo || v > o->hi)
        return ti_errorf(code, "%s = %s out of range [%lld, %lld]", where, text, (long long)o->lo, (long long)o->hi);
    if (o->type == TI_SERVER_OPT_BYTES) *(size_t *)field(c, o) = (size_t)v;
    else *(int *)field(c, o) = (int)v;
    return TI_OK;
}

static ti_err store_text(ti_server_config *c, const ti_server_option *o, const char *v, const char *where, ti_err code)
{
    if (o->type == TI_SERVER_OPT_CHOICE && !is_choice(o->choices, v)) {
        char ch[128];
        choices_text(ch, sizeof ch, o->choices);
        return ti_errorf(code, "%s '%s': use %s", where, v, ch);
    }
    if (strlen(v) >= o->size) return ti_errorf(TI_ERR_LIMIT, "%s longer than %zu chars", where, o->size - 1);
    memset(field(c, o), 0, o->size);
    memcpy(field(c, o), v, strlen(v));
    return TI_OK;
}

/* Whole number, or (bytes) a whole number with K, M or G (also KiB / MiB / GiB). */
static int parse_number(const char *t, int bytes, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (end == t || errno) return -1;
    int64_t mul = 1;
    if (bytes && *end) {
        char u = (char)(*end | 0x20);
        mul = u == 'k' ? KIB : u == 'm' ? MIB : u == 'g' ? GIB : 0;
        if (!mul) return -1;
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0) end += strlen(end);
    }
    if (*end) return -1;
    if (v > INT64_MAX / mul || v < INT64_MIN / mul) return -1;
    *out = (int64_t)v * mul;
    return 0;
}

static ti_err set_text(ti_server_config *c, const ti_server_option *o, const char *text, const char *where)
{
    if (o->type == TI_SERVER_OPT_STRING || o->type == TI_SERVER_OPT_CHOICE)
        return store_text(c, o, text, where, TI_ERR_INVALID_ARG);
    int64_t v;
    if (parse_number(text, o->type == TI_SERVER_OPT_BYTES, &v) != 0)
        return ti_errorf(TI_ERR_FORMAT, "%s = '%s' is not %s", where, text,
                         o->type == TI_SERVER_OPT_BYTES ? "a byte count (N, or N with K, M or G)" : "a whole number");
    return store_number(c, o, v, text, where, TI_ERR_RANGE);
}

ti_err ti_server_config_set(ti_server_config *cfg, const ti_server_option *o, const char *text, const char *source)
{
    char where[128];
    snprintf(where, sizeof where, "serve: %s", source ? source : o->key);
    return set_text(cfg, o, text, where);
}

void ti_server_config_default(ti_server_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_OPTIONS; i++) {
        ti_err e = set_text(c, &k_options[i], k_options[i].def, k_options[i].key);
        (void)e; /* the defaults are in range (tests/serve/test_serve_options.c) */
    }
}

ti_err ti_server_config_check(const ti_server_config *cfg)
{
    for (int i = 0; i < N_OPTIONS; i++) {
        const ti_server_option *o = &k_options[i];
        const char *p = (const char *)cfg + o->offset;
        if (o->type == TI_SERVER_OPT_INT || o->type == TI_SERVER_OPT_BYTES) {
            int64_t v = get_number(cfg, o);
            if (v < o->lo || v > o->hi)
                return ti_errorf(TI_ERR_INVALID_ARG, "serve: %s = %lld out of range [%lld, %lld]", o->key, (long long)v,
                                 (long long)o->lo, (long long)o->hi);
        } else if (!memchr(p, '\0', o->size)) {
            return ti_errorf(TI_ERR_INVALID_ARG, "serve: %s is not NUL-terminated", o->key);
        } else if (o->type == TI_SERVER_OPT_CHOICE && p[0] && !is_choice(o->choices, p)) {
            char ch[128];
            choices_text(ch, sizeof ch, o->choices);
            return ti_errorf(TI_ERR_INVALID_ARG, "serve: %s '%s': use %s", o->key, p, ch);
        }
    }
    return TI_OK;
}

ti_err ti_server_config_env(ti_server_config *cfg)
{
    for (int i = 0; i < N_OPTIONS; i++) {
        const char *v = getenv(k_options[i].env);
        if (!v || !*v) continue;
        char where[96];
        snprintf(where, sizeof where, "serve: %s", k_options[i].env);
        ti_err e = set_text(cfg, &k_options[i], v, where);
        if (e) return e;
    }
    return TI_OK;
}

ti_err ti_server_config_flag(ti_server_config *cfg, int argc, char **argv, int *i, const ti_server_option **opt)
{
    *opt = NULL;
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0) return TI_OK;
    size_t n = strcspn(a, "=");
    const ti_server_option *o = NULL;
    for (int k = 0; k < N_OPTIONS && !o; k++)
        if (strlen(k_options[k].flag) == n && strncmp(a, k_options[k].flag, n) == 0) o = &k_options[k];
    if (!o) return TI_OK;
    *opt = o;
    const char *v;
    if (a[n] == '=') {
        v = a + n + 1;
    } else {
        if (*i + 1 >= argc) return ti_errorf(TI_ERR_INVALID_ARG, "serve: %s needs a value (%s)", o->flag, o->metavar);
        v = argv[++*i];
    }
    char where[96];
    snprintf(where, sizeof where, "serve: %s", o->flag);
    return set_text(cfg, o, v, where);
}

void ti_server_options_help(FILE *f)
{
    for (int i = 0; i < N_OPTIONS; i++) {
        const ti_server_option *o = &k_options[i];
        char left[48], r[64];
        snprintf(left, sizeof left, "%s %s", o->flag, o->metavar);
        range_text(r, sizeof r, o);
        fprintf(f, "  %-26s %s\n", left, o->help);
        fprintf(f, "  %-26s default %s, %s; config server.%s, env %s\n", "", o->def[0] ? o->def : "none", r, o->key,
                o->env);
    }
}

/* A markdown table cell: '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
}

void ti_server_options_markdown(FILE *f)
{
    fprintf(f, "| config key (`server.`) | flag | environment | default | range | what |\n|---|---|---|---|---|---|\n");
    for (int i = 0; i < N_OPTIONS; i++) {
        const ti_server_option *o = &k_options[i];
        char r[64];
        range_text(r, sizeof r, o);
        fprintf(f, "| `%s` | `%s %s` | `%s` | %s%s%s | ", o->key, o->flag, o->metavar, o->env, o->def[0] ? "`" : "",
                o->def[0] ? o->def : "none", o->def[0] ? "`" : "");
        md_cell(f, r);
        fputs(" | ", f);
        md_cell(f, o->help);
        fputs(" |\n", f);
    }
}

/* ---- the config file ------------------------------------------------------------------- */

static const char *const k_top_keys[] = {"models", "server", NULL};

ti_err ti_server_config_load(ti_server_config *cfg, const char *path)
{
    ti_config *c;
    ti_err e = ti_config_load(&c, path);
    if (e) return e;
    const char *keys[N_OPTIONS + 1];
    for (int i = 0; i < N_OPTIONS; i++) keys[i] = k_options[i].key;
    keys[N_OPTIONS] = NULL;
    e = ti_config_check_keys(c, "", k_top_keys);
    if (!e) e = ti_config_check_keys(c, "server", keys);
    for (int i = 0; i < N_OPTIONS && !e; i++) {
        const ti_server_option *o = &k_options[i];
        char key[64], where[96];
        snprintf(key, sizeof key, "server.%s", o->key);
        snprintf(where, sizeof where, "serve config: '%s'", key);
        if (o->type == TI_SERVER_OPT_INT || o->type == TI_SERVER_OPT_BYTES) {
            int64_t cur = get_number(cfg, o), v;
            if ((e = ti_config_get_int(c, key, cur, &v))) break;
            if (v == cur) continue;
            char text[32];
            snprintf(text, sizeof text, "%lld", (long long)v);
            e = store_number(cfg, o, v, text, where, TI_ERR_RANGE);
        } else {
            const char *v;
            if ((e = ti_config_get_string(c, key, (const char *)field(cfg, o), &v))) break;
            if (v == (const char *)field(cfg, o)) continue;
            e = store_text(cfg, o, v, where, TI_ERR_INVALID_ARG);
        }
    }
    ti_config_destroy(c);
    return e;
}

/* The file's stem: the name up to its first '.', after the last '/'. */
static void file_stem(char *name, size_t cap, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(name, cap, "%.*s", (int)strcspn(b, "."), b);
}

ti_err ti_server_add_model_spec(ti_server *s, const char *spec)
{
    char name[TI_MODEL_MAX_NAME], path[SV_REG_MAX_PATH];
    const char *eq = strchr(spec, '='), *colon = strrchr(spec, ':');
    size_t n = strlen(spec);
    if (eq && !memchr(spec, '/', (size_t)(eq - spec))) { /* NAME=FILE, the older form */
        n = (size_t)(eq - spec);
        if (n == 0 || n >= sizeof name) return ti_errorf(TI_ERR_INVALID_ARG, "serve: --model '%s': bad NAME", spec);
        snprintf(name, sizeof name, "%.*s", (int)n, spec);
        if (snprintf(path, sizeof path, "%s", eq + 1) >= (int)sizeof path)
            return ti_errorf(TI_ERR_LIMIT, "serve: --model '%s': path too long", spec);
    } else {
        if (colon && !strchr(colon, '/')) { /* FILE:NAME */
            size_t k = strlen(colon + 1);
            if (k == 0 || k >= sizeof name) return ti_errorf(TI_ERR_INVALID_ARG, "serve: --model '%s': bad NAME", spec);
            snprintf(name, sizeof name, "%s", colon + 1);
            n = (size_t)(colon - spec);
        }
        if (n == 0 || n >= sizeof path) return ti_errorf(TI_ERR_INVALID_ARG, "serve: --model '%s': bad FILE", spec);
        snprintf(path, sizeof path, "%.*s", (int)n, spec);
        if (!(colon && !strchr(colon, '/'))) file_stem(name, sizeof name, path);
        if (!name[0]) return ti_errorf(TI_ERR_INVALID_ARG, "serve: --model '%s': the file has no stem; add :NAME", spec);
    }
    return ti_server_add_model(s, name, path);
}

/* ti_config reads values by dotted path and has no array access, so the "models" list is
 * read with the request JSON reader. */
ti_err ti_server_add_config_models(ti_server *s, const char *path)
{
    char *text;
    size_t len;
    ti_err e = ti_read_file(path, (size_t)16 << 20, &text, &len);
    if (e) return e;
    sv_jr jr;
    sv_jr_init(&jr, text, len);
    char key[64], name[TI_MODEL_MAX_NAME], mpath[SV_REG_MAX_PATH];
    int more, m, n_models = 0;
    e = sv_jr_obj_begin(&jr);
    while (!e && !(e = sv_jr_obj_next(&jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "models") != 0) {
            e = sv_jr_skip(&jr);
            continue;
        }
        if ((e = sv_jr_arr_begin(&jr))) break;
        while (!e && !(e = sv_jr_arr_next(&jr, &m)) && m) {
            name[0] = mpath[0] = '\0';
            if ((e = sv_jr_obj_begin(&jr))) break;
            int k;
            while (!e && !(e = sv_jr_obj_next(&jr, key, sizeof key, &k)) && k) {
                if (strcmp(key, "name") == 0) e = sv_jr_string(&jr, name, sizeof name, NULL);
                else if (strcmp(key, "path") == 0) e = sv_jr_string(&jr, mpath, sizeof mpath, NULL);
                else e = ti_errorf(TI_ERR_FORMAT, "unknown key '%s' in a model entry (name, path)", key);
            }
            if (e) break;
            if (!mpath[0]) {
                e = ti_errorf(TI_ERR_FORMAT, "model entry %d has no \"path\"", n_models);
                break;
            }
            if (!name[0]) file_stem(name, sizeof name, mpath);
            if ((e = ti_server_add_model(s, name, mpath))) break;
            n_models++;
        }
    }
    free(text);
    if (e) return ti_error_wrap(e, "serve config %s", path);
    if (!n_models) return ti_errorf(TI_ERR_NOT_FOUND, "serve config %s: no \"models\" listed", path);
    return TI_OK;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n > k && strcmp(s + n - k, suf) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

ti_err ti_server_add_models_dir(ti_server *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return ti_errorf(TI_ERR_NOT_FOUND, "serve: cannot open model folder '%s'", dir);
    char *names[SV_REG_MAX_MODELS];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < SV_REG_MAX_MODELS)
        if (has_suffix(de->d_name, ".safetensors") || has_suffix(de->d_name, ".pt")) {
            names[n] = strdup(de->d_name);
            if (names[n]) n++;
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str); /* a stable order for /predict's default */
    ti_err e = n ? TI_OK : ti_errorf(TI_ERR_NOT_FOUND, "serve: no *.safetensors or *.pt in '%s'", dir);
    for (int i = 0; i < n; i++) {
        if (!e) {
            char path[SV_REG_MAX_PATH], name[TI_MODEL_MAX_NAME];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            snprintf(name, sizeof name, "%.*s", (int)strcspn(names[i], "."), names[i]);
            e = ti_server_add_model(s, name, path);
        }
        free(names[i]);
    }
    return e;
}
