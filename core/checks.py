"""The contract's rules as Ibis expressions, and the report they produce.

Each table is normalised (string ids, UTC timestamps, typed numbers) and every
row rule becomes a boolean column, so the same checks run on DuckDB and on
Spark and no table is pulled into Python memory. ``reviewguard.reader`` opens a
dataset folder with these checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
from ibis.backends import BaseBackend

from reviewguard.contract import CONTRACT_VERSION, PRESET_RISKS, Column, Table
from reviewguard.engine import engine_name, keep_as_view, materialize

EXAMPLES_PER_RULE = 3

_TARGET_TYPES: dict[str, dt.DataType] = {
    "str": dt.string,
    "timestamp": dt.timestamp,
    "int": dt.int64,
    "float": dt.float64,
    "bool": dt.boolean,
}


@dataclass
class Violation:
    table: str
    column: str
    rule: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)
    # A column-level problem (missing, wrong type) stops every run.
    fatal: bool = False
    # For a rule on allowed values: the distinct values found that it refuses (a few), since
    # three example rows may all show one typo and hide the value that explains the rest.
    found: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.table}.{self.column}: {self.rule}" + _counted(self)


@dataclass
class TableReport:
    name: str
    source: str | None
    rows: int = 0
    valid_rows: int = 0
    violations: list[Violation] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    # Rows dated after the moment the data was read: not a contract breach, but
    # worth a warning (the default as-of ignores them; see features.cutoffs).
    future_rows: int = 0

    @property
    def bad_rows(self) -> int:
        return self.rows - self.valid_rows


@dataclass
class ValidationReport:
    root: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    contract_version: int = CONTRACT_VERSION
    # Files the reader saw but did not read (unknown names, non-Parquet files in a table folder).
    notes: list[str] = field(default_factory=list)
    opened_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def warnings(self) -> list[str]:
        return self.notes + [
            f"{t.name}: {t.future_rows:,} rows dated after {self.opened_at:%Y-%m-%d %H:%M} UTC "
            "(when the data was read); the default as-of ignores them"
            for t in self.tables.values()
            if t.future_rows
        ]

    @property
    def violations(self) -> list[Violation]:
        return [v for t in self.tables.values() for v in t.violations]

    @property
    def fatal(self) -> bool:
        return any(v.fatal for v in self.violations)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        lines = []
        for v in self.violations:
            lines.append(f"  - {v.describe()}")
            for ex in v.examples:
                lines.append(f"      e.g. {_short(ex)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "contract_version": self.contract_version,
            "ok": self.ok,
            "tables": {
                name: {
                    "source": t.source,
                    "rows": t.rows,
                    "valid_rows": t.valid_rows,
                    "extra_columns": t.extra_columns,
                    "future_rows": t.future_rows,
                    "violations": [
                        {
                            "column": v.column,
                            "rule": v.rule,
                            "count": v.count,
                            "fatal": v.fatal,
                            "examples": [{k: str(x) for k, x in e.items()} for e in v.examples],
                        }
                        for v in t.violations
                    ],
                }
                for name, t in self.tables.items()
            },
            "quarantined": self.quarantined,
            "warnings": self.warnings,
        }


def _counted(v: Violation) -> str:
    return (f" ({v.count:,} rows)" if v.count else "") + (f"; found {', '.join(v.found)}" if v.found else "")


def _short(row: dict[str, Any], width: int = 60) -> str:
    parts = []
    for k, v in row.items():
        s = repr(v) if not isinstance(v, str) else v
        parts.append(f"{k}={s[:width]}")
    return ", ".join(parts)


# ------------------------------------------------------------- normalising


@ibis.udf.scalar.builtin
def epoch_us(t: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[valid-type]
    """DuckDB's microseconds since the epoch of an aware timestamp."""


@ibis.udf.scalar.builtin
def make_timestamp(us: dt.int64) -> dt.timestamp:
    """DuckDB's naive timestamp at ``us`` microseconds since the epoch."""


def _parse(col: ibis.Value, spec: Column, engine: str = "duckdb") -> ibis.Value | None:
    """Expression converting a raw column to the contract type; None when impossible."""
    src = col.type()
    target = spec.dtype
    if target == "str":
        if src.is_string():
            return col
        if src.is_integer():
            return col.cast(dt.string)
        return None
    if target == "timestamp":
        if src.is_timestamp():
            # Aware timestamps become naive UTC (sessions run in UTC).
            if src.timezone is None:
                return col
            if engine == "duckdb":
                # The same instant, read as naive UTC from its epoch microseconds: DuckDB's
                # CAST(... AS TIMESTAMP) goes through ICU's calendar, 4x slower per value, which
                # every feature query over a view of a Parquet file would pay again.
                return make_timestamp(epoch_us(col))
            return col.cast(dt.timestamp)
        if src.is_date():
            return col.cast(dt.timestamp)
        if src.is_string():
            return col.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.timestamp)
        return None
    if target == "int":
        if src.is_integer():
            return col.cast(dt.int64)
        if src.is_floating() or src.is_decimal():
            # 3.0 is 3; 3.5 is not an integer and fails below as unparseable; so do NaN,
            # infinities and numbers beyond int64 (which the cast itself would abort on).
            return _whole(col.cast(dt.float64))
        if src.is_string():
            return _whole(col.try_cast(dt.float64))
        return None
    if target == "float":
        if src.is_numeric():
            return col.cast(dt.float64)
        if src.is_string():
            parsed = col.try_cast(dt.float64)
            # NaN and infinities are not amounts.
            return ibis.ifelse(parsed.isnan() | parsed.isinf(), ibis.null(dt.float64), parsed)
        return None
    if target == "bool":
        if src.is_boolean():
            return col
        if src.is_string():
            low = col.lower().strip()
            return ibis.cases(
                (low.isin(["true", "t", "1", "yes"]), True),
                (low.isin(["false", "f", "0", "no"]), False),
                else_=ibis.null(dt.boolean),
            )
        if src.is_integer():
            return ibis.cases((col == 1, True), (col == 0, False), else_=ibis.null(dt.boolean))
        return None
    raise AssertionError(target)


def _whole(value: ibis.Value) -> ibis.Value:
    """A float as int64 when it is a whole number within int64's range, else null."""
    ok = (value.abs() < 9.0e18) & (value % 1.0 == 0.0)  # ibis rounds to BIGINT: never round inf
    return ibis.ifelse(ok.fill_null(False), value.cast(dt.int64), ibis.null(dt.int64))


def _is_null_type(t: dt.DataType) -> bool:
    """Arrow's ``null`` type (pandas writes it for an all-None column); DuckDB shows it as an unknown NULL."""
    return t.is_null() or (t.is_unknown() and 'kind="NULL"' in str(t))


def null_typed_as_contract(raw: ibis.Table, spec: Table) -> ibis.Table:
    """An all-null column of Arrow type ``null`` becomes an all-null column of the contract type.

    It holds no value that could break a rule, so it is not "unconvertible";
    the not-null rule still counts its rows for a required column.
    """
    fix = {
        c.name: ibis.null(_TARGET_TYPES[c.dtype])
        for c in spec.columns
        if c.name in raw.columns and _is_null_type(raw[c.name].type())
    }
    return raw.mutate(**fix) if fix else raw


# The start of an allowed-values rule: its violation also lists the values found.
_ONE_OF = "must be one of "
FOUND_VALUES = 5


def _row_rules(
    raw: ibis.Table, spec: Table, allowed_override: dict[str, tuple[str, ...]], engine: str = "duckdb"
) -> tuple[dict[str, ibis.Value], dict[tuple[str, str], ibis.Value], list[Violation]]:
    """Normalised columns, per-row rule flags keyed (column, rule), and fatal column problems."""
    normalised: dict[str, ibis.Value] = {}
    flags: dict[tuple[str, str], ibis.Value] = {}
    fatal: list[Violation] = []
    for c in spec.columns:
        if c.name not in raw.columns:
            if c.nullable:
                # An absent nullable column is "not recorded": all nulls, stated in the report.
                normalised[c.name] = ibis.null(_TARGET_TYPES[c.dtype])
                continue
            fatal.append(Violation(spec.name, c.name, "required column is missing", 0, fatal=True))
            continue
        col = raw[c.name]
        parsed = _parse(col, c, engine)
        if parsed is None:
            fatal.append(
                Violation(
                    spec.name,
                    c.name,
                    f"wrong type: {col.type()} cannot be read as {c.dtype}",
                    0,
                    fatal=True,
                )
            )
            continue
        if c.name == "text" and not c.nullable:
            # CSV cannot tell an empty text from a missing one; the contract allows empty text.
            parsed = parsed.fill_null("")
        normalised[c.name] = parsed
        if not (c.name == "text" and not c.nullable):
            if col.type().is_string() and c.dtype != "str":
                flags[(c.name, f"unparseable {c.dtype}")] = col.notnull() & parsed.isnull()
            elif c.dtype in ("int", "bool") and not col.type().is_string():
                flags[(c.name, f"not a valid {c.dtype}")] = col.notnull() & parsed.isnull()
            if not c.nullable:
                flags[(c.name, "must not be null")] = col.isnull()
        if c.dtype == "str" and col.type().is_string():
            pass
        if c.dtype == "float" and col.type().is_floating():
            # NaN passes every comparison in DuckDB and ±inf is a number: neither is an amount.
            flags[(c.name, "must be finite (not NaN or ±inf)")] = (parsed.isnan() | parsed.isinf()).fill_null(False)
        if c.min_value is not None:
            flags[(c.name, f"must be >= {c.min_value:g}")] = (parsed < c.min_value).fill_null(False)
        if c.max_value is not None:
            flags[(c.name, f"must be <= {c.max_value:g}")] = (parsed > c.max_value).fill_null(False)
        allowed = allowed_override.get(f"{spec.name}.{c.name}", c.allowed)
        if allowed is not None:
            flags[(c.name, f"{_ONE_OF}{', '.join(allowed)}")] = (~parsed.isin(list(allowed))).fill_null(False)
    return normalised, flags, fatal


# ---------------------------------------------------------------- checking


def check_table(
    con: BaseBackend,
    spec: Table,
    raw: ibis.Table,
    source: str,
    valid_accounts: ibis.Table | None,
    allowed_override: dict[str, tuple[str, ...]],
    opened_at: datetime,
    *,
    view_if_clean: bool = False,
    store_if_clean: bool = False,
) -> tuple[TableReport, ibis.Table | None, ibis.Table | None]:
    """Check ``raw`` against ``spec``: the table's report, its clean rows and its bad rows (None if none).

    The counts, ``future_rows`` included, come from one aggregate over the source. With
    ``view_if_clean`` (DuckDB reading Parquet) a table without a bad row is kept as a view, the
    normalised columns straight over the source, instead of a stored copy; the aggregate then also
    reads every column the view exposes, so a corrupt page fails here and not in a later query.
    Otherwise (bad rows set aside, CSV that DuckDB would parse again, Spark) the clean rows are stored.
    With ``store_if_clean`` too, a table without a bad row is stored, but as its plain normalised
    projection (no join, no filter): for a table the features scan so often that DuckDB's own
    storage repays the copy.
    """
    report = TableReport(spec.name, source)
    raw = null_typed_as_contract(raw, spec)
    known = set(spec.column_names)
    report.extra_columns = [c for c in raw.columns if c not in known]
    normalised, flags, fatal = _row_rules(raw, spec, allowed_override, engine_name(con))
    if fatal:
        report.rows = int(raw.count().execute())
        report.violations.extend(fatal)
        return report, None, None

    raw_cols = [c for c in spec.column_names if c in raw.columns]
    flag_names = {key: f"__rule_{i}" for i, key in enumerate(flags)}
    # Checks stay lazy expressions over the source: only the clean table is
    # materialised, so the largest table is never copied three times over.
    staged = raw.select(
        *[raw[c].name(f"__raw_{c}") for c in raw_cols],
        **{f"__n_{k}": v for k, v in normalised.items()},
        **{flag_names[key]: v for key, v in flags.items()},
    )

    # Key checks are left joins to tables with one row per key, not IN
    # subqueries: Spark runs a NOT IN as a nested-loop join over every pair
    # of rows (minutes for 264k likes against 3,000 accounts).
    extra_names: list[tuple[str, str]] = []
    for c in spec.columns:
        if c.unique:
            key = (c.name, "duplicate value (must be unique)")
            flag = f"__rule_{len(flag_names) + len(extra_names)}"
            ncol = staged[f"__n_{c.name}"]
            dup = (
                staged.group_by(ncol.name("__k"))
                .aggregate(__n=staged.count())
                .filter(lambda t: t.__n > 1)
                .select("__k", __hit=ibis.literal(True))
            )
            staged = _flag_by_join(staged, f"__n_{c.name}", dup, flag, hit_is_bad=True)
            extra_names.append(key)
        if c.references:
            key = (
                (c.name, "unknown account (not in accounts)")
                if valid_accounts is not None
                else (c.name, "unknown account (accounts table unusable)")
            )
            flag = f"__rule_{len(flag_names) + len(extra_names)}"
            if valid_accounts is None:
                staged = staged.mutate(**{flag: ibis.literal(True)})
            else:
                known_ids = valid_accounts.select(__k=valid_accounts.account_id, __hit=ibis.literal(True))
                staged = _flag_by_join(staged, f"__n_{c.name}", known_ids, flag, hit_is_bad=False)
            extra_names.append(key)
    for i, key in enumerate(extra_names, start=len(flag_names)):
        flag_names[key] = f"__rule_{i}"

    names = list(flag_names.values())
    any_bad = ibis.literal(False)
    for n in names:
        any_bad = any_bad | staged[n]
    aggs: dict[str, ibis.Value] = {"__rows": staged.count(), "__bad": any_bad.sum()}
    aggs.update({n: staged[n].sum() for n in names})
    future = spec.event_time is not None and spec.name != "labels"
    if future:
        # Counted over the clean rows, as the features see them.
        now = ibis.literal(opened_at, type=dt.timestamp)
        aggs["__future"] = ((staged[f"__n_{spec.event_time}"] > now) & ~any_bad).sum()
    as_view = view_if_clean and not store_if_clean
    if as_view:
        # Every value the view would expose, read and converted now: a corrupt page or a value
        # the conversion refuses is an error at open time, not inside a feature query.
        # (Not count(x): DuckDB answers it from the Parquet statistics when they say "no null".)
        aggs.update({f"__seen_{c}": staged.count(where=staged[f"__n_{c}"].isnull()) for c in raw_cols})
    counts = staged.aggregate(**aggs).execute().iloc[0]
    report.rows = _count(counts["__rows"])
    report.valid_rows = report.rows - _count(counts["__bad"])
    if future:
        report.future_rows = _count(counts["__future"])

    order = [staged[f"__raw_{c}"] for c in raw_cols[:2]]
    for key, n in flag_names.items():
        k = _count(counts[n])
        if k == 0:
            continue
        sample = (
            staged.filter(staged[n])
            .select(*[staged[f"__raw_{c}"].name(c) for c in raw_cols])
            .order_by(order)
            .limit(EXAMPLES_PER_RULE)
            .execute()
        )
        examples = [
            {c: v for c, v in row.items() if v is not None and str(v) not in ("nan", "NaT", "None")}
            for row in sample.to_dict("records")
        ]
        found: list[str] = []
        if key[1].startswith(_ONE_OF):
            values = staged.filter(staged[n]).select(__v=staged[f"__n_{key[0]}"]).distinct()
            found = sorted(str(v) for v in values.order_by("__v").limit(FOUND_VALUES).execute()["__v"])
        report.violations.append(Violation(spec.name, key[0], key[1], k, examples, found=found))

    if view_if_clean and not report.bad_rows:
        plain = raw.select(*[normalised[c].name(c) for c in spec.column_names])
        clean = materialize(con, spec.name, plain) if store_if_clean else keep_as_view(con, spec.name, plain)
    else:
        clean = staged.filter(~any_bad).select(*[staged[f"__n_{c}"].name(c) for c in spec.column_names])
        clean = materialize(con, spec.name, clean)
    bad: ibis.Table | None = None
    if report.bad_rows:
        rules_text = ibis.literal("")
        for key, n in flag_names.items():
            rules_text = rules_text.concat(
                ibis.ifelse(staged[n], ibis.literal(f"{key[0]}: {key[1]}; "), ibis.literal(""))
            )
        bad = staged.filter(any_bad).select(
            *[staged[f"__raw_{c}"].name(c) for c in raw_cols], _violations=rules_text.re_replace(r";\s*$", "")
        )
    return report, clean, bad


def _count(value: Any) -> int:
    """A sum over rows as a count: the sum over no rows is null (NaN on Spark), which counts 0."""
    return 0 if value is None or value != value else int(value)


def _flag_by_join(staged: ibis.Table, column: str, keys: ibis.Table, flag: str, *, hit_is_bad: bool) -> ibis.Table:
    """Add boolean ``flag``: the row's ``column`` is (or, for references, is not) in ``keys.__k``.

    ``keys`` holds each key once, so the left join keeps every row exactly once.
    A null value is never flagged: nulls are the not-null rule's business.
    """
    joined = staged.left_join(keys, staged[column] == keys.__k)
    hit = joined.__hit.fill_null(False)
    value = hit if hit_is_bad else (joined[column].notnull() & ~hit)
    return joined.select(*staged.columns, **{flag: value})


def error_text(report: ValidationReport, *, fatal_only: bool) -> str:
    shown = [v for v in report.violations if v.fatal or not fatal_only]
    head = f"dataset {report.root} breaks the data contract (version {report.contract_version}):"
    lines = [head]
    for v in shown:
        lines.append(f"  - table {v.table}, column {v.column}: {v.rule}" + _counted(v))
        for ex in v.examples:
            lines.append(f"      e.g. {_short(ex)}")
    lines.extend(preset_hints(shown))
    if not fatal_only:
        lines.append("Fix the rows, or rerun with --quarantine DIR to set them aside and count them.")
    return "\n".join(lines)


def preset_hints(violations: list[Violation]) -> list[str]:
    """What to pass when labels of a packaged preset's risk are refused: quarantining them, the
    generic advice, would set aside every label of that risk."""
    found = {r for v in violations if (v.table, v.column) == ("labels", "risk") for r in v.found}
    return [
        f"Labels of risk {risk} (as `reviewguard datasets {preset}` writes them) need the packaged "
        f"training configuration that declares that risk: validate, train and promote with --config {preset}."
        for risk, preset in PRESET_RISKS.items()
        if risk in found
    ]
