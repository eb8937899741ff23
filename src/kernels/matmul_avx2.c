/* Linear layer, AVX2 + FMA instantiation of matmul_simd.h (6 x 16 micro-tile). */
#include "kernels/simd_avx2.h"
#include "kernels/matmul_simd.h"
