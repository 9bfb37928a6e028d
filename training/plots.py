"""Figures of a training run (logged to MLflow as PNG). No I/O.

Plain Figure objects, outside pyplot's registry: a library must not leak figures.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, precision_recall_curve

from reviewguard.training.evaluate import expected_calibration_error


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
    # SHAP draws through pyplot; pyplot picks a non-interactive backend where there is no screen,
    # and a notebook keeps its own, so the backend is not forced here.
    import matplotlib.pyplot as plt
    import shap

    plt.figure(figsize=(7, 6))
    shap.summary_plot(contrib, x, feature_names=names, show=False, max_display=15)
    fig = plt.gcf()
    fig.suptitle(title)
    fig.tight_layout()
    # Detach from pyplot, which would otherwise keep every training run's plot alive.
    plt.close(fig)
    return fig
