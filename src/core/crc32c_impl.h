/* Internal: the two CRC-32C implementations behind ti_crc32c (fileio.h), exposed so
 * tests can check them against each other.  Both take and return the finalised value
 * (start with 0, chain by passing the previous result), like ti_crc32c. */
#ifndef TICKINFER_CORE_CRC32C_IMPL_H
#define TICKINFER_CORE_CRC32C_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Portable table-driven version. */
uint32_t ti_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* SSE4.2 crc32 instruction version; call only when ti_crc32c_hw_available(). */
uint32_t ti_crc32c_hw(uint32_t crc, const void *data, size_t len);
int ti_crc32c_hw_available(void);

#endif
