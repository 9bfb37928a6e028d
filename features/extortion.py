"""Extortion features, along the sequence that tells an extortionist from an unhappy customer:
purchase, negative review, a message that asks for money, payment, the review removed; plus
merchants' reports and crews that share devices or addresses."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from reviewguard.features.coordination import first_use
from reviewguard.features.lexicon import is_money_demand, named_amount
from reviewguard.features.pit import (
    HOUR_MS,
    KEY,
    before,
    epoch_ms,
    is_negative,
    left_join_key,
    negative_reviews,
    outer_join_key,
    share,
)
from reviewguard.features.spec import EX, Feature, Group
from reviewguard.reader import Dataset


def review_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    r = before(ds.tables["reviews"], cutoffs, "created_at")
    neg = is_negative(r.rating)
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
        negative_review_share=share(agg.__neg, agg.__all),
        negatively_reviewed_merchants=agg.negatively_reviewed_merchants,
    )


def review_order_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Timing after delivery and the size of the shops reviewed negatively (needs orders)."""
    nr = negative_reviews(ds, cutoffs)
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
    out = outer_join_key(delay, size_avg)
    return out.select(
        *KEY,
        hours_delivery_to_negative_review=share(out.__ms, out.__n) / HOUR_MS,
        negative_reviewed_merchant_orders=share(out.__sum, out.__k),
    )


def message_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    m = before(ds.tables["messages"], cutoffs, "sent_at")
    m = m.filter(m.sender == "account")
    demand = is_money_demand(m.text)
    md = m.mutate(demand=demand, amount=ibis.ifelse(demand, named_amount(m.text), ibis.null(dt.float64)))
    out = md.group_by(list(KEY)).aggregate(
        money_demand_messages=md.demand.cast(dt.int64).sum(),
        demanded_amount_max=md.amount.max(),
    )
    if ds.has("orders"):
        per_merchant = md.filter(md.amount.notnull()).group_by([*KEY, "merchant_id"]).aggregate(demand=md.amount.max())
        o = before(ds.tables["orders"], cutoffs, "ordered_at")
        paid = o.group_by([*KEY, "merchant_id"]).aggregate(order_amount=o.amount.max())
        ratio = per_merchant.join(paid, [*KEY, "merchant_id"])
        ratio = ratio.group_by(list(KEY)).aggregate(
            demand_to_order_ratio_max=(ratio.demand / ibis.greatest(ratio.order_amount, 1.0)).max()
        )
        out = left_join_key(out, ratio)
    if ds.has("reviews"):
        nr = negative_reviews(ds, cutoffs).select(*KEY, "review_id", "merchant_id", rt="created_at")
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
        followed_share = left_join_key(n_neg, n_followed)
        followed_share = followed_share.select(
            *KEY, negative_review_then_message_share=share(followed_share.__f.fill_null(0), followed_share.__neg)
        )
        out = outer_join_key(out, followed_share)
    return out


def transfer_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Payments from a merchant within 7 days after a negative review, and what happened to the review."""
    nr = negative_reviews(ds, cutoffs)
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
    removed_share = left_join_key(n_neg, n_rem)
    removed_share = removed_share.select(
        *KEY, negative_review_removed_after_payment_share=share(removed_share.__rem.fill_null(0), removed_share.__neg)
    )
    return left_join_key(removed_share, agg)


def report_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    r = before(ds.tables["reports"], cutoffs, "reported_at")
    return r.group_by(list(KEY)).aggregate(
        extortion_reports=(r.reason == "extortion").cast(dt.int64).sum(),
        other_reports=(r.reason != "extortion").cast(dt.int64).sum(),
    )


def crew_features(ds: Dataset, cutoffs: ibis.Table) -> ibis.Table:
    """Accounts sharing a device or address that also reviewed negatively, or messaged, a shop
    this account reviewed negatively (devices and addresses from orders and reviews, messages when
    the table exists)."""
    links = []
    for column, sources in (
        ("device_id", (("orders", "ordered_at"), ("reviews", "created_at"))),
        ("address_id", (("orders", "ordered_at"),)),
    ):
        used = first_use(ds, column, sources)
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
    negs = reviews.filter(is_negative(reviews.rating)).select("account_id", "merchant_id", at="created_at")
    my_targets = before(negs, cutoffs, "at").select(*KEY, "merchant_id").distinct()
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


GROUPS = (
    Group(name="review_counts", compute=review_features),
    Group(name="review_orders", compute=review_order_features),
    Group(name="merchant_messages", compute=message_features),
    Group(name="transfers", compute=transfer_features),
    Group(name="merchant_reports", compute=report_features),
    Group(name="crew", compute=crew_features),
)

FEATURES: tuple[Feature, ...] = (
    Feature(
        name="negative_reviews_30d",
        risks=EX,
        evidence="reviews",
        group="review_counts",
        unit="reviews",
        description_en="Negative reviews (1-2 stars) written in the 30 days before the as-of moment.",
        description_zh="评估时点前 30 天内写的差评（1-2 星）数。",
        template_en="wrote {value:,.0f} negative reviews in 30 days (99th percentile: {p99:,.0f})",
        template_zh="30 天内写了 {value:,.0f} 条差评（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="extortion starts with a negative review",
        tables=("reviews",),
        zero_fill=True,
    ),
    Feature(
        name="negative_reviews_90d",
        risks=EX,
        evidence="reviews",
        group="review_counts",
        unit="reviews",
        description_en="Negative reviews (1-2 stars) written in the 90 days before the as-of moment.",
        description_zh="评估时点前 90 天内写的差评（1-2 星）数。",
        template_en="wrote {value:,.0f} negative reviews in 90 days (99th percentile: {p99:,.0f})",
        template_zh="90 天内写了 {value:,.0f} 条差评（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="extortion repeats across shops",
        tables=("reviews",),
        zero_fill=True,
    ),
    Feature(
        name="negative_review_share",
        risks=EX,
        evidence="reviews",
        group="review_counts",
        unit="share of reviews",
        description_en="Share of the account's reviews before the as-of that were negative (1-2 stars).",
        description_zh="评估时点前本账号评价中差评所占比例。",
        template_en="{value:.0%} of its reviews were negative (99th percentile: {p99:.0%})",
        template_zh="{value:.0%} 的评价是差评（99% 分位：{p99:.0%}）",
        direction=1,
        direction_reason="an extortion account reviews to attack",
        tables=("reviews",),
        zero_fill=False,
    ),
    Feature(
        name="negatively_reviewed_merchants",
        risks=EX,
        evidence="reviews",
        group="review_counts",
        unit="merchants",
        description_en="Distinct merchants the account reviewed negatively before the as-of.",
        description_zh="评估时点前被本账号差评的不同商家数。",
        template_en="gave negative reviews to {value:,.0f} different shops (99th percentile: {p99:,.0f})",
        template_zh="给 {value:,.0f} 家不同店铺差评（99% 分位：{p99:,.0f}）",
        direction=1,
        direction_reason="unhappy customers complain about a shop; extortionists work through many unrelated shops",
        tables=("reviews",),
        zero_fill=True,
    ),
    Feature(
        name="hours_delivery_to_negative_review",
        risks=EX,
        evidence="reviews",
        group="review_orders",
        unit="hours",
        description_en="Average hours from delivery of the order to its negative review.",
        description_zh="订单送达到差评的平均小时数。",
        template_en="posted negative reviews on average {value:,.1f} hours after delivery",
        template_zh="平均在送达后 {value:,.1f} 小时发差评",
        direction=-1,
        direction_reason="extortion reviews come right after delivery, before any use of the item",
        tables=("reviews", "orders"),
        zero_fill=False,
    ),
    Feature(
        name="negative_reviewed_merchant_orders",
        risks=EX,
        evidence="reviews",
        group="review_orders",
        unit="orders",
        description_en=(
            "Average number of orders the negatively reviewed merchants had received before the as-of (shop size)."
        ),
        description_zh="被差评商家在评估时点前收到的平均订单数（店铺规模）。",
        template_en="the shops it reviewed negatively had {value:,.0f} orders on average",
        template_zh="被差评店铺平均有 {value:,.0f} 笔订单",
        direction=-1,
        direction_reason="small shops are the usual extortion targets",
        tables=("reviews", "orders"),
        zero_fill=False,
    ),
    Feature(
        name="negative_review_then_message_share",
        risks=EX,
        evidence="messages",
        group="merchant_messages",
        unit="share of negative reviews",
        description_en=(
            "Share of negative reviews followed within 72 hours by a message from the account to the same merchant."
        ),
        description_zh="差评后 72 小时内向同一商家发消息的比例。",
        template_en="{value:.0%} of its negative reviews were followed by a message to the shop within 72 h",
        template_zh="{value:.0%} 的差评在 72 小时内跟随了给店铺的私信",
        direction=1,
        direction_reason="the extortion sequence: review, then contact to bargain",
        tables=("messages", "reviews"),
        zero_fill=False,
    ),
    Feature(
        name="money_demand_messages",
        risks=EX,
        evidence="messages",
        group="merchant_messages",
        unit="messages",
        description_en=(
            "Messages to merchants that demand money or offer to delete or raise a review (documented lexicon, "
            "Chinese and English)."
        ),
        description_zh="向商家索要钱财或提出删除/修改评价的消息数（中英文词表）。",
        template_en="sent {value:,.0f} messages demanding money or offering to remove a review",
        template_zh="发送了 {value:,.0f} 条索要钱财或提出删评的消息",
        direction=1,
        direction_reason="trading a review for money is the act itself",
        tables=("messages",),
        zero_fill=True,
    ),
    Feature(
        name="demanded_amount_max",
        risks=EX,
        evidence="messages",
        group="merchant_messages",
        unit="yuan",
        description_en="Largest amount of money named in a demand message.",
        description_zh="索要消息中提到的最大金额（元）。",
        template_en="asked a shop for up to {value:,.0f} yuan",
        template_zh="向店铺索要最多 {value:,.0f} 元",
        direction=1,
        direction_reason="the court case: 600 to 8,800 yuan per shop",
        tables=("messages",),
        zero_fill=False,
    ),
    Feature(
        name="demand_to_order_ratio_max",
        risks=EX,
        evidence="messages",
        group="merchant_messages",
        unit="ratio",
        description_en="Largest ratio of a demanded amount to the account's order amount at the same merchant.",
        description_zh="索要金额与在该商家订单金额之比的最大值。",
        template_en="asked for {value:,.1f} times what the order cost",
        template_zh="索要金额是订单金额的 {value:,.1f} 倍",
        direction=1,
        direction_reason="an unhappy customer asks for the price back; an extortionist asks for far more",
        tables=("messages", "orders"),
        zero_fill=False,
    ),
    Feature(
        name="transfers_after_negative_review",
        risks=EX,
        evidence="money",
        group="transfers",
        unit="transfers",
        description_en=(
            "Transfers from a merchant within 7 days after the account's negative review of that merchant."
        ),
        description_zh="差评后 7 天内收到该商家转账的次数。",
        template_en="received {value:,.0f} payments from shops within 7 days of reviewing them negatively",
        template_zh="差评后 7 天内收到店铺转账 {value:,.0f} 次",
        direction=1,
        direction_reason="payment after a negative review is the extortion's pay-off",
        tables=("reviews", "transfers"),
        zero_fill=True,
    ),
    Feature(
        name="transfer_to_order_ratio_max",
        risks=EX,
        evidence="money",
        group="transfers",
        unit="ratio",
        description_en="Largest ratio of such a transfer to the amount of the reviewed order.",
        description_zh="此类转账与被评价订单金额之比的最大值。",
        template_en="was paid {value:,.1f} times the order's price after a negative review",
        template_zh="差评后收到订单金额 {value:,.1f} 倍的转账",
        direction=1,
        direction_reason="refunds stay within the price; hush money does not",
        tables=("reviews", "transfers", "orders"),
        zero_fill=False,
    ),
    Feature(
        name="negative_review_removed_after_payment_share",
        risks=EX,
        evidence="review_fix",
        group="transfers",
        unit="share of negative reviews",
        description_en=(
            "Share of negative reviews deleted or raised to 3+ stars within 7 days after a transfer from that merchant."
        ),
        description_zh="商家转账后 7 天内被删除或改为 3 星以上的差评比例。",
        template_en="{value:.0%} of its negative reviews disappeared or turned positive within 7 days of a payment",
        template_zh="{value:.0%} 的差评在收款后 7 天内被删除或改好",
        direction=1,
        direction_reason="the review traded for money is the last step of the sequence",
        tables=("reviews", "transfers"),
        zero_fill=False,
    ),
    Feature(
        name="extortion_reports",
        risks=EX,
        evidence="reports",
        group="merchant_reports",
        unit="reports",
        description_en="Merchant reports with reason 'extortion' filed against the account before the as-of.",
        description_zh="评估时点前商家以“敲诈”理由投诉本账号的次数。",
        template_en="was reported for extortion by {value:,.0f} merchants",
        template_zh="被商家以敲诈理由投诉 {value:,.0f} 次",
        direction=1,
        direction_reason="a direct complaint by the victim is direct evidence",
        tables=("reports",),
        zero_fill=True,
    ),
    Feature(
        name="other_reports",
        risks=EX,
        evidence="reports",
        group="merchant_reports",
        unit="reports",
        description_en="Merchant reports with any other reason filed against the account before the as-of.",
        description_zh="评估时点前商家以其他理由投诉本账号的次数。",
        template_en="was reported {value:,.0f} times for other reasons",
        template_zh="因其他理由被投诉 {value:,.0f} 次",
        direction=0,
        direction_reason="merchants also report genuine critics",
        tables=("reports",),
        zero_fill=True,
    ),
    Feature(
        name="crew_accounts_sharing_device_or_address",
        risks=EX,
        evidence="coordination",
        group="crew",
        unit="accounts",
        description_en=(
            "Other accounts sharing a device or address with this account that reviewed negatively, or messaged, a "
            "shop this account reviewed negatively."
        ),
        description_zh="与本账号共用设备或地址、并对本账号差评过的店铺也差评或发过消息的其他账号数。",
        template_en=(
            "shares a device or address with {value:,.0f} other accounts that reviewed or messaged the shops it "
            "attacked"
        ),
        template_zh="与 {value:,.0f} 个共用设备或地址的账号也差评或联系过它差评的店铺",
        direction=1,
        direction_reason="crews share devices and addresses; unrelated unhappy customers do not",
        tables=("reviews",),
        zero_fill=True,
    ),
)
