/* tickinfer: small SVG charts (scatter and line plots) for reports a person looks at:
 * calibration plots, latency-vs-throughput curves, percentile distributions.  No
 * dependencies; files are written atomically.  Axes may be linear or log10. */
#ifndef TICKINFER_PLOT_H
#define TICKINFER_PLOT_H

#include <stddef.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_PLOT_MAX_SERIES 12

typedef enum ti_plot_style { TI_PLOT_POINTS = 0, TI_PLOT_LINE = 1, TI_PLOT_LINE_POINTS = 2 } ti_plot_style;

typedef struct ti_plot_series {
    const char *label;
    const double *x, *y;
    size_t n;
    ti_plot_style style;
} ti_plot_series;

typedef struct ti_plot {
    const char *title, *xlabel, *ylabel;
    int log_x, log_y;            /* log10 axes (non-positive values are skipped) */
    int diagonal;                /* draw y = x (calibration) */
    int width, height;           /* pixels; 0 = 720 x 480 */
    int n_series;
    ti_plot_series series[TI_PLOT_MAX_SERIES];
} ti_plot;

/* Render to an SVG document in memory (malloc'd, NUL-terminated). */
ti_err ti_plot_svg(const ti_plot *p, char **svg, size_t *len);
/* Render and write atomically to path. */
ti_err ti_plot_write_svg(const ti_plot *p, const char *path);

#ifdef __cplusplus
}
#endif
#endif
