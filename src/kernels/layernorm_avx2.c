/* Layer norm, AVX2 + FMA instantiation of layernorm_simd.h. */
#include "kernels/simd_avx2.h"
#include "kernels/layernorm_simd.h"
