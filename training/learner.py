"""Fit one risk: a LightGBM booster with registry monotone constraints, then a calibrator.

fklearn-style: takes data and explicit keyword arguments, returns the fitted
model and a log of what it did; no I/O.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from reviewguard.features import Feature, monotone_constraints
from reviewguard.model.bundle import Calibrator, Reference, RiskModel


def lightgbm_params(lgb_cfg: dict[str, Any], *, features: list[Feature], y: np.ndarray, seed: int) -> dict[str, Any]:
    params = {k: v for k, v in lgb_cfg.items() if k not in ("n_estimators", "early_stopping_rounds")}
    if params.get("scale_pos_weight") == "auto":
        pos = max(1, int(y.sum()))
        params["scale_pos_weight"] = float((len(y) - pos) / pos)
    params.update(
        objective="binary",
        metric=["average_precision", "auc"],
        first_metric_only=True,
        monotone_constraints=monotone_constraints(features),
        monotone_constraints_method="advanced",
        seed=seed,
        deterministic=True,
        force_row_wise=True,
        verbosity=-1,
    )
    return params


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str, weight: np.ndarray | None = None) -> Calibrator:
    """Fit on validation margins; ``weight`` makes the probabilities hold for the population."""
    raw = np.asarray(raw, dtype=np.float64)
    if method == "platt":
        lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
        lr.fit(raw.reshape(-1, 1), y, sample_weight=weight)
        return Calibrator("platt", {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])})
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(raw, y, sample_weight=weight)
    return Calibrator(
        "isotonic", {"x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]}
    )


def fit_risk(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    population: pd.DataFrame,
    *,
    risk: str,
    features: list[Feature],
    lgb_cfg: dict[str, Any],
    calibration: str,
    seed: int,
) -> tuple[RiskModel, dict[str, Any]]:
    """Train on ``train``, stop early and calibrate on ``valid``; reference from ``population``."""
    names = [f.name for f in features]
    xt = train[names].to_numpy(dtype=np.float64, na_value=np.nan)
    yt = train["label"].to_numpy(dtype=np.int64)
    xv = valid[names].to_numpy(dtype=np.float64, na_value=np.nan)
    yv = valid["label"].to_numpy(dtype=np.int64)
    params = lightgbm_params(lgb_cfg, features=features, y=yt, seed=seed)
    dtrain = lgb.Dataset(xt, yt, feature_name=names, free_raw_data=True)
    dvalid = lgb.Dataset(xv, yv, reference=dtrain)
    evals: dict[str, Any] = {}
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=int(lgb_cfg["n_estimators"]),
        valid_sets=[dvalid],
        valid_names=["validation"],
        callbacks=[
            lgb.early_stopping(int(lgb_cfg["early_stopping_rounds"]), first_metric_only=True, verbose=False),
            lgb.record_evaluation(evals),
        ],
    )
    best = int(booster.best_iteration or booster.current_iteration())
    # Round-trip through the text format: the object we evaluate is exactly
    # the one that is saved, registered and loaded for scoring.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    raw_valid = np.asarray(booster.predict(xv, raw_score=True), dtype=np.float64)
    weight = valid["weight"].to_numpy(dtype=np.float64) if "weight" in valid.columns else None
    calibrator = fit_calibrator(raw_valid, yv, calibration, weight)
    reference = {n: Reference.from_values(population[n].to_numpy(dtype=np.float64, na_value=np.nan)) for n in names}
    model = RiskModel(risk, names, booster, calibrator, reference, best_iteration=best)
    log = {
        "risk": risk,
        "train_rows": len(train),
        "train_positives": int(yt.sum()),
        "validation_rows": len(valid),
        "validation_positives": int(yv.sum()),
        "best_iteration": best,
        "scale_pos_weight": params["scale_pos_weight"],
        "validation_curve": {k: [float(x) for x in v] for k, v in evals.get("validation", {}).items()},
        "params": {k: v for k, v in params.items() if k != "monotone_constraints"},
    }
    return model, log
