/* NPY read/write; see include/tickinfer/npy.h.  The header is a Python dict literal; we
 * parse the subset numpy writes (and reasonable hand-written variants): quoted keys,
 * a quoted dtype string, True/False, a tuple of non-negative integers. */
#include "tickinfer/npy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const uint8_t k_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

typedef struct hdr_cur {
    const char *p, *end;
} hdr_cur;

static void hc_ws(hdr_cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int hc_eat(hdr_cur *c, char ch)
{
    hc_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A '...' or "..." string without escapes into buf[cap]. */
static ti_err hc_str(hdr_cur *c, char *buf, size_t cap)
{
    hc_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return ti_errorf(TI_ERR_FORMAT, "npy: header: expected a quoted string");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return ti_errorf(TI_ERR_FORMAT, "npy: header: unsupported or over-long string");
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return ti_errorf(TI_ERR_FORMAT, "npy: header: unterminated string");
    c->p++;
    buf[n] = '\0';
    return TI_OK;
}

static ti_err parse_descr(ti_npy_view *v, const char *d)
{
    char order = d[0];
    if (order != '<' && order != '>' && order != '=' && order != '|')
        return ti_errorf(TI_ERR_UNSUPPORTED, "npy: dtype '%s' unsupported; send float32 ('<f4') or float64 ('<f8')", d);
    v->big_endian = order == '>';
    if (strcmp(d + 1, "f4") == 0) v->dtype = TI_NPY_F32;
    else if (strcmp(d + 1, "f8") == 0) v->dtype = TI_NPY_F64;
    else return ti_errorf(TI_ERR_UNSUPPORTED, "npy: dtype '%s' unsupported; send float32 ('<f4') or float64 ('<f8')", d);
    return TI_OK;
}

static ti_err parse_shape(ti_npy_view *v, hdr_cur *c)
{
    if (!hc_eat(c, '(')) return ti_errorf(TI_ERR_FORMAT, "npy: header: 'shape' must be a tuple");
    v->ndim = 0;
    size_t count = 1;
    for (;;) {
        if (hc_eat(c, ')')) break;
        if (v->ndim >= TI_NPY_MAX_DIMS) return ti_errorf(TI_ERR_LIMIT, "npy: more than %d dimensions", TI_NPY_MAX_DIMS);
        hc_ws(c);
        int64_t d = 0;
        int digits = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (d > (int64_t)1 << 40) return ti_errorf(TI_ERR_LIMIT, "npy: dimension too large");
            d = d * 10 + (*c->p++ - '0');
            digits++;
        }
        if (!digits) return ti_errorf(TI_ERR_FORMAT, "npy: header: expected a dimension in 'shape'");
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long suffix */
        if (d != 0 && count > ((size_t)1 << 40) / (size_t)d) return ti_errorf(TI_ERR_LIMIT, "npy: array too large");
        count *= (size_t)d;
        v->shape[v->ndim++] = d;
        if (hc_eat(c, ',')) continue;
        if (hc_eat(c, ')')) break;
        return ti_errorf(TI_ERR_FORMAT, "npy: header: expected ',' or ')' in 'shape'");
    }
    v->count = count;
    return TI_OK;
}

static ti_err parse_dict(ti_npy_view *v, const char *h, size_t n)
{
    hdr_cur c = {h, h + n};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!hc_eat(&c, '{')) return ti_errorf(TI_ERR_FORMAT, "npy: header is not a dict");
    for (;;) {
        if (hc_eat(&c, '}')) break;
        char key[32], val[32];
        ti_err e = hc_str(&c, key, sizeof key);
        if (e) return e;
        if (!hc_eat(&c, ':')) return ti_errorf(TI_ERR_FORMAT, "npy: header: expected ':' after '%s'", key);
        if (strcmp(key, "descr") == 0) {
            if ((e = hc_str(&c, val, sizeof val))) return e;
            if ((e = parse_descr(v, val))) return e;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            hc_ws(&c);
            if ((size_t)(c.end - c.p) >= 5 && memcmp(c.p, "False", 5) == 0) {
                c.p += 5;
            } else if ((size_t)(c.end - c.p) >= 4 && memcmp(c.p, "True", 4) == 0) {
                return ti_errorf(TI_ERR_UNSUPPORTED, "npy: fortran_order arrays are not supported; use np.ascontiguousarray");
            } else {
                return ti_errorf(TI_ERR_FORMAT, "npy: header: fortran_order must be True or False");
            }
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if ((e = parse_shape(v, &c))) return e;
            have_shape = 1;
        } else {
            return ti_errorf(TI_ERR_FORMAT, "npy: header: unknown key '%s'", key);
        }
        if (hc_eat(&c, ',')) continue;
        if (hc_eat(&c, '}')) break;
        return ti_errorf(TI_ERR_FORMAT, "npy: header: expected ',' or '}'");
    }
    if (!have_descr || !have_order || !have_shape)
        return ti_errorf(TI_ERR_FORMAT, "npy: header lacks '%s'", !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    hc_ws(&c);
    if (c.p != c.end) return ti_errorf(TI_ERR_FORMAT, "npy: header: trailing characters after the dict");
    return TI_OK;
}

ti_err ti_npy_parse(ti_npy_view *out, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(b, k_magic, 6) != 0) return ti_errorf(TI_ERR_FORMAT, "npy: missing the \\x93NUMPY magic");
    int major = b[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return ti_errorf(TI_ERR_FORMAT, "npy: truncated header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        return ti_errorf(TI_ERR_UNSUPPORTED, "npy: format version %d.%d unsupported", major, b[7]);
    }
    if (hlen > TI_NPY_MAX_HEADER) return ti_errorf(TI_ERR_LIMIT, "npy: header of %zu bytes exceeds %d", hlen, TI_NPY_MAX_HEADER);
    if (hlen > len - off) return ti_errorf(TI_ERR_FORMAT, "npy: header length %zu runs past the end (%zu bytes)", hlen, len);
    /* The header ends with '\n' padded by spaces; the dict parser skips whitespace. */
    ti_err e = parse_dict(out, (const char *)b + off, hlen);
    if (e) return e;
    size_t item = out->dtype == TI_NPY_F32 ? 4 : 8;
    size_t data_len = len - off - hlen;
    if (out->count > data_len / item || out->count * item != data_len)
        return ti_errorf(TI_ERR_FORMAT, "npy: shape needs %zu bytes of data, body has %zu", out->count * item, data_len);
    out->data = b + off + hlen;
    return TI_OK;
}

ti_err ti_npy_to_f32(float *out, const ti_npy_view *v) { return ti_npy_to_f32_ex(out, v, 0); }

ti_err ti_npy_to_f32_ex(float *out, const ti_npy_view *v, int allow_missing)
{
    for (size_t i = 0; i < v->count; i++) {
        double d;
        if (v->dtype == TI_NPY_F32) {
            uint8_t t[4];
            memcpy(t, v->data + 4 * i, 4);
            if (v->big_endian) {
                uint8_t s0 = t[0], s1 = t[1];
                t[0] = t[3], t[1] = t[2], t[2] = s1, t[3] = s0;
            }
            float f;
            memcpy(&f, t, 4);
            d = f;
        } else {
            uint8_t t[8];
            memcpy(t, v->data + 8 * i, 8);
            if (v->big_endian)
                for (int k = 0; k < 4; k++) {
                    uint8_t s = t[k];
                    t[k] = t[7 - k], t[7 - k] = s;
                }
            memcpy(&d, t, 8);
        }
        if (allow_missing && !isfinite(d)) { /* NaN (missing) and +-inf: the model's splits decide */
            out[i] = (float)d;
            continue;
        }
        if (!isfinite(d) || fabs(d) > 3.4028234663852886e38)
            return ti_errorf(TI_ERR_RANGE, "npy: value at flat index %zu is %g, not a finite float32%s", i, d,
                             "");
        out[i] = (float)d;
    }
    return TI_OK;
}

ti_err ti_npy_header_f32(char *hdr, size_t cap, size_t *hdr_len, int ndim, const int64_t *shape)
{
    return ti_npy_header(hdr, cap, hdr_len, "<f4", ndim, shape);
}

ti_err ti_npy_header(char *hdr, size_t cap, size_t *hdr_len, const char *descr, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > TI_NPY_MAX_DIMS) return ti_errorf(TI_ERR_INVALID_ARG, "npy: ndim %d out of range", ndim);
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)shape[i], ndim == 1 || i + 1 < ndim ? ", " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    if (n < 0 || (size_t)n >= sizeof dict) return ti_errorf(TI_ERR_LIMIT, "npy: header too long");
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    if (total > cap) return ti_errorf(TI_ERR_LIMIT, "npy: header needs %zu bytes, buffer has %zu", total, cap);
    memcpy(hdr, k_magic, 6);
    hdr[6] = 1, hdr[7] = 0;
    size_t hl = total - 10;
    hdr[8] = (char)(hl & 0xff), hdr[9] = (char)(hl >> 8);
    memcpy(hdr + 10, dict, (size_t)n);
    memset(hdr + 10 + n, ' ', total - 10 - (size_t)n - 1);
    hdr[total - 1] = '\n';
    *hdr_len = total;
    return TI_OK;
}
