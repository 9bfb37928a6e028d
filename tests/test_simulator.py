"""The simulator: deterministic, valid under the contract, and each population behaves as documented."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.reader import open_dataset
from reviewguard.simulator import SimConfig, simulate


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    cfg = SimConfig(accounts=1500, days=30, seed=3, chunk_accounts=600)
    simulate(cfg, tmp_path / "a")
    simulate(cfg, tmp_path / "b")
    simulate(SimConfig(accounts=1500, days=30, seed=4, chunk_accounts=600), tmp_path / "c")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["likes.parquet"] != digest(tmp_path / "c")["likes.parquet"]


def test_liked_items_are_written_without_a_parquet_dictionary(small_platform: Path) -> None:
    import pyarrow.parquet as pq

    # A dictionary that overflows mid-chunk makes DuckDB read the column 7x slower; the repeating
    # columns keep theirs (they compress better with one).
    meta = pq.ParquetFile(small_platform / "likes.parquet").metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    for g in range(meta.num_row_groups):
        dictionary = {n: meta.row_group(g).column(i).has_dictionary_page for i, n in enumerate(names)}
        assert not dictionary["content_id"] and dictionary["account_id"] and dictionary["author_id"]


def test_refuses_to_overwrite_and_leaves_no_partial_folder(tmp_path: Path) -> None:
    simulate(SimConfig(accounts=300, days=20, seed=1), tmp_path / "d")
    from reviewguard.errors import ReviewguardError

    with pytest.raises(ReviewguardError, match="not empty"):
        simulate(SimConfig(accounts=300, days=20, seed=1), tmp_path / "d")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


@pytest.fixture(scope="module")
def sim(small_platform: Path) -> dict[str, pd.DataFrame]:
    tables = {p.stem: pd.read_parquet(p) for p in small_platform.glob("*.parquet")}
    tables["truth"] = pd.read_parquet(small_platform / "_truth" / "populations.parquet")
    return tables


def test_simulated_data_passes_the_contract(small_platform: Path) -> None:
    ds = open_dataset(connect(), small_platform)
    assert ds.report.ok
    assert set(ds.tables) == {
        "accounts",
        "orders",
        "reviews",
        "messages",
        "transfers",
        "reports",
        "likes",
        "enforcement",
        "labels",
    }


def test_population_shares_and_rare_labelled_abuse(sim: dict[str, pd.DataFrame]) -> None:
    shares = sim["truth"]["population"].value_counts(normalize=True)
    assert 0.85 < shares["ordinary"] < 0.96
    assert 0.025 < shares["unhappy_customer"] < 0.06
    assert shares["power_liker"] > 0.005
    assert 0.001 < shares[["automated_liker", "automated_liker_evasive"]].sum() < 0.015
    labels = sim["labels"]
    assert labels["account_id"].nunique() < 0.3 * len(sim["accounts"])  # only a subset is labelled
    assert labels.loc[labels.label == 1, "account_id"].nunique() < 0.05 * len(sim["accounts"])
    overturned = labels[labels.source == "appeal_overturned"]
    assert len(overturned) > 0 and (overturned.label == 0).all()


def test_every_event_happens_inside_the_period(sim: dict[str, pd.DataFrame]) -> None:
    end = pd.Timestamp("2026-03-01", tz="UTC") + pd.Timedelta(days=60)
    for name, col in (
        ("orders", "ordered_at"),
        ("reviews", "created_at"),
        ("messages", "sent_at"),
        ("transfers", "paid_at"),
        ("reports", "reported_at"),
        ("likes", "liked_at"),
    ):
        assert sim[name][col].max() < end, name
    assert sim["reviews"]["deleted_at"].dropna().max() < end


def _per_account_likes(sim: dict[str, pd.DataFrame], population: str) -> pd.DataFrame:
    ids = sim["truth"].loc[sim["truth"].population == population, "account_id"]
    return sim["likes"][sim["likes"].account_id.isin(ids)]


def test_power_likers_are_fast_humans_and_bots_are_machines(sim: dict[str, pd.DataFrame]) -> None:
    power = _per_account_likes(sim, "power_liker")
    bots = _per_account_likes(sim, "automated_liker")
    # Humans open most of what they like; plain bots almost never do.
    assert power.dwell_ms.isna().mean() < 0.4
    assert bots.dwell_ms.isna().mean() > 0.85
    # Humans peak around 90 likes a minute, never far beyond it.
    per_min = power.groupby([power.account_id, power.liked_at.dt.floor("min")]).size()
    assert 40 <= per_min.max() <= 95
    # Humans sleep; bots like through the night (01:00-06:00 China time).
    night = [17, 18, 19, 20, 21]
    assert power.liked_at.dt.hour.isin(night).mean() < 0.06
    assert bots.liked_at.dt.hour.isin(night).mean() > 0.12
    # A like is once per item.
    assert not sim["likes"].duplicated(["account_id", "content_id"]).any()


def test_bot_groups_share_devices_and_like_in_lockstep(sim: dict[str, pd.DataFrame]) -> None:
    truth = sim["truth"]
    bots = truth[truth.population.str.startswith("automated_liker")]
    likes = sim["likes"].merge(bots[["account_id", "group_id"]], on="account_id")
    devices_per_group = likes.groupby("group_id").device_id.nunique()
    accounts_per_group = likes.groupby("group_id").account_id.nunique()
    groups = accounts_per_group[accounts_per_group >= 2].index
    assert len(groups) >= 1
    assert (devices_per_group[groups] < accounts_per_group[groups]).all()
    # Members of a group like the same items.
    shared = likes.groupby(["group_id", "content_id"]).account_id.nunique()
    assert (shared >= 2).mean() > 0.5


def test_extortion_crews_follow_the_sequence_and_unhappy_customers_do_not(sim: dict[str, pd.DataFrame]) -> None:
    truth = sim["truth"].set_index("account_id").population
    msgs = sim["messages"][sim["messages"].sender == "account"].copy()
    msgs["population"] = msgs.account_id.map(truth)
    amounts = msgs.text.str.replace(",", "").str.extract(r"(\d{3,5})")[0].dropna().astype(int)
    crew_amounts = amounts[msgs.loc[amounts.index, "population"] == "extortion_crew"]
    assert crew_amounts.between(600, 8800).all() and len(crew_amounts) > 10
    assert msgs[msgs.population == "extortion_crew"].text.str.contains("差评|review", regex=True).mean() > 0.5
    transfers = sim["transfers"].copy()
    transfers["population"] = transfers.account_id.map(truth)
    orders = sim["orders"]
    crew_paid = transfers[transfers.population == "extortion_crew"].amount.median()
    unhappy_paid = transfers[transfers.population == "unhappy_customer"].amount.median()
    assert crew_paid > 5 * unhappy_paid
    # Crews attack small shops.
    size = orders.groupby("merchant_id").size()
    reviews = sim["reviews"]
    neg = reviews[reviews.rating <= 2].copy()
    neg["population"] = neg.account_id.map(truth)
    crew_target = size.reindex(neg[neg.population == "extortion_crew"].merchant_id).median()
    unhappy_target = size.reindex(neg[neg.population == "unhappy_customer"].merchant_id).median()
    assert crew_target < unhappy_target
    # Unhappy customers sometimes raise their rating after a refund; crews delete after payment.
    unhappy_neg = neg[neg.population == "unhappy_customer"]
    assert (unhappy_neg.edited_rating >= 3).mean() > 0.05
    assert neg[neg.population == "extortion_crew"].deleted_at.notna().mean() > 0.1


def test_ids_and_times_follow_the_contract_types(sim: dict[str, pd.DataFrame]) -> None:
    assert all(re.fullmatch(r"a\d{8}", a) for a in sim["accounts"].account_id.head(50))
    assert str(sim["likes"].liked_at.dtype).startswith("datetime64[ms, UTC]")
    assert np.issubdtype(sim["reviews"].rating.dtype, np.integer)
