"""Benchmark: where reviewguard's judged AP goes on complaint labels: the missing-value rule and the
monotone directions, each measured on the later decisions and on the population.

    .venv/bin/python benchmarks/constraints_ablation.py --seeds 3 11 17 23

On the platforms of `plain_baseline.py` (complaints regime, realistic difficulty, 20k accounts / 60
days), one LightGBM per risk is trained on reviewguard's features at the labels decided before the
cut (labelled rows only: no positive-unlabelled sample, no backtest), and judged on the later
decisions (the complaint queue's labels) and on the population at the cut (simulator truth), as in
`plain_baseline.py`. Variants:

- LightGBM's defaults (100 trees, no constraints), a null sent down LightGBM's learned missing
  branch: absence allowed to count as evidence, which reviewguard forbids;
- the same model, a null scored as its least-risky value (`TreeModel.fill`, jointly over the
  model's intervals): reviewguard's rule;
- reviewguard's learner (its parameters, a fixed tree count) under the registry's monotone
  directions, none, or the registry's with the negative-review volume features set free; nulls
  least risky in every one.

Why: reviewguard's extortion AP on seed 11's later decisions is below the plain script's. This
shows which of reviewguard's rules costs it there, and what each buys on the accounts a model acts
on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from reviewguard.engine import connect
from reviewguard.features import Feature, features_for
from reviewguard.model.explain import TreeModel
from reviewguard.reader import open_dataset
from reviewguard.simulator import DIFFICULTIES
from reviewguard.training.config import load_config
from reviewguard.training.labels import features_at, label_table
from reviewguard.training.learner import fill_for_training, lightgbm_params

sys.path.insert(0, str(Path(__file__).parent))

from plain_baseline import complaints_platform, population_at_cut

# The features that count negative reviews: on complaint labels the queue's negatives (unhappy
# customers) write them too, which is where a free model finds its extra judged AP.
NEGATIVE_REVIEW_VOLUME = frozenset(
    {
        "negative_reviews_30d",
        "negative_reviews_90d",
        "negative_review_share",
        "negatively_reviewed_merchants",
        "negative_review_then_message_share",
    }
)


def directions(features: list[Feature]) -> dict[str, list[int]]:
    return {
        "registry directions": [f.direction for f in features],
        "no directions": [0] * len(features),
        "negative-review volume free": [0 if f.name in NEGATIVE_REVIEW_VOLUME else f.direction for f in features],
    }


MISSING_BRANCH = "LightGBM defaults, a null takes its missing branch"
LEAST_RISKY = "LightGBM defaults, a null least risky"


def _ap(tree: TreeModel, rows: pd.DataFrame, names: list[str], *, least_risky: bool) -> float:
    """Average precision of ``tree`` on ``rows``; a null least risky, or down the booster's missing branch."""
    x = rows[names].to_numpy(np.float64, na_value=np.nan)
    score = tree.raw_score(tree.fill(x)) if least_risky else tree.booster.predict(x, raw_score=True)
    return float(average_precision_score(rows["label"], score))


def _variants(
    train: pd.DataFrame, features: list[Feature], lgb_cfg: dict[str, Any], seed: int, rounds: int
) -> dict[str, tuple[TreeModel, bool]]:
    """Each variant's model, and whether it scores a null as its least-risky value."""
    names = [f.name for f in features]
    x = train[names].to_numpy(np.float64, na_value=np.nan)
    y = train["label"].to_numpy()
    plain = lgb.LGBMClassifier(random_state=seed, verbose=-1).fit(x, y).booster_
    out = {
        MISSING_BRANCH: (TreeModel(plain, [0] * len(names)), False),
        LEAST_RISKY: (TreeModel(plain, [0] * len(names)), True),
    }
    for name, dirs in directions(features).items():
        constrained = [dataclasses.replace(f, direction=d) for f, d in zip(features, dirs, strict=True)]
        params = lightgbm_params(lgb_cfg, features=constrained, y=y, seed=seed)
        booster = lgb.train(params, lgb.Dataset(fill_for_training(x, dirs), y), num_boost_round=rounds)
        out[name] = (TreeModel(booster, dirs), True)
    return out


def run_seed(
    accounts: int, days: int, seed: int, work: Path, difficulty: str, rounds: int
) -> dict[str, dict[str, dict[str, float]]]:
    root, raw, cut = complaints_platform(accounts, days, seed, work, difficulty)
    naive_cut = cut.tz_convert("UTC").tz_localize(None)
    ds = open_dataset(connect(), root)
    lab = label_table(ds)
    lgb_cfg = load_config().lightgbm
    out: dict[str, dict[str, dict[str, float]]] = {}
    for risk in sorted(lab["risk"].unique()):
        rows = features_at(ds, lab[lab["risk"] == risk])
        train, judged = rows[rows["decided_at"] <= naive_cut], rows[rows["decided_at"] > naive_cut]
        pop = features_at(ds, population_at_cut(root, raw, cut, risk).assign(decided_at=naive_cut))
        features = features_for(risk)
        names = [f.name for f in features]
        out[risk] = {
            name: {
                "judged_ap": _ap(tree, judged, names, least_risky=least_risky),
                "population_ap": _ap(tree, pop, names, least_risky=least_risky),
            }
            for name, (tree, least_risky) in _variants(train, features, lgb_cfg, seed, rounds).items()
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 11, 17, 23])
    p.add_argument("--difficulty", choices=DIFFICULTIES, default="realistic")
    p.add_argument(
        "--rounds", type=int, default=80, help="trees of reviewguard's learner (its backtest chooses 40-90 here)"
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {s: run_seed(args.accounts, args.days, s, Path(tmp), args.difficulty, args.rounds) for s in args.seeds}
    print(f"judged AP / population AP, labels before the cut only, {args.rounds} trees")
    for risk in sorted({r for v in runs.values() for r in v}):
        print(f"\n{risk}\n\n| model | " + " | ".join(f"seed {s}" for s in runs) + " |")
        print("|---" * (len(runs) + 1) + "|")
        for name in (MISSING_BRANCH, LEAST_RISKY, *directions(features_for(risk))):
            cells = [f"{v[risk][name]['judged_ap']:.3f} / {v[risk][name]['population_ap']:.3f}" for v in runs.values()]
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
