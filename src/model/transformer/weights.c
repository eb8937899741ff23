/* Model weights: the tensor table (PyTorch state-dict order and names), the single
 * parameter block, deterministic init, and packed copies of the matmul weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/transformer/tfm_internal.h"
#include "tickinfer/alloc.h"

/* ---- tensor table ---------------------------------------------------------------------- */

/* Shape codes, resolved against the config. */
enum { S_C, S_3C, S_D, S_ONE, S_CxC, S_3CxC, S_DxC, S_CxD, S_CxF, S_1xC, S_CLS, S_POS };

typedef struct tensor_spec {
    int slot;           /* MW_* or LW_* */
    const char *name;   /* printf format with the layer index for layer tensors */
    int shape;          /* S_* */
} tensor_spec;

static const tensor_spec TINYRV_PRE[] = {
    {MW_CLS, "cls", S_CLS}, {MW_POS, "pos", S_POS}, {MW_PROJ_W, "proj.weight", S_CxF},
    {MW_PROJ_B, "proj.bias", S_C}};
static const tensor_spec TINYRV_LAYER[] = {
    {LW_QKV_W, "enc.layers.%d.self_attn.in_proj_weight", S_3CxC},
    {LW_QKV_B, "enc.layers.%d.self_attn.in_proj_bias", S_3C},
    {LW_OUT_W, "enc.layers.%d.self_attn.out_proj.weight", S_CxC},
    {LW_OUT_B, "enc.layers.%d.self_attn.out_proj.bias", S_C},
    {LW_FC1_W, "enc.layers.%d.linear1.weight", S_DxC},
    {LW_FC1_B, "enc.layers.%d.linear1.bias", S_D},
    {LW_FC2_W, "enc.layers.%d.linear2.weight", S_CxD},
    {LW_FC2_B, "enc.layers.%d.linear2.bias", S_C},
    {LW_LN1_W, "enc.layers.%d.norm1.weight", S_C},
    {LW_LN1_B, "enc.layers.%d.norm1.bias", S_C},
    {LW_LN2_W, "enc.layers.%d.norm2.weight", S_C},
    {LW_LN2_B, "enc.layers.%d.norm2.bias", S_C}};
static const tensor_spec CAUSAL_PRE[] = {{MW_PROJ_W, "proj.weight", S_CxF}, {MW_PROJ_B, "proj.bias", S_C}};
static const tensor_spec CAUSAL_LAYER[] = {
    {LW_LN1_W, "layers.%d.norm1.weight", S_C},    {LW_LN1_B, "layers.%d.norm1.bias", S_C},
    {LW_QKV_W, "layers.%d.in_proj.weight", S_3CxC}, {LW_QKV_B, "layers.%d.in_proj.bias", S_3C},
    {LW_OUT_W, "layers.%d.out_proj.weight", S_CxC}, {LW_OUT_B, "layers.%d.out_proj.bias", S_C},
    {LW_LN2_W, "layers.%d.norm2.weight", S_C},    {LW_LN2_B, "layers.%d.norm2.bias", S_C},
    {LW_FC1_W, "layers.%d.linear1.weight", S_DxC}, {LW_FC1_B, "layers.%d.linear1.bias", S_D},
    {LW_FC2_W, "layers.%d.linear2.weight", S_CxD}, {LW_FC2_B, "layers.%d.linear2.bias", S_C}};
static const tensor_spec HEAD[] = {{MW_HEADLN_W, "head.0.weight", S_C}, {MW_HEADLN_B, "head.0.bias", S_C},
                                   {MW_HEAD_W, "head.1.weight", S_1xC}, {MW_HEAD_B, "head.1.bias", S_ONE}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void resolve_shape(ti_tfm_tensor *t, int code, const ti_tfm_config *c)
{
    const int64_t C = c->d_model, D = c->d_ff, F = c->n_features;
    int64_t s[3] = {0, 0, 0};
    int nd = 2;
    switch (code) {
    case S_C: nd = 1, s[0] = C; break;
    case S_3C: nd = 1, s[0] = 3 * C; break;
    case S_D: nd = 1, s[0] = D; break;
    case S_ONE: nd = 1, s[0] = 1; break;
    case S_CxC: s[0] = C, s[1] = C; break;
    case S_3CxC: s[0] = 3 * C, s[1] = C; break;
    case S_DxC: s[0] = D, s[1] = C; break;
    case S_CxD: s[0] = C, s[1] = D; break;
    case S_CxF: s[0] = C, s[1] = F; break;
    case S_1xC: s[0] = 1, s[1] = C; break;
    case S_CLS: nd = 3, s[0] = 1, s[1] = 1, s[2] = C; break;
    default: nd = 3, s[0] = 1, s[1] = (int64_t)c->context + 1, s[2] = C; break; /* S_POS */
    }
    t->ndim = nd;
    t->numel = 1;
    for (int i = 0; i < nd; i++) {
        t->shape[i] = s[i];
        t->numel *= (size_t)s[i];
    }
    /* weight decay applies to the matmul weights (the 2-D tensors) only, the usual AdamW
     * grouping: not to biases, LayerNorm parameters, cls or pos */
    t->decay = nd == 2;
}

static void add_tensors(ti_tfm *m, const tensor_spec *spec, size_t n, int layer, size_t *off)
{
    for (size_t i = 0; i < n; i++) {
        ti_tfm_tensor *t = &m->tensors[m->n_tensors++];
        snprintf(t->name, sizeof t->name, spec[i].name, layer);
        resolve_shape(t, spec[i].shape, &m->cfg);
        t->offset = *off;
        *off += t->numel;
        if (layer < 0) m->glob[spec[i].slot] = t->offset;
        else m->layer[layer][spec[i].slot] = t->offset;
    }
}

ti_err model_build_table(ti_tfm *m)
{
    const ti_tfm_config *c = &m->cfg;
    const int tiny = c->kind == TI_TFM_TINYRV;
    const size_t n_pre = tiny ? N_OF(TINYRV_PRE) : N_OF(CAUSAL_PRE);
    const size_t n_layer = tiny ? N_OF(TINYRV_LAYER) : N_OF(CAUSAL_LAYER);
    const size_t n = n_pre + n_layer * (size_t)c->n_layers + N_OF(HEAD);
    m->tensors = calloc(n, sizeof *m->tensors);
    m->layer = calloc((size_t)c->n_layers, sizeof *m->layer);
    if (!m->tensors || !m->layer) return ti_errorf(TI_ERR_NOMEM, "model: tensor table of %zu entries", n);
    for (int i = 0; i < MW__COUNT; i++) m->glob[i] = TI_NO_TENSOR;
    size_t off = 0;
    add_tensors(m, tiny ? TINYRV_PRE : CAUSAL_PRE, n_pre, -1, &off);
    for (int l = 0; l < c->n_layers; l++)
        add_tensors(m, tiny ? TINYRV_LAYER : CAUSAL_LAYER, n_layer, l, &off);
    add_tensors(m, HEAD, N_OF(HEAD), -1, &off);
    m->n_params = off;
    return TI_OK;
}

/* ---- create / destroy / accessors ----------------------------------------------------- */

static void drop_packs(ti_tfm *m)
{
    ti_free_aligned(m->packed);
    m->packed = NULL;
    m->packed_floats = 0;
    m->stem.proj.packed = NULL;
    for (int l = 0; m->lv && l < m->cfg.n_layers; l++) {
        tfm_layer *w = &m->lv[l];
        w->qkv.packed = w->q.packed = w->kv.packed = w->out.packed = w->fc1.packed = w->fc2.packed = NULL;
    }
}

ti_err ti_tfm_create(ti_tfm **out, const ti_tfm_config *cfg)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "model create: out is NULL");
    *out = NULL;
    ti_err e = ti_tfm_config_validate(cfg);
    if (e) return e;
    ti_tfm *m = calloc(1, sizeof *m);
    if (!m) return ti_errorf(TI_ERR_NOMEM, "model create: out of memory");
    m->cfg = *cfg;
    m->k = ti_kernels_best();
    if ((e = model_build_table(m))) {
        ti_tfm_destroy(m);
        return e;
    }
    m->params = ti_calloc_aligned(m->n_params, sizeof(float), TI_CACHELINE);
    m->lv = calloc((size_t)cfg->n_layers, sizeof *m->lv);
    if (!m->params || !m->lv) {
        ti_tfm_destroy(m);
        return ti_errorf(TI_ERR_NOMEM, "model create: %zu parameters", ti_tfm_config_n_params(cfg));
    }
    tfm_bind(m, m->params, &m->stem, m->lv); /* params never move: the views hold */
    /* ALiBi slopes as the reference computes them for any H: 2^(-8 (h+1) / H) */
    if (cfg->kind == TI_TFM_RV_CAUSAL)
        for (int h = 0; h < cfg->n_heads; h++)
            m->alibi[h] = (float)exp2(-8.0 * (h + 1) / cfg->n_heads);
    *out = m;
    return TI_OK;
}

void ti_tfm_destroy(ti_tfm *m)
{
    if (!m) return;
    drop_packs(m);
    ti_free_aligned(m->params);
    free(m->tensors);
    free(m->layer);
    free(m->lv);
    free(m);
}

const ti_tfm_config *ti_tfm_get_config(const ti_tfm *m) { return &m->cfg; }
size_t ti_tfm_n_params(const ti_tfm *m) { return m->n_params; }
const float *ti_tfm_params(const ti_tfm *m) { return m->params; }
size_t ti_tfm_tensor_count(const ti_tfm *m) { return m->n_tensors; }
int ti_tfm_is_packed(const ti_tfm *m) { return m->packed != NULL; }
const ti_kernels *ti_tfm_kernels(const ti_tfm *m) { return m->k; }

const float *ti_tfm_alibi(const ti_tfm *m)
{
    return m->cfg.kind == TI_TFM_RV_CAUSAL ? m->alibi : NULL;
}

float *ti_tfm_params_mut(ti_tfm *m)
{
    drop_packs(m);
    return m->params;
}

const ti_tfm_tensor *ti_tfm_tensor_at(const ti_tfm *m, size_t i)
{
    return i < m->n_tensors ? &m->tensors[i] : NULL;
}

const ti_tfm_tensor *ti_tfm_find_tensor(const ti_tfm *m, const char *name)
{
    for (size_t i = 0; name && i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

void ti_tfm_set_kernels(ti_tfm *m, const ti_kernels *k)
{
    if (!k) k = ti_kernels_best();
    if (k != m->k) drop_packs(m);
    m->k = k;
}

/* ---- init --------------------------------------------------------------------------------- */

/* splitmix64: tiny, good enough to initialise weights, identical on every platform. */
typedef struct init_rng {
    uint64_t s;
} init_rng;

static uint64_t rng_next(init_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(init_rng *r) /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static void fill_uniform(float *p, size_t n, double bound, init_rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)((2.0 * rng_uniform(r) - 1.0) * bound);
}

static void fill_normal(float *p, size_t n, double std, init_rng *r)
{
    for (size_t i = 0; i < n; i++) { /* Box-Muller; 1 - u keeps log away from 0 */
        double u = 1.0 - rng_uniform(r), v = rng_uniform(r);
        p[i] = (float)(std * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
    }
}

static void fill_const(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) p[i] = v;
}

void ti_tfm_init(ti_tfm *m, uint64_t seed)
{
    drop_packs(m);
    init_rng r = {seed ^ 0x7469636B696E6665ull};
    const ti_tfm_config *c = &m->cfg;
    const int tiny = c->kind == TI_TFM_TINYRV;
    const double C = c->d_model, D = c->d_ff;
    float *p = m->params;
    /* nn.Linear: kaiming_uniform(a=sqrt(5)) on the weight = U(+-1/sqrt(fan_in)), bias too */
#define LINEAR(wo, bo, n_out, fan_in)                                          \
    do {                                                                       \
        fill_uniform(p + (wo), (size_t)(n_out) * (size_t)(fan_in), 1.0 / sqrt(fan_in), &r); \
        fill_uniform(p + (bo), (size_t)(n_out), 1.0 / sqrt(fan_in), &r);       \
    } while (0)
    if (tiny) {
        fill_normal(p + m->glob[MW_CLS], (size_t)C, 0.02, &r);
        fill_normal(p + m->glob[MW_POS], ((size_t)c->context + 1) * (size_t)C, 0.02, &r);
    }
    LINEAR(m->glob[MW_PROJ_W], m->glob[MW_PROJ_B], C, c->n_features);
    for (int l = 0; l < c->n_layers; l++) {
        const size_t *o = m->layer[l];
        fill_const(p + o[LW_LN1_W], (size_t)C, 1.0f);
        fill_const(p + o[LW_LN1_B], (size_t)C, 0.0f);
        fill_const(p + o[LW_LN2_W], (size_t)C, 1.0f);
        fill_const(p + o[LW_LN2_B], (size_t)C, 0.0f);
        if (tiny) { /* nn.MultiheadAttention._reset_parameters */
            fill_uniform(p + o[LW_QKV_W], 3 * (size_t)C * (size_t)C, sqrt(6.0 / (C + 3 * C)), &r);
            fill_const(p + o[LW_QKV_B], 3 * (size_t)C, 0.0f);
            fill_uniform(p + o[LW_OUT_W], (size_t)C * (size_t)C, 1.0 / sqrt(C), &r);
            fill_const(p + o[LW_OUT_B], (size_t)C, 0.0f);
        } else {
            LINEAR(o[LW_QKV_W], o[LW_QKV_B], 3 * C, C);
            LINEAR(o[LW_OUT_W], o[LW_OUT_B], C, C);
        }
        LINEAR(o[LW_FC1_W], o[LW_FC1_B], D, C);
        LINEAR(o[LW_FC2_W], o[LW_FC2_B], C, D);
    }
    fill_const(p + m->glob[MW_HEADLN_W], (size_t)C, 1.0f);
    fill_const(p + m->glob[MW_HEADLN_B], (size_t)C, 0.0f);
    LINEAR(m->glob[MW_HEAD_W], m->glob[MW_HEAD_B], 1, C);
#undef LINEAR
}

/* ---- packing -------------------------------------------------------------------------------- */

/* Reserve a packed copy of w; offsets stay 16-float (64-byte) aligned.  Pass 1 (buf NULL)
 * only counts; pass 2 packs and points the view at its copy. */
static void pack_one(float *buf, size_t *total, const ti_kernels *k, tfm_lin *w)
{
    const size_t off = *total;
    *total += (k->matmul_packed_floats(w->n_out, w->n_in) + 15) & ~(size_t)15;
    if (!buf) return;
    k->matmul_pack(buf + off, w->w, w->n_out, w->n_in);
    w->packed = buf + off;
}

/* Every matmul weight inference runs on (the head is one row: it stays plain). */
static void pack_all(ti_tfm *m, float *buf, size_t *total)
{
    const ti_kernels *k = m->k;
    const int L = m->cfg.n_layers, tiny = m->cfg.kind == TI_TFM_TINYRV;
    pack_one(buf, total, k, &m->stem.proj);
    for (int l = 0; l < L; l++) {
        tfm_layer *w = &m->lv[l];
        if (tiny && l == L - 1) { /* the CLS-only layer */
            pack_one(buf, total, k, &w->q);
            pack_one(buf, total, k, &w->kv);
        } else {
            pack_one(buf, total, k, &w->qkv);
        }
        pack_one(buf, total, k, &w->out);
        pack_one(buf, total, k, &w->fc1);
        pack_one(buf, total, k, &w->fc2);
    }
}

ti_err ti_tfm_pack(ti_tfm *m)
{
    drop_packs(m);
    size_t total = 0;
    pack_all(m, NULL, &total);
    float *buf = ti_malloc_aligned(total * sizeof(float), TI_CACHELINE);
    if (!buf) return ti_errorf(TI_ERR_NOMEM, "model pack: %zu floats", total);
    total = 0;
    pack_all(m, buf, &total);
    m->packed = buf;
    m->packed_floats = total;
    return TI_OK;
}
