"""Cutoffs: the (``account_id``, ``as_of``) table every feature is computed from.

One as-of for every account (batch scoring; by default just after the latest
event), one per labels row (training), one for a single account (a case file),
or a table the user gave (``features build --cutoffs``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from reviewguard.contract import EVENT_TABLES, TABLES
from reviewguard.errors import ReviewguardError
from reviewguard.reader import Dataset


def latest_event_time(ds: Dataset) -> datetime:
    """Time of the latest event (labels and account creation excluded).

    Events dated after the moment the data was read are ignored: one row
    stamped 2099 must not move every account's as-of into the future.
    """
    now = ibis.literal(ds.report.opened_at, type=dt.timestamp)
    latest: datetime | None = None
    for name in EVENT_TABLES:
        t = ds.table(name)
        if t is None:
            continue
        col = t[TABLES[name].event_time]
        value = t.filter(col <= now)[TABLES[name].event_time].max().execute()
        if value is not None and str(value) != "NaT":
            v = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
            latest = v if latest is None or v > latest else latest
    if latest is None:
        raise ReviewguardError(f"{ds.root} holds no events before now; pass an explicit --as-of")
    return latest.replace(tzinfo=None)


def default_as_of(ds: Dataset) -> datetime:
    """Just after the latest event, so every event in the data counts (UTC, naive)."""
    return latest_event_time(ds) + timedelta(milliseconds=1)


def _naive_utc(as_of: datetime) -> datetime:
    return as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo is not None else as_of


def cutoffs_at(ds: Dataset, as_of: datetime) -> ibis.Table:
    """One cutoff per account that existed at ``as_of``."""
    as_of = _naive_utc(as_of)
    acc = ds.tables["accounts"]
    lit = ibis.literal(as_of, type=dt.timestamp)
    return acc.filter(acc.created_at < lit).select("account_id", as_of=lit)


def cutoffs_from_labels(ds: Dataset) -> ibis.Table:
    """One cutoff per distinct (account, decided_at) of the labels table."""
    lab = ds.tables["labels"]
    return lab.select("account_id", as_of=lab.decided_at).distinct()


def cutoffs_for_account(account_id: str, as_of: datetime | pd.Timestamp) -> ibis.Table:
    """The one cutoff of a single account (a case file)."""
    cut = ibis.memtable({"account_id": [account_id], "as_of": [pd.Timestamp(as_of)]})
    return cut.select(account_id=cut.account_id.cast("string"), as_of=cut.as_of.cast("timestamp"))


def cutoffs_from_table(table: ibis.Table, source: Any = "cutoffs") -> ibis.Table:
    """A user's cutoffs table (``account_id``, ``as_of``; zoned times converted to UTC), checked."""
    missing = {"account_id", "as_of"} - set(table.columns)
    if missing:
        raise ReviewguardError(f"{source}: missing column(s) {sorted(missing)}")
    return table.select(
        account_id=table.account_id.cast("string"),
        as_of=table.as_of.cast(ibis.dtype("timestamp('UTC')")).cast("timestamp"),
    )


def read_cutoffs(con: Any, path: Any) -> ibis.Table:
    """The cutoffs in a Parquet or CSV file (read lazily by the engine), checked."""
    reader = con.read_csv if str(path).endswith(".csv") else con.read_parquet
    return cutoffs_from_table(reader(str(path)), f"cutoffs {path}")
