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


@app.command()
@friendly_errors
def validate(
    data: Annotated[Path, typer.Argument(help="Dataset folder (data contract v1).")],
    quarantine: Annotated[
        Path | None, typer.Option(help="Write rows that break a rule here (one Parquet per table) and go on.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
) -> None:
    """Check a dataset against the data contract and print a report per table.

    Exit code 0: usable. 1: rows break rules (fix them or use --quarantine).
    2: a column-level problem (missing table or column, unconvertible type).
    """
    from reviewguard.engine import connect
    from reviewguard.errors import ContractError
    from reviewguard.reader import ValidationReport, open_dataset, write_quarantine

    con = connect()
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
        table.add_row(name, Path(t.source).name if t.source else "-", f"{t.rows:,}", f"{t.valid_rows:,}",
                      problems or "ok")
    out.print(table)
    if report.violations:
        out.print("Problems, with a few offending rows:")
        out.print(report.summary(), highlight=False, markup=False)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
