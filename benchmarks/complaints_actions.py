"""Benchmark: what the ladder does on complaints-only platforms, judged on the simulator's truth.

    .venv/bin/python benchmarks/complaints_actions.py --accounts 20000 --seeds 3 11 17 23 31 37
    .venv/bin/python benchmarks/complaints_actions.py --labels audit --accounts 15000 --days 60 --seeds 43 47

For each seed: a simulated platform (`realistic`, 60 days, the `complaints` label regime: no random
audit; or `--labels audit`, with one), `reviewguard train`'s defaults, every account scored at the
last event (what `reviewguard score` does without `--as-of`), and, per risk and action in use, the
accounts it reaches and how many of them are abusers in the simulator's truth (a real platform has
no such file). Also the accounts that are not abusers of the risk and get an action beyond
monitoring. The policy's own figure for each action (the band's precision and its lower bound) is
printed beside it.

Prints a markdown table and writes benchmarks/results/<labels>_actions.json. Run with an older
checkout's interpreter to get the "before" of a change (the script uses only public entry points).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from reviewguard.engine import connect
from reviewguard.features import build_features, cutoffs_at, default_as_of
from reviewguard.model.predictor import Predictor
from reviewguard.reader import open_dataset
from reviewguard.simulator import SimConfig, simulate
from reviewguard.training.config import load_config
from reviewguard.training.pipeline import train_models

# The simulator's abusers of each risk (its truth file).
ABUSERS = {"extortion": {"extortion_crew"}, "fake_engagement": {"automated_liker", "automated_liker_evasive"}}
QUIET = ("none", "monitor")


def run_seed(accounts: int, days: int, seed: int, work: Path, labels: str = "complaints") -> dict[str, Any]:
    root = work / f"c{seed}"
    simulate(SimConfig(accounts=accounts, days=days, seed=seed, label_regime=labels), root, overwrite=True)
    ds = open_dataset(connect(), root)
    trained = train_models(ds, load_config())
    as_of = default_as_of(ds)
    features = build_features(ds, cutoffs_at(ds, as_of)).to_pandas()
    scores = Predictor(trained.bundle).predict(features, explain="none", as_of=as_of)
    truth = pd.read_parquet(root / "_truth" / "populations.parquet")[["account_id", "population"]]
    scored = scores.merge(truth.astype({"account_id": str}), on="account_id", how="left")
    out: dict[str, Any] = {}
    for risk, abusers in ABUSERS.items():
        at = scored[scored["risk"] == risk]
        abusive = at["population"].isin(abusers)
        rules = {a.name: a for a in trained.bundle.policy[risk].actions}
        actions = {}
        for name, group in at[~at["action"].isin(["none"])].groupby("action"):
            rule = rules[str(name)]
            actions[str(name)] = {
                "accounts": len(group),
                "abusers": int(abusive[group.index].sum()),
                "target": rule.target_precision,
                "band_precision": rule.band_precision,
                "band_precision_low": rule.band_precision_low,
            }
        out[risk] = {
            "actions": actions,
            "non_abusive_beyond_monitor": int((~abusive & ~at["action"].isin(QUIET)).sum()),
            "non_abusive": int((~abusive).sum()),
            "positives": trained.reports[risk].labels["positives"],
        }
    return out


def _cell(r: dict[str, Any]) -> str:
    parts = []
    for name, a in sorted(r["actions"].items(), key=lambda kv: kv[1]["target"]):
        precision = a["abusers"] / a["accounts"]
        mark = "**" if precision < a["target"] else ""
        parts.append(f"{name} {a['accounts']} ({mark}{precision:.2f}{mark})")
    return ", ".join(parts) or "none"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 11, 17, 23, 31, 37])
    p.add_argument(
        "--labels", choices=["complaints", "audit"], default="complaints", help="the simulator's label regime"
    )
    p.add_argument("--out", type=Path, default=None, help="default: results/<labels>_actions.json")
    args = p.parse_args()
    out = args.out or Path(__file__).parent / "results" / f"{args.labels}_actions.json"
    with tempfile.TemporaryDirectory() as tmp:
        runs = {seed: run_seed(args.accounts, args.days, seed, Path(tmp), args.labels) for seed in args.seeds}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"accounts": args.accounts, "days": args.days, "labels": args.labels, "runs": runs}, indent=2)
    )
    print("Accounts per action (precision on the truth; bold: below the action's target):")
    print("| seed | extortion | non-abusive beyond monitor | fake engagement | non-abusive beyond monitor |")
    print("|---|---|---|---|---|")
    for seed, r in runs.items():
        e, f = r["extortion"], r["fake_engagement"]
        print(
            f"| {seed} | {_cell(e)} | {e['non_abusive_beyond_monitor']} of {e['non_abusive']:,} | "
            f"{_cell(f)} | {f['non_abusive_beyond_monitor']} of {f['non_abusive']:,} |"
        )


if __name__ == "__main__":
    main()
