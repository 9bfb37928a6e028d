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
        # Bit for bit: both engines round the same double the same way (round_to_digits).
        np.testing.assert_array_equal(x[m], y[m], err_msg=col)


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


def test_rounding_is_the_same_on_both_engines(spark) -> None:  # type: ignore[no-untyped-def]
    import ibis

    from reviewguard.features.pit import round_to_digits

    # Ages in days from millisecond timestamps: the values where DuckDB's and Spark's own
    # round(x, 9) disagreed (92 of 300,000), with small, negative and large ones beside them.
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [rng.integers(0, 10**11, 100_000) / 86_400_000, rng.random(20_000) * 1e6 - 5e5, [0.0, -0.0, 1e15, 2.5e-10]]
    )
    t = ibis.memtable(pd.DataFrame({"i": np.arange(len(x)), "x": x}))
    rounded = t.select("i", r=round_to_digits(t.x))
    duck = connect("duckdb").execute(rounded).sort_values("i").r.to_numpy()
    spark_values = connect("pyspark", spark_session=spark).execute(rounded).sort_values("i").r.to_numpy()
    np.testing.assert_array_equal(duck, spark_values)
    # Within half a unit of the ninth decimal (and the doubles' own precision for large values).
    error = np.abs(duck - x)
    assert (error <= 5e-10 + 1e-15 * np.abs(x)).all(), x[error > 5e-10 + 1e-15 * np.abs(x)][:5]


def test_commands_run_on_the_active_spark_session(spark) -> None:  # type: ignore[no-untyped-def]
    # spark-submit and cluster notebooks create the session; commands must use it, not start a local one.
    con = connect("pyspark")
    assert con._session is spark
    assert con._session.conf.get("spark.sql.session.timeZone") == "UTC"
