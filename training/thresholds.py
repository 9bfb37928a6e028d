"""Fitting the graduated policy: a threshold per action, chosen on validation to reach its target precision."""

from __future__ import annotations

import numpy as np

from reviewguard.model.policy import ActionRule, Policy, RiskPolicy
from reviewguard.training.config import ActionSpec


def threshold_for_precision(
    y: np.ndarray, score: np.ndarray, target: float, min_support: int, weight: np.ndarray | None = None
) -> tuple[float | None, float | None, int]:
    """The lowest score threshold whose flagged set reaches ``target`` precision.

    Lowest, so that the action reaches as many abusers as its precision allows;
    ``min_support`` true positives are needed before an action is enabled at all.
    ``weight`` (accounts each label stands for) makes the precision the one
    expected on the population. Returns (threshold, achieved precision, true
    positives), threshold None if unreachable.
    """
    order = np.argsort(-score, kind="stable")
    s = score[order]
    w = np.ones(len(s)) if weight is None else np.asarray(weight, dtype=np.float64)[order]
    tp = np.cumsum(y[order])
    prec = np.cumsum(y[order] * w) / np.cumsum(w)
    # Only cut between distinct scores: everyone at a score gets the same action.
    last_of_value = np.r_[s[1:] != s[:-1], True]
    ok = last_of_value & (prec >= target) & (tp >= min_support)
    if not ok.any():
        return None, None, 0
    i = int(np.flatnonzero(ok).max())
    return float(s[i]), float(prec[i]), int(tp[i])


def fit_risk_policy(
    risk: str,
    y: np.ndarray,
    score: np.ndarray,
    actions: tuple[ActionSpec, ...],
    *,
    min_support: int,
    weight: np.ndarray | None = None,
) -> RiskPolicy:
    resolved = []
    floor = -np.inf
    for a in actions:
        t, p, tp = threshold_for_precision(y, score, a.target_precision, min_support, weight)
        note = ""
        if t is None:
            note = "target precision not reached on validation: action disabled"
        elif t < floor:
            # A heavier action never fires below a lighter one.
            t = float(floor)
            note = "raised to the threshold of the lighter action before it"
        if t is not None:
            floor = t
        resolved.append(
            ActionRule(
                name=a.name,
                description=a.description,
                requires_human=a.requires_human,
                target_precision=a.target_precision,
                threshold=t,
                validation_precision=p,
                validation_true_positives=tp,
                note=note,
            )
        )
    return RiskPolicy(risk, tuple(resolved))


def assemble_policy(per_risk: dict[str, RiskPolicy], *, min_families_for_human: int, top_k: int) -> Policy:
    return Policy(per_risk, min_families_for_human=min_families_for_human, top_k_reasons=top_k)
