"""A platform of accounts, merchants and content, with ordinary and abusive populations.

Generation is chunked: accounts are produced ``chunk_accounts`` at a time,
each chunk from its own seed derived from the run seed, and written before
the next starts, so memory stays bounded at any size and a seed always gives
byte-identical files. Crews and bot groups form inside a chunk; merchants and
content are global.

Times are integer milliseconds since the epoch (UTC) until written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from reviewguard.simulator import language, overlaps, texts
from reviewguard.simulator.config import SimConfig
from reviewguard.simulator.labelling import Platform, Signals, complaint_labels, enforcement_history
from reviewguard.simulator.population import ABUSIVE, FAST_HUMANS, POPULATIONS, Pop
from reviewguard.simulator.tables import Tables
from reviewguard.simulator.timing import DAY, HOUR, HUMAN_HOUR_UTC, MIN, session_times


@dataclass
class World:
    """What every chunk shares: merchants, content, the period."""

    cfg: SimConfig
    start_ms: int
    n_merchants: int
    merchant_weight: np.ndarray
    merchant_price: np.ndarray
    small_merchants: np.ndarray
    n_content: int
    content_author: np.ndarray
    content_cdf: np.ndarray

    @classmethod
    def build(cls, cfg: SimConfig) -> World:
        rng = np.random.default_rng([cfg.seed, 0])
        n_merchants = max(30, cfg.accounts // cfg.accounts_per_merchant)
        size = rng.lognormal(0.0, cfg.merchant_size_sigma, n_merchants)
        weight = size / size.sum()
        price = np.clip(rng.lognormal(np.log(70), 0.7, n_merchants), 8, 3000)
        small = np.flatnonzero(size <= np.quantile(size, 0.4))
        n_content = max(5000, cfg.accounts * cfg.content_per_account)
        # A tenth of accounts write content; the same writers write several items.
        writers = rng.choice(cfg.accounts, size=max(50, cfg.accounts // 10), replace=False)
        author = rng.choice(writers, size=n_content)
        pop = 1.0 / np.arange(1, n_content + 1) ** cfg.content_zipf
        rng.shuffle(pop)
        return cls(
            cfg,
            int(cfg.start.timestamp() * 1000),
            n_merchants,
            weight,
            price,
            small,
            n_content,
            author,
            np.cumsum(pop) / pop.sum(),
        )

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.cfg.days * DAY

    def popular_content(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.content_cdf, rng.random(n)), self.n_content - 1)

    def any_content(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform over all items: what a script scrolling the newest feed hits."""
        return rng.integers(0, self.n_content, n)

    def human_time_of_day(self, rng: np.random.Generator, n: int) -> np.ndarray:
        hours = rng.choice(24, size=n, p=HUMAN_HOUR_UTC)
        return hours * HOUR + rng.integers(0, HOUR, n)


def _fill(value: Any, n: int) -> np.ndarray:
    """A scalar for every row, or the given per-row values."""
    return np.asarray(value, dtype=np.int64) if np.ndim(value) else np.full(n, value, dtype=np.int64)


# --------------------------------------------------------------------- chunk


class Chunk:
    """Generates one chunk of accounts and everything they do.

    Account positions inside the chunk (0..n-1) are used throughout; they
    become global ids only when columns are added.
    """

    def __init__(self, world: World, chunk_index: int, first: int, n: int, counters: dict[str, int]):
        self.w = world
        self.cfg = world.cfg
        self.days = world.cfg.days
        self.rng = np.random.default_rng([self.cfg.seed, 1, chunk_index])
        # Labels of the complaints regime and the enforcement history draw from their
        # own stream, so the events are the same whatever the regime.
        self.decision_rng = np.random.default_rng([self.cfg.seed, 2, chunk_index])
        self.signals = Signals()
        # The overlaps of the realistic and hard platforms draw from a third stream.
        self.xrng = np.random.default_rng([self.cfg.seed, 3, chunk_index])
        self.n = n
        self.idx = np.arange(first, first + n, dtype=np.int64)
        self.counters = counters
        self.out = Tables()
        self.devices = self.idx * 2  # one device each until groups share
        self.addresses = self.idx.copy()
        self.group = np.full(n, -1, dtype=np.int64)
        self.pop = np.zeros(n, dtype=np.int8)
        self.created = np.zeros(n, dtype=np.int64)
        self.crews: list[np.ndarray] = []
        self.bot_groups: list[tuple[np.ndarray, bool, int]] = []
        self.disguised: set[int] = set()  # bot groups (by first member) that copy humans in every respect
        self.labels: list[tuple[int, str, int, int, str]] = []
        self.enforcement: list[tuple[int, str, str, int, int, str]] = []

    def next_ids(self, kind: str, k: int) -> np.ndarray:
        start = self.counters.get(kind, 0)
        self.counters[kind] = start + k
        return np.arange(start, start + k, dtype=np.int64)

    def _pick(self, choices: tuple[str, ...], n: int) -> list[str]:
        return [choices[i] for i in self.rng.integers(0, len(choices), n)]

    def _one(self, choices: tuple[str, ...]) -> str:
        return choices[int(self.rng.integers(0, len(choices)))]

    def _demand_text(self, amount_text: str, amount: int) -> str:
        """A demand: one of the fixed templates, or (varied language, most of the time) one from the grammar."""
        fixed = self._one(texts.EXTORTION_DEMANDS).format(amount=amount_text)
        if self.cfg.realism.varied_language and self.xrng.random() >= language.BLUNT_SHARE:
            return language.demand(self.xrng, amount)
        return fixed

    # ---------------------------------------------------------- populations

    def assign_populations(self) -> None:
        s, rng = self.cfg.shares, self.rng
        probs = np.array(
            [
                1 - s.unhappy_customer - s.extortion_crew - s.power_liker - s.automated_liker,
                s.unhappy_customer,
                s.extortion_crew,
                s.power_liker,
                s.automated_liker,
            ]
        )
        self.pop = rng.choice(5, size=self.n, p=probs).astype(np.int8)

    def form_groups(self) -> None:
        """Crews share devices or addresses; bot groups share a device farm."""
        rng = self.rng
        members = list(np.flatnonzero(self.pop == Pop.EXTORTION_CREW))
        while members:
            size = min(len(members), int(rng.choice([1, 2, 3, 4], p=[0.3, 0.3, 0.25, 0.15])))
            crew = np.array(members[:size])
            members = members[size:]
            self.group[crew] = self.next_ids("group", 1)[0]
            if size > 1 and rng.random() < 0.7:
                self.devices[crew[1:]] = self.devices[crew[0]]
            if size > 1 and rng.random() < 0.5:
                self.addresses[crew] = self.addresses[crew[0]]
            self.crews.append(crew)
        overlaps.crews_sharing_nothing(self)
        bots = np.flatnonzero(self.pop == Pop.AUTOMATED_LIKER)
        # Solo operators: one account each, no lockstep group (realistic and hard only).
        solo = bots[self.xrng.random(bots.size) < self.cfg.realism.solo_bot_share]
        for b in solo:
            self._bot_group(np.array([b]))
        rest = list(np.setdiff1d(bots, solo))
        while rest:
            size = min(len(rest), int(rng.integers(2, 13)))
            group = np.array(rest[:size])
            rest = rest[size:]
            self._bot_group(group)

    def _bot_group(self, group: np.ndarray) -> None:
        """A bot group on its device farm, from an onset day; evasive or not."""
        rng, cfg, size = self.rng, self.cfg, group.size
        self.group[group] = self.next_ids("group", 1)[0]
        farm = self.devices[group[: max(1, size // 4)]]
        self.devices[group] = rng.choice(farm, size=size)
        disguised = bool(self.xrng.random() < cfg.realism.disguised_farm_share)
        if disguised:
            self.disguised.add(int(group[0]))
        overlaps.farm_devices(self, group, disguised)
        onset = int(rng.integers(0, max(1, self.days - 10)))
        frac = onset / max(1, self.days)
        evasive = bool(
            rng.random() < cfg.evasive_share_start + (cfg.evasive_share_end - cfg.evasive_share_start) * frac
        )
        evasive = evasive or disguised or bool(self.xrng.random() < cfg.realism.evasive_share_extra)
        if evasive:
            self.pop[group] = Pop.AUTOMATED_LIKER_EVASIVE
        self.bot_groups.append((group, evasive, onset))

    def accounts(self) -> None:
        rng, n = self.rng, self.n
        age_days = rng.gamma(1.5, 300, n) + 1
        abusive = np.isin(self.pop, [Pop.EXTORTION_CREW, *ABUSIVE["fake_engagement"]])
        # Abusive accounts are mostly young, but some are bought old accounts.
        young = abusive & (rng.random(n) < 0.8)
        age_days[young] = rng.uniform(3, 150, int(young.sum()))
        self.created = self.w.start_ms - (age_days * DAY).astype(np.int64) + rng.integers(0, HOUR, n)
        level = np.clip(np.round(np.log1p(age_days / 60) * 1.6 + rng.normal(0, 1, n)), 0, 8).astype(np.int64)
        power = np.isin(self.pop, FAST_HUMANS)
        level[power] = rng.choice([5, 6, 7, 8], size=int(power.sum()), p=[0.2, 0.3, 0.3, 0.2])
        bought_high = np.isin(self.pop, [Pop.AUTOMATED_LIKER, Pop.AUTOMATED_LIKER_EVASIVE]) & (rng.random(n) < 0.1)
        level[bought_high] = rng.choice([6, 7, 8], size=int(bought_high.sum()))
        overlaps.levels(self, level)
        overlaps.old_high_level(self, self.created, level)
        level[rng.random(n) < 0.01] = -1
        verified = (rng.random(n) < np.where(abusive, 0.45, 0.92)).astype(np.int8)
        verified[rng.random(n) < 0.02] = -1
        self.out.add("accounts", account_id=self.idx, created_at=self.created, level=level, phone_verified=verified)

    # -------------------------------------------------------------- writers

    def order(
        self,
        acct: ArrayLike,
        merchant: ArrayLike,
        amount: ArrayLike,
        ordered: ArrayLike,
        delivered: ArrayLike,
        refunded: ArrayLike,
    ) -> np.ndarray:
        acct = np.atleast_1d(np.asarray(acct))
        n = acct.size
        oid = self.next_ids("order", n)
        merchant = np.atleast_1d(np.asarray(merchant))
        item = np.where(self.rng.random(n) < 0.02, -1, merchant * 100 + self.rng.integers(0, 40, n))
        self.out.add(
            "orders",
            order_id=oid,
            account_id=self.idx[acct],
            merchant_id=merchant,
            item_id=item,
            amount=amount,
            ordered_at=ordered,
            delivered_at=delivered,
            refunded_at=refunded,
            device_id=self.devices[acct],
            address_id=self.addresses[acct],
        )
        return oid

    def review(
        self,
        acct: ArrayLike,
        merchant: ArrayLike,
        order_id: ArrayLike,
        rating: ArrayLike,
        created: ArrayLike,
        edited: Any = -1,
        edited_rating: Any = -1,
        deleted: Any = -1,
    ) -> np.ndarray:
        acct = np.atleast_1d(acct)
        n = acct.size
        rating = np.atleast_1d(np.asarray(rating, dtype=np.int64))
        neg, neu, pos = (
            self._pick(t, n) for t in (texts.NEGATIVE_REVIEWS, texts.NEUTRAL_REVIEWS, texts.POSITIVE_REVIEWS)
        )
        text = [neg[i] if r <= 2 else neu[i] if r == 3 else pos[i] for i, r in enumerate(rating)]
        rid = self.next_ids("review", n)
        negative = rating <= 2
        if negative.any():
            self.signals.neg_acct.append(acct[negative])
            self.signals.neg_time.append(_fill(created, n)[negative])
        self.out.add(
            "reviews",
            review_id=rid,
            account_id=self.idx[acct],
            merchant_id=merchant,
            order_id=order_id,
            rating=rating,
            text=np.asarray(text, dtype=object),
            created_at=created,
            edited_at=_fill(edited, n),
            edited_rating=_fill(edited_rating, n),
            deleted_at=_fill(deleted, n),
            device_id=self.devices[acct],
        )
        return rid

    def message(self, acct: Any, merchant: Any, sender: str, text: list[str], sent: Any) -> None:
        acct = np.atleast_1d(acct)
        n = acct.size
        self.out.add(
            "messages",
            message_id=self.next_ids("message", n),
            account_id=self.idx[acct],
            merchant_id=merchant,
            sender=np.asarray([sender] * n, dtype=object),
            text=np.asarray(text, dtype=object),
            sent_at=sent,
        )

    def transfer(self, merchant: int, acct: int, amount: float, kind: str, paid: int) -> None:
        self.out.add(
            "transfers",
            transfer_id=self.next_ids("transfer", 1),
            merchant_id=merchant,
            account_id=self.idx[acct],
            amount=float(amount),
            kind=np.asarray([kind], dtype=object),
            paid_at=paid,
        )

    def report(self, merchant: int, acct: int, review_id: int, reason: str, when: int) -> None:
        self.signals.reports.append((int(acct), int(when), reason))
        self.out.add(
            "reports",
            report_id=self.next_ids("report", 1),
            merchant_id=merchant,
            account_id=self.idx[acct],
            review_id=review_id,
            reason=np.asarray([reason], dtype=object),
            reported_at=when,
        )

    # ---------------------------------------------------------------- orders

    def ordinary_orders(self) -> None:
        """Purchases, reviews and a few questions for every account (camouflage included)."""
        rng, w = self.rng, self.w
        rate = self.cfg.orders_per_account_90d * self.days / 90 * rng.lognormal(0, 0.8, self.n)
        buyer = np.repeat(np.arange(self.n), rng.poisson(rate))
        m = buyer.size
        merchant = rng.choice(w.n_merchants, size=m, p=w.merchant_weight)
        amount = np.round(w.merchant_price[merchant] * rng.lognormal(0, 0.4, m), 2)
        ordered = w.start_ms + rng.integers(0, self.days, m) * DAY + w.human_time_of_day(rng, m)
        delivered = ordered + rng.integers(DAY // 2, 5 * DAY, m)
        delivered[rng.random(m) < 0.04] = -1
        refunded = np.where((rng.random(m) < 0.03) & (delivered > 0), delivered + rng.integers(DAY, 6 * DAY, m), -1)
        oid = self.order(buyer, merchant, amount, ordered, delivered, refunded)

        r = np.flatnonzero((rng.random(m) < self.cfg.review_rate) & (delivered > 0))
        rating = rng.choice([1, 2, 3, 4, 5], size=r.size, p=[0.03, 0.03, 0.1, 0.3, 0.54])
        reviewed_at = delivered[r] + rng.integers(HOUR, 10 * DAY, r.size)
        rid = self.review(
            buyer[r],
            merchant[r],
            oid[r],
            rating,
            reviewed_at,
            edited=np.full(r.size, -1),
            edited_rating=np.full(r.size, -1),
            deleted=np.full(r.size, -1),
        )
        overlaps.honest_reports(self, buyer[r], merchant[r], rid, rating, reviewed_at)

        a = np.flatnonzero(rng.random(self.n) < 0.1)
        q_merchant = rng.choice(w.n_merchants, size=a.size, p=w.merchant_weight)
        q_time = w.start_ms + rng.integers(0, self.days, a.size) * DAY + w.human_time_of_day(rng, a.size)
        questions = self._pick(texts.QUESTIONS, a.size)
        if self.cfg.realism.varied_language:
            # Legitimate messages that share words with demands (refunds, red packets, reviews).
            x = self.xrng
            money = np.flatnonzero(x.random(a.size) < 0.3)
            for i in map(int, money):
                price = int(np.clip(round(float(w.merchant_price[q_merchant[i]]) * x.uniform(0.5, 3), -1), 10, 3000))
                questions[i] = language.legitimate(x, price)
        self.message(a, q_merchant, "account", questions, q_time)
        self.message(
            a,
            q_merchant,
            "merchant",
            self._pick(texts.MERCHANT_ANSWERS, a.size),
            q_time + rng.integers(MIN, 6 * HOUR, a.size),
        )

    # ------------------------------------------------------ unhappy customers

    def unhappy_customers(self) -> None:
        """Real problems: negative review, complaint, refund, sometimes an upward edit."""
        rng, w = self.rng, self.w
        real = self.cfg.realism
        for a in map(int, np.flatnonzero(self.pop == Pop.UNHAPPY_CUSTOMER)):
            last_review = w.start_ms
            for _ in range(int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))):
                merchant = int(rng.choice(w.n_merchants, p=w.merchant_weight))
                if self.xrng.random() < real.unhappy_small_shop_share:
                    merchant = int(self.xrng.choice(w.small_merchants))  # small shops make more mistakes
                amount = round(float(w.merchant_price[merchant] * rng.lognormal(0, 0.4)), 2)
                ordered = w.start_ms + int(rng.integers(0, self.days - 7)) * DAY + int(w.human_time_of_day(rng, 1)[0])
                delivered = ordered + int(rng.integers(DAY // 2, 6 * DAY))
                refunded = delivered + int(rng.integers(DAY, 5 * DAY)) if rng.random() < 0.6 else -1
                oid = self.order(a, merchant, amount, ordered, delivered, refunded)
                review_at = delivered + int(rng.integers(2 * HOUR, 5 * DAY))
                if self.xrng.random() < real.unhappy_quick_share:
                    review_at = delivered + int(self.xrng.integers(20 * MIN, 12 * HOUR))  # angry at once
                complaint_at = review_at + int(rng.integers(-DAY, 2 * DAY))
                complaint = self._one(texts.COMPLAINTS).format(amount=int(rng.choice([6, 8, 10, 12, 15, 20])))
                if real.varied_language and self.xrng.random() < 0.3:
                    complaint = language.legitimate(self.xrng, int(max(10, round(amount, -1))))
                self.message(a, merchant, "account", [complaint], complaint_at)
                self.message(
                    a,
                    merchant,
                    "merchant",
                    [self._one(texts.MERCHANT_REPLIES_TO_COMPLAINT)],
                    complaint_at + int(rng.integers(10 * MIN, DAY)),
                )
                claim_paid, claim_reported = overlaps.big_claim(self, a, merchant, amount, complaint_at)
                overlaps.fault_compensation(self, a, merchant, amount, complaint_at)
                last_review = max(last_review, review_at)
                edited, edited_rating, deleted = -1, -1, -1
                if refunded > 0:
                    self.transfer(merchant, a, amount, "refund", refunded)
                    if rng.random() < 0.15:
                        self.transfer(
                            merchant,
                            a,
                            float(rng.choice([5, 10, 15, 20, 30])),
                            "compensation",
                            refunded + int(rng.integers(MIN, HOUR)),
                        )
                    if rng.random() < 0.35:
                        edited = refunded + int(rng.integers(HOUR, 4 * DAY))
                        edited_rating = int(rng.choice([3, 4, 5]))
                        self.message(
                            a,
                            merchant,
                            "account",
                            [self._one(texts.COMPLAINT_CLOSINGS)],
                            edited - int(rng.integers(MIN, HOUR)),
                        )
                    elif rng.random() < 0.05:
                        deleted = refunded + int(rng.integers(HOUR, 4 * DAY))
                if claim_paid > 0 and edited < 0 and deleted < 0 and self.xrng.random() < 0.4:
                    edited, edited_rating = claim_paid + int(self.xrng.integers(HOUR, DAY)), 4
                rid = self.review(
                    a, merchant, oid, int(rng.choice([1, 2], p=[0.55, 0.45])), review_at, edited, edited_rating, deleted
                )
                if rng.random() < 0.04:
                    reason = str(rng.choice(["abuse", "fake_review", "extortion"], p=[0.5, 0.3, 0.2]))
                    self.report(merchant, int(a), int(rid[0]), reason, review_at + int(rng.integers(HOUR, 3 * DAY)))
                if claim_reported > 0:
                    self.report(merchant, a, int(rid[0]), "extortion", claim_reported)
            decided = w.end_ms - int(rng.integers(0, 20)) * DAY
            if real.spread_decisions:
                decided = min(w.end_ms, last_review + int(self.xrng.integers(1, 15)) * DAY)
            self.label_hard_negative(int(a), "extortion", decided)

    # --------------------------------------------------------- extortion

    def extortion_crews(self) -> None:
        """Crews of 1-4 with the division of labour of the Taobao case."""
        rng, w = self.rng, self.w
        for crew in self.crews:
            size = crew.size
            onset = int(rng.integers(0, max(1, self.days - 30)))
            last = w.start_ms + onset * DAY
            first_demand = w.end_ms
            reported_any = False
            for k in range(int(rng.integers(2, 9))):
                day = min(self.days - 6, onset + int(rng.integers(0, 30)) + k * 2)
                target = int(rng.choice(w.small_merchants))
                if self.xrng.random() < self.cfg.realism.crew_any_shop_share:
                    target = int(self.xrng.choice(w.n_merchants, p=w.merchant_weight))
                buyer = int(rng.choice(crew))
                # The scout does the talking when the crew has one.
                talker = int(crew[0]) if size > 1 and rng.random() < 0.6 else buyer
                ordered = w.start_ms + day * DAY + int(w.human_time_of_day(rng, 1)[0])
                delivered = ordered + int(rng.integers(DAY // 2, 3 * DAY))
                oid = self.order(buyer, target, round(float(rng.uniform(8, 60)), 2), ordered, delivered, -1)
                review_at = delivered + int(rng.integers(HOUR, 36 * HOUR))
                if self.xrng.random() < self.cfg.realism.crew_patient_share:
                    review_at = delivered + int(self.xrng.integers(HOUR, 6 * DAY))  # waits like a real buyer
                drift = 1.0 + 0.5 * day / self.days
                demand = int(np.clip(round(rng.lognormal(np.log(1800 * drift), 0.6), -2), 600, 8800))
                demand_at = review_at + int(rng.integers(2 * HOUR, 48 * HOUR))
                first_demand = min(first_demand, demand_at)
                amount_text = f"{demand:,d}" if rng.random() < 0.2 else str(demand)
                self.message(
                    talker,
                    target,
                    "account",
                    [self._demand_text(amount_text, demand)],
                    demand_at,
                )
                reply_at = demand_at + int(rng.integers(10 * MIN, 12 * HOUR))
                self.message(talker, target, "merchant", [self._one(texts.MERCHANT_REPLIES_TO_EXTORTION)], reply_at)
                paid = rng.random() < 0.55
                edited, edited_rating, deleted = -1, -1, -1
                if paid:
                    paid_at = reply_at + int(rng.integers(HOUR, 4 * DAY))
                    kind = str(rng.choice(["compensation", "other", "refund"], p=[0.6, 0.25, 0.15]))
                    payee = talker if rng.random() < 0.5 else buyer
                    self.transfer(target, payee, round(demand * float(rng.uniform(0.5, 1.0)), -1), kind, paid_at)
                    fix_at = paid_at + int(rng.integers(HOUR, 48 * HOUR))
                    if rng.random() < 0.6:
                        deleted = fix_at
                    else:
                        edited, edited_rating = fix_at, 5
                    self.message(
                        talker, target, "account", [self._one(texts.EXTORTION_FOLLOW_UPS[:3])], fix_at - 30 * MIN
                    )
                    last = max(last, fix_at)
                else:
                    self.message(
                        talker,
                        target,
                        "account",
                        [self._one(texts.EXTORTION_FOLLOW_UPS[3:])],
                        reply_at + int(rng.integers(HOUR, DAY)),
                    )
                    last = max(last, reply_at)
                rid = self.review(
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
                    self.report(target, talker, int(rid[0]), "extortion", reply_at + int(rng.integers(HOUR, 3 * DAY)))
                if not paid and size > 1 and rng.random() < 0.4:
                    # The threat carried out: another member reviews the same shop.
                    other = int(rng.choice(crew[crew != buyer]))
                    t2 = reply_at + int(rng.integers(DAY, 3 * DAY))
                    o2 = self.order(other, target, round(float(rng.uniform(8, 60)), 2), t2, t2 + DAY, -1)
                    self.review(other, target, o2, 1, t2 + DAY + int(rng.integers(HOUR, DAY)))
            self.signals.crews.append((crew, first_demand, last))
            for a in crew:
                self.label_abuser(int(a), "extortion", last, confirmed=reported_any)

    # ------------------------------------------------------------- likes

    def likes(self) -> None:
        parts = [self._ordinary_likes(), self._power_likes(), self._bot_likes(), overlaps.heavy_likes(self)]
        cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        # A like is once per item: keep each account's first like of an item.
        order = np.lexsort((cols["t"], cols["content"], cols["acct"]))
        a, c = cols["acct"][order], cols["content"][order]
        first = np.ones(a.size, dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (c[1:] != c[:-1])
        kept = order[first]
        kept = kept[np.lexsort((cols["t"][kept], cols["acct"][kept]))]
        acct = cols["acct"][kept]
        content = cols["content"][kept]
        self.signals.record_likes(
            self.n, self.w.start_ms, self.days, acct, cols["t"][kept], self.cfg.like_alert_per_day
        )
        self.out.add(
            "likes",
            account_id=self.idx[acct],
            content_id=content,
            author_id=self.w.content_author[content % self.w.n_content],
            liked_at=cols["t"][kept],
            dwell_ms=cols["dwell"][kept],
            device_id=self.devices[acct],
        )

    def _ordinary_likes(self) -> dict[str, np.ndarray]:
        rng, w = self.rng, self.w
        likers = np.flatnonzero(
            np.isin(self.pop, [Pop.ORDINARY, Pop.UNHAPPY_CUSTOMER, Pop.EXTORTION_CREW])
            & (rng.random(self.n) < self.cfg.ordinary_liker_share)
        )
        p_active = rng.beta(1, 4, likers.size)
        li, day = np.nonzero(rng.random((likers.size, self.days)) < p_active[:, None])
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

    def _power_likes(self) -> dict[str, np.ndarray]:
        """Enthusiastic humans: big volumes, human gaps, they open content and sleep."""
        rng, w = self.rng, self.w
        people = np.flatnonzero(self.pop == Pop.POWER_LIKER)
        pi, day = np.nonzero(rng.random((people.size, self.days)) < 0.35)
        volume = np.clip(rng.lognormal(np.log(150), 0.8, pi.size), 20, 3000).astype(np.int64)
        # Feed likers (realistic and hard): bigger days, mostly liked from the feed without opening.
        feed = (self.xrng.random(people.size) < self.cfg.realism.power_feed_liker_share)[pi]
        volume = np.where(feed, np.minimum(volume * 4, 6000), volume)
        # Sessions of about 60 likes, each starting at a waking hour.
        n_sessions = np.maximum(1, volume // 60)
        sess_acct = np.repeat(people[pi], n_sessions)
        sess_size = np.repeat(volume // n_sessions, n_sessions)
        sess_start = w.start_ms + np.repeat(day, n_sessions) * DAY + w.human_time_of_day(rng, sess_acct.size)
        # Night owls (realistic and hard): sessions six hours later, into the night.
        owl = (self.xrng.random(people.size) < self.cfg.realism.night_owl_share)[pi]
        sess_start = sess_start + np.repeat(np.where(owl, 6 * HOUR, 0), n_sessions)
        careful = (self.xrng.random(people.size) < self.cfg.realism.careful_power_share)[pi]
        total = int(sess_size.sum())
        p_open = np.where(feed, 0.3, np.where(careful, 0.97, 0.78))
        opened = rng.random(total) < np.repeat(p_open, volume // n_sessions * n_sessions)
        dwell = np.where(opened, rng.lognormal(np.log(2500), 0.6, total), -1).astype(np.int64)
        gaps = np.where(
            opened, dwell + rng.lognormal(np.log(900), 0.5, total), rng.lognormal(np.log(1400), 0.5, total)
        ).astype(np.int64)
        # Short feed-scrolling spells: 30-90 likes in about a minute, without opening.
        offsets = np.concatenate([[0], np.cumsum(sess_size)[:-1]]).astype(np.int64)
        for s in np.flatnonzero(rng.random(sess_size.size) < 0.12):
            k = int(min(sess_size[s], rng.integers(30, 91)))
            lo = int(offsets[s])
            gaps[lo : lo + k] = rng.uniform(600, 1100, k).astype(np.int64)
            dwell[lo : lo + k] = -1
        return {
            "acct": np.repeat(sess_acct, sess_size),
            "content": overlaps.fans(self, people, pi, sess_size, n_sessions, w.popular_content(rng, total)),
            "t": session_times(sess_start, sess_size, gaps),
            "dwell": dwell,
        }

    def _bot_likes(self) -> dict[str, np.ndarray]:
        """Automated likers: groups like the same items in lockstep, from shared devices."""
        rng, w = self.rng, self.w
        out: dict[str, list[np.ndarray]] = {"acct": [], "content": [], "t": [], "dwell": []}
        for group, evasive, onset in self.bot_groups:
            customers = rng.choice(w.content_author, size=int(rng.integers(2, 10)))
            customer_content = np.flatnonzero(np.isin(w.content_author, customers))
            end_day = min(self.days, onset + int(rng.integers(3, 13)))
            real = self.cfg.realism
            disguised = int(group[0]) in self.disguised
            opener = disguised or bool(self.xrng.random() < real.evasive_opens_share)
            # Realistic farms: a human timing model (lognormal gaps) and a night's sleep.
            human_gaps = disguised or bool(self.xrng.random() < real.bot_human_gaps_share)
            daytime = disguised or bool(self.xrng.random() < real.bot_daytime_share)
            for day in range(onset, end_day):
                if evasive:
                    # Rate-limited with random jitter; sleeps a few hours.
                    volume = int(np.clip(rng.lognormal(np.log(500), 0.5), 100, 4000))
                    if disguised:
                        volume = int(np.clip(self.xrng.lognormal(np.log(200), 0.8), 30, 3000))  # a human's day
                    gaps = rng.uniform(4000, 40000, volume).astype(np.int64)
                    if human_gaps:
                        gaps = np.maximum(self.xrng.lognormal(np.log(2500), 0.8, volume), 300).astype(np.int64)
                else:
                    volume = int(np.clip(rng.lognormal(np.log(1500), 0.9), 300, 30000))
                    cadence = min(float(rng.uniform(800, 3000)), DAY * 0.95 / volume)
                    gaps = (cadence + rng.normal(0, 15, volume)).astype(np.int64)
                    if human_gaps:
                        median = min(1300.0, cadence)
                        gaps = np.maximum(self.xrng.lognormal(np.log(median), 0.8, volume), 250).astype(np.int64)
                # The paying customers' items first (each once), then the newest feed.
                custom = customer_content[: volume // (6 if disguised else 2)]
                job = np.concatenate([custom, w.any_content(rng, volume - custom.size)])
                rng.shuffle(job)
                # Sessions of ~150 likes spread over the day: round the clock for
                # plain scripts, with a 4-8 hour sleep for evasive ones.
                k = int(np.clip(volume // 150, 1, 24))
                hours = np.arange(24)
                if evasive:
                    sleep = int(rng.integers(0, 24))
                    hours = np.setdiff1d(hours, (sleep + np.arange(int(rng.integers(4, 9)))) % 24)
                if daytime:
                    # Asleep from about midnight to 06:00-09:00 China time (UTC+8).
                    hours = np.setdiff1d(np.arange(24), (16 + np.arange(int(self.xrng.integers(6, 10)))) % 24)
                k = min(k, hours.size)
                starts = (
                    w.start_ms
                    + day * DAY
                    + np.sort(rng.choice(hours, k, replace=False)) * HOUR
                    + rng.integers(0, 10 * MIN, k)
                )
                sizes = np.full(k, volume // k)
                sizes[: volume - sizes.sum()] += 1
                base = session_times(starts, sizes, gaps)
                opens = evasive and opener
                for member in group:
                    keep = rng.random(volume) < rng.uniform(0.7, 0.95)
                    t = base[keep] + int(rng.integers(0, 300_000)) + rng.integers(-200, 200, int(keep.sum()))
                    if disguised:
                        # Members take their turns hours apart: no lockstep to see.
                        t = t + int(self.xrng.integers(0, 8)) * HOUR + self.xrng.integers(0, 20 * MIN, t.size)
                    if opens:
                        # Opens most items for a human-looking while.
                        dwell = np.where(rng.random(t.size) < 0.75, rng.lognormal(np.log(3500), 0.7, t.size), -1)
                    elif evasive:
                        dwell = np.where(rng.random(t.size) < 0.4, rng.lognormal(np.log(1500), 0.5, t.size), -1)
                    else:
                        dwell = np.where(rng.random(t.size) < 0.05, rng.normal(200, 10, t.size), -1)
                        if human_gaps:
                            # A human timing model opens some items too.
                            shown = self.xrng.random(t.size) < 0.35
                            dwell = np.where(shown, self.xrng.lognormal(np.log(2200), 0.7, t.size), -1)
                    out["acct"].append(np.full(t.size, member, dtype=np.int64))
                    out["content"].append(job[keep])
                    out["t"].append(t.astype(np.int64))
                    out["dwell"].append(np.maximum(dwell, -1).astype(np.int64))
            last_ms = w.start_ms + end_day * DAY
            self.signals.bots.append((group, w.start_ms + onset * DAY, last_ms))
            for a in group:
                self.label_abuser(int(a), "fake_engagement", last_ms, confirmed=bool(rng.random() < 0.3))
        if not out["acct"]:
            return {k: np.zeros(0, dtype=np.int64) for k in out}
        return {k: np.concatenate(v) for k, v in out.items()}

    # ------------------------------------------------------------- labels

    def label_abuser(self, a: int, risk: str, behaviour_end: int, *, confirmed: bool) -> None:
        rng = self.rng
        if rng.random() > self.cfg.detect_rate:
            return
        decided = behaviour_end + int(rng.integers(DAY, 15 * DAY))
        if rng.random() < self.cfg.label_noise:
            self.labels.append((a, risk, 0, decided, "manual_review"))  # missed on review
        else:
            self.labels.append((a, risk, 1, decided, "confirmed_case" if confirmed else "manual_review"))

    def label_hard_negative(self, a: int, risk: str, decided: int) -> None:
        rng = self.rng
        if rng.random() > self.cfg.hard_negative_review_rate:
            return
        u = rng.random()
        if u < self.cfg.appeal_overturn_rate:
            # Sanctioned, then cleared on appeal: a negative example.
            self.labels.append((a, risk, 0, decided, "appeal_overturned"))
        elif u < self.cfg.appeal_overturn_rate + self.cfg.label_noise:
            self.labels.append((a, risk, 1, decided, "manual_review"))  # wrongly sanctioned, never appealed
        else:
            self.labels.append((a, risk, 0, decided, "manual_review"))

    def audit_labels(self) -> None:
        """Reviews of power likers, and a random audit of the whole population per risk.

        The audit samples every population, as a real one does: it finds some
        abusers (label 1) and shows the model abusers of the other risk (label 0).
        """
        rng, w = self.rng, self.w
        for a in np.flatnonzero(self.pop == Pop.POWER_LIKER):
            decided = w.end_ms - int(rng.integers(0, 30)) * DAY
            if self.cfg.realism.spread_decisions:
                decided = w.start_ms + int(self.xrng.integers(min(20, self.days // 2), self.days)) * DAY
            self.label_hard_negative(int(a), "fake_engagement", decided)
        abusive = {risk: {int(p) for p in pops} for risk, pops in ABUSIVE.items()}
        for risk in ("extortion", "fake_engagement"):
            labelled = {r[0] for r in self.labels if r[1] == risk}
            for a in np.flatnonzero(rng.random(self.n) < self.cfg.random_audit_rate):
                if int(a) in labelled:
                    continue
                decided = w.start_ms + int(rng.integers(min(20, self.days // 2), self.days)) * DAY
                label = 1 if int(self.pop[a]) in abusive[risk] else int(rng.random() < self.cfg.label_noise / 10)
                self.labels.append((int(a), risk, label, decided, "random_audit"))

    def decisions(self) -> None:
        """Labels of the complaints regime (replacing the audit's), then the enforcement history."""
        abusive = {risk: np.isin(self.pop, pops) for risk, pops in ABUSIVE.items()}
        p = Platform(
            self.cfg,
            self.decision_rng,
            self.w.start_ms,
            self.w.end_ms,
            self.n,
            abusive,
            np.isin(self.pop, FAST_HUMANS),
            self.signals,
        )
        queued: dict[tuple[int, str], int] = {}
        if self.cfg.label_regime == "complaints":
            self.labels, queued = complaint_labels(p)
        self.enforcement = enforcement_history(p, self.labels, queued)

    def finish(self) -> None:
        if self.enforcement:
            acts = sorted(self.enforcement, key=lambda r: (r[0], r[1], r[3], r[2]))
            self.out.add(
                "enforcement",
                account_id=self.idx[np.array([r[0] for r in acts])],
                risk=np.asarray([r[1] for r in acts], dtype=object),
                action=np.asarray([r[2] for r in acts], dtype=object),
                applied_at=np.array([r[3] for r in acts], dtype=np.int64),
                lifted_at=np.array([r[4] for r in acts], dtype=np.int64),
                outcome=np.asarray([r[5] for r in acts], dtype=object),
            )
        if self.labels:
            rows = sorted(self.labels, key=lambda r: (r[0], r[1]))
            self.out.add(
                "labels",
                account_id=self.idx[np.array([r[0] for r in rows])],
                risk=np.asarray([r[1] for r in rows], dtype=object),
                label=np.array([r[2] for r in rows]),
                decided_at=np.array([r[3] for r in rows]),
                source=np.asarray([r[4] for r in rows], dtype=object),
            )
        self.out.add(
            "_truth",
            account_id=self.idx,
            population=np.asarray(POPULATIONS, dtype=object)[self.pop],
            group_id=self.group,
        )

    def run(self) -> Tables:
        self.assign_populations()
        overlaps.heavy_likers(self)
        self.form_groups()
        overlaps.shared_devices(self)
        self.accounts()
        self.ordinary_orders()
        self.unhappy_customers()
        overlaps.fast_humans_write_negative_reviews(self)
        self.extortion_crews()
        self.likes()
        self.audit_labels()
        self.decisions()
        self.finish()
        self.out.snapshot(self.w.end_ms)
        return self.out


def generate(cfg: SimConfig) -> Iterator[tuple[int, Tables]]:
    """Yield (accounts done so far, tables of the chunk), chunk by chunk."""
    world = World.build(cfg)
    counters: dict[str, int] = {}
    done = 0
    for chunk_index, first in enumerate(range(0, cfg.accounts, cfg.chunk_accounts)):
        n = min(cfg.chunk_accounts, cfg.accounts - first)
        tables = Chunk(world, chunk_index, first, n, counters).run()
        done += n
        yield done, tables
