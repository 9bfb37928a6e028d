"""Benchmark: simulator wall time and peak memory, against a same-process write baseline.

    .venv/bin/python benchmarks/simulate.py --accounts 1000000 [--difficulty realistic] [--seed 7]

Each measurement runs in a fresh child process so its peak RSS is its own.
The baseline writes as many rows of plain random columns (same widths as the
likes table) with the same Parquet writer, so the ratio shows what the
simulator's logic costs beyond writing the bytes. Prints a markdown row and
writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from benchlib import rss_mb, run


def simulate_once(
    accounts: int, out: str | Path, *, days: int = 90, seed: int = 7, difficulty: str = "realistic"
) -> dict[str, Any]:
    """One simulated platform written to ``out``: seconds and rows per table."""
    from reviewguard.simulator import SimConfig, simulate
    from reviewguard.simulator.difficulty import Difficulty

    t0 = time.perf_counter()
    cfg = SimConfig(accounts=accounts, days=days, seed=seed, difficulty=cast(Difficulty, difficulty))
    counts = simulate(cfg, out)
    return {"seconds": time.perf_counter() - t0, "rows": counts}


def total_rows(counts: dict[str, Any]) -> int:
    """Rows written to the contract tables (keys starting with ``_`` are the simulator's own notes)."""
    return sum(v for k, v in counts.items() if not k.startswith("_"))


def plain_write(rows: int, out: str | Path) -> float:
    """Seconds to write ``rows`` rows of plain random columns (the likes table's widths) with the same
    Parquet writer and compression as the simulator: what writing the bytes costs, without its logic."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    chunk = 2_000_000
    with pq.ParquetWriter(
        out,
        pa.schema([("a", pa.int64()), ("c", pa.int64()), ("t", pa.timestamp("ms", tz="UTC")), ("d", pa.int64())]),
        compression="zstd",
    ) as w:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            w.write_table(
                pa.table(
                    {
                        "a": np.sort(rng.integers(0, rows // 100 + 1, n)),
                        "c": rng.integers(0, 3 * rows // 100 + 1, n),
                        "t": pa.array(
                            np.sort(rng.integers(1_772_000_000_000, 1_780_000_000_000, n)),
                            type=pa.timestamp("ms", tz="UTC"),
                        ),
                        "d": rng.integers(0, 10_000, n),
                    }
                )
            )
    return time.perf_counter() - t0


def _simulate(accounts: int, out: str, seed: int, difficulty: str, q: mp.Queue) -> None:
    q.put({**simulate_once(accounts, out, seed=seed, difficulty=difficulty), "peak_rss_mb": rss_mb()})


def _baseline(rows: int, out: str, q: mp.Queue) -> None:
    q.put({"seconds": plain_write(rows, out), "peak_rss_mb": rss_mb()})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--keep", help="keep the simulated dataset in this folder (for the other benchmarks)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--difficulty", choices=["easy", "realistic", "hard"], default="realistic", help="default: the package's"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rg-bench-"))
    sim_dir = Path(args.keep) if args.keep else work / "sim"
    try:
        sim = run(_simulate, args.accounts, str(sim_dir), args.seed, args.difficulty)
        rows = total_rows(sim["rows"])
        base = run(_baseline, rows, str(work / "base.parquet"))
        size_mb = sum(p.stat().st_size for p in sim_dir.rglob("*") if p.is_file()) / 2**20
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "accounts": args.accounts,
        "seed": args.seed,
        "difficulty": args.difficulty,
        "rows": sim["rows"],
        "total_rows": rows,
        "simulate_seconds": round(sim["seconds"], 1),
        "simulate_peak_rss_mb": round(sim["peak_rss_mb"]),
        "baseline_seconds": round(base["seconds"], 1),
        "baseline_peak_rss_mb": round(base["peak_rss_mb"]),
        "ratio_to_baseline": round(sim["seconds"] / base["seconds"], 2),
        "output_mb": round(size_mb),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"simulate_{args.accounts}_{args.difficulty}_seed{args.seed}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(
        f"| {args.accounts:,} | `{args.difficulty}`, seed {args.seed} | {rows:,} | {result['simulate_seconds']} s | "
        f"{result['simulate_peak_rss_mb']:,} MB | {result['baseline_seconds']} s | {result['ratio_to_baseline']}x |"
    )


if __name__ == "__main__":
    main()
