"""What every command shares: the one ``app``, the consoles, the error wrapper, option types, opening a dataset."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reviewguard.contract import TABLES
from reviewguard.engine import check_memory_limit, out_of_memory
from reviewguard.errors import ReviewguardError
from reviewguard.reader import DEFAULT_MEMORY_LIMIT

if TYPE_CHECKING:
    from reviewguard.training.config import TrainConfig

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


def _memory_limit(value: str) -> str:
    try:
        return check_memory_limit(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


MemoryLimit = Annotated[
    str,
    typer.Option(
        help="DuckDB memory limit, e.g. 2GB; beyond it DuckDB spills to a temporary folder.", callback=_memory_limit
    ),
]
Quarantine = Annotated[Path | None, typer.Option(help="Set bad rows aside here (one Parquet per table) and go on.")]
# A str, not a Path: Path("./yelp") is Path("yelp"), and the spelling decides preset or file.
Config = Annotated[
    str | None,
    typer.Option(
        metavar="FILE|PRESET",
        help="TOML file overriding the defaults (see `reviewguard config`), or a packaged preset by its bare "
        "name: yelp. A bare preset name is always the preset, even when a file of that name is in the "
        "working directory (a warning says so); for such a file, write a path: ./yelp.",
    ),
]


class OptionError(ReviewguardError):
    """An option's value breaks its rule: a usage error, exit 2 like Click's own."""


@contextlib.contextmanager
def usage_rule() -> Iterator[None]:
    """Check options' values with the library's own rule, before anything is read: the rule's
    refusal (a ``ReviewguardError``, in the words the command line passed it) is a usage error."""
    try:
        yield
    except ReviewguardError as exc:
        raise OptionError(str(exc)) from None


def say_error(message: str) -> None:
    """``error: ...`` on stderr, never wrapped (one line stays one line), user text never read as markup."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def memory_message(exc: BaseException, limit: str | None) -> str:
    """What to tell a user whose run DuckDB stopped for memory: the limit it hit and the way out."""
    within = f"within --memory-limit {limit}" if limit else "within its memory limit"
    # DuckDB's own hints (SET threads, SET memory_limit) name settings the user cannot reach.
    reason = str(exc).split("Possible solutions")[0].strip().rstrip(";").splitlines()[0]
    return (
        f"DuckDB ran out of memory {within} ({reason}). A step that cannot spill to disk needed more: "
        "raise --memory-limit (docs/scaling.md gives what each platform size needs)."
    )


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
        except OptionError as exc:
            say_error(str(exc))
            raise typer.Exit(2) from None
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
            if out_of_memory(exc):
                say_error(memory_message(exc, kwargs.get("memory_limit")))
                raise typer.Exit(1) from None
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            say_error(
                f"unexpected {type(exc).__name__}: {first} "
                "(a bug in reviewguard: please report it; REVIEWGUARD_DEBUG=1 shows the traceback)"
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


# Scoring, features and cases never use labels: a labels table they cannot read must not stop them.
WITHOUT_LABELS = tuple(t for t in TABLES if t != "labels")


def missing_store_folder(*, create: bool = False) -> Path | None:
    """The folder of a SQLite tracking store that does not exist yet, to be created (``create``), else None.

    A missing folder is a typo, not a new store: refused unless asked. Only looks: creates nothing.
    """
    from reviewguard.model.store import sqlite_store_path, tracking_uri

    uri = tracking_uri()
    path = sqlite_store_path(uri)
    if path is None or path.parent.is_dir():
        return None
    if create:
        return path.parent
    raise ReviewguardError(
        f"MLflow tracking store {uri}: the folder {path.parent} does not exist, so this would be a new, empty "
        "store; fix MLFLOW_TRACKING_URI, or pass --create-store to create it"
    )


def require_store_folder(*, create: bool = False) -> None:
    """Refuse a SQLite tracking store whose folder is missing, or create that folder when asked."""
    from reviewguard.model.store import tracking_uri

    folder = missing_store_folder(create=create)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        console.print(f"created the folder {folder} for the MLflow store {tracking_uri()}", highlight=False)


def load_cli_config(config: str | None) -> TrainConfig:
    """The training configuration ``--config`` names, with a warning when a bare preset name passes over
    a file of that name in the working directory."""
    from reviewguard.training.config import is_preset, load_config

    if config is not None and is_preset(config) and Path(config).is_file():
        console.print(
            f"[yellow]warning:[/] --config {config} is the packaged preset {config}, not the file {config} "
            f"in the working directory; to use that file, pass --config ./{config}",
            highlight=False,
            soft_wrap=True,
        )
    return load_config(config)


def configured_risks(cfg: TrainConfig) -> tuple[str, ...]:
    """The risks labels may name: the contract's and those the configuration declares."""
    from reviewguard.contract import DEFAULT_RISKS

    return tuple(sorted({*DEFAULT_RISKS, *cfg.risk_features}))


def load_model(uri: str) -> Any:
    """The predictor behind ``uri``; a registry URI first needs an existing store (reading never creates
    one: ``download_bundle`` refuses a SQLite store that does not exist before it connects)."""
    from reviewguard.model.store import load_predictor

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
    """The option ``what``'s time as a naive UTC datetime, None when not given; a value that is no
    time is a usage error (exit 2), ``""``, ``nan`` and ``NaT`` included (pandas reads them as NaT)."""
    if value is None:
        return None
    import pandas as pd

    unreadable = OptionError(f"{what}: cannot read {value!r} as a time (use ISO-8601, e.g. 2026-05-30T00:00:00Z)")
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise unreadable from None
    if ts is pd.NaT:
        raise unreadable
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()
