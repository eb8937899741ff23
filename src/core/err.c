/* Per-thread error message buffer; see include/tickinfer/err.h. */
#include "tickinfer/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TI_ERRMSG_CAP 1024

static _Thread_local char g_errmsg[TI_ERRMSG_CAP];

static const char *const k_names[TI_ERR__COUNT] = {
    [TI_OK] = "TI_OK",
    [TI_ERR_INVALID_ARG] = "TI_ERR_INVALID_ARG",
    [TI_ERR_NOMEM] = "TI_ERR_NOMEM",
    [TI_ERR_IO] = "TI_ERR_IO",
    [TI_ERR_FORMAT] = "TI_ERR_FORMAT",
    [TI_ERR_UNSUPPORTED] = "TI_ERR_UNSUPPORTED",
    [TI_ERR_CORRUPT] = "TI_ERR_CORRUPT",
    [TI_ERR_NOT_FOUND] = "TI_ERR_NOT_FOUND",
    [TI_ERR_RANGE] = "TI_ERR_RANGE",
    [TI_ERR_STATE] = "TI_ERR_STATE",
    [TI_ERR_LIMIT] = "TI_ERR_LIMIT",
};

const char *ti_err_name(ti_err code)
{
    if ((int)code < 0 || code >= TI_ERR__COUNT) return "TI_ERR_UNKNOWN";
    return k_names[code];
}

const char *ti_errmsg(void) { return g_errmsg; }

void ti_error_clear(void) { g_errmsg[0] = '\0'; }

ti_err ti_errorf(ti_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return code;
}

/* "prefix: old".  The separator is added here; a prefix that already ends in ':' (with or
 * without trailing spaces, the older calling style) is not given a second one, and with no
 * message to wrap the prefix stands alone. */
ti_err ti_error_wrap(ti_err code, const char *fmt, ...)
{
    char old[TI_ERRMSG_CAP];
    memcpy(old, g_errmsg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof g_errmsg) n = (int)sizeof g_errmsg - 1;
    while (n > 0 && g_errmsg[n - 1] == ' ') n--;
    if (n > 0 && g_errmsg[n - 1] == ':') n--;
    g_errmsg[n] = '\0';
    if (old[0]) { /* append ": old", truncated to the buffer (a long chain loses its tail) */
        size_t at = (size_t)n;
        const char *parts[2] = {n ? ": " : "", old};
        for (int p = 0; p < 2; p++)
            for (const char *c = parts[p]; *c && at + 1 < sizeof g_errmsg; c++) g_errmsg[at++] = *c;
        g_errmsg[at] = '\0';
    }
    return code;
}
