/* tickinfer: file I/O helpers: atomic writes, whole-file reads, mmap, checksums.
 *
 * Writers never leave a half-written file under the final name: they write
 * "<path>.tmp.<pid>", fsync it, rename it over <path>, and fsync the directory.
 * On any failure the temp file is removed and the old <path> (if any) is untouched.
 * One process must not write the same path from two threads at once (same temp name). */
#ifndef TICKINFER_FILEIO_H
#define TICKINFER_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_atomic_file ti_atomic_file;

ti_err ti_atomic_open(ti_atomic_file **out, const char *path);
ti_err ti_atomic_write(ti_atomic_file *f, const void *data, size_t len);
/* Current byte offset (= bytes written so far). */
uint64_t ti_atomic_offset(const ti_atomic_file *f);
/* Pad with zero bytes up to a multiple of `alignment`. */
ti_err ti_atomic_pad(ti_atomic_file *f, size_t alignment);
/* Overwrite bytes already written at `offset` (e.g. a header patched at the end);
 * [offset, offset + len) must lie within the bytes written (TI_ERR_INVALID_ARG). */
ti_err ti_atomic_pwrite(ti_atomic_file *f, const void *data, size_t len, uint64_t offset);
/* fsync + rename + fsync(dir); frees f.  Refuses (and removes the temp) if any
 * earlier write on f failed. */
ti_err ti_atomic_commit(ti_atomic_file *f);
/* Remove the temp file; frees f.  Safe on NULL. */
void ti_atomic_abort(ti_atomic_file *f);

/* Write a whole buffer atomically. */
ti_err ti_write_file_atomic(const char *path, const void *data, size_t len);
/* Read a whole file into a malloc'd buffer (NUL-terminated for convenience; *len
 * excludes the NUL).  max_len caps the size (0 = 1 GiB; larger -> TI_ERR_LIMIT).
 * A missing file is TI_ERR_NOT_FOUND.  Works on pipes and procfs files too. */
ti_err ti_read_file(const char *path, size_t max_len, char **data, size_t *len);

/* Read-only memory map of a whole regular file.  An empty file gives size 0 and a
 * non-NULL data pointer.  ti_mmap_close resets the struct (safe to call twice). */
typedef struct ti_mmap {
    const uint8_t *data;
    size_t size;
} ti_mmap;
ti_err ti_mmap_open(ti_mmap *m, const char *path);
void ti_mmap_close(ti_mmap *m);

/* CRC-32C (Castagnoli), hardware-accelerated when SSE4.2 is present.  Start with
 * crc = 0; chain by passing the previous result. */
uint32_t ti_crc32c(uint32_t crc, const void *data, size_t len);

/* mkdir -p (existing directories are fine; a file in the way is TI_ERR_IO). */
ti_err ti_mkdirs(const char *path);

#ifdef __cplusplus
}
#endif
#endif
