/* tickinfer: a synthetic multi-symbol market whose true volatility is known.
 *
 * Used as an oracle (realized-volatility estimators and models can be scored against
 * the exact integrated variance) and as an endless tick source for benchmarks.
 * Deterministic: the same config (seed included) gives bit-identical output on a given
 * build; each symbol has its own random streams, so symbol i does not change when
 * n_symbols does.  The model is documented with its equations in docs/data.md.
 *
 * Per symbol i, on a fine grid t_k = k * dt (dt = 1 / steps_per_second seconds), with
 * full-truncation Euler (v+ = max(v, 0)) and the intraday seasonality s(t):
 *   sig2_k    = s(t_k) * v+_k                           instantaneous variance of log price
 *   x_{k+1}   = x_k + (mu - sig2_k / 2) dt + sqrt(sig2_k dt) Zp + J_k
 *   v_{k+1}   = v_k + kappa (theta_i - v+_k) dt + xi sqrt(v+_k dt) Zv
 *   Zv        = sqrt(factor_var) Fv + sqrt(1 - factor_var) Ev_i
 *   Zp        = rho Zv + sqrt(1 - rho^2) (sqrt(factor_price) Fp + sqrt(1 - factor_price) Ep_i)
 * where Fp, Fv are market-wide N(0,1) shocks shared by all symbols, Ep_i, Ev_i are the
 * symbol's own, and J_k is the sum of the compound-Poisson jumps (rate jump_rate, sizes
 * N(jump_mean, jump_std^2)) arriving in (t_k, t_{k+1}], applied at t_{k+1}.
 * Between grid points the log price is a Brownian bridge with variance rate sig2_k, so
 * the path's quadratic variation over step k is exactly sig2_k dt + J_k^2: the TRUE
 * integrated variance.  iv[s] sums it over the steps of second s, i.e. over (s, s+1].
 *
 * Trades arrive as a Poisson process with piecewise-constant intensity
 *   lambda_k = trade_rate_i * (sig2_k / theta_i)^rate_vol_power
 * (busier when volatility is high), at exact continuous times.  A trade at time t has
 * price exp(x(t) + eta) (eta ~ N(0, noise_std^2), default 0 so that trade prices lie on
 * the true path), optionally rounded to tick_size; size is log-normal (median
 * size_median, log-sd size_sigma, rounded, >= 1); order_count is 1 + geometric with
 * mean orders_mean.
 *
 * Time is in seconds from the start of the simulation, which is the open of a session;
 * sessions of session_seconds follow each other without overnight gaps. */
#ifndef TICKINFER_SIM_H
#define TICKINFER_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_sim_config {
    uint64_t seed;
    int n_symbols;                /* 1..100000 */
    int64_t seconds;              /* length; generate: >= 1; stream: 0 = endless */
    int steps_per_second;         /* Euler steps per second, 1..1000 (10: dt = 0.1 s) */
    /* variance, per second, in log-price units */
    double theta;                 /* long-run variance (mean over symbols) (2.5e-8: ~2.4%/day) */
    double theta_dispersion;      /* log-sd of theta_i across symbols (0.5) */
    double kappa;                 /* mean reversion per second (1/1800) */
    double xi;                    /* vol of variance (3e-6) */
    double rho;                   /* corr(price, variance shocks) (-0.5) */
    double mu;                    /* drift of log price per second, besides -sig2/2 (0) */
    /* jumps */
    double jump_rate;             /* per second per symbol (1/3600) */
    double jump_mean, jump_std;   /* log jump size N(mean, std^2) (0, 0.0025) */
    /* seasonality: s(t) = c (1 + season_open e^{-tau/season_open_decay}
     *                      + season_close e^{-(D - tau)/season_close_decay}),
     * tau = t mod D, D = session_seconds, c such that s averages 1 over a session */
    double session_seconds;       /* D (23400: 09:30-16:00) */
    double season_open, season_open_decay;   /* (2.0, 1800 s) */
    double season_close, season_close_decay; /* (1.0, 1200 s) */
    /* market factor (share of shock variance that is common to all symbols) */
    double factor_price;          /* [0, 1] (0.3) */
    double factor_var;            /* [0, 1] (0.3) */
    /* trades */
    double trade_rate;            /* mean trades per second at sig2 = theta_i (1.0) */
    double trade_rate_dispersion; /* log-sd of trade_rate_i across symbols (0.7) */
    double rate_vol_power;        /* intensity exponent on sig2 / theta_i, [0, 4] (1.0) */
    double size_median, size_sigma; /* (100 shares, 1.0) */
    double orders_mean;           /* >= 1 (1.5) */
    double noise_std;             /* microstructure noise in log price (0) */
    double tick_size;             /* price rounding (0: none) */
    double price0;                /* median starting price (100) */
    double price0_dispersion;     /* log-sd of the starting price across symbols (0.5) */
    /* generate only */
    int keep_path;                /* also return the fine log-price path (0) */
    size_t max_trades;            /* cap on all trades (0: 100 million) */
} ti_sim_config;

/* Fill *cfg with the defaults above (seed 42, 4 symbols, one 23400 s session). */
void ti_sim_config_default(ti_sim_config *cfg);

/* TI_ERR_INVALID_ARG naming the first bad field, or TI_OK. */
ti_err ti_sim_config_check(const ti_sim_config *cfg);

/* Seasonality factor s(t) of the config at time t (seconds from the start). */
double ti_sim_seasonality(const ti_sim_config *cfg, double t);

/* ---- whole-run generation ---------------------------------------------------------- */

typedef struct ti_sim_symbol {
    size_t n_trades;
    double *time;             /* [n_trades] seconds, increasing */
    double *price;            /* [n_trades] */
    int32_t *size;            /* [n_trades] shares */
    int32_t *order_count;     /* [n_trades] */
    double *iv;               /* [n_seconds] true quadratic variation of log price over
                               * second s, i.e. (s, s+1], jumps included */
    double *intensity;        /* [n_seconds] expected number of trades in second s */
    double *log_path;         /* [n_seconds * steps_per_second + 1] log price at the grid
                               * points (no noise), or NULL unless keep_path */
    double theta, trade_rate, price0; /* this symbol's drawn parameters */
    double jump_qv;           /* sum of squared jumps: the jump part of sum(iv) */
    size_t n_jumps;           /* jump arrivals */
} ti_sim_symbol;

typedef struct ti_sim_result {
    int n_symbols;
    int64_t n_seconds;
    int steps_per_second;
    ti_sim_symbol *sym;       /* [n_symbols] */
} ti_sim_result;

/* Run the whole simulation into memory.  *out is overwritten; zeroed on failure.
 * TI_ERR_LIMIT if more than max_trades trades or ~2^31 stored doubles would be made. */
ti_err ti_sim_generate(ti_sim_result *out, const ti_sim_config *cfg);
void ti_sim_free(ti_sim_result *r);

/* True integrated variance of symbol `sym` over seconds [a, b) (clipped to the run). */
double ti_sim_true_iv(const ti_sim_result *r, int sym, int64_t a, int64_t b);

/* ---- streaming ---------------------------------------------------------------------- */

typedef struct ti_sim_tick {
    double time;              /* seconds from the start */
    double price;
    uint32_t symbol;          /* 0..n_symbols-1 */
    uint32_t size;
    uint32_t order_count;
} ti_sim_tick;

typedef struct ti_sim_stream ti_sim_stream;

/* A stream yields exactly the trades ti_sim_generate would store for the same config,
 * merged across symbols in time order, using memory independent of its length. */
ti_err ti_sim_stream_create(ti_sim_stream **out, const ti_sim_config *cfg);
/* 1: *tick holds the next trade; 0: the stream is over (cfg.seconds reached); -1: out of
 * memory growing the per-step buffer (message in ti_errmsg). */
int ti_sim_stream_next(ti_sim_stream *s, ti_sim_tick *tick);
/* True quadratic variation of symbol `sym`'s log price from the start up to the end of
 * the fine step that produced the last returned tick (0 for a bad symbol). */
double ti_sim_stream_cum_iv(const ti_sim_stream *s, uint32_t sym);
void ti_sim_stream_destroy(ti_sim_stream *s);

#ifdef __cplusplus
}
#endif
#endif
