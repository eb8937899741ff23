/* Source specs: detect which reader a spec needs. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tickinfer/ingest.h"

void ti_source_close(ti_source *src)
{
    if (src && src->destroy) src->destroy(src);
}

ti_err ti_source_open(ti_source **out, const char *spec)
{
    *out = NULL;
    if (!spec || !*spec) return ti_errorf(TI_ERR_INVALID_ARG, "ingest: empty source");
    if (strncmp(spec, "sim:", 4) == 0 || strcmp(spec, "sim") == 0) return ti_source_open_sim(out, spec);
    struct stat st;
    if (stat(spec, &st) != 0) return ti_errorf(TI_ERR_NOT_FOUND, "ingest: source '%s' does not exist", spec);
    if (S_ISREG(st.st_mode)) {
        if (strstr(spec, "_message_") || strstr(spec, "_orderbook_")) return ti_source_open_lobster(out, spec);
        return ti_errorf(TI_ERR_UNSUPPORTED,
                         "ingest: cannot tell the kind of '%s': give a folder of stock_id=N/*.parquet (Optiver), LOBSTER "
                         "*_message_N.csv files, or sim:SYMBOLS:BUCKETS[:SEED]",
                         spec);
    }
    /* A folder: Optiver if it has hive partitions, LOBSTER if it has message files. */
    ti_err e = ti_source_open_optiver(out, spec);
    if (e != TI_ERR_NOT_FOUND) return e;
    e = ti_source_open_lobster(out, spec);
    if (e != TI_ERR_NOT_FOUND) return e;
    return ti_errorf(TI_ERR_NOT_FOUND,
                     "ingest: '%s' holds neither stock_id=N/*.parquet files (Optiver) nor LOBSTER *_message_N.csv files", spec);
}
