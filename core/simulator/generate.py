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
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from reviewguard.simulator import language, overlaps, texts
from reviewguard.simulator.config import SimConfig
from reviewguard.simulator.labelling import Platform, Signals, complaint_labels, enforcement_history
from reviewguard.simulator.population import ABUSIVE, FAST_HUMANS, POPULATIONS, Pop
from reviewguard.simulator.populations import bots, crews, heavy_likers, ordinary, power_likers, unhappy
from reviewguard.simulator.tables import Tables
from reviewguard.simulator.timing import DAY, HOUR
from reviewguard.simulator.world import World


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

    def pick(self, choices: tuple[str, ...], n: int) -> list[str]:
        return [choices[i] for i in self.rng.integers(0, len(choices), n)]

    def one(self, choices: tuple[str, ...]) -> str:
        return choices[int(self.rng.integers(0, len(choices)))]

    def demand_text(self, amount_text: str, amount: int) -> str:
        """A demand: one of the fixed templates, or (varied language, most of the time) one from the grammar."""
        fixed = self.one(texts.EXTORTION_DEMANDS).format(amount=amount_text)
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
        heavy_likers.old_high_level(self, self.created, level)
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
            self.pick(t, n) for t in (texts.NEGATIVE_REVIEWS, texts.NEUTRAL_REVIEWS, texts.POSITIVE_REVIEWS)
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

    # ------------------------------------------------------ unhappy customers

    # --------------------------------------------------------- extortion

    # ------------------------------------------------------------- likes

    def likes(self) -> None:
        parts = [ordinary.likes(self), power_likers.likes(self), bots.likes(self), heavy_likers.likes(self)]
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
        heavy_likers.assign(self)
        crews.form(self)
        bots.form(self)
        overlaps.shared_devices(self)
        self.accounts()
        ordinary.orders(self)
        unhappy.behave(self)
        overlaps.fast_humans_write_negative_reviews(self)
        crews.behave(self)
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
