/* Shared by the end-to-end load generator tests: an in-process `tickinfer serve` on an
 * ephemeral port with the named checkpoints. */
#ifndef TI_TESTS_LG_FIXTURE_H
#define TI_TESTS_LG_FIXTURE_H

#include <stdio.h>

#include "tickinfer/serve.h"

#define RV_PATH "models/rv_causal_optiver.safetensors"
#define TINY_PATH "tests/model/data/seed_rv_tiny/best.pt"

/* names[i] serves paths[i]; prints why and returns 1 if the server cannot start. */
static inline int lg_start_server(ti_server **srv, int *port, const char *const *names, const char *const *paths, int n)
{
    ti_server_config sc;
    ti_server_config_default(&sc);
    sc.port = 0;
    ti_err e = ti_server_create(srv, &sc);
    for (int i = 0; i < n && !e; i++) e = ti_server_add_model(*srv, names[i], paths[i]);
    if (!e) e = ti_server_start(*srv);
    if (e) {
        fprintf(stderr, "cannot start the server: %s\n", ti_errmsg());
        return 1;
    }
    *port = ti_server_port(*srv);
    return 0;
}

#endif
