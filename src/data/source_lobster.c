/* LOBSTER source: message + order-book CSV pairs, one symbol per ticker. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bars_build.h"
#include "tickinfer/ingest.h"
#include "tickinfer/lobster.h"

typedef struct lob_pair {
    char ticker[32];
    char msg[1024], book[1024];
    int level;
    double t0;  /* session start from the file name (seconds after midnight), or NAN */
} lob_pair;

typedef struct lob_impl {
    lob_pair *pairs;
    size_t n;
} lob_impl;

/* TICKER_DATE_STARTMS_ENDMS_message_L.csv */
static int parse_name(const char *base, lob_pair *p)
{
    const char *m = strstr(base, "_message_");
    if (!m || strcmp(m + strlen(m) - 4, ".csv") != 0) return 0;
    size_t tl = strcspn(base, "_");
    if (tl == 0 || tl >= sizeof p->ticker) return 0;
    memcpy(p->ticker, base, tl);
    p->ticker[tl] = 0;
    p->level = atoi(m + 9);
    long long start_ms = 0, end_ms = 0;
    char date[32];
    p->t0 = NAN;
    if (sscanf(base + tl + 1, "%31[^_]_%lld_%lld_", date, &start_ms, &end_ms) == 3 && start_ms >= 0) p->t0 = (double)start_ms / 1000.0;
    return p->level >= 1;
}

static ti_err make_pair(lob_pair *p, const char *dir, const char *base)
{
    if (!parse_name(base, p)) return ti_errorf(TI_ERR_FORMAT, "lobster: cannot parse file name '%s' (want TICKER_DATE_START_END_message_L.csv)", base);
    snprintf(p->msg, sizeof p->msg, "%s/%s", dir, base);
    const char *m = strstr(base, "_message_");
    snprintf(p->book, sizeof p->book, "%s/%.*s_orderbook_%s", dir, (int)(m - base), base, m + 9);
    struct stat st;
    if (stat(p->book, &st) != 0) return ti_errorf(TI_ERR_FORMAT, "lobster: %s has no matching order-book file %s", p->msg, p->book);
    return TI_OK;
}

static int cmp_pair(const void *a, const void *b)
{
    const lob_pair *x = a, *y = b;
    int c = strcmp(x->ticker, y->ticker);
    return c ? c : x->level - y->level;
}

static void lob_destroy(ti_source *src)
{
    lob_impl *im = src->impl;
    if (im) free(im->pairs);
    free(im);
    free(src);
}

static ti_err lob_load(ti_source *src, size_t i, ti_symbol_data *out)
{
    lob_impl *im = src->impl;
    const lob_pair *p = &im->pairs[i];
    memset(out, 0, sizeof *out);
    out->symbol_id = (int32_t)i;
    snprintf(out->symbol, sizeof out->symbol, "%s", p->ticker);
    ti_lobster_day day;
    ti_err e = ti_lobster_read(&day, p->msg, p->book);
    if (e) return e;
    out->n_rows_read = day.n;
    ti_lobster_trades tr;
    memset(&tr, 0, sizeof tr);
    ti_lobster_l1 l1;
    memset(&l1, 0, sizeof l1);
    double *sz = NULL;
    if (day.n == 0) {
        ti_lobster_free(&day);
        return ti_errorf(TI_ERR_FORMAT, "lobster: %s has no messages", p->msg);
    }
    const int L = src->bucket_len;
    double t0 = isnan(p->t0) ? floor(day.time[0] / L) * L : p->t0;
    double t_last = day.time[day.n - 1];
    size_t n_buckets = t_last + 1 > t0 ? (size_t)floor((t_last - t0 + 1) / L) : 0;
    e = ti_lobster_trades_extract(&tr, &day);
    if (!e && n_buckets) e = ti_lobster_l1_per_second(&l1, &day, (int64_t)t0, (int64_t)t0 + (int64_t)(n_buckets * (size_t)L));
    if (!e) {
        sz = malloc((tr.n ? tr.n : 1) * sizeof *sz);
        out->book = malloc((n_buckets ? n_buckets : 1) * (size_t)L * sizeof *out->book);
        if (!sz || !out->book) e = ti_errorf(TI_ERR_NOMEM, "lobster: out of memory for %s", p->msg);
    }
    if (!e) {
        for (size_t k = 0; k < tr.n; k++) sz[k] = tr.size[k];
        e = ti_bars_from_trades(out, p->msg, tr.time, tr.price, sz, NULL, tr.n, t0, L, n_buckets);
    }
    if (!e)
        for (size_t j = 0; j < n_buckets * (size_t)L; j++)
            out->book[j] = (ti_book_sec){(float)l1.bid_px[j], (float)l1.ask_px[j], (float)l1.bid_sz[j], (float)l1.ask_sz[j]};
    free(sz);
    ti_lobster_l1_free(&l1);
    ti_lobster_trades_free(&tr);
    ti_lobster_free(&day);
    if (e) ti_symbol_data_free(out);
    return e;
}

ti_err ti_source_open_lobster(ti_source **out, const char *path)
{
    *out = NULL;
    lob_impl *im = calloc(1, sizeof *im);
    ti_source *src = calloc(1, sizeof *src);
    if (!im || !src) {
        free(im);
        free(src);
        return ti_errorf(TI_ERR_NOMEM, "lobster: out of memory");
    }
    src->impl = im;
    src->destroy = lob_destroy;
    src->load = lob_load;
    src->has_book = 1;
    src->bucket_len = TI_BUCKET_LEN;
    snprintf(src->kind, sizeof src->kind, "lobster");
    snprintf(src->desc, sizeof src->desc, "%s", path);
    struct stat st;
    ti_err e = TI_OK;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        /* One file given: either half of the pair. */
        char dir[1024], base[512];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        snprintf(base, sizeof base, "%s", slash ? slash + 1 : path);
        char *ob = strstr(base, "_orderbook_");
        if (ob) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%.*s_message_%s", (int)(ob - base), base, ob + 11);
            snprintf(base, sizeof base, "%s", tmp);
        }
        im->pairs = calloc(1, sizeof *im->pairs);
        if (!im->pairs) e = ti_errorf(TI_ERR_NOMEM, "lobster: out of memory");
        else if (!(e = make_pair(&im->pairs[0], dir, base))) im->n = 1;
    } else {
        DIR *d = opendir(path);
        if (!d) e = ti_errorf(TI_ERR_NOT_FOUND, "lobster: cannot open folder %s", path);
        struct dirent *ent;
        size_t cap = 0;
        while (!e && d && (ent = readdir(d))) {
            lob_pair p;
            if (!parse_name(ent->d_name, &p)) continue;
            if (im->n == cap) {
                cap = cap ? cap * 2 : 8;
                lob_pair *np = realloc(im->pairs, cap * sizeof *np);
                if (!np) { e = ti_errorf(TI_ERR_NOMEM, "lobster: out of memory"); break; }
                im->pairs = np;
            }
            e = make_pair(&im->pairs[im->n], path, ent->d_name);
            if (!e) im->n++;
        }
        if (d) closedir(d);
        if (!e && im->n == 0) e = ti_errorf(TI_ERR_NOT_FOUND, "lobster: no *_message_L.csv files in %s", path);
        if (!e) {
            /* One symbol per ticker: the shallowest book wins (level 1 is all features use). */
            qsort(im->pairs, im->n, sizeof *im->pairs, cmp_pair);
            size_t w = 0;
            for (size_t r = 0; r < im->n; r++)
                if (w == 0 || strcmp(im->pairs[w - 1].ticker, im->pairs[r].ticker) != 0) im->pairs[w++] = im->pairs[r];
            im->n = w;
        }
    }
    if (e) {
        lob_destroy(src);
        return e;
    }
    src->n_symbols = im->n;
    *out = src;
    return TI_OK;
}
