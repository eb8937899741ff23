/* Elementwise ops, AVX-512 instantiation of act_simd.h. */
#include "kernels/simd_avx512.h"
#include "kernels/act_simd.h"
