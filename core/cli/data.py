"""Data commands: ``simulate``, ``validate``, ``features build|docs``, ``datasets yelp``."""

from __future__ import annotations

import contextlib
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from reviewguard.cli.common import (
    WITHOUT_LABELS,
    Config,
    MemoryLimit,
    OptionError,
    Quarantine,
    _open,
    _parse_time,
    app,
    configured_risks,
    console,
    friendly_errors,
    load_cli_config,
    memory_message,
    out,
    progress_bar,
    say_error,
    usage_rule,
)
from reviewguard.engine import out_of_memory
from reviewguard.errors import ReviewguardError
from reviewguard.reader import DEFAULT_MEMORY_LIMIT

# ------------------------------------------------------------------ simulate / validate


@app.command()
@friendly_errors
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset to.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts (at least 50).")] = 20_000,
    days: Annotated[int, typer.Option(help="Length of the simulated period in days (at least 14).")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed (0 or more); the same seed gives byte-identical files.")] = 7,
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
    ] = "realistic",
) -> None:
    """Write a simulated platform (every contract table plus labels) to a folder."""
    from reviewguard.simulator import DIFFICULTIES, LABEL_REGIMES, SimConfig, check_size
    from reviewguard.simulator import simulate as run

    with usage_rule():  # before anything is written
        check_size(accounts, days, seed, prefix="--")
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
    config: Config = None,
) -> None:
    """Check a dataset against the data contract and print a report per table.

    Labels may name the risks of the training configuration (--config, as for
    `reviewguard train`): the defaults' without it, review_spam with --config yelp.

    Exit code 0: usable. 1: rows break rules (fix them or use --quarantine).
    2: a column-level problem (missing table or column, unconvertible type),
    a --config that cannot be read, or a --memory-limit too low to read the data.
    """
    from reviewguard.checks import preset_hints
    from reviewguard.errors import ConfigError, ContractError
    from reviewguard.reader import ValidationReport, load_dataset, write_quarantine

    try:
        cfg = load_cli_config(config)
    except ConfigError as exc:
        # Not a verdict on the data (exit 1 would read as "rows break rules"): nothing was checked.
        say_error(str(exc))
        raise typer.Exit(2) from None
    try:
        ds = load_dataset(data, memory_limit=memory_limit, bad_rows="quarantine", risks=configured_risks(cfg))
        report = ds.report
    except ContractError as exc:
        if not isinstance(exc.report, ValidationReport):
            # A table that cannot be read at all (corrupt page, bad bytes): unusable.
            say_error(str(exc))
            raise typer.Exit(2) from None
        report, ds = exc.report, None
    except Exception as exc:
        if not out_of_memory(exc) or os.environ.get("REVIEWGUARD_DEBUG") == "1":
            raise
        # Exit 1 would read as "rows break rules": running out of memory is no verdict on them.
        say_error(memory_message(exc, memory_limit))
        raise typer.Exit(2) from None
    _print_report(report)
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    if report.fatal:
        console.print("[bold red]unusable:[/] column-level problems above stop every run.")
        raise typer.Exit(2)
    if report.violations and quarantine is None:
        for hint in preset_hints(report.violations):
            out.print(hint, highlight=False, markup=False, soft_wrap=True)
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

    if as_of is not None and cutoffs is not None:
        raise OptionError("give --as-of or --cutoffs, not both")
    moment = _parse_time(as_of, "--as-of")  # a usage error stops before the data is read
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, engine=engine, tables=WITHOUT_LABELS)
    cut = _read_cutoffs(ds.con, cutoffs) if cutoffs else cutoffs_at(ds, moment or default_as_of(ds))
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
        if out_of_memory(exc):
            raise  # the file is fine: the memory limit is too low (the command line says so)
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


# ------------------------------------------------------------------ datasets

datasets_app = typer.Typer(help="Convert public datasets into the data contract.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("yelp")
@friendly_errors
def datasets_yelp(
    input_file: Annotated[Path, typer.Option("--input", help="YelpChi/YelpNYC metadata file (.gz or text).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
    decided_at: Annotated[
        str,
        typer.Option(
            "--decided-at",
            help="When a label counts as decided: end_of_data (Yelp's filter was observed when the data was "
            "collected; every label at that moment) or last_review (the day after each account's last review).",
        ),
    ] = "end_of_data",
    collected_on: Annotated[
        str | None,
        typer.Option(
            "--collected-on",
            help="With end_of_data: the collection date (YYYY-MM-DD), after every review and not after today (UTC).",
        ),
    ] = None,
) -> None:
    """Yelp filtered-review metadata -> accounts, reviews and labels (risk review_spam).

    With --decided-at last_review, train on it with `reviewguard train --data DIR --config yelp`
    (its time backtest needs decision times that differ); with end_of_data every label is decided
    at one moment, the moment the filter was observed, and models are judged by cross-validation.
    """
    from reviewguard.datasets import check_decided_at, read_yelp_metadata, yelp_to_contract
    from reviewguard.files import write_parquet_atomic

    with usage_rule():  # the library's rule, under the options' names, before the file is read
        check_decided_at(decided_at, collected_on, names=("--decided-at", "--collected-on"))
    collected = _collection_date(collected_on, "--collected-on") if collected_on is not None else None
    tables = yelp_to_contract(
        read_yelp_metadata(input_file),
        decided_at=decided_at,  # checked by check_decided_at above
        collected_on=collected,
    )
    for name, table in tables.items():
        write_parquet_atomic(table, out_dir / f"{name}.parquet")
    counts = ", ".join(f"{k} {v.num_rows:,}" for k, v in tables.items())
    out.print(f"wrote {out_dir}: {counts}", highlight=False)


def _collection_date(value: str, option: str) -> date:
    """A collection date: an ISO calendar date, spelt YYYY-MM-DD and nothing else, that keeps the
    library's rule for a collection date (``check_collected_on``: not after today, UTC)."""
    from reviewguard.datasets import check_collected_on

    # date.fromisoformat also reads 20130101 and week dates (2013-W01-1): a form the help does
    # not promise, so a typo of the one it does could pass as another date.
    day: date | None = None
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        with contextlib.suppress(ValueError):  # 2013-02-30
            day = date.fromisoformat(value)
    if day is None:
        raise OptionError(f"{option} {value!r} is not an ISO calendar date YYYY-MM-DD (e.g. 2013-05-01)")
    with usage_rule():  # checked before the file is read
        check_collected_on(day, name=option)
    return day
