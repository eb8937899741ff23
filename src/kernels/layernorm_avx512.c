/* Layer norm, AVX-512 instantiation of layernorm_simd.h. */
#include "kernels/simd_avx512.h"
#include "kernels/layernorm_simd.h"
