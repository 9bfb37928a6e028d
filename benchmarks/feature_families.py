"""Benchmark: where the feature time goes, family by family, and which Parquet columns are slow to read.

    nice -n 10 .venv/bin/python benchmarks/feature_families.py --data DIR [--family lockstep ...]

In one fresh child process: ``open_dataset`` on DuckDB, the default as-of's cutoffs stored, then
each compute group of the registry computed and stored on its own (``CREATE TABLE``), timed.
The families share nothing here, so the sum is a little more than ``build_features`` (which
also joins their results). Then, for every string column of every Parquet table, the time to
read it alone (``min``) and its uncompressed bytes per row in the first row group: a column
whose dictionary overflowed into plain pages shows as tens of bytes per row and seconds to read
(docs/data-contract.md, writing Parquet for speed). With ``--floor``, in another child: the
fewest operations over the likes that the like families cannot avoid, timed alone (``_floor``).
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


def _floor(data: str, memory_limit: str, q: mp.Queue) -> None:
    """The engine's floor under the like families: the fewest operations over the likes they cannot
    avoid, each computed and stored on its own over the same views and cutoffs (one child process).

    - ``likes_per_account``: the 30-day window joined to the cutoffs and counted per account, the
      least any per-account like feature costs (one scan, one join, one hash aggregate);
    - ``likes_per_account_day``: the same by (account, day), then the maximum per account (the
      volume family needs it by day, hour and minute, and over 90 days);
    - ``gap_window``: every like's gap to the account's previous one (a sort by account and time),
      then the smallest per account (the timing family's gaps);
    - ``liker_author_pairs``: likes counted by (account, author) (the audience family);
    - ``item_windows``: the window's likes counted by (item, 10-minute bucket) (lockstep's first cut).
    """
    import ibis

    from reviewguard.engine import connect, materialize
    from reviewguard.features import cutoffs_at, default_as_of
    from reviewguard.features.likes import likes_30d
    from reviewguard.features.pit import KEY
    from reviewguard.reader import open_dataset

    ds = open_dataset(connect("duckdb", memory_limit=memory_limit), data)
    cut = materialize(ds.con, "_floor_cutoffs", cutoffs_at(ds, default_as_of(ds)).select("account_id", "as_of"))
    l30 = likes_30d(ds, cut)
    per_day = l30.group_by([*KEY, l30.liked_at.truncate("D").name("day")]).aggregate(n=l30.count())
    narrow = l30.select(*KEY, "t_ms")
    gaps = narrow.mutate(gap=narrow.t_ms - narrow.t_ms.lag().over(ibis.window(group_by=list(KEY), order_by="t_ms")))
    bucket = (l30.t_ms // 600_000).name("bucket")
    queries = {
        "likes_per_account": l30.group_by(list(KEY)).aggregate(n=l30.count()),
        "likes_per_account_day": per_day.group_by(list(KEY)).aggregate(n=per_day.n.max()),
        "gap_window": gaps.group_by(list(KEY)).aggregate(gap=gaps.gap.min()),
        "liker_author_pairs": l30.group_by([*KEY, "author_id"]).aggregate(n=l30.count()),
        "item_windows": l30.group_by(["content_id", bucket]).aggregate(n=l30.count()),
    }
    seconds = {}
    for name, query in queries.items():
        t0 = time.perf_counter()
        materialize(ds.con, f"_floor_{name}", query)
        seconds[name] = round(time.perf_counter() - t0, 2)
    q.put({"floor_seconds": seconds, "floor_peak_rss_mb": round(rss_mb())})


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
    ap.add_argument("--floor", action="store_true", help="also time the engine's floor under the like families")
    args = ap.parse_args()
    result = run(_families, args.data, args.memory_limit, args.family)
    if args.floor:
        result.update(run(_floor, args.data, args.memory_limit))
    result.update(run(_columns, args.data))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
