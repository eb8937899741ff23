/* Open-loop rate sweep: find the highest request rate whose p99 holds a target.  A rate
 * "holds" when p99 <= target, at most 1% of requests fail, and the achieved rate is at
 * least 90% of the offered one (otherwise the client, not the server, was the limit). */
#include <string.h>

#include "tickinfer/loadgen.h"

static int holds(const ti_lg_point *p, double p99_ms)
{
    double n = (double)(p->n_ok + p->n_err);
    return p->p99_ms <= p99_ms && (double)p->n_err <= 0.01 * n && p->req_s >= 0.9 * p->rate_target;
}

ti_err ti_lg_rate_sweep(ti_lg_point *points, int cap, int *n, double *best_rate, const ti_lg_config *cfg, const ti_model *model,
                        double p99_ms, int refine)
{
    if (!points || cap < 1 || !n || !best_rate || !cfg || !(p99_ms > 0) || refine < 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "bench: rate sweep needs points, a p99 target > 0 and refine >= 0");
    ti_lg_config c = *cfg;
    c.mode = TI_LG_OPEN;
    *n = 0;
    *best_rate = 0;
    double good = 0, bad = 0;
    ti_err e = TI_OK;
    while (*n < cap) { /* doubling */
        e = ti_lg_run_point(&points[*n], &c, model);
        if (e) break;
        int ok = holds(&points[(*n)++], p99_ms);
        if (!ok) {
            bad = c.rate;
            break;
        }
        good = c.rate;
        c.rate *= 2;
        if (c.rate > 1e7) break;
    }
    for (int r = 0; !e && r < refine && good > 0 && bad > 0 && *n < cap; r++) { /* bisection */
        c.rate = 0.5 * (good + bad);
        e = ti_lg_run_point(&points[*n], &c, model);
        if (e) break;
        if (holds(&points[(*n)++], p99_ms)) good = c.rate;
        else bad = c.rate;
    }
    *best_rate = good;
    for (int i = 0; i < *n; i++) {
        points[i].sweep_p99_ms = p99_ms;
        points[i].sweep_holds = holds(&points[i], p99_ms);
        points[i].sweep_best = good > 0 && points[i].rate_target == good;
    }
    /* A failed first point is an error; a failed later point ends the sweep with what held. */
    return *n == 0 ? e : TI_OK;
}
