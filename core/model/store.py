"""Where models live: the MLflow tracking store and registry, read side.

Serving loads a model by URI through here and never imports training:
``models:/NAME/VERSION``, ``models:/NAME@alias``, ``runs:/...`` or an explicit
local folder (a bundle or an MLflow model). The default store is a local
SQLite file; ``MLFLOW_TRACKING_URI`` is honoured. Reading never creates a
store: a SQLite store that does not exist is refused (``require_existing_store``)
before MLflow, which would create an empty one, connects. Writing (logging a
run, registering a version, moving an alias) is training's business.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from reviewguard.errors import ModelLoadError, ReviewguardError
from reviewguard.model.bundle import Bundle, load_bundle

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from reviewguard.model.predictor import Predictor

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
CHALLENGER = "challenger"
CHAMPION = "champion"


class TrackingError(ReviewguardError):
    """The MLflow tracking server or registry cannot be used."""


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_store_path(uri: str) -> Path | None:
    """The file a SQLite tracking URI names (relative to the working directory for ``sqlite:///x.db``),
    or None for any other store (a server, a database server, SQLite in memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def require_existing_store(uri: str | None = None, *, reading: str = "a model") -> None:
    """Refuse a SQLite tracking store that does not exist: reading must never create one.

    MLflow creates an empty store (tables and all) when it connects to a SQLite file that is not
    there, so a mistyped or unset ``MLFLOW_TRACKING_URI`` would leave an ``mlflow.db`` behind and
    then report the model as not found. Only looks: creates nothing.
    """
    uri = uri or tracking_uri()
    path = sqlite_store_path(uri)
    if path is None or path.exists():
        return
    raise TrackingError(
        f"MLflow tracking store {uri} does not exist (no file {path.absolute()}); reading {reading} never "
        "creates a store: set MLFLOW_TRACKING_URI to the store that holds it"
    )


def connect_tracking(uri: str | None = None) -> MlflowClient:
    """Point MLflow at ``uri`` and prove it answers, quickly, before any work is done."""
    import mlflow
    from mlflow.tracking import MlflowClient

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


def resolve_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception:
        return None


def download_bundle(model_uri: str, dest: str | Path | None = None) -> tuple[Bundle, dict[str, str]]:
    """The bundle behind ``model_uri``, and ``{"model_uri", "model_version"}`` (version "" for a folder;
    an alias, ``models:/NAME@alias``, comes back as the version it resolved to, ``models:/NAME/VERSION``).

    A registry or run URI is downloaded to ``dest`` (kept), or without ``dest`` to a
    temporary folder removed once the bundle is in memory: a daily scoring job must
    not leave a copy of the model in the temporary directory at every run.
    """
    local = Path(model_uri)
    meta = {"model_uri": model_uri, "model_version": ""}
    if local.exists():
        return _load_from(local, model_uri, None), meta
    if not model_uri.startswith(("models:/", "runs:/", "models:")):
        raise ModelLoadError(
            f"{model_uri} is neither a registry URI (models:/NAME/VERSION, models:/NAME@alias) nor an existing folder"
        )
    require_existing_store(reading=model_uri)
    client = connect_tracking()
    if model_uri.startswith("models:/"):
        # An alias moves (promote): the stamp and the download name the version it points at
        # now, so a case built from these scores reloads this model, and an alias moved between
        # resolving and downloading cannot mix two versions.
        meta["model_version"], meta["model_uri"] = _resolve_version(client, model_uri)
    pinned = meta["model_uri"]
    named = model_uri if pinned == model_uri else f"{model_uri} ({pinned})"
    expected = registered_fingerprint(client, pinned, meta["model_version"], named=named)
    if dest is not None:
        return _load_from(_download(pinned, Path(dest), named), named, expected), meta
    with tempfile.TemporaryDirectory(prefix="reviewguard-model-") as tmp:
        return _load_from(_download(pinned, Path(tmp), named), named, expected), meta


def _download(model_uri: str, dest: Path, named: str) -> Path:
    import mlflow

    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dest)))
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load model {named} from {tracking_uri()}: {str(exc).splitlines()[0][:300]}"
        ) from exc


def _load_from(folder: Path, model_uri: str, expected: str | None) -> Bundle:
    """The bundle in ``folder`` (a bundle, or an MLflow model holding one), read into memory."""
    for candidate in (folder, folder / "artifacts" / "bundle"):
        if (candidate / "bundle.json").is_file():
            return load_bundle(candidate, expected_fingerprint=expected)
    raise ModelLoadError(f"{model_uri} holds no reviewguard bundle (bundle.json)")


def load_predictor(model_uri: str) -> Predictor:
    """A predictor for the model behind ``model_uri``, stamped with its registry version and a URI
    that names it (an alias pinned to that version)."""
    from reviewguard.model.predictor import Predictor

    bundle, meta = download_bundle(model_uri)
    return Predictor(bundle, model_uri=meta["model_uri"], model_version=meta["model_version"])


def registered_fingerprint(client: MlflowClient, uri: str, version: str, *, named: str = "") -> str | None:
    """The ``model_fingerprint`` tag the registry holds for ``uri`` (what the downloaded bundle must match).

    A registry version (``models:/NAME/VERSION``; an alias is pinned to its version before, see
    ``_resolve_version``) must carry it: reviewguard tags every version it registers, so a version
    without it was put there by other means and is refused. A logged model (``models:/m-...``) or a
    run (``runs:/...``) is checked when it has the tag. ``named`` is how errors name the model.
    """
    ref = uri.removeprefix("models:/")
    if uri.startswith("models:/") and version:
        name = ref.rsplit("/", 1)[0]
        tag = client.get_model_version(name, version).tags.get("model_fingerprint")
        if not tag:
            raise ModelLoadError(
                f"{named or uri} (version {version}) has no model_fingerprint tag in the registry at {tracking_uri()}, "
                "so nothing proves the downloaded files are the model registered; register it with "
                "reviewguard train or reviewguard log-run"
            )
        return str(tag)
    try:
        if uri.startswith("runs:/"):
            return client.get_run(uri.removeprefix("runs:/").split("/", 1)[0]).data.tags.get("model_fingerprint")
        if uri.startswith("models:/"):
            return client.get_logged_model(ref.split("/", 1)[0]).tags.get("model_fingerprint")
    except Exception:
        return None  # not found: the download below says so
    return None


def _resolve_version(client: MlflowClient, uri: str) -> tuple[str, str]:
    """The registry version a ``models:/`` URI names ("" for a logged model's own id, ``models:/m-...``),
    and a URI that names that version (an alias pinned: ``models:/NAME/VERSION``; any other as given)."""
    ref = uri.removeprefix("models:/")
    if "/" not in ref and "@" not in ref:
        return "", uri
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            version = str(client.get_model_version_by_alias(name, alias).version)
            return version, f"models:/{name}/{version}"
        name, version = ref.rsplit("/", 1)
        if version.isdigit():
            client.get_model_version(name, version)
            return version, uri
        raise ModelLoadError(f"{uri}: use models:/NAME/VERSION or models:/NAME@alias")
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"model {uri} not found in the registry at {tracking_uri()}: {str(exc).splitlines()[0][:200]}"
        ) from exc
