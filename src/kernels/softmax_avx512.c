/* Row-wise softmax, AVX-512 instantiation of softmax_simd.h. */
#include "kernels/simd_avx512.h"
#include "kernels/softmax_simd.h"
