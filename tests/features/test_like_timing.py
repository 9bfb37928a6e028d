"""Like-timing features against a brute-force reading of their definitions (medians of gaps and
dwell times, the gaps' and hours' entropies) on random platforms with two cutoffs per account and
accounts in every slice the medians are computed in; and entropies the same in any row order."""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from tests_support import likes_only_platform

from reviewguard.features import cutoffs_at
from reviewguard.features.likes import MEDIAN_SLICES, NIGHT_HOURS_UTC, SESSION_GAP_MS, like_timing_features
from reviewguard.features.pit import entropy_bits

AS_OFS = (pd.Timestamp("2026-03-01T00:00:00Z"), pd.Timestamp("2026-03-09T13:30:00Z"))
WINDOW = pd.Timedelta(days=30)


def _entropy(counts: pd.Series) -> float:
    p = counts.to_numpy(dtype=float) / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _platform(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    lo = AS_OFS[0] - WINDOW - pd.Timedelta(days=2)
    for i in range(60):
        account = f"acct{i:02d}"
        t = lo + pd.Timedelta(hours=float(rng.uniform(0, 40 * 24)))
        bot = i % 5 == 0  # a fixed rhythm, often under a second, never opening what it likes
        for _ in range(int(rng.integers(0, 120))):
            if bot:
                step = pd.Timedelta(milliseconds=int(rng.choice([400, 800])))
            elif rng.random() < 0.1:
                step = pd.Timedelta(hours=float(rng.uniform(1, 60)))  # a new session
            else:
                step = pd.Timedelta(milliseconds=int(rng.lognormal(9, 1.5)))
            t = t + step
            dwell = None if bot or rng.random() < 0.2 else int(rng.integers(200, 90_000))
            rows.append((account, t, dwell))
            if rng.random() < 0.03:
                rows.append((account, t, dwell))  # two likes in the same millisecond: a gap of 0
    frame = pd.DataFrame(rows, columns=["account_id", "liked_at", "dwell_ms"])
    return frame.assign(liked_at=frame.liked_at.dt.floor("ms"))


def _brute_force(likes: pd.DataFrame) -> pd.DataFrame:
    out = []
    for as_of in AS_OFS:
        seen = likes[(likes.liked_at >= as_of - WINDOW) & (likes.liked_at < as_of)]
        for account, mine in seen.groupby("account_id"):
            t = np.sort((mine.liked_at - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(milliseconds=1))
            gaps = np.diff(t)
            session = gaps[gaps < SESSION_GAP_MS]
            bins = pd.Series(np.floor(np.log2(session + 1.0)).astype(int)).value_counts()
            dwell = mine.dwell_ms.dropna()
            out.append(
                {
                    "account_id": account,
                    "as_of": as_of,
                    "like_gap_median_s": float(np.median(session)) / 1000.0 if len(session) else np.nan,
                    "like_gap_entropy_bits": _entropy(bins) if len(session) else np.nan,
                    "night_like_share": float(mine.liked_at.dt.hour.isin(NIGHT_HOURS_UTC).mean()),
                    "like_hour_entropy_bits": _entropy(mine.liked_at.dt.hour.value_counts()),
                    "dwell_median_ms": float(np.median(dwell)) if len(dwell) else np.nan,
                }
            )
    return pd.DataFrame(out).sort_values(["account_id", "as_of"]).reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_like_timing_equals_a_brute_force_reading_of_the_definitions(tmp_path: Path, seed: int) -> None:
    likes = _platform(np.random.default_rng(seed))
    accounts = sorted(set(likes.account_id))
    ds = likes_only_platform(tmp_path / "d", likes)
    cutoffs = ibis.union(*(cutoffs_at(ds, t.to_pydatetime()).select("account_id", "as_of") for t in AS_OFS))
    got = like_timing_features(ds, cutoffs).to_pandas()
    got = got.assign(as_of=pd.to_datetime(got.as_of, utc=True)).sort_values(["account_id", "as_of"])
    expected = _brute_force(likes)
    got = got.reset_index(drop=True)[expected.columns]
    # The medians are computed a slice of the accounts at a time: every slice holds some of them,
    # and the platform has accounts without any dwell time or any gap within a session.
    ids = ibis.memtable({"account_id": accounts})
    assert ds.con.execute((ids.account_id.hash().abs() % MEDIAN_SLICES).nunique()) == MEDIAN_SLICES
    assert expected.dwell_median_ms.isna().sum() >= 2 and expected.dwell_median_ms.notna().sum() >= 40
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-9, atol=1e-9)
    # Medians are exact, not close.
    for column in ("like_gap_median_s", "dwell_median_ms"):
        assert np.array_equal(got[column].to_numpy(float), expected[column].to_numpy(float), equal_nan=True)


def test_entropy_is_the_same_in_any_row_order() -> None:
    rng = np.random.default_rng(4)
    n_keys, n_bins = 3000, 22
    counts = pd.DataFrame(
        {
            "account_id": np.repeat([f"a{i}" for i in range(n_keys)], n_bins),
            "as_of": pd.Timestamp("2026-03-01T00:00:00Z"),
            "bin": np.tile(np.arange(n_bins), n_keys),
            "c": rng.integers(1, 5000, n_keys * n_bins),
        }
    )
    con = ibis.duckdb.connect()
    results = []
    for order in (np.arange(len(counts)), rng.permutation(len(counts)), np.arange(len(counts))[::-1]):
        t = ibis.memtable(counts.iloc[order].reset_index(drop=True))
        results.append(con.execute(entropy_bits(t, ("account_id", "as_of"), "c")).sort_values("account_id"))
    for other in results[1:]:
        assert np.array_equal(results[0].entropy.to_numpy(), other.entropy.to_numpy())
    # A single bin is exactly 0 bits, never -0.0 (a reason would read "-0.00 bits").
    for c in (1, 3, 7, 4999, 123_457):
        one = ibis.memtable(counts.iloc[:1].assign(c=c))
        zero = con.execute(entropy_bits(one, ("account_id", "as_of"), "c")).entropy.iloc[0]
        assert zero == 0.0 and not np.signbit(zero), (c, zero)
    expected = counts.groupby("account_id").c.apply(_entropy).sort_index()
    got = results[0].set_index("account_id").entropy.sort_index()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-8)


@pytest.mark.parametrize("seed", [5, 6])
def test_asking_for_some_like_timing_features_gives_the_same_values(tmp_path: Path, seed: int) -> None:
    from reviewguard.features import build_features
    from reviewguard.features.registry import FEATURES

    rng = np.random.default_rng(seed)
    ds = likes_only_platform(tmp_path / "d", _platform(rng))
    cutoffs = ibis.union(*(cutoffs_at(ds, t.to_pydatetime()).select("account_id", "as_of") for t in AS_OFS))
    names = [f.name for f in FEATURES if f.group == "like_timing"]
    every = build_features(ds, cutoffs, names).to_pandas().sort_values(["account_id", "as_of"])
    assert every[names].notna().any().all()
    # The five features' pair (no median, no entropy: the gaps are not stored), each feature
    # alone, and random subsets: the same values as when the whole group is computed.
    subsets = [["like_gap_min_ms", "like_without_open_share"], *([n] for n in names)]
    subsets += [sorted(rng.choice(names, size=int(rng.integers(2, len(names))), replace=False)) for _ in range(4)]
    for subset in subsets:
        some = build_features(ds, cutoffs, list(subset)).to_pandas().sort_values(["account_id", "as_of"])
        assert list(some.columns) == ["account_id", "as_of", *subset]
        pd.testing.assert_frame_equal(
            some.reset_index(drop=True),
            every[["account_id", "as_of", *subset]].reset_index(drop=True),
            check_exact=True,
        )
