"""What a band's precision counts: labelled rows out of fold, and, without a random audit, every
unlabelled account of the reference population as innocent (issue 13: the model never vouches
for itself)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reviewguard.model.policy import RiskPolicy
from reviewguard.training.config import ActionSpec
from reviewguard.training.decisions import IN_EVERY_FIT, Judged, action_precision, actions_out_of_fold, judged_rows
from reviewguard.training.thresholds import fit_risk_policy
from reviewguard.training.unlabelled import UNLABELLED_SOURCE

REMEDY = (
    ActionSpec("monitor", 0.5, False, "", 0.05, False, min_probability=0.0),
    ActionSpec("remedy", 0.8, False, "", 0.02, False),
)


def _complaints(n_pos: int, n_neg: int, n_sampled: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Label rows of a complaint queue: positives scoring high, cleared complaints low, and a
    positive-unlabelled sample drawn where ordinary accounts are (low); two folds."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(n_pos + n_neg + n_sampled)],
            "label": np.r_[np.ones(n_pos), np.zeros(n_neg + n_sampled)].astype(int),
            "source": ["confirmed_case"] * n_pos + ["manual_review"] * n_neg + [UNLABELLED_SOURCE] * n_sampled,
            "weight": np.r_[np.ones(n_pos + n_neg), np.full(n_sampled, 50.0)],
        }
    )
    margin = np.r_[rng.normal(5, 0.5, n_pos), rng.normal(0, 1, n_neg), rng.normal(-3, 1, n_sampled)]
    fold = rng.integers(0, 2, len(rows))
    return rows, margin, fold


def _population(n: int, high: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Accounts nobody labelled: ``high`` of them score where the positives do."""
    rng = np.random.default_rng(seed)
    margins = np.r_[rng.normal(-3, 1, n - high), rng.normal(5, 0.5, high)]
    return pd.DataFrame({"account_id": [f"u{i}" for i in range(n)]}), margins


def _remedy(
    rows: pd.DataFrame, margin: np.ndarray, fold: np.ndarray, pop: pd.DataFrame, pop_margin: np.ndarray
) -> tuple[Judged, RiskPolicy]:
    scored = np.ones(len(rows), dtype=bool)
    j = judged_rows(rows, scored, fold, margin, pop_margin, pop, 1.0, pu_sample=True)
    policy = fit_risk_policy("r", j.y, j.score, j.weight, REMEDY, population_scores=pop_margin, confidence=0.95)
    return j, policy


def test_unlabelled_accounts_in_a_band_count_against_it_even_when_the_sample_missed_them() -> None:
    rows, margin, fold = _complaints(40, 60, 400, seed=1)
    # 60 of 10,000 unlabelled accounts score among the positives; the sample (drawn low) holds none.
    pop, pop_margin = _population(10_000, 60, seed=2)
    j, policy = _remedy(rows, margin, fold, pop, pop_margin)
    assert (j.fold == IN_EVERY_FIT).sum() == 10_000 and (j.row == -1).sum() == 10_000
    # The sampled rows (400, drawn low) are not judged: the whole population stands in for them.
    assert sorted(j.row[j.row >= 0]) == list(range(100))
    # 40 positives against 60 unlabelled in the same band: 0.4 at best, never the 0.8 the labels
    # alone (40 of 40) would claim.
    assert policy.action("remedy").threshold is None, policy
    assert "95% lower bound" in policy.action("remedy").note


def test_a_band_the_unlabelled_accounts_do_not_reach_keeps_its_action() -> None:
    rows, margin, fold = _complaints(40, 60, 400, seed=1)
    pop, pop_margin = _population(10_000, 0, seed=2)
    _, policy = _remedy(rows, margin, fold, pop, pop_margin)
    remedy = policy.action("remedy")
    assert remedy.threshold is not None and remedy.band_precision_low is not None
    assert remedy.band_precision_low >= 0.8


def test_labelled_accounts_are_counted_once_by_their_label_not_again_as_unlabelled() -> None:
    rows, margin, fold = _complaints(10, 10, 20, seed=3)
    # The population holds the labelled accounts too (and a sampled one): only the others join.
    pop = pd.DataFrame({"account_id": ["a0", "a5", "a15", "a25", "u1", "u2"]})
    j = judged_rows(rows, np.ones(len(rows), dtype=bool), fold, margin, np.arange(6.0), pop, 3.0, pu_sample=True)
    # a0, a5, a15: labelled (counted by their label rows); a25 was only sampled: unlabelled, joins.
    assert list(j.score[j.row == -1]) == [3.0, 4.0, 5.0]
    assert (j.weight[j.row == -1] == 3.0).all() and (j.y[j.row == -1] == 0).all()
    assert len(j.y) == 20 + 3


def test_with_a_random_audit_the_labelled_rows_alone_are_judged() -> None:
    rows, margin, fold = _complaints(10, 10, 0, seed=4)
    scored = np.r_[np.ones(15, dtype=bool), np.zeros(5, dtype=bool)]
    pop = pd.DataFrame({"account_id": ["u1"]})
    j = judged_rows(rows, scored, fold, margin, np.zeros(1), pop, 1.0, pu_sample=False)
    assert list(j.row) == list(range(15)) and (j.fold >= 0).all()


def test_unlabelled_accounts_are_acted_on_by_the_whole_policy_and_reported_apart() -> None:
    rows, margin, fold = _complaints(40, 60, 400, seed=5)
    pop, pop_margin = _population(5_000, 5, seed=6)
    j, policy = _remedy(rows, margin, fold, pop, pop_margin)
    acts = actions_out_of_fold(
        j.y, j.score, j.weight, j.fold, REMEDY, risk="r", population_scores=pop_margin, confidence=0.95
    )
    remedy = policy.action("remedy")
    assert remedy.threshold is not None
    unlabelled = j.fold == IN_EVERY_FIT
    assert ((acts[unlabelled] == "remedy") == (j.score[unlabelled] >= remedy.threshold)).all()
    out = action_precision(j.y, j.weight, acts, REMEDY, 0.9, labelled=j.row >= 0)["remedy"]
    assert out["unlabelled_accounts"] == int((acts[unlabelled] == "remedy").sum()) > 0
    assert out["labels"] == int((acts[~unlabelled] == "remedy").sum())
    assert out["precision"] < 1.0


def test_a_band_must_also_show_its_precision_on_the_accounts_it_holds_at_the_reference_time() -> None:
    """The label rows are scored at their decision times; at the reference time the caught may have
    gone quiet. A band pure on the label rows, whose accounts at the reference time carry few
    positive labels, stays off; the same band whose accounts there are the caught ones stays on."""
    rows, margin, _ = _complaints(40, 60, 400, seed=7)
    w = np.ones(len(rows))
    keep = rows["source"].to_numpy() != UNLABELLED_SOURCE
    y, s = rows["label"].to_numpy()[keep], margin[keep]
    # 40 accounts of 10,000 score in the positives' band at the reference time.
    pop_margin = np.r_[np.full(9_960, -3.0), np.full(40, 5.0)]
    few = np.r_[np.zeros(9_960 + 30), np.ones(10)].astype(int)
    most = np.r_[np.zeros(9_960), np.ones(40)].astype(int)
    fit = {"population_scores": pop_margin, "confidence": 0.95}
    assert fit_risk_policy("r", y, s, w[keep], REMEDY, **fit).action("remedy").threshold is not None
    off = fit_risk_policy("r", y, s, w[keep], REMEDY, labelled_in_population=few, **fit).action("remedy")
    assert off.threshold is None and "95% lower bound" in off.note
    on = fit_risk_policy("r", y, s, w[keep], REMEDY, labelled_in_population=most, **fit).action("remedy")
    assert on.threshold is not None and on.band_precision_low is not None and on.band_precision_low >= 0.8
