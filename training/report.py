"""The training report: what a run measured, as data (:class:`TrainResult`) and as markdown. No I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reviewguard.model.bundle import Bundle
from reviewguard.model.policy import RiskPolicy


@dataclass
class RiskReport:
    risk: str
    split: dict[str, Any]
    metrics: dict[str, float]
    baselines: dict[str, Any]
    hard_negatives: dict[str, Any]
    policy: RiskPolicy
    log: dict[str, Any]
    beats_baselines: bool


@dataclass
class TrainResult:
    bundle: Bundle
    reports: dict[str, RiskReport]
    label_features: pd.DataFrame
    test_scores: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    data_fingerprint: str = ""
    features_digest: str = ""

    def flat_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for risk, r in self.reports.items():
            for k, v in r.metrics.items():
                if isinstance(v, (int, float)) and np.isfinite(v):
                    out[f"{risk}/test_{k}"] = float(v)
            for name, b in r.baselines.items():
                for k in ("roc_auc", "average_precision", "fpr", "baseline_recall", "our_recall"):
                    if k in b and isinstance(b[k], (int, float)) and np.isfinite(b[k]):
                        out[f"{risk}/baseline/{_slug(name)}/{k}"] = float(b[k])
            out[f"{risk}/best_iteration"] = float(r.log["best_iteration"])
        return out


def _outcome_text(b: dict[str, Any]) -> str:
    if b["outcome"] == "n/a":
        return "n/a: the rule flags no account in the test period"
    return str(b["outcome"])


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s).strip("_").lower()


def frame_digest(df: pd.DataFrame) -> str:
    """Stable hash of a frame's values (for the MLflow run and reproducibility checks)."""
    h = hashlib.sha256()
    h.update(",".join(df.columns).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def report_markdown(result: TrainResult) -> str:
    """The training report: metrics, baselines at matched false-positive rate, policy."""
    lines = [
        "# reviewguard training report",
        "",
        f"feature set {result.bundle.feature_set_version}, policy {result.bundle.policy_version}, "
        f"data {result.data_fingerprint[:12]}",
        "",
    ]
    for risk, r in result.reports.items():
        m = r.metrics
        lines += [
            f"## {risk}",
            "",
            f"Split: train {r.split['train_rows']} / validation {r.split['validation_rows']} / "
            f"test {r.split['test_rows']} labels (validation from {r.split['validation_cut']}, "
            f"test from {r.split['test_cut']}, gap {r.split['gap_days']} days).",
            "",
            "| metric (test period) | LightGBM |",
            "|---|---|",
        ]
        for k in (
            "roc_auc",
            "average_precision",
            "recall_at_precision_0.9",
            "recall_at_precision_0.99",
            "tpr_at_fpr_0.01",
            "expected_calibration_error",
            "positives",
            "rows",
        ):
            lines.append(f"| {k} | {m[k]:.4g} |")
        pk = next(k for k in m if k.startswith("precision_at_"))
        lines.append(f"| {pk} | {m[pk]:.4g} |")
        lines += ["", "| baseline | comparison | ours | baseline | beats? |", "|---|---|---|---|---|"]
        for name, b in r.baselines.items():
            if "rule" in b:
                lines.append(
                    f"| {name} (`{b['rule']}`) | recall at FPR {b['fpr']:.4f} | {b['our_recall']:.3f} | "
                    f"{b['baseline_recall']:.3f} | {_outcome_text(b)} |"
                )
            else:
                lines.append(
                    f"| {name} | average precision | {m['average_precision']:.3f} | "
                    f"{b['average_precision']:.3f} | {_outcome_text(b)} |"
                )
                for f, v in b["recall_at_fpr"].items():
                    lines.append(f"| {name} | recall at FPR {f} | {v['ours']:.3f} | {v['baseline']:.3f} | |")
        lines += [
            "",
            "LightGBM beats every baseline at matched false-positive rate (strictly better on each "
            f"comparable one, never worse): **{'yes' if r.beats_baselines else 'no'}**.",
            "",
            "| action | human | target precision | threshold | validation precision |",
            "|---|---|---|---|---|",
        ]
        for a in r.policy.actions:
            t = "disabled" if a.threshold is None else f"{a.threshold:.4f}"
            vp = "" if a.validation_precision is None else f"{a.validation_precision:.3f}"
            lines.append(f"| {a.name} | {'yes' if a.requires_human else 'no'} | {a.target_precision} | {t} | {vp} |")
        if r.hard_negatives:
            lines += ["", "False-positive rate on hard negatives (test period):", ""]
            for g, v in r.hard_negatives.items():
                parts = ", ".join(f"{k.removeprefix('fpr_at_')} {x:.3f}" for k, x in v.items() if k != "count")
                lines.append(f"- {g} ({int(v['count'])} accounts): {parts}")
        lines.append("")
    return "\n".join(lines)
