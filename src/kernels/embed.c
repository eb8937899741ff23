/* Embeddings: token lookup + learned positions, and position add for continuous inputs.
 * Memory-bound copies and adds; scalar code is as fast as the memory allows. */
#include "kernels/kernels_internal.h"

static ti_err check_tokens(const int32_t *tokens, int B, int T, int V)
{
    for (size_t i = 0; i < (size_t)B * (size_t)T; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return ti_errorf(TI_ERR_RANGE, "embedding: token %d at (b=%zu, t=%zu) outside [0, %d)",
                             (int)tokens[i], i / (size_t)T, i % (size_t)T, V);
    return TI_OK;
}

ti_err ti_embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                            int B, int T, int C, int V)
{
    if (B < 0 || T < 0 || C < 0 || V < 1)
        return ti_errorf(TI_ERR_INVALID_ARG, "embedding: B=%d T=%d C=%d V=%d invalid", B, T, C, V);
    ti_err e = check_tokens(tokens, B, T, V);
    if (e) return e;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *w = wte + (size_t)tokens[(size_t)b * T + t] * C;
            const float *p = wpe ? wpe + (size_t)t * C : NULL;
            for (int c = 0; c < C; c++) o[c] = w[c] + (p ? p[c] : 0.0f);
        }
    return TI_OK;
}

ti_err ti_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                             int B, int T, int C, int V)
{
    if (B < 0 || T < 0 || C < 0 || V < 1)
        return ti_errorf(TI_ERR_INVALID_ARG, "embedding: B=%d T=%d C=%d V=%d invalid", B, T, C, V);
    ti_err e = dwte ? check_tokens(tokens, B, T, V) : TI_OK;
    if (e) return e;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *gw = dwte ? dwte + (size_t)tokens[(size_t)b * T + t] * C : NULL;
            float *gp = dwpe ? dwpe + (size_t)t * C : NULL;
            for (int c = 0; c < C; c++) {
                if (gw) gw[c] += d[c];
                if (gp) gp[c] += d[c];
            }
        }
    return TI_OK;
}

void ti_pos_add_forward(float *out, const float *inp, const float *pos, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const size_t r = ((size_t)b * T + t) * C;
            const float *p = pos + (size_t)t * C;
            for (int c = 0; c < C; c++) out[r + c] = inp[r + c] + p[c];
        }
}

void ti_pos_add_backward(float *dpos, const float *dout, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *p = dpos + (size_t)t * C;
            for (int c = 0; c < C; c++) p[c] += d[c];
        }
}
