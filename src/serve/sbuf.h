/* tickinfer serve: growable byte buffer with a hard cap (internal).
 *
 * Request and response bodies live in these.  A buffer keeps its memory across requests
 * (ti_sbuf_clear resets the length only), so after warm-up the hot path does not
 * allocate; `cap` bounds what one request can make it grow to. */
#ifndef TICKINFER_SERVE_SBUF_H
#define TICKINFER_SERVE_SBUF_H

#include <stddef.h>

#include "tickinfer/err.h"

typedef struct ti_sbuf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len, alloc, cap;
} ti_sbuf;

void ti_sbuf_init(ti_sbuf *b, size_t cap);
void ti_sbuf_free(ti_sbuf *b);
static inline void ti_sbuf_clear(ti_sbuf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}
/* Room for len + extra bytes (+ the NUL); TI_ERR_LIMIT past cap, TI_ERR_NOMEM. */
ti_err ti_sbuf_reserve(ti_sbuf *b, size_t extra);
ti_err ti_sbuf_append(ti_sbuf *b, const void *data, size_t n);
ti_err ti_sbuf_puts(ti_sbuf *b, const char *s);
ti_err ti_sbuf_printf(ti_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal with escapes. */
ti_err ti_sbuf_json_str(ti_sbuf *b, const char *s);
/* Comma-separated floats as JSON numbers with 9 significant digits (round-trip exact);
 * non-finite values are written as 0 (callers only format finite model outputs). */
ti_err ti_sbuf_floats(ti_sbuf *b, const float *v, size_t n);
/* One float into p[24]; returns the length (no NUL). */
size_t ti_format_float(char *p, float f);

#endif
