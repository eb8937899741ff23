/* Synthetic market with known true volatility (model and equations in tickinfer/sim.h).
 *
 * One engine, sim_step(), advances every symbol by one fine Euler step and leaves that
 * step's trades in a buffer; the stream hands them out in time order, ti_sim_generate
 * appends them to per-symbol arrays.  Both therefore produce the very same trades. */
#include "tickinfer/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/sim_rng.h"

#define MAX_SYMBOLS 100000
#define MAX_STEPS_PER_SECOND 1000
#define MAX_SECONDS INT64_C(1000000000000)
#define DEFAULT_MAX_TRADES ((size_t)100000000)
/* Stored doubles of ti_sim_generate's dense arrays (iv, intensity, path): 16 GiB. */
#define MAX_DENSE ((uint64_t)1 << 31)

/* Random stream ids per symbol (the factor uses its own id beyond any symbol's). */
enum { RNG_PATH = 0, RNG_TRADE = 1, RNG_NOISE = 2, RNG_PARAMS = 3, RNG_PER_SYMBOL = 4 };
#define RNG_FACTOR_STREAM UINT64_C(0xFAC7000000000000)

typedef struct sym_state {
    sim_rng path, trade, noise;
    double x, v;               /* log price and variance at the current grid point */
    double theta, rate, price0;
    double hazard;             /* Exp(1) budget left until the next trade */
    double jump_hazard;        /* same, until the next jump */
    double cum_iv, jump_qv;
    size_t n_jumps;
    double step_iv, step_intensity; /* contributions of the last step */
} sym_state;

struct ti_sim_stream {
    ti_sim_config cfg;
    sym_state *sym;            /* [n_symbols] */
    sim_rng factor;
    double dt, sqrt_dt, season_c;
    double fp_a, fp_b, fv_a, fv_b, rho_c; /* factor loadings, sqrt(1 - rho^2) */
    int64_t step, n_steps;     /* steps done; total (0 = endless) */
    ti_sim_tick *buf, *tmp;    /* trades of the last step; merge-sort scratch */
    size_t n_buf, cap, pos;
};

void ti_sim_config_default(ti_sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 42;
    c->n_symbols = 4;
    c->seconds = 23400;
    c->steps_per_second = 10;
    c->theta = 2.5e-8;
    c->theta_dispersion = 0.5;
    c->kappa = 1.0 / 1800.0;
    c->xi = 3e-6;
    c->rho = -0.5;
    c->mu = 0.0;
    c->jump_rate = 1.0 / 3600.0;
    c->jump_mean = 0.0;
    c->jump_std = 0.0025;
    c->session_seconds = 23400.0;
    c->season_open = 2.0;
    c->season_open_decay = 1800.0;
    c->season_close = 1.0;
    c->season_close_decay = 1200.0;
    c->factor_price = 0.3;
    c->factor_var = 0.3;
    c->trade_rate = 1.0;
    c->trade_rate_dispersion = 0.7;
    c->rate_vol_power = 1.0;
    c->size_median = 100.0;
    c->size_sigma = 1.0;
    c->orders_mean = 1.5;
    c->noise_std = 0.0;
    c->tick_size = 0.0;
    c->price0 = 100.0;
    c->price0_dispersion = 0.5;
    c->keep_path = 0;
    c->max_trades = 0;
}

#define CHECK_RANGE(field, lo, hi)                                                                   \
    do {                                                                                             \
        if (!(isfinite((double)c->field) && (double)c->field >= (lo) && (double)c->field <= (hi)))   \
            return ti_errorf(TI_ERR_INVALID_ARG, "sim: " #field " = %g outside [%g, %g]", (double)c->field, \
                             (double)(lo), (double)(hi));                                            \
    } while (0)

ti_err ti_sim_config_check(const ti_sim_config *c)
{
    if (!c) return ti_errorf(TI_ERR_INVALID_ARG, "sim: config is NULL");
    CHECK_RANGE(n_symbols, 1, MAX_SYMBOLS);
    CHECK_RANGE(seconds, 0, (double)MAX_SECONDS);
    CHECK_RANGE(steps_per_second, 1, MAX_STEPS_PER_SECOND);
    CHECK_RANGE(theta, 1e-20, 1.0);
    CHECK_RANGE(theta_dispersion, 0, 3);
    CHECK_RANGE(kappa, 0, 1e3);
    CHECK_RANGE(xi, 0, 1e3);
    CHECK_RANGE(rho, -1, 1);
    CHECK_RANGE(mu, -1, 1);
    CHECK_RANGE(jump_rate, 0, 1e3);
    CHECK_RANGE(jump_mean, -1, 1);
    CHECK_RANGE(jump_std, 0, 1);
    CHECK_RANGE(session_seconds, 1, 1e9);
    CHECK_RANGE(season_open, 0, 1e3);
    CHECK_RANGE(season_open_decay, 1e-3, 1e9);
    CHECK_RANGE(season_close, 0, 1e3);
    CHECK_RANGE(season_close_decay, 1e-3, 1e9);
    CHECK_RANGE(factor_price, 0, 1);
    CHECK_RANGE(factor_var, 0, 1);
    CHECK_RANGE(trade_rate, 0, 1e6);
    CHECK_RANGE(trade_rate_dispersion, 0, 3);
    CHECK_RANGE(rate_vol_power, 0, 4);
    CHECK_RANGE(size_median, 1, 1e8);
    CHECK_RANGE(size_sigma, 0, 5);
    CHECK_RANGE(orders_mean, 1, 1e4);
    CHECK_RANGE(noise_std, 0, 1);
    CHECK_RANGE(tick_size, 0, 1e6);
    CHECK_RANGE(price0, 1e-6, 1e9);
    CHECK_RANGE(price0_dispersion, 0, 3);
    return TI_OK;
}

/* 1 / (mean of the unnormalised U-shape over one session). */
static double season_norm(const ti_sim_config *c)
{
    double D = c->session_seconds;
    double m = 1.0 + c->season_open * c->season_open_decay / D * (1.0 - exp(-D / c->season_open_decay)) +
               c->season_close * c->season_close_decay / D * (1.0 - exp(-D / c->season_close_decay));
    return 1.0 / m;
}

static double season_at(const ti_sim_config *c, double norm, double t)
{
    double D = c->session_seconds;
    double tau = fmod(t, D);
    if (tau < 0) tau += D;
    return norm * (1.0 + c->season_open * exp(-tau / c->season_open_decay) +
                   c->season_close * exp(-(D - tau) / c->season_close_decay));
}

double ti_sim_seasonality(const ti_sim_config *cfg, double t) { return season_at(cfg, season_norm(cfg), t); }

/* ---- the engine --------------------------------------------------------------------- */

static void sym_init(sym_state *y, const ti_sim_config *c, uint32_t i)
{
    uint64_t base = (uint64_t)i * RNG_PER_SYMBOL;
    sim_rng params;
    sim_rng_seed(&y->path, c->seed, base + RNG_PATH);
    sim_rng_seed(&y->trade, c->seed, base + RNG_TRADE);
    sim_rng_seed(&y->noise, c->seed, base + RNG_NOISE);
    sim_rng_seed(&params, c->seed, base + RNG_PARAMS);
    /* Log-normal spreads with mean-preserving shifts for theta and the rate. */
    double d = c->theta_dispersion, r = c->trade_rate_dispersion;
    y->theta = c->theta * exp(d * sim_normal(&params) - 0.5 * d * d);
    y->rate = c->trade_rate * exp(r * sim_normal(&params) - 0.5 * r * r);
    y->price0 = c->price0 * exp(c->price0_dispersion * sim_normal(&params));
    y->x = log(y->price0);
    y->v = y->theta;
    y->hazard = sim_exp1(&y->trade);
    y->jump_hazard = sim_exp1(&y->path);
    y->cum_iv = y->jump_qv = 0.0;
    y->n_jumps = 0;
    y->step_iv = y->step_intensity = 0.0;
}

static int push_tick(ti_sim_stream *s, const ti_sim_tick *t)
{
    if (s->n_buf == s->cap) {
        size_t cap = s->cap * 2;
        ti_sim_tick *b = realloc(s->buf, cap * sizeof *b);
        if (!b) return -1;
        s->buf = b;
        ti_sim_tick *m = realloc(s->tmp, cap * sizeof *m);
        if (!m) return -1;
        s->tmp = m;
        s->cap = cap;
    }
    s->buf[s->n_buf++] = *t;
    return 0;
}

static double trade_price(sym_state *y, const ti_sim_config *c, double x)
{
    if (c->noise_std > 0) x += c->noise_std * sim_normal(&y->noise);
    double p = exp(x);
    if (c->tick_size > 0) {
        p = nearbyint(p / c->tick_size) * c->tick_size;
        if (p < c->tick_size) p = c->tick_size;
    }
    return p;
}

/* Advance symbol i over (t0, t1]: path, variance, jumps, and the trades in between. */
static int sym_step(ti_sim_stream *s, uint32_t i, double t0, double t1, double season, double fp, double fv)
{
    const ti_sim_config *c = &s->cfg;
    sym_state *y = &s->sym[i];
    const double dt = s->dt;
    double vp = y->v > 0 ? y->v : 0.0;
    double sig2 = season * vp;
    double zv = s->fv_a * fv + s->fv_b * sim_normal(&y->path);
    double zp = c->rho * zv + s->rho_c * (s->fp_a * fp + s->fp_b * sim_normal(&y->path));
    double x_end = y->x + (c->mu - 0.5 * sig2) * dt + sqrt(sig2) * s->sqrt_dt * zp;
    double v_next = y->v + c->kappa * (y->theta - vp) * dt + c->xi * sqrt(vp) * s->sqrt_dt * zv;

    /* Jumps arriving in the step land at t1 (their sum is one jump of the grid path). */
    double jump = 0.0, budget = c->jump_rate * dt;
    while (y->jump_hazard <= budget) {
        budget -= y->jump_hazard;
        jump += c->jump_mean + c->jump_std * sim_normal(&y->path);
        y->n_jumps++;
        y->jump_hazard = sim_exp1(&y->path);
    }
    y->jump_hazard -= budget;

    /* Trades: Poisson arrivals at exact times inside the step; the price between grid
     * points is a Brownian bridge from the previous point to the pre-jump endpoint. */
    double lambda = y->rate;
    if (c->rate_vol_power == 1.0) lambda *= sig2 / y->theta;
    else if (c->rate_vol_power != 0.0) lambda *= pow(sig2 / y->theta, c->rate_vol_power);
    double total = lambda * dt, rem = total;
    double ta = t0, xa = y->x;
    while (y->hazard <= rem) {
        rem -= y->hazard;
        double t = t0 + (total - rem) / lambda;
        if (t >= t1) t = nextafter(t1, t0);
        if (t < ta) t = ta;
        double T = t1 - ta, u = t - ta;
        double var = T > 0 ? sig2 * u * (T - u) / T : 0.0;
        double xt = xa + (T > 0 ? u / T : 0.0) * (x_end - xa) + sqrt(var > 0 ? var : 0.0) * sim_normal(&y->trade);
        ti_sim_tick tk;
        tk.time = t;
        tk.symbol = i;
        tk.price = trade_price(y, c, xt);
        double sz = nearbyint(c->size_median * exp(c->size_sigma * sim_normal(&y->trade)));
        tk.size = sz < 1 ? 1u : sz > 1e9 ? 1000000000u : (uint32_t)sz;
        double extra = 0.0;
        if (c->orders_mean > 1.0) extra = floor(log(sim_uniform(&y->trade)) / log(1.0 - 1.0 / c->orders_mean));
        tk.order_count = 1u + (extra > 1e6 ? 1000000u : (uint32_t)extra);
        if (push_tick(s, &tk) != 0) return -1;
        ta = t;
        xa = xt;
        y->hazard = sim_exp1(&y->trade);
    }
    y->hazard -= rem;

    y->step_iv = sig2 * dt + jump * jump;
    y->step_intensity = total;
    y->cum_iv += y->step_iv;
    y->jump_qv += jump * jump;
    y->x = x_end + jump;
    y->v = v_next;
    return 0;
}

/* Stable merge sort of the step's trades by (time, symbol): each symbol's trades are
 * already in order, and stability keeps them so even on equal times. */
static int tick_before(const ti_sim_tick *a, const ti_sim_tick *b)
{
    return a->time < b->time || (a->time == b->time && a->symbol < b->symbol);
}

static void sort_ticks(ti_sim_tick *a, ti_sim_tick *tmp, size_t n)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t p = lo, q = mid, o = lo;
            while (p < mid && q < hi) tmp[o++] = tick_before(&a[q], &a[p]) ? a[q++] : a[p++];
            while (p < mid) tmp[o++] = a[p++];
            while (q < hi) tmp[o++] = a[q++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
}

static int sim_step(ti_sim_stream *s, int sort)
{
    const ti_sim_config *c = &s->cfg;
    double spS = (double)c->steps_per_second;
    double t0 = (double)s->step / spS, t1 = (double)(s->step + 1) / spS;
    double season = season_at(c, s->season_c, t0);
    double fp = sim_normal(&s->factor), fv = sim_normal(&s->factor);
    s->n_buf = s->pos = 0;
    for (int i = 0; i < c->n_symbols; i++)
        if (sym_step(s, (uint32_t)i, t0, t1, season, fp, fv) != 0) return -1;
    if (sort && c->n_symbols > 1 && s->n_buf > 1) sort_ticks(s->buf, s->tmp, s->n_buf);
    s->step++;
    return 0;
}

ti_err ti_sim_stream_create(ti_sim_stream **out, const ti_sim_config *cfg)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "sim: output is NULL");
    *out = NULL;
    ti_err e = ti_sim_config_check(cfg);
    if (e != TI_OK) return e;
    if (cfg->seconds == 0 && cfg->trade_rate == 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "sim: an endless stream (seconds = 0) needs trade_rate > 0");
    ti_sim_stream *s = calloc(1, sizeof *s);
    if (!s) return ti_errorf(TI_ERR_NOMEM, "sim: cannot allocate a stream");
    s->cfg = *cfg;
    s->dt = 1.0 / cfg->steps_per_second;
    s->sqrt_dt = sqrt(s->dt);
    s->season_c = season_norm(cfg);
    s->fp_a = sqrt(cfg->factor_price);
    s->fp_b = sqrt(1.0 - cfg->factor_price);
    s->fv_a = sqrt(cfg->factor_var);
    s->fv_b = sqrt(1.0 - cfg->factor_var);
    s->rho_c = sqrt(1.0 - cfg->rho * cfg->rho);
    s->n_steps = cfg->seconds * cfg->steps_per_second;
    sim_rng_seed(&s->factor, cfg->seed, RNG_FACTOR_STREAM);
    s->sym = calloc((size_t)cfg->n_symbols, sizeof *s->sym);
    /* Room for a few times the expected trades of one step; grown on demand. */
    double expect = 0;
    if (s->sym)
        for (int i = 0; i < cfg->n_symbols; i++) {
            sym_init(&s->sym[i], cfg, (uint32_t)i);
            expect += s->sym[i].rate * s->dt;
        }
    s->cap = expect * 4 + 256 < 1e7 ? (size_t)(expect * 4) + 256 : (size_t)1e7;
    s->buf = malloc(s->cap * sizeof *s->buf);
    s->tmp = malloc(s->cap * sizeof *s->tmp);
    if (!s->sym || !s->buf || !s->tmp) {
        ti_sim_stream_destroy(s);
        return ti_errorf(TI_ERR_NOMEM, "sim: cannot allocate a stream of %d symbols", cfg->n_symbols);
    }
    *out = s;
    return TI_OK;
}

int ti_sim_stream_next(ti_sim_stream *s, ti_sim_tick *tick)
{
    if (!s || !tick) {
        ti_errorf(TI_ERR_INVALID_ARG, "sim: stream_next: NULL argument");
        return -1;
    }
    while (s->pos >= s->n_buf) {
        if (s->n_steps > 0 && s->step >= s->n_steps) return 0;
        if (sim_step(s, 1) != 0) {
            ti_errorf(TI_ERR_NOMEM, "sim: cannot grow the trade buffer past %zu ticks", s->cap);
            return -1;
        }
    }
    *tick = s->buf[s->pos++];
    return 1;
}

double ti_sim_stream_cum_iv(const ti_sim_stream *s, uint32_t sym)
{
    if (!s || sym >= (uint32_t)s->cfg.n_symbols) return 0.0;
    return s->sym[sym].cum_iv;
}

void ti_sim_stream_destroy(ti_sim_stream *s)
{
    if (!s) return;
    free(s->sym);
    free(s->buf);
    free(s->tmp);
    free(s);
}

/* ---- whole-run generation ------------------------------------------------------------ */

static int grow_trades(ti_sim_symbol *y, size_t *cap, size_t want)
{
    size_t nc = *cap ? *cap : 64;
    while (nc < want) nc *= 2;
    double *t = realloc(y->time, nc * sizeof *t);
    if (t) y->time = t;
    double *p = realloc(y->price, nc * sizeof *p);
    if (p) y->price = p;
    int32_t *z = realloc(y->size, nc * sizeof *z);
    if (z) y->size = z;
    int32_t *o = realloc(y->order_count, nc * sizeof *o);
    if (o) y->order_count = o;
    if (!t || !p || !z || !o) return -1;
    *cap = nc;
    return 0;
}

ti_err ti_sim_generate(ti_sim_result *out, const ti_sim_config *cfg)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "sim: output is NULL");
    memset(out, 0, sizeof *out);
    ti_err e = ti_sim_config_check(cfg);
    if (e != TI_OK) return e;
    if (cfg->seconds < 1) return ti_errorf(TI_ERR_INVALID_ARG, "sim: generate needs seconds >= 1");
    const int n = cfg->n_symbols, spS = cfg->steps_per_second;
    const int64_t secs = cfg->seconds, n_steps = secs * spS;
    uint64_t dense = (uint64_t)n * (uint64_t)secs * (2u + (cfg->keep_path ? (uint64_t)spS : 0u));
    if (dense > MAX_DENSE)
        return ti_errorf(TI_ERR_LIMIT, "sim: %d symbols x %lld s would store %llu doubles (limit %llu); shorten the run "
                         "or drop keep_path", n, (long long)secs, (unsigned long long)dense,
                         (unsigned long long)MAX_DENSE);
    const size_t max_trades = cfg->max_trades ? cfg->max_trades : DEFAULT_MAX_TRADES;

    ti_sim_stream *s;
    if ((e = ti_sim_stream_create(&s, cfg)) != TI_OK) return e;
    ti_sim_result r = {n, secs, spS, calloc((size_t)n, sizeof(ti_sim_symbol))};
    size_t *cap = calloc((size_t)n, sizeof *cap);
    if (!r.sym || !cap) goto nomem;
    for (int i = 0; i < n; i++) {
        ti_sim_symbol *y = &r.sym[i];
        y->theta = s->sym[i].theta;
        y->trade_rate = s->sym[i].rate;
        y->price0 = s->sym[i].price0;
        y->iv = calloc((size_t)secs, sizeof *y->iv);
        y->intensity = calloc((size_t)secs, sizeof *y->intensity);
        if (!y->iv || !y->intensity) goto nomem;
        if (cfg->keep_path) {
            y->log_path = malloc(((size_t)n_steps + 1) * sizeof *y->log_path);
            if (!y->log_path) goto nomem;
            y->log_path[0] = s->sym[i].x;
        }
        double expect = y->trade_rate * (double)secs * 1.25 + 64;
        if (grow_trades(y, &cap[i], expect < (double)max_trades ? (size_t)expect : max_trades) != 0) goto nomem;
    }
    size_t n_total = 0;
    for (int64_t k = 0; k < n_steps; k++) {
        if (sim_step(s, 0) != 0) goto nomem;
        size_t sec = (size_t)(k / spS);
        for (int i = 0; i < n; i++) {
            ti_sim_symbol *y = &r.sym[i];
            y->iv[sec] += s->sym[i].step_iv;
            y->intensity[sec] += s->sym[i].step_intensity;
            if (y->log_path) y->log_path[k + 1] = s->sym[i].x;
        }
        n_total += s->n_buf;
        if (n_total > max_trades) {
            e = ti_errorf(TI_ERR_LIMIT, "sim: more than max_trades = %zu trades by second %zu; raise the limit or "
                          "shorten the run", max_trades, sec);
            goto fail;
        }
        for (size_t j = 0; j < s->n_buf; j++) {
            const ti_sim_tick *t = &s->buf[j];
            ti_sim_symbol *y = &r.sym[t->symbol];
            if (y->n_trades == cap[t->symbol] && grow_trades(y, &cap[t->symbol], y->n_trades + 1) != 0) goto nomem;
            y->time[y->n_trades] = t->time;
            y->price[y->n_trades] = t->price;
            y->size[y->n_trades] = (int32_t)t->size;
            y->order_count[y->n_trades] = (int32_t)t->order_count;
            y->n_trades++;
        }
    }
    for (int i = 0; i < n; i++) {
        r.sym[i].jump_qv = s->sym[i].jump_qv;
        r.sym[i].n_jumps = s->sym[i].n_jumps;
    }
    ti_sim_stream_destroy(s);
    free(cap);
    *out = r;
    return TI_OK;
nomem:
    e = ti_errorf(TI_ERR_NOMEM, "sim: out of memory generating %d symbols x %lld s", n, (long long)secs);
fail:
    ti_sim_stream_destroy(s);
    free(cap);
    ti_sim_free(&r);
    return e;
}

void ti_sim_free(ti_sim_result *r)
{
    if (!r) return;
    for (int i = 0; r->sym && i < r->n_symbols; i++) {
        ti_sim_symbol *y = &r->sym[i];
        free(y->time);
        free(y->price);
        free(y->size);
        free(y->order_count);
        free(y->iv);
        free(y->intensity);
        free(y->log_path);
    }
    free(r->sym);
    memset(r, 0, sizeof *r);
}

double ti_sim_true_iv(const ti_sim_result *r, int sym, int64_t a, int64_t b)
{
    if (!r || sym < 0 || sym >= r->n_symbols) return 0.0;
    if (a < 0) a = 0;
    if (b > r->n_seconds) b = r->n_seconds;
    double acc = 0.0;
    for (int64_t s = a; s < b; s++) acc += r->sym[sym].iv[s];
    return acc;
}
