/* Minimal read-only ZIP archive reader over an in-memory buffer (private to src/model/).
 *
 * Enough for torch.save archives: central directory (ZIP64 included), STORED and DEFLATE
 * entries, CRC-32 check.  No encryption, no multi-disk archives.  Every offset and size
 * read from the archive is bounds-checked against the buffer. */
#ifndef TICKINFER_MODEL_ZIP_READER_H
#define TICKINFER_MODEL_ZIP_READER_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#define TI_ZIP_MAX_ENTRIES 1000000

typedef struct ti_zip_entry {
    const char *name;      /* NUL-terminated copy of the entry name */
    uint64_t data_offset;  /* start of the (compressed) bytes in the archive buffer */
    uint64_t csize, usize; /* compressed / uncompressed sizes */
    uint32_t crc32;
    uint16_t method;       /* 0 = STORED, 8 = DEFLATE */
} ti_zip_entry;

typedef struct ti_zip {
    const uint8_t *buf; /* not owned */
    size_t size;
    const char *label;  /* not owned; names the archive in messages */
    ti_zip_entry *entries;
    size_t n;
    char *names;        /* storage for all entry names */
    size_t *by_name;    /* entry indices sorted by (name, index), for ti_zip_find */
} ti_zip;

/* Parse the central directory of the archive in buf[0..size).  buf and label must
 * outlive z.  TI_ERR_FORMAT for a malformed archive, TI_ERR_UNSUPPORTED for encryption,
 * multi-disk archives or compression methods other than STORED/DEFLATE. */
ti_err ti_zip_open(ti_zip *z, const uint8_t *buf, size_t size, const char *label);
void ti_zip_close(ti_zip *z);

/* First entry (in directory order) with this exact name, or NULL.  O(log n). */
const ti_zip_entry *ti_zip_find(const ti_zip *z, const char *name);

/* Contents of an entry.  STORED entries point into the archive (*owned = NULL);
 * DEFLATE entries are inflated into a malloc'd buffer returned in *owned (free it).
 * The CRC-32 is verified (TI_ERR_CORRUPT on mismatch); entries larger than max_size
 * give TI_ERR_LIMIT. */
ti_err ti_zip_read(const ti_zip *z, const ti_zip_entry *e, uint64_t max_size, const uint8_t **data, size_t *len,
                   uint8_t **owned);

#endif
