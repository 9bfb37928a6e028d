"""Fitting the graduated policy: each action's threshold on its own band of out-of-fold margins.

Heaviest action first: its band runs from its threshold up; each lighter action's band from its
threshold up to the next heavier enabled threshold. A threshold is the lowest score whose band's
precision (weighted to the population) reaches the action's target at a one-sided lower
confidence bound, and whose share of the reference population at or above it stays within the
action's budget. Thresholds therefore strictly increase up the ladder; an action whose band
cannot reach its target is disabled with a note (a data-level remedy still applies above the next
heavier threshold, see ``reviewguard.model.policy``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import beta

from reviewguard.model.bundle import Calibrator
from reviewguard.model.policy import ActionRule, Policy, RiskPolicy
from reviewguard.training.config import ActionSpec


def precision_bounds(sum_w: float, sum_wy: float, sum_w2: float, confidence: float) -> tuple[float, float]:
    """Weighted precision and its one-sided lower bound (Jeffreys interval at the Kish effective size)."""
    if sum_w <= 0:
        return float("nan"), 0.0
    p = sum_wy / sum_w
    n_eff = sum_w**2 / sum_w2
    low = float(beta(p * n_eff + 0.5, (1.0 - p) * n_eff + 0.5).ppf(1.0 - confidence))
    return float(p), low


@dataclass(frozen=True)
class _Tail:
    """Cumulative weighted counts of the rows at or above each distinct score, highest first."""

    values: np.ndarray
    sum_w: np.ndarray
    sum_wy: np.ndarray
    sum_w2: np.ndarray
    rows: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> _Tail:
        order = np.argsort(-score, kind="stable")
        s, t, w = score[order], y[order].astype(np.float64), weight[order].astype(np.float64)
        if not len(s):  # no judged row (a fold left out holds them all): nothing can be fitted
            empty = np.empty(0)
            return cls(empty, empty, empty, empty, np.empty(0, dtype=np.int64))
        last = np.r_[s[1:] != s[:-1], True]
        keep = np.flatnonzero(last)
        return cls(
            s[keep],
            np.cumsum(w)[keep],
            np.cumsum(w * t)[keep],
            np.cumsum(w * w)[keep],
            (np.arange(len(s)) + 1)[keep],
        )

    def band(self, t: float, upper: tuple[float, float, float, int]) -> tuple[float, float, float]:
        """Counts of the rows scoring at or above ``t``, less ``upper`` (the counts above the band)."""
        sw, swy, sw2, _ = self.above(t)
        return sw - upper[0], swy - upper[1], sw2 - upper[2]

    def above(self, upper: float) -> tuple[float, float, float, int]:
        """Counts of the rows scoring at or above ``upper`` (0 for +inf)."""
        i = np.searchsorted(-self.values, -upper, side="right") - 1
        if i < 0:
            return 0.0, 0.0, 0.0, 0
        return float(self.sum_w[i]), float(self.sum_wy[i]), float(self.sum_w2[i]), int(self.rows[i])


def fit_risk_policy(
    risk: str,
    y: np.ndarray,
    score: np.ndarray,
    weight: np.ndarray,
    actions: tuple[ActionSpec, ...],
    *,
    population_scores: np.ndarray,
    confidence: float,
    calibrator: Calibrator | None = None,
    labelled_in_population: np.ndarray | None = None,
    latest_label_in_population: np.ndarray | None = None,
    off: dict[str, str] | None = None,
) -> RiskPolicy:
    """Thresholds for ``risk`` from out-of-fold margins ``score`` and labels ``y``; the budget is
    judged on ``population_scores``, the refit model's margins of the reference population.

    ``latest_label_in_population`` (per reference account: its latest label, 1 or 0, or -1 for
    none): the accounts a band holds at the reference time that carry a label bound its precision
    from above (a one-sided upper confidence bound of their share of abusers). A band whose
    labelled accounts are mostly cleared is not rescued by label rows that scored high at their
    decision times (audit seed 43: a monitoring band claimed 0.956 out of fold and held 19 accounts
    at scoring, 1 labelled an abuser, 9 cleared, 17 of the 19 power likers).

    ``off``: actions turned off whatever their band shows, by name, with the reason (the lighter
    actions' bands are then fitted as if they were absent).

    ``labelled_in_population`` (1 where a reference account carries a positive label; given when
    no source samples everyone): a band must also show its precision on the reference population
    itself, every account without a positive label counted as innocent. Out-of-fold label rows
    are each scored at their decision time, when a caught abuser was at its busiest; at the
    reference time the caught have often gone quiet and the band holds the uncaught and the
    innocent (complaints seed 17: a monitoring band at 0.575 on the label rows held 14 bots
    among 47 accounts at scoring)."""
    tail = _Tail.of(np.asarray(y), np.asarray(score, dtype=np.float64), np.asarray(weight, dtype=np.float64))
    pop_scores = np.asarray(population_scores, dtype=np.float64)
    pop = np.sort(pop_scores)
    snapshot = (
        None
        if labelled_in_population is None
        else _Tail.of(np.asarray(labelled_in_population), pop_scores, np.ones(len(pop_scores)))
    )
    labelled_now = None
    if latest_label_in_population is not None:
        latest = np.asarray(latest_label_in_population)
        has = latest >= 0
        labelled_now = _Tail.of(latest[has], pop_scores[has], np.ones(int(has.sum())))
    resolved: dict[str, ActionRule] = {}
    upper = np.inf
    for spec in reversed(actions):
        if off and spec.name in off:
            resolved[spec.name] = ActionRule(threshold=None, note=off[spec.name], **_spec_fields(spec))
            continue
        floor = _lowest_margin_with(calibrator, spec.min_probability)
        rule = _fit_band(spec, tail, upper, pop, confidence, floor, snapshot, labelled_now)
        if rule.threshold is not None:
            upper = rule.threshold
        resolved[spec.name] = rule
    rules = [resolved[a.name] for a in actions]
    policy = RiskPolicy(risk, tuple(_fallback_note(rules, i) for i in range(len(rules))))
    return policy if calibrator is None else with_threshold_scores(policy, calibrator)


def _lowest_margin_with(calibrator: Calibrator | None, probability: float) -> float:
    """The lowest margin the calibrator gives at least ``probability`` (-inf: no floor)."""
    if calibrator is None or probability <= 0:
        return -np.inf
    xs, ys = np.asarray(calibrator.x), np.asarray(calibrator.y)
    at = np.flatnonzero(ys >= probability)
    if not len(at):
        return np.inf
    i = int(at[0])
    if i == 0:
        return -np.inf
    # Between two knots the calibrator is linear: the margin where it crosses ``probability``.
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return float(x0 + (probability - y0) * (x1 - x0) / (y1 - y0)) if y1 > y0 else float(x1)


def precision_upper_bound(sum_w: float, sum_wy: float, sum_w2: float, confidence: float) -> float:
    """One-sided upper confidence bound of a precision (1 without a row: nothing bounds it)."""
    if sum_w <= 0:
        return 1.0
    _, low_of_misses = precision_bounds(sum_w, sum_w - sum_wy, sum_w2, confidence)
    return 1.0 - low_of_misses


def _share_at_or_above(pop: np.ndarray, t: float) -> float:
    return float((len(pop) - np.searchsorted(pop, t, side="left")) / len(pop)) if len(pop) else 0.0


def _fit_band(
    spec: ActionSpec,
    tail: _Tail,
    upper: float,
    pop: np.ndarray,
    confidence: float,
    floor: float,
    snapshot: _Tail | None = None,
    labelled_now: _Tail | None = None,
) -> ActionRule:
    above = tail.above(upper)
    snapshot_above = snapshot.above(upper) if snapshot is not None else None
    labelled_above = labelled_now.above(upper) if labelled_now is not None else None
    best: tuple[float, float, float, int] | None = None
    over_budget = False
    below_floor = False
    for i in np.flatnonzero(tail.values < upper):
        t = float(tail.values[i])
        if t < floor:
            below_floor = True
            break  # lower thresholds reach accounts more likely innocent than not
        if _share_at_or_above(pop, t) > spec.max_share:
            over_budget = True
            break  # lower thresholds only reach more accounts
        p, low = precision_bounds(*tail.band(t, above), confidence)
        if snapshot is not None and snapshot_above is not None:
            # The weaker of the two showings is the band's.
            sp, slow = precision_bounds(*snapshot.band(t, snapshot_above), confidence)
            p, low = min(p, sp), min(low, slow)
        if labelled_now is not None and labelled_above is not None:
            cap = precision_upper_bound(*labelled_now.band(t, labelled_above), confidence)
            p, low = min(p, cap), min(low, cap)
        if low >= spec.target_precision:
            best = (t, p, low, int(tail.rows[i] - above[3]))
    common = _spec_fields(spec)
    if best is None:
        why = (
            f"no band of scores reaches precision {spec.target_precision} at the {confidence:.0%} lower bound"
            + (f" within the budget of {spec.max_share:.1%} of accounts" if over_budget else "")
            + (f" where the calibrated probability is at least {spec.min_probability}" if below_floor else "")
        )
        return ActionRule(threshold=None, note=why, **common)
    t, p, low, n = best
    return ActionRule(
        threshold=t,
        band_precision=p,
        band_precision_low=low,
        band_labels=n,
        population_share=_share_at_or_above(pop, t),
        **common,
    )


def _spec_fields(spec: ActionSpec) -> dict[str, Any]:
    """What an action's rule takes from its configuration."""
    return {
        "name": spec.name,
        "description": spec.description,
        "requires_human": spec.requires_human,
        "target_precision": spec.target_precision,
        "max_share": spec.max_share,
        "requires_prior_remedy": spec.requires_prior_remedy,
    }


def _fallback_note(rules: list[ActionRule], i: int) -> ActionRule:
    """A data-level remedy without a band still applies above the next heavier threshold: say so."""
    rule = rules[i]
    if rule.threshold is not None or rule.requires_human:
        return rule
    heavier = next((r for r in rules[i + 1 :] if r.threshold is not None), None)
    if heavier is None:
        return rule
    return replace(
        rule,
        note=f"{rule.note}; applies above {heavier.name}'s threshold to accounts a heavier action does not reach",
    )


def with_threshold_scores(policy: RiskPolicy, calibrator: Calibrator) -> RiskPolicy:
    """Each enabled threshold with the calibrated probability at it (for people to read)."""
    return RiskPolicy(
        policy.risk,
        tuple(
            a
            if a.threshold is None
            else replace(a, threshold_score=float(calibrator.apply(np.array([a.threshold]))[0]))
            for a in policy.actions
        ),
    )


def assemble_policy(
    per_risk: dict[str, RiskPolicy], *, min_families_for_human: int, top_k: int, max_single_feature_share: float
) -> Policy:
    return Policy(
        per_risk,
        min_families_for_human=min_families_for_human,
        top_k_reasons=top_k,
        max_single_feature_share=max_single_feature_share,
    )
