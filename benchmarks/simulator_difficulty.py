"""Benchmark: how much the simulated platform gives away, per difficulty and label regime.

    .venv/bin/python benchmarks/simulator_difficulty.py [--accounts 20000] [--days 60] [--seeds 3 4]

For each difficulty (easy, realistic, hard), label regime (audit, complaints)
and seed: simulate, compute the features at each reviewed label's decision
time (every source but ``random_audit``: the cases a moderator weighs, read
the way training reads them), and report the best single feature's ROC-AUC
per risk (either direction; a null ranks lowest). Prints the markdown table
of docs/simulator.md ("Best single feature per difficulty").
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from reviewguard.features import build_features, cutoffs_from_labels
from reviewguard.reader import load_dataset
from reviewguard.simulator import DIFFICULTIES, LABEL_REGIMES, SimConfig, simulate
from reviewguard.simulator.config import LabelRegime
from reviewguard.simulator.difficulty import Difficulty


def best_single_feature(data: Path) -> dict[str, tuple[float, str, int, int]]:
    """Per risk: (AUC, feature, positives, negatives) of the best single feature on the reviewed labels."""
    ds = load_dataset(data)
    feats = build_features(ds, cutoffs_from_labels(ds)).to_pandas()
    feats["as_of"] = pd.to_datetime(feats["as_of"], utc=True)
    labels = pd.read_parquet(data / "labels.parquet")
    labels = labels[labels.source != "random_audit"]
    rows = labels.merge(feats, left_on=["account_id", "decided_at"], right_on=["account_id", "as_of"])
    names = [c for c in feats.columns if c not in ("account_id", "as_of") and pd.api.types.is_numeric_dtype(feats[c])]
    out = {}
    for risk, g in rows.groupby("risk"):
        y = g["label"].to_numpy()
        best = (float("nan"), "", int(y.sum()), int((1 - y).sum()))
        if y.min() == y.max():
            out[str(risk)] = best
            continue
        for name in names:
            x = g[name].astype(float).to_numpy()
            if np.isnan(x).all():
                continue
            x = np.where(np.isnan(x), np.nanmin(x) - 1, x)
            auc = float(roc_auc_score(y, x))
            auc = max(auc, 1 - auc)
            if not auc <= best[0]:
                best = (auc, name, best[2], best[3])
        out[str(risk)] = best
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 4])
    args = ap.parse_args()
    risks = ("extortion", "fake_engagement")
    head = [f"{r.replace('_', ' ')}, seed {s}" for r in risks for s in args.seeds]
    print("| difficulty | labels | " + " | ".join(head) + " |")
    print("|---|---|" + "---|" * len(head))
    with tempfile.TemporaryDirectory() as tmp:
        for difficulty in DIFFICULTIES:
            for regime in LABEL_REGIMES:
                found = {}
                for seed in args.seeds:
                    out = Path(tmp) / f"{difficulty}-{regime}-{seed}"
                    cfg = SimConfig(
                        accounts=args.accounts,
                        days=args.days,
                        seed=seed,
                        difficulty=cast(Difficulty, difficulty),
                        label_regime=cast(LabelRegime, regime),
                    )
                    simulate(cfg, out)
                    found[seed] = best_single_feature(out)
                cells = []
                for risk in risks:
                    for seed in args.seeds:
                        auc, name, pos, neg = found[seed].get(risk, (float("nan"), "", 0, 0))
                        mark = "**" if auc > 0.9 else ""
                        cells.append(f"{mark}{auc:.3f}{mark} `{name}` ({pos}+/{neg}-)")
                print(f"| {difficulty} | {regime} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
