/* Stream table; see streams.h. */
#include "serve/streams.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define TABLE (2 * SV_SS_MAX_STREAMS) /* load factor <= 1/2 */

typedef struct slot {
    char symbol[SV_SS_SYMBOL_MAX];
    ti_stream *s;    /* NULL: empty (tomb = 0) or deleted (tomb = 1) */
    int tomb;
} slot;

struct sv_serve_streams {
    ti_stream_engine *e;
    int F, n_open;
    pthread_rwlock_t lock;
    slot tab[TABLE];
};

static uint32_t hash_sym(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Index of symbol's slot, or -1; with `insert`, the first free slot on its probe path. */
static int probe(const sv_serve_streams *ss, const char *sym, int insert)
{
    uint32_t i = hash_sym(sym) % TABLE;
    int free_at = -1;
    for (int k = 0; k < TABLE; k++, i = (i + 1) % TABLE) {
        const slot *t = &ss->tab[i];
        if (t->s && strcmp(t->symbol, sym) == 0) return (int)i;
        if (!t->s && free_at < 0) free_at = (int)i;
        if (!t->s && !t->tomb) break;
    }
    return insert ? free_at : -1;
}

ti_err sv_serve_streams_create(sv_serve_streams **out, const ti_tfm *m, const ti_ckpt_meta *meta, float rv_scale,
                               ti_kv_dtype kv_dtype)
{
    *out = NULL;
    sv_serve_streams *ss = calloc(1, sizeof *ss);
    if (!ss) return ti_errorf(TI_ERR_NOMEM, "streams: out of memory");
    ti_stream_opts o;
    memset(&o, 0, sizeof o);
    o.max_streams = SV_SS_MAX_STREAMS;
    o.kv_dtype = kv_dtype;
    ti_err e = ti_stream_engine_create(&ss->e, m, meta, rv_scale, &o);
    if (e) {
        free(ss);
        return e;
    }
    ss->F = ti_tfm_get_config(m)->n_features;
    pthread_rwlock_init(&ss->lock, NULL);
    *out = ss;
    return TI_OK;
}

void sv_serve_streams_destroy(sv_serve_streams *ss)
{
    if (!ss) return;
    for (int i = 0; i < TABLE; i++)
        if (ss->tab[i].s) ti_stream_close(ss->tab[i].s);
    ti_stream_engine_destroy(ss->e);
    pthread_rwlock_destroy(&ss->lock);
    free(ss);
}

int sv_serve_streams_features(const sv_serve_streams *ss) { return ss->F; }

/* Opens under the write lock when the symbol is new; returns with the read lock held. */
static ti_err find_or_open(sv_serve_streams *ss, const char *sym, ti_stream **out)
{
    pthread_rwlock_rdlock(&ss->lock);
    int i = probe(ss, sym, 0);
    if (i >= 0) {
        *out = ss->tab[i].s;
        return TI_OK;
    }
    pthread_rwlock_unlock(&ss->lock);
    pthread_rwlock_wrlock(&ss->lock);
    ti_err e = TI_OK;
    i = probe(ss, sym, 0);
    if (i < 0) {
        if (ss->n_open >= SV_SS_MAX_STREAMS) {
            e = ti_errorf(TI_ERR_LIMIT, "stream %s: %d streams already open", sym, SV_SS_MAX_STREAMS);
        } else {
            i = probe(ss, sym, 1);
            ti_stream *s = NULL;
            e = i < 0 ? ti_errorf(TI_ERR_LIMIT, "stream %s: table full", sym) : ti_stream_open(ss->e, &s, sym);
            if (!e) {
                snprintf(ss->tab[i].symbol, sizeof ss->tab[i].symbol, "%s", sym);
                ss->tab[i].s = s;
                ss->tab[i].tomb = 0;
                ss->n_open++;
            }
        }
    }
    ti_stream *s = e ? NULL : ss->tab[i].s;
    pthread_rwlock_unlock(&ss->lock);
    if (e) return e;
    /* Re-take as a reader; a DELETE in between makes us open it again (rare, harmless). */
    return s ? find_or_open(ss, sym, out) : e;
}

ti_err sv_serve_streams_push(sv_serve_streams *ss, const char *symbol, sv_tick_kind kind, const float *rows,
                             const sv_trade_tick *trades, int n, ti_forecast *fc, int *decoded, int64_t *len)
{
    if (strlen(symbol) >= 64) return ti_errorf(TI_ERR_INVALID_ARG, "stream: symbol longer than 63 bytes");
    ti_stream *s = NULL;
    ti_err e = find_or_open(ss, symbol, &s);
    if (e) return e;
    int total = 0;
    for (int i = 0; i < n && !e; i++) {
        if (kind == SV_TICK_TRADES) {
            int k = 0;
            e = ti_stream_push_trade(s, trades[i].t, trades[i].price, trades[i].size, trades[i].orders, fc, &k);
            total += k;
        } else {
            const float *x = rows + (size_t)i * (size_t)ss->F;
            e = kind == SV_TICK_FEATURES ? ti_stream_push_features(s, x, fc) : ti_stream_push_normalized(s, x, fc);
            total++;
        }
    }
    *decoded = total;
    *len = ti_stream_len(s);
    pthread_rwlock_unlock(&ss->lock);
    return e;
}

ti_err sv_serve_streams_close(sv_serve_streams *ss, const char *symbol)
{
    pthread_rwlock_wrlock(&ss->lock);
    int i = probe(ss, symbol, 0);
    if (i >= 0) {
        ti_stream_close(ss->tab[i].s);
        ss->tab[i].s = NULL;
        ss->tab[i].tomb = 1;
        ss->n_open--;
    }
    pthread_rwlock_unlock(&ss->lock);
    return i >= 0 ? TI_OK : ti_errorf(TI_ERR_NOT_FOUND, "no open stream for symbol '%s'", symbol);
}

void sv_serve_streams_stats(sv_serve_streams *ss, int *open, size_t *kv_bytes)
{
    ti_stream_stats st;
    pthread_rwlock_rdlock(&ss->lock);
    ti_stream_engine_stats(ss->e, &st);
    *open = ss->n_open;
    pthread_rwlock_unlock(&ss->lock);
    *kv_bytes = st.kv_bytes;
}
