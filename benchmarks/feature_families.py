"""Benchmark: where the feature time goes, family by family, and which Parquet columns are slow to read.

    nice -n 10 .venv/bin/python benchmarks/feature_families.py --data DIR [--family lockstep ...]

In one fresh child process: ``open_dataset`` on DuckDB, the default as-of's cutoffs stored, then
each compute group of the registry computed and stored on its own (``CREATE TABLE``), timed.
The families share nothing here, so the sum is a little more than ``build_features`` (which
also joins their results). Then, for every string column of every Parquet table, the time to
read it alone (``min``) and its uncompressed bytes per row in the first row group: a column
whose dictionary overflowed into plain pages shows as tens of bytes per row and seconds to read
(docs/data-contract.md, writing Parquet for speed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

from benchlib import rss_mb, run


def _families(data: str, memory_limit: str, only: list[str] | None, q: mp.Queue) -> None:
    from reviewguard.engine import connect, materialize
    from reviewguard.features import cutoffs_at, default_as_of
    from reviewguard.features.registry import GROUPS
    from reviewguard.reader import open_dataset

    t0 = time.perf_counter()
    ds = open_dataset(connect("duckdb", memory_limit=memory_limit), data)
    seconds = {"open": round(time.perf_counter() - t0, 2)}
    cut = cutoffs_at(ds, default_as_of(ds))
    cut = materialize(ds.con, "_bench_cutoffs", cut.select("account_id", "as_of"))
    for group in GROUPS:
        if only and group.name not in only:
            continue
        t0 = time.perf_counter()
        materialize(ds.con, f"_bench_{group.name}", group.compute(ds, cut))
        seconds[group.name] = round(time.perf_counter() - t0, 2)
    q.put({"seconds": seconds, "peak_rss_mb": round(rss_mb())})


def _columns(data: str, q: mp.Queue) -> None:
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect()
    out = []
    for path in sorted(Path(data).glob("*.parquet")):
        meta = pq.ParquetFile(path).metadata
        if meta.num_row_groups == 0 or meta.num_rows == 0:
            continue
        first = meta.row_group(0)
        for i in range(first.num_columns):
            col = first.column(i)
            if col.physical_type != "BYTE_ARRAY":
                continue
            t0 = time.perf_counter()
            con.execute(f"SELECT min(\"{col.path_in_schema}\") FROM read_parquet('{path}')").fetchall()
            out.append(
                {
                    "table": path.stem,
                    "column": col.path_in_schema,
                    "read_s": round(time.perf_counter() - t0, 2),
                    "bytes_per_row_uncompressed": round(col.total_uncompressed_size / first.num_rows, 1),
                    "dictionary": col.has_dictionary_page,
                }
            )
    q.put({"columns": out})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--family", action="append", help="only these compute groups (repeatable)")
    args = ap.parse_args()
    result = run(_families, args.data, args.memory_limit, args.family)
    result.update(run(_columns, args.data))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
