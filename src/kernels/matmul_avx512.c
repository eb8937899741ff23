/* Linear layer, AVX-512 instantiation of matmul_simd.h (12 x 32 micro-tile). */
#include "kernels/simd_avx512.h"
#include "kernels/matmul_simd.h"
