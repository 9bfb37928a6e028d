"""Shared fixtures: simulated platforms and one trained model per test session.

Small inline data for unit tests lives in the tests themselves; these are the
integration fixtures (the simulator is the project's data source).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.reader import open_dataset
from reviewguard.simulator import SimConfig, simulate

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="session")
def small_platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 accounts over 60 days: fast, every table present."""
    out = tmp_path_factory.mktemp("small") / "data"
    simulate(SimConfig(accounts=3000, days=60, seed=5, difficulty="easy"), out)
    return out


@pytest.fixture(scope="session")
def train_platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform large enough to train and evaluate both risks honestly."""
    out = tmp_path_factory.mktemp("train") / "data"
    simulate(SimConfig(accounts=25_000, days=90, seed=11, difficulty="easy"), out)
    return out


@pytest.fixture(scope="session")
def train_dataset(train_platform: Path):  # type: ignore[no-untyped-def]
    return open_dataset(connect(), train_platform)


@pytest.fixture(scope="session")
def populations(train_platform: Path) -> pd.DataFrame:
    return pd.read_parquet(train_platform / "_truth" / "populations.parquet")


@pytest.fixture(scope="session")
def trained(train_dataset, populations):  # type: ignore[no-untyped-def]
    from reviewguard.training.config import load_config
    from reviewguard.training.pipeline import train_models

    return train_models(train_dataset, load_config(), populations=populations)


@pytest.fixture(scope="session")
def bundle_dir(trained, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    from reviewguard.model.bundle import save_bundle

    return save_bundle(trained.bundle, tmp_path_factory.mktemp("bundle") / "bundle")


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """One local Spark session per test run (it takes ~15 s to start)."""
    from reviewguard.engine import local_spark_session

    session = local_spark_session("local[2]")
    yield session
    session.stop()


# Seeds every model-quality and policy test runs on (a claim that holds on one seed only is luck).
QUALITY_SEEDS = (3, 17, 29)


def complaints_labels(root: Path) -> None:
    """The complaints label regime: labels only from complaint queues and moderators' reviews.

    Drops the simulator's random audit (the unbiased source) from ``labels.parquet`` in place.
    """
    path = root / "labels.parquet"
    labels = pd.read_parquet(path)
    labels[labels["source"] != "random_audit"].to_parquet(path, index=False)


# Accounts that are not abusers of either kind (the realistic platform's human heavy likers too),
# and each risk's abusers, in the simulator's truth file.
ORDINARY = {"ordinary", "unhappy_customer", "power_liker", "heavy_liker"}
ABUSERS = {"extortion": {"extortion_crew"}, "fake_engagement": {"automated_liker", "automated_liker_evasive"}}


def rules_on_unlabelled_abusers(
    scores: pd.DataFrame, features: pd.DataFrame, populations: pd.DataFrame, labels: pd.DataFrame
) -> list[tuple[str, str, int, float, float]]:
    """Each platform rule against the model on the population it acts on: among the abusers never
    labelled (the model never saw them), the share each finds when the model may flag no more
    ordinary accounts than the rule does. (risk, rule, the rule's false positives, model's recall,
    rule's recall) per rule of the default configuration."""
    import numpy as np

    from reviewguard.training.config import load_config

    rules = load_config().rule_baselines
    merged = features.merge(populations, on="account_id")
    out = []
    for risk, abusers in ABUSERS.items():
        s = scores.loc[scores["risk"] == risk, ["account_id", "raw_score"]]
        s = s.merge(merged, on="account_id", validate="one_to_one")
        ordinary = s["population"].isin(ORDINARY).to_numpy()
        labelled = labels.loc[labels["risk"] == risk, "account_id"]
        unseen = (s["population"].isin(abusers) & ~s["account_id"].isin(labelled)).to_numpy()
        assert unseen.sum() >= 5, (risk, unseen.sum())  # easy platforms: the queue labels most bots
        margin = s["raw_score"].to_numpy()
        ranked = np.sort(margin[ordinary])[::-1]
        assert rules[risk], risk
        for rule in rules[risk]:
            flagged = (s[rule.feature].fillna(-np.inf) >= rule.min).to_numpy()
            false_positives = int(flagged[ordinary].sum())
            threshold = ranked[false_positives] if false_positives < len(ranked) else -np.inf
            ours = margin > threshold
            assert ours[ordinary].sum() <= false_positives
            out.append((risk, rule.name, false_positives, float(ours[unseen].mean()), float(flagged[unseen].mean())))
    return out


COMPLAINT_PLATFORMS = [(seed, difficulty) for difficulty in ("easy", "realistic") for seed in QUALITY_SEEDS]


@pytest.fixture(scope="session", params=COMPLAINT_PLATFORMS, ids=lambda p: f"{p[1]}-seed{p[0]}")
def complaints_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A complaints-only platform per seed and difficulty (the simulator's complaints label regime,
    15k accounts, 60 days), trained with the defaults and scored at its latest event: what a new
    user with a complaint queue gets."""
    from types import SimpleNamespace

    from reviewguard.features import build_features, cutoffs_at, default_as_of
    from reviewguard.model.predictor import Predictor
    from reviewguard.training.config import load_config
    from reviewguard.training.pipeline import train_models

    seed, difficulty = request.param
    out = tmp_path_factory.mktemp(f"complaints-{difficulty}-{seed}") / "data"
    simulate(SimConfig(accounts=15_000, days=60, seed=seed, label_regime="complaints", difficulty=difficulty), out)
    ds = open_dataset(connect(), out)
    pops = pd.read_parquet(out / "_truth" / "populations.parquet")
    result = train_models(ds, load_config(), populations=pops)
    as_of = default_as_of(ds)
    features = build_features(ds, cutoffs_at(ds, as_of)).to_pandas()
    # Every row explained: the property "a null is never evidence" is checked on all of them, not
    # only on the flagged (on a complaints platform most actions can be off).
    scores = Predictor(result.bundle).predict(features, explain="all", as_of=as_of)
    return SimpleNamespace(
        seed=seed, difficulty=difficulty, root=out, result=result, features=features, scores=scores, populations=pops
    )


@pytest.fixture(scope="session")
def small_scores(small_platform: Path, bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``reviewguard score`` of the small platform with the session's model (read, never modified)."""
    from tests_support import invoke_cli

    out = tmp_path_factory.mktemp("scored") / "scores.parquet"
    code, output = invoke_cli(["score", "--model", str(bundle_dir), "--data", str(small_platform), "--out", str(out)])
    assert code == 0, output
    return out


@pytest.fixture(scope="session")
def small_case(small_scores: Path, small_platform: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first (by folder name) case.json of ``case build --top-flagged 1`` on the small platform."""
    from tests_support import invoke_cli

    out = tmp_path_factory.mktemp("cases")
    args = ["case", "build", "--scores", str(small_scores), "--data", str(small_platform), "--out", str(out)]
    code, output = invoke_cli([*args, "--top-flagged", "1"])
    assert code == 0, output
    return sorted(out.glob("*/case.json"))[0]
