/* UBJSON (Universal Binary JSON, ubjson.org draft 12) decoded into a jansson value, so the
 * readers of JSON documents (XGBoost models) read both encodings through one code path.
 * Big-endian numbers; optimized containers ('$' type, '#' count) are expanded; 'H'
 * high-precision numbers become reals; 'N' no-ops are skipped.  Every count is checked
 * against the bytes left, nesting is limited, and errors say what is wrong at which
 * offset. */
#ifndef TICKINFER_FORMATS_UBJSON_H
#define TICKINFER_FORMATS_UBJSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#define TI_UBJSON_MAX_DEPTH 64

ti_err ti_ubjson_parse(json_t **out, const uint8_t *data, size_t len, const char *label);

#endif
