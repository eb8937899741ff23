/* Multi-head attention, AVX2 + FMA instantiation of attention_simd.h. */
#include "kernels/simd_avx2.h"
#include "kernels/attention_simd.h"
