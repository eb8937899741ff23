/* Training-step throughput (forward + backward + AdamW) of the RV models, in samples/s,
 * for comparison with PyTorch on the same shapes (bench/train_peers.sh runs both).
 * Usage: train_step [threads]   -> JSON lines on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/clock.h"
#include "tickinfer/kernels.h"
#include "tickinfer/transformer.h"

static int bench(ti_tfm_arch kind, int F, int T, int d, int L, int dff, int B, int threads, int reps)
{
    ti_tfm_config c;
    ti_tfm_config_default(&c, kind);
    c.n_features = F, c.context = T, c.d_model = d, c.n_heads = 4, c.n_layers = L, c.d_ff = dff;
    ti_tfm *m = NULL;
    ti_runstate *rs = NULL;
    ti_pool *pool = NULL;
    if (ti_tfm_create(&m, &c) || ti_runstate_create(&rs, m, B, T, TI_RS_TRAINING) || ti_pool_create(&pool, threads)) {
        fprintf(stderr, "train_step: %s\n", ti_errmsg());
        return 1;
    }
    ti_tfm_init(m, 1);
    size_t np = ti_tfm_n_params(m), ny = kind == TI_TFM_RV_CAUSAL ? (size_t)B * T : (size_t)B;
    float *x = malloc(sizeof(float) * (size_t)B * T * F), *y = malloc(sizeof(float) * ny), *dy = malloc(sizeof(float) * ny);
    float *g = calloc(np, sizeof(float)), *am = calloc(np, sizeof(float)), *av = calloc(np, sizeof(float));
    for (size_t i = 0; i < (size_t)B * T * F; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (size_t i = 0; i < ny; i++) dy[i] = 1.0f / (float)ny;
    const ti_kernels *k = ti_tfm_kernels(m);
    ti_adamw_cfg ac = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f};
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) { /* one warm-up step, then reps timed */
        double t0 = ti_now_s();
        ti_tfm_forward(m, rs, y, x, B, T, pool);
        memset(g, 0, np * sizeof(float));
        ti_tfm_backward(m, rs, g, NULL, dy, pool);
        k->adamw_step(ti_tfm_params_mut(m), am, av, g, np, &ac, r + 1);
        double dt = ti_now_s() - t0;
        if (r >= 1 && dt < best) best = dt;
    }
    printf("{\"engine\": \"tickinfer\", \"model\": \"%s\", \"batch\": %d, \"T\": %d, \"threads\": %d, \"step_ms\": %.3f, \"samples_per_s\": %.1f}\n",
           ti_tfm_arch_name(kind), B, T, threads, best * 1e3, B / best);
    free(x), free(y), free(dy), free(g), free(am), free(av);
    ti_pool_destroy(pool);
    ti_runstate_destroy(rs);
    ti_tfm_destroy(m);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int rc = bench(TI_TFM_RV_CAUSAL, 15, 300, 64, 2, 128, 64, threads, 5);
    rc |= bench(TI_TFM_TINYRV, 14, 600, 128, 3, 256, 32, threads, 3);
    return rc;
}
