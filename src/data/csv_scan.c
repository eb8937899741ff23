/* Strict numeric CSV field scanners (see csv_scan.h).  Hand-written because strtod and
 * sscanf per field cost more than the rest of a LOBSTER parse together and accept
 * forms (spaces, "inf", hex) that should be errors here. */
#include "data/csv_scan.h"

#include <stdlib.h>
#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

ti_csv_status ti_csv_i64(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    int neg = 0;
    if (s < end && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        s++;
    }
    const char *digits = s;
    uint64_t v = 0;
    while (s < end && is_digit(*s)) {
        /* 18 digits always fit in int64 (< 1e18 < 2^63); refusing a 19th keeps the
         * check trivial and no LOBSTER field comes near it. */
        if (s - digits >= 18) return TI_CSV_OVERFLOW;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (s == digits || (s < end && *s != ',')) return TI_CSV_SYNTAX;
    *out = neg ? -(int64_t)v : (int64_t)v;
    *p = s;
    return TI_CSV_OK;
}

/* 10^k for k <= 22: all exactly representable as doubles. */
static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

ti_csv_status ti_csv_decimal(const char **p, const char *end, double *out)
{
    const char *s = *p;
    int neg = 0;
    if (s < end && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        s++;
    }
    uint64_t m = 0;         /* all digits as one integer while it stays exact */
    int n_digits = 0, n_frac = 0, exact = 1, seen_dot = 0;
    for (; s < end && *s != ','; s++) {
        if (*s == '.') {
            if (seen_dot) return TI_CSV_SYNTAX;
            seen_dot = 1;
            continue;
        }
        if (!is_digit(*s)) return TI_CSV_SYNTAX;
        n_digits++;
        if (seen_dot) n_frac++;
        if (m >= (UINT64_C(1) << 53) / 10) exact = 0;
        else m = m * 10 + (uint64_t)(*s - '0');
    }
    if (n_digits == 0) return TI_CSV_SYNTAX;
    if ((size_t)(s - *p) > 64) return TI_CSV_OVERFLOW;
    double v;
    if (exact && n_frac <= 22) {
        /* m < 2^53 and 10^k are exact doubles, so one IEEE division gives the correctly
         * rounded value of the decimal m / 10^k: the same bits strtod would return. */
        v = (double)m / k_pow10[n_frac];
    } else {
        /* Rare (more than ~15 significant digits): let strtod round the validated text. */
        char buf[72];
        size_t len = (size_t)(s - *p);
        memcpy(buf, *p, len);
        buf[len] = '\0';
        v = strtod(buf, NULL);
        neg = 0; /* the sign was part of the copied text */
    }
    *out = neg ? -v : v;
    *p = s;
    return TI_CSV_OK;
}

size_t ti_csv_count_fields(const char *line, const char *end)
{
    size_t n = 1;
    for (const char *s = line; s < end; s++) n += *s == ',';
    return n;
}

const char *ti_csv_field_excerpt(char *buf, size_t cap, const char *p, const char *end)
{
    size_t i = 0;
    if (cap == 0) return buf;
    for (; p < end && *p != ',' && i + 1 < cap; p++, i++) {
        unsigned char c = (unsigned char)*p;
        buf[i] = (c >= 32 && c < 127 && c != '\'') ? (char)c : '?';
    }
    buf[i] = '\0';
    return buf;
}
