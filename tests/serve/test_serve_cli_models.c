/* `tickinfer serve --model FILE[:NAME]`: two files under two names (one by stem, one
 * named) beside a config file's model, each ready under its name and answering like an
 * in-process forward; and the spec forms of ti_server_add_model_spec in-process. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "cli_path.h"
#include "harness.h"
#include "http_client.h"
#include "serve/serve_internal.h"
#include "serve_fixture.h"
#include "tickinfer/clock.h"
#include "tickinfer/fileio.h"

#define TINY_PATH "tests/model/data/seed_rv_tiny/best.pt"

static char g_cli[PATH_MAX];
static char g_dir[] = "/tmp/ti_serve_models_XXXXXX";

static int find_cli(void) { return ti_test_find_cli(g_cli, sizeof g_cli); }

static int status_of(int port, const char *method, const char *path)
{
    tc_resp r;
    int st = tc_request(port, method, path, NULL, NULL, 0, &r) == 0 ? r.status : -1;
    tc_resp_free(&r);
    return st;
}

/* v2 binary infer of x [B,T,F] on `name`; y [B] or [B,T] into y (n floats). */
static int infer(int port, const char *name, const float *x, int B, int T, int F, float *y, size_t n)
{
    char hdr[400], hl[80], path[128];
    size_t bytes = (size_t)B * T * F * sizeof(float);
    int k = snprintf(hdr, sizeof hdr,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":%zu}}],\"parameters\":{\"binary_data_output\":true}}",
                     B, T, F, bytes);
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 24);
    int ok = sv_sbuf_append(&s, hdr, (size_t)k) == TI_OK && sv_sbuf_append(&s, x, bytes) == TI_OK;
    snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %d\r\n", k);
    snprintf(path, sizeof path, "/v2/models/%s/infer", name);
    tc_resp r;
    ok = ok && tc_request(port, "POST", path, hl, s.data, s.len, &r) == 0;
    char v[32] = "";
    ok = ok && r.status == 200 && tc_header(&r, "Inference-Header-Content-Length", v, sizeof v) == 0;
    size_t jl = ok ? (size_t)atol(v) : 0;
    ok = ok && jl + n * sizeof(float) == r.body_len;
    if (ok) memcpy(y, r.body + jl, n * sizeof(float));
    else fprintf(stderr, "  infer %s: status %d\n", name, r.status);
    tc_resp_free(&r);
    sv_sbuf_free(&s);
    return ok ? 0 : -1;
}

TI_TEST(serve_two_files_under_two_names_beside_the_config)
{
    if (find_cli() != 0) {
        TI_FAILF("tickinfer CLI not built next to the tests (make all)");
        return;
    }
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/serve.json", g_dir);
    const char *text = "{\"models\": [{\"name\": \"cfg\", \"path\": \"" RV_PATH "\"}], \"server\": {\"http_threads\": 1}}";
    TI_CHECK_OK(ti_write_file_atomic(cfg, text, strlen(text)));
    const char *args[] = {"--config", cfg, "--port", "0", "--model", RV_PATH, "--model", TINY_PATH ":tiny", NULL};
    pid_t pid;
    int fd;
    const int port = ti_test_serve_spawn(g_cli, args, &pid, &fd, 30);
    TI_CHECK_MSG(port > 0, "serve printed no port");
    if (port > 0) {
        /* the stem names the first file, :tiny the second; the config's model is there too */
        TI_CHECK(status_of(port, "GET", "/v2/models/rv_causal_optiver/ready") == 200);
        TI_CHECK(status_of(port, "GET", "/v2/models/tiny/ready") == 200);
        TI_CHECK(status_of(port, "GET", "/v2/models/cfg/ready") == 200);
        TI_CHECK(status_of(port, "GET", "/v2/models/best/ready") == 404);
        /* an infer on each equals the in-process forward */
        ref_model rv, tiny;
        TI_CHECK_OK(ref_open(&rv, RV_PATH, 2));
        TI_CHECK_OK(ref_open(&tiny, TINY_PATH, 1));
        {
            enum { B = 2, T = 7, F = 12 };
            float x[B * T * F], ref[B * T], got[B * T];
            make_input(&rv, x, B, T, 11);
            TI_CHECK_OK(ref_forward(&rv, ref, x, B, T));
            TI_CHECK(infer(port, "rv_causal_optiver", x, B, T, F, got, B * T) == 0 && max_rel_ok(got, ref, B * T, 1e-4));
        }
        {
            enum { B = 1, T = 600, F = 14 };
            static float x[B * T * F];
            float ref[B], got[B];
            make_input(&tiny, x, B, T, 12);
            TI_CHECK_OK(ref_forward(&tiny, ref, x, B, T));
            TI_CHECK(infer(port, "tiny", x, B, T, F, got, B) == 0 && max_rel_ok(got, ref, B, 1e-4));
        }
        ref_close(&rv);
        ref_close(&tiny);
    }
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    TI_CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serve exited with status %d", st);
    close(fd);
    unlink(cfg);
}

TI_TEST(model_spec_forms)
{
    ti_server *s;
    TI_CHECK_OK(ti_server_create(&s, NULL));
    char copy[300];
    snprintf(copy, sizeof copy, "%s/my.model.v2.safetensors", g_dir);
    char *data = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_read_file(RV_PATH, 16 << 20, &data, &len));
    TI_CHECK_OK(ti_write_file_atomic(copy, data, len));
    free(data);
    char spec[400];
    TI_CHECK_OK(ti_server_add_model_spec(s, copy)); /* stem: "my" */
    snprintf(spec, sizeof spec, "%s:named", copy);
    TI_CHECK_OK(ti_server_add_model_spec(s, spec));
    TI_CHECK_OK(ti_server_add_model_spec(s, "legacy=" RV_PATH));
    static const char *const names[] = {"my", "named", "legacy"};
    for (int i = 0; i < 3; i++) {
        sv_model_entry *e = sv_registry_get(&s->reg, names[i], 0);
        TI_CHECK_MSG(e && e->version == 1, "no model '%s'", names[i]);
        if (e) sv_entry_unref(e);
    }
    /* the same name again replaces it (version 2) */
    TI_CHECK_OK(ti_server_add_model_spec(s, RV_PATH ":named"));
    sv_model_entry *e = sv_registry_get(&s->reg, "named", 0);
    TI_CHECK(e && e->version == 2);
    if (e) sv_entry_unref(e);
    TI_CHECK_ERR(ti_server_add_model_spec(s, RV_PATH ":"), TI_ERR_INVALID_ARG, "bad NAME");
    TI_CHECK_ERR(ti_server_add_model_spec(s, ":x"), TI_ERR_INVALID_ARG, "bad FILE");
    TI_CHECK_ERR(ti_server_add_model_spec(s, "/nonexistent/m.safetensors:m"), TI_ERR_NOT_FOUND,
                 "serve: model 'm': safetensors /nonexistent/m.safetensors");
    TI_CHECK_ERR(ti_server_add_model_spec(s, RV_PATH ":a/b"), TI_ERR_NOT_FOUND, ""); /* ':' then '/': all one path */
    ti_server_destroy(s);
    unlink(copy);
}

int main(void)
{
    if (!mkdtemp(g_dir)) return 1;
    signal(SIGPIPE, SIG_IGN);
    TI_RUN(serve_two_files_under_two_names_beside_the_config);
    TI_RUN(model_spec_forms);
    rmdir(g_dir);
    return ti_test_summary();
}
