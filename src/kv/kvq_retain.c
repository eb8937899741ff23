/* KV retention policies under a token budget: recency window, sink + window, heavy hitters
 * (H2O).  Pure index logic: the cache owning the rows applies the evictions. */
#include <string.h>

#include "tickinfer/kvquant.h"

static const char *const k_names[TI_KV_RETAIN__COUNT] = {"recent", "sink_window", "h2o"};

const char *ti_kv_retain_name(ti_kv_retain_kind k)
{
    return ((int)k >= 0 && k < TI_KV_RETAIN__COUNT) ? k_names[k] : "?";
}

ti_err ti_kv_retain_parse(ti_kv_retain_kind *out, const char *name)
{
    for (int i = 0; name && i < TI_KV_RETAIN__COUNT; i++) {
        if (strcmp(name, k_names[i]) == 0) {
            *out = (ti_kv_retain_kind)i;
            return TI_OK;
        }
    }
    return ti_errorf(TI_ERR_INVALID_ARG, "kv_retain: unknown policy '%s' (want recent, sink_window or h2o)",
                     name ? name : "(null)");
}

void ti_kv_retain_accumulate(float *score, const float *tok_weight, int n, float decay)
{
    for (int t = 0; t < n; t++) score[t] = decay * score[t] + tok_weight[t];
}

/* Order for H2O eviction: lower score first; on a tie the older (smaller index) first, so
 * the more recent token is kept. */
static int h2o_before(const float *score, int a, int b)
{
    return score[a] < score[b] || (score[a] == score[b] && a < b);
}

static void sift_down(int *v, int root, int n, const float *score)
{
    for (;;) {
        int c = 2 * root + 1;
        if (c >= n) return;
        /* Max-heap under the order: the root is the one evicted last. */
        if (c + 1 < n && (score ? h2o_before(score, v[c], v[c + 1]) : v[c] < v[c + 1])) c++;
        if (score ? h2o_before(score, v[root], v[c]) : v[root] < v[c]) {
            int t = v[root];
            v[root] = v[c];
            v[c] = t;
            root = c;
        } else {
            return;
        }
    }
}

/* Heap sort of v [n] ascending under h2o_before (score != NULL) or by value (score NULL). */
static void heap_sort(int *v, int n, const float *score)
{
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(v, i, n, score);
    for (int end = n - 1; end > 0; end--) {
        int t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(v, 0, end, score);
    }
}

ti_err ti_kv_retain_pick(int *evict, int *n_evict, const ti_kv_retain_policy *p, const int64_t *pos,
                         const float *score, int n)
{
    if (!evict || !n_evict || !p || n < 0 || (n > 0 && !pos))
        return ti_errorf(TI_ERR_INVALID_ARG, "kv_retain: evict, n_evict, policy and pos are required (n=%d)", n);
    *n_evict = 0;
    if (p->budget < 1) return ti_errorf(TI_ERR_INVALID_ARG, "kv_retain: budget %d must be >= 1", p->budget);
    if (p->kind == TI_KV_RETAIN_SINK_WINDOW && (p->sinks < 0 || p->sinks > p->budget))
        return ti_errorf(TI_ERR_INVALID_ARG, "kv_retain: sinks %d outside 0..budget %d", p->sinks, p->budget);
    if (p->kind == TI_KV_RETAIN_H2O && (p->recent < 0 || p->recent > p->budget || (n > 0 && !score)))
        return ti_errorf(TI_ERR_INVALID_ARG, "kv_retain: h2o needs scores and recent %d in 0..budget %d",
                         p->recent, p->budget);
    if ((int)p->kind < 0 || p->kind >= TI_KV_RETAIN__COUNT)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv_retain: bad policy kind %d", (int)p->kind);
    for (int t = 1; t < n; t++)
        if (pos[t] <= pos[t - 1])
            return ti_errorf(TI_ERR_INVALID_ARG, "kv_retain: positions not ascending at index %d", t);
    int drop = n - p->budget;
    if (drop <= 0) return TI_OK;
    switch (p->kind) {
    case TI_KV_RETAIN_RECENT:
        for (int t = 0; t < drop; t++) evict[t] = t;
        break;
    case TI_KV_RETAIN_SINK_WINDOW:
        /* Keep [0, sinks) and the last budget-sinks: evict the run just after the sinks. */
        for (int t = 0; t < drop; t++) evict[t] = p->sinks + t;
        break;
    default: {
        /* Candidates are all but the `recent` newest; evict the `drop` lowest-scored. */
        int ncand = n - p->recent;
        for (int t = 0; t < ncand; t++) evict[t] = t;
        heap_sort(evict, ncand, score);
        heap_sort(evict, drop, NULL);
        break;
    }
    }
    *n_evict = drop;
    return TI_OK;
}
