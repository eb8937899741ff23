/* Read the server's queue / compute split from its Prometheus text (GET /metrics):
 * the _sum and _count of tickinfer_inference_duration_seconds by stage (queue, compute,
 * and stream for the tick endpoint).  Tolerant: lines
 * it does not know are skipped; a malformed number in a known line is an error. */
#include <stdlib.h>
#include <string.h>

#include "tickinfer/loadgen.h"

#define SERIES "tickinfer_inference_duration_seconds_"

/* Value of label `name` in "{a=\"x\",b=\"y\"}" copied into out; 0 if absent. */
static int label(const char *lb, const char *end, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = lb; p + nl + 2 < end; p++) {
        if ((p == lb || p[-1] == '{' || p[-1] == ',') && !strncmp(p, name, nl) && p[nl] == '=' && p[nl + 1] == '"') {
            const char *v = p + nl + 2, *q = memchr(v, '"', (size_t)(end - v));
            if (!q || (size_t)(q - v) >= cap) return 0;
            memcpy(out, v, (size_t)(q - v));
            out[q - v] = '\0';
            return 1;
        }
    }
    return 0;
}

ti_err ti_lg_parse_metrics(ti_lg_server_stats *out, const char *text, size_t len, const char *model)
{
    if (!out || (!text && len)) return ti_errorf(TI_ERR_INVALID_ARG, "metrics: NULL argument");
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        size_t sl = strlen(SERIES);
        if ((size_t)(eol - p) > sl && !strncmp(p, SERIES, sl)) {
            const char *suf = p + sl;
            int is_sum = !strncmp(suf, "sum{", 4), is_count = !strncmp(suf, "count{", 6);
            const char *lb = memchr(p, '{', (size_t)(eol - p)), *rb = lb ? memchr(lb, '}', (size_t)(eol - lb)) : NULL;
            char stage[16], mname[128];
            if ((is_sum || is_count) && rb && label(lb + 1, rb, "stage", stage, sizeof stage)) {
                int match = !model || !model[0] || (label(lb + 1, rb, "model", mname, sizeof mname) && !strcmp(mname, model));
                char num[64];
                size_t nl = (size_t)(eol - rb - 1);
                if (nl == 0 || nl >= sizeof num) return ti_errorf(TI_ERR_FORMAT, "metrics: bad value in '%.*s'", (int)(eol - p), p);
                memcpy(num, rb + 1, nl);
                num[nl] = '\0';
                char *ep;
                double v = strtod(num, &ep);
                while (*ep == ' ' || *ep == '\r') ep++;
                if (ep == num || (*ep && !(*ep >= '0' && *ep <= '9'))) /* a timestamp may follow */
                    return ti_errorf(TI_ERR_FORMAT, "metrics: bad value in '%.*s'", (int)(eol - p), p);
                if (match) {
                    out->present = 1;
                    if (is_sum && !strcmp(stage, "queue")) out->queue_sum_s += v;
                    if (is_sum && !strcmp(stage, "compute")) out->compute_sum_s += v;
                    if (is_count && !strcmp(stage, "compute")) out->count += v;
                    if (is_sum && !strcmp(stage, "stream")) out->stream_sum_s += v;
                    if (is_count && !strcmp(stage, "stream")) out->stream_count += v;
                }
            }
        }
        p = eol + 1;
    }
    return TI_OK;
}
