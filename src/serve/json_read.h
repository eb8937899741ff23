/* tickinfer serve: a small pull parser for JSON request bodies (internal).
 *
 * Why not jansson: an infer body of [32,600,14] floats is 268,800 numbers; a DOM would
 * allocate a node per number.  This reader walks the text once, never allocates, and
 * streams numeric arrays straight into a caller's float buffer (ti_jr_tensor), with a
 * fast exact path for short decimals.  Strict RFC 8259 grammar; nesting capped at
 * TI_JR_MAX_DEPTH.  Errors come back as TI_ERR_FORMAT (TI_ERR_RANGE for non-finite or
 * out-of-range numbers, TI_ERR_LIMIT for caps) with the byte offset in ti_errmsg:
 *   "json: byte 17: expected ':' after object key". */
#ifndef TICKINFER_SERVE_JSON_READ_H
#define TICKINFER_SERVE_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#define TI_JR_MAX_DEPTH 64

typedef struct ti_jr {
    const char *base, *p, *end;
    int depth;
    unsigned char count[TI_JR_MAX_DEPTH]; /* members seen at each open level (saturating) */
} ti_jr;

void ti_jr_init(ti_jr *r, const char *text, size_t len);
/* Next significant char without consuming it ('{', '[', '"', 't', 'f', 'n', '-', digit);
 * TI_ERR_FORMAT at the end of input. */
ti_err ti_jr_peek(ti_jr *r, char *c);
/* Objects: begin consumes '{'; next gives the next key (decoded into key[cap], NUL-ended)
 * with *more = 1, or consumes '}' and sets *more = 0. */
ti_err ti_jr_obj_begin(ti_jr *r);
ti_err ti_jr_obj_next(ti_jr *r, char *key, size_t cap, int *more);
/* Arrays: begin consumes '['; next sets *more = 1 before each element, 0 after ']'. */
ti_err ti_jr_arr_begin(ti_jr *r);
ti_err ti_jr_arr_next(ti_jr *r, int *more);
ti_err ti_jr_string(ti_jr *r, char *buf, size_t cap, size_t *len); /* len may be NULL */
ti_err ti_jr_number(ti_jr *r, double *v);
ti_err ti_jr_int(ti_jr *r, int64_t *v); /* a number that is a whole value in int64 */
ti_err ti_jr_bool(ti_jr *r, int *v);
ti_err ti_jr_skip(ti_jr *r); /* any value */
/* Only whitespace may remain. */
ti_err ti_jr_finish(ti_jr *r);

/* A numeric array of up to max_ndim nesting levels (a bare number is 0-d), rectangular,
 * finite values, into out[cap] as float (C order).  shape[max_ndim] and *ndim receive the
 * nested shape, *n the count.  TI_ERR_LIMIT past cap elements. */
ti_err ti_jr_tensor(ti_jr *r, float *out, size_t cap, int max_ndim, int64_t *shape, int *ndim,
                    size_t *n);

/* Parse one JSON number at s[0..len) (the whole span); used by the tensor reader and tests. */
ti_err ti_json_parse_number(const char *s, size_t len, double *v);

#endif
