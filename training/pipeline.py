"""Train every risk present in the labels: features at each decision time, a time split,
LightGBM with early stopping, calibration, the graduated policy, then the test-period report.

No I/O: the dataset comes in, a :class:`TrainResult` (bundle, metrics, report,
figures) goes out; ``reviewguard.training.tracking`` writes it to MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import reviewguard
from reviewguard.features import FEATURE_SET_VERSION, FEATURES, features_for
from reviewguard.model.bundle import Bundle, RiskModel
from reviewguard.model.policy import RiskPolicy
from reviewguard.model.predictor import Predictor
from reviewguard.reader import Dataset
from reviewguard.training import plots
from reviewguard.training.config import TrainConfig
from reviewguard.training.evaluate import Evaluation, evaluate_risk
from reviewguard.training.labels import (
    Split,
    check_classes,
    features_at_labels,
    label_table,
    mark_weights_and_hard_negatives,
    population_features,
    time_split,
)
from reviewguard.training.learner import fit_risk
from reviewguard.training.report import RiskReport, TrainResult, frame_digest
from reviewguard.training.thresholds import assemble_policy, fit_risk_policy


@dataclass
class _Fitted:
    model: RiskModel
    split: Split
    log: dict[str, Any]
    policy: RiskPolicy


def train_models(ds: Dataset, cfg: TrainConfig, *, populations: pd.DataFrame | None = None) -> TrainResult:
    """Train one model per risk in the labels. ``populations`` (account_id, population) marks hard negatives."""
    lab = label_table(ds)
    risks = sorted(lab["risk"].unique())
    data = mark_weights_and_hard_negatives(features_at_labels(ds, lab), cfg, populations)
    splits = {risk: time_split(data[data["risk"] == risk], cfg.split) for risk in risks}
    for risk, split in splits.items():
        check_classes(risk, split, cfg.evaluation.min_positives)
    # The reference population is every account at the latest validation cut.
    reference_as_of = max(pd.Timestamp(s.info["validation_cut"]) for s in splits.values())
    population = population_features(ds, reference_as_of, [f.name for f in FEATURES])

    fitted = {risk: _fit(risk, splits[risk], population, cfg) for risk in risks}
    policy = assemble_policy(
        {risk: f.policy for risk, f in fitted.items()},
        min_families_for_human=cfg.policy.min_families_for_human,
        top_k=cfg.policy.top_k_reasons,
    )
    bundle = Bundle(
        {risk: f.model for risk, f in fitted.items()},
        policy,
        FEATURE_SET_VERSION,
        reviewguard.__version__,
        {
            "data_fingerprint": ds.fingerprint,
            "reference_as_of": str(reference_as_of),
            # Labels decided from here on were never seen in training or validation.
            "test_cuts": {risk: f.split.info["test_cut"] for risk, f in fitted.items()},
        },
    )
    predictor = Predictor(bundle)
    reports: dict[str, RiskReport] = {}
    test_frames = []
    figures: dict[str, Figure] = {}
    for risk, f in fitted.items():
        scored, evaluation = _evaluate(predictor, risk, f, cfg)
        f.model.metrics = {k: v for k, v in evaluation.metrics.items() if isinstance(v, (int, float))}
        reports[risk] = RiskReport(
            risk,
            f.split.info,
            evaluation.metrics,
            evaluation.baselines,
            evaluation.hard_negatives,
            policy[risk],
            f.log,
            evaluation.beats_baselines,
        )
        test = f.split.test
        test_frames.append(
            test[["account_id", "risk", "label", "decided_at", "source", "hard_negative"]].assign(
                score=scored["score"].to_numpy(),
                raw_score=scored["raw_score"].to_numpy(),
                logistic_score=evaluation.logistic_scores,
            )
        )
        figures.update(_figures(predictor, risk, f, scored, evaluation))

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


def _fit(risk: str, split: Split, population: pd.DataFrame, cfg: TrainConfig) -> _Fitted:
    model, log = fit_risk(
        split.train,
        split.validation,
        population,
        risk=risk,
        features=features_for(risk, cfg.risk_features),
        lgb_cfg=cfg.lightgbm,
        calibration=cfg.calibration_method,
        seed=cfg.seed,
    )
    valid = split.validation
    score = model.calibrator.apply(model.booster.predict(Predictor.matrix(model, valid), raw_score=True))
    policy = fit_risk_policy(
        risk,
        valid["label"].to_numpy(),
        score,
        cfg.actions(risk),
        min_support=cfg.policy.min_support,
        weight=valid["weight"].to_numpy(),
    )
    return _Fitted(model, split, log, policy)


def _evaluate(predictor: Predictor, risk: str, f: _Fitted, cfg: TrainConfig) -> tuple[pd.DataFrame, Evaluation]:
    test = f.split.test
    scored = predictor.predict(test, explain="none")
    scored = scored[scored["risk"] == risk].reset_index(drop=True)
    evaluation = evaluate_risk(
        f.split.train,
        test,
        names=f.model.features,
        score=scored["score"].to_numpy(),
        raw=scored["raw_score"].to_numpy(),
        rules=cfg.baselines(risk),
        thresholds={a.name: a.threshold for a in predictor.policy[risk].actions},
        queue_k=cfg.evaluation.queue_k,
        seed=cfg.seed,
    )
    return scored, evaluation


def _figures(
    predictor: Predictor, risk: str, f: _Fitted, scored: pd.DataFrame, evaluation: Evaluation
) -> dict[str, Figure]:
    model, test = f.model, f.split.test
    y = test["label"].to_numpy()
    raw = scored["raw_score"].to_numpy()
    x_test = test[model.features].to_numpy(dtype=np.float64, na_value=np.nan)
    title = risk.replace("_", " ")
    contrib = predictor.explain_rows(model, x_test)
    return {
        f"{risk}/pr_curve.png": plots.pr_curve_figure(
            y, {"LightGBM": raw, "logistic regression": evaluation.logistic_scores}, f"{title}: precision-recall (test)"
        ),
        f"{risk}/calibration.png": plots.reliability_figure(
            y, scored["score"].to_numpy(), f"{title}: reliability (test)"
        ),
        f"{risk}/importance.png": plots.importance_figure(
            model.features, model.booster.feature_importance("gain"), f"{title}: importance"
        ),
        f"{risk}/shap_summary.png": plots.shap_summary_figure(
            contrib[:, :-1], x_test, model.features, f"{title}: SHAP (test)"
        ),
    }
