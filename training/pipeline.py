"""Train every risk present in the labels: features at each decision time, a time split,
LightGBM with early stopping, calibration, baselines, and the graduated policy.

No I/O: the dataset comes in, a :class:`TrainResult` (bundle, metrics,
report, figures) goes out; ``reviewguard.training.tracking`` writes it to MLflow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import reviewguard
from reviewguard.bundle import Bundle, RiskModel
from reviewguard.errors import TrainingDataError
from reviewguard.features import (
    FEATURE_SET_VERSION,
    FEATURES,
    build_features,
    cutoffs_at,
    cutoffs_from_labels,
    features_for,
)
from reviewguard.reader import Dataset
from reviewguard.serving.predictor import Predictor
from reviewguard.training import evaluate as ev
from reviewguard.training.config import TrainConfig
from reviewguard.training.learner import fit_risk
from reviewguard.training.policy import assemble_policy, fit_policy

REFERENCE_SAMPLE = 200_000


@dataclass
class RiskReport:
    risk: str
    split: dict[str, Any]
    metrics: dict[str, float]
    baselines: dict[str, Any]
    hard_negatives: dict[str, Any]
    policy: dict[str, Any]
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


def time_split(lab: pd.DataFrame, cfg: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    s = cfg.split
    t = lab["decided_at"]
    cut1 = t.quantile(s["train_share"], interpolation="lower")
    cut2 = t.quantile(s["train_share"] + s["validation_share"], interpolation="lower")
    gap = timedelta(days=float(s["gap_days"]))
    train = lab[t < cut1 - gap]
    valid = lab[(t >= cut1) & (t < cut2 - gap)]
    test = lab[t >= cut2]
    info = {
        "validation_cut": str(cut1),
        "test_cut": str(cut2),
        "gap_days": s["gap_days"],
        "train_rows": len(train),
        "validation_rows": len(valid),
        "test_rows": len(test),
    }
    return train, valid, test, info


def _check_classes(risk: str, parts: dict[str, pd.DataFrame], min_pos: int) -> None:
    for name, part in parts.items():
        pos = int(part["label"].sum())
        neg = int((part["label"] == 0).sum())
        if pos == 0 or neg == 0:
            raise TrainingDataError(
                f"risk {risk}: the {name} period has {pos} positive and {neg} negative labels; "
                "both classes are needed in every period (more labels, or other split shares)"
            )
        if pos < min_pos:
            raise TrainingDataError(
                f"risk {risk}: only {pos} positive labels in the {name} period (need {min_pos}) "
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


def train_models(
    ds: Dataset,
    cfg: TrainConfig,
    *,
    populations: pd.DataFrame | None = None,
) -> TrainResult:
    """Train one model per risk in the labels. ``populations`` (account_id, population) marks hard negatives."""
    lab = label_table(ds)
    risks = sorted(lab["risk"].unique())
    data = features_at_labels(ds, lab)
    weights = cfg.evaluation.get("source_weights", {})
    data["weight"] = data["source"].map(lambda src: float(weights.get(src, 1.0)))
    data["hard_negative"] = ""
    hn_sources = set(cfg.evaluation.get("hard_negative_sources", []))
    data.loc[data["source"].isin(hn_sources) & (data["label"] == 0), "hard_negative"] = data["source"]
    hn_pop = cfg.evaluation.get("hard_negative_populations", {})
    if populations is not None and hn_pop:
        pop = data[["account_id"]].merge(populations[["account_id", "population"]], on="account_id", how="left")
        for risk, groups in hn_pop.items():
            m = (data["risk"] == risk) & pop["population"].isin(groups).to_numpy() & (data["label"] == 0)
            data.loc[m, "hard_negative"] = pop.loc[m, "population"].to_numpy()

    # The reference population is every account at the latest validation cut.
    cuts = [time_split(lab[lab["risk"] == r], cfg)[3]["validation_cut"] for r in risks]
    reference_as_of = max(pd.Timestamp(c) for c in cuts)
    population = population_features(ds, reference_as_of, [f.name for f in FEATURES])

    min_pos = int(cfg.evaluation.get("min_positives", 5))
    models: dict[str, RiskModel] = {}
    reports: dict[str, RiskReport] = {}
    policies: dict[str, dict[str, Any]] = {}
    test_frames = []
    figures: dict[str, Figure] = {}
    staged: dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]] = {}
    for risk in risks:
        feats_for = features_for(risk, cfg.risk_features)
        rows = data[data["risk"] == risk]
        train, valid, test, split_info = time_split(rows, cfg)
        _check_classes(risk, {"training": train, "validation": valid, "test": test}, min_pos)
        model, log = fit_risk(
            train,
            valid,
            population,
            risk=risk,
            features=feats_for,
            lgb_cfg=cfg.lightgbm,
            calibration=cfg.calibration_method,
            seed=cfg.seed,
        )
        yv = valid["label"].to_numpy()
        sv = model.calibrator.apply(model.booster.predict(Predictor.matrix(model, valid), raw_score=True))
        policies[risk] = fit_policy(
            risk,
            yv,
            sv,
            cfg.actions(risk),
            min_support=int(cfg.policy["min_support"]),
            weight=valid["weight"].to_numpy(),
        )
        models[risk] = model
        staged[risk] = (train, test, split_info, log)

    policy = assemble_policy(
        policies,
        min_families_for_human=int(cfg.policy["min_families_for_human"]),
        top_k=int(cfg.policy["top_k_reasons"]),
    )
    bundle = Bundle(
        models,
        policy,
        FEATURE_SET_VERSION,
        reviewguard.__version__,
        {
            "data_fingerprint": ds.fingerprint,
            "reference_as_of": str(reference_as_of),
            # Labels decided from here on were never seen in training or validation.
            "test_cuts": {risk: staged[risk][2]["test_cut"] for risk in risks},
        },
    )
    predictor = Predictor(bundle)

    queue_k = int(cfg.evaluation.get("queue_k", 50))
    for risk in risks:
        model = models[risk]
        train, test, split_info, log = staged[risk]
        names = model.features
        scored = predictor.predict(test, explain="none")
        scored = scored[scored["risk"] == risk].reset_index(drop=True)
        s = scored["score"].to_numpy()
        raw = scored["raw_score"].to_numpy()
        y = test["label"].to_numpy()
        m = ev.metrics(y, s, queue_k=queue_k, rank=raw)
        model.metrics = {k: v for k, v in m.items() if isinstance(v, (int, float))}

        baselines: dict[str, Any] = {}
        xt = train[names].to_numpy(dtype=np.float64, na_value=np.nan)
        lr = ev.fit_logistic_baseline(xt, train["label"].to_numpy(), cfg.seed)
        x_test = test[names].to_numpy(dtype=np.float64, na_value=np.nan)
        lr_s = lr.predict_proba(np.where(np.isfinite(x_test), x_test, np.nan))[:, 1]
        lr_m = ev.metrics(y, lr_s, queue_k=queue_k)
        fpr_points = {
            f: {"ours": ev.tpr_at_fpr(y, raw, f), "baseline": ev.tpr_at_fpr(y, lr_s, f)} for f in (0.01, 0.05)
        }
        baselines["logistic regression"] = {
            "roc_auc": lr_m["roc_auc"],
            "average_precision": lr_m["average_precision"],
            "recall_at_fpr": fpr_points,
            # Judged on average precision, provided no listed operating point is worse.
            "outcome": "NO"
            if any(v["ours"] < v["baseline"] for v in fpr_points.values())
            else ev.comparison_outcome(m["average_precision"], lr_m["average_precision"]),
        }
        for rule in cfg.baselines(risk):
            if rule["feature"] not in test.columns:
                continue
            rs = ev.rule_scores(test, rule)
            baselines[rule["name"]] = {
                "rule": f"{rule['feature']} >= {rule['min']}",
                **ev.compare_at_matched_fpr(y, raw, rs),
            }
        thresholds = {a["name"]: a["threshold"] for a in policy["risks"][risk]["actions"]}
        hn = ev.hard_negative_fpr(test.assign(score=s), thresholds)
        outcomes = [b["outcome"] for b in baselines.values()]
        beats = "yes" in outcomes and all(o in ("yes", "n/a") for o in outcomes)
        reports[risk] = RiskReport(risk, split_info, m, baselines, hn, policy["risks"][risk], log, beats)
        test_frames.append(
            test[["account_id", "risk", "label", "decided_at", "source", "hard_negative"]].assign(
                score=s, raw_score=scored["raw_score"].to_numpy(), logistic_score=lr_s
            )
        )

        title = risk.replace("_", " ")
        figures[f"{risk}/pr_curve.png"] = ev.pr_curve_figure(
            y, {"LightGBM": raw, "logistic regression": lr_s}, f"{title}: precision-recall (test)"
        )
        figures[f"{risk}/calibration.png"] = ev.reliability_figure(y, s, f"{title}: reliability (test)")
        figures[f"{risk}/importance.png"] = ev.importance_figure(
            names, model.booster.feature_importance("gain"), f"{title}: importance"
        )
        contrib = predictor.explain_rows(model, x_test)
        figures[f"{risk}/shap_summary.png"] = ev.shap_summary_figure(
            contrib[:, :-1], x_test, names, f"{title}: SHAP (test)"
        )

    label_features = data.drop(columns=["as_of"])
    return TrainResult(
        bundle=bundle,
        reports=reports,
        label_features=label_features,
        test_scores=pd.concat(test_frames, ignore_index=True),
        figures=figures,
        data_fingerprint=ds.fingerprint,
        features_digest=frame_digest(label_features[[c for c in label_features.columns if c != "hard_negative"]]),
    )


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
        for a in r.policy["actions"]:
            t = "disabled" if a["threshold"] is None else f"{a['threshold']:.4f}"
            vp = "" if a["validation_precision"] is None else f"{a['validation_precision']:.3f}"
            lines.append(
                f"| {a['name']} | {'yes' if a['requires_human'] else 'no'} | {a['target_precision']} | {t} | {vp} |"
            )
        if r.hard_negatives:
            lines += ["", "False-positive rate on hard negatives (test period):", ""]
            for g, v in r.hard_negatives.items():
                parts = ", ".join(f"{k.removeprefix('fpr_at_')} {x:.3f}" for k, x in v.items() if k != "count")
                lines.append(f"- {g} ({int(v['count'])} accounts): {parts}")
        lines.append("")
    return "\n".join(lines)
