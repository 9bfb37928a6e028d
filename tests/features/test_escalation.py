"""Escalation inputs from the enforcement table: point in time, overturned remedies excluded, zeros
without history, never model features."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.features import (
    BY_NAME,
    ESCALATION_FEATURES,
    build_features,
    cutoffs_at,
    features_for,
)
from reviewguard.reader import open_dataset

NAMES = [n for pair in ESCALATION_FEATURES.values() for n in pair]

ACCOUNTS = """account_id,created_at,level,phone_verified
bot,2026-01-01T00:00:00Z,3,true
clean,2026-01-01T00:00:00Z,3,true
appealed,2026-01-01T00:00:00Z,3,true
appeal_later,2026-01-01T00:00:00Z,3,true
future,2026-01-01T00:00:00Z,3,true
watched,2026-01-01T00:00:00Z,3,true
crew,2026-01-01T00:00:00Z,3,true
"""
# bot: a void at 02-10 12:00 standing, an older one at 02-01; likes before and after the last one.
# appealed: voided, overturned on appeal on 02-12 (before the cutoff). appeal_later: overturned on
# 02-25, after the 02-20 cutoff. future: remedied after the cutoff. watched: only monitored.
# crew: two extortion remedies, one overturned (the later one) before the cutoff.
ENFORCEMENT = """account_id,risk,action,applied_at,lifted_at,outcome
bot,fake_engagement,void_abnormal_likes,2026-02-01T00:00:00Z,,in_force
bot,fake_engagement,void_abnormal_likes,2026-02-10T12:00:00Z,2026-02-15T00:00:00Z,expired
appealed,fake_engagement,restrict_liking_pending_review,2026-02-05T00:00:00Z,2026-02-12T00:00:00Z,overturned_on_appeal
appeal_later,fake_engagement,void_abnormal_likes,2026-02-05T00:00:00Z,2026-02-25T00:00:00Z,overturned_on_appeal
future,fake_engagement,void_abnormal_likes,2026-02-20T00:00:01Z,,in_force
watched,fake_engagement,monitor,2026-02-05T00:00:00Z,,in_force
crew,extortion,hold_review_for_checking,2026-02-03T00:00:00Z,,upheld_on_appeal
crew,extortion,referral,2026-02-08T00:00:00Z,2026-02-11T00:00:00Z,overturned_on_appeal
"""
LIKES_HEADER = "account_id,content_id,author_id,liked_at,dwell_ms,device_id\n"
LIKES = [
    ("bot", "2026-02-10T11:59:59.999Z"),  # before the last remedy
    ("bot", "2026-02-10T12:00:00.000Z"),  # at it: not after it
    ("bot", "2026-02-11T00:00:00.000Z"),
    ("bot", "2026-02-19T23:59:59.999Z"),
    ("bot", "2026-02-20T00:00:00.000Z"),  # at the cutoff: not before it
    ("clean", "2026-02-11T00:00:00.000Z"),
    ("appealed", "2026-02-13T00:00:00.000Z"),
    ("appeal_later", "2026-02-13T00:00:00.000Z"),
    ("future", "2026-02-21T00:00:00.000Z"),
    ("watched", "2026-02-13T00:00:00.000Z"),
]
REVIEWS_HEADER = (
    "review_id,account_id,merchant_id,order_id,rating,text,created_at,edited_at,edited_rating,deleted_at,device_id\n"
)
REVIEWS = [
    ("r1", "crew", 1, "2026-02-02T00:00:00Z"),  # before the standing remedy
    ("r2", "crew", 2, "2026-02-04T00:00:00Z"),  # after it
    ("r3", "crew", 5, "2026-02-05T00:00:00Z"),  # positive: not a negative review
    ("r4", "crew", 1, "2026-02-09T00:00:00Z"),  # after the standing one (the overturned one is ignored)
    ("r5", "clean", 1, "2026-02-09T00:00:00Z"),
]
CUTOFF = pd.Timestamp("2026-02-20").to_pydatetime()


def write(root: Path, enforcement: str | None = ENFORCEMENT, likes: bool = True, reviews: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    if enforcement is not None:
        (root / "enforcement.csv").write_text(enforcement, encoding="utf-8")
    if likes:
        rows = [f"{a},c{i},x,{t},100,d{a}" for i, (a, t) in enumerate(LIKES)]
        (root / "likes.csv").write_text(LIKES_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    if reviews:
        rows = [f"{r},{a},m{r},,{s},,{t},,,," for r, a, s, t in REVIEWS]
        (root / "reviews.csv").write_text(REVIEWS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return root


def features(root: Path, as_of=CUTOFF) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    ds = open_dataset(connect(), root)
    f = build_features(ds, cutoffs_at(ds, as_of)).to_pandas()
    return f.sort_values("account_id").set_index("account_id")


def test_remedies_and_behaviour_after_them_are_point_in_time(tmp_path: Path) -> None:
    f = features(write(tmp_path / "d"))[NAMES]
    # bot: both voids stand; likes strictly after the last one and strictly before the cutoff.
    assert f.loc["bot", "fake_engagement_prior_remedies"] == 2
    assert f.loc["bot", "likes_after_last_remedy"] == 2
    # No remedy: nothing after it either, whatever the account did.
    assert f.loc["clean"].tolist() == [0, 0, 0, 0]
    # Overturned on appeal before the cutoff: not a remedy the member ignored.
    assert f.loc["appealed", "fake_engagement_prior_remedies"] == 0
    assert f.loc["appealed", "likes_after_last_remedy"] == 0
    # Overturned only after the cutoff: at the cutoff the remedy stood.
    assert f.loc["appeal_later", "fake_engagement_prior_remedies"] == 1
    assert f.loc["appeal_later", "likes_after_last_remedy"] == 1
    # A remedy after the cutoff does not count; monitoring is not a remedy.
    assert f.loc["future"].tolist() == [0, 0, 0, 0]
    assert f.loc["watched"].tolist() == [0, 0, 0, 0]
    # Extortion: the overturned referral is ignored, so behaviour counts after the standing hold;
    # only negative reviews count.
    assert f.loc["crew", "extortion_prior_remedies"] == 1
    assert f.loc["crew", "negative_reviews_after_last_remedy"] == 2
    assert f.loc["crew", "fake_engagement_prior_remedies"] == 0


def test_a_later_appeal_changes_only_later_cutoffs(tmp_path: Path) -> None:
    later = features(write(tmp_path / "d"), pd.Timestamp("2026-03-01").to_pydatetime())[NAMES]
    assert later.loc["appeal_later", "fake_engagement_prior_remedies"] == 0
    assert later.loc["future", "fake_engagement_prior_remedies"] == 1
    assert later.loc["future", "likes_after_last_remedy"] == 1


def test_events_after_the_cutoff_change_no_escalation_input(tmp_path: Path) -> None:
    """The platform as it was at the cutoff (remedies applied later absent, appeals decided later
    undecided) gives the same features as the full history."""
    cutoff = pd.Timestamp(CUTOFF, tz="UTC")
    rows = [line.split(",") for line in ENFORCEMENT.strip().splitlines()]
    header, past = rows[0], []
    for r in rows[1:]:
        if pd.Timestamp(r[3]) >= cutoff:
            continue
        if r[4] and pd.Timestamp(r[4]) >= cutoff:
            r = [*r[:4], "", "in_force"]
        past.append(r)
    truncated = "\n".join(",".join(r) for r in [header, *past]) + "\n"
    full = features(write(tmp_path / "full"))
    old = write(tmp_path / "past", enforcement=truncated)
    likes = pd.read_csv(old / "likes.csv")
    likes[pd.to_datetime(likes.liked_at) < cutoff].to_csv(old / "likes.csv", index=False)
    pd.testing.assert_frame_equal(full[NAMES], features(old)[NAMES], check_exact=True)
    assert full[NAMES].to_numpy().sum() > 0


@pytest.mark.parametrize(
    ("enforcement", "likes", "reviews"),
    [(None, True, True), ("account_id,risk,action,applied_at,lifted_at,outcome\n", True, True), (None, False, False)],
    ids=["no_table", "empty_table", "no_tables_at_all"],
)
def test_without_enforcement_history_every_input_is_zero(
    tmp_path: Path, enforcement: str | None, likes: bool, reviews: bool
) -> None:
    f = features(write(tmp_path / "d", enforcement=enforcement, likes=likes, reviews=reviews))
    assert (f[NAMES] == 0).all().all() and not f[NAMES].isna().any().any()


def test_without_the_behaviour_table_behaviour_after_is_zero(tmp_path: Path) -> None:
    f = features(write(tmp_path / "d", likes=False))[NAMES]
    assert f.loc["bot", "fake_engagement_prior_remedies"] == 2 and f.loc["bot", "likes_after_last_remedy"] == 0
    assert f.loc["crew", "negative_reviews_after_last_remedy"] == 2


def test_deterministic(tmp_path: Path) -> None:
    root = write(tmp_path / "d")
    pd.testing.assert_frame_equal(features(root), features(root), check_exact=True)


def test_escalation_inputs_are_policy_inputs_that_absence_cannot_raise() -> None:
    assert set(ESCALATION_FEATURES) == {"fake_engagement", "extortion"}
    for risk, names in ESCALATION_FEATURES.items():
        assert len(names) == 2
        model = {f.name for f in features_for(risk)}
        for name in names:
            f = BY_NAME[name]
            assert risk in f.risks and not f.in_model and name not in model
            # A count whose 0 is the truth without history, rising with risk: 0 is the least risky value.
            assert f.direction == 1 and f.zero_fill and f.when_table_missing == 0.0
    with pytest.raises(KeyError, match="policy inputs"):
        features_for("extortion", {"extortion": ("extortion_prior_remedies",)})
