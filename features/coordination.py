"""Features that relate an account's likes to other accounts: whom the likes go to (audience),
accounts liking the same items in the same minutes (lockstep), and shared devices."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from reviewguard.engine import materialize
from reviewguard.features.likes import likes_30d, likes_in_any_window
from reviewguard.features.pit import KEY, RUNS, epoch_ms, left_join_key, share
from reviewguard.features.spec import FE, Feature, Group
from reviewguard.reader import Dataset

LOCKSTEP_WINDOW_MS = 600_000
LOCKSTEP_MIN_SHARED = 20
LOCKSTEP_MAX_LIKERS = 50  # a window with more likers is a crowd, not a coordinated group
DEVICE_SOURCES = (("likes", "liked_at"), ("orders", "ordered_at"), ("reviews", "created_at"))


def like_audience_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    l30 = likes_30d(ds, cutoffs)
    per_author = l30.group_by([*KEY, "author_id"]).aggregate(c=l30.count())
    aud = per_author.group_by(list(KEY)).aggregate(
        liked_authors_30d=per_author.count(),
        __top=per_author.c.max(),
        __likes=per_author.c.sum(),
    )
    # Did the author like this account's content back within the same 30 days? Joined on the
    # pair directly: grouping every like into (liker, author) pairs first costs one group per like.
    # Only likes given by someone this group's accounts liked can answer, so the other side keeps
    # those: a tenth of the likes at 200,000 accounts (20,000 authors), where the join on every like
    # was half of this group's time.
    liked = per_author.select(author="author_id").distinct()
    window = likes_in_any_window(ds, cutoffs)
    rev = window.semi_join(liked, window.account_id == liked.author).select(
        liker="account_id", liked_author="author_id", back_at="liked_at"
    )
    back = (
        per_author.join(
            rev,
            [
                per_author.author_id == rev.liker,
                per_author.account_id == rev.liked_author,
                rev.back_at < per_author.as_of,
                rev.back_at >= per_author.as_of - ibis.interval(days=30),
            ],
        )
        .select(*KEY, "author_id")
        .distinct()
    )
    recip = back.group_by([back.account_id, back.as_of]).aggregate(__recip=back.count())
    out = left_join_key(aud, recip)
    return out.select(
        *KEY,
        liked_authors_30d=out.liked_authors_30d,
        top_author_like_share=share(out.__top, out.__likes),
        reciprocal_author_share=share(out.__recip.fill_null(0), out.liked_authors_30d),
    )


def lockstep_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """CopyCatch-style: peers that liked >= 20 of the same items in the same 10-minute windows.

    Co-likes are aggregated per (account, peer, hour) first; an hour counts for
    a cutoff only when it ended before the as_of, so nothing after it leaks.
    """
    # Filter before the self-join, the one step here whose cost grows faster than the data.
    likes = likes_in_any_window(ds, cutoffs)
    stamped = likes.select(
        "account_id",
        "content_id",
        "liked_at",
        bucket=(epoch_ms(likes.liked_at) / LOCKSTEP_WINDOW_MS).floor().cast(dt.int64),
    )
    # A window needs two likes before it can have two likers, and nearly every window holds one
    # like: counting rows first leaves the exact count of distinct likers a tenth of the rows (at
    # 200,000 accounts 17.8M windows for 19.4M likes; the distinct count over all of them was the
    # most expensive step here, docs/benchmarks.md "Features, by family").
    busy = stamped.group_by(["content_id", "bucket"]).aggregate(likes=stamped.count())
    busy = busy.filter(busy.likes >= 2).select("content_id", "bucket")
    stamped = materialize(ds.con, f"_rg_lockstep_busy_{next(RUNS)}", stamped.semi_join(busy, ["content_id", "bucket"]))
    # Only accounts with a cutoff can have peers that matter; crowds are left out.
    crowd = stamped.group_by(["content_id", "bucket"]).aggregate(likers=stamped.account_id.nunique())
    small = crowd.filter((crowd.likers >= 2) & (crowd.likers <= LOCKSTEP_MAX_LIKERS)).select("content_id", "bucket")
    kept = stamped.semi_join(small, ["content_id", "bucket"])
    # One like per account, item and window (the earliest): deterministic on any engine.
    ls = kept.group_by(["account_id", "content_id", "bucket"]).aggregate(liked_at=kept.liked_at.min())
    mine = ls.semi_join(cutoffs, "account_id")
    other = ls.rename(peer="account_id", peer_liked_at="liked_at")
    pairs = mine.join(
        other,
        [mine.content_id == other.content_id, mine.bucket == other.bucket, mine.account_id != other.peer],
    )
    # The co-like happened when the later of the two likes happened.
    later = ibis.greatest(pairs.liked_at, pairs.peer_liked_at)
    hourly = pairs.group_by(["account_id", "peer", later.truncate("h").name("hour")]).aggregate(c=pairs.count())
    j = hourly.join(cutoffs, "account_id")
    j = j.filter((j.hour + ibis.interval(hours=1) <= j.as_of) & (j.hour >= j.as_of - ibis.interval(days=30)))
    per_peer = j.group_by([*KEY, "peer"]).aggregate(c=j.c.sum())
    peers = per_peer.filter(per_peer.c >= LOCKSTEP_MIN_SHARED)
    return peers.group_by(list(KEY)).aggregate(lockstep_peer_accounts=peers.count())


def first_use(ds: Dataset, column: str, tables: tuple[tuple[str, str], ...]) -> ibis.Table | None:
    """(account_id, <column>, first): when each account first used a device or address, across the
    tables that record it (None when none of them exists)."""
    parts = []
    for table, time_col in tables:
        t = ds.table(table)
        if t is None or column not in t.columns:
            continue
        t = t.filter(t[column].notnull())
        parts.append(t.group_by(["account_id", column]).aggregate(first=t[time_col].min()))
    if not parts:
        return None
    u = ibis.union(*parts)
    return u.group_by(["account_id", column]).aggregate(first=u.first.min())


def device_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    used = first_use(ds, "device_id", DEVICE_SOURCES)
    assert used is not None
    mine = used.join(cutoffs, "account_id").filter(lambda t: t.first < t.as_of)
    others = used.rename(other="account_id", other_first="first")
    j = mine.join(others, [mine.device_id == others.device_id, mine.account_id != others.other])
    j = j.filter(j.other_first < j.as_of)
    return j.group_by(list(KEY)).aggregate(accounts_sharing_device=j.other.nunique())


GROUPS = (
    Group(name="like_audience", compute=like_audience_features),
    Group(name="lockstep", compute=lockstep_features),
    Group(name="devices", compute=device_features),
)

FEATURES: tuple[Feature, ...] = (
    Feature(
        name="liked_authors_30d",
        risks=FE,
        evidence="audience",
        group="like_audience",
        unit="authors",
        description_en="Distinct authors whose content the account liked in the last 30 days.",
        description_zh="最近 30 天内点赞过的不同作者数。",
        template_en="liked content of {value:,.0f} different authors in 30 days",
        template_zh="30 天内点赞了 {value:,.0f} 位不同作者",
        direction=0,
        direction_reason="both broad bots and broad readers exist",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="top_author_like_share",
        risks=FE,
        evidence="audience",
        group="like_audience",
        unit="share of likes",
        description_en="Share of the last 30 days' likes that went to the single most-liked author.",
        description_zh="最近 30 天内点赞最多的一位作者所占的点赞比例。",
        template_en="{value:.0%} of likes went to one author (99th percentile: {p99:.0%})",
        template_zh="{value:.0%} 的点赞给了同一位作者（99% 分位：{p99:.0%}）",
        direction=1,
        direction_reason="bought likes concentrate on the customers who paid for them",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="reciprocal_author_share",
        risks=FE,
        evidence="audience",
        group="like_audience",
        unit="share of authors",
        description_en=(
            "Share of authors liked in the last 30 days who liked this account's content back in the same 30 days."
        ),
        description_zh="最近 30 天点赞过的作者中，同期也点赞过本账号内容的比例。",
        template_en="{value:.0%} of the authors it liked had liked it back",
        template_zh="{value:.0%} 的被点赞作者也回赞过本账号",
        direction=0,
        direction_reason="like-for-like rings and friends both reciprocate",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="lockstep_peer_accounts",
        risks=FE,
        evidence="coordination",
        group="lockstep",
        unit="accounts",
        description_en=(
            "Other accounts that liked at least 20 of the same items in the same clock-aligned 10-minute windows, "
            "last 30 days (CopyCatch-style)."
        ),
        description_zh=(
            "最近 30 天内与本账号在同一 10 分钟时段点赞了至少 20 个相同内容的其他账号数（CopyCatch 方法）。"
        ),
        template_en=(
            "liked the same items in the same 10 minutes as {value:,.0f} other accounts, at least 20 times each"
        ),
        template_zh="与 {value:,.0f} 个其他账号在同一 10 分钟内点赞相同内容（每个至少 20 次）",
        direction=1,
        direction_reason="independent people do not move in lockstep over many items",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="accounts_sharing_device",
        risks=FE,
        evidence="coordination",
        group="devices",
        unit="accounts",
        description_en=(
            "Other accounts that used any device this account used (likes, orders, reviews) before the as-of."
        ),
        description_zh="评估时点前与本账号用过同一设备（点赞、下单、评价）的其他账号数。",
        template_en="shares a device with {value:,.0f} other accounts (99th percentile: {p99:,.0f})",
        template_zh="与 {value:,.0f} 个其他账号共用设备（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="device farms and crews run many accounts from few devices",
        tables=("likes", "orders", "reviews"),
        any_table=True,
        zero_fill=True,
    ),
)
