/* Small helpers the benchmark programs share for writing their JSON results. */
#ifndef TICKINFER_BENCH_JSON_H
#define TICKINFER_BENCH_JSON_H

#include <stdio.h>

/* s as a JSON string (quotes and backslashes escaped, control characters dropped). */
static inline void bench_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
    fputc('"', f);
}

#endif
