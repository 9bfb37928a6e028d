"""Benchmark: the full feature set on DuckDB, and five features against plain pandas.

    .venv/bin/python benchmarks/features.py --data DIR     # a simulated dataset, e.g. 1,000,000 accounts

Runs each measurement in a fresh child process (its own peak RSS):
1. validate + normalise the dataset (reader), then every registry feature for
   every account at the default as-of, written to Parquet;
2. five representative features (likes_per_day_max, likes_per_minute_max,
   like_without_open_share, like_gap_min_ms, negative_reviews_90d) in plain
   pandas, reading only the columns they need;
3. the same five through reviewguard on DuckDB;
4. with ``--spark``, step 1 again on a local Spark session (``local[2]``), the
   same code through Ibis on PySpark; the Spark/DuckDB ratio shows what one
   machine loses by going through Spark (a cluster wins it back in width).
The ratios come from runs on the same data on the same machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue
import resource
import tempfile
import time
from pathlib import Path

FIVE = [
    "likes_per_day_max",
    "likes_per_minute_max",
    "like_without_open_share",
    "like_gap_min_ms",
    "negative_reviews_90d",
]


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _full(data: str, memory_limit: str, engine: str, q: mp.Queue) -> None:
    from reviewguard.engine import connect
    from reviewguard.features import build_features, cutoffs_at, default_as_of
    from reviewguard.reader import open_dataset

    t0 = time.perf_counter()
    con = connect("duckdb", memory_limit=memory_limit) if engine == "duckdb" else connect("pyspark")
    ds = open_dataset(con, data)
    t1 = time.perf_counter()
    out = Path(tempfile.mkdtemp()) / "features.parquet"
    expr = build_features(ds, cutoffs_at(ds, default_as_of(ds)))
    con.to_parquet(expr, str(out))
    t2 = time.perf_counter()
    events = sum(t.rows for n, t in ds.report.tables.items() if n not in ("accounts", "labels"))
    q.put(
        {
            "read_validate_s": t1 - t0,
            "features_s": t2 - t1,
            "events": events,
            "accounts": ds.report.tables["accounts"].rows,
            "peak_rss_mb": _rss(),
        }
    )


def _duck_five(data: str, memory_limit: str, q: mp.Queue) -> None:
    from reviewguard.engine import connect
    from reviewguard.features import build_features, cutoffs_at, default_as_of
    from reviewguard.reader import open_dataset

    con = connect(memory_limit=memory_limit)
    ds = open_dataset(con, data, tables=("accounts", "likes", "reviews"))
    as_of = default_as_of(ds)
    t0 = time.perf_counter()
    df = build_features(ds, cutoffs_at(ds, as_of), FIVE).to_pandas()
    q.put({"seconds": time.perf_counter() - t0, "rows": len(df), "peak_rss_mb": _rss(), "as_of": str(as_of)})


def _pandas_five(data: str, as_of: str, q: mp.Queue) -> None:
    import numpy as np
    import pandas as pd

    t0 = time.perf_counter()
    cut = pd.Timestamp(as_of, tz="UTC")
    likes = pd.read_parquet(Path(data) / "likes.parquet", columns=["account_id", "liked_at", "dwell_ms"])
    likes = likes[(likes.liked_at < cut) & (likes.liked_at >= cut - pd.Timedelta(days=30))]
    g = likes.groupby("account_id")
    out = pd.DataFrame(
        {
            "likes_per_day_max": likes.groupby([likes.account_id, likes.liked_at.dt.floor("D")])
            .size()
            .groupby(level=0)
            .max(),
            "likes_per_minute_max": likes.groupby([likes.account_id, likes.liked_at.dt.floor("min")])
            .size()
            .groupby(level=0)
            .max(),
            "like_without_open_share": g.dwell_ms.apply(lambda s: s.isna().mean()),
        }
    )
    likes = likes.sort_values(["account_id", "liked_at"])
    gap = likes.liked_at.diff().dt.total_seconds() * 1000
    gap[likes.account_id != likes.account_id.shift()] = np.nan
    out["like_gap_min_ms"] = gap.groupby(likes.account_id).min()
    reviews = pd.read_parquet(Path(data) / "reviews.parquet", columns=["account_id", "rating", "created_at"])
    neg = reviews[
        (reviews.rating <= 2) & (reviews.created_at < cut) & (reviews.created_at >= cut - pd.Timedelta(days=90))
    ]
    accounts = pd.read_parquet(Path(data) / "accounts.parquet", columns=["account_id"])
    out = (
        accounts.set_index("account_id").join(out).join(neg.groupby("account_id").size().rename("negative_reviews_90d"))
    )
    q.put({"seconds": time.perf_counter() - t0, "rows": len(out), "peak_rss_mb": _rss()})


def run(target, *args) -> dict:  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    # A child that dies (out of memory, a crash) must end the benchmark, not hang it.
    while True:
        try:
            result: dict = q.get(timeout=5)  # type: ignore[type-arg]
            break
        except queue.Empty:
            if not p.is_alive():
                raise SystemExit(f"{target.__name__} died with exit code {p.exitcode}") from None
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--memory-limit", default="8GB")
    ap.add_argument("--spark", action="store_true", help="also run the full feature set on Spark local[2]")
    args = ap.parse_args()
    full = run(_full, args.data, args.memory_limit, "duckdb")
    duck = run(_duck_five, args.data, args.memory_limit)
    pand = run(_pandas_five, args.data, duck["as_of"])
    total = full["read_validate_s"] + full["features_s"]
    result = {
        "accounts": full["accounts"],
        "events": full["events"],
        "read_validate_s": round(full["read_validate_s"], 1),
        "features_s": round(full["features_s"], 1),
        "events_per_s_end_to_end": round(full["events"] / total),
        "full_peak_rss_mb": round(full["peak_rss_mb"]),
        "five_duckdb_s": round(duck["seconds"], 1),
        "five_pandas_s": round(pand["seconds"], 1),
        "pandas_over_duckdb": round(pand["seconds"] / duck["seconds"], 1),
        "five_duckdb_peak_rss_mb": round(duck["peak_rss_mb"]),
        "five_pandas_peak_rss_mb": round(pand["peak_rss_mb"]),
    }
    if args.spark:
        spark = run(_full, args.data, args.memory_limit, "pyspark")
        result.update(
            spark_read_validate_s=round(spark["read_validate_s"], 1),
            spark_features_s=round(spark["features_s"], 1),
            spark_over_duckdb=round(
                (spark["read_validate_s"] + spark["features_s"]) / (full["read_validate_s"] + full["features_s"]), 1
            ),
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"features_{full['accounts']}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
