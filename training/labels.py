"""What training learns from: the labels, the features at each decision time, the population.

No I/O: a dataset comes in, frames go out.
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from reviewguard.errors import TrainingDataError
from reviewguard.features import build_features, cutoffs_at, cutoffs_from_labels, default_as_of
from reviewguard.reader import Dataset
from reviewguard.training.config import TrainConfig
from reviewguard.training.unlabelled import weight_by_source

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
    every_label = len(lab) == int(ds.tables["labels"].count().execute())
    return _joined(ds, lab, cutoffs_from_labels(ds) if every_label else _cutoffs(lab))


def features_at(ds: Dataset, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (``account_id``, ``decided_at``, ...) with the features at each ``decided_at``."""
    return _joined(ds, rows, _cutoffs(rows))


def _cutoffs(rows: pd.DataFrame) -> ibis.Table:
    pairs = rows[["account_id", "decided_at"]].drop_duplicates().rename(columns={"decided_at": "as_of"})
    mem = ibis.memtable(pairs)
    return mem.select(account_id=mem.account_id.cast("string"), as_of=mem.as_of.cast("timestamp"))


def _joined(ds: Dataset, rows: pd.DataFrame, cutoffs: ibis.Table) -> pd.DataFrame:
    feats = build_features(ds, cutoffs).to_pandas()
    feats["as_of"] = pd.to_datetime(feats["as_of"])
    data = rows.merge(feats, left_on=["account_id", "decided_at"], right_on=["account_id", "as_of"], how="left")
    return data.sort_values(["risk", "decided_at", "account_id"], kind="stable").reset_index(drop=True)


def accounts_frame(ds: Dataset) -> pd.DataFrame:
    """Every account with its registration time (who could be sampled when)."""
    acc = ds.tables["accounts"].select("account_id", "created_at").to_pandas()
    acc["account_id"] = acc["account_id"].astype(str)
    acc["created_at"] = pd.to_datetime(acc["created_at"])
    return acc


def reference_time(ds: Dataset, lab: pd.DataFrame) -> pd.Timestamp:
    """The reference population's as-of: the latest decision, or just after the latest event if earlier."""
    return min(pd.Timestamp(lab["decided_at"].max()), pd.Timestamp(default_as_of(ds)))


def mark_weights_and_hard_negatives(
    data: pd.DataFrame, cfg: TrainConfig, populations: pd.DataFrame | None
) -> pd.DataFrame:
    """Add ``weight`` (accounts a label stands for) and ``hard_negative`` (its group, or "").

    A row that already has a weight (an unlabelled account sampled for positive-unlabelled
    learning, standing for its share of the unlabelled population) keeps it.
    """
    ev = cfg.evaluation
    data = data.copy()
    by_source = weight_by_source(data["source"], cfg)
    data["weight"] = data["weight"].fillna(by_source) if "weight" in data.columns else by_source
    data["hard_negative"] = ""
    cleared = data["label"] == 0
    data.loc[data["source"].isin(set(ev.hard_negative_sources)) & cleared, "hard_negative"] = data["source"]
    if populations is not None and ev.hard_negative_populations:
        pop = data[["account_id"]].merge(populations[["account_id", "population"]], on="account_id", how="left")
        for risk, groups in ev.hard_negative_populations.items():
            m = (data["risk"] == risk) & pop["population"].isin(groups).to_numpy() & cleared
            data.loc[m, "hard_negative"] = pop.loc[m, "population"].to_numpy()
    return data


def check_positives(risk: str, rows: pd.DataFrame, min_positives: int) -> None:
    pos = int(rows["label"].sum())
    neg = int((rows["label"] == 0).sum())
    if pos < min_positives or neg == 0:
        raise TrainingDataError(
            f"risk {risk}: {pos} positive and {neg} negative labels; a backtest needs at least "
            f"{min_positives} positives (backtest.min_positives) and some negatives"
        )


def population_features(ds: Dataset, as_of: Any, names: list[str]) -> tuple[pd.DataFrame, float]:
    """Features of (a deterministic sample of) all accounts at ``as_of``: the reference population,
    and how many accounts each of its rows stands for (1 unless sampled)."""
    cut = cutoffs_at(ds, pd.Timestamp(as_of).to_pydatetime())
    n = int(cut.count().execute())
    if n > REFERENCE_SAMPLE:
        k = n // REFERENCE_SAMPLE + 1
        cut = cut.filter(cut.account_id.hash().abs() % k == 0)
    f = build_features(ds, cut, names).to_pandas()
    return f.sort_values("account_id", kind="stable").reset_index(drop=True), n / max(len(f), 1)
