"""From out-of-fold margins to decisions that can be judged honestly. No I/O.

- ``cross_calibrate``: the calibrator that scores a row is never fitted on it (two halves of the
  connected groups, each calibrated by the other's fit), so thresholds fitted on those scores do
  not inherit the calibrator's in-sample optimism.
- ``actions_out_of_fold``: each fold's rows get the action of a policy fitted without that fold,
  so the precision reported for an action is the precision of thresholds it did not choose.
- ``judged_rows``: what a band's precision counts. Without a source that samples everyone, every
  unlabelled account counts as innocent: a lower bound, never the model's word for itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reviewguard.model.bundle import Calibrator
from reviewguard.model.policy import NO_ACTION, RiskPolicy
from reviewguard.training.config import ActionSpec
from reviewguard.training.learner import fit_calibrator
from reviewguard.training.thresholds import fit_risk_policy, precision_bounds, precision_upper_bound
from reviewguard.training.unlabelled import UNLABELLED_SOURCE

# A judged row that is in every fold's fit and acted on by the policy fitted on everything: an
# unlabelled account of the reference population, counted as innocent (no fold scored it).
IN_EVERY_FIT = -1


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
    labelled_in_population: np.ndarray | None = None,
    latest_label_in_population: np.ndarray | None = None,
    off: dict[str, str] | None = None,
) -> np.ndarray:
    """Each row's band action under thresholds fitted on the other folds' rows (rows of fold
    ``IN_EVERY_FIT``: in every fit, and acted on by the policy fitted on all rows)."""
    out = np.full(len(score), NO_ACTION, dtype=object)
    for k in np.unique(fold_of):
        rest = fold_of != k if k != IN_EVERY_FIT else np.ones(len(score), dtype=bool)
        policy = fit_risk_policy(
            risk,
            y[rest],
            score[rest],
            w[rest],
            actions,
            population_scores=population_scores,
            confidence=confidence,
            calibrator=calibrator,
            labelled_in_population=labelled_in_population,
            latest_label_in_population=latest_label_in_population,
            off=off,
        )
        out[fold_of == k] = band_actions(policy, score[fold_of == k])
    return out


def action_precision(
    y: np.ndarray,
    w: np.ndarray,
    action: np.ndarray,
    actions: tuple[ActionSpec, ...],
    confidence: float,
    labelled: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Per action: out-of-fold weighted precision with its two-sided interval at ``confidence``, the
    labels it reached, and (``labelled`` false: unlabelled accounts counted as innocent) those."""
    out: dict[str, dict[str, float]] = {}
    tail = (1 - confidence) / 2
    is_label = np.ones(len(y), dtype=bool) if labelled is None else labelled
    for a in actions:
        m = action == a.name
        sw, swy, sw2 = float(w[m].sum()), float((w[m] * y[m]).sum()), float(np.square(w[m]).sum())
        p, low = precision_bounds(sw, swy, sw2, 1 - tail)
        out[a.name] = {
            "labels": int((m & is_label).sum()),
            "unlabelled_accounts": int((m & ~is_label).sum()),
            "positives": int(y[m].sum()),
            "precision": p,
            "low": low,
            "high": precision_upper_bound(sw, swy, sw2, 1 - tail) if sw > 0 else float("nan"),
            "target": a.target_precision,
        }
    return out


def falling_short_out_of_fold(policy: RiskPolicy, out_of_fold: dict[str, dict[str, float]]) -> dict[str, str]:
    """Each enabled action whose out-of-fold precision falls short of its target even at the upper
    end of its interval, with the reason to turn it off.

    For labels a random audit weighs to the population: there the out-of-fold precision (each
    fold's rows under thresholds fitted without them) estimates what fitting a band delivers, and an
    interval wholly below the target says the band was chosen by chance (audit seed 61: extortion
    monitoring fitted at 0.667, bound 0.565; out of fold 0.169 [0.030-0.479] on 52 labels; 0.517
    on the simulator's truth at scoring, 0.463 a month earlier). Without such labels the
    out-of-fold figure counts unlabelled accounts as innocent: a bound, not evidence against."""
    off: dict[str, str] = {}
    for rule in policy.enabled:
        measured = out_of_fold.get(rule.name)
        if measured is None or not measured["high"] < rule.target_precision:
            continue
        off[rule.name] = (
            f"out of fold (thresholds fitted without the judged fold) it reached {measured['precision']:.3f} "
            f"[{measured['low']:.3f}-{measured['high']:.3f}] on {int(measured['labels'])} labels, below the "
            f"target {rule.target_precision} at the interval's upper end (its band had shown "
            f"{rule.band_precision:.3f}, low bound {rule.band_precision_low:.3f})"
        )
    return off


@dataclass(frozen=True)
class Judged:
    """The rows the policy is fitted and judged on: ``row`` is the training row (-1: an account of
    the reference population), ``fold`` the backtest fold that scored it (``IN_EVERY_FIT``: in
    every fold's fit, acted on by the whole policy)."""

    y: np.ndarray
    score: np.ndarray
    weight: np.ndarray
    fold: np.ndarray
    row: np.ndarray
    # Per account of the reference population: 1 where it carries a positive label (None with a
    # source that samples everyone: the labels are judged alone).
    labelled_in_population: np.ndarray | None = None
    # Per account of the reference population: its latest label (1 abuser, 0 cleared), -1 for none.
    latest_label_in_population: np.ndarray | None = None


def judged_rows(
    rows: pd.DataFrame,
    scored: np.ndarray,
    fold_of: np.ndarray,
    margin: np.ndarray,
    pop_margins: np.ndarray,
    population: pd.DataFrame,
    population_weight: float,
    *,
    pu_sample: bool,
) -> Judged:
    """Labels the decisions are judged on.

    With a source that samples everyone (a random audit, weighted in ``source_weights``), the
    labelled rows out of fold. Without one, the labelled rows out of fold stand for the accounts
    that were labelled, and every other account of the reference population, at the refit model's
    margin, counts once as innocent. The unlabelled accounts are not the positive-unlabelled
    sample: a few hundred rows standing for ~25 accounts each miss a band of 0.7% of the
    population (complaints seed 37: a hold band held no sampled row, claimed precision 1.000 from
    13 labels and held 109 accounts, 68 of them crew), and presumed labels from the model's own
    score would let the band vouch for itself. An uncaught abuser counts as innocent, so a band's
    precision is a lower bound: the only figure labels from complaint queues can show.
    ``labelled_in_population`` lets the policy check the band a second time on the reference
    population alone, and ``latest_label_in_population`` a third, in either regime: the labelled
    accounts the band holds at the reference time (``fit_risk_policy``).
    """
    sampled = rows["source"].to_numpy() == UNLABELLED_SOURCE
    idx = np.flatnonzero(scored & ~sampled)
    y = rows["label"].to_numpy(dtype=np.float64)[idx]
    score = margin[idx]
    weight = rows["weight"].to_numpy(dtype=np.float64)[idx]
    fold = fold_of[idx]
    latest = latest_labels(rows.loc[~sampled], population["account_id"])
    if not pu_sample:
        return Judged(y, score, weight, fold, idx, latest_label_in_population=latest)
    others = ~population["account_id"].isin(set(rows.loc[~sampled, "account_id"]))
    n = int(others.sum())
    caught = set(rows.loc[~sampled & (rows["label"] == 1), "account_id"])
    return Judged(
        np.r_[y, np.zeros(n)],
        np.r_[score, pop_margins[others.to_numpy()]],
        np.r_[weight, np.full(n, population_weight)],
        np.r_[fold, np.full(n, IN_EVERY_FIT)],
        np.r_[idx, np.full(n, -1)],
        population["account_id"].isin(caught).to_numpy().astype(np.int64),
        latest,
    )


def latest_labels(labels: pd.DataFrame, accounts: pd.Series) -> np.ndarray:
    """Each account's latest label by decision time (1 or 0; -1 for an account without one).

    A later decision replaces an earlier one: an appeal overturned clears, a new case convicts.
    Ties at one moment count as the abuser's label (the stricter reading for the band's bound:
    a cleared account lowers it)."""
    ordered = labels.sort_values(["decided_at", "label"], kind="stable")
    last = ordered.groupby("account_id", sort=False)["label"].last()
    return accounts.map(last).fillna(-1).to_numpy().astype(np.int64)


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
