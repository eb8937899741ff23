/* Task-queue kernels, AVX-512 instantiation of taskq_simd.h. */
#include "kernels/simd_avx512.h"
#include "kernels/taskq/taskq_simd.h"
