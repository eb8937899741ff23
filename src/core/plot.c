/* Minimal SVG scatter/line charts; see include/tickinfer/plot.h. */
#include "tickinfer/plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/fileio.h"

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = 1; return; }
        if ((size_t)n < b->cap - b->len) { b->len += (size_t)n; return; }
        size_t nc = b->cap * 2 + (size_t)n + 1024;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

/* XML-escape a label into b. */
static void sb_text(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '&': sb_printf(b, "&amp;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

static const char *const k_colors[TI_PLOT_MAX_SERIES] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                          "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                                          "#bcbd22", "#7f7f7f", "#393b79", "#ad494a"};

static int usable(double v, int log_axis) { return isfinite(v) && (!log_axis || v > 0); }
static double tr(double v, int log_axis) { return log_axis ? log10(v) : v; }

/* "Nice" tick step for a range: 1, 2 or 5 times a power of ten. */
static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

ti_err ti_plot_svg(const ti_plot *p, char **svg, size_t *len)
{
    *svg = NULL;
    if (p->n_series < 1 || p->n_series > TI_PLOT_MAX_SERIES)
        return ti_errorf(TI_ERR_INVALID_ARG, "plot: %d series, 1..%d supported", p->n_series, TI_PLOT_MAX_SERIES);
    const int W = p->width > 0 ? p->width : 720, H = p->height > 0 ? p->height : 480;
    const double ml = 80, mr = 20 + (p->n_series > 1 ? 150 : 0), mt = 40, mb = 60;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (!usable(x, p->log_x) || !usable(y, p->log_y)) continue;
            x = tr(x, p->log_x), y = tr(y, p->log_y);
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
    if (!(x0 <= x1) || !(y0 <= y1)) return ti_errorf(TI_ERR_RANGE, "plot '%s': no finite points to draw", p->title ? p->title : "");
    if (p->diagonal) { /* same range on both axes so y = x is the 45-degree line */
        double lo = fmin(x0, y0), hi = fmax(x1, y1);
        x0 = y0 = lo, x1 = y1 = hi;
    }
    if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
    if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
    double px = (x1 - x0) * 0.04, py = (y1 - y0) * 0.04;
    x0 -= px, x1 += px, y0 -= py, y1 += py;
    const double pw = W - ml - mr, ph = H - mt - mb;
#define SX(v) (ml + (tr((v), p->log_x) - x0) / (x1 - x0) * pw)
#define SY(v) (mt + ph - (tr((v), p->log_y) - y0) / (y1 - y0) * ph)
    sbuf b = {0};
    sb_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
              "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
              W, H, W, H);
    sb_printf(&b, "<text x=\"%g\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">", W / 2.0);
    sb_text(&b, p->title);
    sb_printf(&b, "</text>\n<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#333\"/>\n", ml, mt, pw, ph);
    /* Ticks and grid, in transformed units. */
    for (int axis = 0; axis < 2; axis++) {
        double lo = axis ? y0 : x0, hi = axis ? y1 : x1;
        int lg = axis ? p->log_y : p->log_x;
        double step = lg ? fmax(1.0, round(nice_step(hi - lo, 6))) : nice_step(hi - lo, 6);
        for (double t = ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) {
            double v = lg ? pow(10, t) : t;
            char lab[32];
            snprintf(lab, sizeof lab, "%.3g", v);
            if (axis == 0) {
                double x = ml + (t - x0) / (x1 - x0) * pw;
                sb_printf(&b, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/>", x, mt, x, mt + ph);
                sb_printf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", x, mt + ph + 16, lab);
            } else {
                double y = mt + ph - (t - y0) / (y1 - y0) * ph;
                sb_printf(&b, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>", ml, y, ml + pw, y);
                sb_printf(&b, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ml - 6, y + 4, lab);
            }
        }
    }
    sb_printf(&b, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\">", ml + pw / 2, H - 18);
    sb_text(&b, p->xlabel);
    sb_printf(&b, "%s</text>\n<text transform=\"translate(18,%g) rotate(-90)\" text-anchor=\"middle\">", p->log_x ? " (log)" : "",
              mt + ph / 2);
    sb_text(&b, p->ylabel);
    sb_printf(&b, "%s</text>\n", p->log_y ? " (log)" : "");
    if (p->diagonal)
        sb_printf(&b, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#888\" stroke-dasharray=\"5,4\"/>\n", ml, mt + ph, ml + pw, mt);
    for (int s = 0; s < p->n_series; s++) {
        const ti_plot_series *se = &p->series[s];
        const char *c = k_colors[s];
        if (se->style != TI_PLOT_POINTS) {
            sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", c);
            for (size_t i = 0; i < se->n; i++)
                if (usable(se->x[i], p->log_x) && usable(se->y[i], p->log_y)) sb_printf(&b, "%.1f,%.1f ", SX(se->x[i]), SY(se->y[i]));
            sb_printf(&b, "\"/>\n");
        }
        if (se->style != TI_PLOT_LINE) {
            double r = se->n > 2000 ? 1.2 : 2.5, op = se->n > 2000 ? 0.25 : 0.7;
            sb_printf(&b, "<g fill=\"%s\" fill-opacity=\"%g\">", c, op);
            for (size_t i = 0; i < se->n; i++)
                if (usable(se->x[i], p->log_x) && usable(se->y[i], p->log_y))
                    sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%g\"/>", SX(se->x[i]), SY(se->y[i]), r);
            sb_printf(&b, "</g>\n");
        }
        if (p->n_series > 1) {
            double ly = mt + 10 + 18 * s;
            sb_printf(&b, "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%g\" y=\"%g\">", ml + pw + 12, ly, c,
                      ml + pw + 30, ly + 10);
            sb_text(&b, se->label);
            sb_printf(&b, "</text>\n");
        }
    }
#undef SX
#undef SY
    sb_printf(&b, "</svg>\n");
    if (b.oom) {
        free(b.p);
        return ti_errorf(TI_ERR_NOMEM, "plot: out of memory rendering SVG");
    }
    *svg = b.p;
    *len = b.len;
    return TI_OK;
}

ti_err ti_plot_write_svg(const ti_plot *p, const char *path)
{
    char *svg = NULL;
    size_t len = 0;
    ti_err e = ti_plot_svg(p, &svg, &len);
    if (e) return e;
    e = ti_write_file_atomic(path, svg, len);
    free(svg);
    return e;
}
