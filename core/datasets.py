"""Adapters from public datasets to the data contract.

Yelp filtered-review metadata (YelpChi, YelpNYC; Rayana & Akoglu, KDD 2015):
one review per line, ``user_id product_id rating label date``, label -1 when
Yelp's filter marked the review as spam. The adapter writes ``accounts``
(created at the user's first review), ``reviews`` (merchant = product) and
``labels`` for the risk ``review_spam`` at account level: 1 when any of the
account's reviews was filtered. A line that breaks a rule (five fields; a
whole number of stars 1-5; label -1 or 1; a YYYY-MM-DD date not after today)
is refused with the file, line, column and rule, never coerced or dropped.

When was the label decided? Yelp's filter decisions in these files were
observed once, when the data was collected, not as each review was written, so
by default (``decided_at="end_of_data"``) every label is decided at the
collection moment: the day after the file's last review, or ``collected_on``
when it is known (after the last review, and not after today). Features are
then computed at that moment, which is also the moment a model scores
accounts, so training and scoring see the product context (popularity,
consensus, rank) the same way. ``decided_at="last_review"`` dates
each label the day after the account's own last review, as the adapter did
before: it gives the training pipeline's time backtest spread decision times,
but computes features at a moment at which the label did not exist yet, and
costs 0.03 AUC in cross-validation (docs/benchmarks.md). One decision moment
for every label leaves the pipeline's rolling-origin backtest nothing to
order: train on a ``last_review`` dataset, or judge by cross-validation or by
snapshots (benchmarks/yelp.py).

The ids in these files are assigned in file order and the file is
grouped by product and label, so an id carries information about the label:
no id ever becomes a feature (tests/test_datasets.py relabels every id and
checks that no feature changes), and review ids are drawn from a seeded
permutation rather than line numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa

from reviewguard.contract import YELP_RISK
from reviewguard.errors import ContractError

YELP_COLUMNS = ["user_id", "product_id", "rating", "label", "date"]
# When a Yelp label counts as decided (see the module's docstring).
DecidedAt = Literal["end_of_data", "last_review"]
DECIDED_AT: tuple[str, ...] = get_args(DecidedAt)


def read_yelp_metadata(path: str | Path) -> pd.DataFrame:
    """Read and check a YelpChi/YelpNYC metadata file (gzip or plain text).

    Every line must hold the five fields; a line that does not is refused with
    its number and its field count (a parser reading columns would fill a
    short line's missing fields with the next ones and blame the wrong rule).
    """
    import gzip
    import zlib

    path = Path(path)
    if not path.is_file():
        raise ContractError(f"{path} does not exist")
    try:
        with path.open("rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        data = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        # One line: a truncated .gz or a bad byte, with the reason.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ContractError(f"{path}: cannot read as Yelp metadata: {reason}") from exc
    rows: list[list[str]] = []
    numbers: list[int] = []
    ragged: list[tuple[int, int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(YELP_COLUMNS):
            ragged.append((number, len(fields), line.strip()))
            continue
        rows.append(fields)
        numbers.append(number)
    if ragged:
        number, found, line = ragged[0]
        more = f" ({len(ragged):,} such lines in all)" if len(ragged) > 1 else ""
        raise ContractError(
            f"{path}: line {number}: expected {len(YELP_COLUMNS)} fields ({' '.join(YELP_COLUMNS)}), "
            f"found {found}: {line[:200]!r}{more}"
        )
    raw = pd.DataFrame(rows, columns=YELP_COLUMNS, dtype=str)
    return parse_yelp_metadata(raw, str(path), lines=numbers)


def parse_yelp_metadata(
    frame: pd.DataFrame, source: str = "yelp", *, lines: Sequence[int] | None = None, today: date | None = None
) -> pd.DataFrame:
    """Check and type a raw Yelp metadata frame (five whitespace-separated columns).

    A line that breaks a rule is refused, never coerced: the error names
    ``source``, the line (``lines``: each row's line number in the file; by
    default its position from 1), the column and the rule. ``today`` (UTC by
    default) bounds the dates.
    """
    if list(frame.columns) != YELP_COLUMNS:
        raise ContractError(f"{source}: expected the columns {YELP_COLUMNS}, got {list(frame.columns)}")
    line_of = np.asarray(lines if lines is not None else range(1, len(frame) + 1))
    if len(line_of) != len(frame):
        raise ValueError(f"{len(line_of)} line numbers for {len(frame)} rows")
    today = today or datetime.now(UTC).date()
    rating = pd.to_numeric(frame["rating"], errors="coerce")
    label = pd.to_numeric(frame["label"], errors="coerce")
    when = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    missing = frame.isna()
    # (column, rule, rows breaking it); a missing field is reported as missing, not as a bad value.
    problems = [
        *[(c, "is missing (the line has fewer than 5 fields)", missing[c]) for c in YELP_COLUMNS],
        # Ratings are whole stars: 4.5 stored as 4 (or 5) would be a rating nobody gave.
        ("rating", "must be a whole number of stars from 1 to 5", ~missing["rating"] & ~rating.isin(range(1, 6))),
        ("label", "must be -1 (filtered) or 1", ~missing["label"] & ~label.isin([-1, 1])),
        ("date", "must be a calendar date YYYY-MM-DD", ~missing["date"] & when.isna()),
        # A review cannot postdate the data's collection; a far date (9999-12-31) also overflowed
        # the labels' decision time, a day later, into 1972.
        ("date", f"must not be after today ({today.isoformat()})", when.notna() & (when > pd.Timestamp(today))),
    ]
    for column, rule, rows in problems:
        bad = np.asarray(rows, dtype=bool)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            others = line_of[bad][1:4].tolist()
            more = (
                f" ({int(bad.sum()):,} lines in all; also line{'s' if len(others) > 1 else ''} "
                f"{', '.join(map(str, others))}{', ...' if bad.sum() > 4 else ''})"
                if others
                else ""
            )
            value = frame[column].iloc[first]
            shown = "" if pd.isna(value) else f": {str(value)[:60]!r}"
            raise ContractError(f"{source}: line {line_of[first]}, column {column}{shown} {rule}{more}")
    return pd.DataFrame(
        {
            "user_id": frame["user_id"].astype(str),
            "product_id": frame["product_id"].astype(str),
            "rating": rating.astype("int64"),
            "label": label.astype("int64"),
            "date": when,
        }
    )


def check_collected_on(collected_on: date, *, today: date | None = None, name: str = "collected_on") -> None:
    """The rule for a collection date: not after today (UTC by default). Data cannot have been
    collected in the future (review dates follow the same rule); a date after today would decide
    every label in the future. ``name`` is the parameter as the caller's user spells it (the
    command line's ``--collected-on``), so the one rule has one message."""
    today = today or datetime.now(UTC).date()
    day = collected_on.date() if isinstance(collected_on, datetime) else collected_on
    if day > today:
        raise ContractError(f"{name} {collected_on.isoformat()!r} must not be after today ({today.isoformat()}, UTC)")


def check_decided_at(
    decided_at: str,
    collected_on: date | str | None = None,
    *,
    names: tuple[str, str] = ("decided_at", "collected_on"),
) -> None:
    """The rules for when labels count as decided: ``decided_at`` is one of ``DECIDED_AT``, and a
    collection date (``collected_on``; only whether one is given matters) goes with ``end_of_data``
    alone: with ``last_review`` each label is dated by its account's last review, so a collection
    date would be silently ignored. ``names`` spell the two parameters as the caller's user does
    (the command line's ``--decided-at``, ``--collected-on``), so one rule has one message."""
    decided, collected = names
    if decided_at not in DECIDED_AT:
        raise ContractError(f"{decided} must be one of {', '.join(DECIDED_AT)}, not {decided_at!r}")
    if collected_on is not None and decided_at != "end_of_data":
        raise ContractError(
            f"{collected} dates labels decided at the end of the data: use it with {decided} end_of_data"
        )


def yelp_to_contract(
    reviews: pd.DataFrame,
    *,
    seed: int = 0,
    decided_at: DecidedAt = "end_of_data",
    collected_on: date | None = None,
    today: date | None = None,
) -> dict[str, pa.Table]:
    """Contract tables for parsed Yelp metadata (see ``parse_yelp_metadata``).

    ``decided_at``: ``end_of_data`` dates every label at the collection moment
    (midnight UTC starting ``collected_on``, by default the day after the last
    review); ``last_review`` the day after each account's last review.
    ``collected_on`` goes with ``end_of_data`` only (``check_decided_at``), and
    must be after the last review and not after ``today`` (UTC by default;
    ``check_collected_on``).
    """
    check_decided_at(decided_at, collected_on)
    if collected_on is not None:
        check_collected_on(collected_on, today=today)
    r = reviews.reset_index(drop=True)
    last_day = r["date"].max()
    if collected_on is not None and pd.Timestamp(collected_on) <= last_day:
        # A label decided before one of the account's reviews would make that review's
        # features look into the label's future; the collection is after every review.
        raise ContractError(f"collected_on {collected_on} is not after the last review ({last_day.date()})")
    created = r["date"].dt.tz_localize("UTC")
    review_id = np.random.default_rng(seed).permutation(len(r))
    ts = pa.timestamp("ms", tz="UTC")
    reviews_t = pa.table(
        {
            "review_id": pa.array([f"y{i}" for i in review_id]),
            "account_id": pa.array("u" + r["user_id"]),
            "merchant_id": pa.array("p" + r["product_id"]),
            "order_id": pa.nulls(len(r), pa.string()),
            "rating": pa.array(r["rating"].astype("int64")),
            "text": pa.nulls(len(r), pa.string()),
            "created_at": pa.array(created, type=ts),
            "edited_at": pa.nulls(len(r), ts),
            "edited_rating": pa.nulls(len(r), pa.int64()),
            "deleted_at": pa.nulls(len(r), ts),
            "device_id": pa.nulls(len(r), pa.string()),
        }
    )
    per_user = (
        r.assign(created=created, filtered=r["label"] == -1)
        .groupby("user_id", sort=True)
        .agg(first=("created", "min"), last=("created", "max"), spam=("filtered", "any"))
    )
    accounts = pa.table(
        {
            "account_id": pa.array("u" + per_user.index.astype(str)),
            "created_at": pa.array(per_user["first"], type=ts),
            "level": pa.nulls(len(per_user), pa.int64()),
            "phone_verified": pa.nulls(len(per_user), pa.bool_()),
        }
    )
    if decided_at == "last_review":
        decision = per_user["last"] + pd.Timedelta(days=1)
    else:
        collected = pd.Timestamp(collected_on) if collected_on is not None else last_day + pd.Timedelta(days=1)
        decision = pd.Series(collected.tz_localize("UTC"), index=per_user.index)
    labels = pa.table(
        {
            "account_id": pa.array("u" + per_user.index.astype(str)),
            "risk": pa.array([YELP_RISK] * len(per_user)),
            "label": pa.array(per_user["spam"].astype("int64")),
            "decided_at": pa.array(decision, type=ts),
            "source": pa.array(["yelp_filter"] * len(per_user)),
        }
    )
    return {"accounts": accounts, "reviews": reviews_t, "labels": labels}
