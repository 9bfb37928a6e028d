"""Scoring on Spark writes the same rows as the one-machine path, value for value and type for type."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.errors import ReviewguardError
from reviewguard.features import default_as_of
from reviewguard.model.bundle import load_bundle
from reviewguard.model.predictor import SCORE_COLUMNS, Predictor
from reviewguard.reader import open_dataset
from reviewguard.serving.batch import score_dataset
from reviewguard.serving.spark import spark_action_counts, write_scores_spark

pytestmark = pytest.mark.spark


def test_spark_scores_equal_local_scores(spark, bundle_dir: Path, small_platform: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    predictor = Predictor(load_bundle(bundle_dir), model_uri="m", model_version="1")
    local_ds = open_dataset(connect(), small_platform)
    as_of = default_as_of(local_ds)
    summary = score_dataset(local_ds, predictor, tmp_path / "local.parquet", as_of=as_of)
    sp = open_dataset(connect("pyspark", spark_session=spark), small_platform)
    write_scores_spark(sp, predictor, tmp_path / "spark", as_of=as_of)
    key = ["risk", "account_id"]
    local = pd.read_parquet(tmp_path / "local.parquet").sort_values(key).reset_index(drop=True)
    remote = pd.read_parquet(tmp_path / "spark").sort_values(key).reset_index(drop=True)
    assert list(remote.columns) == list(local.columns) == SCORE_COLUMNS
    # Spark's default INT96 timestamps came back naive; the scoring moment differs by design.
    assert remote.scored_at.dtype == local.scored_at.dtype == "datetime64[us, UTC]"
    pd.testing.assert_frame_equal(remote.drop(columns="scored_at"), local.drop(columns="scored_at"), check_exact=True)
    flagged = remote.action != "none"
    assert flagged.sum() > 5
    assert remote.loc[flagged, "reasons"].map(len).gt(0).all()
    # The budget check reads back what Spark wrote: the accounts and actions the local run counted.
    assert spark_action_counts(tmp_path / "spark") == (summary["accounts"], summary["actions_by_risk"])
    # A folder that is not earlier Spark scores is never replaced (it was deleted).
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ReviewguardError, match="not earlier Spark scores"):
        write_scores_spark(sp, predictor, mine, as_of=as_of)
    assert (mine / "notes.txt").read_text() == "mine"
    # The session's own setting is left as it was.
    assert spark.conf.get("spark.sql.parquet.outputTimestampType", None) in (None, "INT96")
