"""What scoring a missing value at its least-risky value costs the ranking (``missing_value_cost``).

Inline data: an undirected feature that is missing for a group of accounts which the labels make
riskier (as the gaps between reviews are missing for Yelp's one-review accounts). The trees learn
the group on the missing branch; the predictor never takes it, and the report must show the cost.
"""

from __future__ import annotations

import numpy as np

from reviewguard.features import BY_NAME
from reviewguard.model.explain import TreeModel
from reviewguard.training.config import load_config
from reviewguard.training.evaluate import missing_value_cost
from reviewguard.training.learner import fit_booster
from reviewguard.training.report import missing_values_paragraph

UNDIRECTED = BY_NAME["review_gap_entropy_bits"]
DIRECTED = BY_NAME["max_reviews_per_day"]


def _platform(seed: int, missing_share: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 6000
    gone = rng.random(n) < missing_share
    # The missing group is the risky one; among the others the feature carries a little signal.
    entropy = rng.uniform(0, 3, n)
    y = np.where(gone, rng.random(n) < 0.6, rng.random(n) < 0.05 + 0.05 * entropy).astype(int)
    entropy[gone] = np.nan
    per_day = rng.integers(1, 4, n).astype(np.float64)
    return np.column_stack([entropy, per_day]), y


def _cost(seed: int, missing_share: float) -> tuple[dict, np.ndarray]:
    assert UNDIRECTED.direction == 0 and DIRECTED.direction != 0
    feats = [UNDIRECTED, DIRECTED]
    x, y = _platform(seed, missing_share)
    half = len(y) // 2
    booster, _ = fit_booster(x[:half], y[:half], features=feats, lgb_cfg=load_config().lightgbm, seed=seed, rounds=40)
    tree = TreeModel(booster, [f.direction for f in feats])
    judged = x[half:]
    cost = missing_value_cost(
        judged,
        y[half:],
        np.ones(len(judged)),
        as_scored=tree.raw_score(tree.fill(judged)),
        as_learned=tree.raw_score(tree.fill(judged, undirected=False)),
        names=[f.name for f in feats],
        directions=[f.direction for f in feats],
    )
    return cost, judged


def test_a_feature_missing_for_a_risky_group_shows_its_cost() -> None:
    for seed in (3, 17, 29):
        cost, judged = _cost(seed, missing_share=0.4)
        share = float(np.isnan(judged[:, 0]).mean())
        assert cost["undirected_missing_share"] == {UNDIRECTED.name: share}
        # The missing group scored at the feature's least-risky value: ranked below where it learned.
        assert cost["roc_auc_as_learned"] > cost["roc_auc_as_scored"] + 0.1, cost
        assert cost["average_precision_as_learned"] > cost["average_precision_as_scored"], cost
        # Only rows missing the undirected feature are scored otherwise, and every one of them is.
        assert cost["rows_scored_otherwise"] == share


def test_without_missing_values_both_rankings_are_one() -> None:
    cost, _ = _cost(5, missing_share=0.0)
    assert cost["undirected_missing_share"] == {}
    assert cost["rows_scored_otherwise"] == 0.0
    assert cost["roc_auc_as_learned"] == cost["roc_auc_as_scored"]


def test_fill_leaves_only_undirected_values_missing_when_asked() -> None:
    x, y = _platform(7, missing_share=0.3)
    x[:50, 1] = np.nan  # the directed feature missing too
    feats = [UNDIRECTED, DIRECTED]
    booster, _ = fit_booster(x, y, features=feats, lgb_cfg=load_config().lightgbm, seed=7, rounds=20)
    tree = TreeModel(booster, [f.direction for f in feats])
    partial = tree.fill(x, undirected=False)
    np.testing.assert_array_equal(np.isnan(partial[:, 0]), np.isnan(x[:, 0]))
    assert not np.isnan(partial[:, 1]).any()
    assert (partial[:50, 1] == -np.inf).all()  # +1: a missing count at the low-risk end
    full = tree.fill(x)
    assert not np.isnan(full).any()
    np.testing.assert_array_equal(full[:, 1], partial[:, 1])


def test_the_report_names_the_feature_and_asks_for_a_direction_only_when_it_costs() -> None:
    cost, judged = _cost(3, missing_share=0.4)
    text = "\n".join(missing_values_paragraph(cost))
    share = f"{np.isnan(judged[:, 0]).mean():.0%}"
    assert f"`{UNDIRECTED.name}` {share}" in text and "give that feature a direction" in text
    level = {**cost, "roc_auc_as_learned": cost["roc_auc_as_scored"]}
    assert "give that feature a direction" not in "\n".join(missing_values_paragraph(level))
    assert missing_values_paragraph({**cost, "undirected_missing_share": {}}) == []
