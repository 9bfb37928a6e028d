"""Benchmark: account-level opinion-spam detection on YelpChi and YelpNYC, three protocols.

    nice -n 10 .venv/bin/python benchmarks/yelp.py --data-dir ../shared/data/yelp

For each file the Yelp adapter writes the data contract (accounts, reviews,
labels with risk ``review_spam``: 1 when Yelp filtered any of the account's
reviews, decided when the filter was observed: at the end of the data) to a
temporary folder, and every method is judged on the same accounts under three
protocols:

- ``cv``: stratified 5-fold cross-validation, seed 7 (reviewguard's own
  ``cross_validate``; every method uses its folds), features at the end of the data;
- ``time``: the blocks of the training pipeline's rolling-origin backtest
  (``make_folds``: accounts ordered by their last review, 4 folds of equal
  positives), judged as snapshots: fold k trains on the accounts whose reviews
  all came before its block, with features as of the block's start (as if the
  data had been collected then), and judges the block's accounts with features
  as of the block's end;
- ``new``: new accounts after a date. T is the 80th percentile of review
  dates; train on the accounts whose reviews all came before T, judge the
  accounts whose first review came on or after T (accounts that straddle T
  are in neither).

Methods:

- ``reviewguard``: the registry's review features (core/defaults/yelp.toml) at
  each protocol's snapshot, through the registry's own code path
  (``features_at``), and reviewguard's learner (trees chosen on a stratified
  fifth of the training rows, then trained on all of them); ``logistic``:
  logistic regression on the same features; ``registry_plain``: the same features on the script's plain
  LightGBM (the learner's effect, apart from the features');
- ``simple``: benchmarks/yelp_baseline.py, 12 hand-made user features and a
  plain LightGBM, at the same snapshots: the whole file in ``cv`` (as the
  issue's script), the reviews before each snapshot in ``time`` and ``new``;
- ``speagle`` and ``speagle_priors``: SpEagle through UGFraud on its authors'
  metadata priors (benchmarks/peers.py), and the priors alone: unsupervised
  and transductive over the whole file, scored on each protocol's judged accounts.

Spreads: standard deviation of the metric over the folds (``cv``: 5,
``time``: 4) and, for ``new`` (one split), over 200 bootstrap resamples of the
judged accounts. Prints a markdown table and writes benchmarks/results/yelp.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).parent))

import yelp_baseline
from peers import speagle_user_beliefs

from reviewguard.datasets import YELP_COLUMNS, DecidedAt, parse_yelp_metadata, yelp_to_contract
from reviewguard.engine import connect
from reviewguard.features import Feature, features_for
from reviewguard.model.explain import TreeModel
from reviewguard.reader import Dataset, open_dataset
from reviewguard.training import evaluate as ev
from reviewguard.training.backtest import make_folds
from reviewguard.training.config import TrainConfig, load_config
from reviewguard.training.crossval import cross_validate
from reviewguard.training.labels import features_at, features_at_labels, label_table
from reviewguard.training.learner import best_rounds, fit_booster, loss_curve

FILES = {"YelpChi": "YelpChi_metadata.gz", "YelpNYC": "YelpNYC_metadata.gz"}
PROTOCOLS = ("cv", "time", "new")
NEW_ACCOUNTS_QUANTILE = 0.8
BOOTSTRAP = 200
SEED = 7


def read_yelp(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=YELP_COLUMNS, dtype=str)
    return parse_yelp_metadata(raw, str(path))


def metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {"roc_auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s))}


def summary(y: np.ndarray, s: np.ndarray, fold: np.ndarray | None) -> dict[str, Any]:
    """Pooled metrics, and their mean and standard deviation over folds (or bootstrap resamples)."""
    out: dict[str, Any] = {"pooled": metrics(y, s)}
    if fold is not None:
        parts = [metrics(y[fold == k], s[fold == k]) for k in np.unique(fold)]
        out["spread"] = "folds"
    else:
        rng = np.random.default_rng(SEED)
        parts = []
        while len(parts) < BOOTSTRAP:
            i = rng.integers(0, len(y), len(y))
            if 0 < y[i].sum() < len(i):
                parts.append(metrics(y[i], s[i]))
        out["spread"] = f"{BOOTSTRAP} bootstrap resamples"
    for m in ("roc_auc", "average_precision"):
        v = np.array([p[m] for p in parts])
        out[m] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1))}
    out["parts"] = parts if fold is not None else None
    return out


def contract(yelp: pd.DataFrame, folder: Path, decided_at: DecidedAt = "end_of_data") -> Dataset:
    folder.mkdir()
    for table, data in yelp_to_contract(yelp, decided_at=decided_at).items():
        pq.write_table(data, folder / f"{table}.parquet")
    return open_dataset(connect(), folder, risks=("review_spam",))


def reviewguard_fit_score(
    train: pd.DataFrame, test: pd.DataFrame, feats: list[Feature], cfg: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """reviewguard's learner as cross_validate runs it (trees chosen on a stratified fifth, then
    trained on every training row), and logistic regression: scores of ``test``."""
    names = [f.name for f in feats]
    x = train[names].to_numpy(dtype=np.float64, na_value=np.nan)
    y = train["label"].to_numpy()
    fit, stop = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=cfg.seed)
    curve = loss_curve(x[fit], y[fit], (x[stop], y[stop]), features=feats, lgb_cfg=cfg.lightgbm, seed=cfg.seed)
    booster, _ = fit_booster(
        x,
        y,
        features=feats,
        lgb_cfg=cfg.lightgbm,
        seed=cfg.seed,
        rounds=best_rounds([curve], share=cfg.backtest.loss_fall_share),
    )
    tree = TreeModel(booster, [f.direction for f in feats])
    x_test = test[names].to_numpy(dtype=np.float64, na_value=np.nan)
    logistic = ev.fit_logistic_baseline(x, y, cfg.seed).predict_proba(x_test)[:, 1]
    return tree.raw_score(tree.fill(x_test)), logistic


def simple_features(yelp: pd.DataFrame, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """The script's features from the reviews before ``before`` (all: None), indexed by account_id."""
    r = yelp if before is None else yelp[yelp["date"] < before]
    f = yelp_baseline.user_features(r)
    f.index = "u" + f.index.astype(str)
    return f


def new_accounts_split(yelp: pd.DataFrame) -> tuple[pd.Timestamp, pd.Index, pd.Index]:
    """(T, accounts whose reviews all came before T, accounts whose first review came on or after T)."""
    cut = pd.Timestamp(yelp["date"].quantile(NEW_ACCOUNTS_QUANTILE)).normalize()
    span = yelp.groupby("user_id")["date"].agg(["min", "max"])
    span.index = "u" + span.index.astype(str)
    return cut, span.index[span["max"] < cut], span.index[span["min"] >= cut]


def protocol_cv(data: pd.DataFrame, feats: list[Feature], cfg: TrainConfig, simple_all: pd.DataFrame) -> pd.DataFrame:
    oof = cross_validate(
        data,
        risk="review_spam",
        features=feats,
        lgb_cfg=cfg.lightgbm,
        seed=cfg.seed,
        loss_fall_share=cfg.backtest.loss_fall_share,
    ).rename(columns={"lightgbm": "reviewguard"})
    x = simple_all.reindex(oof["account_id"])
    x_rg = registry_columns(data.set_index("account_id").reindex(oof["account_id"]), feats)
    y = oof["label"].to_numpy()
    oof["simple"] = oof["registry_plain"] = np.nan
    for k in sorted(oof["fold"].unique()):
        test = (oof["fold"] == k).to_numpy()
        oof.loc[test, "simple"] = yelp_baseline.fit_score(x[~test], y[~test], x[test], seed=SEED)
        oof.loc[test, "registry_plain"] = yelp_baseline.fit_score(x_rg[~test], y[~test], x_rg[test], seed=SEED)
    return oof


def registry_columns(frame: pd.DataFrame, feats: list[Feature]) -> pd.DataFrame:
    """reviewguard's feature columns as floats (nulls as NaN), for the script's learner."""
    names = [f.name for f in feats]
    return pd.DataFrame(frame[names].to_numpy(dtype=np.float64, na_value=np.nan), columns=names)


def at_snapshot(ds: Dataset, accounts: pd.Index | pd.Series, moment: pd.Timestamp, label: pd.Series) -> pd.DataFrame:
    """The accounts' features as of ``moment`` with their ``label`` (by account_id): the rows a model
    trained or scored then would see, by the registry's code path for training rows (``features_at``,
    which returns its rows in its own order, hence labels matched by id)."""
    rows = pd.DataFrame({"account_id": np.asarray(accounts, dtype=object), "decided_at": moment})
    out = features_at(ds, rows.assign(risk="review_spam"))
    return out.assign(label=label.reindex(out["account_id"]).to_numpy())


def protocol_time(
    ds: Dataset, cfg: TrainConfig, yelp: pd.DataFrame, data: pd.DataFrame, feats: list[Feature]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    last = yelp.groupby("user_id")["date"].max()
    last.index = "u" + last.index.astype(str)
    label = data.set_index("account_id")["label"]
    rows = pd.DataFrame(
        {"decided_at": last + pd.Timedelta(days=1), "label": label.reindex(last.index).to_numpy()}, index=last.index
    )
    rows = rows.sort_values("decided_at", kind="stable").rename_axis("account_id").reset_index()
    folds, notes = make_folds(rows.assign(group=rows["account_id"]), cfg.backtest)
    parts, info = [], []
    for f in folds:
        start, end = pd.Timestamp(f.starts), pd.Timestamp(f.ends)
        train_ids, test_ids = rows["account_id"].iloc[f.train], rows["account_id"].iloc[f.test]
        train, test = at_snapshot(ds, train_ids, start, label), at_snapshot(ds, test_ids, end, label)
        rg, logistic = reviewguard_fit_score(train, test, feats, cfg)
        out = test[["account_id", "label"]].assign(fold=f.index, reviewguard=rg, logistic=logistic)
        x_train = simple_features(yelp, start).reindex(train["account_id"])
        x_test = simple_features(yelp, end).reindex(test["account_id"])
        out["simple"] = yelp_baseline.fit_score(x_train, train["label"].to_numpy(), x_test, seed=SEED)
        out["registry_plain"] = yelp_baseline.fit_score(
            registry_columns(train, feats), train["label"].to_numpy(), registry_columns(test, feats), seed=SEED
        )
        parts.append(out)
        info.append(
            {"fold": f.index, "from": str(start), "to": str(end), "train_rows": len(train), "test_rows": len(test)}
        )
    return pd.concat(parts, ignore_index=True), {"folds": info, "notes": notes}


def protocol_new(
    ds: Dataset, yelp: pd.DataFrame, data: pd.DataFrame, feats: list[Feature], cfg: TrainConfig
) -> tuple[pd.DataFrame, dict[str, Any]]:
    cut, before, after = new_accounts_split(yelp)
    label = data.set_index("account_id")["label"]
    train_ids = data.loc[data["account_id"].isin(before), "account_id"]
    # Training rows as of T (what a model trained then saw); judged rows at the end of the data.
    train = at_snapshot(ds, train_ids, cut, label)
    test = data[data["account_id"].isin(after)].reset_index(drop=True)
    rg, logistic = reviewguard_fit_score(train, test, feats, cfg)
    out = test[["account_id", "label"]].assign(reviewguard=rg, logistic=logistic)
    x_train = simple_features(yelp, cut).reindex(train["account_id"])
    x_test = simple_features(yelp).reindex(test["account_id"])
    out["simple"] = yelp_baseline.fit_score(x_train, train["label"].to_numpy(), x_test, seed=SEED)
    out["registry_plain"] = yelp_baseline.fit_score(
        registry_columns(train, feats), train["label"].to_numpy(), registry_columns(test, feats), seed=SEED
    )
    info = {
        "cut": str(cut.date()),
        "train_accounts": len(train),
        "train_positives": int(train["label"].sum()),
        "judged_accounts": len(test),
        "judged_positives": int(test["label"].sum()),
        "straddling_accounts_left_out": int(len(data) - len(train) - len(test)),
    }
    return out, info


METHODS = ("reviewguard", "logistic", "registry_plain", "simple", "speagle", "speagle_priors")


def run_dataset(name: str, path: Path, work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    yelp = read_yelp(path)
    ds = contract(yelp, work / name)
    cfg = load_config("yelp")
    feats = features_for("review_spam", cfg.risk_features)
    data = features_at_labels(ds, label_table(ds))
    simple_all = simple_features(yelp)
    seconds: dict[str, float] = {"adapter_and_features": round(time.perf_counter() - t0, 1)}

    t1 = time.perf_counter()
    beliefs, priors = speagle_user_beliefs(yelp)
    peers = pd.DataFrame(
        {
            "account_id": "u" + beliefs.index.astype(str),
            "speagle": beliefs.to_numpy(),
            "speagle_priors": priors.reindex(beliefs.index).to_numpy(),
        }
    )
    seconds["speagle"] = round(time.perf_counter() - t1, 1)

    scored: dict[str, pd.DataFrame] = {}
    t1 = time.perf_counter()
    scored["cv"] = protocol_cv(data, feats, cfg, simple_all)
    seconds["cv"] = round(time.perf_counter() - t1, 1)
    t1 = time.perf_counter()
    scored["time"], backtest = protocol_time(ds, cfg, yelp, data, feats)
    seconds["time"] = round(time.perf_counter() - t1, 1)
    t1 = time.perf_counter()
    scored["new"], new_info = protocol_new(ds, yelp, data, feats, cfg)
    seconds["new"] = round(time.perf_counter() - t1, 1)

    results: dict[str, dict[str, Any]] = {}
    for protocol, frame in scored.items():
        frame = frame.merge(peers, on="account_id", how="left")
        y = frame["label"].to_numpy()
        fold = frame["fold"].to_numpy() if "fold" in frame.columns else None
        results[protocol] = {m: summary(y, frame[m].to_numpy(dtype=np.float64), fold) for m in METHODS}
        results[protocol]["judged"] = {"accounts": len(frame), "positives": int(y.sum())}
    seconds["total"] = round(time.perf_counter() - t0, 1)
    return {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "reviews": len(yelp),
        "accounts": len(data),
        "spam_share": float(data["label"].mean()),
        "time_split": {"backtest": backtest},
        "new_accounts": new_info,
        "seconds": seconds,
        "results": results,
    }


LABELS = {
    "reviewguard": "reviewguard LightGBM",
    "logistic": "logistic regression (reviewguard's features)",
    "registry_plain": "reviewguard's features, the script's plain LightGBM",
    "simple": "simple script (benchmarks/yelp_baseline.py)",
    "speagle": "SpEagle (UGFraud BP, authors' metadata priors)",
    "speagle_priors": "SpEagle priors alone",
}


def cell(r: dict[str, Any], metric: str) -> str:
    return f"{r[metric]['mean']:.3f} ± {r[metric]['sd']:.3f}"


def table(results: dict[str, Any]) -> str:
    lines = [
        "| file | method | CV AUC | CV AP | time AUC | time AP | new accounts AUC | new accounts AP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ds, res in results.items():
        for key, label in LABELS.items():
            cells = [cell(res["results"][p][key], m) for p in PROTOCOLS for m in ("roc_auc", "average_precision")]
            lines.append(f"| {ds} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "yelp"))
    ap.add_argument("--only", choices=list(FILES), help="run one dataset")
    ap.add_argument("--table", action="store_true", help="print the table of the saved per-file results and stop")
    args = ap.parse_args()
    if args.table:
        saved = {n: Path(__file__).parent / "results" / f"yelp-{n}.json" for n in FILES}
        print(table({n: json.loads(p.read_text()) for n, p in saved.items() if p.is_file()}))
        return
    t0 = time.perf_counter()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="rg-yelp-") as tmp:
        for name, file in FILES.items():
            if args.only and name != args.only:
                continue
            results[name] = run_dataset(name, Path(args.data_dir) / file, Path(tmp))
            (out / f"yelp-{name}.json").write_text(json.dumps(results[name], indent=2))
            print(f"{name}: {results[name]['seconds']}", flush=True)
    payload = {"datasets": results, "total_seconds": round(time.perf_counter() - t0, 1)}
    if not args.only:
        (out / "yelp.json").write_text(json.dumps(payload, indent=2))
    print(table(results))
    print(f"total {payload['total_seconds']} s")


if __name__ == "__main__":
    main()
