"""The audit label regime on three seeds at realistic difficulty (issue 15).

tests/training/test_training.py checks the pipeline on one easy platform (seed 11, shared by the
serving and MLflow tests); the quality claims it makes there are made here on every seed of
``QUALITY_SEEDS`` at the simulator's default, realistic difficulty, with a random audit (weighted
in ``source_weights``) beside the complaint queues: where judged labels are a fair sample, the model
must beat each platform rule at the rule's own false-positive rate, be calibrated to the
population, and fit a graded ladder within its budgets.

The comparison with the rules is judged on the population, as in the complaints regime: even with
a random audit most judged labels come from complaint queues, and on the judged labels the model
loses to "1+ extortion report" on seed 29 (recall 0.19 against 0.25 at the rule's false-positive
rate of 0.6%, measured 2026-11-23; the report says so).
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import QUALITY_SEEDS, rules_on_unlabelled_abusers

from reviewguard.engine import connect
from reviewguard.reader import open_dataset
from reviewguard.simulator import SimConfig, simulate


@pytest.fixture(scope="module", params=QUALITY_SEEDS, ids=lambda s: f"realistic-seed{s}")
def audit_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from reviewguard.features import build_features, cutoffs_at, default_as_of
    from reviewguard.model.predictor import Predictor
    from reviewguard.training.config import load_config
    from reviewguard.training.pipeline import train_models

    seed = request.param
    out = tmp_path_factory.mktemp(f"audit-realistic-{seed}") / "data"
    simulate(SimConfig(accounts=12_000, days=60, seed=seed, label_regime="audit", difficulty="realistic"), out)
    pops = pd.read_parquet(out / "_truth" / "populations.parquet")
    ds = open_dataset(connect(), out)
    result = train_models(ds, load_config(), populations=pops)
    as_of = default_as_of(ds)
    features = build_features(ds, cutoffs_at(ds, as_of)).to_pandas()
    scores = Predictor(result.bundle).predict(features, explain="none", as_of=as_of)
    labels = pd.read_parquet(out / "labels.parquet")
    return SimpleNamespace(seed=seed, result=result, features=features, scores=scores, populations=pops, labels=labels)


def test_an_unbiased_source_is_used_and_no_unlabelled_sample_is_drawn(audit_run: SimpleNamespace) -> None:
    for risk, r in audit_run.result.reports.items():
        assert r.labels["by_source"].get("random_audit", 0) > 0, (audit_run.seed, risk, r.labels)
        assert not r.unlabelled["applied"], (audit_run.seed, risk, r.unlabelled)


def test_the_model_beats_each_platform_rule_on_the_abusers_nobody_labelled(audit_run: SimpleNamespace) -> None:
    run = audit_run
    for risk, rule, false_positives, ours, theirs in rules_on_unlabelled_abusers(
        run.scores, run.features, run.populations, run.labels
    ):
        assert ours >= theirs, (run.seed, risk, rule, false_positives, ours, theirs)
    for risk, r in run.result.reports.items():
        assert r.metrics["roc_auc_unweighted"] > 0.8, (run.seed, risk, r.metrics)


def test_scores_are_calibrated_to_the_population(audit_run: SimpleNamespace) -> None:
    for risk, r in audit_run.result.reports.items():
        assert r.metrics["expected_calibration_error"] < 0.1, (audit_run.seed, risk, r.metrics)


def test_the_ladder_is_graded_and_within_its_budgets(audit_run: SimpleNamespace) -> None:
    policy = audit_run.result.bundle.policy.to_dict()
    for risk, p in policy["risks"].items():
        actions = p["actions"]
        assert not actions[0]["requires_human"] and actions[-1]["requires_human"]
        thresholds = [a["threshold"] for a in actions if a["threshold"] is not None]
        assert thresholds == sorted(set(thresholds)) and thresholds, (audit_run.seed, risk, actions)
        for a in actions:
            if a["threshold"] is not None:
                assert a["band_precision_low"] >= a["target_precision"] - 1e-12
                assert a["population_share"] <= a["max_share"], (audit_run.seed, risk, a)
