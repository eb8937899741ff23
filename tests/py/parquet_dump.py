"""Dump Parquet columns with pyarrow as raw little-endian binaries, the oracle of
tests/data/test_parquet_pyarrow.c.

    parquet_dump.py OUT_DIR LIST_FILE      (LIST_FILE: one Parquet path per line)

For file k (0-based line of LIST_FILE) and leaf column c it writes
    OUT_DIR/<k>_<c>.bin     values in the column's PHYSICAL type (int32, int64,
                            float32, float64; little-endian; nulls as 0)
    OUT_DIR/<k>_<c>.valid   one byte per row, 1 = value, 0 = null
and one line "k<TAB>c<TAB>name<TAB>PHYSICAL_TYPE<TAB>rows" in OUT_DIR/manifest.tsv.
Only flat columns of those four physical types are dumped; pyarrow decodes everything
else too, so unsupported codecs/encodings still get reference values.
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NUMPY = {"INT32": ("<i4", pa.int32()), "INT64": ("<i8", pa.int64()), "FLOAT": ("<f4", pa.float32()),
         "DOUBLE": ("<f8", pa.float64())}


def physical(arr, ptype):
    """The values as stored, whatever logical type pyarrow decoded them to."""
    dtype, atype = NUMPY[ptype]
    if arr.type == atype:
        return arr
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        return arr.cast(atype)  # e.g. INT32 annotated INT_16 -> int16 in Arrow
    return arr.view(atype)  # dates, times, timestamps: same bits


def main():
    out, listing = sys.argv[1], sys.argv[2]
    with open(listing) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    lines = []
    for k, path in enumerate(paths):
        pf = pq.ParquetFile(path)
        table = pf.read()
        schema = pf.schema
        for c in range(len(schema)):
            col = schema.column(c)
            if col.physical_type not in NUMPY or col.max_repetition_level > 0 or "." in col.path:
                continue
            arr = table.column(col.path).combine_chunks()
            valid = np.asarray(arr.is_valid(), dtype=np.uint8) if len(arr) else np.zeros(0, np.uint8)
            arr = physical(arr, col.physical_type)
            zero = pa.scalar(0, type=arr.type)
            vals = pc.fill_null(arr, zero).to_numpy(zero_copy_only=False).astype(NUMPY[col.physical_type][0])
            vals.tofile(os.path.join(out, "%d_%d.bin" % (k, c)))
            valid.tofile(os.path.join(out, "%d_%d.valid" % (k, c)))
            lines.append("%d\t%d\t%s\t%s\t%d\n" % (k, c, col.path, col.physical_type, len(arr)))
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
