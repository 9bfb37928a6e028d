"""Metrics and baselines for one risk on its out-of-fold scores. No I/O.

Every figure is weighted to the population (each label stands for the accounts its source
samples, ``evaluation.source_weights``; each unlabelled sample for its share of the unlabelled
accounts), with the unweighted figure beside it where the two differ, labelled as such.
"""

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

BOOTSTRAP_ROUNDS = 200


def recall_at_precision(y: np.ndarray, s: np.ndarray, target: float, w: np.ndarray | None = None) -> float:
    p, r, _ = precision_recall_curve(y, s, sample_weight=w)
    ok = p >= target
    return float(r[ok].max()) if ok.any() else 0.0


def precision_at_k(y: np.ndarray, s: np.ndarray, k: int, w: np.ndarray | None = None) -> float:
    """Precision of the ``k`` highest-scored labelled rows, each weighted by the accounts it stands for."""
    k = min(k, len(y))
    if k == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")[:k]
    ww = np.ones(k) if w is None else w[order]
    return float((ww * y[order]).sum() / ww.sum())


def tpr_at_fpr(y: np.ndarray, s: np.ndarray, fpr_target: float, w: np.ndarray | None = None) -> float:
    """Share of positives caught when at most ``fpr_target`` of negatives (weighted) are flagged."""
    fpr, tpr, _ = roc_curve(y, s, sample_weight=w)
    ok = fpr <= fpr_target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def expected_calibration_error(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, bins: int = 10) -> float:
    w = np.ones(len(y)) if w is None else w
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            share = w[m].sum() / w.sum()
            ece += share * abs(np.average(p[m], weights=w[m]) - np.average(y[m], weights=w[m]))
    return float(ece)


def metrics(
    y: np.ndarray, score: np.ndarray, *, weight: np.ndarray, queue_k: int, rank: np.ndarray | None = None
) -> dict[str, float]:
    """Ranking metrics on ``rank`` (margins), calibration metrics on ``score``; weighted, then unweighted."""
    both = len(np.unique(y)) == 2
    r = score if rank is None else rank
    w = weight
    return {
        "roc_auc": float(roc_auc_score(y, r, sample_weight=w)) if both else float("nan"),
        "average_precision": float(average_precision_score(y, r, sample_weight=w)) if both else float("nan"),
        "recall_at_precision_0.9": recall_at_precision(y, r, 0.9, w),
        f"precision_at_{queue_k}": precision_at_k(y, r, queue_k, w),
        "tpr_at_fpr_0.01": tpr_at_fpr(y, r, 0.01, w),
        "expected_calibration_error": expected_calibration_error(y, score, w),
        "brier": float(np.average((score - y) ** 2, weights=w)),
        "roc_auc_unweighted": float(roc_auc_score(y, r)) if both else float("nan"),
        "average_precision_unweighted": float(average_precision_score(y, r)) if both else float("nan"),
        f"precision_at_{queue_k}_unweighted": precision_at_k(y, r, queue_k),
        "positives": int(y.sum()),
        "rows": len(y),
    }


def bootstrap_interval(
    y: np.ndarray, r: np.ndarray, w: np.ndarray, groups: np.ndarray, *, seed: int, level: float = 0.9
) -> dict[str, list[float]]:
    """Weighted AUC and AP over resampled groups of connected accounts: how far few labels can be trusted."""
    rng = np.random.default_rng(seed)
    ids, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(ids))]
    aucs, aps = [], []
    for _ in range(BOOTSTRAP_ROUNDS):
        pick = np.concatenate([members[g] for g in rng.integers(0, len(ids), len(ids))])
        yy = y[pick]
        if yy.min() == yy.max():
            continue
        aucs.append(roc_auc_score(yy, r[pick], sample_weight=w[pick]))
        aps.append(average_precision_score(yy, r[pick], sample_weight=w[pick]))
    tail = (1 - level) / 2 * 100
    if not aucs:
        return {"roc_auc": [float("nan")] * 2, "average_precision": [float("nan")] * 2}
    return {
        "roc_auc": [float(v) for v in np.percentile(aucs, [tail, 100 - tail])],
        "average_precision": [float(v) for v in np.percentile(aps, [tail, 100 - tail])],
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


def compare_at_matched_fpr(y: np.ndarray, ours: np.ndarray, baseline: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """Our recall at the (weighted) false-positive rate of a 0/1 baseline (a rule's one operating point)."""
    neg = y == 0
    pos = y == 1
    fpr = float(np.average(baseline[neg], weights=w[neg])) if neg.any() else 0.0
    tpr_base = float(np.average(baseline[pos], weights=w[pos])) if pos.any() else 0.0
    tpr_ours = tpr_at_fpr(y, ours, fpr, w)
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


@dataclass
class Evaluation:
    """One risk's out-of-fold judgement: our metrics, the baselines beside them, per fold and pooled."""

    metrics: dict[str, float]
    per_fold: list[dict[str, float]]
    intervals: dict[str, list[float]]
    baselines: dict[str, Any]
    logistic_scores: np.ndarray

    @property
    def beats_baselines(self) -> bool:
        """Strictly better on some baseline and never worse: a tie or an n/a is not a win."""
        outcomes = [b["outcome"] for b in self.baselines.values()]
        return "yes" in outcomes and all(o in ("yes", "n/a") for o in outcomes)

    def spread(self, key: str) -> tuple[float, float]:
        values = np.array([f[key] for f in self.per_fold if np.isfinite(f[key])])
        if values.size == 0:
            return float("nan"), float("nan")
        return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def missing_value_cost(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    *,
    as_scored: np.ndarray,
    as_learned: np.ndarray,
    names: list[str],
    directions: list[int],
) -> dict[str, Any]:
    """What scoring a missing value at its least-risky value costs on the judged rows.

    The trees learn a missing value of a feature without a direction on a branch of its own;
    the predictor never takes that branch (absence is never evidence) and scores the row at the
    feature's least-risky value instead. A feature missing for many accounts by construction (the
    gaps between reviews of an account with one review) is then judged where it never trained:
    the gap between the two rankings shows it. ``x`` holds the judged rows (NaN where missing),
    ``as_scored`` and ``as_learned`` their out-of-fold margins both ways.
    """
    undirected = [j for j, d in enumerate(directions) if d == 0]
    shares = {names[j]: float(np.isnan(x[:, j]).mean()) for j in undirected if len(x)}
    both = len(np.unique(y)) == 2
    out: dict[str, Any] = {
        "undirected_missing_share": {k: v for k, v in sorted(shares.items(), key=lambda kv: -kv[1]) if v > 0},
        "rows_scored_otherwise": float(np.mean(as_scored != as_learned)) if len(x) else 0.0,
    }
    for label, margin in (("as_scored", as_scored), ("as_learned", as_learned)):
        out[f"roc_auc_{label}"] = float(roc_auc_score(y, margin, sample_weight=weight)) if both else float("nan")
        out[f"average_precision_{label}"] = (
            float(average_precision_score(y, margin, sample_weight=weight)) if both else float("nan")
        )
    return out


def evaluate_out_of_fold(
    rows: pd.DataFrame,
    x: np.ndarray,
    *,
    scored: np.ndarray,
    fold_of: np.ndarray,
    train_of: dict[int, np.ndarray],
    margin: np.ndarray,
    score: np.ndarray,
    rules: tuple[RuleBaseline, ...],
    queue_k: int,
    seed: int,
) -> Evaluation:
    """Our out-of-fold margins and calibrated scores against logistic regression (fitted per fold on the
    same training rows) and the platform's rules, on every judged row."""
    y = rows["label"].to_numpy()
    w = rows["weight"].to_numpy(dtype=np.float64)
    logistic = np.full(len(rows), np.nan)
    for k, train in train_of.items():
        test = np.flatnonzero(fold_of == k)
        lr = fit_logistic_baseline(x[train], y[train], seed)
        logistic[test] = lr.predict_proba(np.where(np.isfinite(x[test]), x[test], np.nan))[:, 1]
    idx = np.flatnonzero(scored)
    yy, ww, mm, ss = y[idx], w[idx], margin[idx], score[idx]
    pooled = metrics(yy, ss, weight=ww, queue_k=queue_k, rank=mm)
    per_fold = []
    for k in sorted(train_of):
        f = fold_of[idx] == k
        per_fold.append({"fold": k, **metrics(yy[f], ss[f], weight=ww[f], queue_k=queue_k, rank=mm[f])})
    intervals = bootstrap_interval(yy, mm, ww, rows["group"].to_numpy()[idx], seed=seed)
    lr_s = logistic[idx]
    lr_m = metrics(yy, lr_s, weight=ww, queue_k=queue_k)
    fpr_points = {f: {"ours": tpr_at_fpr(yy, mm, f, ww), "baseline": tpr_at_fpr(yy, lr_s, f, ww)} for f in (0.01, 0.05)}
    baselines: dict[str, Any] = {
        "logistic regression": {
            "roc_auc": lr_m["roc_auc"],
            "average_precision": lr_m["average_precision"],
            "recall_at_fpr": fpr_points,
            # Judged on average precision, provided no listed operating point is worse.
            "outcome": "NO"
            if any(v["ours"] < v["baseline"] for v in fpr_points.values())
            else comparison_outcome(pooled["average_precision"], lr_m["average_precision"]),
        }
    }
    judged = rows.iloc[idx]
    for rule in rules:
        if rule.feature not in rows.columns:
            continue
        baselines[rule.name] = {
            "rule": f"{rule.feature} >= {rule.min:g}",
            **compare_at_matched_fpr(yy, mm, rule_scores(judged, rule), ww),
        }
    return Evaluation(pooled, per_fold, intervals, baselines, logistic)
