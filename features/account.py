"""Account features: the account's own standing (registration, level, phone) and its orders.

``level`` and ``phone_verified`` are read from the ``accounts`` table, which
holds one row per account as the platform exports it: a snapshot, whatever the
cutoff. Their declarations say so (``snapshot``), docs/features.md lists them,
and tests/features/test_accounts_leakage.py checks that nothing else in
``accounts`` reaches a feature.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from reviewguard.features.pit import DAY_MS, KEY, before, epoch_ms, share
from reviewguard.features.spec import BOTH, EX, Feature, Group
from reviewguard.reader import Dataset


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
    o = before(ds.tables["orders"], cutoffs, "ordered_at")
    refunded = o.refunded_at.notnull() & (o.refunded_at < o.as_of)
    in_90d = o.ordered_at >= o.as_of - ibis.interval(days=90)
    agg = o.group_by(list(KEY)).aggregate(
        orders_90d=in_90d.cast(dt.int64).sum(),
        __orders=o.count(),
        __refunded=refunded.cast(dt.int64).sum(),
    )
    return agg.select(*KEY, orders_90d=agg.orders_90d, refund_rate=share(agg.__refunded, agg.__orders))


# ``level`` and ``phone_verified`` have no history in the contract: the value read is the export's.
SNAPSHOT = (
    "the accounts table holds one value per account, as exported, not its history: at a past cutoff "
    "this is the later value"
)

GROUPS = (Group(name="account_row", compute=account_features), Group(name="orders", compute=order_features))

FEATURES: tuple[Feature, ...] = (
    Feature(
        name="account_age_days",
        risks=BOTH,
        evidence="account",
        group="account_row",
        unit="days",
        description_en="Days between the account's registration and the as-of moment.",
        description_zh="从注册到评估时点的天数。",
        template_en="account is {value:,.0f} days old (99th percentile of accounts: {p99:,.0f})",
        template_zh="账号注册 {value:,.0f} 天（99% 分位：{p99:,.0f}）",
        direction=-1,
        direction_reason="abuse runs on fresh or throw-away accounts more than on long-standing ones",
        tables=("accounts",),
        zero_fill=False,
    ),
    Feature(
        name="membership_level",
        risks=BOTH,
        evidence="account",
        group="account_row",
        unit="level 0-8",
        description_en="The account's membership level (8 is a top member).",
        description_zh="账号会员等级（8 为最高等级）。",
        template_en="membership level {value:.0f}",
        template_zh="会员等级 {value:.0f}",
        direction=0,
        direction_reason="both top members and new accounts abuse; the court case involved a Lv8 member",
        tables=("accounts",),
        zero_fill=False,
        snapshot=SNAPSHOT,
    ),
    Feature(
        name="phone_verified",
        risks=BOTH,
        evidence="account",
        group="account_row",
        unit="1 = verified",
        description_en="Whether the account has a verified phone number (1 yes, 0 no).",
        description_zh="账号是否验证了手机号（1 是，0 否）。",
        template_en="phone verified: {value:.0f} (1 = yes)",
        template_zh="手机已验证：{value:.0f}（1 为是）",
        direction=-1,
        direction_reason="verified phones cost money per account, which bulk abuse avoids",
        tables=("accounts",),
        zero_fill=False,
        snapshot=SNAPSHOT,
    ),
    Feature(
        name="orders_90d",
        risks=BOTH,
        evidence="account",
        group="orders",
        unit="orders",
        description_en="Orders placed in the 90 days before the as-of moment.",
        description_zh="评估时点前 90 天内下单数。",
        template_en="placed {value:,.0f} orders in 90 days (99th percentile: {p99:,.0f})",
        template_zh="90 天内下单 {value:,.0f} 笔（99% 分位：{p99:,.0f}）",
        direction=0,
        direction_reason="extortion needs purchases and bots also buy; order count alone points nowhere",
        tables=("orders",),
        zero_fill=True,
    ),
    Feature(
        name="refund_rate",
        risks=EX,
        evidence="account",
        group="orders",
        unit="share of orders",
        description_en="Share of the account's orders that were refunded through the order flow.",
        description_zh="订单中通过正常流程退款的比例。",
        template_en="{value:.0%} of orders refunded (99th percentile: {p99:.0%})",
        template_zh="{value:.0%} 的订单已退款（99% 分位：{p99:.0%}）",
        direction=-1,
        direction_reason="genuine problems end in refunds; extortion ends in payments outside the order flow",
        tables=("orders",),
        zero_fill=False,
    ),
)
