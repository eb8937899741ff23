/* The server against a real client: Triton's tritonclient[http] (tests/py/
 * serve_tritonclient.py) talks to an in-process server.  Inputs and expected outputs
 * (an in-process forward of the same checkpoint) go to the script as .npy files.
 * Skips without TI_PYTHON or when tritonclient is not installed (exit 77). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "serve_fixture.h"
#include "tickinfer/fileio.h"
#include "tickinfer/npy.h"
#include "tickinfer/serve.h"

static ti_err write_npy(const char *path, const float *v, int ndim, const int64_t *shape)
{
    char hdr[256];
    size_t hl, n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    ti_err e = ti_npy_header_f32(hdr, sizeof hdr, &hl, ndim, shape);
    if (e) return e;
    char *buf = malloc(hl + n * sizeof(float));
    if (!buf) return TI_ERR_NOMEM;
    memcpy(buf, hdr, hl);
    memcpy(buf + hl, v, n * sizeof(float));
    e = ti_write_file_atomic(path, buf, hl + n * sizeof(float));
    free(buf);
    return e;
}

TI_TEST(tritonclient_http)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) TI_SKIP("TI_PYTHON unset (run via make test)");
    enum { B = 3, T = 20, F = 12 };
    ref_model rm;
    TI_CHECK_OK(ref_open(&rm, RV_PATH, B));
    static float x[B * T * F], y[B * T];
    make_input(&rm, x, B, T, 42);
    TI_CHECK_OK(ref_forward(&rm, y, x, B, T));
    ref_close(&rm);
    char dir[] = "/tmp/ti_serve_triton_XXXXXX";
    TI_CHECK(mkdtemp(dir) != NULL);
    char px[128], pyy[128];
    snprintf(px, sizeof px, "%s/x.npy", dir);
    snprintf(pyy, sizeof pyy, "%s/y.npy", dir);
    int64_t sx[3] = {B, T, F}, sy[2] = {B, T};
    TI_CHECK_OK(write_npy(px, x, 3, sx));
    TI_CHECK_OK(write_npy(pyy, y, 2, sy));

    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    snprintf(c.admin_token, sizeof c.admin_token, "tc-token");
    ti_server *s;
    TI_CHECK_OK(ti_server_create(&s, &c));
    TI_CHECK_OK(ti_server_add_model(s, "rv", RV_PATH));
    TI_CHECK_OK(ti_server_start(s));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' tests/py/serve_tritonclient.py --url 127.0.0.1:%d --dir %s --token tc-token 2>&1",
             py, ti_server_port(s), dir);
    int code = run_echo(cmd);
    TI_CHECK_OK(ti_server_drain(s, 5000));
    ti_server_destroy(s);
    unlink(px);
    unlink(pyy);
    rmdir(dir);
    if (code == 77) TI_SKIP("tritonclient not installed in %s (pip install -r requirements.txt)", py);
    TI_CHECK_MSG(code == 0, "serve_tritonclient.py exited %d", code);
}

int main(void)
{
    TI_RUN(tritonclient_http);
    return ti_test_summary();
}
