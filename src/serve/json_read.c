/* JSON pull parser; see json_read.h. */
#include "serve/json_read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JR_ERR(r, code, ...) jr_fail((r), (code), __VA_ARGS__)

static ti_err jr_fail(const sv_jr *r, ti_err code, const char *what, ...)
    __attribute__((format(printf, 3, 4)));

#include <stdarg.h>
#include <stdio.h>

static ti_err jr_fail(const sv_jr *r, ti_err code, const char *what, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, what);
    vsnprintf(msg, sizeof msg, what, ap);
    va_end(ap);
    return ti_errorf(code, "json: byte %zu: %s", (size_t)(r->p - r->base), msg);
}

void sv_jr_init(sv_jr *r, const char *text, size_t len)
{
    r->base = r->p = text;
    r->end = text + len;
    r->depth = 0;
}

static void jr_ws(sv_jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

ti_err sv_jr_peek(sv_jr *r, char *c)
{
    jr_ws(r);
    if (r->p >= r->end) return JR_ERR(r, TI_ERR_FORMAT, "unexpected end of input");
    *c = *r->p;
    return TI_OK;
}

static ti_err jr_open(sv_jr *r, char open)
{
    char c = 0; /* set by sv_jr_peek unless it fails */
    ti_err e = sv_jr_peek(r, &c);
    if (e) return e;
    if (c != open) return JR_ERR(r, TI_ERR_FORMAT, "expected '%c'", open);
    if (r->depth >= SV_JR_MAX_DEPTH) return JR_ERR(r, TI_ERR_LIMIT, "nesting deeper than %d", SV_JR_MAX_DEPTH);
    r->p++;
    r->count[r->depth++] = 0;
    return TI_OK;
}

ti_err sv_jr_obj_begin(sv_jr *r) { return jr_open(r, '{'); }
ti_err sv_jr_arr_begin(sv_jr *r) { return jr_open(r, '['); }

/* Before an element: ']' / '}' closes (not after a ','), else ',' is needed after the first. */
static ti_err jr_next(sv_jr *r, char close, int *more)
{
    char c = 0; /* set by sv_jr_peek unless it fails */
    ti_err e = sv_jr_peek(r, &c);
    if (e) return e;
    unsigned char *cnt = &r->count[r->depth - 1];
    if (c == close && *cnt == 0) {
        r->p++;
        r->depth--;
        *more = 0;
        return TI_OK;
    }
    if (*cnt) {
        if (c == close) {
            r->p++;
            r->depth--;
            *more = 0;
            return TI_OK;
        }
        if (c != ',') return JR_ERR(r, TI_ERR_FORMAT, "expected ',' or '%c'", close);
        r->p++;
        jr_ws(r);
        if (r->p < r->end && *r->p == close) return JR_ERR(r, TI_ERR_FORMAT, "trailing comma");
    }
    if (*cnt < 255) (*cnt)++;
    *more = 1;
    return TI_OK;
}

ti_err sv_jr_arr_next(sv_jr *r, int *more)
{
    if (r->depth <= 0) return JR_ERR(r, TI_ERR_STATE, "not in an array");
    return jr_next(r, ']', more);
}

ti_err sv_jr_obj_next(sv_jr *r, char *key, size_t cap, int *more)
{
    if (r->depth <= 0) return JR_ERR(r, TI_ERR_STATE, "not in an object");
    ti_err e = jr_next(r, '}', more);
    if (e || !*more) return e;
    char c = 0; /* set by sv_jr_peek unless it fails */
    if ((e = sv_jr_peek(r, &c))) return e;
    if (c != '"') return JR_ERR(r, TI_ERR_FORMAT, "expected a string key");
    if ((e = sv_jr_string(r, key, cap, NULL))) return e;
    if ((e = sv_jr_peek(r, &c))) return e;
    if (c != ':') return JR_ERR(r, TI_ERR_FORMAT, "expected ':' after object key");
    r->p++;
    return TI_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* Decodes into buf when buf != NULL (cap checked); always validates. */
ti_err sv_jr_string(sv_jr *r, char *buf, size_t cap, size_t *len)
{
    char c = 0; /* set by sv_jr_peek unless it fails */
    ti_err e = sv_jr_peek(r, &c);
    if (e) return e;
    if (c != '"') return JR_ERR(r, TI_ERR_FORMAT, "expected a string");
    r->p++;
    size_t n = 0;
    for (;;) {
        if (r->p >= r->end) return JR_ERR(r, TI_ERR_FORMAT, "unterminated string");
        unsigned char ch = (unsigned char)*r->p;
        char tmp[4];
        size_t tn = 0;
        if (ch == '"') {
            r->p++;
            break;
        }
        if (ch < 0x20) return JR_ERR(r, TI_ERR_FORMAT, "control character in string");
        if (ch != '\\') {
            tmp[tn++] = (char)ch;
            r->p++;
        } else {
            if (r->end - r->p < 2) return JR_ERR(r, TI_ERR_FORMAT, "unterminated escape");
            char esc = r->p[1];
            r->p += 2;
            switch (esc) {
            case '"': tmp[tn++] = '"'; break;
            case '\\': tmp[tn++] = '\\'; break;
            case '/': tmp[tn++] = '/'; break;
            case 'b': tmp[tn++] = '\b'; break;
            case 'f': tmp[tn++] = '\f'; break;
            case 'n': tmp[tn++] = '\n'; break;
            case 'r': tmp[tn++] = '\r'; break;
            case 't': tmp[tn++] = '\t'; break;
            case 'u': {
                unsigned cp;
                if (read_hex4(r->p, r->end, &cp)) return JR_ERR(r, TI_ERR_FORMAT, "bad \\u escape");
                r->p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                        read_hex4(r->p + 2, r->end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return JR_ERR(r, TI_ERR_FORMAT, "unpaired surrogate in \\u escape");
                    r->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return JR_ERR(r, TI_ERR_FORMAT, "unpaired surrogate in \\u escape");
                }
                if (cp == 0) return JR_ERR(r, TI_ERR_FORMAT, "\\u0000 in string");
                if (cp < 0x80) {
                    tmp[tn++] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[tn++] = (char)(0xC0 | cp >> 6);
                    tmp[tn++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    tmp[tn++] = (char)(0xE0 | cp >> 12);
                    tmp[tn++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[tn++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    tmp[tn++] = (char)(0xF0 | cp >> 18);
                    tmp[tn++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    tmp[tn++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[tn++] = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default: return JR_ERR(r, TI_ERR_FORMAT, "bad escape '\\%c'", esc);
            }
        }
        if (buf) {
            if (n + tn + 1 > cap) return JR_ERR(r, TI_ERR_LIMIT, "string longer than %zu bytes", cap - 1);
            memcpy(buf + n, tmp, tn);
        }
        n += tn;
    }
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return TI_OK;
}

static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* One pass over a JSON number at p: checks the grammar and accumulates the decimal
 * mantissa and exponent.  Fast path (Clinger): at most 19 significant digits and a small
 * decimal exponent, so mantissa and 10^|e| are exact doubles and one rounding gives the
 * correctly rounded result; otherwise strtod on a copy.  Returns the length consumed,
 * 0 if p does not start a valid number, (size_t)-1 if it is over-long for the slow path. */
static size_t scan_number(const char *p, const char *end, double *v)
{
    const char *s = p;
    int neg = 0, digits = 0, exp10 = 0;
    uint64_t mant = 0;
    if (p < end && *p == '-') neg = 1, p++;
    if (p >= end) return 0;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) mant = mant * 10 + (uint64_t)(*p - '0');
    } else {
        return 0;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (digits || *p != '0') digits++;
            mant = mant * 10 + (uint64_t)(*p - '0');
            exp10--;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p == '-', p++;
        if (p >= end || *p < '0' || *p > '9') return 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }
    size_t len = (size_t)(p - s);
    if (digits <= 19 && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / k_pow10[-exp10] : d * k_pow10[exp10];
        *v = neg ? -d : d;
        return len;
    }
    char tmp[512];
    if (len >= sizeof tmp) return (size_t)-1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    *v = strtod(tmp, NULL);
    return len;
}

ti_err sv_json_parse_number(const char *s, size_t len, double *v)
{
    size_t n = scan_number(s, s + len, v);
    if (n == (size_t)-1) return ti_errorf(TI_ERR_LIMIT, "json: number longer than 511 chars");
    if (n == 0 || n != len) return ti_errorf(TI_ERR_FORMAT, "json: malformed number");
    return TI_OK;
}

ti_err sv_jr_number(sv_jr *r, double *v)
{
    jr_ws(r);
    size_t n = scan_number(r->p, r->end, v);
    if (n == (size_t)-1) return JR_ERR(r, TI_ERR_LIMIT, "number longer than 511 chars");
    if (n == 0) return JR_ERR(r, TI_ERR_FORMAT, "expected a number");
    r->p += n;
    return TI_OK;
}

ti_err sv_jr_int(sv_jr *r, int64_t *v)
{
    double d;
    ti_err e = sv_jr_number(r, &d);
    if (e) return e;
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != floor(d))
        return JR_ERR(r, TI_ERR_RANGE, "expected an integer, got %g", d);
    *v = (int64_t)d;
    return TI_OK;
}

static ti_err jr_literal(sv_jr *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return JR_ERR(r, TI_ERR_FORMAT, "expected '%s'", lit);
    r->p += n;
    return TI_OK;
}

ti_err sv_jr_bool(sv_jr *r, int *v)
{
    char c = 0; /* set by sv_jr_peek unless it fails */
    ti_err e = sv_jr_peek(r, &c);
    if (e) return e;
    if (c == 't') return *v = 1, jr_literal(r, "true");
    if (c == 'f') return *v = 0, jr_literal(r, "false");
    return JR_ERR(r, TI_ERR_FORMAT, "expected true or false");
}

ti_err sv_jr_skip(sv_jr *r)
{
    char c = 0; /* set by sv_jr_peek unless it fails */
    ti_err e = sv_jr_peek(r, &c);
    if (e) return e;
    int more;
    switch (c) {
    case '{': {
        if ((e = sv_jr_obj_begin(r))) return e;
        for (;;) {
            if ((e = sv_jr_obj_next(r, NULL, 0, &more))) return e;
            if (!more) return TI_OK;
            if ((e = sv_jr_skip(r))) return e;
        }
    }
    case '[':
        if ((e = sv_jr_arr_begin(r))) return e;
        for (;;) {
            if ((e = sv_jr_arr_next(r, &more))) return e;
            if (!more) return TI_OK;
            if ((e = sv_jr_skip(r))) return e;
        }
    case '"': return sv_jr_string(r, NULL, 0, NULL);
    case 't': return jr_literal(r, "true");
    case 'f': return jr_literal(r, "false");
    case 'n': return jr_literal(r, "null");
    default: {
        double d;
        return sv_jr_number(r, &d);
    }
    }
}

ti_err sv_jr_finish(sv_jr *r)
{
    jr_ws(r);
    if (r->p != r->end) return JR_ERR(r, TI_ERR_FORMAT, "trailing characters after the JSON value");
    return TI_OK;
}

typedef struct tensor_walk {
    float *out;
    size_t cap, n;
    int max_ndim, ndim; /* ndim -1 until the first leaf fixes it */
    int64_t *shape;
} tensor_walk;

static ti_err tensor_level(sv_jr *r, tensor_walk *w, int d)
{
    char c = 0; /* set by sv_jr_peek unless it fails */
    ti_err e = sv_jr_peek(r, &c);
    if (e) return e;
    if (c != '[') {
        if (w->ndim < 0) w->ndim = d;
        if (d != w->ndim) return JR_ERR(r, TI_ERR_FORMAT, "ragged array: a number at depth %d, expected %d", d, w->ndim);
        double v;
        if ((e = sv_jr_number(r, &v))) return e;
        if (!isfinite(v) || fabs(v) > 3.4028234663852886e38)
            return JR_ERR(r, TI_ERR_RANGE, "value %g is not a finite float32", v);
        if (w->n >= w->cap) return JR_ERR(r, TI_ERR_LIMIT, "more than %zu values", w->cap);
        w->out[w->n++] = (float)v;
        return TI_OK;
    }
    if (d >= w->max_ndim) return JR_ERR(r, TI_ERR_FORMAT, "array nested deeper than %d", w->max_ndim);
    if (w->ndim >= 0 && d >= w->ndim) return JR_ERR(r, TI_ERR_FORMAT, "ragged array: a list at depth %d", d);
    if ((e = sv_jr_arr_begin(r))) return e;
    int64_t len = 0;
    int more;
    jr_ws(r);
    if (w->ndim < 0 && r->p < r->end && *r->p != '[' && *r->p != ']') w->ndim = d + 1; /* first leaf list */
    if (w->ndim == d + 1) {
        /* Innermost list of numbers (shape known): a tight loop, the bulk of a tensor. */
        r->depth--;
        for (;;) {
            jr_ws(r);
            if (len == 0 && r->p < r->end && *r->p == ']') break;
            double v;
            size_t k = scan_number(r->p, r->end, &v);
            if (k == 0 || k == (size_t)-1) {
                if (r->p < r->end && *r->p == '[') return JR_ERR(r, TI_ERR_FORMAT, "ragged array: a list at depth %d", d + 1);
                return JR_ERR(r, k ? TI_ERR_LIMIT : TI_ERR_FORMAT, k ? "number too long" : "expected a number");
            }
            if (!isfinite(v) || fabs(v) > 3.4028234663852886e38)
                return JR_ERR(r, TI_ERR_RANGE, "value %g is not a finite float32", v);
            if (w->n >= w->cap) return JR_ERR(r, TI_ERR_LIMIT, "more than %zu values", w->cap);
            r->p += k;
            w->out[w->n++] = (float)v;
            len++;
            jr_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == ']') break;
            return JR_ERR(r, TI_ERR_FORMAT, r->p < r->end ? "expected ',' or ']'" : "unexpected end of input");
        }
        r->p++; /* ']' */
    } else {
        for (;;) {
            if ((e = sv_jr_arr_next(r, &more))) return e;
            if (!more) break;
            if ((e = tensor_level(r, w, d + 1))) return e;
            len++;
        }
    }
    if (len == 0) return JR_ERR(r, TI_ERR_FORMAT, "empty array");
    if (w->shape[d] < 0) w->shape[d] = len;
    else if (w->shape[d] != len)
        return JR_ERR(r, TI_ERR_FORMAT, "ragged array: length %lld at depth %d, expected %lld", (long long)len, d,
                      (long long)w->shape[d]);
    return TI_OK;
}

ti_err sv_jr_tensor(sv_jr *r, float *out, size_t cap, int max_ndim, int64_t *shape, int *ndim, size_t *n)
{
    tensor_walk w = {out, cap, 0, max_ndim, -1, shape};
    for (int i = 0; i < max_ndim; i++) shape[i] = -1;
    ti_err e = tensor_level(r, &w, 0);
    if (e) return e;
    *ndim = w.ndim;
    *n = w.n;
    return TI_OK;
}
