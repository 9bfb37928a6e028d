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
    simulate(SimConfig(accounts=3000, days=60, seed=5), out)
    return out


@pytest.fixture(scope="session")
def train_platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform large enough to train and evaluate both risks honestly."""
    out = tmp_path_factory.mktemp("train") / "data"
    simulate(SimConfig(accounts=25_000, days=90, seed=11), out)
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
