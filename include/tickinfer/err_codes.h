/* tickinfer: error codes (types only; no functions).  Shared by the internal headers
 * (tickinfer/err.h) and the public embedding API (tickinfer.h), and installed with it. */
#ifndef TICKINFER_ERR_CODES_H
#define TICKINFER_ERR_CODES_H

/* Append-only: new codes go before TI_ERR__COUNT. */
typedef enum ti_err {
    TI_OK = 0,
    TI_ERR_INVALID_ARG,   /* caller passed something impossible */
    TI_ERR_NOMEM,         /* allocation failed */
    TI_ERR_IO,            /* open/read/write/fsync/rename failed (errno in message) */
    TI_ERR_FORMAT,        /* input file/stream is malformed */
    TI_ERR_UNSUPPORTED,   /* valid input using a feature we do not implement */
    TI_ERR_CORRUPT,       /* checksum mismatch, truncated data */
    TI_ERR_NOT_FOUND,     /* file, key, symbol or column missing */
    TI_ERR_RANGE,         /* value out of allowed range (NaN, negative price, ...) */
    TI_ERR_STATE,         /* call not valid in the object's current state */
    TI_ERR_LIMIT,         /* a configured capacity or size limit was hit */
    TI_ERR__COUNT
} ti_err;

#endif
