"""Benchmark: the reader (read + validate), its fingerprint share, temporary disk, and the features after it.

    nice -n 10 .venv/bin/python benchmarks/reader.py --data DIR [--code OLD_DIR] [--rounds 2]

Each round runs in a fresh child process (its own peak RSS) and measures, on DuckDB:
1. ``fingerprint_files`` alone (SHA-256 over every file's bytes; part of every open);
2. ``open_dataset`` (every contract check, clean tables as the reader leaves them, fingerprint
   included), with the peak size of the connection's work folder sampled every 50 ms while it runs
   (what a valid dataset costs in temporary disk);
3. every registry feature for every account at the default as-of, written to Parquet, over the
   dataset as opened (the features read whatever the reader left: stored tables or views);
4. the reader's baseline in the same process: the same files stored unchecked in DuckDB tables.

``--code OLD_DIR`` loads ``checks.py`` and ``reader.py`` from OLD_DIR instead of the installed ones
(e.g. ``git show 34382f0:core/checks.py > OLD_DIR/checks.py``): before and after on the same data,
back to back, in the same kind of process.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import drop_duckdb, rss_mb, run

from features import plain_load


def _load_old_code(folder: str) -> None:
    """Replace reviewguard.checks and reviewguard.reader by the files in ``folder`` before first use."""
    import reviewguard  # noqa: F401  (the package itself, so the submodules load under it)

    for name in ("checks", "reader"):
        spec = importlib.util.spec_from_file_location(f"reviewguard.{name}", os.path.join(folder, f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"reviewguard.{name}"] = module
        spec.loader.exec_module(module)


def _folder_bytes(folder: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, f))
    return total


class DiskPeak:
    """The largest size a folder reaches while the ``with`` block runs (sampled every 50 ms)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _folder_bytes(self.folder))
            self._stop.wait(0.05)

    def __enter__(self) -> DiskPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _folder_bytes(self.folder))


def _round(data: str, memory_limit: str, code: str | None, stored: str | None, q: mp.Queue) -> None:
    if code:
        _load_old_code(code)
    from reviewguard.contract import TABLES
    from reviewguard.engine import connect
    from reviewguard.features import build_features, cutoffs_at, default_as_of
    from reviewguard.reader import fingerprint_files, open_dataset

    t0 = time.perf_counter()
    fingerprint_files(Path(data))
    fingerprint_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    con = connect("duckdb", memory_limit=memory_limit)
    (work,) = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()
    with DiskPeak(work) as disk:
        ds = (
            open_dataset(con, data)
            if stored is None
            else open_dataset(con, data, stored_when_valid=tuple(stored.split(",")) if stored else ())
        )
        read_s = time.perf_counter() - t0
    rss_read = rss_mb()
    stored_tables = [
        name
        for name, kind in con.raw_sql("SELECT table_name, table_type FROM information_schema.tables").fetchall()
        if kind == "BASE TABLE" and name in TABLES
    ]

    t0 = time.perf_counter()
    out = Path(tempfile.mkdtemp()) / "features.parquet"
    with DiskPeak(work) as disk_features:
        con.to_parquet(build_features(ds, cutoffs_at(ds, default_as_of(ds))), str(out))
    features_s = time.perf_counter() - t0
    rss_features = rss_mb()
    out.unlink()
    drop_duckdb(con)

    plain, plain_s = plain_load(data, memory_limit)
    drop_duckdb(plain)

    rows = sum(t.rows for t in ds.report.tables.values())
    q.put(
        {
            "rows": rows,
            "input_mb": round(sum(p.stat().st_size for p in Path(data).glob("*.*") if p.is_file()) / 2**20, 1),
            "fingerprint_s": round(fingerprint_s, 2),
            "read_validate_s": round(read_s, 2),
            "rows_per_s": round(rows / read_s),
            "plain_load_s": round(plain_s, 2),
            "read_validate_vs_plain_load": round(read_s / plain_s, 2),
            "read_peak_work_folder_mb": round(disk.peak / 2**20, 1),
            "read_peak_rss_mb": round(rss_read),
            "stored_tables": stored_tables,
            "features_s": round(features_s, 2),
            "features_peak_work_folder_mb": round(disk_features.peak / 2**20, 1),
            "features_peak_rss_mb": round(rss_features),
            "read_plus_features_s": round(read_s + features_s, 2),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--code", help="folder holding the checks.py and reader.py to measure instead (before)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--stored", help="comma-separated valid tables to store (open_dataset's stored_when_valid; '' for none)"
    )
    args = ap.parse_args()
    for r in range(args.rounds):
        result = run(_round, args.data, args.memory_limit, args.code, args.stored)
        result["code"] = args.code or "installed"
        result["stored_when_valid"] = args.stored
        result["round"] = r
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
