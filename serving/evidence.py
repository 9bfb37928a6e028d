"""The evidence view of a case: the account's own behaviour behind its features, kept to what
the decision needs (counts of likes per hour; the negative-review timelines with excerpts).

No I/O beyond queries on the opened dataset. Merchant ids are hashed and no other account is
named (docs/reliability.md).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from reviewguard.contract import NEGATIVE_RATING_MAX
from reviewguard.features import NIGHT_HOURS_UTC
from reviewguard.model.bundle import Bundle
from reviewguard.reader import Dataset

EXCERPT_CHARS = 80
MAX_TIMELINE_REVIEWS = 10
LIKES_WINDOW_DAYS = 30


def _hash_id(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return "h:" + hashlib.sha256(str(value).encode()).hexdigest()[:10]


def _excerpt(text: Any) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= EXCERPT_CHARS else s[: EXCERPT_CHARS - 1] + "…"


def _ts(v: Any) -> str | None:
    if v is None or pd.isna(v):
        return None
    return pd.Timestamp(v).isoformat()


def _recent_likes(ds: Dataset, account_id: str, as_of: datetime) -> ir.Table | None:
    """The account's likes in the evidence window before ``as_of`` (None: the platform has no likes table)."""
    likes = ds.table("likes")
    if likes is None:
        return None
    lit = ibis.literal(pd.Timestamp(as_of), type="timestamp")
    return likes.filter(
        (likes.account_id == account_id)
        & (likes.liked_at < lit)
        & (likes.liked_at >= lit - ibis.interval(days=LIKES_WINDOW_DAYS))
    )


def like_evidence(ds: Dataset, account_id: str, as_of: datetime, bundle: Bundle) -> dict[str, Any] | None:
    mine = _recent_likes(ds, account_id, as_of)
    if mine is None:
        return None
    per_hour = (
        mine.group_by(hour=mine.liked_at.truncate("h"))
        .aggregate(likes=mine.count(), without_open=mine.dwell_ms.isnull().cast("int64").sum())
        .order_by("hour")
        .to_pandas()
    )
    ref = None
    for m in bundle.risks.values():
        ref = m.reference.get("likes_per_hour_max") or ref
    return {
        "window_days": LIKES_WINDOW_DAYS,
        "hours": [
            {"hour": _ts(r.hour), "likes": int(r.likes), "without_open": int(r.without_open)}
            for r in per_hour.itertuples()
        ],
        "night_hours_utc": list(NIGHT_HOURS_UTC),
        "population_likes_per_hour_max": None
        if ref is None
        else {"p50": ref.quantiles[50], "p90": ref.quantiles[90], "p99": ref.p99},
    }


def extortion_evidence(ds: Dataset, account_id: str, as_of: datetime) -> dict[str, Any] | None:
    reviews = ds.table("reviews")
    if reviews is None:
        return None
    lit = ibis.literal(pd.Timestamp(as_of), type="timestamp")
    neg = reviews.filter(
        (reviews.account_id == account_id) & (reviews.rating <= NEGATIVE_RATING_MAX) & (reviews.created_at < lit)
    )
    negs = neg.order_by(neg.created_at.desc()).limit(MAX_TIMELINE_REVIEWS).to_pandas()
    if negs.empty:
        return {"negative_reviews": []}
    merchants = sorted(set(negs["merchant_id"].astype(str)))

    def frame(name: str, time_col: str) -> pd.DataFrame:
        t = ds.table(name)
        if t is None:
            return pd.DataFrame()
        return t.filter((t.account_id == account_id) & t.merchant_id.isin(merchants) & (t[time_col] < lit)).to_pandas()

    msgs, transfers, reports = (
        frame("messages", "sent_at"),
        frame("transfers", "paid_at"),
        frame("reports", "reported_at"),
    )
    orders = ds.table("orders")
    order_amount: dict[str, float] = {}
    if orders is not None:
        ids = [str(x) for x in negs["order_id"].dropna()]
        if ids:
            o = orders.filter(orders.order_id.isin(ids)).select("order_id", "amount", "delivered_at").to_pandas()
            order_amount = {str(r.order_id): (float(r.amount), _ts(r.delivered_at)) for r in o.itertuples()}  # type: ignore[misc]
    timeline = []
    for r in negs.sort_values("created_at").itertuples():
        start = pd.Timestamp(r.created_at)
        end = start + pd.Timedelta(days=7)
        events: list[dict[str, Any]] = []
        oa = order_amount.get(str(r.order_id)) if r.order_id is not None else None
        if oa and oa[1]:  # type: ignore[index]
            events.append({"at": oa[1], "kind": "delivered", "text": f"order {oa[0]:,.2f} yuan delivered"})  # type: ignore[index]
        events.append({"at": _ts(start), "kind": "negative_review", "text": _excerpt(r.text), "rating": int(r.rating)})
        if not msgs.empty:
            m = msgs[(msgs.merchant_id == r.merchant_id) & (msgs.sent_at >= start) & (msgs.sent_at < end)]
            for x in m.sort_values("sent_at").itertuples():
                events.append({"at": _ts(x.sent_at), "kind": f"message_from_{x.sender}", "text": _excerpt(x.text)})
        if not transfers.empty:
            t = transfers[
                (transfers.merchant_id == r.merchant_id) & (transfers.paid_at >= start) & (transfers.paid_at < end)
            ]
            for x in t.sort_values("paid_at").itertuples():
                events.append(
                    {
                        "at": _ts(x.paid_at),
                        "kind": "transfer",
                        "text": f"{x.kind}: {x.amount:,.2f} yuan from the merchant",
                    }
                )
        if r.deleted_at is not None and not pd.isna(r.deleted_at) and pd.Timestamp(r.deleted_at) < pd.Timestamp(as_of):
            events.append({"at": _ts(r.deleted_at), "kind": "review_deleted", "text": "review deleted"})
        if r.edited_at is not None and not pd.isna(r.edited_at) and pd.Timestamp(r.edited_at) < pd.Timestamp(as_of):
            events.append(
                {
                    "at": _ts(r.edited_at),
                    "kind": "review_edited",
                    "text": f"rating changed to {int(r.edited_rating)}"
                    if not pd.isna(r.edited_rating)
                    else "review edited",
                }
            )
        if not reports.empty:
            p = reports[(reports.merchant_id == r.merchant_id) & (reports.reported_at >= start)]
            for x in p.sort_values("reported_at").itertuples():
                events.append({"at": _ts(x.reported_at), "kind": "merchant_report", "text": f"reason: {x.reason}"})
        events.sort(key=lambda e: e["at"] or "")
        timeline.append({"merchant": _hash_id(r.merchant_id), "review_id": str(r.review_id), "events": events})
    return {"negative_reviews": timeline}


# What a person has been shown to do: in the Dianping appeal (docs/domain.md) the member liked 91
# times in one minute in front of the court. A figure at or below it is one a person can produce.
HUMAN_LIKES_PER_MINUTE = 91
# A day with likes in more than this many distinct hours and no pause this long has no rest in it:
# no person is known to keep that up (stated as the reason, not as proof).
RESTLESS_DAY_HOURS = 20
RESTFUL_PAUSE_HOURS = 4


def human_capacity(ds: Dataset, account_id: str, as_of: datetime) -> dict[str, Any] | None:
    """The account's like figures beside what a person can do, and which a person could produce."""
    mine = _recent_likes(ds, account_id, as_of)
    if mine is None:
        return None
    times = mine.select("liked_at").order_by("liked_at").to_pandas()["liked_at"]
    if times.empty:
        return None
    t = pd.to_datetime(times)
    per_minute = int(t.dt.floor("min").value_counts().max())
    day = t.dt.floor("D")
    busiest = day.value_counts().idxmax()
    on_day = t[day == busiest].sort_values()
    likes_busiest = len(on_day)
    hours_active = int(on_day.dt.hour.nunique())
    # The longest pause within the busiest day, its start and end included (midnight to first like,
    # last like to midnight).
    edges = pd.concat([pd.Series([busiest]), on_day, pd.Series([busiest + pd.Timedelta(days=1)])])
    longest_pause_h = float(edges.diff().dropna().max() / pd.Timedelta(hours=1))
    sustained_per_minute = likes_busiest / (24 * 60)
    restless = hours_active > RESTLESS_DAY_HOURS and longest_pause_h < RESTFUL_PAUSE_HOURS
    burst_ok = per_minute <= HUMAN_LIKES_PER_MINUTE
    figures = [
        {
            "figure": "likes_in_busiest_minute",
            "value": per_minute,
            "person_could": burst_ok,
            "text_en": f"At most {per_minute} likes in one minute; a person has shown {HUMAN_LIKES_PER_MINUTE} "
            f"in a minute: {'a person could' if burst_ok else 'faster than any person has shown'}.",
            "text_zh": f"单分钟最多点赞 {per_minute} 次；已有人当场演示一分钟点赞 {HUMAN_LIKES_PER_MINUTE} 次："
            f"{'人可以做到' if burst_ok else '超过人已展示的速度'}。",
        },
        {
            "figure": "busiest_day",
            "value": likes_busiest,
            "person_could": not restless,
            "text_en": f"{likes_busiest:,} likes on {busiest.date()}: {sustained_per_minute:.1f} a minute if spread "
            f"over 24 hours; likes in {hours_active} distinct hours, longest pause {longest_pause_h:.1f} h: "
            + (
                "a day without rest, which no person is known to keep up."
                if restless
                else "a day with rest in it, which a person could produce in bursts."
            ),
            "text_zh": f"{busiest.date()} 点赞 {likes_busiest:,} 次：若分布于 24 小时，"
            f"每分钟 {sustained_per_minute:.1f} 次；"
            f"在 {hours_active} 个不同小时内点赞，最长停顿 {longest_pause_h:.1f} 小时："
            + ("全天无休，未知有人能持续如此。" if restless else "其中有休息，人可以分段做到。"),
        },
    ]
    return {
        "window_days": LIKES_WINDOW_DAYS,
        "human_likes_per_minute": HUMAN_LIKES_PER_MINUTE,
        "likes_in_busiest_minute": per_minute,
        "busiest_day": str(busiest.date()),
        "likes_on_busiest_day": likes_busiest,
        "hours_active_on_busiest_day": hours_active,
        "longest_pause_hours_on_busiest_day": round(longest_pause_h, 3),
        "figures": figures,
    }
