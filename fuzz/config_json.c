/* Fuzz driver for the JSON config reader: parse, then exercise every getter on a few
 * paths (present, nested, missing, through non-objects) and the unknown-key check.
 * Anything but a clean error or a value is a bug; getters must never crash, and a
 * successful string read must point at a NUL-terminated string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ti_config *c = NULL;
    if (ti_config_parse(&c, (const char *)data, size, "fuzz.json") != TI_OK) {
        if (c) abort(); /* failure must not hand out an object */
        return 0;
    }
    static const char *const paths[] = {"a", "a.b", "a.b.c", "train.lr", "model", "x.y.z.w", "", "0", "a..b", "a."};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int64_t iv;
        double dv;
        int bv;
        const char *sv = NULL;
        (void)ti_config_get_int(c, paths[i], 0, &iv);
        (void)ti_config_get_double(c, paths[i], 0, &dv);
        (void)ti_config_get_bool(c, paths[i], 0, &bv);
        if (ti_config_get_string(c, paths[i], "default", &sv) == TI_OK && (!sv || strlen(sv) > size + 7)) abort();
    }
    static const char *const allowed[] = {"a", "train", "model", "lr", "epochs", NULL};
    (void)ti_config_check_keys(c, "", allowed);
    (void)ti_config_check_keys(c, "a", allowed);
    (void)ti_config_check_keys(c, "train", allowed);
    ti_config_destroy(c);
    return 0;
}
