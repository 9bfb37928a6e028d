"""Scoring on Spark gives the same scores and actions as the local path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reviewguard.engine import connect
from reviewguard.features import default_as_of
from reviewguard.model.bundle import load_bundle
from reviewguard.model.predictor import SCORE_COLUMNS, Predictor
from reviewguard.reader import open_dataset
from reviewguard.serving.spark import score_spark

pytestmark = pytest.mark.spark


def test_spark_scores_equal_local_scores(spark, bundle_dir: Path, small_platform: Path) -> None:  # type: ignore[no-untyped-def]
    from reviewguard.features import build_features, cutoffs_at

    predictor = Predictor(load_bundle(bundle_dir), model_uri="m", model_version="1")
    local_ds = open_dataset(connect(), small_platform)
    as_of = default_as_of(local_ds)
    local = predictor.predict(build_features(local_ds, cutoffs_at(local_ds, as_of)).to_pandas(), as_of=as_of)
    sp = open_dataset(connect("pyspark", spark_session=spark), small_platform)
    remote = score_spark(sp, predictor, as_of=as_of).toPandas()
    assert list(remote.columns) == SCORE_COLUMNS
    local = local.sort_values(["risk", "account_id"]).reset_index(drop=True)
    remote = remote.sort_values(["risk", "account_id"]).reset_index(drop=True)
    assert (local.account_id == remote.account_id).all() and len(local) == len(remote)
    np.testing.assert_allclose(remote.score.to_numpy(), local.score.to_numpy(), rtol=1e-9, atol=1e-12)
    assert (remote.action == local.action).all()
    flagged = remote.action != "none"
    assert flagged.sum() > 5
    assert remote.loc[flagged, "reasons"].map(len).gt(0).all()
