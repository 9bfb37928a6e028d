"""Challenger against champion on the same later-period labels; no I/O."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from reviewguard.bundle import Bundle
from reviewguard.serving.predictor import Predictor


def later_labels(labels: pd.DataFrame, *bundles: Bundle) -> pd.DataFrame:
    """Labels decided after every model's test cut for their risk: unseen by all of them."""
    keep = []
    for risk, rows in labels.groupby("risk"):
        cuts = [pd.Timestamp(b.created_from.get("test_cuts", {}).get(risk, "1970-01-01")) for b in bundles]
        keep.append(rows[rows["decided_at"] >= max(cuts)])
    return pd.concat(keep, ignore_index=True) if keep else labels.iloc[:0]


def compare(challenger: Bundle, champion: Bundle, features: pd.DataFrame, *, tolerance: float) -> dict[str, Any]:
    """Average precision and ROC-AUC of both models per risk; promote if no risk is worse by > tolerance.

    ``features`` holds the labels (``risk``, ``label``) and the features at each ``decided_at``.
    """
    result: dict[str, Any] = {"risks": {}, "promote": True, "reasons": []}
    for risk in sorted(set(challenger.risks) | set(champion.risks)):
        if risk not in challenger.risks:
            result["promote"] = False
            result["reasons"].append(f"{risk}: the challenger has no model for it")
            continue
        rows = features[features["risk"] == risk]
        y = rows["label"].to_numpy()
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
                "average_precision": float(average_precision_score(y, raw)),
                "roc_auc": float(roc_auc_score(y, raw)),
            }
        delta = scores["challenger"]["average_precision"] - scores["champion"]["average_precision"]
        worse = delta < -tolerance
        result["risks"][risk] = {
            **scores,
            "labels": len(y),
            "positives": int(y.sum()),
            "delta_ap": delta,
            "worse": worse,
        }
        verdict = "worse beyond" if worse else "within or better than"
        result["reasons"].append(
            f"{risk}: average precision {scores['challenger']['average_precision']:.4f} (challenger) vs "
            f"{scores['champion']['average_precision']:.4f} (champion) on {len(y)} later labels "
            f"({int(y.sum())} positive): {verdict} the tolerance {tolerance}"
        )
        if worse:
            result["promote"] = False
    return result
