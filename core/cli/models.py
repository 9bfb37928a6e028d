"""Model commands: ``train``, ``log-run``, ``promote`` and ``config`` (registered last, in ``__init__``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from reviewguard.cli.common import (
    Config,
    MemoryLimit,
    OptionError,
    Quarantine,
    _open,
    app,
    configured_risks,
    console,
    friendly_errors,
    load_cli_config,
    missing_store_folder,
    out,
    require_store_folder,
)
from reviewguard.errors import ReviewguardError
from reviewguard.reader import DEFAULT_MEMORY_LIMIT

# ------------------------------------------------------------------ train / promote


Experiment = Annotated[str, typer.Option(help="MLflow experiment name.")]
RegisterAs = Annotated[str | None, typer.Option(help="Registered model name.")]
CreateStore = Annotated[
    bool, typer.Option(help="Create the folder of a SQLite MLFLOW_TRACKING_URI when it does not exist.")
]
DEFAULT_RUNS_DIR = "reviewguard-runs"


def _log_kept(folder: Path, *, experiment: str, register_as: str | None, client: Any) -> None:
    """Log a kept run folder; a failure says where the result is and how to log it later (exit 1)."""
    from reviewguard.model.store import tracking_uri
    from reviewguard.training.tracking import log_kept_run

    try:
        with console.status(f"logging to MLflow at {tracking_uri()}"):
            logged = log_kept_run(folder, experiment=experiment, register_as=register_as, client=client)
    except Exception as exc:
        if os.environ.get("REVIEWGUARD_DEBUG") == "1":
            raise
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        again = f" --experiment {experiment}" + (f" --register-as {register_as}" if register_as else "")
        raise ReviewguardError(
            f"logging to MLflow at {tracking_uri()} failed ({type(exc).__name__}: {first}); the trained model "
            f"and report are kept in {folder}: log them later with `reviewguard log-run {folder}{again}`"
        ) from exc
    out.print(f"MLflow run {logged['run_id']} at {tracking_uri()}", highlight=False)
    print(logged["registered_uri"] or logged["model_uri"])


@app.command()
@friendly_errors
def train(
    data: Annotated[Path, typer.Option(help="Dataset folder with a labels table.")],
    config: Config = None,
    experiment: Experiment = "reviewguard",
    register_as: RegisterAs = "reviewguard",
    quarantine: Quarantine = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
    create_store: CreateStore = False,
    keep_local: Annotated[
        Path | None,
        typer.Option(
            help="Keep the result here first, in <UTC time>-<fingerprint 12>/, then log it "
            "[default: $REVIEWGUARD_RUNS_DIR, else ./reviewguard-runs]."
        ),
    ] = None,
) -> None:
    """Train one LightGBM model per risk in the labels, log to MLflow, register it.

    The result (model bundle, report, metrics, plots) is written to a local run
    folder before it is logged; if logging fails, the message names the folder
    and `reviewguard log-run FOLDER` logs it later. The last line printed is the
    registered model URI (models:/NAME/VERSION).
    """
    from reviewguard.model.store import connect_tracking
    from reviewguard.reader import read_simulator_truth
    from reviewguard.training.pipeline import train_models
    from reviewguard.training.report import report_markdown
    from reviewguard.training.tracking import keep_run

    # Everything that can refuse the run without touching the MLflow store comes first: the config,
    # the options, the store's folder (only looked at), then the data, opened and validated.
    cfg = load_cli_config(config)
    runs_dir = keep_local or Path(os.environ.get("REVIEWGUARD_RUNS_DIR") or DEFAULT_RUNS_DIR)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise OptionError(f"--keep-local {runs_dir}: exists and is not a folder")
    missing_store_folder(create=create_store)
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, risks=configured_risks(cfg))
    require_store_folder(create=create_store)
    client = connect_tracking()  # fail fast, before hours of work
    with console.status("training"):
        result = train_models(ds, cfg, populations=read_simulator_truth(data))
    out.print(report_markdown(result), markup=False, highlight=False)
    folder = keep_run(result, cfg.raw, data_path=str(data), root=runs_dir)
    console.print(f"kept the trained model and report in {folder}", highlight=False)
    _log_kept(folder, experiment=experiment, register_as=register_as, client=client)


@app.command("log-run")
@friendly_errors
def log_run(
    folder: Annotated[Path, typer.Argument(help="A run folder kept by `reviewguard train`.")],
    experiment: Experiment = "reviewguard",
    register_as: RegisterAs = "reviewguard",
    create_store: CreateStore = False,
    again: Annotated[bool, typer.Option(help="Log it even if it was logged before (a second run).")] = False,
) -> None:
    """Log a training run kept by `train` (when logging failed there) to MLflow and register it.

    The model is checked against its fingerprint first. The last line printed is
    the registered model URI (models:/NAME/VERSION).
    """
    from reviewguard.model.store import connect_tracking
    from reviewguard.training.tracking import LOGGED_FILE, read_kept_run

    read_kept_run(folder)  # a broken or edited folder stops here, before the store is touched
    done = folder / LOGGED_FILE
    if done.is_file() and not again:
        try:
            was = json.loads(done.read_text(encoding="utf-8"))
            where = f" as {was.get('registered_uri') or was.get('model_uri')} at {was.get('tracking_uri')}"
        except (ValueError, AttributeError):
            where = ""
        raise ReviewguardError(f"{folder} was already logged{where} ({done}); pass --again to log it as another run")
    require_store_folder(create=create_store)
    client = connect_tracking()
    _log_kept(folder, experiment=experiment, register_as=register_as, client=client)


@app.command()
@friendly_errors
def promote(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    data: Annotated[Path, typer.Option(help="Dataset with labels decided after both models' test periods.")],
    config: Config = None,
    tolerance: Annotated[float, typer.Option(help="Average-precision loss allowed per risk.")] = 0.01,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Move the champion alias to the challenger if no risk gets worse beyond the tolerance.

    The labels may name the risks of the training configuration (--config, as for
    `reviewguard train`): the defaults' without it, review_spam with --config yelp.
    The config is read and the data opened and validated before the MLflow store is
    touched, so a run refused for either creates no store; a store that does not exist
    is refused, never created.
    """
    from reviewguard.model.store import connect_tracking, require_existing_store
    from reviewguard.training.promote import promote as run

    # Before the store (connecting creates a missing one): the config, then the data it allows.
    cfg = load_cli_config(config)
    ds = _open(data, memory_limit=memory_limit, risks=configured_risks(cfg))
    require_existing_store(reading=f"the registered model {name}")
    client = connect_tracking()
    result = run(client, name, ds, tolerance=tolerance, cfg=cfg)
    for line in result.reasons:
        out.print(line, highlight=False)
    if result.promoted:
        was = f"was {result.champion_before}" if result.champion_before else "there was none"
        out.print(f"promoted: {name} champion is now version {result.challenger} ({was})")
    elif result.champion_before == result.challenger:
        out.print(f"{name}: nothing to do")
    else:
        out.print(f"not promoted: {name} champion stays version {result.champion_before}")
        raise typer.Exit(1)


def show_config() -> None:
    """Print the default training configuration (TOML, with comments)."""
    from reviewguard.training.config import default_config_text

    print(default_config_text())
