"""Read a dataset folder under the data contract, normalise it, and check every rule.

A bad row is never dropped silently: either ``open_dataset`` raises
:class:`ContractError` naming the table, column, rule and a few rows, or
(``bad_rows="quarantine"``) the rows are kept aside, with their original
values and the rules they broke, and counted in the report. The rules
themselves are ``reviewguard.checks``. ``load_dataset`` is the one way the
command line (and a notebook) opens a folder: engine, memory limit, checks,
quarantine file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from reviewguard.checks import TableReport, ValidationReport, Violation, check_table, error_text
from reviewguard.contract import CONTRACT_VERSION, TABLES
from reviewguard.engine import Engine, connect, engine_name, out_of_memory
from reviewguard.errors import ContractError

BadRows = Literal["error", "quarantine"]
# DuckDB would otherwise take 80% of the machine's memory as its buffer.
DEFAULT_MEMORY_LIMIT = "4GB"
# Valid Parquet tables DuckDB stores all the same (a plain normalised copy, no second check), for a
# caller whose queries scan a table so often that DuckDB's own storage repays the copy. None by
# default: at 200,000 accounts storing likes made the features 16 s faster but the reader 20 s
# slower and took 1.2 GB of temporary disk (docs/benchmarks.md, "Reader").
STORED_WHEN_VALID: tuple[str, ...] = ()


@dataclass
class Dataset:
    """Validated, normalised contract tables on one engine, plus their provenance."""

    con: BaseBackend
    tables: dict[str, ibis.Table]
    report: ValidationReport
    fingerprint: str
    root: str
    quarantine: dict[str, ibis.Table] = field(default_factory=dict)

    def table(self, name: str) -> ibis.Table | None:
        return self.tables.get(name)

    def has(self, name: str) -> bool:
        return name in self.tables


# ---------------------------------------------------------------- locating


def _layout_of(entry: Path, name: str) -> str | None:
    """The layout ``entry`` holds for table ``name`` (names match case-insensitively), or None."""
    low = entry.name.lower()
    if low == f"{name}.parquet" and entry.is_file():
        return "parquet"
    if low == name and entry.is_dir():
        return "parquet_dir"
    if low == f"{name}.csv" and entry.is_file():
        return "csv"
    return None


def locate_table(root: Path, name: str) -> tuple[str, str] | None:
    """Find a table's source: (layout, path). Two layouts (or spellings) for one table is an error.

    File names match case-insensitively (``Orders.parquet`` is the orders table):
    a table is never treated as absent because of how its name was capitalised.
    """
    candidates = [(layout, str(p)) for p in sorted(root.iterdir()) if (layout := _layout_of(p, name))]
    if len(candidates) > 1:
        raise ContractError(
            f"table {name}: found {len(candidates)} layouts ({', '.join(p for _, p in candidates)}); "
            "keep exactly one of <table>.parquet, <table>/ or <table>.csv"
        )
    return candidates[0] if candidates else None


def _ignored(name: str) -> bool:
    """Hidden and underscore names (``_SUCCESS``, ``.crc``, ``_truth/``) are not data, by convention."""
    return name.startswith((".", "_"))


def partition_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """A table folder's Parquet files (any capitalisation of ``.parquet``) and the other files it holds."""
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not any(_ignored(q) for q in p.relative_to(folder).parts)
    )
    return [p for p in files if p.suffix.lower() == ".parquet"], [p for p in files if p.suffix.lower() != ".parquet"]


def unknown_entries(root: Path) -> list[str]:
    """Names in the dataset folder that are no contract table (hidden and ``_`` names excepted)."""
    return [
        p.name
        for p in sorted(root.iterdir())
        if not _ignored(p.name) and not any(_layout_of(p, name) for name in TABLES)
    ]


def _read_raw(con: BaseBackend, layout: str, path: str, table: str) -> ibis.Table:
    is_spark = engine_name(con) == "pyspark"
    try:
        if layout == "csv":
            if is_spark:
                return con.read_csv(path, header=True, inferSchema=False, multiLine=True, escape='"')
            return con.read_csv(path, all_varchar=True, header=True, encoding="utf-8", delim=",", quote='"', escape='"')
        if layout == "parquet_dir":
            files = [str(p) for p in partition_files(Path(path))[0]]
            if not files:
                raise ContractError(f"table {table}: folder {path} holds no .parquet files")
            if is_spark:
                return con.read_parquet(path)
            return con.read_parquet(files, union_by_name=True)
        return con.read_parquet(path)
    except ContractError:
        raise
    except Exception as exc:  # the engine's own parse error, reworded for the user
        if out_of_memory(exc):
            raise  # the file is fine: the memory limit is too low (the command line says so)
        raise unreadable(table, path, layout, exc) from exc


def engine_reason(exc: BaseException) -> str:
    """The engine's whole reason on one line: every line of it but the option dump and the hints.

    DuckDB's CSV errors put the cause on the third line ("This file is not utf-8
    encoded", "Maximum line size ... exceeded") after "CSV Error on Line: N";
    keeping only the first line loses it.
    """
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    kept: list[str] = []
    for raw_line in text.splitlines():
        if re.match(r"^\s+\w+ = ", raw_line):
            continue  # "  delimiter = , (Auto-Detected)": DuckDB's dump of the reader options
        line = raw_line.strip()
        if not line or line.startswith("Possible Solution"):
            continue
        if line.startswith(("Possible fixes", "The search space used was")):
            break  # DuckDB's own options (strict_mode, ignore_errors) follow: not ours to offer
        if line.startswith("Original Line:"):
            line = "line starts " + repr(line.removeprefix("Original Line:").strip()[:60])
        if line.startswith(("Py4JJavaError", "at ", "Caused by")) and kept:
            break  # Spark's Java stack follows the reason
        kept.append(line)
    reason = "; ".join(kept)
    return reason if len(reason) <= 600 else reason[:597] + "..."


def unreadable(table: str, path: str, layout: str, exc: BaseException) -> ContractError:
    """One line: the table, the file and why the engine could not read it."""
    return ContractError(f"table {table}: cannot read {path} ({layout}): {engine_reason(exc)}")


def _engine_error(exc: BaseException) -> bool:
    """An error the engine raised reading a file (corrupt page, bad bytes), not a bug of ours."""
    import duckdb
    import pyarrow as pa

    if out_of_memory(exc):
        return False  # the file is fine: the memory limit is too low (the command line says so)
    if isinstance(exc, duckdb.Error | pa.ArrowException | OSError | UnicodeError):
        return True
    return type(exc).__module__.split(".")[0] in ("pyspark", "py4j")


def fingerprint_files(root: Path) -> str:
    """SHA-256 over every contract table file's relative path and bytes (stable order)."""
    return _hash_table_files(root, TABLES, salt=f"contract-v{CONTRACT_VERSION}")


def _hash_table_files(root: Path, names: Iterable[str], *, salt: str) -> str:
    h = hashlib.sha256()
    h.update(salt.encode())
    for name in names:
        for p in _table_files(root, name):
            h.update(str(p.relative_to(root)).encode())
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def _table_files(root: Path, name: str) -> list[Path]:
    found = locate_table(root, name)
    if found is None:
        return []
    layout, path = found
    return partition_files(Path(path))[0] if layout == "parquet_dir" else [Path(path)]


def open_dataset(
    con: BaseBackend,
    root: str | Path,
    *,
    bad_rows: BadRows = "error",
    tables: tuple[str, ...] | None = None,
    risks: tuple[str, ...] | None = None,
    stored_when_valid: tuple[str, ...] = STORED_WHEN_VALID,
) -> Dataset:
    """Read, normalise and validate the dataset folder ``root`` on ``con``.

    Column-level problems (missing required column, unconvertible type, a
    missing accounts table) always raise. Row-level problems raise unless
    ``bad_rows="quarantine"``, which keeps them in ``Dataset.quarantine``.
    ``risks`` widens the accepted values of ``labels.risk`` for new risks.
    """
    root = Path(root)
    if not root.is_dir():
        what = "is a file, not a dataset folder" if root.exists() else "does not exist"
        raise ContractError(f"dataset folder {root} {what}")
    wanted = tables or tuple(TABLES)
    allowed_override: dict[str, tuple[str, ...]] = {}
    if risks is not None:
        allowed_override["labels.risk"] = tuple(risks)
    report = ValidationReport(str(root))
    report.notes.extend(
        f"{n} in the dataset folder is not a contract table and was not read" for n in unknown_entries(root)
    )
    clean: dict[str, ibis.Table] = {}
    quarantine: dict[str, ibis.Table] = {}
    valid_accounts: ibis.Table | None = None
    for name in ("accounts", *[t for t in TABLES if t != "accounts"]):
        if name not in wanted and name != "accounts":
            continue
        spec = TABLES[name]
        found = locate_table(root, name)
        if found is None:
            if spec.required:
                report.tables[name] = TableReport(name, None)
                report.tables[name].violations.append(Violation(name, "*", "required table is missing", 0, fatal=True))
            continue
        layout, path = found
        if layout == "parquet_dir":
            report.notes.extend(
                f"{name}: {p} is not a .parquet file and was not read" for p in partition_files(Path(path))[1]
            )
        raw = _read_raw(con, layout, path, name)
        try:
            table_report, table_clean, table_bad = check_table(
                con,
                spec,
                raw,
                path,
                valid_accounts,
                allowed_override,
                report.opened_at,
                # DuckDB reads Parquet again cheaply; CSV it would parse again in every query.
                view_if_clean=layout != "csv" and engine_name(con) == "duckdb",
                store_if_clean=name in stored_when_valid,
            )
        except Exception as exc:
            # A corrupt page or a bad byte deep in a file shows only when the rows are read.
            if not _engine_error(exc):
                raise
            raise unreadable(name, path, layout, exc) from exc
        report.tables[name] = table_report
        if table_clean is not None:
            clean[name] = table_clean
            if name == "accounts":
                valid_accounts = table_clean
        if table_bad is not None:
            quarantine[name] = table_bad
            report.quarantined[name] = table_report.bad_rows

    if report.fatal:
        raise ContractError(error_text(report, fatal_only=True), report)
    if report.violations and bad_rows == "error":
        raise ContractError(error_text(report, fatal_only=False), report)
    return Dataset(con, clean, report, fingerprint_files(root), str(root), quarantine)


def write_quarantine(ds: Dataset, folder: str | Path) -> dict[str, int]:
    """Write each table's set-aside rows (original values and broken rules) to ``folder``."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for name, bad in ds.quarantine.items():
        table = bad.to_pyarrow()
        tmp = folder / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        tmp.replace(folder / f"{name}.parquet")
        written[name] = table.num_rows
    return written


def load_dataset(
    root: str | Path,
    *,
    engine: Engine = "duckdb",
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    bad_rows: BadRows = "error",
    risks: tuple[str, ...] | None = None,
    tables: tuple[str, ...] | None = None,
) -> Dataset:
    """Open ``root`` on a fresh engine connection, the way every command does.

    DuckDB gets ``memory_limit`` (it spills beyond it; without a limit it would
    take 80% of the machine). Spark uses the session of the run
    (``reviewguard.engine.spark_session_for_run``).
    """
    con = connect("duckdb", memory_limit=memory_limit) if engine == "duckdb" else connect(engine)
    return open_dataset(con, root, bad_rows=bad_rows, risks=risks, tables=tables)


def read_simulator_truth(root: str | Path) -> pd.DataFrame | None:
    """Who is who (``account_id``, ``population``) when the dataset comes from the simulator, else None.

    Outside the contract: training uses it only to report false-positive rates on hard negatives.
    """
    p = Path(root) / "_truth" / "populations.parquet"
    return pd.read_parquet(p, columns=["account_id", "population"]) if p.is_file() else None


# Tables that are not behaviour: labels (decisions about accounts) and enforcement (remedies and
# their appeals). A case's data fingerprint leaves them out, so a later label or appeal does not
# invalidate an earlier case; what enforcement contributes to a decision is in the case's features,
# which verification recomputes.
NOT_BEHAVIOUR = ("labels", "enforcement")


def behaviour_fingerprint(root: str | Path) -> str:
    """SHA-256 over the behaviour tables' files (every contract table but labels and enforcement)."""
    behaviour = [name for name in TABLES if name not in NOT_BEHAVIOUR]
    return _hash_table_files(Path(root), behaviour, salt=f"contract-v{CONTRACT_VERSION}-behaviour")
