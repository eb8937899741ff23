/* tickinfer bench: load generator against a running server (or one it starts in-process),
 * or the in-process forward; writes JSON + Markdown + SVG into --out.  docs/bench.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/loadgen.h"
#include "tickinfer/serve.h"

#define MAX_POINTS 256
#define MAX_LIST 32

static void usage(void)
{
    printf("usage: tickinfer bench [options]\n\n"
           "Load generator for `tickinfer serve` (docs/bench.md).\n"
           "  --host H --port P     server to load (default 127.0.0.1:8000)\n"
           "  --serve CKPT          start an in-process server on a free port with this checkpoint\n"
           "  --serve-workers N     its inference workers per model (1)\n"
           "  --targets LIST        predict,predict_np,v2_json,v2_binary,inproc,stream,ticks (predict)\n"
           "  --modes LIST          serial,closed,open,rate-sweep (closed)\n"
           "  --concurrency LIST    closed-loop clients, a sweep: 1,2,4,8 (1,2,4,8); open: connections (8)\n"
           "  --rate R              open: requests/s; rate-sweep: first rate (50)\n"
           "  --p99-ms X            rate-sweep: p99 target in ms (50); --refine N bisection steps (3)\n"
           "  --batch B --T T --F F request tensor [B,T,F] (1, 60, 12); stream: B ticks of F per request;\n"
           "                        ticks: one tick for each of B symbols T<client>_<k> per request (/v1/ticks)\n"
           "  --symbols N           stream: symbols per client, S<client>_<k> with k cycling per request (1);\n"
           "                        streams stay open after a point (clients x N <= %d)\n"
           "  --requests N          measured requests per point (200); --warmup N excluded first (20)\n"
           "  --min-s S --max-s S   each point runs at least S (2) and at most S (60) seconds\n"
           "  --timeout-ms MS       per request (30000)\n"
           "  --model-name NAME     server model name (default: the --serve checkpoint's stem)\n"
           "  --model CKPT          checkpoint for the inproc target (default: --serve's)\n"
           "  --out DIR --name N    report files DIR/N.{json,md}, N_latency.svg, N_percentiles.svg\n"
           "                        (bench/results, bench)\n"
           "  --preset seed         TinyRV seed test: 400 requests of [32,600,14] to /predict and\n"
           "                        /predict_np, serial and 8 clients (starts a server unless --port)\n"
           "  --preset quick        causal model, /predict, v2 binary and inproc, short points, then\n"
           "                        stream serial and 8 clients (4 symbols each unless --symbols), then\n"
           "                        ticks with 64 symbols per request, serial and 4 clients\n",
           TI_LG_MAX_STREAMS);
}

static int parse_list(const char *s, int *out, int cap)
{
    int n = 0;
    while (s && *s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > TI_LG_MAX_CONCURRENCY) return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

/* Checkpoint stem: "dir/best.pt" -> "best". */
static void stem(char *out, size_t cap, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, cap, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

static void print_point(const ti_lg_point *p)
{
    printf("%-10s %-7s c=%-3d", ti_lg_target_name(p->target), ti_lg_mode_name(p->mode), p->concurrency);
    if (p->rate_target > 0) printf(" rate=%-8.1f", p->rate_target);
    printf(" req/s %9.1f samples/s %10.1f latsumQPS %9.1f p50 %8.3f p99 %8.3f p99.9 %8.3f max %8.3f ms err %llu%s\n",
           p->req_s, p->samples_s, p->latsum_qps, p->p50_ms, p->p99_ms, p->p999_ms, p->max_ms,
           (unsigned long long)p->n_err, p->stable ? "" : " (unstable)");
    fflush(stdout);
}

/* The points of one run: a list of targets x modes, closed-loop concurrencies clist. */
typedef struct plan {
    ti_lg_point *pts;
    int np;
    int clist[MAX_LIST], nc;
    int open_conc;       /* open and rate-sweep connections */
    double p99;
    int refine;
} plan;

static ti_err run_one(plan *pl, const ti_lg_config *pc)
{
    if (pl->np >= MAX_POINTS) return TI_OK;
    ti_err e = ti_lg_run_point(&pl->pts[pl->np], pc, NULL);
    if (!e) print_point(&pl->pts[pl->np++]);
    return e;
}

static ti_err run_mode(plan *pl, ti_lg_config pc, const char *m)
{
    ti_err e = TI_OK;
    if (!strcmp(m, "serial") || !strcmp(m, "open")) {
        pc.mode = !strcmp(m, "serial") ? TI_LG_SERIAL : TI_LG_OPEN;
        pc.concurrency = pc.mode == TI_LG_OPEN ? pl->open_conc : 1;
        e = run_one(pl, &pc);
    } else if (!strcmp(m, "closed")) {
        pc.mode = TI_LG_CLOSED;
        for (int k = 0; k < pl->nc && !e; k++) {
            pc.concurrency = pl->clist[k];
            e = run_one(pl, &pc);
        }
    } else if (!strcmp(m, "rate-sweep")) {
        pc.concurrency = pl->open_conc;
        int got = 0;
        double best = 0;
        e = ti_lg_rate_sweep(pl->pts + pl->np, MAX_POINTS - pl->np, &got, &best, &pc, NULL, pl->p99, pl->refine);
        for (int k = 0; k < got; k++) print_point(&pl->pts[pl->np + k]);
        pl->np += got;
        if (!e)
            printf("%s: highest rate holding p99 <= %g ms: %.1f req/s\n", ti_lg_target_name(pc.target), pl->p99, best);
    } else {
        e = ti_errorf(TI_ERR_INVALID_ARG, "bench: unknown mode '%s' (serial, closed, open, rate-sweep)", m);
    }
    return e;
}

/* Every target of the comma list `targets` in every mode of `modes`. */
static ti_err run_targets(plan *pl, const ti_lg_config *c, const char *targets, const char *modes)
{
    ti_err e = TI_OK;
    char tl[256];
    snprintf(tl, sizeof tl, "%s", targets);
    for (char *ts = NULL, *t = strtok_r(tl, ",", &ts); t && !e; t = strtok_r(NULL, ",", &ts)) {
        ti_lg_config pc = *c;
        if ((e = ti_lg_target_parse(&pc.target, t)) != TI_OK) break;
        char ml[128];
        snprintf(ml, sizeof ml, "%s", modes);
        for (char *ms = NULL, *m = strtok_r(ml, ",", &ms); m && !e; m = strtok_r(NULL, ",", &ms))
            e = run_mode(pl, pc, m);
    }
    return e;
}

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    ti_lg_config c;
    ti_lg_config_default(&c);
    const char *serve = NULL, *targets = "predict", *modes = "closed", *conc = NULL, *out = "bench/results",
               *name = "bench", *preset = NULL, *model_name = NULL, *model = NULL;
    int serve_workers = 1, refine = 3, port_given = 0, symbols_given = 0, quick_streams = 0;
    double p99 = 50;
    c.rate = 50;
    for (int i = 1; i < argc; i++) {
        static const char *const known[] = {"--host", "--port", "--serve", "--serve-workers", "--targets", "--modes",
                                            "--concurrency", "--rate", "--p99-ms", "--refine", "--batch", "--T", "--F",
                                            "--requests", "--warmup", "--min-s", "--max-s", "--timeout-ms",
                                            "--model-name", "--model", "--out", "--name", "--preset", "--symbols"};
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int is_known = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) is_known |= !strcmp(a, known[k]);
        if (!is_known) {
            fprintf(stderr, "tickinfer bench: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "tickinfer bench: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--host")) snprintf(c.host, sizeof c.host, "%s", v);
        else if (!strcmp(a, "--port")) c.port = atoi(v), port_given = 1;
        else if (!strcmp(a, "--serve")) serve = v;
        else if (!strcmp(a, "--serve-workers")) serve_workers = atoi(v);
        else if (!strcmp(a, "--targets")) targets = v;
        else if (!strcmp(a, "--modes")) modes = v;
        else if (!strcmp(a, "--concurrency")) conc = v;
        else if (!strcmp(a, "--rate")) c.rate = atof(v);
        else if (!strcmp(a, "--p99-ms")) p99 = atof(v);
        else if (!strcmp(a, "--refine")) refine = atoi(v);
        else if (!strcmp(a, "--batch")) c.batch = atoi(v);
        else if (!strcmp(a, "--T")) c.T = atoi(v);
        else if (!strcmp(a, "--F")) c.F = atoi(v);
        else if (!strcmp(a, "--symbols")) c.symbols = atoi(v), symbols_given = 1;
        else if (!strcmp(a, "--requests")) c.requests = atoi(v);
        else if (!strcmp(a, "--warmup")) c.warmup = atoi(v);
        else if (!strcmp(a, "--min-s")) c.min_s = atof(v);
        else if (!strcmp(a, "--max-s")) c.max_s = atof(v);
        else if (!strcmp(a, "--timeout-ms")) c.timeout_ms = atoi(v);
        else if (!strcmp(a, "--model-name")) model_name = v;
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--name")) name = v;
        else preset = v; /* --preset, the last known one */
    }
    const char *title = "tickinfer bench";
    if (preset && !strcmp(preset, "seed")) {
        /* The preset fixes the shape, targets and modes; --requests, --host/--port,
         * --out and --name given anywhere on the line still apply. */
        if (!serve && !port_given) serve = "tests/model/data/seed_rv_tiny/best.pt";
        targets = "predict,predict_np";
        modes = "serial,closed";
        conc = "8";
        c.batch = 32, c.T = 600, c.F = 14;
        if (c.requests == 200) c.requests = 400;
        c.warmup = 8, c.min_s = 0, c.max_s = 3600;
        title = "seed-style test: 400 requests of [32,600,14] (TinyRV), serial and 8 clients";
        if (!strcmp(name, "bench")) name = "bench_seed";
    } else if (preset && !strcmp(preset, "quick")) {
        if (!serve && !port_given) serve = "models/rv_causal_optiver.safetensors";
        targets = "predict,v2_binary,inproc";
        modes = "serial,closed,rate-sweep";
        conc = "1,4";
        c.batch = 1, c.T = 60, c.F = 12;
        if (c.requests == 200) c.requests = 100;
        c.warmup = 20, c.min_s = 1, c.max_s = 10;
        c.rate = 200, p99 = 20, refine = 1;
        quick_streams = 1; /* then stream serial + closed 8: short, see below */
        if (!symbols_given) c.symbols = 4;
        title = "quick: causal model [1,60,12]; stream: 1 tick per request; ticks: 64 symbols per request";
        if (!strcmp(name, "bench")) name = "bench_quick";
    } else if (preset) {
        fprintf(stderr, "tickinfer bench: unknown preset '%s' (seed, quick)\n", preset);
        return 2;
    }
    char stem_buf[64] = "";
    if (serve) stem(stem_buf, sizeof stem_buf, serve);
    snprintf(c.model, sizeof c.model, "%s", model_name ? model_name : stem_buf);
    snprintf(c.model_path, sizeof c.model_path, "%s", model ? model : serve ? serve : "");
    int clist[MAX_LIST], nc = parse_list(conc ? conc : "1,2,4,8", clist, MAX_LIST);
    if (nc <= 0) {
        fprintf(stderr, "tickinfer bench: --concurrency wants a list like 1,2,4,8 (each 1..%d)\n", TI_LG_MAX_CONCURRENCY);
        return 2;
    }

    ti_server *srv = NULL;
    ti_err e = TI_OK;
    if (serve) {
        ti_server_config sc;
        ti_server_config_default(&sc);
        sc.port = 0;
        sc.workers_per_model = serve_workers;
        if (!(e = ti_server_create(&srv, &sc)) && !(e = ti_server_add_model(srv, c.model, serve)) &&
            !(e = ti_server_start(srv))) {
            c.port = ti_server_port(srv);
            snprintf(c.host, sizeof c.host, "127.0.0.1");
            fprintf(stderr, "bench: serving %s as '%s' on 127.0.0.1:%d\n", serve, c.model, c.port);
        }
        if (e) {
            ti_server_destroy(srv);
            return cli_fail("bench", e);
        }
    }
    plan pl = {.pts = calloc(MAX_POINTS, sizeof *pl.pts), .nc = nc, .open_conc = conc ? clist[nc - 1] : 8,
               .p99 = p99, .refine = refine};
    memcpy(pl.clist, clist, (size_t)nc * sizeof *clist);
    if (!pl.pts) e = ti_errorf(TI_ERR_NOMEM, "bench: out of memory");
    if (!e) e = run_targets(&pl, &c, targets, modes);
    if (!e && quick_streams) { /* stream points are cheap and many: serial and 8 clients only */
        pl.clist[0] = 8, pl.nc = 1;
        e = run_targets(&pl, &c, "stream", "serial,closed");
        /* then 64 symbols per request on /v1/ticks, serial and 4 clients */
        ti_lg_config tc = c;
        tc.batch = 64;
        pl.clist[0] = 4;
        if (!e) e = run_targets(&pl, &tc, "ticks", "serial,closed");
    }
    if (!e && pl.np > 0) e = ti_lg_report_write(out, name, title, pl.pts, pl.np);
    if (!e) printf("bench: wrote %s/%s.{json,md} and plots\n", out, name);
    for (int k = 0; k < pl.np; k++) ti_lg_point_free(&pl.pts[k]);
    free(pl.pts);
    if (srv) {
        ti_server_drain(srv, 5000);
        ti_server_destroy(srv);
    }
    return e ? cli_fail("bench", e) : 0;
}
