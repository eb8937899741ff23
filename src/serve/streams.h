/* tickinfer serve: per-model stream table for POST /v1/streams/{symbol}/ticks (internal).
 *
 * Wraps a ti_stream_engine (include/tickinfer/stream.h) with a symbol -> stream hash table
 * (open addressing with backward-shift deletion, so closed streams leave no tombstones;
 * preallocated, SV_SS_MAX_STREAMS symbols).  Ticks run on the calling HTTP thread: a
 * decode step costs tens of microseconds, less than a hand-off to a worker.  Pushes take
 * the table's read lock (streams of different symbols run in parallel; the engine
 * serialises pushes to one stream).  A new symbol's stream and KV cache are allocated
 * with no lock held, then inserted under the write lock (two first ticks for one symbol:
 * one stream wins, the other is closed).  Close takes the write lock, so a DELETE never
 * frees a stream under a running push. */
#ifndef TICKINFER_SERVE_STREAMS_H
#define TICKINFER_SERVE_STREAMS_H

#include <stdint.h>

#include "tickinfer/model.h"
#include "tickinfer/stream.h"

#define SV_SS_MAX_STREAMS 4096
#define SV_SS_MAX_TICKS 4096 /* feature rows or trades per request; symbols per /v1/ticks */
#define SV_SS_SYMBOL_MAX 64  /* bytes of a symbol name, NUL included */

typedef struct sv_serve_streams sv_serve_streams;

/* Streams of a model whose kind steps a KV cache (TI_ERR_UNSUPPORTED otherwise). */
ti_err sv_serve_streams_create(sv_serve_streams **out, const ti_model *m, ti_kv_dtype kv_dtype);
void sv_serve_streams_destroy(sv_serve_streams *ss);

typedef enum sv_tick_kind { SV_TICK_FEATURES = 0, SV_TICK_NORMALIZED, SV_TICK_TRADES } sv_tick_kind;

typedef struct sv_trade_tick {
    int64_t t;
    float price, size;
    uint32_t orders;
} sv_trade_tick;

/* Push n ticks to symbol's stream (opened on first use): rows [n, F] of features (raw or
 * normalised), or n trades.  *fc gets the newest forecast, *decoded the positions decoded
 * by this call, *len the stream's length. */
ti_err sv_serve_streams_push(sv_serve_streams *ss, const char *symbol, sv_tick_kind kind, const float *rows,
                             const sv_trade_tick *trades, int n, ti_forecast *fc, int *decoded, int64_t *len);
/* TI_ERR_NOT_FOUND if no stream is open for symbol. */
ti_err sv_serve_streams_close(sv_serve_streams *ss, const char *symbol);
void sv_serve_streams_stats(sv_serve_streams *ss, int *open, size_t *kv_bytes);
int sv_serve_streams_features(const sv_serve_streams *ss);
/* Tests: the slots a lookup of symbol examines (found or not), and the streams the
 * engine holds (the table's plus any a racing first tick has not closed yet). */
int sv_serve_streams_probe_len(sv_serve_streams *ss, const char *symbol);
int sv_serve_streams_engine_open(sv_serve_streams *ss);

#endif
