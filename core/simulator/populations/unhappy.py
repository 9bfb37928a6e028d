"""Unhappy customers: real problems, negative reviews, complaints and refunds (the hard negative for extortion)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewguard.simulator import language, overlaps, texts
from reviewguard.simulator.population import Pop
from reviewguard.simulator.timing import DAY, HOUR, MIN

if TYPE_CHECKING:
    from reviewguard.simulator.generate import Chunk


def behave(ch: Chunk) -> None:
    """Real problems: negative review, complaint, refund, sometimes an upward edit."""
    rng, w = ch.rng, ch.w
    real = ch.cfg.realism
    for a in map(int, np.flatnonzero(ch.pop == Pop.UNHAPPY_CUSTOMER)):
        last_review = w.start_ms
        for _ in range(int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))):
            merchant = int(rng.choice(w.n_merchants, p=w.merchant_weight))
            if ch.xrng.random() < real.unhappy_small_shop_share:
                merchant = int(ch.xrng.choice(w.small_merchants))  # small shops make more mistakes
            amount = round(float(w.merchant_price[merchant] * rng.lognormal(0, 0.4)), 2)
            ordered = w.start_ms + int(rng.integers(0, ch.days - 7)) * DAY + int(w.human_time_of_day(rng, 1)[0])
            delivered = ordered + int(rng.integers(DAY // 2, 6 * DAY))
            refunded = delivered + int(rng.integers(DAY, 5 * DAY)) if rng.random() < 0.6 else -1
            oid = ch.order(a, merchant, amount, ordered, delivered, refunded)
            review_at = delivered + int(rng.integers(2 * HOUR, 5 * DAY))
            if ch.xrng.random() < real.unhappy_quick_share:
                review_at = delivered + int(ch.xrng.integers(20 * MIN, 12 * HOUR))  # angry at once
            complaint_at = review_at + int(rng.integers(-DAY, 2 * DAY))
            complaint = ch.one(texts.COMPLAINTS).format(amount=int(rng.choice([6, 8, 10, 12, 15, 20])))
            if real.varied_language and ch.xrng.random() < 0.3:
                complaint = language.legitimate(ch.xrng, int(max(10, round(amount, -1))))
            ch.message(a, merchant, "account", [complaint], complaint_at)
            ch.message(
                a,
                merchant,
                "merchant",
                [ch.one(texts.MERCHANT_REPLIES_TO_COMPLAINT)],
                complaint_at + int(rng.integers(10 * MIN, DAY)),
            )
            claim_paid, claim_reported = overlaps.big_claim(ch, a, merchant, amount, complaint_at)
            overlaps.fault_compensation(ch, a, merchant, amount, complaint_at)
            last_review = max(last_review, review_at)
            edited, edited_rating, deleted = -1, -1, -1
            if refunded > 0:
                ch.transfer(merchant, a, amount, "refund", refunded)
                if rng.random() < 0.15:
                    ch.transfer(
                        merchant,
                        a,
                        float(rng.choice([5, 10, 15, 20, 30])),
                        "compensation",
                        refunded + int(rng.integers(MIN, HOUR)),
                    )
                if rng.random() < 0.35:
                    edited = refunded + int(rng.integers(HOUR, 4 * DAY))
                    edited_rating = int(rng.choice([3, 4, 5]))
                    ch.message(
                        a,
                        merchant,
                        "account",
                        [ch.one(texts.COMPLAINT_CLOSINGS)],
                        edited - int(rng.integers(MIN, HOUR)),
                    )
                elif rng.random() < 0.05:
                    deleted = refunded + int(rng.integers(HOUR, 4 * DAY))
            if claim_paid > 0 and edited < 0 and deleted < 0 and ch.xrng.random() < 0.4:
                edited, edited_rating = claim_paid + int(ch.xrng.integers(HOUR, DAY)), 4
            rid = ch.review(
                a, merchant, oid, int(rng.choice([1, 2], p=[0.55, 0.45])), review_at, edited, edited_rating, deleted
            )
            if rng.random() < 0.04:
                reason = str(rng.choice(["abuse", "fake_review", "extortion"], p=[0.5, 0.3, 0.2]))
                ch.report(merchant, int(a), int(rid[0]), reason, review_at + int(rng.integers(HOUR, 3 * DAY)))
            if claim_reported > 0:
                ch.report(merchant, a, int(rid[0]), "extortion", claim_reported)
        decided = w.end_ms - int(rng.integers(0, 20)) * DAY
        if real.spread_decisions:
            decided = min(w.end_ms, last_review + int(ch.xrng.integers(1, 15)) * DAY)
        ch.label_hard_negative(int(a), "extortion", decided)
