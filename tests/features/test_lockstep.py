"""Lockstep peers against a brute-force reading of their definition, on random platforms built to
hit its edges: rings that co-like in the same windows, crowds just over the limit and groups at it, windows with
two likers and many likes, duplicate likes, likes on the window's and the cutoff's boundaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests_support import likes_only_platform

from reviewguard.features import cutoffs_at
from reviewguard.features.coordination import (
    LOCKSTEP_MAX_LIKERS,
    LOCKSTEP_MIN_SHARED,
    LOCKSTEP_WINDOW_MS,
    lockstep_features,
)

AS_OF = pd.Timestamp("2026-03-01T00:00:00Z")
WINDOW = pd.Timedelta(milliseconds=LOCKSTEP_WINDOW_MS)


def _platform(rng: np.random.Generator) -> pd.DataFrame:
    """Likes of a ring, a crowd one liker over the limit, a group at it, a busy pair and background noise."""
    likes: list[tuple[str, str, pd.Timestamp]] = []
    start = AS_OF - pd.Timedelta(days=29)
    ring = [f"ring{i}" for i in range(int(rng.integers(3, 7)))]
    for k in range(LOCKSTEP_MIN_SHARED + int(rng.integers(2, 8))):
        window = start + WINDOW * int(rng.integers(0, 4000))
        for a in ring:
            if rng.random() < 0.95:
                likes.append(
                    (a, f"ring_item{k}", window + pd.Timedelta(milliseconds=int(rng.integers(0, LOCKSTEP_WINDOW_MS))))
                )
    # A crowd one liker over the limit leaves no peers however often it co-likes; a group at the
    # limit is still a group.
    for name, size in (("crowd", LOCKSTEP_MAX_LIKERS + 1), ("full", LOCKSTEP_MAX_LIKERS)):
        for k in range(LOCKSTEP_MIN_SHARED + 2):
            window = start + WINDOW * int(rng.integers(0, 4000))
            for i in range(size):
                t = window + pd.Timedelta(milliseconds=int(rng.integers(0, LOCKSTEP_WINDOW_MS)))
                likes.append((f"{name}{i}", f"{name}_item{k}", t))
    # Two likers, many likes each on every item (repeat likes count once per window).
    for k in range(LOCKSTEP_MIN_SHARED + 1):
        window = start + WINDOW * int(rng.integers(0, 4000))
        for a in ("pair_a", "pair_b"):
            for _ in range(int(rng.integers(1, 4))):
                likes.append((a, f"pair_item{k}", window + pd.Timedelta(seconds=int(rng.integers(0, 600)))))
    # Background: random accounts on random items, some just before the cutoff or the window.
    for _ in range(3000):
        t = AS_OF - pd.Timedelta(minutes=float(rng.uniform(-30, 32 * 24 * 60)))
        likes.append((f"user{int(rng.integers(0, 80))}", f"item{int(rng.integers(0, 40))}", t))
    frame = pd.DataFrame(likes, columns=["account_id", "content_id", "liked_at"])
    return frame.assign(liked_at=frame.liked_at.dt.floor("ms"))


def _brute_force(likes: pd.DataFrame, accounts: list[str]) -> pd.Series:
    lo, hi = AS_OF - pd.Timedelta(days=30), AS_OF
    seen = likes[(likes.liked_at >= lo) & (likes.liked_at < hi)].copy()
    epoch_ms = (seen.liked_at - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(milliseconds=1)
    seen["bucket"] = epoch_ms // LOCKSTEP_WINDOW_MS
    likers = seen.groupby(["content_id", "bucket"]).account_id.nunique()
    small = likers[(likers >= 2) & (likers <= LOCKSTEP_MAX_LIKERS)].index
    seen = seen.set_index(["content_id", "bucket"]).loc[lambda d: d.index.isin(small)].reset_index()
    first = seen.groupby(["account_id", "content_id", "bucket"], as_index=False).liked_at.min()
    pairs = first.merge(first, on=["content_id", "bucket"], suffixes=("", "_peer"))
    pairs = pairs[pairs.account_id != pairs.account_id_peer]
    hour = pairs[["liked_at", "liked_at_peer"]].max(axis=1).dt.floor("h")
    counted = pairs[(hour + pd.Timedelta(hours=1) <= AS_OF) & (hour >= AS_OF - pd.Timedelta(days=30))]
    per_peer = counted.groupby(["account_id", "account_id_peer"]).size()
    peers = per_peer[per_peer >= LOCKSTEP_MIN_SHARED].groupby(level=0).size()
    return peers.reindex(accounts).dropna().astype("int64").sort_index()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_lockstep_peers_equal_a_brute_force_reading_of_the_definition(tmp_path: Path, seed: int) -> None:
    likes = _platform(np.random.default_rng(seed))
    accounts = sorted(set(likes.account_id))
    ds = likes_only_platform(tmp_path / "d", likes)
    got = lockstep_features(ds, cutoffs_at(ds, AS_OF.to_pydatetime())).to_pandas()
    got = got.set_index("account_id").lockstep_peer_accounts.astype("int64").sort_index()
    expected = _brute_force(likes, accounts)
    # The platform reaches the definition's edges: a ring found, the crowd left out, the busy pair kept.
    assert expected.index.str.startswith("ring").sum() >= 2
    assert not expected.index.str.startswith("crowd").any()
    assert (expected[expected.index.str.startswith("full")] == LOCKSTEP_MAX_LIKERS - 1).sum() >= 40
    assert {"pair_a", "pair_b"} <= set(expected.index)
    pd.testing.assert_series_equal(got, expected, check_names=False)
