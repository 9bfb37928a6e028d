"""Stratified k-fold cross-validation of one risk: LightGBM and logistic regression, same folds. No I/O.

Used where a time split is not the only honest protocol to report (public
benchmarks such as Yelp, whose literature uses stratified folds). Each fold
trains on k-1 folds, with a stratified fifth of them held out for early
stopping and calibration, and scores the remaining fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from reviewguard.features import Feature
from reviewguard.training import evaluate as ev
from reviewguard.training.learner import fit_risk


def cross_validate(
    data: pd.DataFrame,
    *,
    risk: str,
    features: list[Feature],
    lgb_cfg: dict[str, Any],
    calibration: str,
    seed: int,
    folds: int = 5,
) -> pd.DataFrame:
    """Out-of-fold scores: ``data`` (one row per labelled account with features and ``label``)
    plus ``fold``, ``lightgbm`` (raw margin) and ``logistic`` (probability)."""
    names = [f.name for f in features]
    data = data.reset_index(drop=True)
    y = data["label"].to_numpy()
    out = data[["account_id", "label"]].assign(fold=-1, lightgbm=np.nan, logistic=np.nan)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fit_idx, stop_idx = train_test_split(train_idx, test_size=0.2, stratify=y[train_idx], random_state=seed + k)
        model, _ = fit_risk(
            data.iloc[fit_idx],
            data.iloc[stop_idx],
            data.iloc[fit_idx],
            risk=risk,
            features=features,
            lgb_cfg=lgb_cfg,
            calibration=calibration,
            seed=seed,
        )
        test = data.iloc[test_idx]
        x_test = test[names].to_numpy(dtype=np.float64, na_value=np.nan)
        out.loc[test_idx, "lightgbm"] = model.booster.predict(x_test, raw_score=True)
        x_train = data.iloc[train_idx][names].to_numpy(dtype=np.float64, na_value=np.nan)
        lr = ev.fit_logistic_baseline(x_train, y[train_idx], seed)
        out.loc[test_idx, "logistic"] = lr.predict_proba(x_test)[:, 1]
        out.loc[test_idx, "fold"] = k
    return out
