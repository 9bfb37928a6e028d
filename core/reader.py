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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from reviewguard.checks import TableReport, ValidationReport, Violation, check_table, error_text
from reviewguard.contract import CONTRACT_VERSION, TABLES
from reviewguard.engine import Engine, connect, engine_name
from reviewguard.errors import ContractError

BadRows = Literal["error", "quarantine"]
# DuckDB would otherwise take 80% of the machine's memory as its buffer.
DEFAULT_MEMORY_LIMIT = "4GB"


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


def locate_table(root: Path, name: str) -> tuple[str, str] | None:
    """Find a table's source: (layout, path). Two layouts for one table is an error."""
    candidates = []
    if (root / f"{name}.parquet").is_file():
        candidates.append(("parquet", str(root / f"{name}.parquet")))
    if (root / name).is_dir():
        candidates.append(("parquet_dir", str(root / name)))
    if (root / f"{name}.csv").is_file():
        candidates.append(("csv", str(root / f"{name}.csv")))
    if len(candidates) > 1:
        raise ContractError(
            f"table {name}: found {len(candidates)} layouts ({', '.join(p for _, p in candidates)}); "
            "keep exactly one of <table>.parquet, <table>/ or <table>.csv"
        )
    return candidates[0] if candidates else None


def _read_raw(con: BaseBackend, layout: str, path: str, table: str) -> ibis.Table:
    is_spark = engine_name(con) == "pyspark"
    try:
        if layout == "csv":
            if is_spark:
                return con.read_csv(path, header=True, inferSchema=False, multiLine=True, escape='"')
            return con.read_csv(path, all_varchar=True, header=True, encoding="utf-8")
        if layout == "parquet_dir":
            files = sorted(str(p) for p in Path(path).rglob("*.parquet"))
            if not files:
                raise ContractError(f"table {table}: folder {path} holds no .parquet files")
            if is_spark:
                return con.read_parquet(path)
            return con.read_parquet(files, union_by_name=True)
        return con.read_parquet(path)
    except ContractError:
        raise
    except Exception as exc:  # the engine's own parse error, reworded for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ContractError(f"table {table}: cannot read {path} ({layout}): {first}") from exc


def fingerprint_files(root: Path) -> str:
    """SHA-256 over every contract table file's relative path and bytes (stable order)."""
    h = hashlib.sha256()
    h.update(f"contract-v{CONTRACT_VERSION}".encode())
    for name in TABLES:
        for p in _table_files(root, name):
            h.update(str(p.relative_to(root)).encode())
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def _table_files(root: Path, name: str) -> list[Path]:
    files = [root / f"{name}.parquet", root / f"{name}.csv"]
    out = [p for p in files if p.is_file()]
    if (root / name).is_dir():
        out.extend(sorted((root / name).rglob("*.parquet")))
    return out


def open_dataset(
    con: BaseBackend,
    root: str | Path,
    *,
    bad_rows: BadRows = "error",
    tables: tuple[str, ...] | None = None,
    risks: tuple[str, ...] | None = None,
) -> Dataset:
    """Read, normalise and validate the dataset folder ``root`` on ``con``.

    Column-level problems (missing required column, unconvertible type, a
    missing accounts table) always raise. Row-level problems raise unless
    ``bad_rows="quarantine"``, which keeps them in ``Dataset.quarantine``.
    ``risks`` widens the accepted values of ``labels.risk`` for new risks.
    """
    root = Path(root)
    if not root.is_dir():
        raise ContractError(f"dataset folder {root} does not exist")
    wanted = tables or tuple(TABLES)
    allowed_override: dict[str, tuple[str, ...]] = {}
    if risks is not None:
        allowed_override["labels.risk"] = tuple(risks)
    report = ValidationReport(str(root))
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
        raw = _read_raw(con, layout, path, name)
        table_report, table_clean, table_bad = check_table(
            con, spec, raw, path, valid_accounts, allowed_override, report.opened_at
        )
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
    root = Path(root)
    h = hashlib.sha256()
    h.update(f"contract-v{CONTRACT_VERSION}-behaviour".encode())
    for name in TABLES:
        if name in NOT_BEHAVIOUR:
            continue
        for p in _table_files(root, name):
            h.update(str(p.relative_to(root)).encode())
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()
