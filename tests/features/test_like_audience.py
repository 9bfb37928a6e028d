"""Like-audience features against a brute-force reading of their definitions, on random platforms
with two cutoffs per account (as training builds them): likes back from an author inside the window,
on its edges (30 days before the cutoff: in; at the cutoff: out), only outside it, from authors nobody
in the group liked, and authors who are not accounts."""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from tests_support import likes_only_platform

from reviewguard.features import cutoffs_at
from reviewguard.features.coordination import like_audience_features

AS_OFS = (pd.Timestamp("2026-03-01T00:00:00Z"), pd.Timestamp("2026-03-11T06:00:00Z"))
WINDOW = pd.Timedelta(days=30)


def _platform(rng: np.random.Generator) -> pd.DataFrame:
    users = [f"user{i:02d}" for i in range(40)]
    outsiders = [f"writer{i}" for i in range(5)]  # write content, never like anything
    likes: list[tuple[str, str, pd.Timestamp]] = []
    lo, hi = AS_OFS[0] - WINDOW - pd.Timedelta(days=3), AS_OFS[1] + pd.Timedelta(days=2)
    span_ms = int((hi - lo) / pd.Timedelta(milliseconds=1))
    for _ in range(1500):
        liker = users[int(rng.integers(0, len(users)))]
        # Most likes go to a few authors, so some accounts have a top author and likes back are
        # common; the last ten users are fans of writers who never like anything back.
        pool = users[:8] + outsiders if rng.random() < 0.7 else users
        pool = outsiders if liker in users[30:] else pool
        author = pool[int(rng.integers(0, len(pool)))]
        likes.append((liker, author, lo + pd.Timedelta(milliseconds=int(rng.integers(0, span_ms)))))
    # Likes back placed on the window's edges of each cutoff: 30 days before is in, the cutoff itself is out.
    for as_of in AS_OFS:
        for _ in range(6):
            a, b = rng.choice(users[:30], size=2, replace=False)
            likes.append((a, b, as_of - pd.Timedelta(days=1)))
            likes.append((b, a, as_of - WINDOW if rng.random() < 0.5 else as_of))
    frame = pd.DataFrame(likes, columns=["account_id", "author_id", "liked_at"])
    return frame.assign(liked_at=frame.liked_at.dt.floor("ms"))


def _brute_force(likes: pd.DataFrame, accounts: list[str]) -> pd.DataFrame:
    rows = []
    for as_of in AS_OFS:
        seen = likes[(likes.liked_at >= as_of - WINDOW) & (likes.liked_at < as_of)]
        for account in accounts:
            mine = seen[seen.account_id == account]
            if mine.empty:
                continue
            per_author = mine.author_id.value_counts()
            back = set(seen[seen.author_id == account].account_id)
            rows.append(
                {
                    "account_id": account,
                    "as_of": as_of,
                    "liked_authors_30d": len(per_author),
                    "top_author_like_share": per_author.max() / len(mine),
                    "reciprocal_author_share": len(set(per_author.index) & back) / len(per_author),
                }
            )
    return pd.DataFrame(rows).sort_values(["account_id", "as_of"]).reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_like_audience_equals_a_brute_force_reading_of_the_definitions(tmp_path: Path, seed: int) -> None:
    likes = _platform(np.random.default_rng(seed))
    accounts = sorted(set(likes.account_id))
    ds = likes_only_platform(tmp_path / "d", likes)
    cutoffs = ibis.union(*(cutoffs_at(ds, t.to_pydatetime()).select("account_id", "as_of") for t in AS_OFS))
    got = like_audience_features(ds, cutoffs).to_pandas()
    got = got.assign(as_of=pd.to_datetime(got.as_of, utc=True), liked_authors_30d=got.liked_authors_30d.astype("int64"))
    got = got.sort_values(["account_id", "as_of"]).reset_index(drop=True)[
        ["account_id", "as_of", "liked_authors_30d", "top_author_like_share", "reciprocal_author_share"]
    ]
    expected = _brute_force(likes, accounts)
    # The platform reaches what the definitions turn on: likes back counted for some cutoffs and not others.
    assert (expected.reciprocal_author_share > 0).sum() >= 10
    assert (expected.reciprocal_author_share == 0).sum() >= 5
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12)
