/* Server configuration file and model discovery: ti_server_config_load,
 * ti_server_add_config_models, ti_server_add_models_dir (see serve.h). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"
#include "serve/json_read.h"
#include "tickinfer/config.h"
#include "tickinfer/fileio.h"

static const char *const k_top_keys[] = {"models", "server", NULL};
static const char *const k_server_keys[] = {
    "host", "port", "http_threads", "workers_per_model", "intra_op_threads", "max_batch", "max_queue_delay_us", "preferred_batch",
    "request_timeout_ms",
    "max_inflight", "max_body_bytes", "max_header_bytes", "idle_timeout_s", "max_connections", "max_request_rows",
    "admin_token", "models_dir", "stream_kv_dtype", NULL};

static ti_err get_int(const ti_config *c, const char *key, int *v, int64_t lo, int64_t hi)
{
    char path[64];
    snprintf(path, sizeof path, "server.%s", key);
    int64_t x;
    ti_err e = ti_config_get_int(c, path, *v, &x);
    if (e) return e;
    if (x < lo || x > hi) return ti_errorf(TI_ERR_RANGE, "serve config: '%s' = %lld out of range [%lld, %lld]", path,
                                           (long long)x, (long long)lo, (long long)hi);
    *v = (int)x;
    return TI_OK;
}

static ti_err get_size(const ti_config *c, const char *key, size_t *v)
{
    char path[64];
    snprintf(path, sizeof path, "server.%s", key);
    int64_t x;
    ti_err e = ti_config_get_int(c, path, (int64_t)*v, &x);
    if (e) return e;
    if (x < 1024 || x > ((int64_t)1 << 34)) return ti_errorf(TI_ERR_RANGE, "serve config: '%s' must be 1 KiB .. 16 GiB", path);
    *v = (size_t)x;
    return TI_OK;
}

static ti_err get_str(const ti_config *c, const char *key, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "server.%s", key);
    const char *s;
    ti_err e = ti_config_get_string(c, path, buf, &s);
    if (e) return e;
    if (strlen(s) >= cap) return ti_errorf(TI_ERR_LIMIT, "serve config: '%s' longer than %zu chars", path, cap - 1);
    if (s != buf) memmove(buf, s, strlen(s) + 1);
    return TI_OK;
}

ti_err ti_server_config_load(ti_server_config *cfg, const char *path)
{
    ti_config *c;
    ti_err e = ti_config_load(&c, path);
    if (e) return e;
    if (!e) e = ti_config_check_keys(c, "", k_top_keys);
    if (!e) e = ti_config_check_keys(c, "server", k_server_keys);
    if (!e) e = get_str(c, "host", cfg->host, sizeof cfg->host);
    if (!e) e = get_int(c, "port", &cfg->port, 0, 65535);
    if (!e) e = get_int(c, "http_threads", &cfg->http_threads, 1, 256);
    if (!e) e = get_int(c, "workers_per_model", &cfg->workers_per_model, 1, 256);
    if (!e) e = get_int(c, "intra_op_threads", &cfg->intra_op_threads, 0, 1024);
    if (!e) e = get_int(c, "max_batch", &cfg->max_batch, 1, 4096);
    if (!e) e = get_int(c, "max_queue_delay_us", &cfg->max_queue_delay_us, 0, 10000000);
    if (!e) e = get_int(c, "preferred_batch", &cfg->preferred_batch, 0, 4096);
    if (!e) e = get_int(c, "request_timeout_ms", &cfg->request_timeout_ms, 0, 3600000);
    if (!e) e = get_int(c, "max_inflight", &cfg->max_inflight, 1, 65536);
    if (!e) e = get_size(c, "max_body_bytes", &cfg->max_body_bytes);
    if (!e) e = get_size(c, "max_header_bytes", &cfg->max_header_bytes);
    if (!e) e = get_int(c, "idle_timeout_s", &cfg->idle_timeout_s, 1, 86400);
    if (!e) e = get_int(c, "max_connections", &cfg->max_connections, 1, 1000000);
    if (!e) e = get_int(c, "max_request_rows", &cfg->max_request_rows, 1, 1 << 20);
    if (!e) e = get_str(c, "admin_token", cfg->admin_token, sizeof cfg->admin_token);
    if (!e) e = get_str(c, "models_dir", cfg->models_dir, sizeof cfg->models_dir);
    if (!e) e = get_str(c, "stream_kv_dtype", cfg->stream_kv_dtype, sizeof cfg->stream_kv_dtype);
    ti_config_destroy(c);
    return e;
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
            if (!name[0]) { /* file stem */
                const char *b = strrchr(mpath, '/');
                b = b ? b + 1 : mpath;
                snprintf(name, sizeof name, "%.*s", (int)strcspn(b, "."), b);
            }
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
