"""Metrics and baselines for one risk on the later (test) period. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reviewguard.training.config import RuleBaseline


def recall_at_precision(y: np.ndarray, s: np.ndarray, target: float) -> float:
    p, r, _ = precision_recall_curve(y, s)
    ok = p >= target
    return float(r[ok].max()) if ok.any() else 0.0


def precision_at_k(y: np.ndarray, s: np.ndarray, k: int) -> float:
    k = min(k, len(y))
    if k == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")[:k]
    return float(y[order].mean())


def tpr_at_fpr(y: np.ndarray, s: np.ndarray, fpr_target: float) -> float:
    """Share of positives caught when at most ``fpr_target`` of negatives are flagged."""
    fpr, tpr, _ = roc_curve(y, s)
    ok = fpr <= fpr_target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(ece)


def metrics(y: np.ndarray, score: np.ndarray, *, queue_k: int, rank: np.ndarray | None = None) -> dict[str, float]:
    """Ranking metrics on ``rank`` (raw margins: calibrated probabilities can tie at 0 or 1),
    calibration metrics on ``score``."""
    both = len(np.unique(y)) == 2
    r = score if rank is None else rank
    return {
        "roc_auc": float(roc_auc_score(y, r)) if both else float("nan"),
        "average_precision": float(average_precision_score(y, r)) if both else float("nan"),
        "recall_at_precision_0.9": recall_at_precision(y, r, 0.9),
        "recall_at_precision_0.99": recall_at_precision(y, r, 0.99),
        f"precision_at_{queue_k}": precision_at_k(y, r, queue_k),
        "tpr_at_fpr_0.01": tpr_at_fpr(y, r, 0.01),
        "tpr_at_fpr_0.001": tpr_at_fpr(y, r, 0.001),
        "expected_calibration_error": expected_calibration_error(y, score),
        "brier": float(np.mean((score - y) ** 2)),
        "positives": int(y.sum()),
        "rows": len(y),
    }


def fit_logistic_baseline(x_train: np.ndarray, y_train: np.ndarray, seed: int) -> Any:
    """Logistic regression on the same features: median-imputed, scaled, class-balanced."""
    model = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=5000, C=1.0, random_state=seed),
    )
    model.fit(np.where(np.isfinite(x_train), x_train, np.nan), y_train)
    return model


def rule_scores(frame: pd.DataFrame, rule: RuleBaseline) -> np.ndarray:
    values = frame[rule.feature].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.nan_to_num(values, nan=-np.inf) >= rule.min, 1.0, 0.0)


def compare_at_matched_fpr(y: np.ndarray, ours: np.ndarray, baseline: np.ndarray) -> dict[str, Any]:
    """Our recall at the false-positive rate of a 0/1 baseline (a rule's one operating point)."""
    neg = y == 0
    pos = y == 1
    fpr = float(baseline[neg].mean()) if neg.any() else 0.0
    tpr_base = float(baseline[pos].mean()) if pos.any() else 0.0
    tpr_ours = tpr_at_fpr(y, ours, fpr)
    flagged = int(baseline.sum())
    return {
        "fpr": fpr,
        "baseline_recall": tpr_base,
        "our_recall": tpr_ours,
        "flagged": flagged,
        "outcome": comparison_outcome(tpr_ours, tpr_base, comparable=flagged > 0),
    }


def comparison_outcome(ours: float, baseline: float, *, comparable: bool = True) -> str:
    """ "yes" only when strictly better: an equal figure is a tie, and a rule that
    flags no account in the period has no operating point to compare with."""
    if not comparable:
        return "n/a"
    if ours > baseline:
        return "yes"
    return "tie" if ours == baseline else "NO"


def hard_negative_fpr(scores: pd.DataFrame, thresholds: dict[str, float | None]) -> dict[str, dict[str, float]]:
    """False-positive rate at each action threshold, per hard-negative group."""
    out: dict[str, dict[str, float]] = {}
    for group, g in scores[scores["label"] == 0].groupby("hard_negative"):
        if not group:
            continue
        s = g["score"].to_numpy()
        out[str(group)] = {
            f"fpr_at_{name}": float((s >= t).mean()) if t is not None else 0.0 for name, t in thresholds.items()
        }
        out[str(group)]["count"] = float(len(s))
    return out


@dataclass
class Evaluation:
    """One risk on its test period: our metrics, the baselines beside them, the hard negatives."""

    metrics: dict[str, float]
    baselines: dict[str, Any]
    hard_negatives: dict[str, dict[str, float]]
    logistic_scores: np.ndarray

    @property
    def beats_baselines(self) -> bool:
        """Strictly better on some baseline and never worse: a tie or an n/a is not a win."""
        outcomes = [b["outcome"] for b in self.baselines.values()]
        return "yes" in outcomes and all(o in ("yes", "n/a") for o in outcomes)


def evaluate_risk(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    names: list[str],
    score: np.ndarray,
    raw: np.ndarray,
    rules: tuple[RuleBaseline, ...],
    thresholds: dict[str, float | None],
    queue_k: int,
    seed: int,
) -> Evaluation:
    """Our scores on ``test`` against logistic regression (trained on ``train``) and the platform's rules."""
    y = test["label"].to_numpy()
    m = metrics(y, score, queue_k=queue_k, rank=raw)
    xt = train[names].to_numpy(dtype=np.float64, na_value=np.nan)
    lr = fit_logistic_baseline(xt, train["label"].to_numpy(), seed)
    x_test = test[names].to_numpy(dtype=np.float64, na_value=np.nan)
    lr_s = lr.predict_proba(np.where(np.isfinite(x_test), x_test, np.nan))[:, 1]
    lr_m = metrics(y, lr_s, queue_k=queue_k)
    fpr_points = {f: {"ours": tpr_at_fpr(y, raw, f), "baseline": tpr_at_fpr(y, lr_s, f)} for f in (0.01, 0.05)}
    baselines: dict[str, Any] = {
        "logistic regression": {
            "roc_auc": lr_m["roc_auc"],
            "average_precision": lr_m["average_precision"],
            "recall_at_fpr": fpr_points,
            # Judged on average precision, provided no listed operating point is worse.
            "outcome": "NO"
            if any(v["ours"] < v["baseline"] for v in fpr_points.values())
            else comparison_outcome(m["average_precision"], lr_m["average_precision"]),
        }
    }
    for rule in rules:
        if rule.feature not in test.columns:
            continue
        baselines[rule.name] = {
            "rule": f"{rule.feature} >= {rule.min:g}",
            **compare_at_matched_fpr(y, raw, rule_scores(test, rule)),
        }
    hn = hard_negative_fpr(test.assign(score=score), thresholds)
    return Evaluation(m, baselines, hn, lr_s)
