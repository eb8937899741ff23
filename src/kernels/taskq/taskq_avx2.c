/* Task-queue kernels, AVX2 + FMA instantiation of taskq_simd.h. */
#include "kernels/simd_avx2.h"
#include "kernels/taskq/taskq_simd.h"
