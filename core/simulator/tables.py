"""The chunk's table buffers and their conversion to Arrow, typed by the data contract.

Column names, order, types and nullability come from ``reviewguard.contract``;
the simulator adds only what the contract cannot know: how its integer ids
are spelled (``ID_FORMATS``). Until written, every column is a numpy array:
ids and times are integers (times in milliseconds since the epoch, UTC), and
a negative integer in a nullable column stands for null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from reviewguard.contract import EVENT_TABLES, TABLES, Column, Table


@dataclass(frozen=True)
class IdFormat:
    """How an integer id is written: ``prefix`` then the number zero-padded to ``width``."""

    prefix: str
    width: int


# By column name: a name means the same kind of id in every table (an author is an account).
ID_FORMATS: dict[str, IdFormat] = {
    "account_id": IdFormat("a", 8),
    "author_id": IdFormat("a", 8),
    "order_id": IdFormat("o", 9),
    "merchant_id": IdFormat("m", 6),
    "item_id": IdFormat("i", 8),
    "device_id": IdFormat("d", 8),
    "address_id": IdFormat("h", 8),
    "review_id": IdFormat("r", 9),
    "message_id": IdFormat("g", 9),
    "transfer_id": IdFormat("t", 9),
    "report_id": IdFormat("p", 9),
    "content_id": IdFormat("c", 8),
}

# Who is who, for reporting on hard negatives: outside the contract (the
# reader ignores it), so it keeps its own small spec.
TRUTH = Table(
    "_truth",
    (
        Column("account_id", "str"),
        Column("population", "str"),
        Column("group_id", "int", nullable=True),
    ),
    description="The population of every account, and its crew or bot group.",
)

# Every table the simulator writes, in the contract's order, then the truth.
SCHEMAS: dict[str, Table] = {**TABLES, TRUTH.name: TRUTH}


def to_arrow(column: Column, values: np.ndarray) -> pa.Array:
    """One buffered column as Arrow, typed by its contract column."""
    fmt = ID_FORMATS.get(column.name)
    if fmt is not None:
        return _ids(fmt, values)
    if column.dtype == "timestamp":
        ms = np.asarray(values, dtype=np.int64)
        return pa.array(ms, type=pa.timestamp("ms", tz="UTC"), mask=_nulls(column, ms))
    if column.dtype == "float":
        return pa.array(values.astype(np.float64))
    if column.dtype == "int":
        ints = values.astype(np.int64)
        return pa.array(ints, mask=_nulls(column, ints))
    if column.dtype == "bool":
        flags = values.astype(np.int8)
        return pa.array(flags == 1, mask=_nulls(column, flags))
    return pa.array(list(values), type=pa.string())


def _nulls(column: Column, values: np.ndarray) -> np.ndarray | None:
    return values < 0 if column.nullable else None


def _ids(fmt: IdFormat, values: np.ndarray) -> pa.Array:
    """Dictionary-encoded string ids ("a00000042"), built once per distinct id; negative is null."""
    idx = np.asarray(values, dtype=np.int64)
    if idx.size == 0:
        return pa.array([], type=pa.string())
    null = idx < 0
    uniq, inverse = np.unique(np.where(null, 0, idx), return_inverse=True)
    labels = np.char.add(fmt.prefix, np.char.zfill(uniq.astype(str), fmt.width))
    indices = pa.array(inverse.astype(np.int32), mask=null if null.any() else None)
    return pa.DictionaryArray.from_arrays(indices, pa.array(labels.tolist()))


def empty_table(name: str) -> pa.Table:
    """A table with no rows, typed as a written one, for tables a run did not produce."""
    return pa.table(
        {
            c.name: to_arrow(c, np.zeros(0, dtype=object if c.dtype == "str" else np.int64))
            for c in SCHEMAS[name].columns
        }
    )


@dataclass
class Tables:
    """Columns of every table of one chunk, appended event by event and turned into Arrow once."""

    cols: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)

    def add(self, table: str, **columns: Any) -> None:
        t = self.cols.setdefault(table, {})
        for k, v in columns.items():
            arr = np.asarray(v, dtype=object if isinstance(v, (list, tuple)) and v and isinstance(v[0], str) else None)
            t.setdefault(k, []).append(np.atleast_1d(arr))

    def arrow(self, table: str) -> pa.Table | None:
        if table not in self.cols:
            return None
        return pa.table({c.name: to_arrow(c, np.concatenate(self.cols[table][c.name])) for c in SCHEMAS[table].columns})

    def snapshot(self, end_ms: int) -> None:
        """The platform as seen at the end of the period: later events have not happened yet.

        Events dated (the contract's ``event_time``) at or after the end are
        dropped; follow-up times after it (a delivery, an edit: the nullable
        timestamps of an event table) become null. Labels may be decided
        later: outcomes arrive after behaviour.
        """
        for name in EVENT_TABLES:
            cols = self.cols.get(name)
            if not cols:
                continue
            table = TABLES[name]
            assert table.event_time is not None  # every event table is dated
            merged = {k: np.concatenate(v) for k, v in cols.items()}
            keep = merged[table.event_time] < end_ms
            for c in table.columns:
                if c.dtype == "timestamp" and c.nullable:
                    merged[c.name] = np.where(merged[c.name] >= end_ms, -1, merged[c.name])
            if name == "reviews":
                # An edit not yet made has no new rating either.
                merged["edited_rating"] = np.where(merged["edited_at"] < 0, -1, merged["edited_rating"])
            self.cols[name] = {k: [v[keep]] for k, v in merged.items()}
