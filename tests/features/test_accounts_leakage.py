"""Leakage through ``accounts``: the table has no history, so what it holds today reaches a past
cutoff only through the features declared as snapshots, and accounts registered after the cutoff
reach nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from reviewguard.engine import connect
from reviewguard.features import FEATURES, build_features, cutoffs_at, cutoffs_from_labels
from reviewguard.reader import open_dataset

SNAPSHOTS = sorted(f.name for f in FEATURES if f.snapshot)
CUTOFF = pd.Timestamp("2026-04-10 13:37:00", tz="UTC")


def frame(root: Path, labels: bool = False) -> pd.DataFrame:
    ds = open_dataset(connect(), root)
    cut = cutoffs_from_labels(ds) if labels else cutoffs_at(ds, CUTOFF.tz_localize(None).to_pydatetime())
    f = build_features(ds, cut).to_pandas()
    return f.sort_values(["account_id", "as_of"]).reset_index(drop=True)


def changed_later(src: Path, dst: Path) -> pd.DataFrame:
    """The same platform exported later: every level and phone changed, new accounts registered
    after the cutoff (with a device shared with old accounts, so they could leak through links)."""
    shutil.copytree(src, dst)
    acc = pd.read_parquet(dst / "accounts.parquet")
    rng = np.random.default_rng(7)
    acc["level"] = ((acc["level"].fillna(0) + rng.integers(1, 8, len(acc))) % 9).astype(acc["level"].dtype)
    acc["phone_verified"] = ~acc["phone_verified"].fillna(False).astype(bool)
    new = acc.head(50).copy()
    new["account_id"] = [f"late{i:03d}" for i in range(len(new))]
    new["created_at"] = CUTOFF + pd.Timedelta(days=1)
    pd.concat([acc, new], ignore_index=True).to_parquet(dst / "accounts.parquet", index=False)
    likes = pd.read_parquet(dst / "likes.parquet")
    late = likes.head(len(new)).copy()
    late["account_id"] = new["account_id"].to_numpy()
    # After every cutoff of the test, the labels' decision times included.
    late["liked_at"] = pd.read_parquet(dst / "labels.parquet")["decided_at"].max() + pd.Timedelta(days=1)
    pd.concat([likes, late], ignore_index=True).to_parquet(dst / "likes.parquet", index=False)
    return acc


def test_only_declared_snapshots_carry_the_later_accounts_table(small_platform: Path, tmp_path: Path) -> None:
    assert SNAPSHOTS == ["membership_level", "phone_verified"]
    changed_later(small_platform, tmp_path / "later")
    for labels in (False, True):
        before, after = frame(small_platform, labels), frame(tmp_path / "later", labels)
        assert not after.account_id.str.startswith("late").any(), "registered after the cutoff"
        others = [c for c in before.columns if c not in SNAPSHOTS]
        pd.testing.assert_frame_equal(before[others], after[others], check_exact=True)
        # The snapshots do move: that is the documented leak, and what makes this test bite.
        for name in SNAPSHOTS:
            assert (before[name] != after[name]).mean() > 0.5, name
