"""MLflow at the edge: log a training run, register the model, move aliases, load it back.

The default store is a local SQLite file; ``MLFLOW_TRACKING_URI`` is honoured.
A tracking server that cannot be reached fails the run before any model is
registered, and a registration that fails half-way is rolled back.
"""

from __future__ import annotations

import json
import os
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
from reviewguard.bundle import Bundle, load_bundle, save_bundle
from reviewguard.errors import ModelLoadError, ReviewguardError
from reviewguard.serving.predictor import Predictor, portable_frame
from reviewguard.training.pipeline import TrainResult, report_markdown

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# Parameters a served model accepts per request, with their defaults.
INFERENCE_PARAMS = {"explain": "flagged", "top_k": 5}
CHALLENGER = "challenger"
CHAMPION = "champion"


class TrackingError(ReviewguardError):
    """The MLflow tracking server or registry cannot be used."""


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def connect_tracking(uri: str | None = None) -> MlflowClient:
    """Point MLflow at ``uri`` and prove it answers, quickly, before any work is done."""
    uri = uri or tracking_uri()
    if uri.startswith("http"):
        # Fail fast: MLflow's defaults retry for minutes against a dead server.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise TrackingError(f"MLflow tracking store {uri} cannot be reached: {first}") from exc
    return client


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
        mlflow.log_dict(bundle.policy, "policy.json")
        mlflow.log_dict(
            {
                r: {
                    "metrics": rep.metrics,
                    "baselines": rep.baselines,
                    "hard_negatives": rep.hard_negatives,
                    "split": rep.split,
                    "training_log": rep.log,
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
                python_model=str(Path(__file__).resolve().parent.parent / "serving" / "pyfunc_model.py"),
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


def resolve_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception:
        return None


def download_bundle(model_uri: str, dest: str | Path | None = None) -> tuple[Bundle, dict[str, str]]:
    """Load a model from the registry (``models:/NAME/VERSION``, ``models:/NAME@alias``),
    a run (``runs:/...``), or an explicit local folder (a bundle or an MLflow model)."""
    local = Path(model_uri)
    meta = {"model_uri": model_uri, "model_version": ""}
    if local.exists():
        folder = local
    elif model_uri.startswith(("models:/", "runs:/", "models:")):
        client = connect_tracking()
        if model_uri.startswith("models:/"):
            meta["model_version"] = _resolve_version(client, model_uri)
        dest = Path(dest or tempfile.mkdtemp(prefix="reviewguard-model-"))
        try:
            folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dest)))
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load model {model_uri} from {tracking_uri()}: {str(exc).splitlines()[0][:300]}"
            ) from exc
    else:
        raise ModelLoadError(
            f"{model_uri} is neither a registry URI (models:/NAME/VERSION, models:/NAME@alias) nor an existing folder"
        )
    for candidate in (folder, folder / "artifacts" / "bundle"):
        if (candidate / "bundle.json").is_file():
            return load_bundle(candidate), meta
    raise ModelLoadError(f"{model_uri} holds no reviewguard bundle (bundle.json)")


def _resolve_version(client: MlflowClient, uri: str) -> str:
    ref = uri.removeprefix("models:/")
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return str(client.get_model_version_by_alias(name, alias).version)
        name, version = ref.rsplit("/", 1)
        if version.isdigit():
            client.get_model_version(name, version)
            return version
        raise ModelLoadError(f"{uri}: use models:/NAME/VERSION or models:/NAME@alias")
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"model {uri} not found in the registry at {tracking_uri()}: {str(exc).splitlines()[0][:200]}"
        ) from exc


def read_population(data: str | Path) -> pd.DataFrame | None:
    """The simulator's ground truth, when the dataset has one (for hard-negative reporting)."""
    p = Path(data) / "_truth" / "populations.parquet"
    return pd.read_parquet(p, columns=["account_id", "population"]) if p.is_file() else None
