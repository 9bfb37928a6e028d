"""Where reviewguard's AUC gap to the simple script goes on Yelp (docs/benchmarks.md, issue 17).

    nice -n 10 .venv/bin/python benchmarks/yelp_gap.py --data-dir ../shared/data/yelp \
        [--only YelpChi] [--depth core|features|plain|new|trees|full]

Every variant is scored by stratified 5-fold CV (seed 7, one fold assignment for
all) on the same accounts; pooled out-of-fold AUC and AP, and the spread over
folds. Variants:

- the two feature sets crossed with the two learners (reviewguard's learner:
  monotone constraints from the registry, least-risky fill of missing values,
  shallow trees, trees chosen on a held-out fifth; the script's plain
  ``LGBMClassifier``);
- the script's features point in time: product context (popularity, rank,
  product mean) from the product's reviews before each account's decision time,
  as reviewguard sees them, instead of the whole file;
- reviewguard's features at one common as-of, the end of the data, instead of
  each account's decision time;
- (``--depth features``) reviewguard's learner without its monotone
  constraints; reviewguard's 14 features plus each of the script's features,
  one at a time, and the script less each feature, on the plain learner (so
  the learner's effect stays out of the features' figures), with the product
  context over the whole file and at each account's decision time.

Then (``core``) the new-accounts protocol of benchmarks/yelp.py with
reviewguard's features at one as-of per side (T for training, end of data for
judging) and the script on whole-file features (which let training rows see
after T). Writes benchmarks/results/yelp-gap-<file>-<depth>.json and prints markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))

import yelp_baseline
from yelp import FILES, contract, metrics, new_accounts_split, read_yelp, reviewguard_fit_score, simple_features

from reviewguard.features import Feature, build_features, cutoffs_at, default_as_of, features_for
from reviewguard.model.explain import TreeModel
from reviewguard.training.config import TrainConfig, load_config
from reviewguard.training.labels import features_at_labels, label_table
from reviewguard.training.learner import fit_booster

SEED = 7
PRODUCT_CONTEXT = ["mean_abs_deviation", "earliest_rank_fraction", "product_popularity", "product_mean_rating"]


def context_at(yelp: pd.DataFrame, as_of: pd.Series) -> pd.DataFrame:
    """The script's product-context features with each product's reviews before the account's
    ``as_of`` (user_id -> timestamp, exclusive), indexed by account_id."""
    day = (yelp["date"] - pd.Timestamp("2000-01-01")).dt.days.to_numpy()
    code, _ = pd.factorize(yelp["product_id"])
    big = 100_000
    key = code.astype(np.int64) * big + day
    order = np.argsort(key, kind="stable")
    keys = key[order]
    cum = np.concatenate([[0.0], np.cumsum(yelp["rating"].to_numpy(dtype=float)[order])])
    first = np.searchsorted(keys, np.arange(code.max() + 1) * big, side="left")
    when = pd.to_datetime(yelp["user_id"].map(as_of))
    if when.dt.tz is not None:
        when = when.dt.tz_convert(None)
    t = (when.dt.ceil("D") - pd.Timestamp("2000-01-01")).dt.days.to_numpy()
    upto = np.searchsorted(keys, code * big + t, side="left")  # product reviews on days before as_of
    n = (upto - first[code]).astype(float)
    mean = (cum[upto] - cum[first[code]]) / n
    rank = np.searchsorted(keys, key, side="left") - first[code] + 1
    r = pd.DataFrame(
        {
            "user_id": yelp["user_id"].to_numpy(),
            "dev": np.abs(yelp["rating"].to_numpy() - mean),
            "rank_frac": rank / n,
            "p_count": n,
            "p_mean": mean,
        }
    )
    g = r.groupby("user_id")
    out = pd.DataFrame(
        {
            "mean_abs_deviation": g["dev"].mean(),
            "earliest_rank_fraction": g["rank_frac"].min(),
            "product_popularity": g["p_count"].mean(),
            "product_mean_rating": g["p_mean"].mean(),
        }
    )
    out.index = "u" + out.index.astype(str)
    return out


def extra_feature(template: Feature, name: str) -> Feature:
    """A feature of the script for reviewguard's learner, with no direction (no monotone constraint)."""
    return dataclasses.replace(template, name=name, direction=0, direction_reason="script feature, not in the registry")


class CV:
    def __init__(self, labels: pd.DataFrame, cfg: TrainConfig) -> None:
        self.labels = labels.reset_index(drop=True)
        self.y = self.labels["label"].to_numpy()
        self.cfg = cfg
        splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
        self.fold = np.zeros(len(self.y), dtype=int)
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(self.y)), self.y)):
            self.fold[test] = k

    def run(self, x: pd.DataFrame, learner: str, feats: list[Feature] | None = None) -> dict[str, Any]:
        """Out-of-fold scores of the columns of ``x`` (rows aligned to the labels)."""
        x = x.reset_index(drop=True)
        s = np.zeros(len(self.y))
        for k in range(5):
            test = self.fold == k
            if learner == "plain":
                s[test] = yelp_baseline.fit_score(x[~test], self.y[~test], x[test], seed=SEED)
            elif learner.startswith("trees="):  # reviewguard's learner with a fixed number of trees
                assert feats is not None
                xs = x.to_numpy(dtype=np.float64, na_value=np.nan)
                lgb_cfg, rounds = self.cfg.lightgbm, int(learner.removeprefix("trees="))
                booster, _ = fit_booster(
                    xs[~test], self.y[~test], features=feats, lgb_cfg=lgb_cfg, seed=SEED, rounds=rounds
                )
                tree = TreeModel(booster, [f.direction for f in feats])
                s[test] = tree.raw_score(tree.fill(xs[test]))
            else:
                assert feats is not None
                train = x[~test].assign(label=self.y[~test])
                s[test], _ = reviewguard_fit_score(train, x[test], feats, self.cfg)
        parts = [metrics(self.y[self.fold == k], s[self.fold == k]) for k in range(5)]
        out = metrics(self.y, s)
        out["auc_sd"] = float(np.std([p["roc_auc"] for p in parts], ddof=1))
        out["ap_sd"] = float(np.std([p["average_precision"] for p in parts], ddof=1))
        return out


def analyse(name: str, path: Path, work: Path, depth: str) -> dict[str, Any]:
    yelp = read_yelp(path)
    # The analysis of the gap as it was measured: labels decided at each account's last review.
    ds = contract(yelp, work / name, decided_at="last_review")
    cfg = load_config("yelp")
    feats = features_for("review_spam", cfg.risk_features)
    names = [f.name for f in feats]
    data = features_at_labels(ds, label_table(ds)).reset_index(drop=True)
    ids = data["account_id"]
    cv = CV(data, cfg)
    rg = data[names]
    simple = simple_features(yelp).reindex(ids).reset_index(drop=True)
    as_of = data.set_index(ids.str[1:])["decided_at"]
    simple_pit = simple.copy()
    simple_pit[PRODUCT_CONTEXT] = context_at(yelp, as_of).reindex(ids).to_numpy()
    end = build_features(ds, cutoffs_at(ds, default_as_of(ds)), names).to_pandas()
    rg_end = end.set_index("account_id").reindex(ids)[names].reset_index(drop=True)
    changed = [n for n in names if not np.allclose(rg_end[n], rg[n], equal_nan=True)]
    extra = {c: extra_feature(feats[0], "script_" + c) for c in yelp_baseline.FEATURES}
    rows: dict[str, Any] = {}

    def row(key: str, x: pd.DataFrame, learner: str, fs: list[Feature] | None = None) -> None:
        t = time.perf_counter()
        rows[key] = cv.run(x, learner, fs) | {"seconds": round(time.perf_counter() - t, 1)}
        print(f"{name} {key}: AUC {rows[key]['roc_auc']:.4f} AP {rows[key]['average_precision']:.4f}", flush=True)

    core, plain = depth in ("core", "full"), depth in ("core", "full", "plain")
    if core:
        row("reviewguard features, reviewguard learner", rg, "reviewguard", feats)
    if plain:
        row("reviewguard features, plain LightGBM", rg, "plain")
        row("script features (whole file), plain LightGBM", simple, "plain")
    if core:
        row("script features (whole file), reviewguard learner", simple.add_prefix("script_"), "reviewguard",
            [extra[c] for c in simple.columns])  # fmt: skip
    if plain:
        row("script features (product context at decision time), plain LightGBM", simple_pit, "plain")
        for when, frame in (("whole file", simple), ("at decision time", simple_pit)):
            x = rg.assign(**{"script_" + c: frame[c].to_numpy() for c in PRODUCT_CONTEXT})
            row(f"reviewguard + the 4 script product-context features ({when}), plain LightGBM", x, "plain")
    if core:
        row("reviewguard features at the end of the data, reviewguard learner", rg_end, "reviewguard", feats)
    if depth in ("features", "full"):
        unconstrained = [dataclasses.replace(f, direction=0) for f in feats]
        row("reviewguard features, reviewguard learner without monotone constraints", rg, "reviewguard", unconstrained)
        # One feature at a time on the plain learner, so the learner's own effect stays out of it.
        for c in yelp_baseline.FEATURES:
            row(f"reviewguard + script {c} (whole file), plain LightGBM", rg.assign(x=simple[c].to_numpy()), "plain")
        for c in PRODUCT_CONTEXT:
            x = rg.assign(x=simple_pit[c].to_numpy())
            row(f"reviewguard + script {c} (at decision time), plain LightGBM", x, "plain")
        for c in yelp_baseline.FEATURES:
            row(f"script less {c} (whole file), plain LightGBM", simple.drop(columns=[c]), "plain")
        for c in PRODUCT_CONTEXT:
            row(f"script less {c} (at decision time), plain LightGBM", simple_pit.drop(columns=[c]), "plain")
    if depth == "trees":
        for n in (46, 150, 300, 600):
            row(f"reviewguard features, reviewguard learner with {n} trees (no selection)", rg, f"trees={n}", feats)
    if depth in ("features", "plain", "trees"):
        return {"cv": rows}

    # New accounts after T: one as-of per side for reviewguard; the script on whole-file features.
    cut, before, after = new_accounts_split(yelp)
    train_ids, test_ids = ids[ids.isin(before)], ids[ids.isin(after)]
    lab = data.set_index("account_id")["label"]
    at_cut = build_features(ds, cutoffs_at(ds, cut.to_pydatetime()), names).to_pandas().set_index("account_id")
    rg_end_i = rg_end.set_index(ids)
    new: dict[str, Any] = {}
    y_test = lab.reindex(test_ids).to_numpy()
    by_id = data.set_index("account_id")
    sides = {
        "reviewguard at decision time": (by_id.reindex(train_ids), by_id.reindex(test_ids)),
        "reviewguard at T (training) and end of data (judged)": (at_cut.reindex(train_ids), rg_end_i.reindex(test_ids)),
    }
    for key, (tr, te) in sides.items():
        s, _ = reviewguard_fit_score(tr.assign(label=lab.reindex(train_ids).to_numpy()), te, feats, cfg)
        new[key] = metrics(y_test, s)
    y_train = lab.reindex(train_ids).to_numpy()
    for key, tr in (
        ("script point in time (training rows from reviews before T)", simple_features(yelp, cut)),
        ("script whole file (training rows see reviews after T)", simple_features(yelp)),
    ):
        s = yelp_baseline.fit_score(tr.reindex(train_ids), y_train, simple_features(yelp).reindex(test_ids), seed=SEED)
        new[key] = metrics(y_test, s)
    for k, v in new.items():
        print(f"{name} new accounts, {k}: AUC {v['roc_auc']:.4f} AP {v['average_precision']:.4f}", flush=True)
    return {"cv": rows, "new_accounts": new, "features_changed_at_end_of_data": changed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "yelp"))
    ap.add_argument("--only", choices=list(FILES))
    ap.add_argument(
        "--depth",
        choices=["core", "features", "plain", "new", "trees", "full"],
        default="full",
        help="core rows (and new accounts), feature rows, plain-learner core rows, new accounts, tree counts, all",
    )
    args = ap.parse_args()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rg-yelp-gap-") as tmp:
        for name, file in FILES.items():
            if args.only and name != args.only:
                continue
            res = analyse(name, Path(args.data_dir) / file, Path(tmp), args.depth)
            (out / f"yelp-gap-{name}-{args.depth}.json").write_text(json.dumps(res, indent=2))
            print(f"| variant ({name}) | AUC | AP |\n|---|---|---|")
            for k, v in res["cv"].items():
                auc, ap_ = f"{v['roc_auc']:.3f} ± {v['auc_sd']:.3f}", f"{v['average_precision']:.3f} ± {v['ap_sd']:.3f}"
                print(f"| {k} | {auc} | {ap_} |")
            print("features that change at the end of the data:", res.get("features_changed_at_end_of_data"))


if __name__ == "__main__":
    main()
