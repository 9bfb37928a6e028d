"""Point in time: nothing at or after a cutoff can change a feature; empty accounts and missing tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.features import build_features, cutoffs_at
from reviewguard.features.registry import FEATURES
from reviewguard.reader import open_dataset

LATER_FIELDS = {
    "orders": ("delivered_at", "refunded_at"),
    "reviews": ("edited_at", "deleted_at"),
    "enforcement": ("lifted_at",),
}
EVENT_TIME = {
    "orders": "ordered_at",
    "reviews": "created_at",
    "messages": "sent_at",
    "transfers": "paid_at",
    "reports": "reported_at",
    "likes": "liked_at",
    "labels": "decided_at",
    "enforcement": "applied_at",
}


def truncated_copy(src: Path, dst: Path, cutoff: pd.Timestamp) -> None:
    """The platform as it was at ``cutoff``: nothing at or after it exists yet."""
    dst.mkdir(parents=True)
    for p in src.glob("*.parquet"):
        df = pd.read_parquet(p)
        name = p.stem
        if name in EVENT_TIME:
            df = df[df[EVENT_TIME[name]] < cutoff]
        for col in LATER_FIELDS.get(name, ()):
            if name == "enforcement":  # an appeal decided later was undecided at the cutoff
                df.loc[df[col] >= cutoff, "outcome"] = "in_force"
            df.loc[df[col] >= cutoff, col] = pd.NaT
        if name == "reviews":
            df.loc[df["edited_at"].isna(), "edited_rating"] = pd.NA
        df.to_parquet(dst / p.name, index=False)


def frame(ds, cut) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return build_features(ds, cut).to_pandas().sort_values("account_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def cutoff() -> pd.Timestamp:
    return pd.Timestamp("2026-04-10 13:37:00", tz="UTC")


def test_events_after_the_cutoff_change_no_feature(small_platform: Path, tmp_path: Path, cutoff: pd.Timestamp) -> None:
    truncated_copy(small_platform, tmp_path / "past", cutoff)
    naive = cutoff.tz_localize(None).to_pydatetime()
    full = open_dataset(connect(), small_platform)
    past = open_dataset(connect(), tmp_path / "past")
    a = frame(full, cutoffs_at(full, naive))
    b = frame(past, cutoffs_at(past, naive))
    assert len(a) == len(b) > 1000
    # Leakage would show as a difference; some features must be non-trivial for the test to bite.
    assert (a["likes_30d"] > 0).sum() > 100 and (a["negative_reviews_90d"] > 0).sum() > 10
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_per_account_cutoffs_equal_single_as_of_runs(small_platform: Path) -> None:
    ds = open_dataset(connect(), small_platform)
    t1, t2 = pd.Timestamp("2026-04-01"), pd.Timestamp("2026-04-20 06:00")
    ids = sorted(ds.tables["accounts"].account_id.to_pandas())[:400]
    mixed = ibis.memtable({"account_id": ids, "as_of": [t1 if i % 2 else t2 for i in range(len(ids))]})
    got = frame(ds, mixed.select("account_id", as_of=mixed.as_of.cast("timestamp")))
    for t in (t1, t2):
        one = frame(ds, cutoffs_at(ds, t.to_pydatetime()))
        want = one[one.account_id.isin(got.loc[got.as_of == t, "account_id"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(got[got.as_of == t].reset_index(drop=True), want, check_exact=True)


def test_an_account_without_events_gets_zero_counts_and_null_rates(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text(
        "account_id,created_at,level,phone_verified\nquiet,2026-01-01T00:00:00Z,2,true\n"
        "busy,2026-01-01T00:00:00Z,2,true\n",
        encoding="utf-8",
    )
    (tmp_path / "likes.csv").write_text(
        "account_id,content_id,author_id,liked_at,dwell_ms,device_id\n"
        "busy,c1,x,2026-02-01T10:00:00.000Z,,d\nbusy,c2,x,2026-02-01T10:00:00.500Z,1200,d\n",
        encoding="utf-8",
    )
    (tmp_path / "reviews.csv").write_text(
        "review_id,account_id,merchant_id,order_id,rating,text,created_at,edited_at,edited_rating,deleted_at,device_id\n",
        encoding="utf-8",
    )
    ds = open_dataset(connect(), tmp_path)
    f = frame(ds, cutoffs_at(ds, pd.Timestamp("2026-02-02").to_pydatetime())).set_index("account_id")
    quiet, busy = f.loc["quiet"], f.loc["busy"]
    assert quiet["likes_30d"] == 0 and quiet["likes_per_day_max"] == 0 and quiet["negative_reviews_90d"] == 0
    assert np.isnan(quiet["like_without_open_share"]) and np.isnan(quiet["negative_review_share"])
    assert busy["likes_30d"] == 2 and busy["like_gap_min_ms"] == 500 and busy["like_without_open_share"] == 0.5
    # Tables that do not exist give nulls, not zeros.
    assert np.isnan(busy["orders_90d"]) and np.isnan(busy["money_demand_messages"])
    assert quiet["account_age_days"] == 32.0
    assert list(f.columns) == ["as_of", *[x.name for x in FEATURES]]


def test_accounts_created_after_the_as_of_are_not_scored(small_platform: Path, tmp_path: Path) -> None:
    data = tmp_path / "d"
    shutil.copytree(small_platform, data)
    acc = pd.read_parquet(data / "accounts.parquet")
    acc.loc[0, "created_at"] = pd.Timestamp("2026-12-01", tz="UTC")
    acc.to_parquet(data / "accounts.parquet", index=False)
    ds = open_dataset(connect(), data)
    ids = set(cutoffs_at(ds, pd.Timestamp("2026-04-01").to_pydatetime()).account_id.to_pandas())
    assert acc.loc[0, "account_id"] not in ids and len(ids) == len(acc) - 1
