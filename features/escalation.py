"""Escalation inputs: what the platform already did to an account for a risk, and whether the
behaviour went on after it (the optional ``enforcement`` table of contract 1.1).

A sanction is a last resort: a heavier action normally needs a lighter remedy
applied before it and behaviour that went on after it. These features are the
policy's reading of that history, computed and returned by ``build_features``,
and **never model features** (``in_model=False``): a model that learned from
the platform's own past sanctions would learn its moderators' habits, not the
account's behaviour.

Point in time: a remedy counts when it was applied before the as-of. A remedy
overturned on appeal is not a remedy the member ignored: it never counts once
the appeal was decided before the as-of (``lifted_at`` before it, or unknown).
An appeal decided after the as-of did not exist yet, so at that moment the
remedy stood. Monitoring is not a remedy (nothing happened to the account).

Absence of data is never evidence: without the table, or without a remedy,
every count is 0, and 0 is the least risky value (direction +1).
"""

from __future__ import annotations

import ibis

from reviewguard.features.pit import KEY, before, is_negative, left_join_key, outer_join_key
from reviewguard.features.spec import EX, FE, Feature, Group
from reviewguard.reader import Dataset

NOT_REMEDIES = ("monitor",)
OVERTURNED = "overturned_on_appeal"

# The escalation inputs of a risk: (remedies applied before, behaviour after the last one).
# The policy reads exactly this mapping.
ESCALATION_FEATURES: dict[str, tuple[str, str]] = {
    "fake_engagement": ("fake_engagement_prior_remedies", "likes_after_last_remedy"),
    "extortion": ("extortion_prior_remedies", "negative_reviews_after_last_remedy"),
}


def standing_remedies(ds: Dataset, cutoffs: ibis.Table, risk: str) -> ibis.Table:
    """Remedies for ``risk`` applied before each cutoff and not overturned on appeal by then."""
    e = ds.tables["enforcement"]
    e = e.filter((e.risk == risk) & ~e.action.isin(list(NOT_REMEDIES)))
    j = before(e, cutoffs, "applied_at")
    overturned = (j.outcome == OVERTURNED) & (j.lifted_at.isnull() | (j.lifted_at < j.as_of))
    return j.filter(~overturned)


def _after_last(events: ibis.Table, time_col: str, last: ibis.Table, name: str) -> ibis.Table:
    """Per cutoff: events strictly after its last standing remedy and strictly before its as_of."""
    j = events.join(last, "account_id")
    j = j.filter((j[time_col] > j.last_remedy_at) & (j[time_col] < j.as_of))
    return j.group_by(list(KEY)).aggregate(**{name: j.count()})


def escalation_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    likes, reviews = ds.table("likes"), ds.table("reviews")
    behaviour: dict[str, tuple[ibis.Table | None, str]] = {
        "fake_engagement": (likes, "liked_at"),
        "extortion": (None if reviews is None else reviews.filter(is_negative(reviews.rating)), "created_at"),
    }
    out: ibis.Table | None = None
    for risk, (count_name, after_name) in ESCALATION_FEATURES.items():
        s = standing_remedies(ds, cutoffs, risk)
        agg = s.group_by(list(KEY)).aggregate(__n=s.count(), last_remedy_at=s.applied_at.max())
        part = agg.select(*KEY, **{count_name: agg.__n})
        events, time_col = behaviour[risk]
        if events is not None:
            narrow = events.select("account_id", time_col)
            part = left_join_key(part, _after_last(narrow, time_col, agg.select(*KEY, "last_remedy_at"), after_name))
        out = part if out is None else outer_join_key(out, part)
    assert out is not None
    return out


GROUPS = (Group(name="escalation", compute=escalation_features),)

_DIRECTION_REMEDIES = (
    "a sanction is a last resort: a heavier action needs a lighter remedy first; no remedy is 0, the least risky value"
)
_DIRECTION_AFTER = (
    "behaviour that went on after a lighter remedy is what justifies a heavier one; none, or no remedy, is 0"
)

FEATURES: tuple[Feature, ...] = (
    Feature(
        name="fake_engagement_prior_remedies",
        risks=FE,
        evidence="enforcement",
        group="escalation",
        unit="remedies",
        description_en=(
            "Fake-engagement remedies applied to the account before the as-of moment and not overturned on "
            "appeal by then (monitoring is not a remedy)."
        ),
        description_zh="评估时点前对本账号采取、且当时未被申诉撤销的虚假互动处置次数（监控不算处置）。",
        template_en="{value:,.0f} earlier fake-engagement remedies stand",
        template_zh="此前有 {value:,.0f} 次虚假互动处置仍然有效",
        direction=1,
        direction_reason=_DIRECTION_REMEDIES,
        tables=("enforcement",),
        when_table_missing=0.0,
        zero_fill=True,
        in_model=False,
    ),
    Feature(
        name="likes_after_last_remedy",
        risks=FE,
        evidence="enforcement",
        group="escalation",
        unit="likes",
        description_en=(
            "Likes given after the latest standing fake-engagement remedy and before the as-of moment "
            "(0 without such a remedy)."
        ),
        description_zh="最近一次仍有效的虚假互动处置之后、评估时点之前的点赞数（没有处置时为 0）。",
        template_en="gave {value:,.0f} likes after the last fake-engagement remedy",
        template_zh="最近一次虚假互动处置之后点赞 {value:,.0f} 次",
        direction=1,
        direction_reason=_DIRECTION_AFTER,
        tables=("enforcement", "likes"),
        when_table_missing=0.0,
        zero_fill=True,
        in_model=False,
    ),
    Feature(
        name="extortion_prior_remedies",
        risks=EX,
        evidence="enforcement",
        group="escalation",
        unit="remedies",
        description_en=(
            "Extortion remedies applied to the account before the as-of moment and not overturned on appeal "
            "by then (monitoring is not a remedy)."
        ),
        description_zh="评估时点前对本账号采取、且当时未被申诉撤销的敲诈处置次数（监控不算处置）。",
        template_en="{value:,.0f} earlier extortion remedies stand",
        template_zh="此前有 {value:,.0f} 次敲诈处置仍然有效",
        direction=1,
        direction_reason=_DIRECTION_REMEDIES,
        tables=("enforcement",),
        when_table_missing=0.0,
        zero_fill=True,
        in_model=False,
    ),
    Feature(
        name="negative_reviews_after_last_remedy",
        risks=EX,
        evidence="enforcement",
        group="escalation",
        unit="reviews",
        description_en=(
            "Negative reviews (1-2 stars) written after the latest standing extortion remedy and before the "
            "as-of moment (0 without such a remedy)."
        ),
        description_zh="最近一次仍有效的敲诈处置之后、评估时点之前写的差评（1-2 星）数（没有处置时为 0）。",
        template_en="wrote {value:,.0f} negative reviews after the last extortion remedy",
        template_zh="最近一次敲诈处置之后写了 {value:,.0f} 条差评",
        direction=1,
        direction_reason=_DIRECTION_AFTER,
        tables=("enforcement", "reviews"),
        when_table_missing=0.0,
        zero_fill=True,
        in_model=False,
    ),
)
