/* The OpenAPI document against the server it describes: schemathesis (tests/py/
 * serve_schemathesis.py) generates requests for every operation from /openapi.json and
 * checks status codes, content types and response schemas.  Skips without TI_PYTHON or
 * when schemathesis is not installed (exit 77). */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "serve_fixture.h"
#include "tickinfer/serve.h"

TI_TEST(schemathesis_conformance)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) TI_SKIP("TI_PYTHON unset (run via make test)");
    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    c.idle_timeout_s = 5;
    snprintf(c.admin_token, sizeof c.admin_token, "st-token");
    ti_server *s;
    TI_CHECK_OK(ti_server_create(&s, &c));
    TI_CHECK_OK(ti_server_add_model(s, "rv", RV_PATH));
    TI_CHECK_OK(ti_server_start(s));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' tests/py/serve_schemathesis.py --url http://127.0.0.1:%d --token st-token 2>&1 | tail -n 30",
             py, ti_server_port(s));
    /* the pipe through tail hides the script's status: ask for it explicitly */
    char full[1200];
    snprintf(full, sizeof full, "bash -o pipefail -c \"%s\"", cmd);
    int code = run_echo(full);
    TI_CHECK_OK(ti_server_drain(s, 5000));
    ti_server_destroy(s);
    if (code == 77) TI_SKIP("schemathesis not installed in %s (pip install -r requirements.txt)", py);
    TI_CHECK_MSG(code == 0, "schemathesis exited %d", code);
}

int main(void)
{
    TI_RUN(schemathesis_conformance);
    return ti_test_summary();
}
