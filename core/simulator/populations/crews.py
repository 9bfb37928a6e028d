"""Extortion crews: the division of labour of the Taobao case (domain.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewguard.simulator import overlaps, texts
from reviewguard.simulator.population import Pop
from reviewguard.simulator.timing import DAY, HOUR, MIN

if TYPE_CHECKING:
    from reviewguard.simulator.generate import Chunk


def form(ch: Chunk) -> None:
    """Crews of 1-4 that share devices or addresses (or, realistic, nothing)."""
    rng = ch.rng
    members = list(np.flatnonzero(ch.pop == Pop.EXTORTION_CREW))
    while members:
        size = min(len(members), int(rng.choice([1, 2, 3, 4], p=[0.3, 0.3, 0.25, 0.15])))
        crew = np.array(members[:size])
        members = members[size:]
        ch.group[crew] = ch.next_ids("group", 1)[0]
        if size > 1 and rng.random() < 0.7:
            ch.devices[crew[1:]] = ch.devices[crew[0]]
        if size > 1 and rng.random() < 0.5:
            ch.addresses[crew] = ch.addresses[crew[0]]
        ch.crews.append(crew)
    overlaps.crews_sharing_nothing(ch)


def behave(ch: Chunk) -> None:
    """Crews of 1-4 with the division of labour of the Taobao case."""
    rng, w = ch.rng, ch.w
    for crew in ch.crews:
        size = crew.size
        onset = int(rng.integers(0, max(1, ch.days - 30)))
        last = w.start_ms + onset * DAY
        first_demand = w.end_ms
        reported_any = False
        for k in range(int(rng.integers(2, 9))):
            day = min(ch.days - 6, onset + int(rng.integers(0, 30)) + k * 2)
            target = int(rng.choice(w.small_merchants))
            if ch.xrng.random() < ch.cfg.realism.crew_any_shop_share:
                target = int(ch.xrng.choice(w.n_merchants, p=w.merchant_weight))
            buyer = int(rng.choice(crew))
            # The scout does the talking when the crew has one.
            talker = int(crew[0]) if size > 1 and rng.random() < 0.6 else buyer
            ordered = w.start_ms + day * DAY + int(w.human_time_of_day(rng, 1)[0])
            delivered = ordered + int(rng.integers(DAY // 2, 3 * DAY))
            oid = ch.order(buyer, target, round(float(rng.uniform(8, 60)), 2), ordered, delivered, -1)
            review_at = delivered + int(rng.integers(HOUR, 36 * HOUR))
            if ch.xrng.random() < ch.cfg.realism.crew_patient_share:
                review_at = delivered + int(ch.xrng.integers(HOUR, 6 * DAY))  # waits like a real buyer
            drift = 1.0 + 0.5 * day / ch.days
            demand = int(np.clip(round(rng.lognormal(np.log(1800 * drift), 0.6), -2), 600, 8800))
            demand_at = review_at + int(rng.integers(2 * HOUR, 48 * HOUR))
            first_demand = min(first_demand, demand_at)
            amount_text = f"{demand:,d}" if rng.random() < 0.2 else str(demand)
            ch.message(
                talker,
                target,
                "account",
                [ch.demand_text(amount_text, demand)],
                demand_at,
            )
            reply_at = demand_at + int(rng.integers(10 * MIN, 12 * HOUR))
            ch.message(talker, target, "merchant", [ch.one(texts.MERCHANT_REPLIES_TO_EXTORTION)], reply_at)
            paid = rng.random() < 0.55
            edited, edited_rating, deleted = -1, -1, -1
            if paid:
                paid_at = reply_at + int(rng.integers(HOUR, 4 * DAY))
                kind = str(rng.choice(["compensation", "other", "refund"], p=[0.6, 0.25, 0.15]))
                payee = talker if rng.random() < 0.5 else buyer
                ch.transfer(target, payee, round(demand * float(rng.uniform(0.5, 1.0)), -1), kind, paid_at)
                fix_at = paid_at + int(rng.integers(HOUR, 48 * HOUR))
                if rng.random() < 0.6:
                    deleted = fix_at
                else:
                    edited, edited_rating = fix_at, 5
                ch.message(talker, target, "account", [ch.one(texts.EXTORTION_FOLLOW_UPS[:3])], fix_at - 30 * MIN)
                last = max(last, fix_at)
            else:
                ch.message(
                    talker,
                    target,
                    "account",
                    [ch.one(texts.EXTORTION_FOLLOW_UPS[3:])],
                    reply_at + int(rng.integers(HOUR, DAY)),
                )
                last = max(last, reply_at)
            rid = ch.review(
                buyer,
                target,
                oid,
                int(rng.choice([1, 2], p=[0.85, 0.15])),
                review_at,
                edited,
                edited_rating,
                deleted,
            )
            if rng.random() < (0.15 if paid else 0.3):
                reported_any = True
                ch.report(target, talker, int(rid[0]), "extortion", reply_at + int(rng.integers(HOUR, 3 * DAY)))
            if not paid and size > 1 and rng.random() < 0.4:
                # The threat carried out: another member reviews the same shop.
                other = int(rng.choice(crew[crew != buyer]))
                t2 = reply_at + int(rng.integers(DAY, 3 * DAY))
                o2 = ch.order(other, target, round(float(rng.uniform(8, 60)), 2), t2, t2 + DAY, -1)
                ch.review(other, target, o2, 1, t2 + DAY + int(rng.integers(HOUR, DAY)))
        ch.signals.crews.append((crew, first_demand, last))
        for a in crew:
            ch.label_abuser(int(a), "extortion", last, confirmed=reported_any)
