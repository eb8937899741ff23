/* tickinfer serve: growable byte buffer with a hard cap (internal).
 *
 * Request and response bodies live in these.  A buffer keeps its memory across requests
 * (sv_sbuf_clear resets the length only), so after warm-up the hot path does not
 * allocate; `cap` bounds what one request can make it grow to. */
#ifndef TICKINFER_SERVE_SBUF_H
#define TICKINFER_SERVE_SBUF_H

#include <stddef.h>

#include "tickinfer/err.h"

typedef struct sv_sbuf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len, alloc, cap;
} sv_sbuf;

void sv_sbuf_init(sv_sbuf *b, size_t cap);
void sv_sbuf_free(sv_sbuf *b);
static inline void sv_sbuf_clear(sv_sbuf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}
/* Room for len + extra bytes (+ the NUL); TI_ERR_LIMIT past cap, TI_ERR_NOMEM. */
ti_err sv_sbuf_reserve(sv_sbuf *b, size_t extra);
ti_err sv_sbuf_append(sv_sbuf *b, const void *data, size_t n);
ti_err sv_sbuf_puts(sv_sbuf *b, const char *s);
ti_err sv_sbuf_printf(sv_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal with escapes. */
ti_err sv_sbuf_json_str(sv_sbuf *b, const char *s);
/* Comma-separated floats as JSON numbers with 9 significant digits (round-trip exact);
 * non-finite values are written as 0 (callers only format finite model outputs). */
ti_err sv_sbuf_floats(sv_sbuf *b, const float *v, size_t n);
/* One float into p[24]; returns the length (no NUL). */
size_t sv_format_float(char *p, float f);

#endif
