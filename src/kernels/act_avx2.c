/* Elementwise ops, AVX2 + FMA instantiation of act_simd.h. */
#include "kernels/simd_avx2.h"
#include "kernels/act_simd.h"
