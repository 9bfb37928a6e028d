"""Review-behaviour features for opinion spam (SpEagle-style user and product context), used by the
``review_spam`` risk (core/defaults/yelp.toml).

Two kinds of product context, both point in time:

- at the review (``rating_deviation_mean``, ``early_review_rank_mean``, ``reviewed_product_popularity``):
  the product's reviews on days before that review's day, what a reader saw when it was written;
- at the as-of (``*_at_as_of``, ``reviewed_product_rating_mean``, ``earliest_review_rank_share``,
  ``product_*``): the product's reviews before the as-of moment, what the platform sees when it
  judges the account.
  A filter that judges at collection time (Yelp's) sees a product's whole history up to then, and
  so does scoring; training at the same moment keeps the two the same (docs/benchmarks.md: this is
  where 0.03 AUC of the gap to a simple whole-file script went). Never after the as-of.

The paper's product averages include the future; neither of these does.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from reviewguard.features.pit import (
    DAY_MS,
    KEY,
    MEAN_FIXED_POINT,
    before,
    entropy_bits,
    epoch_ms,
    exact_mean,
    left_join_key,
    share,
    to_fixed_point,
)
from reviewguard.features.spec import RS, Feature, Group
from reviewguard.reader import Dataset

BURST_DAYS = 28  # SpEagle's burstiness horizon


def product_days(reviews: ibis.Table) -> ibis.Table:
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


def product_at_as_of(reviews: ibis.Table, r: ibis.Table) -> ibis.Table:
    """Per (product, as-of) pair in ``r``: count and rating sum of the product's reviews strictly
    before the as-of (``merchant_id``, ``as_of_ms``, ``n_as_of``, ``rating_as_of``).

    One running sum over the product's reviews and the as-of moments merged in time order (an
    as-of sorts before a review at the same instant, so that review does not count): linear in
    the reviews, where joining every review to every earlier review of its product is quadratic,
    and plain window functions, so DuckDB and Spark run the same query.
    """
    queries = r.select("merchant_id", t=epoch_ms(r.as_of)).distinct()
    i64 = dt.int64  # one type on both sides of the union
    queries = queries.mutate(
        q=ibis.literal(1, i64),
        n=ibis.literal(0, i64),
        s=ibis.literal(0, i64),
        ft=ibis.literal(0, i64),
        hist=ibis.literal(0, i64),
    )
    # Each review's author as the review was written: its reviews on earlier days (rank counts
    # the rows ordered before, ties excluded), known then, so point in time for any later as-of.
    by_author = ibis.window(group_by="account_id", order_by=reviews.created_at.truncate("D"))
    prior = ibis.rank().over(by_author)
    events = reviews.select(
        "merchant_id",
        t=epoch_ms(reviews.created_at),
        q=ibis.literal(0, i64),
        n=ibis.literal(1, i64),
        s=reviews.rating.cast(i64),
        ft=(prior == 0).cast(i64),
        # In fixed point: a running sum of floats depends on the order of same-instant reviews.
        hist=to_fixed_point((prior.cast(dt.float64) + 1.0).ln()),
    )
    u = events.union(queries)
    w = ibis.cumulative_window(group_by="merchant_id", order_by=[u.t, ibis.desc(u.q)])
    cum = u.mutate(
        n_as_of=u.n.sum().over(w),
        rating_as_of=u.s.sum().over(w),
        first_timers_as_of=u.ft.sum().over(w),
        history_as_of=u.hist.sum().over(w),
    )
    cum = cum.filter(cum.q == 1)
    return cum.select(
        "merchant_id",
        as_of_ms=cum.t,
        n_as_of=cum.n_as_of,
        rating_as_of=cum.rating_as_of,
        first_timers_as_of=cum.first_timers_as_of,
        history_as_of=cum.history_as_of,
    )


def review_spam_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    reviews = ds.tables["reviews"]
    r = before(reviews, cutoffs, "created_at")
    r = r.mutate(day=r.created_at.truncate("D"), as_of_ms=epoch_ms(r.as_of))
    ctx = product_days(reviews)
    rc = r.join(ctx, ["merchant_id", "day"]).join(product_at_as_of(reviews, r), ["merchant_id", "as_of_ms"])
    mean_before = share(rc.rating_earlier, rc.earlier)
    # n_as_of >= 1: the account's own review is before the as-of.
    mean_as_of = share(rc.rating_as_of, rc.n_as_of)
    rating = rc.rating.cast(dt.float64)
    per_review = rc.mutate(
        dev=(rating - mean_before).abs(),
        rank=rc.earlier + 1,
        dev_as_of=(rating - mean_as_of).abs(),
        mean_as_of=mean_as_of,
        rank_share=share(rc.earlier + 1, rc.n_as_of),
        first_timer_share=share(rc.first_timers_as_of, rc.n_as_of),
        history=rc.history_as_of.cast(dt.float64) / MEAN_FIXED_POINT / rc.n_as_of.cast(dt.float64),
    )
    agg = per_review.group_by(list(KEY)).aggregate(
        reviews_total=per_review.count(),
        __pos=(per_review.rating >= 4).cast(dt.int64).sum(),
        __ext=per_review.rating.isin([1, 5]).cast(dt.int64).sum(),
        rating_mean=per_review.rating.cast(dt.float64).mean(),
        # Float means in fixed point: a parallel sum's order changed their last bits from run to run.
        rating_deviation_mean=exact_mean(per_review.dev),
        rating_deviation_at_as_of=exact_mean(per_review.dev_as_of),
        reviewed_product_rating_mean=exact_mean(per_review.mean_as_of),
        reviewed_product_popularity_at_as_of=per_review.n_as_of.cast(dt.float64).mean(),
        earliest_review_rank_share=per_review.rank_share.min(),
        product_first_timer_share_mean=exact_mean(per_review.first_timer_share),
        product_first_timer_share_max=per_review.first_timer_share.max(),
        product_reviewer_history_mean=exact_mean(per_review.history),
        __rank_sum=per_review["rank"].sum(),
        __pop_sum=per_review.earlier.sum(),
        __first=per_review.created_at.min(),
        __last=per_review.created_at.max(),
    )
    span_days = (epoch_ms(agg.__last) - epoch_ms(agg.__first)).cast(dt.float64) / DAY_MS
    per_day = r.group_by([*KEY, "day"]).aggregate(c=r.count())
    day_max = per_day.group_by(list(KEY)).aggregate(max_reviews_per_day=per_day.c.max())
    ratings = r.group_by([*KEY, "rating"]).aggregate(c=r.count())
    rating_entropy = entropy_bits(ratings, KEY, "c").rename(rating_entropy_bits="entropy")
    w = ibis.window(group_by=list(KEY), order_by=[r.created_at, r.review_id])
    gaps = r.mutate(gap_days=(epoch_ms(r.created_at) - epoch_ms(r.created_at.lag().over(w))) / DAY_MS)
    gaps = gaps.filter(gaps.gap_days.notnull())
    bins = gaps.mutate(bin=(gaps.gap_days + 1).cast(dt.float64).log2().floor().cast(dt.int64))
    gap_entropy = entropy_bits(bins.group_by([*KEY, "bin"]).aggregate(c=bins.count()), KEY, "c").rename(
        review_gap_entropy_bits="entropy"
    )
    out = left_join_key(left_join_key(left_join_key(agg, day_max), rating_entropy), gap_entropy)
    n = out.reviews_total
    return out.select(
        *KEY,
        reviews_total=n,
        single_review_account=(n == 1).cast(dt.float64),
        max_reviews_per_day=out.max_reviews_per_day,
        positive_review_share=share(out.__pos, n),
        rating_extremity_share=share(out.__ext, n),
        rating_entropy_bits=out.rating_entropy_bits,
        rating_deviation_mean=out.rating_deviation_mean,
        early_review_rank_mean=share(out.__rank_sum, n),
        reviewed_product_popularity=share(out.__pop_sum, n),
        review_burstiness=ibis.greatest(1.0 - span_days / BURST_DAYS, 0.0),
        review_gap_entropy_bits=out.review_gap_entropy_bits,
        rating_mean=out.rating_mean,
        review_span_days=span_days,
        rating_deviation_at_as_of=out.rating_deviation_at_as_of,
        reviewed_product_rating_mean=out.reviewed_product_rating_mean,
        reviewed_product_popularity_at_as_of=out.reviewed_product_popularity_at_as_of,
        earliest_review_rank_share=out.earliest_review_rank_share,
        product_first_timer_share_mean=out.product_first_timer_share_mean,
        product_first_timer_share_max=out.product_first_timer_share_max,
        product_reviewer_history_mean=out.product_reviewer_history_mean,
    )


GROUPS = (Group(name="review_spam", compute=review_spam_features),)

FEATURES: tuple[Feature, ...] = (
    Feature(
        name="reviews_total",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="reviews",
        description_en="Reviews the account wrote before the as-of moment.",
        description_zh="评估时点前本账号写的评价数。",
        template_en="wrote {value:,.0f} reviews (99th percentile: {p99:,.0f})",
        template_zh="写了 {value:,.0f} 条评价（99% 分位：{p99:,.0f}）",
        direction=0,
        direction_reason="prolific genuine reviewers and one-shot spammers both exist",
        tables=("reviews",),
        zero_fill=True,
    ),
    Feature(
        name="single_review_account",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="1 = one review only",
        description_en="Whether the account wrote exactly one review (1 yes, 0 no).",
        description_zh="账号是否只写过一条评价（1 是，0 否）。",
        template_en="single-review account: {value:.0f} (1 = yes)",
        template_zh="只写过一条评价：{value:.0f}（1 为是）",
        direction=0,
        direction_reason="most accounts review once; singletons are where spam hides, but so do ordinary customers",
        tables=("reviews",),
        zero_fill=True,
    ),
    Feature(
        name="max_reviews_per_day",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="reviews per day",
        description_en="Most reviews the account wrote on one calendar day (UTC).",
        description_zh="单日（UTC）最多写的评价数。",
        template_en="wrote {value:,.0f} reviews in one day (99th percentile: {p99:,.0f})",
        template_zh="单日写了 {value:,.0f} 条评价（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="several reviews of different places in a day is a campaign's pattern",
        tables=("reviews",),
        zero_fill=True,
    ),
    Feature(
        name="positive_review_share",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="share of reviews",
        description_en="Share of the account's reviews with 4 or 5 stars.",
        description_zh="本账号 4-5 星评价所占比例。",
        template_en="{value:.0%} of its reviews were 4-5 stars",
        template_zh="{value:.0%} 的评价为 4-5 星",
        direction=0,
        direction_reason="promotion spam is positive and demotion spam negative; direction depends on the campaign",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="rating_extremity_share",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="share of reviews",
        description_en="Share of the account's reviews with 1 or 5 stars.",
        description_zh="本账号 1 星或 5 星评价所占比例。",
        template_en="{value:.0%} of its reviews were 1 or 5 stars",
        template_zh="{value:.0%} 的评价为 1 星或 5 星",
        direction=1,
        direction_reason="spam pushes to the extremes",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="rating_entropy_bits",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="bits",
        description_en="Entropy of the account's star ratings (0 = always the same rating).",
        description_zh="本账号评分分布的熵（0 即总是同一评分）。",
        template_en="its ratings had {value:.2f} bits of variety",
        template_zh="评分分布的熵为 {value:.2f} 比特",
        direction=-1,
        direction_reason="a campaign repeats one rating; a reader's ratings vary",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="rating_deviation_mean",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="stars",
        description_en=(
            "Average absolute difference between the account's rating and the product's mean rating on earlier days."
        ),
        description_zh="本账号评分与该产品此前各天平均评分之差的绝对值的平均。",
        template_en="its ratings differed from the places' averages by {value:.2f} stars on average",
        template_zh="评分与店铺平均分平均相差 {value:.2f} 星",
        direction=1,
        direction_reason="spam disagrees with the consensus",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="early_review_rank_mean",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="rank",
        description_en=(
            "Average rank of the account's reviews among the product's reviews by day (1 = first day's reviews)."
        ),
        description_zh="本账号评价在该产品评价中按日期的平均排名（1 为最早一天）。",
        template_en="its reviews came on average as number {value:,.0f} of the place's reviews",
        template_zh="其评价平均是该店铺的第 {value:,.0f} 条",
        direction=-1,
        direction_reason="campaigns often come early, to shape a new place's image",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="reviewed_product_popularity",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="reviews",
        description_en="Average number of reviews the reviewed products had before the day of the account's review.",
        description_zh="被评价产品在本账号评价前一天为止的平均评价数。",
        template_en="the places it reviewed had {value:,.0f} reviews on average",
        template_zh="被评价店铺平均有 {value:,.0f} 条评价",
        direction=0,
        direction_reason="spam targets both obscure and busy places",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="review_burstiness",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="0-1",
        description_en="SpEagle burstiness: 1 - (days between first and last review) / 28, floored at 0.",
        description_zh="SpEagle 突发度：1 - 首末评价相隔天数 / 28，最小为 0。",
        template_en="burstiness {value:.2f} (1 = all its reviews within one day)",
        template_zh="突发度 {value:.2f}（1 即所有评价在同一天）",
        direction=1,
        direction_reason="spam accounts are short-lived bursts",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="review_gap_entropy_bits",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="bits",
        description_en="Entropy of the gaps between consecutive reviews (log2 bins of days).",
        description_zh="相邻评价间隔（按天 log2 分箱）分布的熵。",
        template_en="the gaps between its reviews had {value:.2f} bits of variety",
        template_zh="评价间隔的熵为 {value:.2f} 比特",
        direction=0,
        direction_reason="too few reviews per account to say which way it points",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="rating_mean",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="stars",
        description_en="Mean star rating of the account's reviews.",
        description_zh="本账号评价的平均星级。",
        template_en="its reviews averaged {value:.2f} stars",
        template_zh="其评价平均 {value:.2f} 星",
        direction=0,
        direction_reason="promotion spam is high and demotion spam low",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="review_span_days",
        risks=RS,
        evidence="reviews",
        group="review_spam",
        unit="days",
        description_en="Days between the account's first and last review before the as-of.",
        description_zh="评估时点前本账号首条与末条评价相隔的天数。",
        template_en="its reviews spanned {value:,.0f} days (99th percentile: {p99:,.0f})",
        template_zh="其评价跨越 {value:,.0f} 天（99% 分位：{p99:,.0f}）",
        direction=-1,
        direction_reason="spam accounts are short-lived; burstiness caps the same span at 28 days",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="rating_deviation_at_as_of",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="stars",
        description_en=(
            "Average absolute difference between the account's rating and the product's mean rating over its "
            "reviews before the as-of moment."
        ),
        description_zh="本账号评分与该产品在评估时点前全部评价的平均分之差的绝对值的平均。",
        template_en="its ratings differed from the places' averages today by {value:.2f} stars on average",
        template_zh="评分与店铺当前平均分平均相差 {value:.2f} 星",
        direction=1,
        direction_reason="spam disagrees with the consensus",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="reviewed_product_rating_mean",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="stars",
        description_en="Average of the reviewed products' mean ratings over their reviews before the as-of moment.",
        description_zh="被评价产品在评估时点前全部评价平均分的平均。",
        template_en="the places it reviewed averaged {value:.2f} stars",
        template_zh="被评价店铺平均 {value:.2f} 星",
        direction=0,
        direction_reason="spam targets places that need help and places that are envied",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="reviewed_product_popularity_at_as_of",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="reviews",
        description_en="Average number of reviews the reviewed products had before the as-of moment.",
        description_zh="被评价产品在评估时点前的平均评价数。",
        template_en="the places it reviewed have {value:,.0f} reviews on average (99th percentile: {p99:,.0f})",
        template_zh="被评价店铺平均有 {value:,.0f} 条评价（99% 分位：{p99:,.0f}）",
        direction=0,
        direction_reason="spam targets both obscure and busy places",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="earliest_review_rank_share",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="share of the product's reviews",
        description_en=(
            "Smallest rank by day of the account's reviews among the product's reviews before the as-of, "
            "divided by their number (near 0 = among a place's first reviews)."
        ),
        description_zh=(
            "本账号评价在该产品评估时点前全部评价中按日期的最小排名除以评价总数（接近 0 即最早的评价之一）。"
        ),
        template_en="its earliest review came at {value:.0%} of a place's reviews",
        template_zh="其最早的评价位于店铺全部评价的 {value:.0%} 处",
        direction=0,
        direction_reason="early reviews shape a new place's image, but regulars are early too",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="product_first_timer_share_mean",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="share of the product's reviews",
        description_en=(
            "Neighbours: average over the reviewed products of the share of their reviews (before the as-of) "
            "written on their author's first day of reviewing."
        ),
        description_zh="邻居：被评价产品在评估时点前的评价中，作者首日所写评价所占比例的平均。",
        template_en="{value:.0%} of the reviews of the places it reviewed came from first-time reviewers",
        template_zh="其评价店铺的评价中有 {value:.0%} 来自首次评价者",
        direction=0,
        direction_reason="a place crowded with first-time reviewers draws campaigns, but new places draw newcomers",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="product_first_timer_share_max",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="share of the product's reviews",
        description_en=(
            "Neighbours: largest share, among the reviewed products, of reviews (before the as-of) written on "
            "their author's first day of reviewing."
        ),
        description_zh="邻居：被评价产品中，评估时点前作者首日所写评价所占比例的最大值。",
        template_en="one place it reviewed had {value:.0%} of its reviews from first-time reviewers",
        template_zh="其评价的某店铺有 {value:.0%} 的评价来自首次评价者",
        direction=0,
        direction_reason="a place crowded with first-time reviewers draws campaigns, but new places draw newcomers",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="product_reviewer_history_mean",
        risks=RS,
        evidence="review_context",
        group="review_spam",
        unit="log(1 + earlier review days)",
        description_en=(
            "Neighbours: average over the reviewed products of their reviewers' experience, ln(1 + the "
            "author's reviews on earlier days) when each review (before the as-of) was written."
        ),
        description_zh="邻居：被评价产品的评价者经验（撰写时 ln(1 + 作者此前各天的评价数)）的平均。",
        template_en="the places it reviewed were reviewed by people with {value:.2f} log-units of experience",
        template_zh="其评价店铺的评价者经验为 {value:.2f}（对数）",
        direction=0,
        direction_reason="seasoned reviewers crowd popular places; campaigns bring fresh accounts",
        tables=("reviews",),
        zero_fill=False,
    ),
)
