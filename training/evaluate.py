"""Metrics, baselines and plots for one risk on the later (test) period. No I/O."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


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


def rule_scores(frame: pd.DataFrame, rule: dict[str, Any]) -> np.ndarray:
    values = frame[rule["feature"]].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.nan_to_num(values, nan=-np.inf) >= float(rule["min"]), 1.0, 0.0)


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


# ------------------------------------------------------------------ plots
# Plain Figure objects, outside pyplot's registry: a library must not leak figures.


def pr_curve_figure(y: np.ndarray, curves: dict[str, np.ndarray], title: str) -> Figure:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    for name, s in curves.items():
        p, r, _ = precision_recall_curve(y, s)
        ax.plot(r, p, label=f"{name} (AP {average_precision_score(y, s):.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def reliability_figure(y: np.ndarray, p: np.ndarray, title: str, bins: int = 10) -> Figure:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        m = idx == b
        if m.any():
            xs.append(p[m].mean())
            ys.append(y[m].mean())
            ns.append(int(m.sum()))
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot(xs, ys, "o-", label=f"model (ECE {expected_calibration_error(y, p):.3f})")
    for x, yy, n in zip(xs, ys, ns, strict=True):
        ax.annotate(str(n), (x, yy), fontsize=7)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def importance_figure(names: list[str], gains: np.ndarray, title: str) -> Figure:
    order = np.argsort(gains)[-20:]
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.barh([names[i] for i in order], gains[order])
    ax.set_xlabel("total gain")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def shap_summary_figure(contrib: np.ndarray, x: np.ndarray, names: list[str], title: str) -> Figure:
    import shap

    plt.figure(figsize=(7, 6))
    shap.summary_plot(contrib, x, feature_names=names, show=False, max_display=15)
    fig = plt.gcf()
    fig.suptitle(title)
    fig.tight_layout()
    # Detach from pyplot, which would otherwise keep every training run's plot alive.
    plt.close(fig)
    return fig
