/* JSON configuration files; see include/tickinfer/config.h.
 *
 * A thin layer over jansson: the parsed tree plus the name used in messages.  Paths are
 * split on '.' without copying (json_object_getn), so keys containing '.' cannot be
 * addressed. */
#include "tickinfer/config.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/fileio.h"

#define MAX_CONFIG_BYTES ((size_t)16 << 20)
#define MAX_KEY_FOR_DISTANCE 64

struct ti_config {
    json_t *root;
    char *name;
};

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

ti_err ti_config_parse(ti_config **out, const char *text, size_t len, const char *name)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "config: NULL output pointer");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!text && len) return ti_errorf(TI_ERR_INVALID_ARG, "config %s: NULL text", name);
    if (len > MAX_CONFIG_BYTES)
        return ti_errorf(TI_ERR_LIMIT, "config %s: %zu bytes, more than the limit of %zu", name, len, MAX_CONFIG_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return ti_errorf(TI_ERR_FORMAT, "config %s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        ti_err e = ti_errorf(TI_ERR_FORMAT, "config %s: top level must be a JSON object, got %s", name, type_name(root));
        json_decref(root);
        return e;
    }
    ti_config *c = calloc(1, sizeof *c);
    char *nm = strdup(name);
    if (!c || !nm) {
        free(c);
        free(nm);
        json_decref(root);
        return ti_errorf(TI_ERR_NOMEM, "config %s: out of memory", name);
    }
    c->root = root;
    c->name = nm;
    *out = c;
    return TI_OK;
}

ti_err ti_config_load(ti_config **out, const char *path)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "config: NULL output pointer");
    *out = NULL;
    if (!path) return ti_errorf(TI_ERR_INVALID_ARG, "config: NULL path");
    char *text = NULL;
    size_t len = 0;
    ti_err e = ti_read_file(path, MAX_CONFIG_BYTES, &text, &len);
    if (e) return ti_error_wrap(e, "config");
    e = ti_config_parse(out, text, len, path);
    free(text);
    return e;
}

void ti_config_destroy(ti_config *c)
{
    if (!c) return;
    json_decref(c->root);
    free(c->name);
    free(c);
}

/* Find the value at a dotted path ("" = root).  *v = NULL when a key is missing;
 * TI_ERR_FORMAT when a step goes through something that is not an object. */
static ti_err lookup(const ti_config *c, const char *path, json_t **v, const void *out)
{
    *v = NULL;
    if (!c || !path || !out) return ti_errorf(TI_ERR_INVALID_ARG, "config: NULL config, path or output");
    json_t *cur = c->root;
    const char *p = path;
    while (*p) {
        size_t n = strcspn(p, ".");
        if (n == 0) return ti_errorf(TI_ERR_INVALID_ARG, "config %s: empty segment in path '%s'", c->name, path);
        if (!json_is_object(cur))
            return ti_errorf(TI_ERR_FORMAT, "config %s: '%.*s' must be an object, got %s", c->name, (int)(p - path - 1), path,
                             type_name(cur));
        cur = json_object_getn(cur, p, n);
        if (!cur) return TI_OK;
        p += n;
        if (*p == '.') {
            p++;
            if (!*p) return ti_errorf(TI_ERR_INVALID_ARG, "config %s: path '%s' ends with '.'", c->name, path);
        }
    }
    *v = cur;
    return TI_OK;
}

static ti_err wrong_type(const ti_config *c, const char *path, const char *want, const json_t *v)
{
    return ti_errorf(TI_ERR_FORMAT, "config %s: '%s' must be %s, got %s", c->name, path, want, type_name(v));
}

ti_err ti_config_get_int(const ti_config *c, const char *path, int64_t def, int64_t *out)
{
    json_t *v;
    ti_err e = lookup(c, path, &v, out);
    if (e) return e;
    if (!v) {
        *out = def;
        return TI_OK;
    }
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return TI_OK;
    }
    /* 1e6 parses as a real; accept it when it is a whole number in range. */
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -0x1p63 && d < 0x1p63) {
            *out = (int64_t)d;
            return TI_OK;
        }
        return ti_errorf(TI_ERR_FORMAT, "config %s: '%s' must be an integer, got %g", c->name, path, d);
    }
    return wrong_type(c, path, "an integer", v);
}

ti_err ti_config_get_double(const ti_config *c, const char *path, double def, double *out)
{
    json_t *v;
    ti_err e = lookup(c, path, &v, out);
    if (e) return e;
    if (!v) *out = def;
    else if (json_is_number(v)) *out = json_number_value(v);
    else return wrong_type(c, path, "a number", v);
    return TI_OK;
}

ti_err ti_config_get_bool(const ti_config *c, const char *path, int def, int *out)
{
    json_t *v;
    ti_err e = lookup(c, path, &v, out);
    if (e) return e;
    if (!v) *out = def;
    else if (json_is_boolean(v)) *out = json_is_true(v);
    else return wrong_type(c, path, "true or false", v);
    return TI_OK;
}

ti_err ti_config_get_string(const ti_config *c, const char *path, const char *def, const char **out)
{
    json_t *v;
    ti_err e = lookup(c, path, &v, out);
    if (e) return e;
    if (!v) *out = def;
    else if (json_is_string(v)) *out = json_string_value(v);
    else return wrong_type(c, path, "a string", v);
    return TI_OK;
}

/* Levenshtein distance, case-insensitive; long keys are compared on their first
 * MAX_KEY_FOR_DISTANCE bytes (a suggestion is a hint, not a proof). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, MAX_KEY_FOR_DISTANCE), lb = strnlen(b, MAX_KEY_FOR_DISTANCE);
    size_t row[MAX_KEY_FOR_DISTANCE + 1];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t best = diag + (same ? 0 : 1);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

ti_err ti_config_check_keys(const ti_config *c, const char *path, const char *const *allowed)
{
    if (!allowed) return ti_errorf(TI_ERR_INVALID_ARG, "config: NULL allowed-key list");
    json_t *obj;
    ti_err e = lookup(c, path, &obj, allowed);
    if (e) return e;
    if (!obj) return TI_OK; /* a missing section has no unknown keys */
    if (!json_is_object(obj)) return wrong_type(c, *path ? path : "(top level)", "an object", obj);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        (void)val;
        const char *best = NULL;
        size_t best_d = (size_t)-1;
        int known = 0;
        for (const char *const *k = allowed; *k; k++) {
            if (strcmp(key, *k) == 0) {
                known = 1;
                break;
            }
            size_t d = edit_distance(key, *k);
            if (d < best_d) {
                best_d = d;
                best = *k;
            }
        }
        if (known) continue;
        const char *dot = *path ? "." : "";
        /* Suggest only near misses: about one edit per three characters. */
        size_t len = strlen(key);
        if (best && best_d <= (len < 3 ? 1 : len / 3 + 1))
            return ti_errorf(TI_ERR_FORMAT, "config %s: unknown key '%s%s%s' (did you mean '%s'?)", c->name, path, dot, key,
                             best);
        char list[256];
        size_t n = 0;
        list[0] = '\0';
        for (const char *const *k = allowed; *k && n + 1 < sizeof list; k++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *k);
            if (w < 0) break;
            n += (size_t)w;
        }
        return ti_errorf(TI_ERR_FORMAT, "config %s: unknown key '%s%s%s' (allowed: %s)", c->name, path, dot, key,
                         list[0] ? list : "none");
    }
    return TI_OK;
}
