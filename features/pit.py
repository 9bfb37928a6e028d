"""Point-in-time helpers shared by every compute group.

Every feature is computed "as of" a moment per account from a cutoffs table
(``account_id``, ``as_of``): only events strictly before ``as_of`` count, so an
event after the cutoff can never change a feature. Follow-up times (an edit, a
deletion, a refund) count only when they too are before ``as_of``.
"""

from __future__ import annotations

import itertools

import ibis
import ibis.expr.datatypes as dt

from reviewguard.contract import NEGATIVE_RATING_MAX
from reviewguard.reader import Dataset

KEY = ("account_id", "as_of")
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
ROUND_DIGITS = 9


def round_to_digits(x: ibis.NumericValue) -> ibis.FloatingValue:
    """``x`` rounded to ``ROUND_DIGITS`` decimals, the same on every engine.

    ``round(x, 9)`` differs: DuckDB rounds the double, Spark its decimal string half up, so
    135.16848781249998979 became ...812 on one and ...813 on the other (0.03% of day-based
    values). Scaled and rounded in plain float arithmetic, both round the same double the same way;
    on DuckDB this equals ``round(x, 9)`` (1.5 million values checked; only a value within one
    unit in the last place of a half can differ), so features do not move.
    """
    scale = 10.0**ROUND_DIGITS
    y = x.cast(dt.float64) * scale
    # Half away from zero in floats (Ibis's round(0) and floor cast to BIGINT, which overflows
    # past 9.2e9): floor(|y| + 0.5) as a - (a % 1), exact for a >= 0 on both engines. From 2^52
    # up a double is a whole number, already rounded.
    a = y.abs() + 0.5
    whole = a - a % 1.0
    rounded = ibis.ifelse(y.abs() >= 2.0**52, y, ibis.ifelse(y < 0, -whole, whole))
    return rounded / scale


# Names of the temporary tables a run materialises: unique per process.
RUNS = itertools.count()


def epoch_ms(ts: ibis.TimestampValue) -> ibis.IntegerValue:
    """Milliseconds since the epoch, the same on DuckDB and Spark."""
    return ts.epoch_seconds().floor().cast(dt.int64) * 1000 + ts.millisecond().cast(dt.int64)


def share(num: ibis.NumericValue, den: ibis.NumericValue) -> ibis.FloatingValue:
    """``num / den``, null where ``den`` is 0 (a share of nothing is undefined, not 0)."""
    return ibis.ifelse(den > 0, num.cast(dt.float64) / den.cast(dt.float64), ibis.null(dt.float64))


# Fixed point for sums of c * log2(c): integers add up the same in any order, floats do not (a
# parallel engine adds them in whatever order its threads finish: at 200,000 accounts two runs
# gave different last bits for 0.009% of the like-gap entropies). A term's rounding error is
# below 1e-9 bits; a count of 10 million stays far from overflow.
ENTROPY_FIXED_POINT = 2**30


# Means of floats in fixed point, for the same reason. 2^36: a term's rounding error is below 1e-11,
# far under the 9 digits the build keeps; terms up to 16 leave room for 8 million rows per group.
MEAN_FIXED_POINT = 2**36


def to_fixed_point(x: ibis.NumericValue, units: int = MEAN_FIXED_POINT) -> ibis.IntegerValue:
    """``x`` in units of 1/``units``, as an integer: sums of it are the same in any order."""
    return (x.cast(dt.float64) * units).round().cast(dt.int64)


def entropy_bits(counts: ibis.Table, key: tuple[str, ...], count_col: str) -> ibis.Table:
    """Shannon entropy (bits) per key from a table of per-bin counts, the same on every run."""
    c = counts[count_col].cast(dt.float64)
    per = counts.group_by(list(key)).aggregate(
        __n=counts[count_col].sum(),
        __clogc=to_fixed_point(c * c.log2(), ENTROPY_FIXED_POINT).sum(),
        __bins=counts.count(),
    )
    n = per.__n.cast(dt.float64)
    entropy = n.log2() - per.__clogc.cast(dt.float64) / ENTROPY_FIXED_POINT / n
    # One bin is exactly 0 bits (the rounding left +-1e-10, and -0.0 prints as "-0.00 bits").
    return per.select(*key, entropy=ibis.ifelse(per.__bins == 1, 0.0, ibis.greatest(entropy, 0.0)))


def exact_mean(x: ibis.NumericValue) -> ibis.FloatingValue:
    """Mean of ``x`` over a group, the same on every run and engine (nulls skipped, as ``mean``).

    For values between -16 and 16 (ratings, their deviations, shares, logarithms of counts), up
    to 8 million rows per group: beyond that the int64 sum overflows, and DuckDB refuses NaN or a
    value from 1.3e8 up.
    """
    return to_fixed_point(x).sum().cast(dt.float64) / MEAN_FIXED_POINT / x.count().cast(dt.float64)


def before(
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


def left_join_key(left: ibis.Table, right: ibis.Table) -> ibis.Table:
    """``left`` with ``right``'s columns, matched on the cutoff key."""
    return left.left_join(right, list(KEY)).drop(*[f"{k}_right" for k in KEY])


def outer_join_key(left: ibis.Table, right: ibis.Table) -> ibis.Table:
    """Rows of either side, matched on the cutoff key (the key coalesced)."""
    out = left.outer_join(right, list(KEY))
    return out.mutate(
        account_id=ibis.coalesce(out.account_id, out.account_id_right),
        as_of=ibis.coalesce(out.as_of, out.as_of_right),
    ).drop("account_id_right", "as_of_right")


def is_negative(rating: ibis.IntegerValue) -> ibis.BooleanValue:
    """A negative review: 1 to ``contract.NEGATIVE_RATING_MAX`` stars."""
    return rating <= NEGATIVE_RATING_MAX


def negative_reviews(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Negative reviews of each cutoff's account written before its as_of."""
    r = before(ds.tables["reviews"], cutoffs, "created_at")
    return r.filter(is_negative(r.rating))
