"""Like features: how many likes and how fast (volume), when and how regularly (timing), and whether
the content was opened first (opening). Windows are counted back from the as-of moment."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from reviewguard.engine import engine_name, materialize
from reviewguard.features.pit import KEY, RUNS, before, entropy_bits, epoch_ms, left_join_key, share
from reviewguard.features.spec import FE, Feature, Group
from reviewguard.reader import Dataset

SESSION_GAP_MS = 3_600_000  # gaps longer than this separate sessions (sleep, work)
# DuckDB's median keeps every group's values in memory and cannot spill: over every like gap of
# 1,000,000 accounts it stopped the features under a 2.5 GB memory limit. Computed one slice of
# the accounts at a time, each query holds an eighth of them.
MEDIAN_SLICES = 8
NIGHT_HOURS_UTC = (17, 18, 19, 20, 21)  # 01:00-06:00 China time (UTC+8)


def likes_30d(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Each cutoff's likes in the 30 days before it, with ``t_ms`` (epoch milliseconds)."""
    likes = ds.tables["likes"]
    return before(likes.mutate(t_ms=epoch_ms(likes.liked_at)), cutoffs, "liked_at", days=30)


def likes_in_any_window(ds: Dataset, cutoffs: ibis.Table, days: int = 30) -> ibis.Table:
    """Likes that fall inside some cutoff's window: the only ones pairwise joins need to see."""
    likes = ds.tables["likes"]
    bounds = cutoffs.aggregate(lo=cutoffs.as_of.min() - ibis.interval(days=days), hi=cutoffs.as_of.max())
    joined = likes.cross_join(bounds)
    return joined.filter((joined.liked_at >= joined.lo) & (joined.liked_at < joined.hi)).drop("lo", "hi")


def like_volume_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    likes = ds.tables["likes"]
    l90 = before(likes, cutoffs, "liked_at", days=90)
    counts = l90.group_by(list(KEY)).aggregate(
        likes_1d=(l90.liked_at >= l90.as_of - ibis.interval(days=1)).cast(dt.int64).sum(),
        likes_7d=(l90.liked_at >= l90.as_of - ibis.interval(days=7)).cast(dt.int64).sum(),
        likes_30d=(l90.liked_at >= l90.as_of - ibis.interval(days=30)).cast(dt.int64).sum(),
        likes_90d=l90.count(),
    )
    l30 = likes_30d(ds, cutoffs)
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
    out = left_join_key(left_join_key(left_join_key(counts, day_stats), minute_stats), hour_stats)
    return out.select(
        *KEY,
        "likes_1d",
        "likes_7d",
        "likes_30d",
        "likes_90d",
        "likes_per_day_max",
        likes_per_active_day_mean=share(out.__likes, out.__days),
        likes_per_minute_max=out.likes_per_minute_max,
        likes_per_hour_max=out.likes_per_hour_max,
        hours_over_300_likes=out.hours_over_300_likes,
        active_hours_per_day=share(out.__hours, out.__days),
    )


def session_gap(gaps: ibis.Table) -> ibis.IntegerColumn:
    """The gap before each like when it falls within a session (under an hour), else null."""
    return ibis.ifelse(gaps.gap.notnull() & (gaps.gap < SESSION_GAP_MS), gaps.gap, ibis.null(dt.int64))


def like_timing_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    return like_timing_some(ds, cutoffs, frozenset(f.name for f in FEATURES if f.group == "like_timing"))


def like_timing_some(ds: Dataset, cutoffs: ibis.Table, wanted: frozenset[str]) -> ibis.Table:
    """The like-timing features in ``wanted``: the medians (eight passes, see MEDIAN_SLICES) and
    the entropies are computed only when asked for, and the gaps stored only when more than one
    aggregation reads them."""
    medians_wanted = bool(wanted & {"like_gap_median_s", "dwell_median_ms"})
    entropies_wanted = bool(wanted & {"like_gap_entropy_bits", "like_hour_entropy_bits"})
    l30 = likes_30d(ds, cutoffs)
    narrow = l30.select(*KEY, "t_ms", "dwell_ms", hour=l30.liked_at.hour())
    w = ibis.window(group_by=list(KEY), order_by=[narrow.t_ms])
    g = narrow.mutate(
        gap=narrow.t_ms - narrow.t_ms.lag().over(w),
        __slice=(narrow.account_id.hash().abs() % MEDIAN_SLICES).cast(dt.int8),
    )
    if medians_wanted or entropies_wanted:
        # The gaps feed several aggregations: compute the window once, on narrow rows
        # (computed three times on full rows, it spilled over 25 GB at 1,000,000 accounts).
        g = materialize(ds.con, f"_rg_like_gaps_{next(RUNS)}", g)
    in_session = g.gap.notnull() & (g.gap < SESSION_GAP_MS)
    sg = session_gap(g)
    stats = g.group_by(list(KEY)).aggregate(
        __gaps=g.gap.count(),
        __under_1s=(g.gap < 1000).cast(dt.int64).sum(),
        like_gap_min_ms=g.gap.min(),
        __sg_n=sg.count(),
        __sg_sum=sg.sum(),
        __sg_sq=(sg * sg).sum(),
        __likes=g.count(),
        __night=g["hour"].isin(list(NIGHT_HOURS_UTC)).cast(dt.int64).sum(),
        __no_open=g.dwell_ms.isnull().cast(dt.int64).sum(),
    )
    n = stats.__sg_n.cast(dt.float64)
    mean = stats.__sg_sum.cast(dt.float64) / n
    # Sample variance from integer sums: exact inputs, so the same on every engine and run.
    var = (stats.__sg_sq.cast(dt.float64) - n * mean * mean) / (n - 1)
    cv = ibis.ifelse((stats.__sg_n > 1) & (mean > 0), var.clip(lower=0).sqrt() / mean, ibis.null(dt.float64))
    out = stats.mutate(__cv=cv)

    if "like_gap_entropy_bits" in wanted:
        bins = g.filter(in_session).mutate(bin=(g.gap + 1).cast(dt.float64).log2().floor().cast(dt.int64))
        gap_entropy = entropy_bits(bins.group_by([*KEY, "bin"]).aggregate(c=bins.count()), KEY, "c")
        out = left_join_key(out, gap_entropy.rename(like_gap_entropy_bits="entropy"))
    if "like_hour_entropy_bits" in wanted:
        hours = g.group_by([*KEY, g["hour"].name("h")]).aggregate(c=g.count())
        out = left_join_key(out, entropy_bits(hours, KEY, "c").rename(like_hour_entropy_bits="entropy"))
    if medians_wanted:
        # Spark's median sorts and spills by itself (and a union of its checkpoints fails to plan).
        slices = 1 if engine_name(ds.con) == "pyspark" else MEDIAN_SLICES
        medians = []
        for part in range(slices):
            piece = g if slices == 1 else g.filter(g.__slice == part)
            by_key = piece.group_by(list(KEY)).aggregate(
                __sg_median=session_gap(piece).median(), dwell_median_ms=piece.dwell_ms.median()
            )
            medians.append(by_key if slices == 1 else materialize(ds.con, f"_rg_like_medians_{next(RUNS)}", by_key))
        out = left_join_key(out, medians[0] if slices == 1 else ibis.union(*medians))
    columns = {
        "like_gap_median_s": lambda: out.__sg_median.cast(dt.float64) / 1000.0,
        "like_gap_min_ms": lambda: out.like_gap_min_ms.cast(dt.float64),
        "like_gap_cv": lambda: out.__cv,
        "like_gap_under_1s_share": lambda: share(out.__under_1s, out.__gaps),
        "like_gap_entropy_bits": lambda: out.like_gap_entropy_bits,
        "night_like_share": lambda: share(out.__night, out.__likes),
        "like_hour_entropy_bits": lambda: out.like_hour_entropy_bits,
        "like_without_open_share": lambda: share(out.__no_open, out.__likes),
        "dwell_median_ms": lambda: out.dwell_median_ms.cast(dt.float64),
    }
    return out.select(*KEY, **{name: make() for name, make in columns.items() if name in wanted})


GROUPS = (
    Group(name="like_volume", compute=like_volume_features),
    Group(name="like_timing", compute=like_timing_features, compute_some=like_timing_some),
)

FEATURES: tuple[Feature, ...] = (
    Feature(
        name="likes_1d",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes",
        description_en="Likes given in the 24 hours before the as-of moment.",
        description_zh="评估时点前 24 小时内的点赞数。",
        template_en="gave {value:,.0f} likes in the last day (99th percentile: {p99:,.0f})",
        template_zh="最近一天点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="more likes in a day is more room for automated liking",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="likes_7d",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes",
        description_en="Likes given in the 7 days before the as-of moment.",
        description_zh="评估时点前 7 天内的点赞数。",
        template_en="gave {value:,.0f} likes in 7 days (99th percentile: {p99:,.0f})",
        template_zh="7 天内点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="more likes is more room for automated liking",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="likes_30d",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes",
        description_en="Likes given in the 30 days before the as-of moment.",
        description_zh="评估时点前 30 天内的点赞数。",
        template_en="gave {value:,.0f} likes in 30 days (99th percentile: {p99:,.0f})",
        template_zh="30 天内点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="more likes is more room for automated liking",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="likes_90d",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes",
        description_en="Likes given in the 90 days before the as-of moment.",
        description_zh="评估时点前 90 天内的点赞数。",
        template_en="gave {value:,.0f} likes in 90 days (99th percentile: {p99:,.0f})",
        template_zh="90 天内点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="more likes is more room for automated liking",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="likes_per_day_max",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes per day",
        description_en="Most likes given on one calendar day (UTC) in the last 30 days.",
        description_zh="最近 30 天内单日（UTC）最多点赞数。",
        template_en="gave {value:,.0f} likes in one day (99th percentile of accounts: {p99:,.0f})",
        template_zh="单日点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="the court case: about 20,000 likes a day for weeks",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="likes_per_active_day_mean",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes per day",
        description_en="Average likes per day over days with at least one like, last 30 days.",
        description_zh="最近 30 天有点赞的日子里平均每天点赞数。",
        template_en="averaged {value:,.0f} likes on each active day (99th percentile: {p99:,.0f})",
        template_zh="活跃日平均点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="a sustained daily volume is harder for a person than one busy day",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="likes_per_minute_max",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes per minute",
        description_en="Most likes given within one clock minute in the last 30 days.",
        description_zh="最近 30 天内单分钟最多点赞数。",
        template_en="gave {value:,.0f} likes within one minute (99th percentile: {p99:,.0f}; a person has shown 91)",
        template_zh="一分钟内点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}；真人演示过 91 次）",
        direction=1,
        direction_reason="bursts far beyond hand speed point to software; about 90 a minute is humanly possible",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="likes_per_hour_max",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="likes per hour",
        description_en="Most likes given within one clock hour in the last 30 days.",
        description_zh="最近 30 天内单小时最多点赞数。",
        template_en="gave {value:,.0f} likes within one hour (99th percentile: {p99:,.0f})",
        template_zh="一小时内点赞 {value:,.0f} 次（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="a person cannot keep a burst going for an hour",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="hours_over_300_likes",
        risks=FE,
        evidence="volume",
        group="like_volume",
        unit="hours",
        description_en="Clock hours in the last 30 days with at least 300 likes (5 a minute sustained).",
        description_zh="最近 30 天内点赞不少于 300 次（持续每分钟 5 次）的小时数。",
        template_en="sustained 300+ likes an hour for {value:,.0f} hours (99th percentile: {p99:,.0f})",
        template_zh="有 {value:,.0f} 个小时每小时点赞 300 次以上（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="sustained rate over many hours is what humans rarely show; the case had abnormal hours",
        tables=("likes",),
        zero_fill=True,
    ),
    Feature(
        name="like_gap_median_s",
        risks=FE,
        evidence="timing",
        group="like_timing",
        unit="seconds",
        description_en="Median seconds between consecutive likes within a session (gaps under 1 hour), last 30 days.",
        description_zh="最近 30 天内同一时段（间隔小于 1 小时）相邻两次点赞的中位间隔秒数。",
        template_en="half of the gaps between likes were under {value:,.1f} s",
        template_zh="一半的点赞间隔短于 {value:,.1f} 秒",
        direction=-1,
        direction_reason="shorter gaps leave less time to look at what is liked",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="like_gap_min_ms",
        risks=FE,
        evidence="timing",
        group="like_timing",
        unit="milliseconds",
        description_en="Shortest gap between two consecutive likes in the last 30 days.",
        description_zh="最近 30 天内相邻两次点赞的最短间隔（毫秒）。",
        template_en="two likes came {value:,.0f} ms apart",
        template_zh="两次点赞最短只隔 {value:,.0f} 毫秒",
        direction=-1,
        direction_reason="gaps too short for a hand point to software, but one short gap alone proves little",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="like_gap_cv",
        risks=FE,
        evidence="timing",
        group="like_timing",
        unit="ratio",
        description_en=(
            "Coefficient of variation (std/mean) of gaps under 1 hour, last 30 days; low means machine-regular."
        ),
        description_zh="最近 30 天内小于 1 小时的点赞间隔的变异系数（标准差/均值）；越低越像机器般规律。",
        template_en="gaps between likes varied by only {value:.2f} of their mean (machine-regular when near 0)",
        template_zh="点赞间隔的变异系数只有 {value:.2f}（接近 0 即机器般规律）",
        direction=-1,
        direction_reason="people are irregular; a fixed cadence is a script's signature",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="like_gap_under_1s_share",
        risks=FE,
        evidence="timing",
        group="like_timing",
        unit="share of gaps",
        description_en="Share of gaps between consecutive likes shorter than 1 second, last 30 days.",
        description_zh="最近 30 天内相邻点赞间隔短于 1 秒的比例。",
        template_en="{value:.0%} of gaps between likes were under 1 second (99th percentile: {p99:.0%})",
        template_zh="{value:.0%} 的点赞间隔短于 1 秒（99% 分位：{p99:.0%}）",
        direction=1,
        direction_reason="sub-second liking is rare for people beyond short spells",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="like_gap_entropy_bits",
        risks=FE,
        evidence="timing",
        group="like_timing",
        unit="bits",
        description_en=(
            "Entropy of the gaps' histogram on a log2 scale (gaps under 1 hour), last 30 days; low means one fixed "
            "rhythm."
        ),
        description_zh="最近 30 天内点赞间隔（按 log2 分箱，小于 1 小时）分布的熵；越低越单一节奏。",
        template_en="the rhythm of likes had {value:.2f} bits of variety (low: one fixed rhythm)",
        template_zh="点赞节奏的熵为 {value:.2f} 比特（越低越单一）",
        direction=-1,
        direction_reason="a script repeats one rhythm; people mix many",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="active_hours_per_day",
        risks=FE,
        evidence="timing",
        group="like_volume",
        unit="hours per day",
        description_en="Average distinct clock hours with likes per active day, last 30 days.",
        description_zh="最近 30 天内活跃日平均有点赞的小时数。",
        template_en="liked during {value:.1f} different hours of each active day (99th percentile: {p99:.1f})",
        template_zh="每个活跃日有 {value:.1f} 个小时在点赞（99% 分位：{p99:.1f}）",
        direction=1,
        direction_reason="people sleep; round-the-clock activity points to automation",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="night_like_share",
        risks=FE,
        evidence="timing",
        group="like_timing",
        unit="share of likes",
        description_en="Share of likes given between 01:00 and 06:00 China time, last 30 days.",
        description_zh="最近 30 天内北京时间 01:00-06:00 的点赞比例。",
        template_en="{value:.0%} of likes came between 01:00 and 06:00 (99th percentile: {p99:.0%})",
        template_zh="{value:.0%} 的点赞发生在凌晨 1 点到 6 点（99% 分位：{p99:.0%}）",
        direction=1,
        direction_reason="people sleep; likes through the night point to automation",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="like_hour_entropy_bits",
        risks=FE,
        evidence="timing",
        group="like_timing",
        unit="bits",
        description_en="Entropy of the hour-of-day distribution of likes, last 30 days (4.58 = all 24 hours evenly).",
        description_zh="最近 30 天内点赞在一天 24 小时中分布的熵（4.58 即全天均匀）。",
        template_en="likes were spread over the day with {value:.2f} bits of entropy (4.58 = every hour alike)",
        template_zh="点赞在 24 小时中的分布熵为 {value:.2f} 比特（4.58 即每小时一样）",
        direction=1,
        direction_reason="an even spread over all hours is round-the-clock activity",
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="like_without_open_share",
        risks=FE,
        evidence="opening",
        group="like_timing",
        unit="share of likes",
        description_en="Share of likes given without opening the content (no dwell time), last 30 days.",
        description_zh="最近 30 天内未打开内容就点赞的比例。",
        template_en="{value:.0%} of likes were given without opening the content (99th percentile: {p99:.0%})",
        template_zh="{value:.0%} 的点赞没有打开内容（99% 分位：{p99:.0%}）",
        direction=1,
        direction_reason=(
            "liking without looking serves no reader; the app allows it, so it is evidence only with others"
        ),
        tables=("likes",),
        zero_fill=False,
    ),
    Feature(
        name="dwell_median_ms",
        risks=FE,
        evidence="opening",
        group="like_timing",
        unit="milliseconds",
        description_en="Median time content was open before a like, over likes that opened it, last 30 days.",
        description_zh="最近 30 天内打开内容后点赞前停留时间的中位数（毫秒）。",
        template_en="content was open a median {value:,.0f} ms before the like",
        template_zh="点赞前内容停留时间中位数 {value:,.0f} 毫秒",
        direction=-1,
        direction_reason="longer reading before liking is what a genuine reader does",
        tables=("likes",),
        zero_fill=False,
    ),
)
