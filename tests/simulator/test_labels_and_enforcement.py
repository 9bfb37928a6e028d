"""Label regimes and the enforcement history: who is labelled, and what the platform did before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from reviewguard.contract import ENFORCEMENT_OUTCOMES
from reviewguard.engine import connect
from reviewguard.reader import open_dataset
from reviewguard.simulator import SimConfig, simulate
from reviewguard.simulator.labelling import ladders

START = pd.Timestamp("2026-03-01", tz="UTC")
DAYS = 60
END = START + pd.Timedelta(days=DAYS)
REVIEWED = {"confirmed_case", "manual_review", "appeal_overturned"}


def read(folder: Path) -> dict[str, pd.DataFrame]:
    tables = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
    tables["truth"] = pd.read_parquet(folder / "_truth" / "populations.parquet")
    return tables


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


@pytest.fixture(scope="module")
def complaints_platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("complaints") / "data"
    simulate(SimConfig(accounts=3000, days=DAYS, seed=5, label_regime="complaints", difficulty="easy"), out)
    return out


@pytest.fixture(scope="module")
def complaints(complaints_platform: Path) -> dict[str, pd.DataFrame]:
    return read(complaints_platform)


@pytest.fixture(scope="module")
def audit(small_platform: Path) -> dict[str, pd.DataFrame]:
    return read(small_platform)


@pytest.fixture(scope="module")
def realistic_complaints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("realistic_complaints") / "data"
    # 6,000 accounts: at 3,000 the realistic platform has about ten remedied bots, too few for a share.
    simulate(SimConfig(accounts=6000, days=DAYS, seed=5, label_regime="complaints", difficulty="realistic"), out)
    return read(out)


# ------------------------------------------------------------------ complaints regime


def test_complaints_regime_changes_only_who_is_labelled_and_what_was_done(
    complaints_platform: Path, small_platform: Path
) -> None:
    a, c = digest(small_platform), digest(complaints_platform)
    assert set(a) == set(c)
    differ = {name for name in a if a[name] != c[name]}
    assert differ == {"labels.parquet", "enforcement.parquet"}


def test_complaints_regime_has_no_random_audit_and_only_reviewed_sources(
    complaints: dict[str, pd.DataFrame], audit: dict[str, pd.DataFrame]
) -> None:
    labels = complaints["labels"]
    assert set(labels.source) <= REVIEWED
    assert "random_audit" in set(audit["labels"].source)
    # A selected sample: far fewer labels than the audit regime.
    assert len(labels) < 0.5 * len(audit["labels"])
    assert not labels.duplicated(["account_id", "risk"]).any()
    assert (labels.loc[labels.source == "appeal_overturned", "label"] == 0).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_complaints_regime_positives_per_risk_are_a_few_dozen_at_scale(tmp_path: Path, seed: int) -> None:
    # 3,000 accounts is 3/20 of the documented 20k platform (25-60 extortion, 50-100 fake engagement).
    simulate(
        SimConfig(accounts=3000, days=DAYS, seed=seed, label_regime="complaints", difficulty="easy"), tmp_path / "d"
    )
    labels = pd.read_parquet(tmp_path / "d" / "labels.parquet")
    truth = pd.read_parquet(tmp_path / "d" / "_truth" / "populations.parquet").set_index("account_id").population
    pos = labels[labels.label == 1].groupby("risk").size()
    assert 3 <= pos.get("extortion", 0) <= 20, pos
    assert 5 <= pos.get("fake_engagement", 0) <= 40, pos
    # Most positives are true abusers; every risk has cleared (label 0) accounts too.
    pop = labels.account_id.map(truth)
    abusive = pop.isin(["extortion_crew", "automated_liker", "automated_liker_evasive"])
    assert (abusive[labels.label == 1]).mean() > 0.8
    assert (labels.groupby("risk").label.min() == 0).all()


@pytest.mark.parametrize("difficulty", ["easy", "realistic"])
def test_every_cleared_extortion_account_had_a_negative_review_before_the_decision(
    difficulty: str, request: pytest.FixtureRequest
) -> None:
    complaints = request.getfixturevalue("complaints" if difficulty == "easy" else "realistic_complaints")
    labels = complaints["labels"]
    cleared = labels[(labels.risk == "extortion") & (labels.label == 0)]
    assert len(cleared) > 0
    neg = complaints["reviews"][complaints["reviews"].rating <= 2]
    first_neg = neg.groupby("account_id").created_at.min().rename("first_negative")
    joined = cleared.join(first_neg, on="account_id")
    assert (joined.first_negative < joined.decided_at).all()
    # And they were in the queue because a merchant reported them.
    reported = set(complaints["reports"].account_id)
    assert cleared.account_id.isin(reported).all()


def test_complaints_decisions_spread_over_the_period(complaints: dict[str, pd.DataFrame]) -> None:
    labels = complaints["labels"]
    days = (labels.decided_at - START).dt.days
    half = DAYS // 2
    for label in (0, 1):
        assert (days[labels.label == label] < half).any(), label
        assert (days[labels.label == label] >= half).any(), label


def test_complaints_regime_is_deterministic(tmp_path: Path) -> None:
    cfg = SimConfig(accounts=800, days=30, seed=9, label_regime="complaints", chunk_accounts=300)
    simulate(cfg, tmp_path / "a")
    simulate(cfg, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_unknown_regime_is_refused() -> None:
    with pytest.raises(ValueError, match="label_regime"):
        SimConfig(label_regime="oracle")  # type: ignore[arg-type]


# ------------------------------------------------------------------ enforcement


@pytest.fixture(scope="module", params=["audit", "complaints", "realistic_complaints"])
def regime(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return request.getfixturevalue(request.param)


def test_enforcement_passes_the_contract(complaints_platform: Path) -> None:
    ds = open_dataset(connect(), complaints_platform)
    assert ds.report.ok
    assert int(ds.tables["enforcement"].count().execute()) > 0


def test_enforcement_uses_the_policy_actions_inside_the_period(regime: dict[str, pd.DataFrame]) -> None:
    enf = regime["enforcement"]
    assert len(enf) > 10
    assert set(enf.outcome) <= set(ENFORCEMENT_OUTCOMES)
    lad = ladders()
    for risk, rows in enf.groupby("risk"):
        allowed = {lad[risk].remedy, *lad[risk].human}
        assert set(rows.action) <= allowed
    assert "monitor" not in set(enf.action)
    assert enf.applied_at.between(START, END, inclusive="left").all()
    lifted = enf.lifted_at.dropna()
    assert (lifted < END).all()
    assert (enf.loc[lifted.index, "applied_at"] <= lifted).all()
    # Lifted means it is no longer in force.
    assert enf.loc[enf.outcome == "in_force", "lifted_at"].isna().all()


def test_human_actions_follow_a_lighter_remedy_in_most_cases(regime: dict[str, pd.DataFrame]) -> None:
    enf = regime["enforcement"]
    lad = ladders()
    remedy = enf[enf.apply(lambda r: r.action == lad[r.risk].remedy, axis=1)]
    human = enf[enf.apply(lambda r: r.action in lad[r.risk].human, axis=1)]
    assert len(human) > 0
    first_remedy = remedy.groupby(["account_id", "risk"]).applied_at.min()
    key = pd.MultiIndex.from_frame(human[["account_id", "risk"]])
    earlier = first_remedy.reindex(key).to_numpy() < human.applied_at.to_numpy()
    assert earlier.mean() >= 0.8


def test_remedies_behind_a_label_come_no_later_than_its_decision(regime: dict[str, pd.DataFrame]) -> None:
    enf, labels = regime["enforcement"], regime["labels"]
    reviewed = labels[labels.source.isin(REVIEWED)]
    lad = ladders()
    remedy = enf[enf.apply(lambda r: r.action == lad[r.risk].remedy, axis=1)]
    joined = remedy.merge(reviewed, on=["account_id", "risk"])
    assert len(joined) > 0
    assert (joined.applied_at <= joined.decided_at).all()


def test_every_overturned_action_has_its_appeal_label(regime: dict[str, pd.DataFrame]) -> None:
    enf, labels = regime["enforcement"], regime["labels"]
    overturned = enf[enf.outcome == "overturned_on_appeal"]
    appeals = labels[labels.source == "appeal_overturned"].set_index(["account_id", "risk"]).decided_at
    key = pd.MultiIndex.from_frame(overturned[["account_id", "risk"]])
    assert (appeals.reindex(key).to_numpy() == overturned.lifted_at.to_numpy()).all()


def test_abusers_are_remedied_far_more_often_than_others_and_some_ordinary_people_by_mistake(
    regime: dict[str, pd.DataFrame],
) -> None:
    enf, truth = regime["enforcement"], regime["truth"]
    pop = truth.set_index("account_id").population
    hit = set(enf.account_id)
    abusive = pop.isin(["extortion_crew", "automated_liker", "automated_liker_evasive"])
    rate_abusive = pop[abusive].index.isin(list(hit)).mean()
    rate_other = pop[~abusive].index.isin(list(hit)).mean()
    assert rate_abusive > 0.3
    assert rate_other < 0.05
    assert (~abusive[list(hit)]).any()  # mistakes happen
    # Most abusers keep going after a remedy: behaviour after the first one.
    lad = ladders()
    first = (
        enf[(enf.risk == "fake_engagement") & (enf.action == lad["fake_engagement"].remedy)]
        .groupby("account_id")
        .applied_at.min()
    )
    bots = first[first.index.map(pop).str.startswith("automated_liker")]
    last_like = regime["likes"].groupby("account_id").liked_at.max()
    assert (last_like.reindex(bots.index) > bots).mean() > 0.5


def test_command_line_takes_the_label_regime(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reviewguard.cli import app

    runner = CliRunner()
    args = ["simulate", "--accounts", "400", "--days", "20", "--seed", "2"]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "c"), "--labels", "complaints"])
    assert r.exit_code == 0, r.output
    labels = pd.read_parquet(tmp_path / "c" / "labels.parquet")
    assert "random_audit" not in set(labels.source)
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "x"), "--labels", "oracle"])
    assert r.exit_code != 0 and not (tmp_path / "x").exists()
