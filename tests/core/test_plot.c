/* SVG plots: structure, escaping, log axes, and errors. */
#include "harness.h"
#include "tickinfer/plot.h"

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p++) n++;
    return n;
}

TI_TEST(scatter_with_diagonal_and_legend)
{
    double x[5] = {1e-4, 2e-4, 5e-4, 1e-3, -1}, y[5] = {1.1e-4, 1.9e-4, 6e-4, 9e-4, 2e-3};
    double lx[3] = {1, 2, 3}, ly[3] = {3, 2, 1};
    ti_plot p = {.title = "calibration <test> & co", .xlabel = "predicted", .ylabel = "realised", .log_x = 1, .log_y = 1,
                 .diagonal = 1, .n_series = 2};
    p.series[0] = (ti_plot_series){"model", x, y, 5, TI_PLOT_POINTS};
    p.series[1] = (ti_plot_series){"line", lx, ly, 3, TI_PLOT_LINE};
    char *svg = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_plot_svg(&p, &svg, &len));
    if (!svg) return;
    TI_CHECK(strncmp(svg, "<svg", 4) == 0 && strstr(svg, "</svg>") != NULL && len == strlen(svg));
    TI_CHECK(count(svg, "<circle") == 4); /* the negative x is skipped on a log axis */
    TI_CHECK(count(svg, "<polyline") == 1);
    TI_CHECK(strstr(svg, "calibration &lt;test&gt; &amp; co") != NULL);
    TI_CHECK(strstr(svg, "stroke-dasharray") != NULL); /* the y = x line */
    TI_CHECK(strstr(svg, ">model<") != NULL);          /* legend */
    free(svg);
}

TI_TEST(errors)
{
    ti_plot p = {.title = "empty", .n_series = 0};
    char *svg = NULL;
    size_t len;
    TI_CHECK_ERR(ti_plot_svg(&p, &svg, &len), TI_ERR_INVALID_ARG, "series");
    double x[1] = {-1}, y[1] = {1};
    p.n_series = 1;
    p.log_x = 1;
    p.series[0] = (ti_plot_series){"s", x, y, 1, TI_PLOT_POINTS};
    TI_CHECK_ERR(ti_plot_svg(&p, &svg, &len), TI_ERR_RANGE, "no finite points");
}

int main(void)
{
    TI_RUN(scatter_with_diagonal_and_legend);
    TI_RUN(errors);
    return ti_test_summary();
}
