/* tickinfer: configuration files (JSON, via jansson).
 *
 * A config is a JSON object; values are read by dotted path ("train.lr") with a
 * default, and type errors name the path and the file:
 *   "config train.json: 'train.lr' must be a number, got string".
 * Unknown keys can be rejected with ti_config_check_keys (typos should not pass
 * silently).  Duplicate keys are a parse error; keys containing '.' cannot be
 * addressed by path. */
#ifndef TICKINFER_CONFIG_H
#define TICKINFER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_config ti_config;

/* Files are capped at 16 MiB (TI_ERR_LIMIT); the top level must be an object. */
ti_err ti_config_load(ti_config **out, const char *path);
/* Parse from memory (name is used in messages). */
ti_err ti_config_parse(ti_config **out, const char *text, size_t len, const char *name);
void ti_config_destroy(ti_config *c);

/* Missing key (or missing parent object) -> *out = def, TI_OK.  Wrong type (null
 * included, or a path through a non-object) -> TI_ERR_FORMAT.  get_int accepts a real
 * that is a whole number in range (1e6); get_double accepts integers.  */
ti_err ti_config_get_int(const ti_config *c, const char *path, int64_t def, int64_t *out);
ti_err ti_config_get_double(const ti_config *c, const char *path, double def, double *out);
ti_err ti_config_get_bool(const ti_config *c, const char *path, int def, int *out);
/* The string is owned by the config. */
ti_err ti_config_get_string(const ti_config *c, const char *path, const char *def, const char **out);

/* Fail (TI_ERR_FORMAT) if the object at `path` ("" = root) has a key not in the
 * NULL-terminated `allowed` list; the message names the key and suggests the closest
 * allowed one by edit distance ("did you mean 'epochs'?"), or lists the allowed keys
 * when none is close.  A missing object passes. */
ti_err ti_config_check_keys(const ti_config *c, const char *path, const char *const *allowed);

#ifdef __cplusplus
}
#endif
#endif
