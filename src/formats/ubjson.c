/* UBJSON -> jansson (see ubjson.h). */
#include "formats/ubjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ub {
    const uint8_t *p;
    size_t n, i;
    const char *label;
} ub;

static ti_err bad(const ub *u, const char *what)
{
    return ti_errorf(TI_ERR_FORMAT, "%s: UBJSON: %s at byte %zu", u->label, what, u->i);
}

static int need(const ub *u, size_t k) { return u->n - u->i >= k; }

static uint64_t be(const uint8_t *p, int k)
{
    uint64_t v = 0;
    for (int j = 0; j < k; j++) v = v << 8 | p[j];
    return v;
}

/* An integer of type marker t (i U I l L) into *v. */
static ti_err read_int(ub *u, uint8_t t, int64_t *v)
{
    int k;
    switch (t) {
    case 'i': case 'U': k = 1; break;
    case 'I': k = 2; break;
    case 'l': k = 4; break;
    case 'L': k = 8; break;
    default: return bad(u, "expected an integer type marker");
    }
    if (!need(u, (size_t)k)) return bad(u, "truncated integer");
    const uint64_t r = be(u->p + u->i, k);
    u->i += (size_t)k;
    switch (t) {
    case 'i': *v = (int8_t)r; break;
    case 'U': *v = (uint8_t)r; break;
    case 'I': *v = (int16_t)r; break;
    case 'l': *v = (int32_t)r; break;
    default: *v = (int64_t)r; break;
    }
    return TI_OK;
}

static ti_err read_len(ub *u, int64_t *n)
{
    if (!need(u, 1)) return bad(u, "truncated length");
    const uint8_t t = u->p[u->i++];
    ti_err e = read_int(u, t, n);
    if (e) return e;
    if (*n < 0) return bad(u, "negative length");
    return TI_OK;
}

/* Bytes a value of fixed type t takes (0: not fixed size). */
static size_t fixed_size(uint8_t t)
{
    switch (t) {
    case 'i': case 'U': case 'C': return 1;
    case 'I': return 2;
    case 'l': case 'd': return 4;
    case 'L': case 'D': return 8;
    case 'Z': case 'T': case 'F': return 0;
    default: return 0;
    }
}

static ti_err value(ub *u, uint8_t t, json_t **out, int depth);

static ti_err string_of(ub *u, json_t **out)
{
    int64_t n;
    ti_err e = read_len(u, &n);
    if (e) return e;
    if (!need(u, (size_t)n)) return bad(u, "string runs past the end");
    *out = json_stringn((const char *)u->p + u->i, (size_t)n);
    u->i += (size_t)n;
    return *out ? TI_OK : bad(u, "string is not valid UTF-8");
}

/* Optional '$' type and '#' count of a container. */
static ti_err container_head(ub *u, uint8_t *type, int64_t *count)
{
    *type = 0;
    *count = -1;
    if (need(u, 1) && u->p[u->i] == '$') {
        u->i++;
        if (!need(u, 1)) return bad(u, "truncated container type");
        *type = u->p[u->i++];
        if (!need(u, 1) || u->p[u->i] != '#') return bad(u, "a typed container needs a '#' count");
    }
    if (need(u, 1) && u->p[u->i] == '#') {
        u->i++;
        ti_err e = read_len(u, count);
        if (e) return e;
        /* every element takes at least one byte unless its type carries no payload */
        const size_t per = *type ? fixed_size(*type) : 1;
        if (per && (uint64_t)*count > (u->n - u->i) / per) return bad(u, "container count exceeds the bytes left");
        if (!per && *count > (1 << 24)) return bad(u, "container count too large");
    }
    return TI_OK;
}

static ti_err next_marker(ub *u, uint8_t *t)
{
    do {
        if (!need(u, 1)) return bad(u, "truncated: a value is missing");
        *t = u->p[u->i++];
    } while (*t == 'N');
    return TI_OK;
}

static ti_err array_of(ub *u, json_t **out, int depth)
{
    uint8_t type;
    int64_t count;
    ti_err e = container_head(u, &type, &count);
    if (e) return e;
    json_t *a = json_array();
    for (int64_t k = 0; !e && (count < 0 || k < count); k++) {
        uint8_t t = type;
        if (!t) {
            e = next_marker(u, &t);
            if (e) break;
            if (count < 0 && t == ']') break;
        }
        json_t *v = NULL;
        e = value(u, t, &v, depth + 1);
        if (!e) json_array_append_new(a, v);
    }
    if (e) {
        json_decref(a);
        return e;
    }
    *out = a;
    return TI_OK;
}

static ti_err object_of(ub *u, json_t **out, int depth)
{
    uint8_t type;
    int64_t count;
    ti_err e = container_head(u, &type, &count);
    if (e) return e;
    json_t *o = json_object();
    for (int64_t k = 0; !e && (count < 0 || k < count); k++) {
        if (count < 0) {
            while (need(u, 1) && u->p[u->i] == 'N') u->i++;
            if (need(u, 1) && u->p[u->i] == '}') {
                u->i++;
                break;
            }
        }
        json_t *key = NULL, *v = NULL;
        e = string_of(u, &key);
        if (e) break;
        uint8_t t = type;
        if (!t) e = next_marker(u, &t);
        if (!e) e = value(u, t, &v, depth + 1);
        if (!e) json_object_set_new(o, json_string_value(key), v);
        json_decref(key);
    }
    if (e) {
        json_decref(o);
        return e;
    }
    *out = o;
    return TI_OK;
}

static ti_err value(ub *u, uint8_t t, json_t **out, int depth)
{
    if (depth > TI_UBJSON_MAX_DEPTH) return bad(u, "nesting deeper than 64");
    int64_t iv;
    ti_err e;
    switch (t) {
    case 'Z': *out = json_null(); return TI_OK;
    case 'T': *out = json_true(); return TI_OK;
    case 'F': *out = json_false(); return TI_OK;
    case 'i': case 'U': case 'I': case 'l': case 'L':
        e = read_int(u, t, &iv);
        if (!e) *out = json_integer((json_int_t)iv);
        return e;
    case 'd': {
        if (!need(u, 4)) return bad(u, "truncated float32");
        const uint32_t b = (uint32_t)be(u->p + u->i, 4);
        u->i += 4;
        float f;
        memcpy(&f, &b, 4);
        *out = json_real((double)f); /* jansson refuses NaN/inf: they fail here, named below */
        return *out ? TI_OK : bad(u, "non-finite float32");
    }
    case 'D': {
        if (!need(u, 8)) return bad(u, "truncated float64");
        const uint64_t b = be(u->p + u->i, 8);
        u->i += 8;
        double d;
        memcpy(&d, &b, 8);
        *out = json_real(d);
        return *out ? TI_OK : bad(u, "non-finite float64");
    }
    case 'C':
        if (!need(u, 1)) return bad(u, "truncated char");
        *out = json_stringn((const char *)u->p + u->i, 1);
        u->i++;
        return *out ? TI_OK : bad(u, "char is not ASCII");
    case 'S': return string_of(u, out);
    case 'H': {
        json_t *s = NULL;
        e = string_of(u, &s);
        if (e) return e;
        char *end;
        const double d = strtod(json_string_value(s), &end);
        const int ok = *end == 0 && isfinite(d);
        json_decref(s);
        if (!ok) return bad(u, "high-precision number is not a finite number");
        *out = json_real(d);
        return TI_OK;
    }
    case '[': return array_of(u, out, depth);
    case '{': return object_of(u, out, depth);
    default: return bad(u, "unknown type marker");
    }
}

ti_err ti_ubjson_parse(json_t **out, const uint8_t *data, size_t len, const char *label)
{
    ub u = {data, len, 0, label};
    uint8_t t;
    ti_err e = next_marker(&u, &t);
    json_t *v = NULL;
    if (!e) e = value(&u, t, &v, 0);
    if (e) return e;
    while (u.i < u.n && u.p[u.i] == 'N') u.i++;
    if (u.i != u.n) {
        json_decref(v);
        return bad(&u, "trailing bytes after the document");
    }
    *out = v;
    return TI_OK;
}
