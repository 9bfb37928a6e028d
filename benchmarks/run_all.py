"""Every speed and memory benchmark in one command, each figure a ratio to a baseline run in the same process.

    .venv/bin/python benchmarks/run_all.py --accounts 20000               # benchmarks/results/summary.json
    .venv/bin/python benchmarks/run_all.py --accounts 20000 --write-docs  # and the tables of docs/benchmarks.md

Each step runs in a fresh child process (its own imports and peak RSS), pinned with the command
to one core (``--cores``). Inside it the measurement and its baseline alternate, best of
``--rounds`` each: the machine is noisy (two cores shared with other work), and only a ratio of two
figures taken in the same process at the same moment, on the same core, means anything from one
run to the next. The measurements themselves are the other scripts' functions:

1. ``simulate.py``: the simulator, against writing as many rows of plain columns with the same
   Parquet writer;
2. ``features.py``: the reader (read, validate, store), against storing the same files unchecked
   in DuckDB; then every registry feature once (absolute figures only: nothing else computes all
   of them); then five features through reviewguard on DuckDB, against the same five in pandas;
3. a model trained with the defaults on the simulated platform (absolute time only);
4. ``scoring.py``: the predictor without explanations, against bare ``Booster.predict``; and
   ``explain=all``, warm and cold, against LightGBM ``pred_contrib``; with the frame-by-frame
   checks that explaining changes no score or action;
5. ``scoring.py``: ``reviewguard score`` end to end (absolute figures only).

The quality benchmarks (``plain_baseline.py``, ``yelp.py``, ``peers.py``, ...) are not run: they
take minutes to hours, some need the Yelp files, and they measure accuracy, not speed;
docs/benchmarks.md gives each one's command.

The documented ratios live in one place, the table this script writes into docs/benchmarks.md
between the ``run_all`` markers (``--write-docs``). ``documented_ratios`` reads them back and
``below_half`` compares a run with them: tests/test_benchmarks_run_all.py runs this script at
20,000 accounts and fails when a ratio falls below half its documented value.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import scoring
import simulate
from benchlib import drop_duckdb, pin_to_cores, rss_mb, run

import features

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOCS = REPO / "docs" / "benchmarks.md"
SUMMARY = HERE / "results" / "summary.json"
BEGIN = "<!-- run_all:begin"
END = "<!-- run_all:end -->"
SCHEMA = 1


@dataclass(frozen=True)
class Figure:
    """One guarded figure: what is measured and against what, both as throughputs in ``unit``, so
    the ratio (measured / baseline) is higher when reviewguard is faster relative to its baseline."""

    key: str
    what: str
    baseline: str
    unit: str


FIGURES = (
    Figure(
        "simulate",
        "simulator (`simulate.py`), rows written",
        "as many rows of plain random columns, same Parquet writer (zstd)",
        "rows/s",
    ),
    Figure(
        "read_validate",
        "reader: read and validate every table (`open_dataset`; a valid Parquet table stays a view, nothing stored)",
        "the same files stored unchecked in the same kind of DuckDB connection (`CREATE TABLE AS read_parquet`)",
        "rows/s",
    ),
    Figure(
        "features_five",
        "five features through reviewguard on DuckDB (`features.py`)",
        "the same five features in plain pandas, same files",
        "accounts/s",
    ),
    Figure(
        "predict",
        "predictor without explanations, both risks (`scoring.py`)",
        "bare `Booster.predict(raw_score=True)` on the same matrices",
        "accounts/s",
    ),
    Figure(
        "explain_warm",
        "`explain=all` (SHAP, reasons in two languages, percentiles), resolved models kept from the round before",
        "LightGBM `pred_contrib` on the same rows",
        "rows/s",
    ),
    Figure(
        "explain_cold",
        "`explain=all`, resolved models built again",
        "LightGBM `pred_contrib` on the same rows",
        "rows/s",
    ),
)


# What scoring.py compares frame by frame and value by value (not speed): the test asserts them.
CHECKS = (
    "explain_cold_equals_warm",
    "explain_all_equals_none_but_explanations",
    "predictor_vs_booster_raw_max_abs_diff_complete_rows",
    "complete_rows",
    "tree_explainer_vs_pred_contrib_max_abs_diff",
)


# ---------------------------------------------------------------- steps (each in its own child process)


def _simulate_step(accounts: int, days: int, seed: int, difficulty: str, work: str, rounds: int, q: mp.Queue) -> None:
    times: list[float] = []
    plain: list[float] = []
    rss = 0.0
    kept: Path | None = None
    for r in range(rounds):
        out = Path(work) / f"sim-{r}"
        sim = simulate.simulate_once(accounts, out, days=days, seed=seed, difficulty=difficulty)
        times.append(sim["seconds"])
        # Before the baseline has run: the simulator's own peak.
        rss = rss or rss_mb()
        rows = simulate.total_rows(sim["rows"])
        target = Path(work) / "plain.parquet"
        plain.append(simulate.plain_write(rows, target))
        target.unlink()
        # The same seed writes the same files every round; one copy is enough for the later steps.
        if kept is not None:
            shutil.rmtree(kept)
        kept = out
    assert kept is not None
    data = Path(work) / "data"
    kept.rename(data)
    q.put(
        {
            "data": str(data),
            "rows": sim["rows"],
            "total_rows": rows,
            "simulate_s": min(times),
            "plain_write_s": min(plain),
            "simulate_peak_rss_mb": rss,
            "output_mb": sum(p.stat().st_size for p in data.rglob("*") if p.is_file()) / 2**20,
        }
    )


def _features_step(data: str, memory_limit: str, work: str, rounds: int, q: mp.Queue) -> None:
    from reviewguard.features import default_as_of

    read: list[float] = []
    load: list[float] = []
    rss_read = 0.0
    ds: Any = None
    for _ in range(rounds):
        if ds is not None:
            drop_duckdb(ds.con)
        ds, seconds = features.read_validate(data, memory_limit)
        read.append(seconds)
        rss_read = rss_read or rss_mb()
        con, seconds = features.plain_load(data, memory_limit)
        load.append(seconds)
        drop_duckdb(con)
    all_s = features.all_features(ds, Path(work) / "features.parquet")
    rss_all = rss_mb()
    as_of = default_as_of(ds)
    duck: list[float] = []
    pandas: list[float] = []
    for _ in range(rounds):
        duck.append(features.duck_five(ds, as_of))
        pandas.append(features.pandas_five(data, str(as_of)))
    q.put(
        {
            "rows": sum(t.rows for t in ds.report.tables.values()),
            "events": features.events(ds),
            "accounts": ds.report.tables["accounts"].rows,
            "read_validate_s": min(read),
            "plain_load_s": min(load),
            "read_validate_peak_rss_mb": rss_read,
            "all_features_s": all_s,
            "all_features_peak_rss_mb": rss_all,
            "five_duckdb_s": min(duck),
            "five_pandas_s": min(pandas),
            "process_peak_rss_mb": rss_mb(),
        }
    )


def _train_step(data: str, bundle_dir: str, memory_limit: str, q: mp.Queue) -> None:
    import pandas as pd

    from reviewguard.engine import connect
    from reviewguard.model.bundle import save_bundle
    from reviewguard.reader import open_dataset
    from reviewguard.training.config import load_config
    from reviewguard.training.pipeline import train_models

    ds = open_dataset(connect(memory_limit=memory_limit), data)
    populations = pd.read_parquet(Path(data) / "_truth" / "populations.parquet")
    t0 = time.perf_counter()
    result = train_models(ds, load_config(), populations=populations)
    seconds = time.perf_counter() - t0
    save_bundle(result.bundle, bundle_dir)
    q.put(
        {
            "seconds": seconds,
            "trees": {risk: m.booster.num_trees() for risk, m in result.bundle.risks.items()},
            "peak_rss_mb": rss_mb(),
        }
    )


# ---------------------------------------------------------------- the run


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout

    try:
        return {
            "commit": git("rev-parse", "HEAD").strip(),
            "branch": git("rev-parse", "--abbrev-ref", "HEAD").strip(),
            # Tracked files changed since the commit: the figures are not that commit's alone.
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip()),
        }
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "branch": None, "dirty": None}


def _machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    packages = ("lightgbm", "duckdb", "ibis-framework", "pandas", "pyarrow", "numpy", "shap")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(memory_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: metadata.version(p) for p in packages},
    }


def _figure(spec: Figure, value: float, baseline: float) -> dict[str, Any]:
    return {
        "what": spec.what,
        "unit": spec.unit,
        "value": value,
        "baseline": {"what": spec.baseline, "value": baseline},
        "ratio": value / baseline,
    }


def run_all(
    *,
    accounts: int,
    days: int,
    seed: int,
    difficulty: str,
    explain_rows: int,
    rounds: int,
    memory_limit: str,
    cpus: list[int],
    work: Path,
) -> dict[str, Any]:
    """Every step on a platform of ``accounts`` simulated in ``work``; the summary (see ``SCHEMA``)."""
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    sim = run(_simulate_step, accounts, days, seed, difficulty, str(work), rounds)
    data = sim["data"]
    feat = run(_features_step, data, memory_limit, str(work), rounds)
    bundle = work / "bundle"
    train = run(_train_step, data, str(bundle), memory_limit)
    thr = run(scoring._throughput, data, str(bundle), explain_rows, rounds)
    e2e = run(scoring._end_to_end, data, str(bundle), str(work / "scores.parquet"))
    by_key = {f.key: f for f in FIGURES}
    figures = {
        "simulate": _figure(
            by_key["simulate"], sim["total_rows"] / sim["simulate_s"], sim["total_rows"] / sim["plain_write_s"]
        ),
        "read_validate": _figure(
            by_key["read_validate"], feat["rows"] / feat["read_validate_s"], feat["rows"] / feat["plain_load_s"]
        ),
        "features_five": _figure(
            by_key["features_five"], feat["accounts"] / feat["five_duckdb_s"], feat["accounts"] / feat["five_pandas_s"]
        ),
        "predict": _figure(by_key["predict"], thr["predict_accounts_per_s"], thr["bare_booster_accounts_per_s"]),
        "explain_warm": _figure(by_key["explain_warm"], thr["explain_rows_per_s"], thr["pred_contrib_rows_per_s"]),
        "explain_cold": _figure(by_key["explain_cold"], thr["explain_cold_rows_per_s"], thr["pred_contrib_rows_per_s"]),
    }
    assert list(figures) == list(by_key), "every Figure is measured, in FIGURES' order"
    return {
        "schema": SCHEMA,
        "run": {
            "accounts": accounts,
            "days": days,
            "seed": seed,
            "difficulty": difficulty,
            "explain_rows": explain_rows,
            "rounds": rounds,
            "memory_limit": memory_limit,
            # The CPUs the steps ran on (children inherit the affinity).
            "cpus": cpus,
            "started_at": started.isoformat(timespec="seconds"),
            "seconds": time.perf_counter() - t0,
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
        },
        "git": _git(),
        "machine": _machine(),
        "figures": figures,
        "checks": {k: thr[k] for k in CHECKS},
        "absolute": {
            "simulate": {k: v for k, v in sim.items() if k != "data"},
            "features": feat,
            "train": train,
            "scoring": {k: v for k, v in thr.items() if k not in CHECKS},
            "score_end_to_end": e2e,
        },
    }


# ---------------------------------------------------------------- the documented ratios


def _number(x: float) -> str:
    """Three significant figures, thousands separated: 0.0471, 4.41, 523,000."""
    if x >= 1000:
        return f"{float(f'{x:.3g}'):,.0f}"
    return f"{x:.3g}"


def _cores(n: int) -> str:
    return "one core" if n == 1 else f"{n} cores"


def render_docs(summary: dict[str, Any]) -> str:
    """The generated section of docs/benchmarks.md, markers included."""
    r, g, m = summary["run"], summary["git"], summary["machine"]
    commit = (g["commit"] or "unknown")[:10] + (" with uncommitted changes" if g["dirty"] else "")
    a = summary["absolute"]
    sim, feat, train, thr, e2e = a["simulate"], a["features"], a["train"], a["scoring"], a["score_end_to_end"]
    lines = [
        f"{BEGIN}: generated by `benchmarks/run_all.py --write-docs`; edit the prose outside the markers only -->",
        "",
        f"Measured {r['started_at'][:10]} at commit `{commit}`: "
        f"`run_all.py --accounts {r['accounts']} --days {r['days']} --seed {r['seed']}` "
        f"({r['accounts']:,} accounts, {r['days']} days, seed {r['seed']}, `{r['difficulty']}` difficulty, "
        f"{r['explain_rows']:,} explained accounts, best of {r['rounds']}), every step on "
        f"{_cores(len(r['cpus']))} of {m['cpus']} ({m['cpu_model'] or 'unknown CPU'}, {m['memory_gib']:g} GiB), "
        "load average "
        f"{r['load_average_start'][0]:.1f} at the start and {r['load_average_end'][0]:.1f} at the end; "
        f"{r['seconds']:.0f} s in all. The guard fails when a ratio falls below half the one here.",
        "",
        "| figure | measured | baseline, same process | baseline figure | ratio |",
        "|---|---|---|---|---|",
    ]
    for f in FIGURES:
        fig = summary["figures"][f.key]
        lines.append(
            f"| `{f.key}`: {f.what} | {_number(fig['value'])} {f.unit} | {f.baseline} | "
            f"{_number(fig['baseline']['value'])} {f.unit} | **{_number(fig['ratio'])}x** |"
        )
    trees = ", ".join(f"{risk} {n}" for risk, n in train["trees"].items())
    lines += [
        "",
        "Absolute figures of the same run (recorded, not guarded; peak RSS is the step's process,",
        "imports included):",
        "",
        "| step | figures |",
        "|---|---|",
        f"| simulate | {sim['simulate_s']:.1f} s for {sim['total_rows']:,} rows, {sim['output_mb']:.0f} MB of Parquet, "
        f"peak RSS {sim['simulate_peak_rss_mb']:,.0f} MB; plain write {sim['plain_write_s']:.2f} s |",
        f"| read + validate | {feat['read_validate_s']:.2f} s for {feat['rows']:,} rows, peak RSS "
        f"{feat['read_validate_peak_rss_mb']:,.0f} MB; plain DuckDB load {feat['plain_load_s']:.2f} s |",
        f"| every feature, one as-of | {feat['all_features_s']:.2f} s for {feat['accounts']:,} accounts; "
        f"read + validate + features {feat['events'] / (feat['read_validate_s'] + feat['all_features_s']):,.0f} "
        f"events/s ({feat['events']:,} events); peak RSS {feat['all_features_peak_rss_mb']:,.0f} MB |",
        f"| five features | DuckDB {feat['five_duckdb_s']:.2f} s, pandas {feat['five_pandas_s']:.2f} s |",
        f"| training (defaults) | {train['seconds']:.0f} s, trees: {trees}; peak RSS {train['peak_rss_mb']:,.0f} MB |",
        f"| scoring throughput | {thr['explained_rows']:,} explained rows: `explain=all` {thr['explain_all_s']:.3f} s "
        f"warm, {thr['explain_all_cold_s']:.3f} s cold, `pred_contrib` {thr['pred_contrib_s']:.3f} s; "
        f"`shap.TreeExplainer` {_number(thr['tree_explainer_rows_per_s'])} rows/s; peak RSS "
        f"{thr['peak_rss_mb']:,.0f} MB |",
        f"| `reviewguard score` end to end, `--explain flagged` | {e2e['seconds']:.1f} s for {e2e['accounts']:,} "
        f"accounts, peak RSS {e2e['peak_rss_mb']:,.0f} MB, {e2e['output_mb']:.1f} MB of scores |",
        "",
        END,
    ]
    return "\n".join(lines)


def _section(text: str) -> tuple[int, int]:
    """Where the generated section starts and ends (after its end marker) in the docs."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/benchmarks.md has no {BEGIN} ... {END} section")
    return start, end + len(END)


def write_docs(summary: dict[str, Any], path: Path = DOCS) -> None:
    text = path.read_text()
    start, end = _section(text)
    path.write_text(text[:start] + render_docs(summary) + text[end:])


_ROW = re.compile(r"^\| `(?P<key>[a-z_]+)`: .* \| \*\*(?P<ratio>[0-9.,]+)x\*\* \|$")


def documented_ratios(path: Path = DOCS) -> dict[str, float]:
    """Each figure's ratio as the generated table in docs/benchmarks.md states it."""
    text = path.read_text()
    start, end = _section(text)
    found = {}
    for line in text[start:end].splitlines():
        if match := _ROW.match(line):
            found[match["key"]] = float(match["ratio"].replace(",", ""))
    return found


def below_half(summary: dict[str, Any], documented: dict[str, float]) -> list[str]:
    """Every figure whose ratio fell below half its documented value, or that one side lacks."""
    failures = [f"{key}: documented, not measured" for key in documented if key not in summary["figures"]]
    for key, fig in summary["figures"].items():
        if key not in documented:
            failures.append(f"{key}: measured, not documented (run with --write-docs)")
        elif fig["ratio"] < documented[key] / 2:
            failures.append(f"{key}: ratio {fig['ratio']:.3g}x, below half the documented {documented[key]:g}x")
    return failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # Training needs enough labels in each backtest fold: 10,000 accounts is about the least that trains.
    ap.add_argument("--accounts", type=int, default=20_000, help="simulated accounts (at least about 10,000)")
    # 60 days keep the 20,000-account run (the test's) near two minutes on two cores; training is most of it.
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--difficulty", default="realistic", help="the simulator's difficulty (the package default)")
    ap.add_argument("--explain-rows", type=int, default=2000, help="accounts explained (x risks = rows)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per measurement; the best counts")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB's buffer, as the commands' default")
    ap.add_argument(
        "--cores", type=int, default=1, help="CPUs every step runs on (0: all); the documented ratios are on one"
    )
    ap.add_argument("--out", type=Path, default=SUMMARY, help="the summary JSON")
    ap.add_argument("--work", type=Path, help="keep the simulated data and the model in this folder")
    ap.add_argument("--write-docs", action="store_true", help="write the tables of docs/benchmarks.md")
    ap.add_argument("--check", action="store_true", help="exit 1 when a ratio is below half its documented value")
    args = ap.parse_args()
    cpus = pin_to_cores(args.cores) if args.cores else sorted(os.sched_getaffinity(0))
    work = args.work or Path(tempfile.mkdtemp(prefix="rg-run-all-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        summary = run_all(
            accounts=args.accounts,
            days=args.days,
            seed=args.seed,
            difficulty=args.difficulty,
            explain_rows=args.explain_rows,
            rounds=args.rounds,
            memory_limit=args.memory_limit,
            cpus=cpus,
            work=work,
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(render_docs(summary))
    print(f"\nsummary: {args.out}")
    if args.write_docs:
        write_docs(summary)
        print(f"docs: {DOCS}")
    try:
        failures = below_half(summary, documented_ratios())
    except ValueError as exc:
        failures = [str(exc)]
    print("\n".join(failures) if failures else "every ratio is at least half its documented value")
    print(
        "quality benchmarks not run (accuracy, minutes to hours, some need the Yelp files): "
        "plain_baseline.py, yelp.py, yelp_gap.py, peers.py, simulator_difficulty.py, lexicon_heldapart.py; "
        "docs/benchmarks.md gives each one's command"
    )
    if args.check and failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
