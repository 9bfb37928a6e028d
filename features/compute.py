"""Point-in-time account features, written once in Ibis, run on DuckDB or Spark.

Every feature is computed "as of" a moment per account from a cutoffs table
(``account_id``, ``as_of``): only events strictly before ``as_of`` count, so
an event after the cutoff can never change a feature. Each family is a small
function from the dataset and the cutoffs to one row per cutoff; the families
are joined at the end in registry order.

Null semantics: a missing optional table makes its features null. When the
table exists but the account has no events in it, counts are 0 and rates,
shares and gap statistics are null (undefined, not zero).

Float features are rounded to 1e-9: parallel engines sum in varying order, and
rounding keeps the same data giving the same features bit for bit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.datatypes as dt

from reviewguard.engine import materialize
from reviewguard.features.lexicon import AMOUNT_AFTER, AMOUNT_BEFORE, DEMAND_PATTERN
from reviewguard.features.registry import BY_NAME, FEATURES
from reviewguard.reader import Dataset

KEY = ("account_id", "as_of")
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SESSION_GAP_MS = HOUR_MS  # gaps longer than this separate sessions (sleep, work)
LOCKSTEP_WINDOW_MS = 600_000
LOCKSTEP_MIN_SHARED = 20
LOCKSTEP_MAX_LIKERS = 50  # a window with more likers is a crowd, not a coordinated group
NIGHT_HOURS_UTC = (17, 18, 19, 20, 21)  # 01:00-06:00 China time (UTC+8)
ROUND_DIGITS = 9

Family = Callable[[Dataset, ibis.Table], ibis.Table]
_RUNS = itertools.count()


def epoch_ms(ts: ibis.TimestampValue) -> ibis.IntegerValue:
    """Milliseconds since the epoch, the same on DuckDB and Spark."""
    return ts.epoch_seconds().floor().cast(dt.int64) * 1000 + ts.millisecond().cast(dt.int64)


def _share(num: ibis.NumericValue, den: ibis.NumericValue) -> ibis.FloatingValue:
    return ibis.ifelse(den > 0, num.cast(dt.float64) / den.cast(dt.float64), ibis.null(dt.float64))


def _entropy_bits(counts: ibis.Table, key: tuple[str, ...], count_col: str) -> ibis.Table:
    """Shannon entropy (bits) per key from a table of per-bin counts."""
    c = counts[count_col].cast(dt.float64)
    per = counts.group_by(list(key)).aggregate(
        __n=counts[count_col].sum(),
        __clogc=(c * c.log2()).sum(),
    )
    n = per.__n.cast(dt.float64)
    return per.select(*key, entropy=n.log2() - per.__clogc / n)


def _before(
    events: ibis.Table, cutoffs: ibis.Table, time_col: str, days: int | None = None, account_col: str = "account_id"
) -> ibis.Table:
    """Events of each cutoff's account strictly before its as_of (within ``days`` if given)."""
    joined = events.join(cutoffs, events[account_col] == cutoffs.account_id)
    if account_col != "account_id":
        joined = joined.drop(account_col) if account_col in joined.columns else joined
    cond = joined[time_col] < joined.as_of
    if days is not None:
        cond = cond & (joined[time_col] >= joined.as_of - ibis.interval(days=days))
    return joined.filter(cond)


# ------------------------------------------------------------------ account


def account_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    acc = ds.tables["accounts"]
    j = cutoffs.join(acc, "account_id")
    return j.select(
        *KEY,
        account_age_days=(epoch_ms(j.as_of) - epoch_ms(j.created_at)).cast(dt.float64) / DAY_MS,
        membership_level=j.level.cast(dt.float64),
        phone_verified=j.phone_verified.cast(dt.int64).cast(dt.float64),
    )


def order_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    o = _before(ds.tables["orders"], cutoffs, "ordered_at")
    refunded = o.refunded_at.notnull() & (o.refunded_at < o.as_of)
    in_90d = o.ordered_at >= o.as_of - ibis.interval(days=90)
    agg = o.group_by(list(KEY)).aggregate(
        orders_90d=in_90d.cast(dt.int64).sum(),
        __orders=o.count(),
        __refunded=refunded.cast(dt.int64).sum(),
    )
    return agg.select(*KEY, orders_90d=agg.orders_90d, refund_rate=_share(agg.__refunded, agg.__orders))


# -------------------------------------------------------------------- likes


def _likes_30d(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    likes = ds.tables["likes"]
    return _before(likes.mutate(t_ms=epoch_ms(likes.liked_at)), cutoffs, "liked_at", days=30)


def _likes_in_any_window(ds: Dataset, cutoffs: ibis.Table, days: int = 30) -> ibis.Table:
    """Likes that fall inside some cutoff's window: the only ones pairwise joins need to see."""
    likes = ds.tables["likes"]
    bounds = cutoffs.aggregate(lo=cutoffs.as_of.min() - ibis.interval(days=days), hi=cutoffs.as_of.max())
    joined = likes.cross_join(bounds)
    return joined.filter((joined.liked_at >= joined.lo) & (joined.liked_at < joined.hi)).drop("lo", "hi")


def like_volume_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    likes = ds.tables["likes"]
    l90 = _before(likes, cutoffs, "liked_at", days=90)
    counts = l90.group_by(list(KEY)).aggregate(
        likes_1d=(l90.liked_at >= l90.as_of - ibis.interval(days=1)).cast(dt.int64).sum(),
        likes_7d=(l90.liked_at >= l90.as_of - ibis.interval(days=7)).cast(dt.int64).sum(),
        likes_30d=(l90.liked_at >= l90.as_of - ibis.interval(days=30)).cast(dt.int64).sum(),
        likes_90d=l90.count(),
    )
    l30 = _likes_30d(ds, cutoffs)
    per_day = l30.group_by([*KEY, l30.liked_at.truncate("D").name("day")]).aggregate(n=l30.count())
    day_stats = per_day.group_by(list(KEY)).aggregate(
        likes_per_day_max=per_day.n.max(),
        __days=per_day.count(),
        __likes=per_day.n.sum(),
    )
    per_minute = l30.group_by([*KEY, l30.liked_at.truncate("m").name("minute")]).aggregate(n=l30.count())
    minute_stats = per_minute.group_by(list(KEY)).aggregate(likes_per_minute_max=per_minute.n.max())
    per_hour = l30.group_by([*KEY, l30.liked_at.truncate("h").name("hour")]).aggregate(n=l30.count())
    hour_stats = per_hour.group_by(list(KEY)).aggregate(
        likes_per_hour_max=per_hour.n.max(),
        hours_over_300_likes=(per_hour.n >= 300).cast(dt.int64).sum(),
        __hours=per_hour.count(),
    )
    out = (
        counts.left_join(day_stats, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
        .left_join(minute_stats, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
        .left_join(hour_stats, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
    )
    return out.select(
        *KEY,
        "likes_1d",
        "likes_7d",
        "likes_30d",
        "likes_90d",
        "likes_per_day_max",
        likes_per_active_day_mean=_share(out.__likes, out.__days),
        likes_per_minute_max=out.likes_per_minute_max,
        likes_per_hour_max=out.likes_per_hour_max,
        hours_over_300_likes=out.hours_over_300_likes,
        active_hours_per_day=_share(out.__hours, out.__days),
    )


def like_timing_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    l30 = _likes_30d(ds, cutoffs)
    narrow = l30.select(*KEY, "t_ms", "dwell_ms", hour=l30.liked_at.hour())
    w = ibis.window(group_by=list(KEY), order_by=[narrow.t_ms])
    # The gaps feed three aggregations: compute the window once, on narrow rows (computed
    # three times on full rows, it spilled over 25 GB at 1,000,000 accounts).
    g = materialize(ds.con, f"_rg_like_gaps_{next(_RUNS)}", narrow.mutate(gap=narrow.t_ms - narrow.t_ms.lag().over(w)))
    in_session = g.gap.notnull() & (g.gap < SESSION_GAP_MS)
    sg = ibis.ifelse(in_session, g.gap, ibis.null(dt.int64))
    stats = g.group_by(list(KEY)).aggregate(
        __gaps=g.gap.count(),
        __under_1s=(g.gap < 1000).cast(dt.int64).sum(),
        like_gap_min_ms=g.gap.min(),
        __sg_n=sg.count(),
        __sg_sum=sg.sum(),
        __sg_sq=(sg * sg).sum(),
        __sg_median=sg.median(),
        __likes=g.count(),
        __night=g["hour"].isin(list(NIGHT_HOURS_UTC)).cast(dt.int64).sum(),
        __no_open=g.dwell_ms.isnull().cast(dt.int64).sum(),
        dwell_median_ms=g.dwell_ms.median(),
    )
    n = stats.__sg_n.cast(dt.float64)
    mean = stats.__sg_sum.cast(dt.float64) / n
    # Sample variance from integer sums: exact inputs, so the same on every engine and run.
    var = (stats.__sg_sq.cast(dt.float64) - n * mean * mean) / (n - 1)
    cv = ibis.ifelse((stats.__sg_n > 1) & (mean > 0), var.clip(lower=0).sqrt() / mean, ibis.null(dt.float64))

    bins = g.filter(in_session).mutate(bin=(g.gap + 1).cast(dt.float64).log2().floor().cast(dt.int64))
    gap_entropy = _entropy_bits(bins.group_by([*KEY, "bin"]).aggregate(c=bins.count()), KEY, "c").rename(
        like_gap_entropy_bits="entropy"
    )
    hours = g.group_by([*KEY, g["hour"].name("h")]).aggregate(c=g.count())
    hour_entropy = _entropy_bits(hours, KEY, "c").rename(like_hour_entropy_bits="entropy")

    out = (
        stats.mutate(__cv=cv)
        .left_join(gap_entropy, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
        .left_join(hour_entropy, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
    )
    return out.select(
        *KEY,
        like_gap_median_s=out.__sg_median.cast(dt.float64) / 1000.0,
        like_gap_min_ms=out.like_gap_min_ms.cast(dt.float64),
        like_gap_cv=out.__cv,
        like_gap_under_1s_share=_share(out.__under_1s, out.__gaps),
        like_gap_entropy_bits=out.like_gap_entropy_bits,
        night_like_share=_share(out.__night, out.__likes),
        like_hour_entropy_bits=out.like_hour_entropy_bits,
        like_without_open_share=_share(out.__no_open, out.__likes),
        dwell_median_ms=out.dwell_median_ms.cast(dt.float64),
    )


def like_audience_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    l30 = _likes_30d(ds, cutoffs)
    per_author = l30.group_by([*KEY, "author_id"]).aggregate(c=l30.count())
    aud = per_author.group_by(list(KEY)).aggregate(
        liked_authors_30d=per_author.count(),
        __top=per_author.c.max(),
        __likes=per_author.c.sum(),
    )
    # Did the author like this account's content back within the same 30 days? Joined on the
    # pair directly: grouping every like into (liker, author) pairs first costs one group per like.
    rev = _likes_in_any_window(ds, cutoffs).select(liker="account_id", liked_author="author_id", back_at="liked_at")
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
    out = aud.left_join(recip, list(KEY)).drop(*[f"{k}_right" for k in KEY])
    return out.select(
        *KEY,
        liked_authors_30d=out.liked_authors_30d,
        top_author_like_share=_share(out.__top, out.__likes),
        reciprocal_author_share=_share(out.__recip.fill_null(0), out.liked_authors_30d),
    )


def lockstep_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """CopyCatch-style: peers that liked >= 20 of the same items in the same 10-minute windows.

    Co-likes are aggregated per (account, peer, hour) first; an hour counts for
    a cutoff only when it ended before the as_of, so nothing after it leaks.
    """
    # Filter before the self-join, the one step here whose cost grows faster than the data.
    likes = _likes_in_any_window(ds, cutoffs)
    stamped = likes.select(
        "account_id",
        "content_id",
        "liked_at",
        bucket=(epoch_ms(likes.liked_at) / LOCKSTEP_WINDOW_MS).floor().cast(dt.int64),
    )
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


def _first_use(ds: Dataset, column: str, tables: tuple[tuple[str, str], ...]) -> ibis.Table | None:
    """(account_id, <column>, first) across the tables that record it."""
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


DEVICE_SOURCES = (("likes", "liked_at"), ("orders", "ordered_at"), ("reviews", "created_at"))


def device_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    used = _first_use(ds, "device_id", DEVICE_SOURCES)
    assert used is not None
    mine = used.join(cutoffs, "account_id").filter(lambda t: t.first < t.as_of)
    others = used.rename(other="account_id", other_first="first")
    j = mine.join(others, [mine.device_id == others.device_id, mine.account_id != others.other])
    j = j.filter(j.other_first < j.as_of)
    return j.group_by(list(KEY)).aggregate(accounts_sharing_device=j.other.nunique())


# ---------------------------------------------------------------- extortion


def _negative_reviews(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    r = _before(ds.tables["reviews"], cutoffs, "created_at")
    return r.filter(r.rating <= 2)


def review_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    r = _before(ds.tables["reviews"], cutoffs, "created_at")
    neg = r.rating <= 2
    agg = r.group_by(list(KEY)).aggregate(
        negative_reviews_30d=(neg & (r.created_at >= r.as_of - ibis.interval(days=30))).cast(dt.int64).sum(),
        negative_reviews_90d=(neg & (r.created_at >= r.as_of - ibis.interval(days=90))).cast(dt.int64).sum(),
        __neg=neg.cast(dt.int64).sum(),
        __all=r.count(),
        negatively_reviewed_merchants=ibis.ifelse(neg, r.merchant_id, ibis.null(dt.string)).nunique(),
    )
    return agg.select(
        *KEY,
        "negative_reviews_30d",
        "negative_reviews_90d",
        negative_review_share=_share(agg.__neg, agg.__all),
        negatively_reviewed_merchants=agg.negatively_reviewed_merchants,
    )


def review_order_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Timing after delivery and the size of the shops reviewed negatively (needs orders)."""
    nr = _negative_reviews(ds, cutoffs)
    orders = ds.tables["orders"]
    o = orders.select("order_id", delivered=orders.delivered_at)
    j = nr.join(o, "order_id").filter(lambda t: t.delivered.notnull() & (t.delivered < t.created_at))
    delay = j.group_by(list(KEY)).aggregate(__ms=(epoch_ms(j.created_at) - epoch_ms(j.delivered)).sum(), __n=j.count())
    daily = orders.group_by(["merchant_id", orders.ordered_at.truncate("D").name("day")]).aggregate(n=orders.count())
    targets = nr.select(*KEY, "merchant_id").distinct()
    sized = targets.join(daily, "merchant_id").filter(lambda t: t.day < t.as_of.truncate("D"))
    size = sized.group_by([*KEY, "merchant_id"]).aggregate(n=sized.n.sum())
    size_all = targets.left_join(size, [*KEY, "merchant_id"])
    size_all = size_all.select(*KEY, n=size_all.n.fill_null(0))
    size_avg = size_all.group_by(list(KEY)).aggregate(__sum=size_all.n.sum(), __k=size_all.count())
    out = delay.outer_join(size_avg, list(KEY))
    out = out.select(
        account_id=ibis.coalesce(out.account_id, out.account_id_right),
        as_of=ibis.coalesce(out.as_of, out.as_of_right),
        hours_delivery_to_negative_review=_share(out.__ms, out.__n) / HOUR_MS,
        negative_reviewed_merchant_orders=_share(out.__sum, out.__k),
    )
    return out


def is_money_demand(text: ibis.StringValue) -> ibis.BooleanValue:
    """The message trades a review for money (lexicon in features/lexicon.py)."""
    return text.re_search(DEMAND_PATTERN)


def named_amount(text: ibis.StringValue) -> ibis.FloatingValue:
    """The amount of money a message names (¥8,800 / 8800元 / 600 yuan), or null."""
    return (
        ibis.coalesce(text.re_extract(AMOUNT_BEFORE, 1).nullif(""), text.re_extract(AMOUNT_AFTER, 1).nullif(""))
        .replace(",", "")
        .try_cast(dt.float64)
    )


def message_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    m = _before(ds.tables["messages"], cutoffs, "sent_at")
    m = m.filter(m.sender == "account")
    demand = is_money_demand(m.text)
    md = m.mutate(demand=demand, amount=ibis.ifelse(demand, named_amount(m.text), ibis.null(dt.float64)))
    agg = md.group_by(list(KEY)).aggregate(
        money_demand_messages=md.demand.cast(dt.int64).sum(),
        demanded_amount_max=md.amount.max(),
    )
    out = agg
    if ds.has("orders"):
        per_merchant = md.filter(md.amount.notnull()).group_by([*KEY, "merchant_id"]).aggregate(demand=md.amount.max())
        o = _before(ds.tables["orders"], cutoffs, "ordered_at")
        paid = o.group_by([*KEY, "merchant_id"]).aggregate(order_amount=o.amount.max())
        ratio = per_merchant.join(paid, [*KEY, "merchant_id"])
        ratio = ratio.group_by(list(KEY)).aggregate(
            demand_to_order_ratio_max=(ratio.demand / ibis.greatest(ratio.order_amount, 1.0)).max()
        )
        out = agg.left_join(ratio, list(KEY)).drop(*[f"{k}_right" for k in KEY])
    if ds.has("reviews"):
        nr = _negative_reviews(ds, cutoffs).select(*KEY, "review_id", "merchant_id", rt="created_at")
        followed = nr.join(
            m.select("account_id", "merchant_id", "sent_at", m.as_of.name("m_as_of")),
            [
                nr.account_id == m.account_id,
                nr.merchant_id == m.merchant_id,
                nr.as_of == m.as_of,
            ],
        )
        followed = (
            followed.filter(
                (followed.sent_at > followed.rt) & (followed.sent_at <= followed.rt + ibis.interval(hours=72))
            )
            .select(*KEY, "review_id")
            .distinct()
        )
        n_followed = followed.group_by(list(KEY)).aggregate(__f=followed.count())
        n_neg = nr.group_by(list(KEY)).aggregate(__neg=nr.count())
        share = n_neg.left_join(n_followed, list(KEY)).drop(*[f"{k}_right" for k in KEY])
        share = share.select(*KEY, negative_review_then_message_share=_share(share.__f.fill_null(0), share.__neg))
        out = out.outer_join(share, list(KEY))
        out = out.mutate(
            account_id=ibis.coalesce(out.account_id, out.account_id_right),
            as_of=ibis.coalesce(out.as_of, out.as_of_right),
        ).drop("account_id_right", "as_of_right")
    return out


def transfer_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Payments from a merchant within 7 days after a negative review, and what happened to the review."""
    nr = _negative_reviews(ds, cutoffs)
    t = ds.tables["transfers"]
    paid = t.select("transfer_id", "amount", "paid_at", t_account="account_id", t_merchant="merchant_id")
    j = nr.join(paid, [nr.account_id == paid.t_account, nr.merchant_id == paid.t_merchant])
    j = j.filter(
        (j.paid_at >= j.created_at) & (j.paid_at <= j.created_at + ibis.interval(days=7)) & (j.paid_at < j.as_of)
    )
    if ds.has("orders"):
        orders = ds.tables["orders"].select("order_id", order_amount="amount")
        j = j.left_join(orders, "order_id").drop("order_id_right")
        ratio = j.amount / ibis.greatest(j.order_amount, 1.0)
    else:
        ratio = ibis.null(dt.float64)
    # Removed after payment: deleted, or raised to 3+ stars, within 7 days of the payment and before as_of.
    removed = (
        j.deleted_at.notnull()
        & (j.deleted_at >= j.paid_at)
        & (j.deleted_at <= j.paid_at + ibis.interval(days=7))
        & (j.deleted_at < j.as_of)
    ) | (
        j.edited_at.notnull()
        & (j.edited_rating >= 3)
        & (j.edited_at >= j.paid_at)
        & (j.edited_at <= j.paid_at + ibis.interval(days=7))
        & (j.edited_at < j.as_of)
    )
    jj = j.mutate(ratio=ratio, removed=removed)
    agg = jj.group_by(list(KEY)).aggregate(
        transfers_after_negative_review=jj.transfer_id.nunique(),
        transfer_to_order_ratio_max=jj.ratio.max(),
    )
    rem = jj.filter(jj.removed).select(*KEY, "review_id").distinct()
    n_rem = rem.group_by(list(KEY)).aggregate(__rem=rem.count())
    n_neg = nr.group_by(list(KEY)).aggregate(__neg=nr.count())
    share = n_neg.left_join(n_rem, list(KEY)).drop(*[f"{k}_right" for k in KEY])
    share = share.select(
        *KEY, negative_review_removed_after_payment_share=_share(share.__rem.fill_null(0), share.__neg)
    )
    out = share.left_join(agg, list(KEY)).drop(*[f"{k}_right" for k in KEY])
    return out


def report_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    r = _before(ds.tables["reports"], cutoffs, "reported_at")
    return r.group_by(list(KEY)).aggregate(
        extortion_reports=(r.reason == "extortion").cast(dt.int64).sum(),
        other_reports=(r.reason != "extortion").cast(dt.int64).sum(),
    )


def crew_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Accounts sharing a device or address that also reviewed negatively, or messaged, a shop
    this account reviewed negatively."""
    links = []
    for column, sources in (
        ("device_id", (("orders", "ordered_at"), ("reviews", "created_at"))),
        ("address_id", (("orders", "ordered_at"),)),
    ):
        used = _first_use(ds, column, sources)
        if used is not None:
            links.append(used.rename(link=column))
    if not links:
        raise KeyError("crew features need orders or reviews")
    used = ibis.union(*links)
    mine = used.join(cutoffs, "account_id").filter(lambda t: t.first < t.as_of)
    others = used.rename(other="account_id", other_first="first")
    linked = mine.join(others, [mine.link == others.link, mine.account_id != others.other])
    linked = linked.filter(linked.other_first < linked.as_of).select(*KEY, "other").distinct()

    reviews = ds.tables["reviews"]
    negs = reviews.filter(reviews.rating <= 2).select("account_id", "merchant_id", at="created_at")
    my_targets = _before(negs, cutoffs, "at").select(*KEY, "merchant_id").distinct()
    # The division of labour: one member reviews, another one talks to the shop.
    acts = negs
    messages = ds.table("messages")
    if messages is not None:
        sent = messages.filter(messages.sender == "account")
        acts = ibis.union(negs, sent.select("account_id", "merchant_id", at=sent.sent_at))
    their = acts.rename(other="account_id", other_at="at")
    j = linked.join(my_targets, list(KEY)).join(their, ["other", "merchant_id"])
    j = j.filter(j.other_at < j.as_of)
    return j.group_by(list(KEY)).aggregate(crew_accounts_sharing_device_or_address=j.other.nunique())


# -------------------------------------------------------------- review spam

BURST_DAYS = 28  # SpEagle's burstiness horizon


def _product_days(reviews: ibis.Table) -> ibis.Table:
    """Per product and day: count and rating sum of the product's reviews on earlier days.

    Aggregating per day keeps same-day ties deterministic, and using only
    earlier days keeps the context point in time whatever the as-of's time of day.
    """
    day = reviews.created_at.truncate("D")
    per_day = reviews.group_by(["merchant_id", day.name("day")]).aggregate(
        n=reviews.count(), rating_sum=reviews.rating.sum()
    )
    w = ibis.cumulative_window(group_by="merchant_id", order_by="day")
    cum = per_day.mutate(n_upto=per_day.n.sum().over(w), rating_upto=per_day.rating_sum.sum().over(w))
    return cum.select("merchant_id", "day", earlier=cum.n_upto - cum.n, rating_earlier=cum.rating_upto - cum.rating_sum)


def review_spam_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    reviews = ds.tables["reviews"]
    r = _before(reviews, cutoffs, "created_at")
    r = r.mutate(day=r.created_at.truncate("D"))
    ctx = _product_days(reviews)
    rc = r.join(ctx, ["merchant_id", "day"])
    mean_before = _share(rc.rating_earlier, rc.earlier)
    per_review = rc.mutate(dev=(rc.rating.cast(dt.float64) - mean_before).abs(), rank=rc.earlier + 1)
    agg = per_review.group_by(list(KEY)).aggregate(
        reviews_total=per_review.count(),
        __pos=(per_review.rating >= 4).cast(dt.int64).sum(),
        __ext=per_review.rating.isin([1, 5]).cast(dt.int64).sum(),
        rating_deviation_mean=per_review.dev.mean(),
        __rank_sum=per_review["rank"].sum(),
        __pop_sum=per_review.earlier.sum(),
        __first=per_review.created_at.min(),
        __last=per_review.created_at.max(),
    )
    span_days = (epoch_ms(agg.__last) - epoch_ms(agg.__first)).cast(dt.float64) / DAY_MS
    per_day = r.group_by([*KEY, "day"]).aggregate(c=r.count())
    day_max = per_day.group_by(list(KEY)).aggregate(max_reviews_per_day=per_day.c.max())
    ratings = r.group_by([*KEY, "rating"]).aggregate(c=r.count())
    rating_entropy = _entropy_bits(ratings, KEY, "c").rename(rating_entropy_bits="entropy")
    w = ibis.window(group_by=list(KEY), order_by=[r.created_at, r.review_id])
    gaps = r.mutate(gap_days=(epoch_ms(r.created_at) - epoch_ms(r.created_at.lag().over(w))) / DAY_MS)
    gaps = gaps.filter(gaps.gap_days.notnull())
    bins = gaps.mutate(bin=(gaps.gap_days + 1).cast(dt.float64).log2().floor().cast(dt.int64))
    gap_entropy = _entropy_bits(bins.group_by([*KEY, "bin"]).aggregate(c=bins.count()), KEY, "c").rename(
        review_gap_entropy_bits="entropy"
    )
    out = (
        agg.left_join(day_max, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
        .left_join(rating_entropy, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
        .left_join(gap_entropy, list(KEY))
        .drop(*[f"{k}_right" for k in KEY])
    )
    n = out.reviews_total
    return out.select(
        *KEY,
        reviews_total=n,
        single_review_account=(n == 1).cast(dt.float64),
        max_reviews_per_day=out.max_reviews_per_day,
        positive_review_share=_share(out.__pos, n),
        rating_extremity_share=_share(out.__ext, n),
        rating_entropy_bits=out.rating_entropy_bits,
        rating_deviation_mean=out.rating_deviation_mean,
        early_review_rank_mean=_share(out.__rank_sum, n),
        reviewed_product_popularity=_share(out.__pop_sum, n),
        review_burstiness=ibis.greatest(1.0 - span_days / BURST_DAYS, 0.0),
        review_gap_entropy_bits=out.review_gap_entropy_bits,
    )


# ------------------------------------------------------------------ assembly

# Which tables a family needs, and which of its features are counts (0 when
# the table exists but the account has no events in it).
FAMILY_SPECS: tuple[tuple[Family, tuple[str, ...], tuple[str, ...]], ...] = (
    (account_features, ("accounts",), ()),
    (order_features, ("orders",), ("orders_90d",)),
    (
        like_volume_features,
        ("likes",),
        (
            "likes_1d",
            "likes_7d",
            "likes_30d",
            "likes_90d",
            "likes_per_day_max",
            "likes_per_minute_max",
            "likes_per_hour_max",
            "hours_over_300_likes",
        ),
    ),
    (like_timing_features, ("likes",), ()),
    (like_audience_features, ("likes",), ("liked_authors_30d",)),
    (lockstep_features, ("likes",), ("lockstep_peer_accounts",)),
    (device_features, ("likes", "orders", "reviews"), ("accounts_sharing_device",)),
    (review_features, ("reviews",), ("negative_reviews_30d", "negative_reviews_90d", "negatively_reviewed_merchants")),
    (review_order_features, ("reviews", "orders"), ()),
    (message_features, ("messages",), ("money_demand_messages",)),
    (transfer_features, ("reviews", "transfers"), ("transfers_after_negative_review",)),
    (report_features, ("reports",), ("extortion_reports", "other_reports")),
    (crew_features, ("reviews",), ("crew_accounts_sharing_device_or_address",)),
    (review_spam_features, ("reviews",), ("reviews_total", "single_review_account", "max_reviews_per_day")),
)

# Families listing several tables need all of them, except device features,
# which use whichever of their tables exist.
_ANY_OF = {device_features}


def build_features(ds: Dataset, cutoffs: ibis.Table, names: list[str] | None = None) -> ibis.Table:
    """One row per cutoff: ``account_id``, ``as_of`` and the registry's features (float64).

    ``cutoffs`` has ``account_id`` (string) and ``as_of`` (timestamp, UTC).
    ``names`` limits the output to those features (default: all).
    """
    wanted = names or [f.name for f in FEATURES]
    unknown = [n for n in wanted if n not in BY_NAME]
    if unknown:
        raise KeyError(f"unknown features: {unknown}")
    run = next(_RUNS)
    cutoffs = materialize(
        ds.con,
        f"_rg_cutoffs_{run}",
        cutoffs.select(account_id=cutoffs.account_id.cast(dt.string), as_of=cutoffs.as_of.cast(dt.timestamp)),
    )
    result = cutoffs
    produced: set[str] = set()
    zero_fill: set[str] = set()
    for family, tables, counts in FAMILY_SPECS:
        present = [t for t in tables if ds.has(t)]
        if (family in _ANY_OF and not present) or (family not in _ANY_OF and len(present) < len(tables)):
            continue
        part = family(ds, cutoffs)
        cols = [c for c in part.columns if c not in KEY and c in wanted]
        if not cols:
            continue
        # Each family's result is small (one row per cutoff at most); computing it on its
        # own keeps the engine from planning one giant query whose joins blow up (at
        # 1,000,000 accounts that plan spilled 70 GB; the families alone take a minute).
        part = materialize(ds.con, f"_rg_features_{run}_{family.__name__}", part.select(*KEY, *cols))
        result = result.left_join(part, list(KEY)).drop(*[f"{k}_right" for k in KEY])
        produced.update(cols)
        zero_fill.update(c for c in counts if c in cols)
    values: dict[str, ibis.Value] = {}
    for name in wanted:
        if name not in produced:
            values[name] = ibis.null(dt.float64)
            continue
        col = result[name].cast(dt.float64)
        if name in zero_fill:
            col = col.fill_null(0.0)
        values[name] = col.round(ROUND_DIGITS)
    return result.select(*KEY, **values)


# ---------------------------------------------------------------- cutoffs


def latest_event_time(ds: Dataset) -> datetime:
    """Time of the latest event (labels and account creation excluded).

    Events dated after the moment the data was read are ignored: one row
    stamped 2099 must not move every account's as-of into the future.
    """
    from reviewguard.contract import EVENT_TABLES, TABLES
    from reviewguard.errors import ReviewguardError

    now = ibis.literal(ds.report.opened_at, type=dt.timestamp)
    latest: datetime | None = None
    for name in EVENT_TABLES:
        t = ds.table(name)
        if t is None:
            continue
        col = t[TABLES[name].event_time]
        value = t.filter(col <= now)[TABLES[name].event_time].max().execute()
        if value is not None and str(value) != "NaT":
            v = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
            latest = v if latest is None or v > latest else latest
    if latest is None:
        raise ReviewguardError(f"{ds.root} holds no events before now; pass an explicit --as-of")
    return latest.replace(tzinfo=None)


def default_as_of(ds: Dataset) -> datetime:
    """Just after the latest event, so every event in the data counts (UTC, naive)."""
    return latest_event_time(ds) + timedelta(milliseconds=1)


def cutoffs_at(ds: Dataset, as_of: datetime) -> ibis.Table:
    """One cutoff per account that existed at ``as_of``."""
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    acc = ds.tables["accounts"]
    lit = ibis.literal(as_of, type=dt.timestamp)
    return acc.filter(acc.created_at < lit).select("account_id", as_of=lit)


def cutoffs_from_labels(ds: Dataset) -> ibis.Table:
    """One cutoff per distinct (account, decided_at) of the labels table."""
    lab = ds.tables["labels"]
    return lab.select("account_id", as_of=lab.decided_at).distinct()
