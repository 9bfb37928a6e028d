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
from reviewguard.training.evaluate import Evaluation


@dataclass
class RiskReport:
    risk: str
    backtest: dict[str, Any]
    evaluation: Evaluation
    # Per action: out-of-fold precision (thresholds fitted without the judged fold) with its interval.
    actions: dict[str, dict[str, float]]
    hard_negatives: dict[str, dict[str, float]]
    policy: RiskPolicy
    unlabelled: dict[str, Any]
    groups: dict[str, int]
    labels: dict[str, Any]
    # What scoring missing values at their least-risky value costs the judged rows
    # (``evaluate.missing_value_cost``).
    missing_values: dict[str, Any]

    @property
    def metrics(self) -> dict[str, float]:
        return self.evaluation.metrics

    @property
    def baselines(self) -> dict[str, Any]:
        return self.evaluation.baselines

    @property
    def beats_baselines(self) -> bool:
        return self.evaluation.beats_baselines


@dataclass
class TrainResult:
    bundle: Bundle
    reports: dict[str, RiskReport]
    label_features: pd.DataFrame
    # The judged labels' out-of-fold scores (fold, score, raw_score, logistic_score).
    test_scores: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    data_fingerprint: str = ""
    features_digest: str = ""

    def flat_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for risk, r in self.reports.items():
            for k, v in r.metrics.items():
                if isinstance(v, (int, float)) and np.isfinite(v):
                    out[f"{risk}/oof_{k}"] = float(v)
            for name, b in r.baselines.items():
                for k in ("roc_auc", "average_precision", "fpr", "baseline_recall", "our_recall"):
                    if k in b and isinstance(b[k], (int, float)) and np.isfinite(b[k]):
                        out[f"{risk}/baseline/{_slug(name)}/{k}"] = float(b[k])
            for a in r.policy.actions:
                if a.population_share is not None:
                    out[f"{risk}/action/{a.name}/population_share"] = float(a.population_share)
                precision = r.actions.get(a.name, {}).get("precision")
                if precision is not None and np.isfinite(precision):
                    out[f"{risk}/action/{a.name}/oof_precision"] = float(precision)
            for k in ("label_coverage_c", "class_prior", "unlabelled_weight"):
                estimate = r.unlabelled.get(k)
                if isinstance(estimate, float) and np.isfinite(estimate):
                    out[f"{risk}/unlabelled/{k}"] = estimate
            for k in ("roc_auc_as_learned", "average_precision_as_learned", "rows_scored_otherwise"):
                cost = r.missing_values.get(k)
                if isinstance(cost, float) and np.isfinite(cost):
                    out[f"{risk}/missing/{k}"] = cost
            out[f"{risk}/trees"] = float(r.backtest["chosen_rounds"])
        return out


def _outcome_text(b: dict[str, Any]) -> str:
    if b["outcome"] == "n/a":
        return "n/a: the rule flags no judged account"
    return str(b["outcome"])


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s).strip("_").lower()


def frame_digest(df: pd.DataFrame) -> str:
    """Stable hash of a frame's values (for the MLflow run and reproducibility checks)."""
    h = hashlib.sha256()
    h.update(",".join(df.columns).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _f(v: Any, fmt: str = ".3f") -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, fmt)


def report_markdown(result: TrainResult) -> str:
    """The training report: backtest, metrics with their spread, baselines, the policy and its rates."""
    lines = [
        "# reviewguard training report",
        "",
        f"feature set {result.bundle.feature_set_version}, policy {result.bundle.policy_version}, "
        f"data {result.data_fingerprint[:12]}",
        "",
    ]
    for risk, r in result.reports.items():
        lines += _risk_section(risk, r)
    return "\n".join(lines)


def _risk_section(risk: str, r: RiskReport) -> list[str]:
    m, ev, bt = r.metrics, r.evaluation, r.backtest
    sources = ", ".join(f"{k} {v}" for k, v in r.labels["by_source"].items())
    lines = [
        f"## {risk}",
        "",
        f"Labels: {r.labels['rows']} rows by source ({sources}), {r.labels['positives']} of them positive. "
        f"Connected groups: {r.groups['groups']}, links cut by the folds: {r.groups['links_cut']}.",
    ]
    if r.unlabelled["applied"]:
        lines.append(
            f"Positive-unlabelled: {r.unlabelled['unlabelled_rows']} unlabelled accounts sampled as presumed "
            f"negatives, each standing for {_f(r.unlabelled.get('unlabelled_weight'), ',.1f')} accounts; "
            f"estimated share of abusers the labels catch c = {_f(r.unlabelled.get('label_coverage_c'))}, "
            f"class prior {_f(r.unlabelled.get('class_prior'), '.4f')}. Scores are calibrated on the labels, an "
            "unlabelled account counted as innocent: a score is the probability that the labels would call the "
            "account an abuser, a lower bound of the probability of abuse."
        )
    lines += [
        "",
        f"Backtest: {len(bt['folds'])} rolling-origin folds; the fold models and the refit model have "
        f"{bt['chosen_rounds']} trees ({bt['loss_fall_share']:.0%} of the fall in the folds' mean held-out loss, "
        "each fold's curve "
        "on the latest labels of its own training period). " + " ".join(bt["notes"]),
        "",
        "| fold | judged from | to | trained on | judged | trees |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {f['fold']} | {f['from'][:10]} | {f['to'][:10]} | {f['train_rows']} | {f['test_rows']} | {f['rounds']} |"
        for f in bt["folds"]
    ]
    lines += [
        "",
        "Out of fold, weighted to the population (unweighted beside it); mean ± spread over folds; "
        f"90% bootstrap interval over connected groups (only {m['positives']} positives judged):",
        "",
        "| metric | pooled | unweighted | per fold | interval |",
        "|---|---|---|---|---|",
    ]
    for key in ("roc_auc", "average_precision"):
        mean, sd = ev.spread(key)
        lo, hi = ev.intervals[key]
        lines.append(
            f"| {key} | {_f(m[key])} | {_f(m[key + '_unweighted'])} | {_f(mean)} ± {_f(sd)} | {_f(lo)}–{_f(hi)} |"
        )
    pk = next(k for k in m if k.startswith("precision_at_") and not k.endswith("unweighted"))
    for key, unweighted in ((pk, pk + "_unweighted"), ("tpr_at_fpr_0.01", None), ("expected_calibration_error", None)):
        mean, sd = ev.spread(key)
        lines.append(f"| {key} | {_f(m[key])} | {_f(m[unweighted]) if unweighted else ''} | {_f(mean)} ± {_f(sd)} | |")
    lines += [
        "",
        f"Per fold, {pk} is each fold's own top {pk.removeprefix('precision_at_')}: from one fold's labels, "
        "a queue that reaches deeper into them than the pooled one, so it tends to run lower.",
    ]
    lines += missing_values_paragraph(r.missing_values)
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
        "LightGBM beats every baseline (strictly better on each comparable one, never worse): "
        f"**{'yes' if r.beats_baselines else 'no'}**.",
        "",
        "Policy: each threshold fitted on its own band of out-of-fold margins (the calibrated score at it in "
        "brackets); precision judged out of fold "
        "(thresholds fitted without the judged fold), with its interval; population share at or above the "
        "threshold against the action's budget. The out-of-fold column reports; the band's precision decides, "
        "and it can be no higher than the share of abusers (its upper bound at the policy's confidence) among "
        "the labelled accounts the band holds at the reference time: a band of label rows that scored high at "
        "their decision times, whose accounts there are mostly cleared, stays off."
        + (
            " No source samples everyone (no random audit): a band's precision counts every unlabelled account "
            "of the reference population as innocent, at the refit model's score, so it is a lower bound (an "
            "abuser nobody has labelled yet counts against it), and the band must show it twice: with the labels "
            "out of fold, and among the accounts it holds at the reference time; an action these labels cannot "
            "show stays off. A random audit, weighted in evaluation.source_weights, measures the precision itself."
            if r.unlabelled["applied"]
            else ""
        ),
        "",
        "| action | human | prior remedy | target | threshold | band precision (low bound) | "
        "out-of-fold precision [interval] (labels) | population share / budget | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in r.policy.actions:
        o = r.actions.get(a.name, {})
        t = "disabled" if a.threshold is None else f"{a.threshold:.3f} ({_f(a.threshold_score)})"
        band = "" if a.band_precision is None else f"{a.band_precision:.3f} ({_f(a.band_precision_low)})"
        unlabelled = f" + {o['unlabelled_accounts']} unlabelled" if o.get("unlabelled_accounts") else ""
        oof = (
            f"{_f(o.get('precision'))} [{_f(o.get('low'))}–{_f(o.get('high'))}] ({o.get('labels', 0)}{unlabelled})"
            if o.get("labels") or unlabelled
            else "no judged row"
        )
        share = "" if a.population_share is None else f"{a.population_share:.4%}"
        lines.append(
            f"| {a.name} | {'yes' if a.requires_human else 'no'} | {'yes' if a.requires_prior_remedy else 'no'} | "
            f"{a.target_precision} | {t} | {band} | {oof} | {share} / {a.max_share:.1%} | {a.note} |"
        )
    if r.hard_negatives:
        lines += [
            "",
            "Hard negatives (accounts a review cleared that look like abuse), out of fold, share reaching each band "
            "under the thresholds fitted without their fold (an action the final policy leaves off can appear here):",
            "",
        ]
        for g, v in r.hard_negatives.items():
            parts = ", ".join(f"{k} {x:.3f}" for k, x in v.items() if k != "count") or "none reached an action"
            lines.append(f"- {g} ({int(v['count'])} accounts): {parts}")
    lines.append("")
    return lines


# An AUC gain on the learned branch smaller than this is not worth the reader's attention.
MISSING_COST_NOTED = 0.001


def missing_values_paragraph(mv: dict[str, Any]) -> list[str]:
    """Where the judged rows miss a feature without a direction, what scoring them at its least-risky
    value (never on the branch the trees learned for the missing value) does to the ranking."""
    shares = mv.get("undirected_missing_share", {})
    if not shares:
        return []
    named = ", ".join(f"`{k}` {v:.0%}" for k, v in list(shares.items())[:5])
    more = f" and {len(shares) - 5} more" if len(shares) > 5 else ""
    return [
        "",
        f"Missing values: judged rows without a value of a feature that has no direction: {named}{more}. "
        "The predictor scores such a row at the feature's least-risky value, never on the branch the trees "
        f"learned for a missing value; that changed {mv['rows_scored_otherwise']:.1%} of the judged margins. "
        f"AUC {_f(mv['roc_auc_as_scored'])} as scored against {_f(mv['roc_auc_as_learned'])} on the learned "
        f"branch (AP {_f(mv['average_precision_as_scored'])} against {_f(mv['average_precision_as_learned'])})."
        + (
            " The ranking is better on the learned branch: either absence was evidence in these labels (which the "
            "predictor refuses by design) or a feature is missing by construction for many accounts (one review "
            "has no gap between reviews): give that feature a direction or leave it out of the risk."
            if mv["roc_auc_as_learned"] > mv["roc_auc_as_scored"] + MISSING_COST_NOTED
            else ""
        ),
    ]
