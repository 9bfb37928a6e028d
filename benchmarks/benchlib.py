"""What every speed benchmark shares: best-of timing, peak RSS, and a measurement in a child process."""

from __future__ import annotations

import multiprocessing as mp
import queue
import resource
import time
from collections.abc import Callable
from typing import Any


def pin_to_cores(n: int) -> list[int]:
    """Run this process, and every process it starts from now on, on ``n`` of its CPUs; the CPUs.

    On a machine shared with other work, a measurement that uses every core (DuckDB, LightGBM's
    OpenMP) loses more to a busy neighbour than one that uses a single core (pandas, reviewguard's
    own Python), which tilts their ratio; on the same one core both lose alike.
    """
    import os

    cpus = sorted(os.sched_getaffinity(0))[-n:]
    os.sched_setaffinity(0, cpus)
    return cpus


def rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(best: dict[str, float], name: str, call: Callable[[], Any]) -> Any:
    """``call()``, keeping in ``best[name]`` the shortest time it has taken so far."""
    t0 = time.perf_counter()
    out = call()
    best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
    return out


def drop_duckdb(con: Any) -> None:
    """Close a ``reviewguard.engine.connect`` DuckDB connection and delete its work folder now.

    Its folder holds the stored tables (gigabytes at a million accounts) and would otherwise stay
    until the process exits; a benchmark that opens the dataset once per round would pile them up.
    """
    import shutil

    (folder,) = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()
    con.disconnect()
    shutil.rmtree(folder, ignore_errors=True)


def run(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    """``target(*args, q)`` in a fresh spawned process (its own peak RSS); what it puts on ``q``."""
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    # A child that dies (out of memory, a crash) must end the benchmark, not hang it.
    while True:
        try:
            result: dict[str, Any] = q.get(timeout=5)
            break
        except queue.Empty:
            if not p.is_alive():
                raise SystemExit(f"{target.__name__} died with exit code {p.exitcode}") from None
    p.join()
    return result
