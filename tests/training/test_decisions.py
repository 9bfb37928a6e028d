"""What a band's precision counts: labelled rows out of fold, and, without a random audit, every
unlabelled account of the reference population as innocent (issue 13: the model never vouches
for itself)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reviewguard.model.policy import RiskPolicy
from reviewguard.training.config import ActionSpec
from reviewguard.training.decisions import (
    IN_EVERY_FIT,
    Judged,
    action_precision,
    actions_out_of_fold,
    falling_short_out_of_fold,
    judged_rows,
    latest_labels,
)
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
            "decided_at": pd.Timestamp("2026-03-01") + pd.to_timedelta(np.arange(n_pos + n_neg + n_sampled), "h"),
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


def test_a_band_whose_labelled_accounts_at_the_reference_time_are_mostly_cleared_stays_off() -> None:
    """With a random audit too (audit seed 43: monitoring claimed 0.956 out of fold, and at scoring
    held 19 accounts, 1 labelled an abuser, 9 cleared, 17 power likers). The band's labelled
    accounts at the reference time bound its precision from above; a band whose labelled accounts
    there are abusers keeps its action, and accounts without a label do not count against it."""
    rows, margin, _ = _complaints(40, 60, 0, seed=8)
    y, s, w = rows["label"].to_numpy(), margin, np.ones(len(rows))
    # 40 accounts of 10,000 score at the top of the positives' band at the reference time.
    pop_margin = np.r_[np.full(9_960, -3.0), np.full(40, 6.0)]
    fit = {"population_scores": pop_margin, "confidence": 0.95}
    assert fit_risk_policy("r", y, s, w, REMEDY, **fit).action("remedy").threshold is not None
    # In the band at the reference time: 1 abuser, 9 cleared, 30 without a label.
    cleared = np.r_[np.full(9_960, -1), [1], np.zeros(9), np.full(30, -1)].astype(int)
    off = fit_risk_policy("r", y, s, w, REMEDY, latest_label_in_population=cleared, **fit)
    assert off.action("remedy").threshold is None and off.action("monitor").threshold is None
    # 10 abusers, no cleared account, 30 without a label: the bound does not bite.
    caught = np.r_[np.full(9_960, -1), np.ones(10), np.full(30, -1)].astype(int)
    on = fit_risk_policy("r", y, s, w, REMEDY, latest_label_in_population=caught, **fit).action("remedy")
    assert on.threshold is not None and on.band_precision_low is not None and on.band_precision_low >= 0.8
    # Cleared accounts below the band do not move it.
    elsewhere = np.r_[np.zeros(9_960), np.full(40, -1)].astype(int)
    kept = fit_risk_policy("r", y, s, w, REMEDY, latest_label_in_population=elsewhere, **fit).action("remedy")
    assert kept.threshold == fit_risk_policy("r", y, s, w, REMEDY, **fit).action("remedy").threshold


def test_the_latest_label_decides_and_unlabelled_accounts_have_none() -> None:
    t = pd.Timestamp("2026-03-01")
    labels = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "b", "c", "d", "d"],
            "label": [1, 0, 0, 1, 0, 0, 1],
            "decided_at": [t, t + pd.Timedelta(days=2), t, t + pd.Timedelta(days=1), t, t, t],
        }
    )
    got = latest_labels(labels, pd.Series(["a", "b", "c", "d", "e"]))
    # a: convicted then cleared on appeal; b: cleared then convicted; d: both at one moment.
    assert list(got) == [0, 1, 0, 1, -1]


def test_an_action_whose_out_of_fold_interval_lies_below_its_target_is_turned_off() -> None:
    """With a random audit the out-of-fold precision estimates what the band delivers (audit seed 61:
    monitoring fitted at 0.667, out of fold 0.169 [0.030-0.479], 0.517 on the truth). Turned off,
    it says why, and the lighter bands are fitted as if it were absent."""
    rows, margin, _ = _complaints(40, 60, 0, seed=9)
    y, s, w = rows["label"].to_numpy(), margin, np.ones(len(rows))
    fit = {"population_scores": np.r_[np.full(9_990, -3.0), np.full(10, 6.0)], "confidence": 0.95}
    policy = fit_risk_policy("r", y, s, w, REMEDY, **fit)
    remedy = policy.action("remedy")
    assert remedy.threshold is not None
    short = {"remedy": {"precision": 0.3, "low": 0.1, "high": 0.6, "labels": 20}, "monitor": {"high": 0.9}}
    off = falling_short_out_of_fold(policy, short)
    assert list(off) == ["remedy"] and "0.300 [0.100-0.600] on 20 labels" in off["remedy"]
    # An interval reaching the target, or an action with no figure, stays on.
    assert falling_short_out_of_fold(policy, {"remedy": {"precision": 0.7, "low": 0.5, "high": 0.81}}) == {}
    assert falling_short_out_of_fold(policy, {}) == {}
    refit = fit_risk_policy("r", y, s, w, REMEDY, off=off, **fit)
    assert refit.action("remedy").threshold is None and refit.action("remedy").note == off["remedy"]
    # Monitoring's band now runs to the top instead of stopping at the remedy's threshold.
    monitor = refit.action("monitor")
    assert monitor.threshold is not None and monitor.band_labels > policy.action("monitor").band_labels
    acts = actions_out_of_fold(
        y, s, w, np.zeros(len(y), dtype=int) + np.arange(len(y)) % 2, REMEDY, risk="r", off=off, **fit
    )
    assert "remedy" not in set(acts)
