/* Bench report: JSON (every number), Markdown (the table a person reads) and two SVG
 * plots: latency vs throughput per (target, mode) and the percentile distribution. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/fileio.h"
#include "tickinfer/loadgen.h"
#include "tickinfer/plot.h"

#define MAX_PATH 1200

static void num(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v) && v >= 0) fprintf(f, "\"%s\": %.6g%s", key, v, last ? "" : ", ");
    else fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

static ti_err write_mem(const char *dir, const char *name, const char *ext, char *buf, size_t len)
{
    char path[MAX_PATH];
    if ((size_t)snprintf(path, sizeof path, "%s/%s%s", dir, name, ext) >= sizeof path)
        return ti_errorf(TI_ERR_INVALID_ARG, "bench report: path too long");
    ti_err e = ti_write_file_atomic(path, buf, len);
    return e ? ti_error_wrap(e, "bench report") : TI_OK;
}

static ti_err write_json(const char *dir, const char *name, const char *title, const ti_lg_point *p, int n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return ti_errorf(TI_ERR_NOMEM, "bench report: out of memory");
    fprintf(f, "{\"title\": \"%s\",\n \"stability_rule\": \"warm-up requests excluded; a point runs at least min_s "
               "and the measured request count; stable = completions in the two halves of the window differ by < 10%%\",\n"
               " \"points\": [\n", title);
    for (int i = 0; i < n; i++) {
        const ti_lg_point *q = &p[i];
        fprintf(f, "  {\"target\": \"%s\", \"mode\": \"%s\", \"concurrency\": %d, \"batch\": %d, \"T\": %d, \"F\": %d, ",
                ti_lg_target_name(q->target), ti_lg_mode_name(q->mode), q->concurrency, q->batch, q->T, q->F);
        fprintf(f, "\"n_ok\": %llu, \"n_err\": %llu, \"errors\": {", (unsigned long long)q->n_ok, (unsigned long long)q->n_err);
        for (int k = 0; k < TI_LG_ERR__COUNT; k++)
            fprintf(f, "\"%s\": %llu%s", ti_lg_errkind_name((ti_lg_errkind)k), (unsigned long long)q->errors[k],
                    k + 1 < TI_LG_ERR__COUNT ? ", " : "}, ");
        num(f, "rate_target", q->rate_target, 0);
        num(f, "wall_s", q->wall_s, 0);
        num(f, "req_s", q->req_s, 0);
        num(f, "samples_s", q->samples_s, 0);
        num(f, "latency_sum_qps", q->latsum_qps, 0);
        num(f, "p50_ms", q->p50_ms, 0);
        num(f, "p90_ms", q->p90_ms, 0);
        num(f, "p99_ms", q->p99_ms, 0);
        num(f, "p999_ms", q->p999_ms, 0);
        num(f, "max_ms", q->max_ms, 0);
        num(f, "mean_ms", q->mean_ms, 0);
        num(f, "server_queue_ms", q->queue_ms, 0);
        num(f, "server_compute_ms", q->compute_ms, 0);
        if (q->sweep_p99_ms > 0)
            fprintf(f, "\"sweep_p99_target_ms\": %.6g, \"sweep_holds\": %s, \"sweep_best\": %s, ", q->sweep_p99_ms,
                    q->sweep_holds ? "true" : "false", q->sweep_best ? "true" : "false");
        fprintf(f, "\"stable\": %s}%s\n", q->stable ? "true" : "false", i + 1 < n ? "," : "");
    }
    fprintf(f, " ]}\n");
    if (fclose(f)) {
        free(buf);
        return ti_errorf(TI_ERR_NOMEM, "bench report: out of memory");
    }
    ti_err e = write_mem(dir, name, ".json", buf, len);
    free(buf);
    return e;
}

static void ms_or_na(FILE *f, double v)
{
    if (v >= 0) fprintf(f, " %.3f |", v);
    else fprintf(f, " n/a |");
}

/* One line per rate sweep: the highest rate that held its p99 target. */
static void write_sweeps_md(FILE *f, const ti_lg_point *p, int n)
{
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!(p[i].sweep_p99_ms > 0) || (i > 0 && p[i - 1].sweep_p99_ms > 0 && p[i - 1].target == p[i].target))
            continue; /* not a sweep, or not the first point of one */
        double best = 0;
        int pts = 0;
        for (int k = i; k < n && p[k].sweep_p99_ms > 0 && p[k].target == p[i].target; k++, pts++)
            if (p[k].sweep_best) best = p[k].rate_target;
        if (!any++) fprintf(f, "\nRate sweeps (open loop; a rate holds when p99 <= target, <= 1%% errors and >= 90%% of it "
                               "achieved):\n\n");
        if (best > 0)
            fprintf(f, "* %s, %d connections: highest rate holding p99 <= %g ms: **%.1f req/s** (%d points)\n",
                    ti_lg_target_name(p[i].target), p[i].concurrency, p[i].sweep_p99_ms, best, pts);
        else
            fprintf(f, "* %s, %d connections: no rate held p99 <= %g ms (first rate %.1f req/s)\n",
                    ti_lg_target_name(p[i].target), p[i].concurrency, p[i].sweep_p99_ms, p[i].rate_target);
    }
}

static ti_err write_md(const char *dir, const char *name, const char *title, const ti_lg_point *p, int n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return ti_errorf(TI_ERR_NOMEM, "bench report: out of memory");
    fprintf(f, "# %s\n\nLatency in ms from the HDR-style histogram (open loop: from the intended send time). "
               "req/s is wall-clock (measured requests / measured window); \"latency-sum QPS\" is requests / sum of "
               "latencies, which ignores overlap. Server queue/compute are means per inference from `/metrics` "
               "(n/a without it). Warm-up excluded; `stable` = the window's two halves completed within 10%% of each "
               "other.\n\n", title);
    fprintf(f, "| target | mode | conc | rate | batch | req/s | samples/s | latency-sum QPS | p50 | p90 | p99 | p99.9 | "
               "max | errors | server queue | server compute | stable |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const ti_lg_point *q = &p[i];
        fprintf(f, "| %s | %s | %d | ", ti_lg_target_name(q->target), ti_lg_mode_name(q->mode), q->concurrency);
        if (q->rate_target > 0) fprintf(f, "%.1f |", q->rate_target);
        else fprintf(f, "- |");
        fprintf(f, " %d | %.1f | %.1f | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | ", q->batch, q->req_s, q->samples_s,
                q->latsum_qps, q->p50_ms, q->p90_ms, q->p99_ms, q->p999_ms, q->max_ms);
        if (q->n_err == 0) fprintf(f, "0 |");
        for (int k = 0, first = 1; k < TI_LG_ERR__COUNT; k++)
            if (q->errors[k]) {
                fprintf(f, "%s%s %llu", first ? "" : ", ", ti_lg_errkind_name((ti_lg_errkind)k), (unsigned long long)q->errors[k]);
                first = 0;
            }
        if (q->n_err) fprintf(f, " |");
        ms_or_na(f, q->queue_ms);
        ms_or_na(f, q->compute_ms);
        fprintf(f, " %s |\n", q->stable ? "yes" : "no");
    }
    write_sweeps_md(f, p, n);
    if (fclose(f)) {
        free(buf);
        return ti_errorf(TI_ERR_NOMEM, "bench report: out of memory");
    }
    ti_err e = write_mem(dir, name, ".md", buf, len);
    free(buf);
    return e;
}

/* Series: one per (target, mode) group, up to TI_PLOT_MAX_SERIES. */
static ti_err write_plots(const char *dir, const char *name, const ti_lg_point *p, int n)
{
    double *xs = calloc((size_t)n * 2 + 5 * TI_PLOT_MAX_SERIES * 2, sizeof *xs);
    char labels[TI_PLOT_MAX_SERIES][64];
    if (!xs) return ti_errorf(TI_ERR_NOMEM, "bench report: out of memory");
    double *ys = xs + n;
    ti_plot pl = {.title = "latency (p99) vs throughput", .xlabel = "requests/s (wall clock)", .ylabel = "p99 latency, ms",
                  .log_y = 1};
    int used = 0;
    for (int g = 0; g < TI_LG_TARGET__COUNT * TI_LG_MODE__COUNT && pl.n_series < TI_PLOT_MAX_SERIES; g++) {
        int t = g / TI_LG_MODE__COUNT, m = g % TI_LG_MODE__COUNT, start = used;
        for (int i = 0; i < n; i++)
            if ((int)p[i].target == t && (int)p[i].mode == m) {
                xs[used] = p[i].req_s;
                ys[used++] = p[i].p99_ms;
            }
        if (used == start) continue;
        /* Sweeps visit rates out of order (bisection): draw the curve by throughput. */
        for (int a = start + 1; a < used; a++)
            for (int b = a; b > start && xs[b - 1] > xs[b]; b--) {
                double tx = xs[b], ty = ys[b];
                xs[b] = xs[b - 1], ys[b] = ys[b - 1];
                xs[b - 1] = tx, ys[b - 1] = ty;
            }
        snprintf(labels[pl.n_series], sizeof labels[0], "%s %s", ti_lg_target_name((ti_lg_target)t), ti_lg_mode_name((ti_lg_mode)m));
        pl.series[pl.n_series] = (ti_plot_series){labels[pl.n_series], xs + start, ys + start, (size_t)(used - start), TI_PLOT_LINE_POINTS};
        pl.n_series++;
    }
    char path[MAX_PATH];
    snprintf(path, sizeof path, "%s/%s_latency.svg", dir, name);
    ti_err e = ti_plot_write_svg(&pl, path);
    /* Percentiles: x = "nines" -log10(1 - q) (p50 0.3, p90 1, p99 2, p99.9 3, max 4). */
    ti_plot pp = {.title = "latency percentiles (first 12 points)", .xlabel = "nines: -log10(1 - q) (4 = max)", .ylabel = "latency, ms", .log_y = 1};
    static const double nines[5] = {0.30103, 1, 2, 3, 4};
    double *px = ys + n;
    for (int i = 0; !e && i < n && pp.n_series < TI_PLOT_MAX_SERIES; i++) {
        int s = pp.n_series;
        double *x = px + s * 10, *y = x + 5;
        const double v[5] = {p[i].p50_ms, p[i].p90_ms, p[i].p99_ms, p[i].p999_ms, p[i].max_ms};
        memcpy(x, nines, sizeof nines);
        memcpy(y, v, sizeof v);
        if (p[i].rate_target > 0)
            snprintf(labels[s], sizeof labels[0], "%s open %.0f/s", ti_lg_target_name(p[i].target), p[i].rate_target);
        else
            snprintf(labels[s], sizeof labels[0], "%s %s c%d", ti_lg_target_name(p[i].target), ti_lg_mode_name(p[i].mode),
                     p[i].concurrency);
        pp.series[pp.n_series++] = (ti_plot_series){labels[s], x, y, 5, TI_PLOT_LINE_POINTS};
    }
    snprintf(path, sizeof path, "%s/%s_percentiles.svg", dir, name);
    if (!e) e = ti_plot_write_svg(&pp, path);
    free(xs);
    return e;
}

ti_err ti_lg_report_write(const char *dir, const char *name, const char *title, const ti_lg_point *points, int n)
{
    if (!dir || !name || !title || (n > 0 && !points) || n < 0 || strlen(dir) + strlen(name) > 1000 || strchr(title, '"'))
        return ti_errorf(TI_ERR_INVALID_ARG, "bench report: bad arguments (title may not contain '\"')");
    ti_err e = ti_mkdirs(dir);
    if (!e) e = write_json(dir, name, title, points, n);
    if (!e) e = write_md(dir, name, title, points, n);
    if (!e && n > 0) e = write_plots(dir, name, points, n);
    return e;
}
