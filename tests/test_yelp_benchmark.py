"""Real data guard: account-level ROC-AUC on YelpChi must not fall below what we reached, less a margin.

The Yelp files are not in the repository. ``REVIEWGUARD_YELP_DIR`` names the
folder holding ``YelpChi_metadata.gz`` (default: ``../shared/data/yelp`` beside
the clone). Without them the test is skipped with that reason, unless
``REVIEWGUARD_REQUIRE_YELP=1`` (set by ``.ci/run``): then it fails, so CI can
never skip it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from reviewguard.datasets import YELP_COLUMNS, parse_yelp_metadata, yelp_to_contract
from reviewguard.engine import connect
from reviewguard.features import features_for
from reviewguard.reader import open_dataset
from reviewguard.training.config import load_config
from reviewguard.training.crossval import cross_validate
from reviewguard.training.labels import features_at_labels, label_table

REPO = Path(__file__).resolve().parents[1]
YELP_DIR = Path(os.environ.get("REVIEWGUARD_YELP_DIR") or REPO.parent / "shared" / "data" / "yelp")
YELPCHI = YELP_DIR / "YelpChi_metadata.gz"
# Stratified 5-fold CV, seed 7, labels decided at collection (the adapter's default), feature set
# 1.2.0 as core/defaults/yelp.toml lists it, measured with benchmarks/yelp.py (docs/benchmarks.md):
# pooled out-of-fold AUC 0.7206, folds 0.704-0.734, standard deviation over folds 0.011 (2026-11-24).
REACHED_AUC = 0.721
# Two standard errors of the pooled figure (the folds' deviation over the square root of 5: 0.0101),
# rounded up: the run is seeded, so the margin is for changes that move the ranking by less than
# the folds' noise. Undoing the fixes of 2026-11-24 (0.7088: the gap-entropy feature back, the
# trees trained on four fifths of the rows and stopped at 99% of the fall) fails, and so does going
# back to labels decided at each account's last review (0.682).
FLOOR = REACHED_AUC - 0.011


@pytest.mark.slow
def test_yelpchi_account_auc_holds(tmp_path: Path) -> None:
    if not YELPCHI.is_file():
        reason = f"{YELPCHI} is missing: set REVIEWGUARD_YELP_DIR to the folder holding the Yelp files"
        if os.environ.get("REVIEWGUARD_REQUIRE_YELP") == "1":
            pytest.fail(reason + " (REVIEWGUARD_REQUIRE_YELP=1: this run must not skip it)")
        pytest.skip(reason)
    raw = pd.read_csv(YELPCHI, sep=r"\s+", header=None, names=YELP_COLUMNS, dtype=str)
    for name, table in yelp_to_contract(parse_yelp_metadata(raw)).items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    cfg = load_config("yelp")
    ds = open_dataset(connect(), tmp_path, risks=("review_spam",))
    data = features_at_labels(ds, label_table(ds))
    oof = cross_validate(
        data,
        risk="review_spam",
        features=features_for("review_spam", cfg.risk_features),
        lgb_cfg=cfg.lightgbm,
        seed=cfg.seed,
        loss_fall_share=cfg.backtest.loss_fall_share,
    )
    auc = roc_auc_score(oof["label"], oof["lightgbm"])
    assert auc >= FLOOR, f"YelpChi account-level ROC-AUC {auc:.4f} fell below {FLOOR:.4f}"
