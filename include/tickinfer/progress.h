/* tickinfer: progress bar for long work.
 *
 * On a TTY (stderr): one line redrawn at most ~10 times a second:
 *   ingest  [#########.........]  52% 31/60 stocks  8.1 stocks/s  ETA 4s  loss 0.231
 * Not on a TTY (CI, pipes): a plain line at each new 10% (10..90%; every ~10 s when the
 * total is unknown), and a final line with the elapsed time:
 *   ingest:  50% 30/60 stocks  8.1 stocks/s  ETA 4s  loss 0.231
 *   ingest: 60/60 stocks done in 7.4s (8.1 stocks/s)  loss 0.231
 * TI_PROGRESS=0 in the environment silences it (counting still works). */
#ifndef TICKINFER_PROGRESS_H
#define TICKINFER_PROGRESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_progress ti_progress;

/* label: short name ("ingest"); unit: what is counted ("stocks"); total: 0 if unknown.
 * Returns NULL only on allocation failure; all functions accept NULL (no-op). */
ti_progress *ti_progress_start(const char *label, const char *unit, uint64_t total);
/* Thread-safe: add `n` done items. */
void ti_progress_add(ti_progress *p, uint64_t n);
/* Extra text shown at the end of the line ("loss 0.231"); copied. */
void ti_progress_set_note(ti_progress *p, const char *note);
/* Final line; frees p. */
void ti_progress_finish(ti_progress *p);

#ifdef __cplusplus
}
#endif
#endif
