"""MLflow at the edge, write side: log a training run, register the model.

A training result is first kept in a local folder (:func:`keep_run`) and then
logged from it (:func:`log_kept_run`), so a tracking store that fails while
logging loses nothing: ``reviewguard log-run FOLDER`` logs the folder later.
A tracking server that cannot be reached fails the run before any model is
registered (``reviewguard.model.store.connect_tracking``), and a registration
that fails half-way is rolled back. Reading models back is ``reviewguard.model.store``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

import reviewguard
from reviewguard.model.bundle import Bundle, load_bundle, save_bundle
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


RUN_FORMAT = "reviewguard-run"
RUN_FILE = "run.json"
LOGGED_FILE = "logged.json"


def keep_run(result: TrainResult, config_raw: dict[str, Any], *, data_path: str, root: str | Path) -> Path:
    """Write the training result to ``root/<UTC time>-<fingerprint 12>/`` before MLflow sees it.

    The folder holds everything ``log_kept_run`` logs: ``bundle/`` (the model),
    ``report.md``, ``metrics.json``, ``plots/``, ``label_features.parquet`` and
    ``run.json`` (tags, parameters, flat metrics). It is written under a
    ``.partial`` name and renamed when complete, so a folder without that suffix
    is whole.
    """
    bundle = result.bundle
    fingerprint = bundle.fingerprint()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(root) / f"{stamp}-{fingerprint[:12]}"
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_bundle(bundle, tmp / "bundle")
    (tmp / "report.md").write_text(report_markdown(result), encoding="utf-8")
    (tmp / "metrics.json").write_text(json.dumps(_metrics_detail(result), indent=2), encoding="utf-8")
    for name, fig in result.figures.items():
        target = (tmp / "plots" / name).resolve()
        if tmp.resolve() not in target.parents:
            raise TrackingError(f"plot name {name!r} leaves the run folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target)
    result.label_features.to_parquet(tmp / "label_features.parquet", index=False)
    run = {
        "format": RUN_FORMAT,
        "format_version": 1,
        "model_fingerprint": fingerprint,
        "tags": {
            "reviewguard.version": reviewguard.__version__,
            "feature_set_version": bundle.feature_set_version,
            "policy_version": bundle.policy_version,
            "data_fingerprint": result.data_fingerprint,
            "features_digest": result.features_digest,
            "model_fingerprint": fingerprint,
            "data_path": data_path,
        },
        "params": _flatten({k: v for k, v in config_raw.items() if k not in ("policy", "baselines")}),
        "metrics": result.flat_metrics(),
    }
    (tmp / RUN_FILE).write_text(json.dumps(run, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    tmp.rename(folder)
    return folder


def _metrics_detail(result: TrainResult) -> dict[str, Any]:
    return {
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
    }


def read_kept_run(folder: str | Path) -> tuple[dict[str, Any], Bundle]:
    """A folder written by :func:`keep_run`: its ``run.json`` and its bundle (fingerprint-checked)."""
    from reviewguard.model.bundle_check import read_json_object

    folder = Path(folder)
    if not folder.is_dir():
        raise TrackingError(f"{folder}: no such folder (log-run takes a folder written by reviewguard train)")
    run = read_json_object(folder / RUN_FILE)
    if run.get("format") != RUN_FORMAT or not isinstance(run.get("tags"), dict):
        raise TrackingError(f"{folder / RUN_FILE}: not a reviewguard training run")
    for name in ("report.md", "metrics.json", "label_features.parquet"):
        if not (folder / name).is_file():
            raise TrackingError(f"{folder / name}: missing; the run folder is incomplete")
    bundle = load_bundle(folder / "bundle", expected_fingerprint=str(run.get("model_fingerprint")))
    return run, bundle


def log_kept_run(
    folder: str | Path,
    *,
    experiment: str,
    register_as: str | None,
    client: MlflowClient,
) -> dict[str, Any]:
    """Log a kept run folder to MLflow and register its model; record the outcome in ``logged.json``."""
    folder = Path(folder)
    run_meta, bundle = read_kept_run(folder)
    mlflow.set_experiment(experiment)
    fingerprint = bundle.fingerprint()
    features = pd.read_parquet(folder / "label_features.parquet")
    with mlflow.start_run() as run:
        mlflow.set_tags(run_meta["tags"])
        mlflow.log_params(run_meta.get("params", {}))
        mlflow.log_metrics({k: float(v) for k, v in run_meta.get("metrics", {}).items()})
        mlflow.log_artifact(str(folder / "report.md"))
        mlflow.log_dict(bundle.policy.to_dict(), "policy.json")
        mlflow.log_artifact(str(folder / "metrics.json"))
        if (folder / "plots").is_dir():
            mlflow.log_artifacts(str(folder / "plots"), "plots")
        digest = str(run_meta["tags"].get("features_digest", ""))
        ds = from_pandas(features, name="label_features", digest=digest[:16])
        mlflow.log_input(ds, context="training")

        names = sorted({f for m in bundle.risks.values() for f in m.features})
        example = features.head(5)[["account_id", "decided_at", *names]].rename(columns={"decided_at": "as_of"})
        example = example.assign(as_of=example["as_of"].astype(str), **{n: example[n].astype("float64") for n in names})
        with warnings.catch_warnings():
            # MLflow hints about the integer `top_k` parameter; features are float64 throughout.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={"bundle": str(folder / "bundle")},
                input_example=example,
                signature=infer_signature(
                    example,
                    portable_frame(
                        Predictor(bundle).predict(example.assign(as_of=pd.to_datetime(example["as_of"])), explain="all")
                    ),
                    params=INFERENCE_PARAMS,
                ),
                pip_requirements=_requirements(),
                tags={"model_fingerprint": fingerprint},
                metadata={
                    "reviewguard_version": reviewguard.__version__,
                    "feature_set_version": bundle.feature_set_version,
                    "policy_version": bundle.policy_version,
                    "model_fingerprint": fingerprint,
                },
            )
        out = {"run_id": run.info.run_id, "model_uri": info.model_uri, "version": None, "registered_uri": None}
    if register_as:
        version = register(client, register_as, info.model_uri, run.info.run_id, bundle, model_id=info.model_id)
        out["version"] = version
        out["registered_uri"] = f"models:/{register_as}/{version}"
    (folder / LOGGED_FILE).write_text(
        json.dumps({**out, "tracking_uri": mlflow.get_tracking_uri(), "experiment": experiment}, indent=2),
        encoding="utf-8",
    )
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
    """Log the run and the model; register it and set aliases. Returns run id, model URI, version.

    The same path as ``reviewguard train``: the result is kept in a temporary folder, then logged.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep_run(result, config_raw, data_path=data_path, root=tmp)
        return log_kept_run(folder, experiment=experiment, register_as=register_as, client=client)


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
