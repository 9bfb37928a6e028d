"""From out-of-fold margins to decisions that can be judged honestly. No I/O.

- ``cross_calibrate``: the calibrator that scores a row is never fitted on it (two halves of the
  connected groups, each calibrated by the other's fit), so thresholds fitted on those scores do
  not inherit the calibrator's in-sample optimism.
- ``actions_out_of_fold``: each fold's rows get the action of a policy fitted without that fold,
  so the precision reported for an action is the precision of thresholds it did not choose.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from reviewguard.model.bundle import Calibrator
from reviewguard.model.policy import NO_ACTION, RiskPolicy
from reviewguard.training.config import ActionSpec
from reviewguard.training.learner import fit_calibrator
from reviewguard.training.thresholds import fit_risk_policy, precision_bounds


def _half(group: Any) -> int:
    return hashlib.sha256(str(group).encode()).digest()[0] & 1


def cross_calibrate(margin: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, level: float) -> np.ndarray:
    """Calibrated probabilities, each row's from a calibrator fitted on the other half of the groups."""
    half = np.array([_half(g) for g in groups])
    out = np.empty(len(margin))
    for h in (0, 1):
        fit, apply = half != h, half == h
        if not apply.any():
            continue
        if y[fit].min(initial=1) == y[fit].max(initial=0):
            # One half holds one class only (very few labels): calibrate on everything, and say so by
            # the width of the intervals rather than by refusing.
            fit = np.ones(len(margin), dtype=bool)
        out[apply] = fit_calibrator(margin[fit], y[fit], w[fit], level).apply(margin[apply])
    return out


def band_actions(policy: RiskPolicy, score: np.ndarray) -> np.ndarray:
    """The action whose band holds each score (the gates are not applied: this is the ladder alone)."""
    out = np.full(len(score), NO_ACTION, dtype=object)
    for a in policy.enabled:
        if a.threshold is not None:
            out[score >= a.threshold] = a.name
    return out


def actions_out_of_fold(
    y: np.ndarray,
    score: np.ndarray,
    w: np.ndarray,
    fold_of: np.ndarray,
    actions: tuple[ActionSpec, ...],
    *,
    risk: str,
    population_scores: np.ndarray,
    confidence: float,
    calibrator: Calibrator | None = None,
) -> np.ndarray:
    """Each row's band action under thresholds fitted on the other folds' rows."""
    out = np.full(len(score), NO_ACTION, dtype=object)
    for k in np.unique(fold_of):
        rest = fold_of != k
        policy = fit_risk_policy(
            risk,
            y[rest],
            score[rest],
            w[rest],
            actions,
            population_scores=population_scores,
            confidence=confidence,
            calibrator=calibrator,
        )
        out[fold_of == k] = band_actions(policy, score[fold_of == k])
    return out


def action_precision(
    y: np.ndarray, w: np.ndarray, action: np.ndarray, actions: tuple[ActionSpec, ...], confidence: float
) -> dict[str, dict[str, float]]:
    """Per action: out-of-fold weighted precision with its two-sided interval at ``confidence``, and labels."""
    out: dict[str, dict[str, float]] = {}
    tail = (1 - confidence) / 2
    for a in actions:
        m = action == a.name
        sw, swy, sw2 = float(w[m].sum()), float((w[m] * y[m]).sum()), float(np.square(w[m]).sum())
        p, low = precision_bounds(sw, swy, sw2, 1 - tail)
        _, low_of_misses = precision_bounds(sw, sw - swy, sw2, 1 - tail) if sw > 0 else (0.0, 0.0)
        out[a.name] = {
            "labels": int(m.sum()),
            "positives": int(y[m].sum()),
            "precision": p,
            "low": low,
            "high": 1.0 - low_of_misses if sw > 0 else float("nan"),
            "target": a.target_precision,
        }
    return out


def hard_negative_rates(rows: pd.DataFrame, action: np.ndarray) -> dict[str, dict[str, float]]:
    """Per hard-negative group (a cleared account of a kind that looks like abuse): the share of
    its out-of-fold rows that each action's band reached."""
    out: dict[str, dict[str, float]] = {}
    cleared = rows["label"].to_numpy() == 0
    groups = rows["hard_negative"].to_numpy()
    for g in sorted({str(x) for x in groups[cleared] if x}):
        m = cleared & (groups == g)
        acts, counts = np.unique(action[m], return_counts=True)
        shares = {str(a): float(c / m.sum()) for a, c in zip(acts, counts, strict=True) if a != NO_ACTION}
        out[g] = {"count": float(m.sum()), **shares}
    return out
