"""What training learns from: the labels, the features at each decision time, the split, the population.

No I/O: a dataset comes in, frames go out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import ibis
import pandas as pd

from reviewguard.errors import TrainingDataError
from reviewguard.features import build_features, cutoffs_at, cutoffs_from_labels
from reviewguard.reader import Dataset
from reviewguard.training.config import SplitConfig, TrainConfig

# Accounts in the reference population (percentiles in reasons, drift); a larger platform is sampled.
REFERENCE_SAMPLE = 200_000


def label_table(ds: Dataset) -> pd.DataFrame:
    labels = ds.table("labels")
    if labels is None:
        raise TrainingDataError(f"{ds.root} has no labels table; training needs labels.parquet or labels.csv")
    lab = labels.to_pandas()
    if lab.empty:
        raise TrainingDataError(f"{ds.root}: the labels table is empty")
    lab["account_id"] = lab["account_id"].astype(str)
    lab["decided_at"] = pd.to_datetime(lab["decided_at"])
    return lab.sort_values(["risk", "decided_at", "account_id"], kind="stable").reset_index(drop=True)


def features_at_labels(ds: Dataset, lab: pd.DataFrame) -> pd.DataFrame:
    """Each labels row with the features computed at its ``decided_at`` (column ``as_of``)."""
    if len(lab) == int(ds.tables["labels"].count().execute()):
        cutoffs = cutoffs_from_labels(ds)
    else:
        pairs = lab[["account_id", "decided_at"]].drop_duplicates().rename(columns={"decided_at": "as_of"})
        mem = ibis.memtable(pairs)
        cutoffs = mem.select(account_id=mem.account_id.cast("string"), as_of=mem.as_of.cast("timestamp"))
    feats = build_features(ds, cutoffs).to_pandas()
    feats["as_of"] = pd.to_datetime(feats["as_of"])
    data = lab.merge(feats, left_on=["account_id", "decided_at"], right_on=["account_id", "as_of"], how="left")
    return data.sort_values(["risk", "decided_at", "account_id"], kind="stable").reset_index(drop=True)


def mark_weights_and_hard_negatives(
    data: pd.DataFrame, cfg: TrainConfig, populations: pd.DataFrame | None
) -> pd.DataFrame:
    """Add ``weight`` (accounts a label stands for) and ``hard_negative`` (its group, or "")."""
    ev = cfg.evaluation
    data = data.copy()
    data["weight"] = data["source"].map(lambda src: float(ev.source_weights.get(src, 1.0)))
    data["hard_negative"] = ""
    cleared = data["label"] == 0
    data.loc[data["source"].isin(set(ev.hard_negative_sources)) & cleared, "hard_negative"] = data["source"]
    if populations is not None and ev.hard_negative_populations:
        pop = data[["account_id"]].merge(populations[["account_id", "population"]], on="account_id", how="left")
        for risk, groups in ev.hard_negative_populations.items():
            m = (data["risk"] == risk) & pop["population"].isin(groups).to_numpy() & cleared
            data.loc[m, "hard_negative"] = pop.loc[m, "population"].to_numpy()
    return data


@dataclass(frozen=True)
class Split:
    """One risk's labels by decision time: train | validation | test, with gaps before each cut."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    info: dict[str, Any]


def time_split(rows: pd.DataFrame, split: SplitConfig) -> Split:
    t = rows["decided_at"]
    cut1 = t.quantile(split.train_share, interpolation="lower")
    cut2 = t.quantile(split.train_share + split.validation_share, interpolation="lower")
    gap = timedelta(days=split.gap_days)
    train = rows[t < cut1 - gap]
    valid = rows[(t >= cut1) & (t < cut2 - gap)]
    test = rows[t >= cut2]
    info = {
        "validation_cut": str(cut1),
        "test_cut": str(cut2),
        "gap_days": _plain_number(split.gap_days),
        "train_rows": len(train),
        "validation_rows": len(valid),
        "test_rows": len(test),
    }
    return Split(train, valid, test, info)


def _plain_number(x: float) -> float | int:
    """3.0 reads as 3 in the report, as the configuration wrote it."""
    return int(x) if float(x).is_integer() else x


def check_classes(risk: str, split: Split, min_positives: int) -> None:
    parts = {"training": split.train, "validation": split.validation, "test": split.test}
    for name, part in parts.items():
        pos = int(part["label"].sum())
        neg = int((part["label"] == 0).sum())
        if pos == 0 or neg == 0:
            raise TrainingDataError(
                f"risk {risk}: the {name} period has {pos} positive and {neg} negative labels; "
                "both classes are needed in every period (more labels, or other split shares)"
            )
        if pos < min_positives:
            raise TrainingDataError(
                f"risk {risk}: only {pos} positive labels in the {name} period (need {min_positives}) "
                "to validate honestly; add labels or widen the split"
            )


def population_features(ds: Dataset, as_of: Any, names: list[str]) -> pd.DataFrame:
    """Features of (a deterministic sample of) all accounts at ``as_of``: the reference population."""
    cut = cutoffs_at(ds, pd.Timestamp(as_of).to_pydatetime())
    n = int(cut.count().execute())
    if n > REFERENCE_SAMPLE:
        k = n // REFERENCE_SAMPLE + 1
        cut = cut.filter(cut.account_id.hash().abs() % k == 0)
    f = build_features(ds, cut, names).to_pandas()
    return f.sort_values("account_id", kind="stable").reset_index(drop=True)
