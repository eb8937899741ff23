/* tickinfer serve: a small pull parser for JSON request bodies (internal).
 *
 * Why not jansson: an infer body of [32,600,14] floats is 268,800 numbers; a DOM would
 * allocate a node per number.  This reader walks the text once, never allocates, and
 * streams numeric arrays straight into a caller's float buffer (sv_jr_tensor), with a
 * fast exact path for short decimals.  Strict RFC 8259 grammar; nesting capped at
 * SV_JR_MAX_DEPTH.  Errors come back as TI_ERR_FORMAT (TI_ERR_RANGE for non-finite or
 * out-of-range numbers, TI_ERR_LIMIT for caps) with the byte offset in ti_errmsg:
 *   "json: byte 17: expected ':' after object key". */
#ifndef TICKINFER_SERVE_JSON_READ_H
#define TICKINFER_SERVE_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#define SV_JR_MAX_DEPTH 64

typedef struct sv_jr {
    const char *base, *p, *end;
    int depth;
    unsigned char count[SV_JR_MAX_DEPTH]; /* members seen at each open level (saturating) */
} sv_jr;

void sv_jr_init(sv_jr *r, const char *text, size_t len);
/* Next significant char without consuming it ('{', '[', '"', 't', 'f', 'n', '-', digit);
 * TI_ERR_FORMAT at the end of input. */
ti_err sv_jr_peek(sv_jr *r, char *c);
/* Objects: begin consumes '{'; next gives the next key (decoded into key[cap], NUL-ended)
 * with *more = 1, or consumes '}' and sets *more = 0. */
ti_err sv_jr_obj_begin(sv_jr *r);
ti_err sv_jr_obj_next(sv_jr *r, char *key, size_t cap, int *more);
/* Arrays: begin consumes '['; next sets *more = 1 before each element, 0 after ']'. */
ti_err sv_jr_arr_begin(sv_jr *r);
ti_err sv_jr_arr_next(sv_jr *r, int *more);
ti_err sv_jr_string(sv_jr *r, char *buf, size_t cap, size_t *len); /* len may be NULL */
ti_err sv_jr_number(sv_jr *r, double *v);
ti_err sv_jr_int(sv_jr *r, int64_t *v); /* a number that is a whole value in int64 */
ti_err sv_jr_bool(sv_jr *r, int *v);
ti_err sv_jr_skip(sv_jr *r); /* any value */
/* Only whitespace may remain. */
ti_err sv_jr_finish(sv_jr *r);

/* A numeric array of up to max_ndim nesting levels (a bare number is 0-d), rectangular,
 * finite values, into out[cap] as float (C order).  shape[max_ndim] and *ndim receive the
 * nested shape, *n the count.  TI_ERR_LIMIT past cap elements. */
ti_err sv_jr_tensor(sv_jr *r, float *out, size_t cap, int max_ndim, int64_t *shape, int *ndim,
                    size_t *n);

/* Parse one JSON number at s[0..len) (the whole span); used by the tensor reader and tests. */
ti_err sv_json_parse_number(const char *s, size_t len, double *v);

#endif
