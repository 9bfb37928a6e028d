"""Robust learning on the labels platforms really have (issue 13), on three seeds at two difficulties.

Each platform's labels come only from complaint queues and moderators' reviews (the simulator's
complaints regime: no random audit), a few dozen positives per risk, and a real enforcement
history; the model trains with the defaults and scores every account.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from conftest import ABUSERS, ORDINARY, rules_on_unlabelled_abusers

from reviewguard.features import ESCALATION_FEATURES


def test_defaults_train_from_a_few_dozen_complaint_labels(complaints_run) -> None:  # type: ignore[no-untyped-def]
    for risk, r in complaints_run.result.reports.items():
        by_source = r.labels["by_source"]
        assert "random_audit" not in by_source and by_source.get("unlabelled_sample", 0) > 0, by_source
        assert r.unlabelled["applied"] and 0 < r.unlabelled["label_coverage_c"] <= 1
        assert 10 <= r.labels["positives"] <= 150, (risk, r.labels)
        # Ranking on the later decisions: every judged label scored by a model that never saw it.
        assert r.metrics["roc_auc"] > 0.85, (complaints_run.seed, risk, r.metrics)


def test_ordinary_accounts_get_no_action_beyond_monitoring(complaints_run) -> None:  # type: ignore[no-untyped-def]
    s = complaints_run.scores.merge(complaints_run.populations, on="account_id")
    ordinary = s[s["population"].isin(ORDINARY)]
    acted = ordinary.loc[~ordinary["action"].isin(["none", "monitor"]), "account_id"].nunique()
    assert acted <= 0.01 * ordinary["account_id"].nunique(), (complaints_run.seed, acted)


def test_missing_values_are_never_evidence(complaints_run) -> None:  # type: ignore[no-untyped-def]
    s, features = complaints_run.scores, complaints_run.features.set_index("account_id")
    explained = s[s["base_value"].notna()]
    assert len(explained) > 0
    for row in explained.itertuples():
        contrib = json.loads(row.contributions)
        values = features.loc[row.account_id, list(contrib)]
        null_sum = sum(c for f, c in contrib.items() if pd.isna(values[f]))
        assert null_sum <= 0.0, (row.account_id, row.risk, null_sum)
        assert all(r["value"] is not None for r in row.reasons), (row.account_id, row.reasons)


def test_scores_carry_an_interval_and_are_never_certain(complaints_run) -> None:  # type: ignore[no-untyped-def]
    s = complaints_run.scores
    assert ((s["score"] > 0) & (s["score"] < 1)).all()
    assert ((s["score_low"] <= s["score"]) & (s["score"] <= s["score_high"])).all()
    assert (s["score_high"] - s["score_low"] > 0).all()


def test_the_ladder_is_graduated_and_within_its_budgets(complaints_run) -> None:  # type: ignore[no-untyped-def]
    s = complaints_run.scores
    policy = complaints_run.result.bundle.policy
    n_accounts = s["account_id"].nunique()
    for risk in policy.risks:
        ladder = policy[risk]
        thresholds = [a.threshold for a in ladder.enabled]
        assert thresholds == sorted(set(thresholds)), (risk, thresholds)
        counts = s[s["risk"] == risk]["action"].value_counts()
        remedies = [a for a in ladder.actions if not a.requires_human and a.name != "monitor"]
        # Without a random audit a band counts every unlabelled account in it as innocent: a remedy
        # the labels alone cannot show stays off and says why (issue 13: on seed 37 a band judged on
        # presumed labels claimed 1.000 and acted at 0.62).
        assert all("95% lower bound" in a.note for a in remedies if ladder.reach(a) is None), (risk, ladder)
        remedy_count = sum(int(counts.get(a.name, 0)) for a in remedies)
        heaviest = ladder.actions[-1]
        # Never more heavy actions than remedies; strictly fewer whenever anything is done. (A
        # threshold fitted on the labels' decision times can reach nobody at the as-of: on seed 29
        # the caught extortionists have gone quiet by then.)
        heavy = int(counts.get(heaviest.name, 0))
        assert heavy < remedy_count or heavy == remedy_count == 0, (risk, counts.to_dict())
        for a in ladder.actions:
            # The training-time estimate and the scored population both hold the budget.
            if a.population_share is not None:
                assert a.population_share <= a.max_share
            assert counts.get(a.name, 0) <= 2 * a.max_share * n_accounts, (risk, a.name, counts.to_dict())


def test_an_enabled_action_is_at_least_as_precise_on_the_truth_as_its_bound(complaints_run) -> None:  # type: ignore[no-untyped-def]
    """The band's precision is a lower bound (uncaught abusers count as innocent), so on the
    simulator's truth the accounts at or above an enabled threshold are at least that precise."""
    from reviewguard.training.thresholds import precision_bounds

    s = complaints_run.scores.merge(complaints_run.populations, on="account_id")
    policy = complaints_run.result.bundle.policy
    for risk in policy.risks:
        at = s[s["risk"] == risk]
        abusive = at["population"].isin(ABUSERS[risk]).to_numpy()
        for a in policy[risk].enabled:
            if a.threshold is None or a.band_precision_low is None:
                continue
            reached = at["raw_score"].to_numpy() >= a.threshold
            n, hits = int(reached.sum()), int(abusive[reached].sum())
            if n == 0:
                continue
            # The truth's own sampling error at n accounts: its 99% upper bound must reach the bound.
            _, upper_misses = precision_bounds(n, n - hits, n, 0.99)
            assert 1 - upper_misses >= a.band_precision_low, (complaints_run.seed, risk, a.name, n, hits, a)


def test_no_human_action_without_an_earlier_lighter_remedy(complaints_run) -> None:  # type: ignore[no-untyped-def]
    s = complaints_run.scores
    human = s[s["requires_human"] & (s["risk"] == "fake_engagement")]
    names = ESCALATION_FEATURES.get("fake_engagement")
    assert names is not None
    f = complaints_run.features.set_index("account_id").loc[human["account_id"]]
    assert ((f[names[0]] > 0) & (f[names[1]] > 0)).all()


def test_the_report_states_rates_and_uncertainty(complaints_run) -> None:  # type: ignore[no-untyped-def]
    from reviewguard.training.report import report_markdown

    text = report_markdown(complaints_run.result)
    assert "Positive-unlabelled" in text and "population share / budget" in text
    assert "weighted to the population (unweighted beside it)" in text
    # Why actions may be off, and what would measure their precision.
    assert "every unlabelled account of the reference population as innocent" in text
    assert "A random audit, weighted in evaluation.source_weights" in text
    for r in complaints_run.result.reports.values():
        assert np.isfinite(r.metrics["roc_auc_unweighted"]) and r.groups["links_cut"] >= 0


def test_the_model_beats_the_platform_rules_on_the_abusers_nobody_labelled(complaints_run) -> None:  # type: ignore[no-untyped-def]
    """Judged on the population it acts on: among the abusers the complaint queue never labelled
    (the model never saw them), at each platform rule's own count of false positives among ordinary
    accounts, the model finds at least as many as the rule.

    Not asserted on the judged labels, as tests/training/test_training.py does on an audit-regime
    platform: here the labels are picked by complaints, so a rule on the complaint signal itself
    ("1+ extortion report") recalls most judged positives by construction. The report shows that
    comparison (the model loses it on 5 of 6 platforms: 0.4 against 0.6 of about ten positives at
    a false-positive rate of 0.04% on easy seed 3); the population is what the decision acts on.
    """
    labels = pd.read_parquet(complaints_run.root / "labels.parquet")
    run = complaints_run
    for risk, rule, false_positives, ours, theirs in rules_on_unlabelled_abusers(
        run.scores, run.features, run.populations, labels
    ):
        assert ours >= theirs, (run.seed, run.difficulty, risk, rule, false_positives, ours, theirs)


def test_the_scores_are_calibrated_to_the_population(complaints_run) -> None:  # type: ignore[no-untyped-def]
    for risk, r in complaints_run.result.reports.items():
        assert r.metrics["expected_calibration_error"] < 0.1, (complaints_run.seed, risk, r.metrics)
