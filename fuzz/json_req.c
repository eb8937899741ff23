/* Fuzz driver for the request JSON reader (src/serve/json_read.c): the tensor reader, a
 * generic walk (skip), and the number parser, on the same bytes.  Checks invariants a
 * bug would break: a successful tensor read reports a rectangular shape whose product is
 * the count, within the buffer; a failure always leaves a message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    static float buf[4096];
    int64_t shape[4];
    int ndim;
    size_t n;
    sv_jr r;
    sv_jr_init(&r, s, size);
    ti_err e = sv_jr_tensor(&r, buf, sizeof buf / sizeof buf[0], 4, shape, &ndim, &n);
    if (e == TI_OK) {
        size_t prod = 1;
        for (int i = 0; i < ndim; i++) prod *= (size_t)shape[i];
        if (ndim < 0 || ndim > 4 || prod != n || n > sizeof buf / sizeof buf[0]) abort();
        for (size_t i = 0; i < n; i++)
            if (!isfinite(buf[i])) abort();
    } else if (!ti_errmsg()[0]) {
        abort();
    }
    sv_jr_init(&r, s, size);
    if (sv_jr_skip(&r) == TI_OK) (void)sv_jr_finish(&r);
    /* An object walk with keys, as the request parsers do. */
    sv_jr_init(&r, s, size);
    char key[16];
    int more;
    if (sv_jr_obj_begin(&r) == TI_OK)
        while (sv_jr_obj_next(&r, key, sizeof key, &more) == TI_OK && more)
            if (sv_jr_skip(&r) != TI_OK) break;
    double v;
    (void)sv_json_parse_number(s, size < 600 ? size : 600, &v);
    return 0;
}
