"""The review-spam features' float means are the same in any row order and on any number of threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reviewguard.engine import connect
from reviewguard.features import cutoffs_at
from reviewguard.features.pit import exact_mean
from reviewguard.features.review_spam import review_spam_features
from reviewguard.reader import open_dataset

FLOAT_MEANS = (
    "rating_deviation_mean",
    "rating_deviation_at_as_of",
    "reviewed_product_rating_mean",
    "product_first_timer_share_mean",
    "product_reviewer_history_mean",
)


def _reviews(rng: np.random.Generator) -> pd.DataFrame:
    # Many reviews per account over products of uneven ratings, many at the same instant: sums of
    # thirds and sevenths whose last bits depend on the order they are added in.
    n = 40_000
    when = pd.Timestamp("2026-01-01T00:00:00Z") + pd.to_timedelta(rng.integers(0, 30 * 24 * 6, n) * 600, unit="s")
    return pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(n)],
            "account_id": [f"a{i}" for i in rng.integers(0, 400, n)],
            "merchant_id": [f"m{i}" for i in rng.zipf(1.6, n) % 300],
            "rating": rng.integers(1, 6, n),
            "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )


def _features(root: Path, reviews: pd.DataFrame, threads: int) -> pd.DataFrame:
    root.mkdir()
    accounts = sorted(set(reviews.account_id))
    pd.DataFrame({"account_id": accounts, "created_at": "2025-01-01T00:00:00Z"}).to_csv(
        root / "accounts.csv", index=False
    )
    reviews.to_csv(root / "reviews.csv", index=False)
    con = connect()
    con.raw_sql(f"SET threads = {threads}")
    ds = open_dataset(con, root)
    # Two as-of moments per account: the context at the as-of differs from the one at the review.
    cut = cutoffs_at(ds, pd.Timestamp("2026-02-01T00:00:00Z"))
    cut = cut.union(cutoffs_at(ds, pd.Timestamp("2026-01-21T12:00:00Z")))
    out = review_spam_features(ds, cut).to_pandas()
    return out.sort_values(["account_id", "as_of"]).reset_index(drop=True)


def test_float_means_are_bit_identical_in_any_row_order_and_thread_count(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    reviews = _reviews(rng)
    runs = {
        "in order, 1 thread": _features(tmp_path / "a", reviews, 1),
        "shuffled, 1 thread": _features(tmp_path / "b", reviews.sample(frac=1, random_state=1), 1),
        "reversed, 2 threads": _features(tmp_path / "c", reviews.iloc[::-1], 2),
    }
    first = runs.pop("in order, 1 thread")
    assert first[list(FLOAT_MEANS)].notna().all().all() and len(first) == 2 * 400
    for name, other in runs.items():
        for column in FLOAT_MEANS:
            assert np.array_equal(first[column].to_numpy(), other[column].to_numpy()), (name, column)


def test_exact_mean_is_the_mean_within_its_rounding() -> None:
    import ibis

    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"g": rng.integers(0, 50, 20_000), "x": rng.random(20_000) * 16})
    frame.loc[frame.sample(frac=0.1, random_state=2).index, "x"] = np.nan
    frame.loc[frame.g == 7, "x"] = np.nan  # a group with no value has no mean
    t = ibis.memtable(frame)
    got = ibis.duckdb.connect().execute(t.group_by("g").aggregate(m=exact_mean(t.x))).set_index("g").m.sort_index()
    expected = frame.groupby("g").x.mean().sort_index()
    assert np.isnan(got.loc[7]) and np.isnan(expected.loc[7])
    np.testing.assert_allclose(got.drop(7).to_numpy(), expected.drop(7).to_numpy(), rtol=0, atol=1e-10)
