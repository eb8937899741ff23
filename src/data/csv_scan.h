/* Tiny strict scanners for numeric CSV fields (internal to src/data).
 *
 * A field runs from *p to the next ',' or to `end` (the end of the line, without its
 * line terminator).  On success the scanners leave *p on that ',' (or at `end`) and
 * return TI_CSV_OK; on failure *p is unchanged.  No locale, no whitespace, no
 * exponents: LOBSTER and friends never write them, and accepting less means a corrupt
 * file is reported instead of half-read. */
#ifndef TICKINFER_DATA_CSV_SCAN_H
#define TICKINFER_DATA_CSV_SCAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum ti_csv_status {
    TI_CSV_OK = 0,
    TI_CSV_SYNTAX,    /* not a number of the expected form (includes an empty field) */
    TI_CSV_OVERFLOW   /* integer with more than 18 digits, or decimal longer than 64 chars */
} ti_csv_status;

/* [+-]?[0-9]{1,18} -> *out. */
ti_csv_status ti_csv_i64(const char **p, const char *end, int64_t *out);

/* [+-]?[0-9]*(.[0-9]*)? with at least one digit -> *out, correctly rounded (the same
 * double as strtod would give). */
ti_csv_status ti_csv_decimal(const char **p, const char *end, double *out);

/* Number of fields on the line [line, end): 1 + number of commas. */
size_t ti_csv_count_fields(const char *line, const char *end);

/* Copy up to cap-1 bytes of the field at p (until ',' or end) into buf for an error
 * message, replacing non-printable bytes by '?'.  Returns buf. */
const char *ti_csv_field_excerpt(char *buf, size_t cap, const char *p, const char *end);

#endif
