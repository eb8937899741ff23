/* Server configuration: the registry file (server keys, models list, unknown keys with a
 * hint, bad values), the model-folder scan (names from file stems) and argument checks. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "serve/serve_internal.h"
#include "tickinfer/fileio.h"
#include "tickinfer/serve.h"

static char g_dir[] = "/tmp/ti_serve_cfg_XXXXXX";

static const char *write_tmp(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return ti_write_file_atomic(path, text, strlen(text)) == TI_OK ? path : NULL;
}

TI_TEST(config_file_sets_server_and_models)
{
    const char *p = write_tmp("serve.json",
                              "{\"models\": [{\"name\": \"a\", \"path\": \"models/rv_causal_optiver.safetensors\"},"
                              "             {\"path\": \"models/rv_causal_optiver.safetensors\"}],"
                              " \"server\": {\"port\": 0, \"max_batch\": 16, \"preferred_batch\": 4,"
                              "            \"max_body_bytes\": 2097152, \"admin_token\": \"t0k\", \"host\": \"127.0.0.1\"}}");
    TI_CHECK(p != NULL);
    ti_server_config c;
    ti_server_config_default(&c);
    TI_CHECK_OK(ti_server_config_load(&c, p));
    TI_CHECK(c.port == 0 && c.max_batch == 16 && c.preferred_batch == 4 && c.max_body_bytes == 2097152);
    TI_CHECK(strcmp(c.admin_token, "t0k") == 0 && c.http_threads == 2 /* default kept */);
    ti_server *s;
    TI_CHECK_OK(ti_server_create(&s, &c));
    TI_CHECK_OK(ti_server_add_config_models(s, p));
    sv_model_entry *a = sv_registry_get(&s->reg, "a", 0);
    sv_model_entry *stem = sv_registry_get(&s->reg, "rv_causal_optiver", 0);
    TI_CHECK(a && stem && a->version == 1 && a->info->n_features == 12);
    sv_entry_unref(a);
    sv_entry_unref(stem);
    ti_server_destroy(s);
}

TI_TEST(config_errors_name_the_problem)
{
    ti_server_config c;
    ti_server_config_default(&c);
    const char *p = write_tmp("typo.json", "{\"server\": {\"max_bacth\": 8}}");
    TI_CHECK_ERR(ti_server_config_load(&c, p), TI_ERR_FORMAT, "did you mean 'max_batch'");
    p = write_tmp("range.json", "{\"server\": {\"port\": 70000}}");
    TI_CHECK_ERR(ti_server_config_load(&c, p), TI_ERR_RANGE, "'server.port' = 70000 out of range");
    p = write_tmp("type.json", "{\"server\": {\"max_batch\": \"big\"}}");
    TI_CHECK_ERR(ti_server_config_load(&c, p), TI_ERR_FORMAT, "server.max_batch");
    ti_server *s;
    TI_CHECK_OK(ti_server_create(&s, NULL));
    p = write_tmp("nomodels.json", "{\"server\": {}}");
    TI_CHECK_ERR(ti_server_add_config_models(s, p), TI_ERR_NOT_FOUND, "no \"models\" listed");
    p = write_tmp("badentry.json", "{\"models\": [{\"name\": \"x\", \"file\": \"y\"}]}");
    TI_CHECK_ERR(ti_server_add_config_models(s, p), TI_ERR_FORMAT, "unknown key 'file'");
    p = write_tmp("nopath.json", "{\"models\": [{\"name\": \"x\"}]}");
    TI_CHECK_ERR(ti_server_add_config_models(s, p), TI_ERR_FORMAT, "has no \"path\"");
    p = write_tmp("badname.json", "{\"models\": [{\"name\": \"a/b\", \"path\": \"models/rv_causal_optiver.safetensors\"}]}");
    TI_CHECK_ERR(ti_server_add_config_models(s, p), TI_ERR_INVALID_ARG, "use letters, digits");
    TI_CHECK_ERR(ti_server_add_model(s, "m", "/nonexistent/model.safetensors"), TI_ERR_NOT_FOUND,
                 "serve: model 'm': safetensors /nonexistent/model.safetensors");
    TI_CHECK_ERR(ti_server_add_models_dir(s, g_dir), TI_ERR_NOT_FOUND, "no *.safetensors or *.pt");
    ti_server_destroy(s);
    ti_server_config_default(&c);
    c.max_inflight = 0;
    TI_CHECK_ERR(ti_server_create(&s, &c), TI_ERR_INVALID_ARG, "max_inflight");
    ti_server_config_default(&c);
    snprintf(c.host, sizeof c.host, "localhost");
    TI_CHECK_OK(ti_server_create(&s, &c));
    TI_CHECK_ERR(ti_server_start(s), TI_ERR_INVALID_ARG, "not an IPv4 address");
    ti_server_destroy(s);
}

/* Ticks through an int8-KV server and an f32 one: close forecasts, less KV memory. */
TI_TEST(stream_kv_dtype_quantizes_the_tick_streams)
{
    const char *p = write_tmp("kv.json", "{\"server\": {\"stream_kv_dtype\": \"int8\"}}");
    ti_server_config c8, c32;
    ti_server_config_default(&c8);
    ti_server_config_default(&c32);
    TI_CHECK(strcmp(c32.stream_kv_dtype, "f32") == 0);
    TI_CHECK_OK(ti_server_config_load(&c8, p));
    TI_CHECK(strcmp(c8.stream_kv_dtype, "int8") == 0);
    ti_server_config bad = c32;
    snprintf(bad.stream_kv_dtype, sizeof bad.stream_kv_dtype, "int9");
    ti_server *s8, *s32;
    TI_CHECK_ERR(ti_server_create(&s8, &bad), TI_ERR_INVALID_ARG, "stream_kv_dtype 'int9': use f32, int8");
    TI_CHECK_OK(ti_server_create(&s8, &c8));
    TI_CHECK_OK(ti_server_create(&s32, &c32));
    TI_CHECK_OK(ti_server_add_model(s8, "rv", "models/rv_causal_optiver.safetensors"));
    TI_CHECK_OK(ti_server_add_model(s32, "rv", "models/rv_causal_optiver.safetensors"));
    sv_model_entry *e8 = sv_registry_get(&s8->reg, "rv", 0), *e32 = sv_registry_get(&s32->reg, "rv", 0);
    TI_CHECK(e8 && e32 && e8->streams && e32->streams);
    double maxd = 0;
    for (int t = 0; t < 40 && e8 && e32; t++) {
        float row[12];
        for (int f = 0; f < 12; f++) row[f] = (float)(((t * 7 + f * 3) % 11) - 5) * 0.1f;
        ti_forecast a, b;
        int da, db;
        int64_t la, lb;
        TI_CHECK_OK(sv_serve_streams_push(e8->streams, "X", SV_TICK_NORMALIZED, row, NULL, 1, &a, &da, &la));
        TI_CHECK_OK(sv_serve_streams_push(e32->streams, "X", SV_TICK_NORMALIZED, row, NULL, 1, &b, &db, &lb));
        maxd = fmax(maxd, fabs((double)a.y_log - b.y_log));
    }
    /* int8 KV changes the forecasts a little (it took effect), not much (docs/kv_quant.md) */
    TI_CHECK_MSG(maxd > 0 && maxd < 2e-2, "int8 vs f32 forecasts differ by %g", maxd);
    int o8, o32;
    size_t kv8 = 0, kv32 = 0;
    if (e8 && e32) {
        sv_serve_streams_stats(e8->streams, &o8, &kv8);
        sv_serve_streams_stats(e32->streams, &o32, &kv32);
    }
    TI_CHECK_MSG(kv8 > 0 && kv8 * 2 < kv32, "KV bytes int8 %zu, f32 %zu", kv8, kv32);
    if (e8) sv_entry_unref(e8);
    if (e32) sv_entry_unref(e32);
    ti_server_destroy(s8);
    ti_server_destroy(s32);
}

TI_TEST(models_dir_names_by_stem)
{
    char sub[300], dst[400];
    snprintf(sub, sizeof sub, "%s/models", g_dir);
    TI_CHECK(mkdir(sub, 0755) == 0);
    snprintf(dst, sizeof dst, "%s/my_model.v1.safetensors", sub);
    char *data = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_read_file("models/rv_causal_optiver.safetensors", 16 << 20, &data, &len));
    TI_CHECK_OK(ti_write_file_atomic(dst, data, len));
    free(data);
    ti_server *s;
    TI_CHECK_OK(ti_server_create(&s, NULL));
    TI_CHECK_OK(ti_server_add_models_dir(s, sub));
    sv_model_entry *e = sv_registry_get(&s->reg, "my_model", 0);
    TI_CHECK(e != NULL);
    sv_entry_unref(e);
    ti_server_destroy(s);
    unlink(dst);
    rmdir(sub);
}

int main(void)
{
    if (!mkdtemp(g_dir)) return 1;
    TI_RUN(config_file_sets_server_and_models);
    TI_RUN(config_errors_name_the_problem);
    TI_RUN(stream_kv_dtype_quantizes_the_tick_streams);
    TI_RUN(models_dir_names_by_stem);
    static const char *const names[] = {"serve.json", "typo.json", "range.json", "type.json", "nomodels.json",
                                        "badentry.json", "nopath.json", "badname.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", g_dir, names[i]);
        unlink(p);
    }
    rmdir(g_dir);
    return ti_test_summary();
}
