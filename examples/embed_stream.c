/* examples/embed_stream.c: embed tickinfer in a program through its public API only.
 *
 * Opens a model, plays recorded trades of a few symbols (the bundled Optiver trades by
 * default), pushes every trade into a per-symbol stream found by its name inside the engine,
 * and prints each forecast as CSV on stdout, in the format of `tickinfer stream replay --out`:
 *   symbol,time_id,second,y_log,rv
 *
 * Build against an installed tickinfer:
 *   cc -std=c11 embed_stream.c $(pkg-config --cflags --libs tickinfer) -o embed_stream
 * Run:
 *   ./embed_stream models/rv_causal_optiver.safetensors data/optiver/trade_train.parquet 3 2 */
#include <stdio.h>
#include <stdlib.h>

#include <tickinfer.h>

static int fail(const char *what, ti_err e)
{
    fprintf(stderr, "embed_stream: %s: %s (%s)\n", what, ti_last_error(), ti_error_name(e));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: embed_stream MODEL SOURCE [SYMBOLS (3)] [SESSIONS (2)]\n");
        return 2;
    }
    const char *model_path = argv[1], *source = argv[2];
    const int n_symbols = argc > 3 ? atoi(argv[3]) : 3, n_sessions = argc > 4 ? atoi(argv[4]) : 2;

    ti_model *m = NULL;
    ti_engine *e = NULL;
    ti_tape *tape = NULL;
    ti_model_desc d;
    ti_model_meta meta;
    ti_err err;
    int rc = 1;
    if ((err = ti_model_load(&m, model_path, NULL))) return fail("load", err);
    if ((err = ti_model_describe(m, &d)) || (err = ti_model_get_meta(m, &meta))) {
        rc = fail("describe", err);
        goto done;
    }
    fprintf(stderr, "tickinfer %s: %s %s model, %d features, context %d, rv_scale %g\n", ti_version(), d.kind,
            d.arch, d.n_features, d.context, (double)meta.rv_scale);
    if (!d.streams_trades) {
        fprintf(stderr, "embed_stream: %s does not stream raw trades\n", model_path);
        goto done;
    }

    ti_engine_opts eo = ti_engine_default_opts();
    eo.max_streams = n_symbols;
    ti_tape_opts to = ti_tape_default_opts();
    to.max_symbols = n_symbols;
    to.max_sessions = n_sessions;
    if ((err = ti_engine_create(&e, m, &eo))) {
        rc = fail("engine", err);
        goto done;
    }
    if ((err = ti_tape_open(&tape, source, &to))) {
        rc = fail("tape", err);
        goto done;
    }

    printf("symbol,time_id,second,y_log,rv\n");
    long n_trades = 0, n_forecasts = 0;
    for (;;) {
        ti_tape_event ev;
        ti_prediction p = {0};
        if ((err = ti_tape_next(tape, &ev))) {
            rc = fail("tape", err);
            goto done;
        }
        if (ev.type == TI_TAPE_END) break;
        if (ev.type == TI_TAPE_SESSION_START) err = ti_engine_reset(e, ev.symbol);
        else if (ev.type == TI_TAPE_TRADE)
            err = ti_engine_push_trade(e, ev.symbol, ev.t_sec, ev.price, ev.size, ev.orders, &p), n_trades++;
        else
            err = ti_engine_advance(e, ev.symbol, ev.t_sec, &p);
        if (err) {
            rc = fail(ev.symbol, err);
            goto done;
        }
        if (p.n_new > 0) {
            n_forecasts += p.n_new;
            printf("%s,%d,%lld,%.6f,%.8g\n", ev.symbol, (int)ev.session, (long long)p.t, (double)p.y_log,
                   (double)p.rv);
        }
    }
    fprintf(stderr, "embed_stream: %ld trades of %d symbols, %ld forecasts\n", n_trades, ti_engine_count(e),
            n_forecasts);
    rc = 0;
done:
    ti_tape_close(tape);
    ti_engine_free(e);
    ti_model_close(m);
    return rc;
}
