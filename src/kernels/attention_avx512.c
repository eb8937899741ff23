/* Multi-head attention, AVX-512 instantiation of attention_simd.h. */
#include "kernels/simd_avx512.h"
#include "kernels/attention_simd.h"
