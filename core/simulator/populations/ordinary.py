"""Ordinary accounts: purchases, reviews, pre-sale questions, a few likes a day (everyone's camouflage)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewguard.simulator import language, overlaps, texts
from reviewguard.simulator.population import Pop
from reviewguard.simulator.timing import DAY, HOUR, MIN

if TYPE_CHECKING:
    from reviewguard.simulator.generate import Chunk


def orders(ch: Chunk) -> None:
    """Purchases, reviews and a few questions for every account (camouflage included)."""
    rng, w = ch.rng, ch.w
    rate = ch.cfg.orders_per_account_90d * ch.days / 90 * rng.lognormal(0, 0.8, ch.n)
    buyer = np.repeat(np.arange(ch.n), rng.poisson(rate))
    m = buyer.size
    merchant = rng.choice(w.n_merchants, size=m, p=w.merchant_weight)
    amount = np.round(w.merchant_price[merchant] * rng.lognormal(0, 0.4, m), 2)
    ordered = w.start_ms + rng.integers(0, ch.days, m) * DAY + w.human_time_of_day(rng, m)
    delivered = ordered + rng.integers(DAY // 2, 5 * DAY, m)
    delivered[rng.random(m) < 0.04] = -1
    refunded = np.where((rng.random(m) < 0.03) & (delivered > 0), delivered + rng.integers(DAY, 6 * DAY, m), -1)
    oid = ch.order(buyer, merchant, amount, ordered, delivered, refunded)

    r = np.flatnonzero((rng.random(m) < ch.cfg.review_rate) & (delivered > 0))
    rating = rng.choice([1, 2, 3, 4, 5], size=r.size, p=[0.03, 0.03, 0.1, 0.3, 0.54])
    reviewed_at = delivered[r] + rng.integers(HOUR, 10 * DAY, r.size)
    rid = ch.review(
        buyer[r],
        merchant[r],
        oid[r],
        rating,
        reviewed_at,
        edited=np.full(r.size, -1),
        edited_rating=np.full(r.size, -1),
        deleted=np.full(r.size, -1),
    )
    overlaps.honest_reports(ch, buyer[r], merchant[r], rid, rating, reviewed_at)

    a = np.flatnonzero(rng.random(ch.n) < 0.1)
    q_merchant = rng.choice(w.n_merchants, size=a.size, p=w.merchant_weight)
    q_time = w.start_ms + rng.integers(0, ch.days, a.size) * DAY + w.human_time_of_day(rng, a.size)
    questions = ch.pick(texts.QUESTIONS, a.size)
    if ch.cfg.realism.varied_language:
        # Legitimate messages that share words with demands (refunds, red packets, reviews).
        x = ch.xrng
        money = np.flatnonzero(x.random(a.size) < 0.3)
        for i in map(int, money):
            price = int(np.clip(round(float(w.merchant_price[q_merchant[i]]) * x.uniform(0.5, 3), -1), 10, 3000))
            questions[i] = language.legitimate(x, price)
    ch.message(a, q_merchant, "account", questions, q_time)
    ch.message(
        a,
        q_merchant,
        "merchant",
        ch.pick(texts.MERCHANT_ANSWERS, a.size),
        q_time + rng.integers(MIN, 6 * HOUR, a.size),
    )


def likes(ch: Chunk) -> dict[str, np.ndarray]:
    rng, w = ch.rng, ch.w
    likers = np.flatnonzero(
        np.isin(ch.pop, [Pop.ORDINARY, Pop.UNHAPPY_CUSTOMER, Pop.EXTORTION_CREW])
        & (rng.random(ch.n) < ch.cfg.ordinary_liker_share)
    )
    p_active = rng.beta(1, 4, likers.size)
    li, day = np.nonzero(rng.random((likers.size, ch.days)) < p_active[:, None])
    per_day = 1 + rng.poisson(rng.lognormal(np.log(3), 0.8, li.size))
    acct = np.repeat(likers[li], per_day)
    t = w.start_ms + np.repeat(day, per_day) * DAY + w.human_time_of_day(rng, acct.size)
    dwell = np.where(rng.random(acct.size) < 0.85, rng.lognormal(np.log(8000), 0.9, acct.size), -1)
    return {
        "acct": acct,
        "content": w.popular_content(rng, acct.size),
        "t": t.astype(np.int64),
        "dwell": dwell.astype(np.int64),
    }
