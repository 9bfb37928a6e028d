"""Benchmark: the model card's out-of-fold figures on several seeds, to show their spread.

    .venv/bin/python benchmarks/seed_spread.py --accounts 20000 --seeds 3 17 29

The model card's reference run is one 200,000-account platform (seed 21). This trains
`reviewguard train`'s defaults on smaller platforms of the same kind (the default `realistic`
difficulty, audit label regime, 90 days) with different seeds and prints, per risk, each figure of
the card's table per seed and its mean and standard deviation over the seeds. Prints a markdown
table and writes benchmarks/results/seed_spread.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from reviewguard.engine import connect
from reviewguard.reader import open_dataset, read_simulator_truth
from reviewguard.simulator import SimConfig, simulate
from reviewguard.training.config import load_config
from reviewguard.training.pipeline import train_models

# The model card's rows: (metric key, label).
ROWS = (
    ("positives", "labels judged out of fold: positives"),
    ("roc_auc", "ROC-AUC weighted"),
    ("roc_auc_unweighted", "ROC-AUC unweighted"),
    ("average_precision", "average precision weighted"),
    ("average_precision_unweighted", "average precision unweighted"),
    ("tpr_at_fpr_0.01", "recall at 1% false-positive rate"),
    ("expected_calibration_error", "expected calibration error"),
)


# Weighted figures with their 90% bootstrap interval over connected groups (the report's).
INTERVALS = ("roc_auc", "average_precision")


def run_seed(accounts: int, days: int, seed: int, work: Path) -> dict[str, dict[str, float]]:
    root = work / f"p{seed}"
    simulate(SimConfig(accounts=accounts, days=days, seed=seed), root, overwrite=True)
    trained = train_models(open_dataset(connect(), root), load_config(), populations=read_simulator_truth(root))
    out: dict[str, dict[str, float]] = {}
    for risk, report in trained.reports.items():
        out[risk] = {key: float(report.metrics[key]) for key, _ in ROWS}
        for key in INTERVALS:
            out[risk][f"{key}_low"], out[risk][f"{key}_high"] = report.evaluation.intervals[key]
        out[risk]["trees"] = float(report.backtest["chosen_rounds"])
        out[risk]["beats_every_baseline"] = float(report.beats_baselines)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 17, 29])
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "seed_spread.json")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {seed: run_seed(args.accounts, args.days, seed, Path(tmp)) for seed in args.seeds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"accounts": args.accounts, "days": args.days, "runs": runs}, indent=2))
    rows = (*ROWS, ("trees", "trees chosen by the backtest"), ("beats_every_baseline", "beats every baseline"))
    for risk in sorted({r for v in runs.values() for r in v}):
        print(f"\n{risk}\n\n| out of fold | " + " | ".join(f"seed {s}" for s in runs) + " | mean ± sd |")
        print("|---" * (len(runs) + 2) + "|")
        for key, label in rows:
            values = np.array([v[risk][key] for v in runs.values()])
            if key == "beats_every_baseline":
                cells = ["yes" if x else "no" for x in values]
                print(f"| {label} | " + " | ".join(cells) + f" | {int(values.sum())} of {len(values)} |")
                continue
            digits = 0 if key in ("positives", "trees") else 3
            cells = [f"{x:.{digits}f}" for x in values]
            if key in INTERVALS:
                cells = [
                    f"{c} [{v[risk][key + '_low']:.2f}–{v[risk][key + '_high']:.2f}]"
                    for c, v in zip(cells, runs.values(), strict=True)
                ]
            spread = f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"
            print(f"| {label} | " + " | ".join(cells) + f" | {spread} |")


if __name__ == "__main__":
    main()
