"""The ``reviewguard`` command line: the only place that turns the user's paths into data.

Each command parses its options, calls one library function, and prints.
Errors the package raises on purpose are printed as a message and a non-zero
exit code, never as a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from reviewguard.contract import TABLES
from reviewguard.errors import ReviewguardError
from reviewguard.reader import DEFAULT_MEMORY_LIMIT

# MLflow's download bars would interleave with ours.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

app = typer.Typer(
    help="Score platform accounts for review extortion and fake engagement, with reasons.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable[..., Any])

MemoryLimit = Annotated[str, typer.Option(help="DuckDB memory limit; beyond it DuckDB spills to a temporary folder.")]
Quarantine = Annotated[Path | None, typer.Option(help="Set bad rows aside here (one Parquet per table) and go on.")]


def say_error(message: str) -> None:
    """``error: ...`` on stderr, never wrapped (one line stays one line), user text never read as markup."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def friendly_errors(fn: F) -> F:
    """Print errors as one message, never a traceback: the package's own and file errors exit 1.

    Anything else is a bug in reviewguard: it is still one line (exit 2), naming
    the exception; ``REVIEWGUARD_DEBUG=1`` shows the traceback.
    """
    import click

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except ReviewguardError as exc:
            say_error(str(exc))
            raise typer.Exit(1) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            say_error(f"{where}{exc.strerror or exc}")
            raise typer.Exit(1) from None
        except Exception as exc:
            if os.environ.get("REVIEWGUARD_DEBUG") == "1":
                raise
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            say_error(
                f"unexpected {type(exc).__name__}: {first} "
                "(a bug in reviewguard: please report it; REVIEWGUARD_DEBUG=1 shows the traceback)"
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


# Scoring, features and cases never use labels: a labels table they cannot read must not stop them.
WITHOUT_LABELS = tuple(t for t in TABLES if t != "labels")


def require_store_folder(*, create: bool = False) -> None:
    """A SQLite tracking store whose folder is missing is a typo, not a new store: refuse unless asked."""
    from reviewguard.model.store import tracking_uri

    uri = tracking_uri()
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
    if str(path) in ("", ":memory:") or path.parent.is_dir():
        return
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"created the folder {path.parent} for the MLflow store {uri}", highlight=False)
        return
    raise ReviewguardError(
        f"MLflow tracking store {uri}: the folder {path.parent} does not exist, so this would be a new, empty "
        "store; fix MLFLOW_TRACKING_URI, or pass --create-store to create it"
    )


def load_model(uri: str) -> Any:
    """The predictor behind ``uri``; a registry URI first needs an existing store."""
    from reviewguard.model.store import load_predictor

    if uri.startswith(("models:", "runs:")):
        require_store_folder()
    return load_predictor(uri)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and os.environ.get("REVIEWGUARD_PROGRESS") != "1",
    )


def _open(
    data: Path,
    *,
    quarantine: Path | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    engine: str = "duckdb",
    risks: tuple[str, ...] | None = None,
    tables: tuple[str, ...] | None = None,
) -> Any:
    """The one way a command opens a dataset: the engine with its memory limit, checks, quarantine."""
    from reviewguard.reader import load_dataset, write_quarantine

    ds = load_dataset(
        data,
        engine=engine,
        memory_limit=memory_limit,
        bad_rows="quarantine" if quarantine else "error",
        risks=risks,
        tables=tables,
    )
    for w in ds.report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
    if quarantine and ds.quarantine:
        for name, n in write_quarantine(ds, quarantine).items():
            console.print(f"quarantined {n:,} rows of {name} -> {quarantine / (name + '.parquet')}", highlight=False)
    return ds


def _parse_time(value: str | None, what: str) -> Any:
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ReviewguardError(
            f"{what}: cannot read {value!r} as a time (use ISO-8601, e.g. 2026-05-30T00:00:00Z)"
        ) from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


# ------------------------------------------------------------------ simulate / validate


@app.command()
@friendly_errors
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset to.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 20_000,
    days: Annotated[int, typer.Option(help="Length of the simulated period in days.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 7,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing non-empty folder.")] = False,
    labels: Annotated[
        str,
        typer.Option(
            help="Who gets labelled: 'audit' (detected abusers, reviewed hard negatives and a random audit) "
            "or 'complaints' (only accounts that merchants' reports, users' complaints or the like alert "
            "put in a moderator's queue; no random audit)."
        ),
    ] = "audit",
    difficulty: Annotated[
        str,
        typer.Option(
            help="How much the populations overlap: 'easy' (every population has a tell-tale feature), "
            "'realistic' or 'hard' (shared devices among ordinary people, farms and crews sharing nothing, "
            "fast humans, large legitimate claims, the Dianping profile, varied language); see docs/simulator.md."
        ),
    ] = "easy",
) -> None:
    """Write a simulated platform (every contract table plus labels) to a folder."""
    from reviewguard.simulator import DIFFICULTIES, LABEL_REGIMES, SimConfig
    from reviewguard.simulator import simulate as run

    if labels not in LABEL_REGIMES:
        raise typer.BadParameter(f"must be one of {', '.join(LABEL_REGIMES)}", param_hint="--labels")
    if difficulty not in DIFFICULTIES:
        raise typer.BadParameter(f"must be one of {', '.join(DIFFICULTIES)}", param_hint="--difficulty")
    cfg = SimConfig(accounts=accounts, days=days, seed=seed, label_regime=labels, difficulty=difficulty)
    with progress_bar() as bar:
        task = bar.add_task("simulating accounts", total=accounts)
        counts = run(cfg, out_dir, overwrite=overwrite, progress=lambda done, _: bar.update(task, completed=done))
    rows = ", ".join(f"{k} {v:,}" for k, v in counts.items() if not k.startswith("_"))
    out.print(f"wrote {out_dir}: {rows}", highlight=False)


@app.command()
@friendly_errors
def validate(
    data: Annotated[Path, typer.Argument(help="Dataset folder (data contract v1).")],
    quarantine: Quarantine = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Check a dataset against the data contract and print a report per table.

    Exit code 0: usable. 1: rows break rules (fix them or use --quarantine).
    2: a column-level problem (missing table or column, unconvertible type).
    """
    from reviewguard.errors import ContractError
    from reviewguard.reader import ValidationReport, load_dataset, write_quarantine

    try:
        ds = load_dataset(data, memory_limit=memory_limit, bad_rows="quarantine")
        report = ds.report
    except ContractError as exc:
        if not isinstance(exc.report, ValidationReport):
            # A table that cannot be read at all (corrupt page, bad bytes): unusable.
            say_error(str(exc))
            raise typer.Exit(2) from None
        report, ds = exc.report, None
    _print_report(report)
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    if report.fatal:
        console.print("[bold red]unusable:[/] column-level problems above stop every run.")
        raise typer.Exit(2)
    if report.violations and quarantine is None:
        n = sum(t.bad_rows for t in report.tables.values())
        console.print(f"[bold red]{n:,} rows break the contract.[/] Fix them, or rerun with --quarantine DIR.")
        raise typer.Exit(1)
    if report.violations and quarantine is not None and ds is not None:
        for name, n in write_quarantine(ds, quarantine).items():
            out.print(f"quarantined {n:,} rows of {name} -> {quarantine / (name + '.parquet')}", highlight=False)
    out.print("[green]ok:[/] the dataset is usable" + (" with the rows above set aside." if report.violations else "."))


def _print_report(report: Any) -> None:
    table = RichTable(title=f"data contract v{report.contract_version}: {report.root}")
    for col in ("table", "source", "rows", "valid", "problems"):
        table.add_column(col)
    for name, t in report.tables.items():
        problems = "; ".join(f"{v.column}: {v.rule}" + (f" ({v.count:,})" if v.count else "") for v in t.violations)
        table.add_row(
            name, Path(t.source).name if t.source else "-", f"{t.rows:,}", f"{t.valid_rows:,}", problems or "ok"
        )
    out.print(table)
    if report.violations:
        out.print("Problems, with a few offending rows:")
        out.print(report.summary(), highlight=False, markup=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


# ------------------------------------------------------------------ features

features_app = typer.Typer(help="Compute features, or regenerate their documentation.", no_args_is_help=True)
app.add_typer(features_app, name="features")


@features_app.command("build")
@friendly_errors
def features_build(
    data: Annotated[Path, typer.Option(help="Dataset folder (data contract v1).")],
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    as_of: Annotated[str | None, typer.Option(help="One as-of moment for every account (UTC).")] = None,
    cutoffs: Annotated[Path | None, typer.Option(help="Parquet/CSV with account_id, as_of per row.")] = None,
    engine: Annotated[str, typer.Option(help="duckdb (in-process) or pyspark.")] = "duckdb",
    quarantine: Quarantine = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """One row per account (or cutoff) with account_id, as_of and every registry feature."""
    from reviewguard.features import build_features, cutoffs_at, default_as_of
    from reviewguard.files import write_parquet_atomic

    if as_of and cutoffs:
        raise ReviewguardError("give --as-of or --cutoffs, not both")
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, engine=engine, tables=WITHOUT_LABELS)
    if cutoffs:
        cut = _read_cutoffs(ds.con, cutoffs)
    else:
        cut = cutoffs_at(ds, _parse_time(as_of, "--as-of") or default_as_of(ds))
    with console.status("computing features"):
        table = build_features(ds, cut).order_by(["account_id", "as_of"]).to_pyarrow()
    write_parquet_atomic(table, out_file)
    out.print(f"wrote {table.num_rows:,} rows x {table.num_columns - 2} features to {out_file}", highlight=False)


def _read_cutoffs(con: Any, path: Path) -> Any:
    import ibis

    from reviewguard.engine import materialize
    from reviewguard.reader import engine_reason

    if not path.is_file():
        raise ReviewguardError(f"cutoffs {path}: no such file")
    try:
        reader = con.read_csv if path.suffix.lower() == ".csv" else con.read_parquet
        cut = reader(str(path))
        missing = {"account_id", "as_of"} - set(cut.columns)
        if missing:
            raise ReviewguardError(f"cutoffs {path}: missing column(s) {sorted(missing)}")
        cut = cut.select(
            account_id=cut.account_id.cast("string"),
            as_of=cut.as_of.cast(ibis.dtype("timestamp('UTC')")).cast("timestamp"),
        )
        # Read it all now, so that a corrupt page or bad byte is reported as this file's problem.
        return materialize(con, "cutoffs", cut)
    except ReviewguardError:
        raise
    except Exception as exc:
        raise ReviewguardError(f"cutoffs {path}: cannot read: {engine_reason(exc)}") from exc


@features_app.command("docs")
@friendly_errors
def features_docs(
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")] = Path("docs/features.md"),
) -> None:
    """Regenerate docs/features.md from the feature registry."""
    from reviewguard.features.docs import render_features_markdown
    from reviewguard.files import write_text_atomic

    write_text_atomic(out_file, render_features_markdown())
    out.print(f"wrote {out_file}")


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
    config: Annotated[
        Path | None, typer.Option(help="TOML file overriding the defaults (see `reviewguard config`).")
    ] = None,
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
    from reviewguard.contract import DEFAULT_RISKS
    from reviewguard.model.store import connect_tracking
    from reviewguard.reader import read_simulator_truth
    from reviewguard.training.config import load_config
    from reviewguard.training.pipeline import train_models
    from reviewguard.training.report import report_markdown
    from reviewguard.training.tracking import keep_run

    if config is not None and config.is_file():
        try:
            config.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReviewguardError(f"{config}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    cfg = load_config(config)
    runs_dir = keep_local or Path(os.environ.get("REVIEWGUARD_RUNS_DIR") or DEFAULT_RUNS_DIR)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise ReviewguardError(f"--keep-local {runs_dir}: exists and is not a folder")
    require_store_folder(create=create_store)
    client = connect_tracking()  # fail fast, before hours of work
    risks = tuple(sorted({*DEFAULT_RISKS, *cfg.risk_features}))
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, risks=risks)
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
    tolerance: Annotated[float, typer.Option(help="Average-precision loss allowed per risk.")] = 0.01,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Move the champion alias to the challenger if no risk gets worse beyond the tolerance."""
    from reviewguard.model.store import connect_tracking
    from reviewguard.training.promote import promote as run

    require_store_folder()
    client = connect_tracking()
    result = run(client, name, _open(data, memory_limit=memory_limit), tolerance=tolerance)
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


# ------------------------------------------------------------------ score


@app.command()
@friendly_errors
def score(
    model: Annotated[str, typer.Option(help="models:/NAME/VERSION, models:/NAME@alias, or a bundle folder.")],
    data: Annotated[Path, typer.Option(help="Dataset folder (data contract v1).")],
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this moment (UTC); default: after the latest event.")
    ] = None,
    explain: Annotated[str, typer.Option(help="flagged, all or none: which rows get SHAP reasons.")] = "flagged",
    top_k: Annotated[int, typer.Option(help="Reasons shown per explained row (display only).")] = 5,
    chunk_size: Annotated[int, typer.Option(help="Accounts per chunk (bounds memory).")] = 100_000,
    resume: Annotated[bool, typer.Option(help="Continue a run that was interrupted.")] = False,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
    engine: Annotated[
        str, typer.Option(help="duckdb (one machine, one Parquet file) or pyspark (a folder of Parquet parts).")
    ] = "duckdb",
    quarantine: Quarantine = None,
    allow_over_budget: Annotated[
        bool, typer.Option(help="Exit 0 even when an action reaches more than twice its budgeted share of accounts.")
    ] = False,
) -> None:
    """Score every account with the model, with reasons for the flagged ones.

    Prints each action's share of the accounts against its budget (the policy's ``max_share``) and
    exits with status 3 when one is more than twice its budget, so a broken model or broken data
    cannot silently act on a platform (the scores file is complete either way).
    """
    from reviewguard.features import default_as_of

    if explain not in ("flagged", "all", "none"):
        raise ReviewguardError("--explain must be flagged, all or none")
    with console.status(f"loading model {model}"):
        predictor = load_model(model)
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, engine=engine, tables=WITHOUT_LABELS)
    moment = _parse_time(as_of, "--as-of") or default_as_of(ds)
    if engine == "pyspark":
        from reviewguard.serving.spark import write_scores_spark

        with console.status("scoring on Spark"):
            write_scores_spark(ds, predictor, out_file, as_of=moment, explain=explain, top_k=top_k)
        out.print(f"scored on Spark as of {moment.isoformat()} -> {out_file}/ (Parquet parts)", highlight=False)
        return
    import pyarrow as pa

    from reviewguard.serving.batch import score_dataset

    with progress_bar() as bar:
        task = bar.add_task("scoring accounts", total=None)
        try:
            summary = score_dataset(
                ds,
                predictor,
                out_file,
                as_of=moment,
                explain=explain,
                top_k=top_k,
                chunk_size=chunk_size,
                resume=resume,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except (ValueError, pa.ArrowException) as exc:
            # A manifest or part left by a killed run that was itself cut short (a full disk).
            if not resume:
                raise
            from reviewguard.reader import engine_reason

            raise ReviewguardError(
                f"--resume: the unfinished run in {out_file}.parts cannot be read ({engine_reason(exc)}); "
                "remove that folder and rerun without --resume"
            ) from exc
    out.print(f"scored {summary['accounts']:,} accounts as of {summary['as_of']} -> {out_file}", highlight=False)
    acts = ", ".join(f"{k} {v:,}" for k, v in sorted(summary["actions"].items()))
    out.print(f"actions (account x risk): {acts}", highlight=False)
    over = []
    for rate in summary["rates"]:
        flag = "  OVER TWICE THE BUDGET" if rate.over_budget else ""
        out.print(
            f"  {rate.risk} {rate.action} or heavier: {rate.accounts:,} accounts, {rate.share:.3%} "
            f"(budget {rate.max_share:.2%}){flag}",
            highlight=False,
        )
        if rate.over_budget:
            over.append(rate)
    drift = summary["drift"]
    if drift["warnings"]:
        console.print(
            f"[yellow]drift:[/] PSI above {drift['threshold']} for {', '.join(drift['warnings'])} "
            f"(details in {summary['drift_file']})"
        )
    else:
        out.print(f"drift: every feature's PSI is below {drift['threshold']} ({summary['drift_file']})")
    if over and not allow_over_budget:
        names = ", ".join(f"{r.risk} {r.action} ({r.share:.2%} > 2 x {r.max_share:.2%})" for r in over)
        console.print(
            f"[red]error:[/] over budget: {names}; the scores are in {out_file}, but check the model and the "
            "data before acting on them (--allow-over-budget to accept)"
        )
        raise typer.Exit(3)


# ------------------------------------------------------------------ datasets

datasets_app = typer.Typer(help="Convert public datasets into the data contract.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("yelp")
@friendly_errors
def datasets_yelp(
    input_file: Annotated[Path, typer.Option("--input", help="YelpChi/YelpNYC metadata file (.gz or text).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
) -> None:
    """Yelp filtered-review metadata -> accounts, reviews and labels (risk review_spam).

    Train on it with `reviewguard train --data DIR --config yelp`.
    """
    from reviewguard.datasets import read_yelp_metadata, yelp_to_contract
    from reviewguard.files import write_parquet_atomic

    tables = yelp_to_contract(read_yelp_metadata(input_file))
    for name, table in tables.items():
        write_parquet_atomic(table, out_dir / f"{name}.parquet")
    counts = ", ".join(f"{k} {v.num_rows:,}" for k, v in tables.items())
    out.print(f"wrote {out_dir}: {counts}", highlight=False)


# ------------------------------------------------------------------ cases

case_app = typer.Typer(
    help="Moderation case files: build one per decision, verify it reproduces.", no_args_is_help=True
)
app.add_typer(case_app, name="case")


@case_app.command("build")
@friendly_errors
def case_build(
    scores: Annotated[Path, typer.Option(help="Scores file written by `reviewguard score`.")],
    data: Annotated[Path, typer.Option(help="The dataset folder that was scored.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for <account>/case.json and case.html.")],
    account: Annotated[list[str] | None, typer.Option(help="Account id (repeat for several).")] = None,
    top_flagged: Annotated[
        int, typer.Option(help="Also build cases for the N highest-scored flagged accounts per risk.")
    ] = 0,
    quarantine: Quarantine = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Write case.json (reproducible record) and case.html (moderator page) for accounts.

    Each goes to ``OUT/<slug>-<hash>/``, a name derived from the account id (the id is in case.json).
    """
    from reviewguard.serving.case import build_case, check_against_scores, select_cases, write_case

    frame = _read_scores(scores)
    accounts = select_cases(frame, list(account or []), top_flagged)
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, tables=WITHOUT_LABELS)
    loaded: dict[str, Any] = {}
    for acc in accounts:
        rows = frame[frame["account_id"] == acc]
        uri = str(rows["model_uri"].iloc[0])
        if uri not in loaded:
            loaded[uri] = load_model(uri)
        predictor = loaded[uri]
        as_of = rows["as_of"].iloc[0].tz_convert("UTC").tz_localize(None).to_pydatetime()
        case = build_case(ds, predictor, acc, as_of, model_uri=uri, model_version=predictor.model_version)
        check_against_scores(case, rows)
        folder = write_case(case, out_dir)
        acts = ", ".join(f"{k}: {v['action']} ({v['score']:.3f})" for k, v in case["decisions"].items())
        out.print(f"{acc}: {acts} -> {folder}/case.html", highlight=False)


SCORE_COLUMNS = ["account_id", "risk", "score", "action", "model_uri", "model_version", "as_of"]


def _read_scores(path: Path) -> Any:
    """The columns of a scores file that cases need, or one line naming the file and the cause."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reviewguard.reader import engine_reason

    if not path.exists():
        raise ReviewguardError(f"scores {path}: no such file")
    try:
        schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
        missing = [c for c in SCORE_COLUMNS if c not in schema.names]
        if missing:
            raise ReviewguardError(f"scores {path}: missing column(s) {missing}; is it a `reviewguard score` output?")
        frame = pq.read_table(path, columns=SCORE_COLUMNS).to_pandas()
    except ReviewguardError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReviewguardError(f"scores {path}: cannot read: {engine_reason(exc)}") from exc
    if frame["as_of"].dt.tz is None:
        frame["as_of"] = frame["as_of"].dt.tz_localize("UTC")
    return frame


@case_app.command("verify")
@friendly_errors
def case_verify(
    case_file: Annotated[Path, typer.Argument(help="A case.json written by `case build`.")],
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the one the case records).")] = None,
    quarantine: Quarantine = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Reload the model from the registry, recompute the features at the recorded as-of, compare exactly."""
    from reviewguard.serving.case import verify_case
    from reviewguard.serving.case_record import read_case

    case = read_case(case_file)
    predictor = load_model(case["model"]["uri"])
    ds = _open(
        data or Path(case["data"]["root"]), quarantine=quarantine, memory_limit=memory_limit, tables=WITHOUT_LABELS
    )
    result = verify_case(case, ds, predictor)
    for risk, r in result["risks"].items():
        out.print(
            f"{risk}: recorded {r['recorded_score']!r} ({r['recorded_action']}), recomputed "
            f"{r['recomputed_score']!r} ({r['recomputed_action']}): {'exact' if r['exact'] else 'DIFFERENT'}",
            highlight=False,
        )
    if not result["reproduced"]:
        for p in result["problems"]:
            console.print(f"[red]{p}[/]", highlight=False)
        out.print("NOT REPRODUCED")
        raise typer.Exit(1)
    out.print("REPRODUCED: every score and action matches exactly")


@case_app.command("decide")
@friendly_errors
def case_decide(
    case_file: Annotated[Path, typer.Argument(help="A case.json written by `case build`.")],
    decision: Annotated[str, typer.Option(help="upheld, overturned or dismissed.")],
    by: Annotated[str, typer.Option(help="The moderator's id.")],
    labels: Annotated[Path, typer.Option(help="Dataset folder whose labels and enforcement tables get the rows.")],
    note: Annotated[str, typer.Option(help="Why, in the moderator's words.")] = "",
    risk: Annotated[str | None, typer.Option(help="The risk decided (needed when several have an action).")] = None,
) -> None:
    """Record a moderator's decision: a labels row (the next `train` learns from it) and an enforcement row."""
    from reviewguard.serving.case_record import read_case
    from reviewguard.serving.decide import append_decision, decide_case

    case = read_case(case_file)
    rows = decide_case(case, decision=decision, by=by, note=note, risk=risk)
    written = append_decision(labels, case, rows)
    what = f"label {rows.label['label']} ({rows.label['source']})"
    if rows.enforcement is not None:
        what += f", enforcement {rows.enforcement['action']} ({rows.enforcement['outcome']})"
    out.print(f"{case['account_id']} {rows.label['risk']}: {what} -> {', '.join(map(str, written))}", highlight=False)


@app.command("config")
def show_config() -> None:
    """Print the default training configuration (TOML, with comments)."""
    from reviewguard.training.config import default_config_text

    print(default_config_text())


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
