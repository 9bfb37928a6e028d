"""Challenger against champion on the same later-period labels, and the champion alias that follows.

``compare`` is pure (no I/O); ``promote`` reads both versions from the registry, compares them on
labels neither model has seen, and moves the champion alias only when no risk got worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from reviewguard.errors import ReviewguardError
from reviewguard.model.bundle import Bundle
from reviewguard.model.predictor import Predictor
from reviewguard.model.store import CHALLENGER, CHAMPION, download_bundle, resolve_alias
from reviewguard.reader import Dataset
from reviewguard.training.config import TrainConfig, load_config
from reviewguard.training.labels import accounts_frame, features_at, label_table
from reviewguard.training.unlabelled import UNLABELLED_SOURCE, weighted_to_population

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def later_labels(labels: pd.DataFrame, *bundles: Bundle) -> pd.DataFrame:
    """Labels decided after every model's last training label for their risk: unseen by all of them."""
    keep = []
    for risk, rows in labels.groupby("risk"):
        cuts = [pd.Timestamp(b.created_from.get("trained_until", {}).get(risk, "1970-01-01")) for b in bundles]
        keep.append(rows[rows["decided_at"] > max(cuts)])
    return pd.concat(keep, ignore_index=True) if keep else labels.iloc[:0]


def compare(challenger: Bundle, champion: Bundle, features: pd.DataFrame, *, tolerance: float) -> dict[str, Any]:
    """Average precision and ROC-AUC of both models per risk; promote if no risk is worse by > tolerance.

    ``features`` holds the labels (``risk``, ``label``; ``weight``: the accounts a row stands for,
    1 without it) and the features at each ``decided_at``. The verdict is on the weighted average
    precision (the population the model acts on); the unweighted figures are reported beside it.
    """
    result: dict[str, Any] = {"risks": {}, "promote": True, "reasons": []}
    for risk in sorted(set(challenger.risks) | set(champion.risks)):
        if risk not in challenger.risks:
            result["promote"] = False
            result["reasons"].append(f"{risk}: the challenger has no model for it")
            continue
        rows = features[features["risk"] == risk]
        y = rows["label"].to_numpy()
        w = rows["weight"].to_numpy(dtype=np.float64) if "weight" in rows else np.ones(len(rows))
        labelled = (rows["source"] != UNLABELLED_SOURCE).to_numpy() if "source" in rows else np.ones(len(rows), bool)
        if risk not in champion.risks:
            result["reasons"].append(f"{risk}: new risk, no champion to compare with")
            continue
        if len(np.unique(y)) < 2:
            result["promote"] = False
            result["reasons"].append(f"{risk}: the later-period labels hold one class only; cannot compare")
            continue
        scores = {}
        for name, bundle in (("challenger", challenger), ("champion", champion)):
            raw = Predictor(bundle).raw_scores(risk, rows)
            scores[name] = {
                "average_precision": float(average_precision_score(y, raw, sample_weight=w)),
                "roc_auc": float(roc_auc_score(y, raw, sample_weight=w)),
                "average_precision_unweighted": float(average_precision_score(y[labelled], raw[labelled])),
            }
        delta = scores["challenger"]["average_precision"] - scores["champion"]["average_precision"]
        worse = delta < -tolerance
        result["risks"][risk] = {
            **scores,
            "labels": int(labelled.sum()),
            "presumed_negatives": int((~labelled).sum()),
            "positives": int(y.sum()),
            "delta_ap": delta,
            "worse": worse,
        }
        verdict = "worse beyond" if worse else "within or better than"
        presumed = (
            f" and {int((~labelled).sum())} accounts nobody labelled, drawn at their times as presumed negatives"
            if (~labelled).any()
            else ""
        )
        result["reasons"].append(
            f"{risk}: average precision weighted to the population {scores['challenger']['average_precision']:.4f} "
            f"(challenger) vs {scores['champion']['average_precision']:.4f} (champion) on {int(labelled.sum())} "
            f"later labels ({int(y.sum())} positive){presumed}: {verdict} the tolerance {tolerance} "
            f"(unweighted, labels only: {scores['challenger']['average_precision_unweighted']:.4f} vs "
            f"{scores['champion']['average_precision_unweighted']:.4f})"
        )
        if worse:
            result["promote"] = False
    return result


@dataclass
class Promotion:
    """What ``promote`` decided: the versions involved, whether the champion moved, and why."""

    name: str
    challenger: str
    champion_before: str | None
    promoted: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def champion_after(self) -> str | None:
        return self.challenger if self.promoted else self.champion_before


def promote(
    client: MlflowClient, name: str, ds: Dataset, *, tolerance: float, cfg: TrainConfig | None = None
) -> Promotion:
    """Move ``name``'s champion alias to its challenger unless a risk got worse beyond ``tolerance``,
    judged on the later labels weighted to the population (``cfg``: the training configuration,
    its source weights and positive-unlabelled mode; the defaults without it)."""
    challenger_v, champion_v = resolve_alias(client, name, CHALLENGER), resolve_alias(client, name, CHAMPION)
    if challenger_v is None:
        raise ReviewguardError(f"{name} has no {CHALLENGER} version; train with --register-as {name} first")
    if challenger_v == champion_v:
        return Promotion(
            name, challenger_v, champion_v, False, [f"version {challenger_v} is already both challenger and champion"]
        )
    challenger, _ = download_bundle(f"models:/{name}/{challenger_v}")
    if champion_v is None:
        client.set_registered_model_alias(name, CHAMPION, challenger_v)
        return Promotion(name, challenger_v, None, True, ["no champion yet"])
    champion, _ = download_bundle(f"models:/{name}/{champion_v}")
    every = label_table(ds)
    labels = later_labels(every, challenger, champion)
    if labels.empty:
        raise ReviewguardError(f"{ds.root}: no labels decided after both models' test periods; nothing to compare on")
    cfg = cfg or load_config()
    accounts = accounts_frame(ds)
    judged = pd.concat(
        [
            weighted_to_population(
                rows,
                set(every.loc[every["risk"] == risk, "account_id"]),
                accounts,
                cfg,
                risk=str(risk),
                seed=cfg.seed,
            )
            for risk, rows in labels.groupby("risk")
        ],
        ignore_index=True,
    )
    result = compare(challenger, champion, features_at(ds, judged), tolerance=tolerance)
    if result["promote"]:
        client.set_registered_model_alias(name, CHAMPION, challenger_v)
    return Promotion(name, challenger_v, champion_v, bool(result["promote"]), list(result["reasons"]))
