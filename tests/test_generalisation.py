"""A model trained on one platform, scored on a differently made one (issue 13): the budgets hold
and the ranking stays above a stated floor.

Trained: the session's audit-regime platform (25k accounts, 90 days, seed 11, easy). Scored: 12k
accounts, 60 days, seed 41, twice the automated likers and extortion crews, half the unhappy
customers, labels only from complaints (no random audit), at the same difficulty and at the
realistic one. Across difficulties only the budgets are a promise: a model trained where every
population has a tell-tale ranks extortion at about 0.65 AUC on the realistic platform (measured
2026-11-23), which is why a platform trains on its own labels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import complaints_labels
from sklearn.metrics import roc_auc_score

from reviewguard.engine import connect
from reviewguard.features import build_features, cutoffs_at, default_as_of
from reviewguard.model.bundle import load_bundle
from reviewguard.model.policy import action_rates
from reviewguard.model.predictor import Predictor
from reviewguard.reader import open_dataset
from reviewguard.simulator import PopulationShares, SimConfig, simulate
from reviewguard.simulator.difficulty import Difficulty
from reviewguard.training.labels import features_at, label_table

# The floor a model must keep on a platform it was not trained on (measured 0.97-0.99 on this pair).
AUC_FLOOR = 0.85


@pytest.mark.parametrize("difficulty", ["easy", "realistic"])
def test_a_model_keeps_its_budgets_and_its_ranking_on_another_platform(
    bundle_dir: Path, tmp_path: Path, difficulty: Difficulty
) -> None:
    shares = PopulationShares(unhappy_customer=0.02, extortion_crew=0.012, power_liker=0.012, automated_liker=0.012)
    root = tmp_path / "other"
    simulate(SimConfig(accounts=12_000, days=60, seed=41, shares=shares, difficulty=difficulty), root)
    complaints_labels(root)
    ds = open_dataset(connect(), root)
    predictor = Predictor(load_bundle(bundle_dir))

    as_of = default_as_of(ds)
    scores = predictor.predict(build_features(ds, cutoffs_at(ds, as_of)).to_pandas(), explain="none")
    counts = {r: g["action"].value_counts().to_dict() for r, g in scores.groupby("risk")}
    rates = action_rates(predictor.policy, counts, scores["account_id"].nunique())
    assert rates and not [r for r in rates if r.over_budget], [r for r in rates if r.over_budget]

    if difficulty != "easy":
        return
    labelled = features_at(ds, label_table(ds))
    for risk in predictor.risks:
        rows = labelled[labelled["risk"] == risk]
        assert rows["label"].nunique() == 2, risk
        auc = roc_auc_score(rows["label"], predictor.raw_scores(risk, rows))
        assert auc > AUC_FLOOR, (risk, auc)
