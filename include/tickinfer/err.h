/* tickinfer: error codes and messages.
 *
 * Every public function that can fail returns a ti_err.  On failure it also leaves a
 * human-readable message in a per-thread buffer (like errno + strerror, or SQLite's
 * sqlite3_errmsg), readable with ti_errmsg() until the next failing call on the same
 * thread.  Messages say what failed and where, e.g.
 *   "parquet: column 'price' missing in stock_id=3/abc.parquet".
 * Library code never exits the process. */
#ifndef TICKINFER_ERR_H
#define TICKINFER_ERR_H

#include <stddef.h>

#include "tickinfer/err_codes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The codes (TI_OK, TI_ERR_*): tickinfer/err_codes.h, shared with the public tickinfer.h. */

/* Short stable name of a code ("TI_ERR_FORMAT"). */
const char *ti_err_name(ti_err code);

/* Message of the last error set on this thread ("" if none). */
const char *ti_errmsg(void);

/* Set this thread's message (printf format) and return `code`, so callers write
 *   return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: expected 6 fields", path, line); */
ti_err ti_errorf(ti_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context and return `code`:
 *   ti_error_wrap(e, "ingest %s", dir)   ->   "ingest DIR: " + the old message
 * The ": " separator is added here, so nested wraps read "a: b: c".  (A prefix that
 * already ends in ": " gets no second one.) */
ti_err ti_error_wrap(ti_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clear this thread's message. */
void ti_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
