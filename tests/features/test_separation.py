"""Each feature family separates its populations on simulated data, at the labels' decision times."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.features import build_features, cutoffs_from_labels
from reviewguard.reader import open_dataset


@pytest.fixture(scope="module")
def by_population(train_platform: Path) -> pd.core.groupby.DataFrameGroupBy:
    ds = open_dataset(connect(), train_platform)
    f = build_features(ds, cutoffs_from_labels(ds)).to_pandas()
    truth = pd.read_parquet(train_platform / "_truth" / "populations.parquet")
    return f.merge(truth, on="account_id").groupby("population")


def test_automated_likers_differ_from_power_likers_where_they_should(by_population) -> None:  # type: ignore[no-untyped-def]
    med = by_population.median(numeric_only=True)
    bot, human = med.loc["automated_liker"], med.loc["power_liker"]
    # Volume alone does not separate them well: both like a lot.
    assert human["likes_per_day_max"] > 100
    # What humans rarely show: liking without opening, round-the-clock hours, lockstep, shared devices.
    assert bot["like_without_open_share"] > 0.8 > 0.5 > human["like_without_open_share"]
    assert bot["active_hours_per_day"] > 2 * human["active_hours_per_day"]
    assert bot["night_like_share"] > 3 * human["night_like_share"]
    assert bot["lockstep_peer_accounts"] >= 1 and human["lockstep_peer_accounts"] == 0
    assert bot["accounts_sharing_device"] >= 1 and human["accounts_sharing_device"] == 0
    assert bot["dwell_median_ms"] < 500 < human["dwell_median_ms"]
    evasive = med.loc["automated_liker_evasive"]
    assert evasive["lockstep_peer_accounts"] >= 1 and evasive["like_gap_median_s"] > human["like_gap_median_s"]


def test_extortion_crews_differ_from_unhappy_customers_where_they_should(by_population) -> None:  # type: ignore[no-untyped-def]
    med = by_population.median(numeric_only=True)
    mean = by_population.mean(numeric_only=True)
    crew, unhappy = med.loc["extortion_crew"], med.loc["unhappy_customer"]
    # Both write negative reviews and message the shop.
    assert crew["negative_reviews_90d"] >= 1 and unhappy["negative_reviews_90d"] >= 1
    assert unhappy["negative_review_then_message_share"] > 0.5
    # Only crews demand money, are paid far above the price, and remove the review after payment.
    assert crew["money_demand_messages"] >= 1 and unhappy["money_demand_messages"] == 0
    assert (
        mean.loc["extortion_crew", "transfer_to_order_ratio_max"]
        > 10 * mean.loc["unhappy_customer", "transfer_to_order_ratio_max"]
    )
    assert (
        mean.loc["extortion_crew", "negative_review_removed_after_payment_share"]
        > 0.2
        > mean.loc["unhappy_customer", "negative_review_removed_after_payment_share"]
    )
    assert crew["negatively_reviewed_merchants"] > unhappy["negatively_reviewed_merchants"]
    assert crew["negative_reviewed_merchant_orders"] < unhappy["negative_reviewed_merchant_orders"]
    assert crew["hours_delivery_to_negative_review"] < unhappy["hours_delivery_to_negative_review"]
    assert unhappy["refund_rate"] > crew["refund_rate"]
