/* TEMPORARY until the Parquet reader lands. */
#include "tickinfer/ingest.h"
ti_err ti_source_open_optiver(ti_source **out, const char *dir)
{
    *out = NULL;
    return ti_errorf(TI_ERR_NOT_FOUND, "optiver: parquet reader not built yet (%s)", dir);
}
