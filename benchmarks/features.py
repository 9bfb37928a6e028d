"""Benchmark: the full feature set on DuckDB, and five features against plain pandas.

    .venv/bin/python benchmarks/features.py --data DIR     # a simulated dataset, e.g. 1,000,000 accounts
    .venv/bin/python benchmarks/features.py --data DIR --five-only   # steps 2 and 3 only

Runs each measurement in a fresh child process (its own peak RSS):
1. validate + normalise the dataset (reader), then every registry feature for
   every account at the default as-of, written to Parquet; then, as the
   reader's baseline, the same files stored unchecked in DuckDB;
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
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import rss_mb, run

FIVE = [
    "likes_per_day_max",
    "likes_per_minute_max",
    "like_without_open_share",
    "like_gap_min_ms",
    "negative_reviews_90d",
]


def read_validate(data: str | Path, memory_limit: str, engine: str = "duckdb") -> tuple[Any, float]:
    """The reader on ``data`` (every contract check; clean tables as it leaves them): the dataset and its seconds."""
    from reviewguard.engine import connect
    from reviewguard.reader import open_dataset

    t0 = time.perf_counter()
    con = connect("duckdb", memory_limit=memory_limit) if engine == "duckdb" else connect("pyspark")
    ds = open_dataset(con, data)
    return ds, time.perf_counter() - t0


def plain_load(data: str | Path, memory_limit: str) -> tuple[Any, float]:
    """The reader's baseline: the same Parquet files stored as they are in tables of the same kind of
    DuckDB connection (``CREATE TABLE AS read_parquet``), without a single check; the connection and
    its seconds."""
    from reviewguard.contract import TABLES
    from reviewguard.engine import connect
    from reviewguard.reader import locate_table

    t0 = time.perf_counter()
    con = connect("duckdb", memory_limit=memory_limit)
    for name in TABLES:
        found = locate_table(Path(data), name)
        if found is not None:
            con.create_table(name, con.read_parquet(found[1]))
    return con, time.perf_counter() - t0


def events(ds: Any) -> int:
    """Rows of the event tables (every table but accounts and labels)."""
    return sum(t.rows for n, t in ds.report.tables.items() if n not in ("accounts", "labels"))


def all_features(ds: Any, out: str | Path) -> float:
    """Seconds to compute every registry feature for every account at the default as-of, written to ``out``."""
    from reviewguard.features import build_features, cutoffs_at, default_as_of

    t0 = time.perf_counter()
    ds.con.to_parquet(build_features(ds, cutoffs_at(ds, default_as_of(ds))), str(out))
    return time.perf_counter() - t0


def duck_five(ds: Any, as_of: Any) -> float:
    """Seconds for the five features through reviewguard on the dataset's engine, as a pandas frame."""
    from reviewguard.features import build_features, cutoffs_at

    t0 = time.perf_counter()
    build_features(ds, cutoffs_at(ds, as_of), FIVE).to_pandas()
    return time.perf_counter() - t0


def pandas_five(data: str | Path, as_of: str) -> float:
    """Seconds for the same five features in plain pandas, reading only the columns they need."""
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
    accounts.set_index("account_id").join(out).join(neg.groupby("account_id").size().rename("negative_reviews_90d"))
    return time.perf_counter() - t0


def _full(data: str, memory_limit: str, engine: str, q: mp.Queue) -> None:
    ds, read_s = read_validate(data, memory_limit, engine)
    features_s = all_features(ds, Path(tempfile.mkdtemp()) / "features.parquet")
    rss = rss_mb()
    # The baseline on the same engine only: Spark's run is compared with DuckDB's as a whole.
    load_s = plain_load(data, memory_limit)[1] if engine == "duckdb" else None
    q.put(
        {
            "read_validate_s": read_s,
            "plain_load_s": load_s,
            "features_s": features_s,
            "events": events(ds),
            "accounts": ds.report.tables["accounts"].rows,
            "peak_rss_mb": rss,
        }
    )


def _duck_five(data: str, memory_limit: str, q: mp.Queue) -> None:
    from reviewguard.engine import connect
    from reviewguard.features import default_as_of
    from reviewguard.reader import open_dataset

    ds = open_dataset(connect(memory_limit=memory_limit), data, tables=("accounts", "likes", "reviews"))
    as_of = default_as_of(ds)
    q.put({"seconds": duck_five(ds, as_of), "peak_rss_mb": rss_mb(), "as_of": str(as_of)})


def _pandas_five(data: str, as_of: str, q: mp.Queue) -> None:
    q.put({"seconds": pandas_five(data, as_of), "peak_rss_mb": rss_mb()})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--memory-limit", default="8GB")
    ap.add_argument("--spark", action="store_true", help="also run the full feature set on Spark local[2]")
    ap.add_argument("--five-only", action="store_true", help="only the five features, reviewguard and pandas")
    args = ap.parse_args()
    duck = run(_duck_five, args.data, args.memory_limit)
    try:
        pand: dict | None = run(_pandas_five, args.data, duck["as_of"])
    except SystemExit as exc:  # pandas holds the likes in memory: at some size it is killed, a figure too
        pand, pandas_failure = None, str(exc)
    result: dict[str, Any] = {
        "five_duckdb_s": round(duck["seconds"], 1),
        "five_duckdb_peak_rss_mb": round(duck["peak_rss_mb"]),
    }
    if pand is None:
        result["five_pandas_failed"] = pandas_failure
    else:
        result.update(
            five_pandas_s=round(pand["seconds"], 1),
            pandas_over_duckdb=round(pand["seconds"] / duck["seconds"], 1),
            five_pandas_peak_rss_mb=round(pand["peak_rss_mb"]),
        )
    if args.five_only:
        print(json.dumps(result, indent=2))
        return
    full = run(_full, args.data, args.memory_limit, "duckdb")
    total = full["read_validate_s"] + full["features_s"]
    result = {
        "accounts": full["accounts"],
        "events": full["events"],
        "read_validate_s": round(full["read_validate_s"], 1),
        "plain_duckdb_load_s": round(full["plain_load_s"], 1),
        "features_s": round(full["features_s"], 1),
        "events_per_s_end_to_end": round(full["events"] / total),
        "full_peak_rss_mb": round(full["peak_rss_mb"]),
        **result,
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
