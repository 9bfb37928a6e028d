"""The policy ladder, and actions that depend on the data, the model and the policy only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reviewguard.model.bundle import load_bundle
from reviewguard.model.policy import ActionRule, Policy, RiskPolicy
from reviewguard.model.predictor import Predictor

LADDER = RiskPolicy(
    "fake_engagement",
    (
        ActionRule("monitor", "", False, 0.5, 0.1),
        ActionRule("void", "", False, 0.8, 0.5),
        ActionRule("suspend", "", True, 0.97, 0.9),
    ),
)


def test_two_families_rule_caps_single_family_evidence() -> None:
    assert LADDER.choose(0.95, {"volume", "timing"}, 2).name == "suspend"  # type: ignore[union-attr]
    # Speed alone is not proof: one family caps the action at the data-level remedy.
    assert LADDER.choose(0.95, {"volume"}, 2).name == "void"  # type: ignore[union-attr]
    assert LADDER.choose(0.95, None, 2).name == "void"  # type: ignore[union-attr]
    assert LADDER.choose(0.05, {"volume", "timing"}, 2) is None


def test_what_would_lower_names_the_next_lighter_action() -> None:
    assert LADDER.what_would_lower("suspend", 0.95) == (
        "a score below 0.9000 would lower the action to void; below 0.1000, no action"
    )
    assert LADDER.what_would_lower("monitor", 0.2) == "a score below 0.1000 would mean no action"
    assert LADDER.what_would_lower("none", 0.05) == "no action; the lightest action, monitor, starts at 0.1000"


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
    assert default.requires_human.any() and (default.action != "none").any()
    np.testing.assert_array_equal(shown.action.to_numpy(), default.action.to_numpy())
    np.testing.assert_array_equal(shown.requires_human.to_numpy(), default.requires_human.to_numpy())
    explained = shown[shown.base_value.notna()]
    assert (explained.reasons.map(len) <= top_k).all()
    assert (explained.reasons.map(len) == top_k).any() or top_k > 5
