"""Write the small Parquet fixtures of tests/data/parquet/ and the fuzz seeds of
fuzz/corpus/parquet/ (run from the repo root with the project's .venv python):

    .venv/bin/python tests/py/parquet_make_fixtures.py

Every value comes from a formula of the row index i that tests/data/test_parquet.c
recomputes in C (keep the two in sync):
    i32     int32   required   i*3 - 7
    i64     int64   required   i*1000000007 - 3000000000
    f32     float   required   i*0.25 - 10            (exact in float32)
    f64     double  required   i*0.1 - 3.0            (same IEEE double ops as C)
    cat     int32   required   (i*7) % 13 - 6         (few distinct: dictionary-friendly)
    opt_i32 int32   optional   (i%11)*5 - 20, null where i%7 == 3
    opt_f32 float   optional   i*0.25, null where i%7 == 3
    opt_f64 double  optional   i*0.5, null where i%5 == 1
    s       string  optional   "s<i%17>"              (BYTE_ARRAY: listed, not readable)
    b       bool    required   i%3 == 0               (BOOLEAN: listed, not readable)
Files are deterministic (no statistics timestamps; created_by is pyarrow's).
"""
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

OUT = "tests/data/parquet"
FUZZ = "fuzz/corpus/parquet"


def table(n, cols=None):
    idx = range(n)
    data = {
        "i32": pa.array([i * 3 - 7 for i in idx], pa.int32()),
        "i64": pa.array([i * 1000000007 - 3000000000 for i in idx], pa.int64()),
        "f32": pa.array([i * 0.25 - 10 for i in idx], pa.float32()),
        "f64": pa.array([i * 0.1 - 3.0 for i in idx], pa.float64()),
        "cat": pa.array([(i * 7) % 13 - 6 for i in idx], pa.int32()),
        "opt_i32": pa.array([None if i % 7 == 3 else (i % 11) * 5 - 20 for i in idx], pa.int32()),
        "opt_f32": pa.array([None if i % 7 == 3 else i * 0.25 for i in idx], pa.float32()),
        "opt_f64": pa.array([None if i % 5 == 1 else i * 0.5 for i in idx], pa.float64()),
        "s": pa.array(["s%d" % (i % 17) for i in idx], pa.string()),
        "b": pa.array([i % 3 == 0 for i in idx], pa.bool_()),
    }
    required = {"i32", "i64", "f32", "f64", "cat", "b"}
    names = cols or list(data)
    fields = [pa.field(k, data[k].type, nullable=k not in required) for k in names]
    return pa.Table.from_arrays([data[k] for k in names], schema=pa.schema(fields))


def write(name, t, **kw):
    kw.setdefault("store_schema", False)  # no ARROW:schema blob: smaller files
    kw.setdefault("write_statistics", False)
    path = os.path.join(OUT, name)
    pq.write_table(t, path, **kw)
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(FUZZ, exist_ok=True)
    n = 300
    t = table(n)
    # Codec x dictionary x page version x format version (PLAIN_DICTIONARY in 1.0, RLE_DICTIONARY after).
    write("plain_none_v1.parquet", t, compression="none", use_dictionary=False, data_page_version="1.0")
    write("dict_none_v1.parquet", t, compression="none", use_dictionary=True, data_page_version="1.0", version="1.0")
    write("dict_snappy_v1.parquet", t, compression="snappy", use_dictionary=True, data_page_version="1.0", version="1.0")
    write("plain_snappy_v2.parquet", t, compression="snappy", use_dictionary=False, data_page_version="2.0")
    write("dict_zstd_v2.parquet", t, compression="zstd", use_dictionary=True, data_page_version="2.0")
    write("plain_gzip_v1.parquet", t, compression="gzip", use_dictionary=False, data_page_version="1.0")
    write("dict_gzip_v2.parquet", t, compression="gzip", use_dictionary=True, data_page_version="2.0")
    # Many row groups (700 rows; the last one shorter) and small pages; a small
    # dictionary page limit makes high-cardinality columns fall back to PLAIN mid-chunk;
    # page CRCs on.
    big = table(3000, ["i32", "i64", "f32", "f64", "cat", "opt_i32", "opt_f64", "s"])
    for ver, codec in (("1.0", "snappy"), ("2.0", "zstd")):
        write("multi_rg_pages_v%s.parquet" % ver[0], big, compression=codec, use_dictionary=True, data_page_version=ver,
              row_group_size=700, data_page_size=512, write_batch_size=64, dictionary_pagesize_limit=1024,
              write_page_checksum=True)
    write("empty.parquet", table(0, ["i32", "opt_f64"]), compression="none")
    # Unsupported features.
    small = table(50, ["i32", "f64"])
    write("codec_lz4.parquet", small, compression="lz4")
    write("codec_brotli.parquet", small, compression="brotli")
    write("enc_delta.parquet", table(50, ["i32", "i64", "f32", "f64"]), compression="none", use_dictionary=False,
          column_encoding={"i32": "DELTA_BINARY_PACKED", "f32": "BYTE_STREAM_SPLIT"})
    nested = pa.table({
        "id": pa.array(range(20), pa.int32()),
        "lst": pa.array([[i, i + 1] for i in range(20)], pa.list_(pa.int32())),
        "st": pa.array([{"a": i, "b": i * 0.5} for i in range(20)],
                       pa.struct([("a", pa.int32()), ("b", pa.float64())])),
    })
    write("nested.parquet", nested, compression="none")

    # Fuzz seeds: tiny valid files (one per codec/encoding/page version) plus cut and
    # byte-flipped copies.  Deterministic.
    tiny = table(10, ["i32", "f64", "opt_f32", "s"])
    seeds = {}
    for name, kw in {
        "plain_v1": dict(compression="none", use_dictionary=False),
        "dict_v1": dict(compression="none", use_dictionary=True, version="1.0"),
        "snappy_v2": dict(compression="snappy", data_page_version="2.0"),
        "zstd_crc": dict(compression="zstd", write_page_checksum=True),
        "gzip_v2": dict(compression="gzip", data_page_version="2.0", use_dictionary=False),
    }.items():
        sink = pa.BufferOutputStream()
        pq.write_table(tiny, sink, store_schema=False, write_statistics=False, **kw)
        seeds[name] = sink.getvalue().to_pybytes()
    for name, data in seeds.items():
        with open(os.path.join(FUZZ, name), "wb") as f:
            f.write(data)
    base = seeds["dict_v1"]
    variants = {
        "cut_half": base[: len(base) // 2],
        "cut_footer": base[: len(base) - 5],
        "cut_head": base[4:],
        "bad_footer_len": base[:-8] + b"\xff\xff\x00\x00" + base[-4:],
        "bad_magic": b"PAR2" + base[4:],
    }
    # Flip one byte at a few fixed spots: in the pages and in the footer.
    for k, frac in enumerate((0.1, 0.3, 0.5, 0.7, 0.85, 0.95)):
        pos = int(len(base) * frac)
        b = bytearray(base)
        b[pos] ^= 0x5A
        variants["flip_%d" % k] = bytes(b)
    for name, data in variants.items():
        with open(os.path.join(FUZZ, name), "wb") as f:
            f.write(data)

    total = sum(os.path.getsize(os.path.join(OUT, x)) for x in os.listdir(OUT))
    print("fixtures: %d files, %d bytes in %s" % (len(os.listdir(OUT)), total, OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
