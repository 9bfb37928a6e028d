"""The ``reviewguard`` command line: the only place that opens files for the user.

Each command turns paths into data, calls a library function, and writes the
result. Errors the package raises on purpose are printed as a message and a
non-zero exit code, never as a traceback.
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from reviewguard.errors import ReviewguardError

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


def friendly_errors(fn: F) -> F:
    """Print the package's own errors as messages; exit 1 (2 for contract breaks)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ReviewguardError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


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


@app.command()
@friendly_errors
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset to.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 20_000,
    days: Annotated[int, typer.Option(help="Length of the simulated period in days.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 7,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing non-empty folder.")] = False,
) -> None:
    """Write a simulated platform (every contract table plus labels) to a folder."""
    from reviewguard.simulator import SimConfig
    from reviewguard.simulator import simulate as run

    cfg = SimConfig(accounts=accounts, days=days, seed=seed)
    with progress_bar() as bar:
        task = bar.add_task("simulating accounts", total=accounts)
        counts = run(cfg, out_dir, overwrite=overwrite, progress=lambda done, _: bar.update(task, completed=done))
    rows = ", ".join(f"{k} {v:,}" for k, v in counts.items() if not k.startswith("_"))
    out.print(f"wrote {out_dir}: {rows}", highlight=False)


MemoryLimit = Annotated[str, typer.Option(help="DuckDB memory limit; beyond it DuckDB spills to a temporary folder.")]
DEFAULT_MEMORY_LIMIT = "4GB"


@app.command()
@friendly_errors
def validate(
    data: Annotated[Path, typer.Argument(help="Dataset folder (data contract v1).")],
    quarantine: Annotated[
        Path | None, typer.Option(help="Write rows that break a rule here (one Parquet per table) and go on.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Check a dataset against the data contract and print a report per table.

    Exit code 0: usable. 1: rows break rules (fix them or use --quarantine).
    2: a column-level problem (missing table or column, unconvertible type).
    """
    from reviewguard.engine import connect
    from reviewguard.errors import ContractError
    from reviewguard.reader import ValidationReport, open_dataset, write_quarantine

    con = connect(memory_limit=memory_limit)
    try:
        ds = open_dataset(con, data, bad_rows="quarantine")
        report = ds.report
    except ContractError as exc:
        if not isinstance(exc.report, ValidationReport):
            raise
        report = exc.report
        ds = None
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
        written = write_quarantine(ds, quarantine)
        for name, n in written.items():
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


def _open(
    data: Path,
    engine: str = "duckdb",
    quarantine: Path | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    **kw: Any,
) -> Any:
    from reviewguard.engine import connect
    from reviewguard.reader import open_dataset, write_quarantine

    # DuckDB would otherwise take 80% of the machine's memory as its buffer.
    con = connect("duckdb", memory_limit=memory_limit) if engine == "duckdb" else connect(engine)
    ds = open_dataset(con, data, bad_rows="quarantine" if quarantine else "error", **kw)
    if quarantine and ds.quarantine:
        for name, n in write_quarantine(ds, quarantine).items():
            console.print(f"quarantined {n:,} rows of {name} -> {quarantine / (name + '.parquet')}")
    return ds


def _atomic_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


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
    quarantine: Annotated[Path | None, typer.Option(help="Set bad rows aside here instead of stopping.")] = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """One row per account (or cutoff) with account_id, as_of and every registry feature."""
    import ibis

    from reviewguard.features import build_features, cutoffs_at, default_as_of

    if as_of and cutoffs:
        raise ReviewguardError("give --as-of or --cutoffs, not both")
    ds = _open(data, engine, quarantine, memory_limit)
    if cutoffs:
        reader = ds.con.read_csv if cutoffs.suffix == ".csv" else ds.con.read_parquet
        cut = reader(str(cutoffs))
        missing = {"account_id", "as_of"} - set(cut.columns)
        if missing:
            raise ReviewguardError(f"cutoffs {cutoffs}: missing column(s) {sorted(missing)}")
        cut = cut.select(
            account_id=cut.account_id.cast("string"),
            as_of=cut.as_of.cast(ibis.dtype("timestamp('UTC')")).cast("timestamp"),
        )
    else:
        moment = _parse_time(as_of, "--as-of") or default_as_of(ds)
        cut = cutoffs_at(ds, moment)
    with console.status("computing features"):
        table = build_features(ds, cut).order_by(["account_id", "as_of"]).to_pyarrow()
    _atomic_parquet(table, out_file)
    out.print(f"wrote {table.num_rows:,} rows x {table.num_columns - 2} features to {out_file}", highlight=False)


@features_app.command("docs")
@friendly_errors
def features_docs(
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")] = Path("docs/features.md"),
) -> None:
    """Regenerate docs/features.md from the feature registry."""
    from reviewguard.features.docs import render_features_markdown

    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(render_features_markdown(), encoding="utf-8")
    out.print(f"wrote {out_file}")


@app.command()
@friendly_errors
def train(
    data: Annotated[Path, typer.Option(help="Dataset folder with a labels table.")],
    config: Annotated[
        Path | None, typer.Option(help="TOML file overriding the defaults (see `reviewguard config`).")
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "reviewguard",
    register_as: Annotated[str | None, typer.Option(help="Registered model name.")] = "reviewguard",
    quarantine: Annotated[Path | None, typer.Option(help="Set bad rows aside here instead of stopping.")] = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Train one LightGBM model per risk in the labels, log to MLflow, register it.

    The last line printed is the registered model URI (models:/NAME/VERSION).
    """
    from reviewguard.training.config import load_config
    from reviewguard.training.pipeline import report_markdown, train_models
    from reviewguard.training.tracking import connect_tracking, log_training, read_population, tracking_uri

    cfg = load_config(config)
    client = connect_tracking()  # fail fast, before hours of work
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, risks=_label_risks(data, cfg))
    with console.status("training"):
        result = train_models(ds, cfg, populations=read_population(data))
    out.print(report_markdown(result), markup=False, highlight=False)
    with console.status(f"logging to MLflow at {tracking_uri()}"):
        logged = log_training(
            result, cfg.raw, experiment=experiment, register_as=register_as, data_path=str(data), client=client
        )
    out.print(f"MLflow run {logged['run_id']} at {tracking_uri()}", highlight=False)
    print(logged["registered_uri"] or logged["model_uri"])


def _label_risks(data: Path, cfg: Any) -> tuple[str, ...]:
    """Risks the labels may name: the built-in ones plus those the config declares."""
    from reviewguard.contract import DEFAULT_RISKS

    return tuple(sorted({*DEFAULT_RISKS, *cfg.risk_features}))


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
    top_k: Annotated[int, typer.Option(help="Reasons per explained row.")] = 5,
    chunk_size: Annotated[int, typer.Option(help="Accounts per chunk (bounds memory).")] = 100_000,
    resume: Annotated[bool, typer.Option(help="Continue a run that was interrupted.")] = False,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
    engine: Annotated[
        str, typer.Option(help="duckdb (one machine, one Parquet file) or pyspark (a folder of Parquet parts).")
    ] = "duckdb",
    quarantine: Annotated[Path | None, typer.Option(help="Set bad rows aside here instead of stopping.")] = None,
) -> None:
    """Score every account with the model, with reasons for the flagged ones."""
    from reviewguard.engine import connect
    from reviewguard.features import default_as_of
    from reviewguard.reader import open_dataset, write_quarantine
    from reviewguard.serving.batch import score_dataset
    from reviewguard.serving.predictor import Predictor
    from reviewguard.training.tracking import download_bundle

    if explain not in ("flagged", "all", "none"):
        raise ReviewguardError("--explain must be flagged, all or none")
    with console.status(f"loading model {model}"):
        bundle, meta = download_bundle(model)
    predictor = Predictor(bundle, model_uri=model, model_version=meta["model_version"])
    if engine == "pyspark":
        _score_on_spark(predictor, data, out_file, as_of, explain, top_k)
        return
    con = connect(memory_limit=memory_limit)
    ds = open_dataset(con, data, bad_rows="quarantine" if quarantine else "error")
    if quarantine and ds.quarantine:
        write_quarantine(ds, quarantine)
    moment = _parse_time(as_of, "--as-of") or default_as_of(ds)
    with progress_bar() as bar:
        task = bar.add_task("scoring accounts", total=None)
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
    drift_file = out_file.with_name(out_file.stem + ".drift.json")
    drift_file.write_text(json.dumps(summary["drift"], indent=2))
    out.print(f"scored {summary['accounts']:,} accounts as of {summary['as_of']} -> {out_file}", highlight=False)
    acts = ", ".join(f"{k} {v:,}" for k, v in sorted(summary["actions"].items()))
    out.print(f"actions (account x risk): {acts}", highlight=False)
    warn = summary["drift"]["warnings"]
    if warn:
        console.print(
            f"[yellow]drift:[/] PSI above {summary['drift']['threshold']} for {', '.join(warn)} "
            f"(details in {drift_file})"
        )
    else:
        out.print(f"drift: every feature's PSI is below {summary['drift']['threshold']} ({drift_file})")


@app.command()
@friendly_errors
def promote(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    data: Annotated[Path, typer.Option(help="Dataset with labels decided after both models' test periods.")],
    tolerance: Annotated[float, typer.Option(help="Average-precision loss allowed per risk.")] = 0.01,
) -> None:
    """Move the champion alias to the challenger if no risk gets worse beyond the tolerance."""
    from reviewguard.training.pipeline import features_at_labels, label_table
    from reviewguard.training.promote import compare, later_labels
    from reviewguard.training.tracking import CHALLENGER, CHAMPION, connect_tracking, download_bundle, resolve_alias

    client = connect_tracking()
    challenger_v, champion_v = resolve_alias(client, name, CHALLENGER), resolve_alias(client, name, CHAMPION)
    if challenger_v is None:
        raise ReviewguardError(f"{name} has no {CHALLENGER} version; train with --register-as {name} first")
    if challenger_v == champion_v:
        out.print(f"{name}: version {challenger_v} is already both challenger and champion; nothing to do")
        return
    challenger, _ = download_bundle(f"models:/{name}/{challenger_v}")
    champion, _ = download_bundle(f"models:/{name}/{champion_v}") if champion_v else (None, None)
    if champion is None:
        client.set_registered_model_alias(name, CHAMPION, challenger_v)
        out.print(f"{name}: no champion yet; version {challenger_v} is now champion")
        return
    ds = _open(data)
    labels = later_labels(label_table(ds), challenger, champion)
    if labels.empty:
        raise ReviewguardError(f"{data}: no labels decided after both models' test periods; nothing to compare on")
    rows = features_at_labels(ds, labels)
    result = compare(challenger, champion, rows, tolerance=tolerance)
    for line in result["reasons"]:
        out.print(line, highlight=False)
    if result["promote"]:
        client.set_registered_model_alias(name, CHAMPION, challenger_v)
        out.print(f"promoted: {name} champion is now version {challenger_v} (was {champion_v})")
    else:
        out.print(f"not promoted: {name} champion stays version {champion_v}")
        raise typer.Exit(1)


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
    import pandas as pd

    from reviewguard.datasets import YELP_COLUMNS, parse_yelp_metadata, yelp_to_contract

    if not input_file.is_file():
        raise ReviewguardError(f"{input_file} does not exist")
    try:
        raw = pd.read_csv(input_file, sep=r"\s+", header=None, names=YELP_COLUMNS, dtype=str)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ReviewguardError(f"{input_file}: cannot read as Yelp metadata: {exc}") from exc
    tables = yelp_to_contract(parse_yelp_metadata(raw, str(input_file)))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        _atomic_parquet(table, out_dir / f"{name}.parquet")
    counts = ", ".join(f"{k} {v.num_rows:,}" for k, v in tables.items())
    out.print(f"wrote {out_dir}: {counts}", highlight=False)


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
) -> None:
    """Write case.json (reproducible record) and case.html (moderator page) for accounts."""
    import pyarrow.parquet as pq

    from reviewguard.engine import connect
    from reviewguard.reader import open_dataset
    from reviewguard.serving.case import build_case, render_case_html
    from reviewguard.serving.predictor import Predictor
    from reviewguard.training.tracking import download_bundle

    table = pq.read_table(
        scores, columns=["account_id", "risk", "score", "action", "model_uri", "model_version", "as_of"]
    )
    frame = table.to_pandas()
    accounts = list(account or [])
    if top_flagged:
        flagged = frame[frame["action"] != "none"].sort_values(
            ["risk", "score", "account_id"], ascending=[True, False, True], kind="stable"
        )
        for _, g in flagged.groupby("risk"):
            accounts += [a for a in g["account_id"].head(top_flagged) if a not in accounts]
    if not accounts:
        raise ReviewguardError("name accounts with --account, or use --top-flagged N (no account is flagged)")
    ds = open_dataset(connect(), data)
    loaded: dict[str, Any] = {}
    for acc in accounts:
        rows = frame[frame["account_id"] == acc]
        if rows.empty:
            raise ReviewguardError(f"account {acc} is not in {scores}")
        uri = str(rows["model_uri"].iloc[0])
        if uri not in loaded:
            bundle, meta = download_bundle(uri)
            loaded[uri] = Predictor(bundle, model_uri=uri, model_version=meta["model_version"])
        predictor = loaded[uri]
        as_of = rows["as_of"].iloc[0].tz_convert("UTC").tz_localize(None).to_pydatetime()
        case = build_case(ds, predictor, acc, as_of, model_uri=uri, model_version=predictor.model_version)
        for r in rows.itertuples():
            d = case["decisions"].get(r.risk)
            if d is not None and (d["score"] != r.score or d["action"] != r.action):
                raise ReviewguardError(
                    f"account {acc}, {r.risk}: the scores file says {r.score!r} ({r.action}) but recomputing "
                    f"gives {d['score']!r} ({d['action']}); the data or model changed since scoring"
                )
        folder = out_dir / acc
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "case.json").write_text(json.dumps(case, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        (folder / "case.html").write_text(render_case_html(case), encoding="utf-8")
        acts = ", ".join(f"{k}: {v['action']} ({v['score']:.3f})" for k, v in case["decisions"].items())
        out.print(f"{acc}: {acts} -> {folder}/case.html", highlight=False)


@case_app.command("verify")
@friendly_errors
def case_verify(
    case_file: Annotated[Path, typer.Argument(help="A case.json written by `case build`.")],
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the one the case records).")] = None,
) -> None:
    """Reload the model from the registry, recompute the features at the recorded as-of, compare exactly."""
    from reviewguard.engine import connect
    from reviewguard.reader import open_dataset
    from reviewguard.serving.case import verify_case
    from reviewguard.serving.predictor import Predictor
    from reviewguard.training.tracking import download_bundle

    case = json.loads(case_file.read_text(encoding="utf-8"))
    bundle, meta = download_bundle(case["model"]["uri"])
    ds = open_dataset(connect(), data or Path(case["data"]["root"]))
    result = verify_case(
        case, ds, Predictor(bundle, model_uri=case["model"]["uri"], model_version=meta["model_version"])
    )
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


def _score_on_spark(predictor: Any, data: Path, out_file: Path, as_of: str | None, explain: str, top_k: int) -> None:
    """Spark writes a folder of parts; it appears under its name only when complete."""
    import shutil

    from reviewguard.engine import connect
    from reviewguard.features import default_as_of
    from reviewguard.reader import open_dataset
    from reviewguard.serving.spark import score_spark

    ds = open_dataset(connect("pyspark"), data)
    moment = _parse_time(as_of, "--as-of") or default_as_of(ds)
    tmp = out_file.with_name(f".{out_file.name}.spark-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with console.status("scoring on Spark"):
        score_spark(ds, predictor, as_of=moment, explain=explain, top_k=top_k).write.parquet(str(tmp))
    if out_file.exists():
        shutil.rmtree(out_file) if out_file.is_dir() else out_file.unlink()
    tmp.rename(out_file)
    out.print(f"scored on Spark as of {moment.isoformat()} -> {out_file}/ (Parquet parts)", highlight=False)


@app.command("config")
def show_config() -> None:
    """Print the default training configuration (TOML, with comments)."""
    from reviewguard.training.config import default_config_text

    print(default_config_text())


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
