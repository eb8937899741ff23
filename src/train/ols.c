/* Ordinary least squares via normal equations + Gaussian elimination (small k). */
#include <math.h>
#include <string.h>

#include "tickinfer/baseline.h"

ti_err ti_ols(double *b, const double *X, const double *y, size_t n, int k)
{
    if (k < 1 || k > 16) return ti_errorf(TI_ERR_INVALID_ARG, "ols: %d coefficients, 1..16 supported", k);
    if (n < (size_t)k) return ti_errorf(TI_ERR_RANGE, "ols: %zu rows for %d coefficients", n, k);
    double A[16][17];
    memset(A, 0, sizeof A);
    for (size_t r = 0; r < n; r++) {
        const double *x = X + r * (size_t)k;
        for (int i = 0; i < k; i++) {
            for (int j = i; j < k; j++) A[i][j] += x[i] * x[j];
            A[i][k] += x[i] * y[r];
        }
    }
    for (int i = 0; i < k; i++)
        for (int j = 0; j < i; j++) A[i][j] = A[j][i];
    double scale = 0;
    for (int i = 0; i < k; i++)
        if (A[i][i] > scale) scale = A[i][i];
    /* Gaussian elimination with partial pivoting on [A | X^T y]. */
    for (int c = 0; c < k; c++) {
        int p = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(A[r][c]) > fabs(A[p][c])) p = r;
        if (!(fabs(A[p][c]) > 1e-13 * scale))
            return ti_errorf(TI_ERR_RANGE, "ols: design matrix is singular (column %d is a combination of others)", c);
        if (p != c)
            for (int j = 0; j <= k; j++) {
                double t = A[c][j];
                A[c][j] = A[p][j];
                A[p][j] = t;
            }
        for (int r = c + 1; r < k; r++) {
            double f = A[r][c] / A[c][c];
            for (int j = c; j <= k; j++) A[r][j] -= f * A[c][j];
        }
    }
    for (int i = k - 1; i >= 0; i--) {
        double s = A[i][k];
        for (int j = i + 1; j < k; j++) s -= A[i][j] * b[j];
        b[i] = s / A[i][i];
    }
    return TI_OK;
}
