/* Internals of src/model/: the model struct, per-layer tensor slots, the run state. */
#ifndef TICKINFER_MODEL_INTERNAL_H
#define TICKINFER_MODEL_INTERNAL_H

#include "model/transformer/block.h"
#include "tickinfer/transformer.h"

/* Tensors outside the layers (absent ones have TI_NO_TENSOR). */
enum {
    MW_CLS = 0,  /* TinyRV [1,1,C] */
    MW_POS,      /* TinyRV [1,T+1,C] */
    MW_PROJ_W,   /* [C,F] */
    MW_PROJ_B,   /* [C] */
    MW_HEADLN_W, /* [C] */
    MW_HEADLN_B, /* [C] */
    MW_HEAD_W,   /* [1,C] */
    MW_HEAD_B,   /* [1] */
    MW__COUNT
};
/* Tensors of one layer. */
enum {
    LW_LN1_W = 0, LW_LN1_B, /* [C] */
    LW_QKV_W, LW_QKV_B,     /* [3C,C], [3C]: Wq, Wk, Wv stacked */
    LW_OUT_W, LW_OUT_B,     /* [C,C], [C] */
    LW_LN2_W, LW_LN2_B,     /* [C] */
    LW_FC1_W, LW_FC1_B,     /* [D,C], [D] */
    LW_FC2_W, LW_FC2_B,     /* [C,D], [C] */
    LW__COUNT
};
#define TI_NO_TENSOR ((size_t)-1)

struct ti_tfm {
    ti_tfm_config cfg;
    float *params;  /* [n_params], 64-byte aligned */
    size_t n_params;
    ti_tfm_tensor *tensors;
    size_t n_tensors;
    size_t glob[MW__COUNT];      /* offsets (floats) into params, or TI_NO_TENSOR */
    size_t (*layer)[LW__COUNT];  /* [L][LW__COUNT] offsets */
    const ti_kernels *k;
    /* Views of params (block.h), bound once at create; ti_tfm_pack points their `packed`
     * at copies in `packed`.  TinyRV's last layer in inference needs q for the CLS row
     * only, so it packs Wq and [Wk;Wv] apart instead of the whole in_proj. */
    tfm_stem stem;
    tfm_layer *lv;               /* [L] */
    float *packed;               /* NULL = not packed */
    size_t packed_floats;
    float alibi[TI_MODEL_MAX_HEADS];
};

struct ti_runstate {
    const ti_tfm *model;
    int B_max, T_max, Tq_max, training;
    int B, T;                /* of the last forward (training: what backward uses) */
    int have_forward;
    float *block;            /* everything below lives in this one allocation */
    size_t bytes;

    /* inference working set (also used as training head scratch) */
    float *h;                /* [N,C] residual stream */
    float *ln;               /* [N,C] */
    float *qkv;              /* [N,3C] */
    float *att;              /* [N,C] */
    float *fc;               /* [N,D] */
    float *cls_h, *cls_ln, *cls_q, *cls_att, *cls_tmp; /* [B,C] TinyRV CLS-row tail */
    float *cls_fc;           /* [B,D] */

    /* training: saved activations and backward scratch */
    float *x;                /* [B,T,F] copy of the input */
    tfm_block_io *acts;      /* [L] saved activations: each layer's own buffers (block.h) */
    float *res_out;          /* [N,C] output of the last layer */
    float *head_in;          /* [Nh,C] rows the head sees (TinyRV: CLS rows; causal: res_out) */
    float *head_ln;          /* [Nh,C] */
    float *head_mean, *head_rstd; /* [Nh] */
    float *d_res, *d_ln, *d_qkv, *d_att, *d_fc_act, *d_fc_pre; /* [N,C] [N,C] [N,3C] [N,C] [N,D] [N,D] */
    float *d_head;           /* [Nh,C] */
    tfm_block_io layer_storage[]; /* flexible: acts points here */
};

/* Rows per sequence inside the network: TinyRV prepends the CLS token. */
static inline int model_tq(const ti_tfm_config *c, int T)
{
    return c->kind == TI_TFM_TINYRV ? T + 1 : T;
}

/* Build the tensor table and slot offsets for m->cfg (validated); allocates tensors and
 * layer; sets n_params.  Used by ti_tfm_create. */
ti_err model_build_table(ti_tfm *m);
/* The CPU backend of the block (ops.c): the kernel table, with layer norms and
 * elementwise ops split by rows over the pool when large. */
typedef struct tfm_cpu {
    const ti_kernels *k;
    ti_pool *pool;
    int packed;        /* 1: the packed copies where the views have them (inference) */
    ti_attn_cfg acfg;  /* attend: B sequences of T rows (attend_cls: one query each) */
} tfm_cpu;
extern const tfm_ops tfm_cpu_ops; /* ctx: a tfm_cpu */
/* The backend for nb sequences of tq rows of m (causal: ALiBi); packed 0 in training. */
tfm_cpu tfm_cpu_for(const ti_tfm *m, int packed, int nb, int tq, ti_pool *pool);
/* Its steps, for backends that change only the attention (decode.c); ctx starts with a
 * tfm_cpu. */
ti_err tfm_cpu_norm(void *ctx, float *out, float *mean, float *rstd, const float *inp, const tfm_norm *w, int n);
ti_err tfm_cpu_linear(void *ctx, float *out, const float *inp, const tfm_lin *w, int n, ti_act act);
ti_err tfm_cpu_add(void *ctx, float *out, const float *a, const float *b, size_t n);
ti_err tfm_cpu_act(void *ctx, float *out, const float *inp, size_t n, ti_act act);

#endif
