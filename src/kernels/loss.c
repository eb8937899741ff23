/* Losses for realised-volatility targets, in double (n is a batch, so cost is nil, and
 * the mean of many small squares is where fp32 would lose digits). */
#include "kernels/kernels_internal.h"

ti_err ti_loss_mse(double *loss, float *dpred, const float *pred, const float *target, size_t n,
                   float dscale)
{
    if (n == 0) return ti_errorf(TI_ERR_INVALID_ARG, "loss mse: empty batch");
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)target[i];
        acc += d * d;
    }
    *loss = acc / (double)n;
    if (dpred)
        for (size_t i = 0; i < n; i++)
            dpred[i] = (float)((double)dscale * 2.0 * ((double)pred[i] - (double)target[i]) / (double)n);
    return TI_OK;
}

/* d/dyhat sqrt(mean(r^2)) with r = (y - yhat)/y is -r / (y * n * loss). */
ti_err ti_loss_rmspe(double *loss, float *dpred, const float *pred, const float *target, size_t n,
                     float dscale)
{
    if (n == 0) return ti_errorf(TI_ERR_INVALID_ARG, "loss rmspe: empty batch");
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double y = target[i];
        if (y == 0.0 || !isfinite(y))
            return ti_errorf(TI_ERR_RANGE, "loss rmspe: target[%zu] = %g (must be finite, non-zero)",
                             i, y);
        double r = (y - (double)pred[i]) / y;
        acc += r * r;
    }
    const double l = sqrt(acc / (double)n);
    *loss = l;
    if (dpred)
        for (size_t i = 0; i < n; i++) {
            double y = target[i], r = (y - (double)pred[i]) / y;
            dpred[i] = l > 0.0 ? (float)((double)dscale * -r / (y * (double)n * l)) : 0.0f;
        }
    return TI_OK;
}
