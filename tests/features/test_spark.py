"""The same feature code on DuckDB and on a local Spark session gives the same features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.features import build_features, cutoffs_at, cutoffs_from_labels
from reviewguard.reader import open_dataset

pytestmark = pytest.mark.spark


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values(["account_id", "as_of"]).reset_index(drop=True)
    b = b.sort_values(["account_id", "as_of"]).reset_index(drop=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
    assert (a.account_id == b.account_id).all()
    assert (pd.to_datetime(a.as_of) == pd.to_datetime(b.as_of)).all()
    for col in a.columns[2:]:
        x, y = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=f"nulls differ in {col}")
        m = ~np.isnan(x)
        np.testing.assert_allclose(x[m], y[m], rtol=1e-9, atol=0, err_msg=col)


def test_duckdb_and_spark_compute_identical_features(spark, small_platform: Path) -> None:  # type: ignore[no-untyped-def]
    duck = open_dataset(connect("duckdb"), small_platform)
    sp = open_dataset(connect("pyspark", spark_session=spark), small_platform)
    assert {n: (t.rows, t.valid_rows) for n, t in duck.report.tables.items()} == {
        n: (t.rows, t.valid_rows) for n, t in sp.report.tables.items()
    }
    # Validated tables are computed once: later queries start from their rows, never
    # from the source files (re-reading and re-validating made each query take ~40 s).
    for name in sp.tables:
        plan = spark.table(name)._jdf.queryExecution().executedPlan().toString()
        assert "FileScan" not in plan and "ExistingRDD" in plan, (name, plan)
    as_of = pd.Timestamp("2026-04-20 12:00").to_pydatetime()
    _compare(
        build_features(duck, cutoffs_at(duck, as_of)).to_pandas(), build_features(sp, cutoffs_at(sp, as_of)).to_pandas()
    )
    _compare(
        build_features(duck, cutoffs_from_labels(duck)).to_pandas(),
        build_features(sp, cutoffs_from_labels(sp)).to_pandas(),
    )


def test_commands_run_on_the_active_spark_session(spark) -> None:  # type: ignore[no-untyped-def]
    # spark-submit and cluster notebooks create the session; commands must use it, not start a local one.
    con = connect("pyspark")
    assert con._session is spark
    assert con._session.conf.get("spark.sql.session.timeZone") == "UTC"
