"""A rolling-origin backtest over time folds, connected accounts kept together. No I/O.

Groups of connected accounts (``training.groups``) are ordered by their first decision; their
labels are cut into ``folds + 1`` blocks holding equal numbers of positives. Fold k is scored on
block k by a model trained on every label decided before block k begins (less ``gap_days``) that
belongs to no group of block k. The folds' out-of-fold margins are what calibration, thresholds
and every reported metric use; the number of trees they share is that of the model refit on
every label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reviewguard.features import Feature
from reviewguard.model.explain import TreeModel
from reviewguard.training.config import BacktestConfig
from reviewguard.training.learner import best_rounds, fit_booster, loss_curve
from reviewguard.training.unlabelled import UNLABELLED_SOURCE


@dataclass
class Fold:
    index: int
    train: np.ndarray  # row positions
    test: np.ndarray
    starts: pd.Timestamp
    ends: pd.Timestamp


@dataclass
class Backtest:
    folds: list[Fold]
    # Per row: the fold that scored it (-1: training only) and its out-of-fold margin (NaN when unscored).
    fold_of: np.ndarray
    margin: np.ndarray
    rounds: list[int]
    chosen_rounds: int
    # The share of the fall in held-out loss the chosen trees reach (backtest.loss_fall_share).
    loss_fall_share: float
    # The same rows' margins with each missing value on the branch the trees learned for it (what
    # the predictor refuses to do): only to measure what the refusal costs (``missing_value_cost``).
    margin_as_learned: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def scored(self) -> np.ndarray:
        return self.fold_of >= 0

    def info(self) -> dict[str, Any]:
        return {
            "folds": [
                {
                    "fold": f.index,
                    "from": str(f.starts),
                    "to": str(f.ends),
                    "train_rows": len(f.train),
                    "test_rows": len(f.test),
                    "rounds": r,
                }
                for f, r in zip(self.folds, self.rounds, strict=True)
            ],
            "chosen_rounds": self.chosen_rounds,
            "loss_fall_share": self.loss_fall_share,
            "notes": self.notes,
        }


def make_folds(rows: pd.DataFrame, cfg: BacktestConfig) -> tuple[list[Fold], list[str]]:
    """Time folds over ``rows`` (``decided_at``, ``label``, ``group``), groups kept whole."""
    groups = rows.groupby("group", sort=False).agg(start=("decided_at", "min"), positives=("label", "sum"))
    groups = groups.sort_values(["start"], kind="stable")
    total = float(groups["positives"].sum())
    before = groups["positives"].cumsum() - groups["positives"]
    edges = np.arange(1, cfg.folds + 1) * total / (cfg.folds + 1)
    block = pd.Series(np.searchsorted(edges, before.to_numpy(), side="right"), index=groups.index)
    row_block = block.reindex(rows["group"]).to_numpy()
    t = rows["decided_at"].to_numpy()
    gap = np.timedelta64(int(cfg.gap_days * 86_400_000), "ms")
    folds: list[Fold] = []
    notes: list[str] = []
    for k in range(1, cfg.folds + 1):
        test = np.flatnonzero(row_block == k)
        if len(test) == 0:
            continue
        start = groups.loc[block == k, "start"].min()
        train = np.flatnonzero((t < np.datetime64(start) - gap) & (row_block != k))
        y_train, y_test = rows["label"].to_numpy()[train], rows["label"].to_numpy()[test]
        if y_train.sum() < 2 or (y_train == 0).sum() < 2 or y_test.sum() < 1 or (y_test == 0).sum() < 1:
            notes.append(f"fold {k} skipped: {int(y_train.sum())} positives to train on, {int(y_test.sum())} to judge")
            continue
        folds.append(Fold(k, train, test, pd.Timestamp(start), pd.Timestamp(t[test].max())))
    return folds, notes


def run_backtest(
    rows: pd.DataFrame,
    x: np.ndarray,
    *,
    features: list[Feature],
    lgb_cfg: dict[str, Any],
    cfg: BacktestConfig,
    seed: int,
) -> Backtest:
    """Fit one model per fold and score its block: out-of-fold margins for every judged row.

    Every fold model has the same number of trees, so that their margins share one scale (the
    calibrator is fitted on them together, and applied to the refit model's). That number is the
    fewest trees reaching ``loss_fall_share`` of the fall in the folds' mean held-out loss (1: its
    minimum), each fold's curve measured on the latest ``early_stopping_share`` of its own training
    labels (never on the block it is judged on).
    """
    y = rows["label"].to_numpy()
    t = rows["decided_at"].to_numpy()
    source = rows["source"].to_numpy()
    folds, notes = make_folds(rows, cfg)
    fold_of = np.full(len(rows), -1, dtype=np.int64)
    margin = np.full(len(rows), np.nan)
    margin_as_learned = np.full(len(rows), np.nan)
    curves: list[np.ndarray] = []
    for f in folds:
        order = f.train[np.argsort(t[f.train], kind="stable")]
        cut = int(len(order) * (1 - cfg.early_stopping_share))
        fit, held = order[:cut], order[cut:]
        # The tree count is chosen on the labels' own held-out loss: presumed negatives (the
        # positive-unlabelled sample) are mostly accounts without any of the behaviour in question,
        # whose loss falls within the first trees and would stop the boosting before the model
        # tells abusers from the queue's real negatives.
        labelled = held[source[held] != UNLABELLED_SOURCE]
        if (y[labelled] == 0).sum() >= 1:
            held = labelled
        if y[held].sum() >= 1 and (y[held] == 0).sum() >= 1 and y[fit].sum() >= 2:
            held_out = (x[held], y[held])
            curves.append(loss_curve(x[fit], y[fit], held_out, features=features, lgb_cfg=lgb_cfg, seed=seed))
    if curves:
        chosen = best_rounds(curves, share=cfg.loss_fall_share)
    else:
        chosen = int(lgb_cfg["n_estimators"]) // 4
        notes.append(f"no fold has labels of both classes in its latest share to choose the trees: {chosen} trees")
    kept: list[Fold] = []
    for f in folds:
        booster, _ = fit_booster(x[f.train], y[f.train], features=features, lgb_cfg=lgb_cfg, seed=seed, rounds=chosen)
        tree = TreeModel(booster, [ft.direction for ft in features])
        if np.ptp(tree.raw_score(tree.fill(x[f.train]))) == 0:
            # A model without a single split learned nothing; its constant margin would sit among
            # the other folds' as if it were a judgement.
            notes.append(f"fold {f.index} skipped: its {len(f.train)} training labels allow no split")
            continue
        margin[f.test] = tree.raw_score(tree.fill(x[f.test]))
        margin_as_learned[f.test] = tree.raw_score(tree.fill(x[f.test], undirected=False))
        fold_of[f.test] = f.index
        kept.append(f)
    return Backtest(kept, fold_of, margin, [chosen] * len(kept), chosen, cfg.loss_fall_share, margin_as_learned, notes)
