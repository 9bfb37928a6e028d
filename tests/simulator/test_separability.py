"""How much one feature gives away, measured on the trained complaints platforms (three seeds, two difficulties).

Issue 15's bar for the default difficulty: on the reviewed labels (the cases a moderator weighs),
features at each label's decision time, no single feature separates either risk above 0.90
ROC-AUC. A few dozen labels per risk make each figure noisy (a standard error near 0.03,
Hanley & McNeil), so the test asks that no feature be *shown* above the bar: its AUC less one
standard error at most 0.90. The easy platform is kept as the first simulator and fails that bar; the test says so
too, so a change that makes `easy` as hard as `realistic` (or the reverse) is noticed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from reviewguard.features import FEATURES

REALISTIC_CEILING = 0.90


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (
        positives * negatives
    )
    return float(np.sqrt(var))


def best_single_feature(rows: pd.DataFrame) -> tuple[float, str]:
    """Best ROC-AUC of one feature, either direction, a missing value ranked lowest."""
    y = rows["label"].to_numpy()
    best = (0.5, "")
    for f in FEATURES:
        x = rows[f.name].astype(float).to_numpy()
        if np.isnan(x).all():
            continue
        x = np.where(np.isnan(x), np.nanmin(x) - 1, x)
        auc = float(roc_auc_score(y, x))
        best = max(best, (max(auc, 1 - auc), f.name))
    return best


def test_no_single_feature_separates_a_risk_on_the_realistic_platform(complaints_run) -> None:  # type: ignore[no-untyped-def]
    # The labels the model learns from, at their decision times; the unlabelled sample is not a review.
    reviewed = complaints_run.result.label_features
    reviewed = reviewed[reviewed["source"] != "unlabelled_sample"]
    best = {risk: best_single_feature(g) for risk, g in reviewed.groupby("risk")}
    assert set(best) == {"extortion", "fake_engagement"}
    if complaints_run.difficulty == "realistic":
        for risk, g in reviewed.groupby("risk"):
            auc, name = best[str(risk)]
            positives = int(g["label"].sum())
            se = auc_standard_error(auc, positives, len(g) - positives)
            assert auc - se <= REALISTIC_CEILING, (complaints_run.seed, risk, name, auc, se)
    else:
        # Every bot on the easy platform likes without opening, at night, in lockstep: one feature suffices.
        auc, name = best["fake_engagement"]
        assert auc > 0.95, (complaints_run.seed, name, auc)
