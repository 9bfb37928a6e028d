"""Benchmark: account-level opinion-spam detection on YelpChi and YelpNYC.

    .venv/bin/python benchmarks/yelp.py --data-dir ../shared/data/yelp

For each file: the Yelp adapter writes the data contract (accounts, reviews,
labels with risk ``review_spam``) to a temporary folder; the reviewguard
pipeline computes the registry's review features at each label's decision
time; then two protocols:

- stratified 5-fold cross-validation (seeded), for reviewguard's LightGBM and
  logistic regression on the same features (same folds);
- a time split: the training pipeline's own split by decision time (train,
  validation for early stopping and calibration, later test period).

SpEagle (UGFraud's belief propagation on priors computed as in the paper, see
benchmarks/peers.py) and its priors alone run once per file, unsupervised and
transductive as in the paper, and are scored on the same accounts as each
protocol's test data. Prints a markdown table and writes JSON to
benchmarks/results/yelp.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))

from peers import speagle_user_beliefs

from reviewguard.datasets import YELP_COLUMNS, parse_yelp_metadata, yelp_to_contract
from reviewguard.engine import connect
from reviewguard.features import features_for
from reviewguard.reader import open_dataset
from reviewguard.training.config import load_config
from reviewguard.training.crossval import cross_validate
from reviewguard.training.labels import features_at_labels, label_table
from reviewguard.training.pipeline import train_models

FILES = {"YelpChi": "YelpChi_metadata.gz", "YelpNYC": "YelpNYC_metadata.gz"}


def read_yelp(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=YELP_COLUMNS, dtype=str)
    return parse_yelp_metadata(raw, str(path))


def metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {"roc_auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s))}


def run_dataset(name: str, path: Path, work: Path) -> dict:  # type: ignore[type-arg]
    t0 = time.perf_counter()
    yelp = read_yelp(path)
    folder = work / name
    folder.mkdir()
    for table, data in yelp_to_contract(yelp).items():
        pq.write_table(data, folder / f"{table}.parquet")
    cfg = load_config("yelp")
    ds = open_dataset(connect(), folder, risks=("review_spam",))
    feats = features_for("review_spam", cfg.risk_features)
    data = features_at_labels(ds, label_table(ds))
    t_features = time.perf_counter() - t0

    t1 = time.perf_counter()
    beliefs, priors = speagle_user_beliefs(yelp)
    peers = pd.DataFrame(
        {
            "account_id": "u" + beliefs.index.astype(str),
            "speagle": beliefs.to_numpy(),
            "speagle_priors": priors.reindex(beliefs.index).to_numpy(),
        }
    )
    t_peer = time.perf_counter() - t1

    rows: dict[str, dict[str, dict[str, float]]] = {}
    oof = cross_validate(
        data,
        risk="review_spam",
        features=feats,
        lgb_cfg=cfg.lightgbm,
        calibration=cfg.calibration_method,
        seed=cfg.seed,
    ).merge(peers, on="account_id")
    y = oof["label"].to_numpy()
    rows["cv"] = {m: metrics(y, oof[m].to_numpy()) for m in ("lightgbm", "logistic", "speagle", "speagle_priors")}

    result = train_models(ds, cfg)
    test = result.test_scores.merge(peers, on="account_id")
    y = test["label"].to_numpy()
    rows["time"] = {
        "lightgbm": metrics(y, test["raw_score"].to_numpy()),
        "logistic": metrics(y, test["logistic_score"].to_numpy()),
        "speagle": metrics(y, test["speagle"].to_numpy()),
        "speagle_priors": metrics(y, test["speagle_priors"].to_numpy()),
    }
    return {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "reviews": len(yelp),
        "accounts": len(data),
        "spam_share": float(data["label"].mean()),
        "time_split": {
            "test_accounts": len(test),
            "test_positives": int(y.sum()),
            "backtest": result.reports["review_spam"].backtest,
        },
        "seconds": {
            "adapter_and_features": round(t_features, 1),
            "speagle": round(t_peer, 1),
            "total": round(time.perf_counter() - t0, 1),
        },
        "results": rows,
    }


LABELS = {
    "lightgbm": "reviewguard LightGBM",
    "logistic": "logistic regression (same features)",
    "speagle": "SpEagle (UGFraud BP, metadata priors)",
    "speagle_priors": "SpEagle priors alone",
}


def table(results: dict) -> str:  # type: ignore[type-arg]
    lines = [
        "| method | YelpChi CV AUC | YelpChi CV AP | YelpChi time AUC | YelpChi time AP | "
        "YelpNYC CV AUC | YelpNYC CV AP | YelpNYC time AUC | YelpNYC time AP |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in LABELS.items():
        cells = []
        for ds in FILES:
            if ds not in results:
                cells += ["–"] * 4
                continue
            for protocol in ("cv", "time"):
                m = results[ds]["results"][protocol][key]
                cells += [f"{m['roc_auc']:.3f}", f"{m['average_precision']:.3f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "yelp"))
    ap.add_argument("--only", choices=list(FILES), help="run one dataset")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory(prefix="rg-yelp-") as tmp:
        for name, file in FILES.items():
            if args.only and name != args.only:
                continue
            results[name] = run_dataset(name, Path(args.data_dir) / file, Path(tmp))
            print(f"{name}: {json.dumps(results[name]['results'])}", flush=True)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    payload = {"datasets": results, "total_seconds": round(time.perf_counter() - t0, 1)}
    (out / "yelp.json").write_text(json.dumps(payload, indent=2))
    print(table(results))
    print(f"total {payload['total_seconds']} s")


if __name__ == "__main__":
    main()
