/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): a byte-table version and an
 * SSE4.2 version using the crc32 instruction, picked once at run time.  The SSE4.2
 * function is compiled with a target attribute so the rest of the library stays
 * portable. */
#include "core/crc32c_impl.h"

#include <pthread.h>
#include <string.h>

#include "tickinfer/cpu.h"
#include "tickinfer/fileio.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_SSE42_PATH 1
#else
#define HAVE_SSE42_PATH 0
#endif

#define POLY 0x82F63B78u

static uint32_t g_table[256];
static pthread_once_t g_table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
        g_table[i] = c;
    }
}

uint32_t ti_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&g_table_once, build_table);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    for (size_t i = 0; i < len; i++) c = g_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return ~c;
}

#if HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) uint32_t ti_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    /* Bytes up to an 8-byte boundary, then 8 at a time (memcpy: no unaligned or
     * aliasing UB; it compiles to one load), then the tail. */
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    return ~(uint32_t)c;
}

int ti_crc32c_hw_available(void) { return ti_cpu_get()->has_sse42; }
#else
uint32_t ti_crc32c_hw(uint32_t crc, const void *data, size_t len) { return ti_crc32c_sw(crc, data, len); }
int ti_crc32c_hw_available(void) { return 0; }
#endif

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static crc_fn g_crc;
static pthread_once_t g_pick_once = PTHREAD_ONCE_INIT;

static void pick(void) { g_crc = ti_crc32c_hw_available() ? ti_crc32c_hw : ti_crc32c_sw; }

uint32_t ti_crc32c(uint32_t crc, const void *data, size_t len)
{
    if (len == 0) return crc;
    pthread_once(&g_pick_once, pick);
    return g_crc(crc, data, len);
}
