"""Batch scoring on Spark: the Spark feature engine, then the predictor in ``mapInArrow``.

The bundle travels to the executors as text (LightGBM model text and JSON),
so a cluster needs no shared filesystem and nothing is unpickled from a file.
Output rows have the same columns as the local path (``SCORE_COLUMNS``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from reviewguard.errors import ReviewguardError
from reviewguard.features import build_features, cutoffs_at
from reviewguard.files import writer_lock
from reviewguard.model.bundle import bundle_files, bundle_from_files
from reviewguard.model.predictor import SCORE_SCHEMA, Predictor, to_arrow
from reviewguard.reader import Dataset

_CACHE: dict[str, Predictor] = {}


def score_spark(
    ds: Dataset,
    predictor: Predictor,
    *,
    as_of: datetime,
    explain: str = "flagged",
    top_k: int = 5,
    scored_at: datetime | None = None,
) -> Any:
    """A Spark DataFrame of scores for every account that existed at ``as_of`` (lazy)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    if ds.con.name != "pyspark":
        raise ValueError("score_spark needs a dataset opened on the pyspark engine")
    session = ds.con._session
    features = session.sql(ds.con.compile(build_features(ds, cutoffs_at(ds, as_of))))
    files = bundle_files(predictor.bundle)
    key = predictor.bundle.fingerprint()
    uri, version = predictor.model_uri, predictor.model_version
    stamp = pd.Timestamp(scored_at or datetime.utcnow())

    def score_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pred = _CACHE.get(key)
        if pred is None:
            with tempfile.TemporaryDirectory(prefix="reviewguard-bundle-") as tmp:
                bundle = bundle_from_files(files, tmp)
            pred = _CACHE[key] = Predictor(bundle, model_uri=uri, model_version=version)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            scores = pred.predict(batch.to_pandas(), explain=explain, top_k=top_k, as_of=as_of, scored_at=stamp)
            # Arrow in, Arrow out: the reasons (list of structs) keep their exact type.
            yield from to_arrow(scores).to_batches()

    return features.mapInArrow(score_batches, from_arrow_schema(SCORE_SCHEMA))


# What Spark's Parquet writer leaves in its folder.
SPARK_OWN_FILE = re.compile(r"\.?(part-.*\.parquet|_SUCCESS)(\.crc)?")


def write_scores_spark(
    ds: Dataset, predictor: Predictor, out: str | Path, *, as_of: datetime, explain: str = "flagged", top_k: int = 5
) -> Path:
    """Score on Spark into a folder of Parquet parts that appears under its name only when complete
    (one run at a time per output: ``writer_lock``)."""
    out = Path(out)
    if out.is_dir() and any(not SPARK_OWN_FILE.fullmatch(p.name) for p in out.iterdir()):
        # It is replaced when the new scores are complete: never a folder Spark did not write.
        raise ReviewguardError(f"{out} is a folder of other files, not earlier Spark scores: choose another --out")
    with writer_lock(out, "reviewguard score"):
        return _write_locked(ds, predictor, out, as_of=as_of, explain=explain, top_k=top_k)


def _write_locked(ds: Dataset, predictor: Predictor, out: Path, *, as_of: datetime, explain: str, top_k: int) -> Path:
    tmp = out.with_name(f".{out.name}.spark-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    frame = score_spark(ds, predictor, as_of=as_of, explain=explain, top_k=top_k)
    # Spark writes timestamps as INT96 by default, which readers take as naive nanoseconds: the
    # one-machine file's as_of and scored_at are UTC microseconds, and so are these.
    conf = frame.sparkSession.conf
    previous = conf.get("spark.sql.parquet.outputTimestampType", None)
    conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    try:
        frame.write.parquet(str(tmp))
    finally:
        if previous is None:
            conf.unset("spark.sql.parquet.outputTimestampType")
        else:
            conf.set("spark.sql.parquet.outputTimestampType", previous)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    tmp.rename(out)
    return out


def spark_action_counts(out: str | Path) -> tuple[int, dict[str, dict[str, int]]]:
    """The accounts a Spark scores folder holds and, per risk, how many got each action (read back
    from the written parts, so the budget check judges what was written)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    from reviewguard.serving.batch import add_action_counts

    table = pads.dataset(str(out), format="parquet").to_table(columns=["account_id", "risk", "action"])
    by_risk: dict[str, dict[str, int]] = {}
    add_action_counts(by_risk, table.select(["risk", "action"]).to_pandas())
    return len(pc.unique(table["account_id"])), by_risk
