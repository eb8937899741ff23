/* AdamW step, AVX2 + FMA instantiation of adamw_simd.h. */
#include "kernels/simd_avx2.h"
#include "kernels/adamw_simd.h"
