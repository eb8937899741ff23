/* Aligned allocation and the arena: alignment, reuse after reset, marks, big blocks,
 * the cap. */
#include <stdint.h>

#include "harness.h"
#include "tickinfer/alloc.h"

static int aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

TI_TEST(malloc_aligned_honours_alignment)
{
    for (size_t a = 1; a <= 4096; a *= 2) {
        unsigned char *p = ti_malloc_aligned(1000, a);
        TI_CHECK(p != NULL);
        if (!p) continue;
        TI_CHECK(aligned(p, a));
        memset(p, 0xAB, 1000);
        ti_free_aligned(p);
    }
    void *z = ti_malloc_aligned(0, 64);
    TI_CHECK(z != NULL); /* size 0: unique pointer, so NULL always means failure */
    ti_free_aligned(z);
    TI_CHECK(ti_malloc_aligned(16, 48) == NULL);
    TI_CHECK(strstr(ti_errmsg(), "power of two") != NULL);
    ti_free_aligned(NULL);
}

TI_TEST(calloc_aligned_zeroes_and_checks_overflow)
{
    uint32_t *p = ti_calloc_aligned(1000, sizeof(uint32_t), 64);
    TI_CHECK(p != NULL && aligned(p, 64));
    if (p) {
        uint32_t or_all = 0;
        for (int i = 0; i < 1000; i++) or_all |= p[i];
        TI_CHECK(or_all == 0);
    }
    ti_free_aligned(p);
    ti_error_clear();
    TI_CHECK(ti_calloc_aligned(SIZE_MAX / 2, 3, 64) == NULL);
    TI_CHECK(strstr(ti_errmsg(), "overflows") != NULL);
}

TI_TEST(arena_allocations_are_aligned_and_disjoint)
{
    ti_arena *a = NULL;
    TI_CHECK_OK(ti_arena_create(&a, 4096, 0));
    if (!a) return;
    enum { N = 300 };
    unsigned char *ptr[N];
    size_t sz[N];
    for (int i = 0; i < N; i++) {
        size_t align = (size_t)1 << (i % 8); /* 1..128 */
        sz[i] = (size_t)(i * 37 % 200) + 1;
        ptr[i] = ti_arena_alloc(a, sz[i], align);
        TI_CHECK(ptr[i] != NULL);
        if (!ptr[i]) return;
        TI_CHECK(aligned(ptr[i], align));
        memset(ptr[i], i & 0xFF, sz[i]);
    }
    /* A later write would have clobbered an overlapping earlier block. */
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sz[i]; k++)
            if (ptr[i][k] != (unsigned char)(i & 0xFF)) {
                TI_FAILF("allocation %d overwritten at byte %zu", i, k);
                k = sz[i], i = N;
            }
    size_t total = 0;
    for (int i = 0; i < N; i++) total += sz[i];
    TI_CHECK(ti_arena_used(a) >= total);
    TI_CHECK(ti_arena_reserved(a) >= ti_arena_used(a));
    unsigned char *d = ti_arena_alloc(a, 8, 0);
    TI_CHECK(d && aligned(d, TI_CACHELINE)); /* 0 = cache line */
    char *s = ti_arena_strdup(a, "hello arena");
    TI_CHECK(s && strcmp(s, "hello arena") == 0);
    ti_arena_destroy(a);
}

TI_TEST(arena_reset_reuses_blocks)
{
    ti_arena *a = NULL;
    TI_CHECK_OK(ti_arena_create(&a, 4096, 0));
    if (!a) return;
    void *first[20];
    for (int i = 0; i < 20; i++) first[i] = ti_arena_alloc(a, 1000, 64);
    size_t reserved = ti_arena_reserved(a);
    TI_CHECK(reserved >= 20 * 1000);
    ti_arena_reset(a);
    TI_CHECK(ti_arena_used(a) == 0);
    TI_CHECK(ti_arena_reserved(a) == reserved);
    for (int i = 0; i < 20; i++) {
        void *p = ti_arena_alloc(a, 1000, 64);
        TI_CHECK(p == first[i]); /* same sequence, same blocks */
    }
    TI_CHECK(ti_arena_reserved(a) == reserved);
    /* calloc must zero memory that was dirty before the reset. */
    memset(first[0], 0xFF, 1000);
    ti_arena_reset(a);
    unsigned char *z = ti_arena_calloc(a, 250, 4, 64);
    TI_CHECK(z == first[0]);
    if (z) {
        int nz = 0;
        for (int i = 0; i < 1000; i++) nz += z[i] != 0;
        TI_CHECK(nz == 0);
    }
    TI_CHECK(ti_arena_calloc(a, SIZE_MAX / 4, 8, 8) == NULL);
    ti_arena_destroy(a);
}

TI_TEST(arena_mark_and_reset_to)
{
    ti_arena *a = NULL;
    TI_CHECK_OK(ti_arena_create(&a, 1024, 0));
    if (!a) return;
    TI_CHECK(ti_arena_alloc(a, 100, 8) != NULL);
    ti_arena_mark m = ti_arena_get_mark(a);
    size_t used_at_mark = ti_arena_used(a);
    void *after = ti_arena_alloc(a, 300, 8);
    for (int i = 0; i < 10; i++) TI_CHECK(ti_arena_alloc(a, 500, 8) != NULL); /* spills over several blocks */
    TI_CHECK(ti_arena_used(a) > used_at_mark + 5000);
    size_t reserved = ti_arena_reserved(a);
    ti_arena_reset_to(a, m);
    TI_CHECK(ti_arena_used(a) == used_at_mark);
    TI_CHECK(ti_arena_reserved(a) == reserved);
    TI_CHECK(ti_arena_alloc(a, 300, 8) == after);
    /* A mark taken on an empty arena resets everything. */
    ti_arena *b = NULL;
    TI_CHECK_OK(ti_arena_create(&b, 0, 0));
    ti_arena_mark m0 = ti_arena_get_mark(b);
    void *p0 = ti_arena_alloc(b, 10, 16);
    TI_CHECK(p0 != NULL);
    ti_arena_reset_to(b, m0);
    TI_CHECK(ti_arena_used(b) == 0);
    TI_CHECK(ti_arena_alloc(b, 10, 16) == p0);
    ti_arena_destroy(b);
    ti_arena_destroy(a);
}

TI_TEST(arena_big_allocation_gets_own_block)
{
    ti_arena *a = NULL;
    TI_CHECK_OK(ti_arena_create(&a, 4096, 0));
    if (!a) return;
    void *small = ti_arena_alloc(a, 100, 8);
    TI_CHECK(small != NULL);
    size_t r0 = ti_arena_reserved(a);
    TI_CHECK(r0 == 4096);
    unsigned char *big = ti_arena_alloc(a, 100000, 64);
    TI_CHECK(big != NULL && aligned(big, 64));
    if (big) memset(big, 1, 100000);
    size_t r1 = ti_arena_reserved(a);
    TI_CHECK(r1 >= r0 + 100000 && r1 < r0 + 100000 + 4096); /* sized to the request, not rounded to blocks */
    ti_arena_destroy(a);
}

TI_TEST(arena_cap_is_enforced)
{
    ti_arena *a = NULL;
    TI_CHECK_OK(ti_arena_create(&a, 4096, 3 * 4096));
    if (!a) return;
    int n_ok = 0;
    ti_error_clear();
    for (int i = 0; i < 100; i++) {
        if (!ti_arena_alloc(a, 1000, 8)) break;
        n_ok++;
    }
    TI_CHECK(n_ok >= 9 && n_ok <= 12);
    TI_CHECK(strstr(ti_errmsg(), "cap") != NULL);
    TI_CHECK(ti_arena_reserved(a) <= 3 * 4096);
    /* Larger than the cap on its own. */
    TI_CHECK(ti_arena_alloc(a, 20000, 8) == NULL);
    /* After a reset the empty blocks are released to make room for a big one. */
    ti_arena_reset(a);
    void *big = ti_arena_alloc(a, 10000, 8);
    TI_CHECK(big != NULL);
    TI_CHECK(ti_arena_reserved(a) <= 3 * 4096);
    ti_arena_destroy(a);
    /* A cap below the block size shrinks the block instead of failing. */
    TI_CHECK_OK(ti_arena_create(&a, 0, 1000));
    TI_CHECK(ti_arena_alloc(a, 500, 8) != NULL);
    TI_CHECK(ti_arena_reserved(a) <= 1000);
    ti_arena_destroy(a);
}

TI_TEST(arena_rejects_bad_arguments)
{
    TI_CHECK_ERR(ti_arena_create(NULL, 0, 0), TI_ERR_INVALID_ARG, "NULL");
    ti_arena *a = NULL;
    TI_CHECK_OK(ti_arena_create(&a, 0, 0));
    TI_CHECK(ti_arena_alloc(a, 8, 24) == NULL);
    TI_CHECK(ti_arena_alloc(a, SIZE_MAX - 8, 64) == NULL);
    TI_CHECK(ti_arena_alloc(NULL, 8, 8) == NULL);
    ti_arena_destroy(a);
    ti_arena_destroy(NULL);
}

int main(void)
{
    TI_RUN(malloc_aligned_honours_alignment);
    TI_RUN(calloc_aligned_zeroes_and_checks_overflow);
    TI_RUN(arena_allocations_are_aligned_and_disjoint);
    TI_RUN(arena_reset_reuses_blocks);
    TI_RUN(arena_mark_and_reset_to);
    TI_RUN(arena_big_allocation_gets_own_block);
    TI_RUN(arena_cap_is_enforced);
    TI_RUN(arena_rejects_bad_arguments);
    return ti_test_summary();
}
