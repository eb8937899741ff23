/* Row-wise softmax, AVX2 + FMA instantiation of softmax_simd.h. */
#include "kernels/simd_avx2.h"
#include "kernels/softmax_simd.h"
