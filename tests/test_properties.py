"""Property: on random contract tables with random corruptions, the reader and the feature build
either succeed or raise the package's own error, and never lose a valid row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewguard.engine import connect
from reviewguard.errors import ReviewguardError
from reviewguard.features import build_features, cutoffs_at
from reviewguard.reader import open_dataset

times = st.datetimes(
    min_value=pd.Timestamp("2025-01-01").to_pydatetime(), max_value=pd.Timestamp("2026-06-01").to_pydatetime()
).map(lambda d: d.isoformat() + "Z")
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
BAD_TIME = st.sampled_from(["yesterday", "2026-13-01T00:00:00Z", "2026-02-30", "12:00"])


@st.composite
def platform(draw):  # type: ignore[no-untyped-def]
    n_acc = draw(st.integers(1, 6))
    accounts = []
    for i in range(n_acc):
        bad = draw(st.sampled_from([None, None, None, "time", "level"]))
        accounts.append(
            {
                "account_id": f"0{i}",
                "created_at": draw(BAD_TIME) if bad == "time" else draw(times),
                "level": 12 if bad == "level" else draw(st.one_of(st.none(), st.integers(0, 8))),
                "phone_verified": draw(st.sampled_from(["true", "false", ""])),
                "_bad": bad is not None,
            }
        )
    likes = []
    for j in range(draw(st.integers(0, 12))):
        bad = draw(st.sampled_from([None, None, None, "time", "dwell", "orphan"]))
        acc = "ghost" if bad == "orphan" else f"0{draw(st.integers(0, n_acc - 1))}"
        likes.append(
            {
                "account_id": acc,
                "content_id": f"c{j}",
                "author_id": draw(text) or "x",
                "liked_at": draw(BAD_TIME) if bad == "time" else draw(times),
                "dwell_ms": -1 if bad == "dwell" else draw(st.one_of(st.none(), st.integers(0, 10**7))),
                "device_id": draw(st.one_of(st.none(), text)),
                "_bad": bad is not None,
            }
        )
    reviews = []
    for k in range(draw(st.integers(0, 8))):
        bad = draw(st.sampled_from([None, None, None, "rating", "dup"]))
        reviews.append(
            {
                "review_id": "r0" if bad == "dup" else f"r{k + 1}",
                "account_id": f"0{draw(st.integers(0, n_acc - 1))}",
                "merchant_id": "m1",
                "order_id": None,
                "rating": 7 if bad == "rating" else draw(st.integers(1, 5)),
                "text": draw(text),
                "created_at": draw(times),
                "edited_at": None,
                "edited_rating": None,
                "deleted_at": None,
                "device_id": None,
                "_bad": bad is not None,
            }
        )
    # A lone "r0" is not a duplicate.
    if sum(r["review_id"] == "r0" for r in reviews) == 1:
        next(r for r in reviews if r["review_id"] == "r0")["_bad"] = False
    return accounts, likes, reviews


def write(folder: Path, name: str, rows: list[dict], columns: list[str]) -> None:  # type: ignore[type-arg]
    pd.DataFrame(rows, columns=[*columns, "_bad"]).drop(columns="_bad").to_csv(folder / f"{name}.csv", index=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(platform())
def test_reader_and_features_never_crash_and_never_lose_a_valid_row(p) -> None:  # type: ignore[no-untyped-def]
    accounts, likes, reviews = p
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write(folder, "accounts", accounts, ["account_id", "created_at", "level", "phone_verified"])
        write(folder, "likes", likes, ["account_id", "content_id", "author_id", "liked_at", "dwell_ms", "device_id"])
        write(
            folder,
            "reviews",
            reviews,
            [
                "review_id",
                "account_id",
                "merchant_id",
                "order_id",
                "rating",
                "text",
                "created_at",
                "edited_at",
                "edited_rating",
                "deleted_at",
                "device_id",
            ],
        )
        try:
            ds = open_dataset(connect(), folder, bad_rows="quarantine")
        except ReviewguardError:
            return  # the package's own, explained error
        valid_accounts = {a["account_id"] for a in accounts if not a["_bad"]}
        want_likes = {x["content_id"] for x in likes if not x["_bad"] and x["account_id"] in valid_accounts}
        want_reviews = {r["review_id"] for r in reviews if not r["_bad"] and r["account_id"] in valid_accounts}
        assert set(ds.tables["accounts"].account_id.to_pandas()) == valid_accounts
        assert set(ds.tables["likes"].content_id.to_pandas()) == want_likes
        assert set(ds.tables["reviews"].review_id.to_pandas()) == want_reviews
        for name, rows in (("accounts", accounts), ("likes", likes), ("reviews", reviews)):
            t = ds.report.tables[name]
            assert t.rows == len(rows)
            assert t.valid_rows + ds.report.quarantined.get(name, 0) == t.rows
        try:
            f = build_features(ds, cutoffs_at(ds, pd.Timestamp("2026-07-01").to_pydatetime())).to_pandas()
        except ReviewguardError:
            return
        assert len(f) == len(valid_accounts)
