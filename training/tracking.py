"""MLflow at the edge, write side: log a training run, register the model.

A tracking server that cannot be reached fails the run before any model is
registered (``reviewguard.model.store.connect_tracking``), and a registration
that fails half-way is rolled back. Reading models back is ``reviewguard.model.store``.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

import reviewguard
from reviewguard.model.bundle import Bundle, save_bundle
from reviewguard.model.predictor import Predictor, portable_frame
from reviewguard.model.store import CHALLENGER, CHAMPION, TrackingError
from reviewguard.training.report import TrainResult, report_markdown

# Parameters a served model accepts per request, with their defaults.
INFERENCE_PARAMS = {"explain": "flagged", "top_k": 5}
# The served model's code, logged as code (no pickle): MLflow runs it when it loads the model.
PYFUNC_CODE = Path(reviewguard.__file__).resolve().parent / "model" / "pyfunc_model.py"


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = json.dumps(v, ensure_ascii=False)[:6000]
        else:
            out[key] = str(v)
    return out


def log_training(
    result: TrainResult,
    config_raw: dict[str, Any],
    *,
    experiment: str,
    register_as: str | None,
    data_path: str,
    client: MlflowClient,
) -> dict[str, Any]:
    """Log the run and the model; register it and set aliases. Returns run id, model URI, version."""
    mlflow.set_experiment(experiment)
    bundle = result.bundle
    with mlflow.start_run() as run:
        mlflow.set_tags(
            {
                "reviewguard.version": reviewguard.__version__,
                "feature_set_version": bundle.feature_set_version,
                "policy_version": bundle.policy_version,
                "data_fingerprint": result.data_fingerprint,
                "features_digest": result.features_digest,
                "model_fingerprint": bundle.fingerprint(),
                "data_path": data_path,
            }
        )
        params = _flatten({k: v for k, v in config_raw.items() if k not in ("policy", "baselines")})
        mlflow.log_params(params)
        mlflow.log_metrics(result.flat_metrics())
        mlflow.log_text(report_markdown(result), "report.md")
        mlflow.log_dict(bundle.policy.to_dict(), "policy.json")
        mlflow.log_dict(
            {
                r: {
                    "metrics": rep.metrics,
                    "per_fold": rep.evaluation.per_fold,
                    "intervals": rep.evaluation.intervals,
                    "baselines": rep.baselines,
                    "actions_out_of_fold": rep.actions,
                    "hard_negatives": rep.hard_negatives,
                    "backtest": rep.backtest,
                    "unlabelled": rep.unlabelled,
                    "groups": rep.groups,
                    "labels": rep.labels,
                }
                for r, rep in result.reports.items()
            },
            "metrics.json",
        )
        for name, fig in result.figures.items():
            mlflow.log_figure(fig, f"plots/{name}")
        features = result.label_features
        ds = from_pandas(features, name="label_features", digest=result.features_digest[:16])
        mlflow.log_input(ds, context="training")

        names = sorted({f for m in bundle.risks.values() for f in m.features})
        example = features.head(5)[["account_id", "decided_at", *names]].rename(columns={"decided_at": "as_of"})
        example = example.assign(as_of=example["as_of"].astype(str), **{n: example[n].astype("float64") for n in names})
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            # MLflow hints about the integer `top_k` parameter; features are float64 throughout.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            bundle_dir = save_bundle(bundle, Path(tmp) / "bundle")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={"bundle": str(bundle_dir)},
                input_example=example,
                signature=infer_signature(
                    example,
                    portable_frame(
                        Predictor(bundle).predict(example.assign(as_of=pd.to_datetime(example["as_of"])), explain="all")
                    ),
                    params=INFERENCE_PARAMS,
                ),
                pip_requirements=_requirements(),
                metadata={
                    "reviewguard_version": reviewguard.__version__,
                    "feature_set_version": bundle.feature_set_version,
                    "policy_version": bundle.policy_version,
                },
            )
        out = {"run_id": run.info.run_id, "model_uri": info.model_uri, "version": None, "registered_uri": None}
    if register_as:
        version = register(client, register_as, info.model_uri, run.info.run_id, bundle, model_id=info.model_id)
        out["version"] = version
        out["registered_uri"] = f"models:/{register_as}/{version}"
    return out


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", "lightgbm", "pandas", "numpy", "scipy", "ibis-framework")]


def register(
    client: MlflowClient, name: str, model_uri: str, run_id: str, bundle: Bundle, model_id: str | None = None
) -> str:
    """Register a version; alias it challenger (and champion if there is none). Rolls back on failure."""
    try:
        client.get_registered_model(name)
    except Exception:
        client.create_registered_model(name, description="reviewguard models: one LightGBM booster per risk")
    mv = client.create_model_version(
        name,
        model_uri,
        run_id=run_id,
        model_id=model_id,
        tags={
            "feature_set_version": bundle.feature_set_version,
            "policy_version": bundle.policy_version,
            "model_fingerprint": bundle.fingerprint(),
        },
    )
    try:
        client.set_registered_model_alias(name, CHALLENGER, mv.version)
        try:
            client.get_model_version_by_alias(name, CHAMPION)
        except Exception:
            client.set_registered_model_alias(name, CHAMPION, mv.version)
    except Exception as exc:
        try:
            client.delete_model_version(name, mv.version)
        finally:
            raise TrackingError(f"registering {name} v{mv.version} failed and was rolled back: {exc}") from exc
    return str(mv.version)
