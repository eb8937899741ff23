/* AdamW step, AVX-512 instantiation of adamw_simd.h. */
#include "kernels/simd_avx512.h"
#include "kernels/adamw_simd.h"
