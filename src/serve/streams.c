/* Stream table; see streams.h.
 *
 * Linear probing over TABLE = 2 x SV_SS_MAX_STREAMS slots (load factor <= 1/2) with
 * backward-shift deletion: closing a stream moves the entries after it on their probe
 * path back into the hole, so the table never holds tombstones and a lookup stops at the
 * first empty slot however many streams were opened and closed before.
 *
 * A new symbol's stream (its KV cache: the big allocation) is built with no table lock
 * held; the write lock is taken only to insert the pointer.  If another first tick for
 * the same symbol inserted meanwhile, the loser closes its own stream and uses the
 * winner's. */
#include "serve/streams.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define TABLE (2 * SV_SS_MAX_STREAMS) /* load factor <= 1/2 */

typedef struct slot {
    char symbol[SV_SS_SYMBOL_MAX];
    uint32_t hash;
    ti_stream *s; /* NULL: empty */
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

/* Slot of symbol, or -1 (then *free_at is the empty slot where it would go).  *probes
 * counts the slots looked at.  Caller holds the lock. */
static int probe(const sv_serve_streams *ss, const char *sym, uint32_t h, int *free_at, int *probes)
{
    uint32_t i = h % TABLE;
    int k;
    for (k = 0; k < TABLE; k++, i = (i + 1) % TABLE) {
        const slot *t = &ss->tab[i];
        if (!t->s) break;
        if (t->hash == h && strcmp(t->symbol, sym) == 0) {
            if (probes) *probes = k + 1;
            return (int)i;
        }
    }
    if (probes) *probes = k + 1;
    if (free_at) *free_at = k < TABLE ? (int)i : -1;
    return -1;
}

/* Empty slot i and shift the entries that follow it on their probe paths back. */
static void remove_at(sv_serve_streams *ss, uint32_t i)
{
    uint32_t j = i;
    for (;;) {
        j = (j + 1) % TABLE;
        if (!ss->tab[j].s) break;
        uint32_t home = ss->tab[j].hash % TABLE;
        /* The entry at j may stay if its home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        ss->tab[i] = ss->tab[j];
        i = j;
    }
    ss->tab[i].s = NULL;
    ss->tab[i].symbol[0] = '\0';
    ss->tab[i].hash = 0;
}

ti_err sv_serve_streams_create(sv_serve_streams **out, const ti_model *m, ti_kv_dtype kv_dtype)
{
    *out = NULL;
    sv_serve_streams *ss = calloc(1, sizeof *ss);
    if (!ss) return ti_errorf(TI_ERR_NOMEM, "streams: out of memory");
    ti_stream_opts o;
    memset(&o, 0, sizeof o);
    /* One spare engine slot per concurrent first tick would be enough; the engine only
     * needs room for the transient stream a losing racer builds and closes. */
    o.max_streams = 2 * SV_SS_MAX_STREAMS;
    o.kv_dtype = kv_dtype;
    ti_err e = ti_stream_engine_create_for(&ss->e, m, &o);
    if (e) {
        free(ss);
        return e;
    }
    ss->F = ti_model_get_info(m)->n_features;
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

static ti_err table_full(const char *sym)
{
    return ti_errorf(TI_ERR_LIMIT, "stream %s: %d streams already open", sym, SV_SS_MAX_STREAMS);
}

/* Returns with the read lock held and *out the symbol's stream (opened if new). */
static ti_err find_or_open(sv_serve_streams *ss, const char *sym, ti_stream **out)
{
    const uint32_t h = hash_sym(sym);
    for (;;) {
        pthread_rwlock_rdlock(&ss->lock);
        int i = probe(ss, sym, h, NULL, NULL);
        if (i >= 0) {
            *out = ss->tab[i].s;
            return TI_OK;
        }
        int full = ss->n_open >= SV_SS_MAX_STREAMS;
        pthread_rwlock_unlock(&ss->lock);
        if (full) return table_full(sym);
        /* Build the stream (KV cache, scratch) with no table lock held. */
        ti_stream *s = NULL;
        ti_err e = ti_stream_open(ss->e, &s, sym);
        pthread_rwlock_wrlock(&ss->lock);
        int free_at = -1;
        i = probe(ss, sym, h, &free_at, NULL);
        if (i < 0 && !e) {
            if (ss->n_open >= SV_SS_MAX_STREAMS || free_at < 0) {
                e = table_full(sym);
            } else {
                slot *t = &ss->tab[free_at];
                snprintf(t->symbol, sizeof t->symbol, "%s", sym);
                t->hash = h;
                t->s = s;
                ss->n_open++;
                s = NULL; /* the table owns it */
            }
        }
        pthread_rwlock_unlock(&ss->lock);
        /* Lost the race (or the table filled): our stream was never visible. */
        if (s) ti_stream_close(s);
        if (e && i < 0) return e;
        /* Re-take as a reader; a DELETE in between makes us open it again (rare). */
    }
}

ti_err sv_serve_streams_push(sv_serve_streams *ss, const char *symbol, sv_tick_kind kind, const float *rows,
                             const sv_trade_tick *trades, int n, ti_forecast *fc, int *decoded, int64_t *len)
{
    if (strlen(symbol) >= SV_SS_SYMBOL_MAX)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: symbol longer than %d bytes", SV_SS_SYMBOL_MAX - 1);
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
    ti_stream *s = NULL;
    pthread_rwlock_wrlock(&ss->lock); /* waits for pushes in progress */
    int i = probe(ss, symbol, hash_sym(symbol), NULL, NULL);
    if (i >= 0) {
        s = ss->tab[i].s;
        remove_at(ss, (uint32_t)i);
        ss->n_open--;
    }
    pthread_rwlock_unlock(&ss->lock);
    /* No push can reach s any more: free its KV cache outside the lock. */
    if (s) ti_stream_close(s);
    return s ? TI_OK : ti_errorf(TI_ERR_NOT_FOUND, "no open stream for symbol '%s'", symbol);
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

int sv_serve_streams_probe_len(sv_serve_streams *ss, const char *symbol)
{
    int probes = 0;
    pthread_rwlock_rdlock(&ss->lock);
    probe(ss, symbol, hash_sym(symbol), NULL, &probes);
    pthread_rwlock_unlock(&ss->lock);
    return probes;
}

int sv_serve_streams_engine_open(sv_serve_streams *ss)
{
    ti_stream_stats st;
    ti_stream_engine_stats(ss->e, &st);
    return (int)st.streams;
}
