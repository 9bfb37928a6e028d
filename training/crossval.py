"""Stratified k-fold cross-validation of one risk: LightGBM and logistic regression, same folds. No I/O.

Used where a time split is not the only honest protocol to report (public
benchmarks such as Yelp, whose literature uses stratified folds). Each fold
chooses the number of trees on a stratified fifth of its k-1 training folds
held out, then trains on all k-1 folds with that number (the recipe
``train_models`` runs: its fold models and refit model train on every label
they may see) and scores the remaining fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from reviewguard.features import Feature
from reviewguard.model.explain import TreeModel
from reviewguard.training import evaluate as ev
from reviewguard.training.learner import best_rounds, fit_booster, loss_curve


def cross_validate(
    data: pd.DataFrame,
    *,
    risk: str,
    features: list[Feature],
    lgb_cfg: dict[str, Any],
    seed: int,
    loss_fall_share: float,
    folds: int = 5,
) -> pd.DataFrame:
    """Out-of-fold scores: ``data`` (one row per labelled account with features and ``label``)
    plus ``fold``, ``lightgbm`` (raw margin) and ``logistic`` (probability)."""
    names = [f.name for f in features]
    data = data.reset_index(drop=True)
    y = data["label"].to_numpy()
    out = data[["account_id", "label"]].assign(fold=-1, lightgbm=np.nan, logistic=np.nan)
    x = data[names].to_numpy(dtype=np.float64, na_value=np.nan)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fit_idx, stop_idx = train_test_split(train_idx, test_size=0.2, stratify=y[train_idx], random_state=seed + k)
        held_out = (x[stop_idx], y[stop_idx])
        curve = loss_curve(x[fit_idx], y[fit_idx], held_out, features=features, lgb_cfg=lgb_cfg, seed=seed)
        booster, _ = fit_booster(
            x[train_idx],
            y[train_idx],
            features=features,
            lgb_cfg=lgb_cfg,
            seed=seed,
            rounds=best_rounds([curve], share=loss_fall_share),
        )
        tree = TreeModel(booster, [f.direction for f in features])
        x_test = x[test_idx]
        out.loc[test_idx, "lightgbm"] = tree.raw_score(tree.fill(x_test))
        lr = ev.fit_logistic_baseline(x[train_idx], y[train_idx], seed)
        out.loc[test_idx, "logistic"] = lr.predict_proba(x_test)[:, 1]
        out.loc[test_idx, "fold"] = k
    return out
