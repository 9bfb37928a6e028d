"""The bad-input corpus: one dataset per contract rule or hazard, each with its documented outcome.

Outcomes are either a ContractError naming table, column and rule, or a quarantine
with exact counts, or (for data that is odd but valid) correct handling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviewguard.engine import connect
from reviewguard.errors import ContractError, ReviewguardError
from reviewguard.features import build_features, cutoffs_at, default_as_of
from reviewguard.reader import open_dataset

ACCOUNTS = (
    "account_id,created_at,level,phone_verified\na1,2026-01-01T00:00:00Z,1,true\na2,2026-01-01T00:00:00Z,2,false\n"
)
REVIEW_HEADER = (
    "review_id,account_id,merchant_id,order_id,rating,text,created_at,edited_at,edited_rating,deleted_at,device_id\n"
)
LIKE_HEADER = "account_id,content_id,author_id,liked_at,dwell_ms,device_id\n"


@dataclass
class Case:
    name: str
    files: dict[str, str | bytes]
    # (table, column, rule, count) expected in the report, or None for a valid dataset
    violation: tuple[str, str, str, int] | None = None
    fatal: str | None = None  # text the fatal error must contain


def review(
    rid: str, acc: str = "a1", rating: str = "1", created: str = "2026-02-01T10:00:00Z", text: str = "bad"
) -> str:
    return f'{rid},{acc},m1,,{rating},"{text}",{created},,,,d1\n'


CASES = [
    Case(
        "bad timestamp",
        {"reviews.csv": REVIEW_HEADER + review("r1") + review("r2", created="2026-13-45T99:00")},
        ("reviews", "created_at", "unparseable timestamp", 1),
    ),
    Case(
        "negative amount",
        {
            "transfers.csv": "transfer_id,merchant_id,account_id,amount,kind,paid_at\n"
            "t1,m1,a1,-5,refund,2026-02-01T00:00:00Z\nt2,m1,a1,5,refund,2026-02-01T00:00:00Z\n"
        },
        ("transfers", "amount", "must be >= 0", 1),
    ),
    Case(
        "rating below range",
        {"reviews.csv": REVIEW_HEADER + review("r1", rating="0") + review("r2")},
        ("reviews", "rating", "must be >= 1", 1),
    ),
    Case(
        "rating above range",
        {"reviews.csv": REVIEW_HEADER + review("r1", rating="6") + review("r2", rating="9")},
        ("reviews", "rating", "must be <= 5", 2),
    ),
    Case(
        "fractional rating",
        {"reviews.csv": REVIEW_HEADER + review("r1", rating="4.5") + review("r2")},
        ("reviews", "rating", "unparseable int", 1),
    ),
    Case(
        "unknown enum",
        {
            "reports.csv": "report_id,merchant_id,account_id,review_id,reason,reported_at\n"
            "p1,m1,a1,,spam,2026-02-01T00:00:00Z\n"
        },
        ("reports", "reason", "must be one of extortion, fake_review, abuse, other", 1),
    ),
    Case(
        "duplicate ids",
        {"reviews.csv": REVIEW_HEADER + review("r1") + review("r1") + review("r2")},
        ("reviews", "review_id", "duplicate value (must be unique)", 2),
    ),
    Case(
        "orphan event",
        {"likes.csv": LIKE_HEADER + "ghost,c1,a2,2026-02-01T00:00:00Z,,d\n"},
        ("likes", "account_id", "unknown account (not in accounts)", 1),
    ),
    Case(
        "null in a required column",
        {"likes.csv": LIKE_HEADER + "a1,,a2,2026-02-01T00:00:00Z,,d\n"},
        ("likes", "content_id", "must not be null", 1),
    ),
    Case(
        "missing column",
        {"likes.csv": "account_id,content_id,author_id,dwell_ms\na1,c1,a2,5\n"},
        fatal="table likes, column liked_at: required column is missing",
    ),
    Case(
        "missing accounts",
        {"accounts.csv": None, "likes.csv": LIKE_HEADER},  # type: ignore[dict-item]
        fatal="accounts",
    ),
    Case("empty file", {"likes.csv": b""}, fatal="table likes, column account_id: required column is missing"),
    Case(
        "non-UTF-8 bytes",
        {"reviews.csv": REVIEW_HEADER.encode() + "r1,a1,m1,,1,caf\xe9,2026-02-01T10:00:00Z,,,,\n".encode("latin-1")},
        fatal="table reviews: cannot read",
    ),
    Case(
        "extra column is fine",
        {
            "likes.csv": "account_id,content_id,author_id,liked_at,dwell_ms,device_id,app\n"
            "a1,c1,a2,2026-02-01T00:00:00Z,,d,ios\n"
        },
    ),
    Case("empty table is fine", {"likes.csv": LIKE_HEADER}),
    Case(
        "1 MB review text, emoji and mixed scripts are fine",
        {"reviews.csv": REVIEW_HEADER + review("r1", text="差评😡 bad ✓ " * 90_000) + review("r2", text="🙂ок")},
    ),
]


def make(folder: Path, files: dict[str, str | bytes | None]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"accounts.csv": ACCOUNTS, **files}
    for name, content in files.items():
        if content is None:
            continue
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    return folder


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_documented_outcome(case: Case, tmp_path: Path) -> None:
    data = make(tmp_path / "d", case.files)  # type: ignore[arg-type]
    if case.fatal:
        for mode in ("error", "quarantine"):
            with pytest.raises(ContractError, match=case.fatal):
                open_dataset(connect(), data, bad_rows=mode)  # type: ignore[arg-type]
        return
    if case.violation is None:
        ds = open_dataset(connect(), data)
        assert ds.report.ok
        # and features build on it
        f = build_features(ds, cutoffs_at(ds, pd.Timestamp("2026-03-01").to_pydatetime())).to_pandas()
        assert len(f) == 2
        return
    table, column, rule, count = case.violation
    with pytest.raises(ContractError) as err:
        open_dataset(connect(), data)
    assert f"table {table}, column {column}: {rule} ({count:,} rows)" in str(err.value)
    ds = open_dataset(connect(), data, bad_rows="quarantine")
    assert int(ds.quarantine[table].count().execute()) >= count
    t = ds.report.tables[table]
    assert t.rows - t.valid_rows == int(ds.quarantine[table].count().execute())
    assert int(ds.tables[table].count().execute()) == t.valid_rows


def test_offsets_and_naive_times_are_utc(tmp_path: Path) -> None:
    data = make(
        tmp_path / "d",
        {
            "likes.csv": LIKE_HEADER + "a1,c1,a2,2026-02-01T08:00:00+08:00,,d\n"
            "a1,c2,a2,2026-02-01 00:00:01,,d\na1,c3,a2,2026-02-01T00:00:02.5Z,,d\n"
        },
    )
    likes = open_dataset(connect(), data).tables["likes"].order_by("content_id").to_pandas()
    assert likes.liked_at.tolist() == [
        pd.Timestamp("2026-02-01 00:00:00"),
        pd.Timestamp("2026-02-01 00:00:01"),
        pd.Timestamp("2026-02-01 00:00:02.5"),
    ]


def test_wrong_parquet_type_stops(tmp_path: Path) -> None:
    data = make(tmp_path / "d", {})
    pq.write_table(
        pa.table(
            {
                "transfer_id": ["t"],
                "merchant_id": ["m"],
                "account_id": ["a1"],
                "amount": [True],
                "kind": ["refund"],
                "paid_at": ["2026-02-01"],
            }
        ),
        data / "transfers.parquet",
    )
    with pytest.raises(
        ContractError, match="table transfers, column amount: wrong type: boolean cannot be read as float"
    ):
        open_dataset(connect(), data, bad_rows="quarantine")


def test_a_future_timestamp_warns_and_does_not_move_the_default_as_of(tmp_path: Path) -> None:
    data = make(
        tmp_path / "d",
        {"likes.csv": LIKE_HEADER + "a1,c1,a2,2026-02-01T00:00:00Z,,d\na1,c2,a2,2099-01-01T00:00:00Z,,d\n"},
    )
    ds = open_dataset(connect(), data)
    assert ds.report.tables["likes"].future_rows == 1
    assert ds.report.warnings and "likes: 1 rows dated after" in ds.report.warnings[0]
    assert default_as_of(ds) == pd.Timestamp("2026-02-01 00:00:00.001").to_pydatetime()


def test_all_events_after_the_as_of_give_empty_features_not_errors(tmp_path: Path) -> None:
    data = make(
        tmp_path / "d",
        {"likes.csv": LIKE_HEADER + "a1,c1,a2,2026-02-01T00:00:00Z,,d\n", "reviews.csv": REVIEW_HEADER + review("r1")},
    )
    ds = open_dataset(connect(), data)
    f = build_features(ds, cutoffs_at(ds, pd.Timestamp("2026-01-15").to_pydatetime())).to_pandas()
    assert (f.likes_30d == 0).all() and (f.negative_reviews_90d == 0).all() and f.like_gap_cv.isna().all()


def test_no_events_at_all_asks_for_an_explicit_as_of(tmp_path: Path) -> None:
    ds = open_dataset(connect(), make(tmp_path / "d", {"likes.csv": LIKE_HEADER}))
    with pytest.raises(ReviewguardError, match="pass an explicit --as-of"):
        default_as_of(ds)
