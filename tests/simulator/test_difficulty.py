"""Difficulty presets: easy is the first simulator unchanged; realistic adds the overlaps of issue 15."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from reviewguard.simulator import PRESETS, SimConfig, simulate

START = pd.Timestamp("2026-03-01", tz="UTC")

# Content of every table of SimConfig(accounts=600, days=30, seed=2) (easy, audit regime),
# as produced by the simulator before the difficulty existed (events and labels) and with
# its first enforcement history. A change here changes every test, benchmark and figure.
EASY_CONTENT = {
    "accounts": 4800444538863999015,
    "enforcement": 4150090585993360275,
    "labels": 5003951959299608266,
    "likes": 17623744727856933341,
    "messages": 2292420842282047212,
    "orders": 9707976881163242060,
    "reports": 6915396761541581486,
    "reviews": 14729139604131486599,
    "transfers": 16400784673198078324,
}


def content(folder: Path) -> dict[str, int]:
    out = {}
    for p in sorted(folder.glob("*.parquet")):
        df = pd.read_parquet(p)
        out[p.stem] = int(pd.util.hash_pandas_object(df, index=False).sum()) if len(df) else 0
    return out


def read(folder: Path) -> dict[str, pd.DataFrame]:
    tables = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
    truth = pd.read_parquet(folder / "_truth" / "populations.parquet")
    tables["truth"] = truth
    tables["pop"] = truth.set_index("account_id").population
    return tables


def test_realistic_is_the_default_and_easy_the_first_simulator_unchanged(tmp_path: Path) -> None:
    assert SimConfig().difficulty == "realistic"
    simulate(SimConfig(accounts=600, days=30, seed=2, difficulty="easy"), tmp_path / "d")
    assert content(tmp_path / "d") == EASY_CONTENT


def test_unknown_difficulty_is_refused() -> None:
    with pytest.raises(ValueError, match="difficulty"):
        SimConfig(difficulty="impossible")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("realistic") / "data"
    simulate(SimConfig(accounts=3000, days=60, seed=5, difficulty="realistic"), out)
    return read(out)


@pytest.fixture(scope="module")
def easy(small_platform: Path) -> dict[str, pd.DataFrame]:
    return read(small_platform)


def _shares_device(t: dict[str, pd.DataFrame]) -> pd.Series:
    """Per account: whether any other account used one of its devices."""
    used = pd.concat([t["orders"][["account_id", "device_id"]], t["likes"][["account_id", "device_id"]]])
    used = used.dropna().drop_duplicates()
    users = used.groupby("device_id").account_id.nunique()
    shared = used[used.device_id.map(users) > 1].account_id.unique()
    return t["pop"].index.to_series().isin(shared).set_axis(t["pop"].index)


def test_ordinary_people_share_devices_only_on_the_realistic_platform(
    easy: dict[str, pd.DataFrame], realistic: dict[str, pd.DataFrame]
) -> None:
    easy_shared = _shares_device(easy)
    assert not easy_shared[easy["pop"] == "ordinary"].any()  # the tell-tale of issue 15
    shared = _shares_device(realistic)
    ordinary = shared[realistic["pop"] == "ordinary"]
    assert 0.02 < ordinary.mean() < 0.15  # several percent
    # And some abusers share nothing: farms with a device per account, crews apart.
    bots = realistic["pop"].str.startswith("automated_liker")
    assert (~shared[bots]).sum() > 0
    crew = realistic["pop"] == "extortion_crew"
    assert (~shared[crew]).sum() > 0


def test_unhappy_customers_claim_large_sums_and_merchants_pay_for_real_faults(
    realistic: dict[str, pd.DataFrame],
) -> None:
    msgs = realistic["messages"]
    msgs = msgs[(msgs.sender == "account") & msgs.account_id.map(realistic["pop"]).eq("unhappy_customer")]
    amounts = msgs.text.str.replace(",", "").str.extract(r"(\d{3,5})")[0].dropna().astype(int)
    assert (amounts >= 200).sum() >= 5
    tr = realistic["transfers"]
    comp = tr[(tr.kind == "compensation") & tr.account_id.map(realistic["pop"]).eq("unhappy_customer")]
    assert (comp.amount >= 100).sum() >= 5


def test_power_likers_write_honest_negative_reviews_and_some_like_at_night(
    easy: dict[str, pd.DataFrame], realistic: dict[str, pd.DataFrame]
) -> None:
    def negative_share(t: dict[str, pd.DataFrame]) -> float:
        power = t["pop"][t["pop"] == "power_liker"].index
        neg = t["reviews"][t["reviews"].rating <= 2].account_id.unique()
        return float(pd.Index(power).isin(neg).mean())

    assert negative_share(realistic) > negative_share(easy) + 0.1
    likes = realistic["likes"]
    power = likes[likes.account_id.map(realistic["pop"]).eq("power_liker")]
    night = power.liked_at.dt.hour.isin([17, 18, 19, 20, 21])  # 01:00-06:00 China time
    per_account = night.groupby(power.account_id).mean()
    assert (per_account > 0.1).sum() >= 2


def test_hard_negative_decisions_spread_over_the_period(realistic: dict[str, pd.DataFrame]) -> None:
    labels = realistic["labels"]
    hard = labels[(labels.label == 0) & (labels.source != "random_audit")]
    days = (hard.decided_at - START).dt.days
    assert (days < 30).mean() > 0.2


def test_the_dianping_profile_likes_twenty_thousand_a_day_for_weeks(tmp_path: Path) -> None:
    overlaps = replace(PRESETS["realistic"], heavy_liker_share=0.004)
    simulate(SimConfig(accounts=1500, days=60, seed=3, difficulty="realistic", overlaps=overlaps), tmp_path / "d")
    t = read(tmp_path / "d")
    heavy = t["pop"][t["pop"].str.startswith("heavy_liker")]
    assert len(heavy) >= 3
    likes = t["likes"][t["likes"].account_id.isin(heavy.index)]
    per_day = likes.groupby([likes.account_id, likes.liked_at.dt.floor("D")]).size()
    big_days = (per_day >= 20_000).groupby(level=0).sum()
    tools = heavy[heavy == "heavy_liker_tool"].index
    assert (big_days.reindex(tools) >= 8).all()
    # Human-looking: they sleep (few likes 01:00-06:00 China time) and rarely open content.
    assert likes.liked_at.dt.hour.isin([17, 18, 19, 20, 21]).mean() < 0.1
    assert likes.dwell_ms.isna().mean() > 0.8
    acc = t["accounts"].set_index("account_id")
    assert (acc.loc[heavy.index, "level"] >= 7).all()
    # Every like is still once per item.
    assert not likes.duplicated(["account_id", "content_id"]).any()


def test_realistic_platform_is_deterministic(tmp_path: Path) -> None:
    cfg = SimConfig(accounts=700, days=30, seed=4, difficulty="hard", label_regime="complaints")
    simulate(cfg, tmp_path / "a")
    simulate(cfg, tmp_path / "b")
    assert content(tmp_path / "a") == content(tmp_path / "b")
