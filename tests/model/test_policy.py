"""The policy ladder, and actions that depend on the data, the model and the policy only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reviewguard.model.bundle import load_bundle
from reviewguard.model.policy import ActionRule, Evidence, Policy, RiskPolicy
from reviewguard.model.predictor import Predictor

LADDER = RiskPolicy(
    "fake_engagement",
    (
        ActionRule("monitor", "", False, 0.5, -1.0, threshold_score=0.3),
        ActionRule("void", "", False, 0.8, 0.5, threshold_score=0.7),
        ActionRule("suspend", "", True, 0.97, 2.0, threshold_score=0.95, requires_prior_remedy=True),
    ),
)
CASE = Evidence(frozenset({"volume", "timing"}), "likes_per_day_max", 0.4, prior_remedy=True)


def _choose(margin: float, evidence: Evidence) -> str | None:
    act, _ = LADDER.choose(margin, evidence, min_families=2, max_single_feature_share=0.6)
    return None if act is None else act.name


def test_every_gate_of_a_human_action_can_hold_it_back() -> None:
    assert _choose(2.5, CASE) == "suspend"
    # Speed alone is not proof: one family caps the action at the data-level remedy.
    assert _choose(2.5, replace(CASE, families=frozenset({"volume"}))) == "void"
    assert _choose(2.5, replace(CASE, families=None)) == "void"
    # One fact is not a case.
    assert _choose(2.5, replace(CASE, top_share=0.61)) == "void"
    # Sanctions as a last resort: no lighter remedy before, no human action now.
    assert _choose(2.5, replace(CASE, prior_remedy=False)) == "void"
    assert _choose(-2.0, CASE) is None
    _, note = LADDER.choose(2.5, replace(CASE, top_share=0.9), min_families=2, max_single_feature_share=0.6)
    assert "likes_per_day_max" in note and "90%" in note


def test_a_data_level_remedy_without_a_band_applies_above_the_next_heavier_threshold() -> None:
    ladder = RiskPolicy("r", (LADDER.actions[0], replace(LADDER.actions[1], threshold=None), LADDER.actions[2]))
    act, _ = ladder.choose(2.5, replace(CASE, prior_remedy=False), min_families=2, max_single_feature_share=0.6)
    assert act is not None and act.name == "void"
    act, _ = ladder.choose(1.0, CASE, min_families=2, max_single_feature_share=0.6)
    assert act is not None and act.name == "monitor"


def test_what_would_lower_names_the_next_lighter_action() -> None:
    assert LADDER.what_would_lower("suspend", 2.5) == (
        "a margin below 2.000, score 0.95 would lower the action to void; below -1.000, score 0.30, no action"
    )
    assert LADDER.what_would_lower("monitor", 0.2) == "a margin below -1.000, score 0.30 would mean no action"
    assert LADDER.what_would_lower("none", -2.0) == (
        "no action; the lightest action, monitor, starts at a margin of -1.000, score 0.30"
    )


def test_policy_json_round_trip_keeps_its_version() -> None:
    p = Policy({"fake_engagement": LADDER}, min_families_for_human=2, top_k_reasons=5)
    again = Policy.from_dict(p.to_dict())
    assert again == p and again.version == p.version and p.version.startswith("policy-")
    # The version is a hash of the content: another threshold is another policy.
    other = Policy(
        {"fake_engagement": RiskPolicy("fake_engagement", (ActionRule("monitor", "", False, 0.5, 0.2),))},
        min_families_for_human=2,
        top_k_reasons=5,
    )
    assert other.version != p.version


@pytest.mark.parametrize("top_k", [1, 2, 3, 28])
def test_actions_never_depend_on_the_number_of_reasons_shown(bundle_dir: Path, trained, top_k: int) -> None:  # type: ignore[no-untyped-def]
    predictor = Predictor(load_bundle(bundle_dir))
    rows = trained.label_features.rename(columns={"decided_at": "as_of"})
    default = predictor.predict(rows, explain="flagged")
    # The default shows as many reasons as the two-families rule reads; other counts are display only.
    assert predictor.policy.top_k_reasons == 5
    shown = predictor.predict(rows, explain="flagged", top_k=top_k)
    assert (default.action != "none").any()
    np.testing.assert_array_equal(shown.action.to_numpy(), default.action.to_numpy())
    np.testing.assert_array_equal(shown.requires_human.to_numpy(), default.requires_human.to_numpy())
    explained = shown[shown.base_value.notna()]
    assert (explained.reasons.map(len) <= top_k).all()
    assert (explained.reasons.map(len) == top_k).any() or top_k > 5
