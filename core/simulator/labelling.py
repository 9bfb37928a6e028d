"""Who the platform labels, and what it did to whom: the labels regimes and the enforcement history.

Behaviour is generated first (the same events whatever the regime); while it
is generated the chunk records the *signals* a platform sees: merchants'
reports, negative reviews, the days an account crossed the like alert, the
spans of crews and bot groups. From those signals this module draws, on its
own random stream (so the events never depend on it):

- the labels of the ``complaints`` regime: only accounts a complaint or an
  alert put in a moderator's queue are decided, so the labelled sample is
  selected, not random;
- the enforcement history of either regime (contract 1.1 ``enforcement``):
  lighter remedies first, human actions after them, mistakes, appeals.

Times are integer milliseconds since the epoch (UTC), as in ``generate``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

from reviewguard.simulator.config import SimConfig
from reviewguard.simulator.timing import DAY, HOUR

# A label row: (account position in the chunk, risk, label, decided_at, source).
Label = tuple[int, str, int, int, str]
# An enforcement row: (account position, risk, action, applied_at, lifted_at or -1, outcome).
Enforcement = tuple[int, str, str, int, int, str]

# Ladder rungs that only watch an account: no effect on the user, so not enforcement.
WATCH_ONLY = frozenset({"monitor"})


@dataclass(frozen=True)
class Ladder:
    """A risk's actions from the default policy: the lighter remedies, then the human actions in order."""

    remedy: str
    human: tuple[str, ...]


@cache
def ladders() -> dict[str, Ladder]:
    """The action names of ``defaults/train.toml``'s ``[policy]`` ladders, per risk."""
    text = resources.files("reviewguard").joinpath("defaults/train.toml").read_text(encoding="utf-8")
    policy = tomllib.loads(text)["policy"]
    out = {}
    for risk, rungs in policy.items():
        if not isinstance(rungs, list):
            continue
        remedies = [r["name"] for r in rungs if not r["requires_human"] and r["name"] not in WATCH_ONLY]
        human = tuple(r["name"] for r in rungs if r["requires_human"])
        if remedies and len(human) >= 2:
            out[risk] = Ladder(remedies[0], human)
    return out


@dataclass
class Signals:
    """What the platform could see of a chunk's accounts, recorded while their behaviour is generated."""

    reports: list[tuple[int, int, str]] = field(default_factory=list)  # (account, reported_at, reason)
    neg_acct: list[np.ndarray] = field(default_factory=list)  # authors of negative reviews
    neg_time: list[np.ndarray] = field(default_factory=list)  # and when they were posted
    crews: list[tuple[np.ndarray, int, int]] = field(default_factory=list)  # members, first demand, last act
    bots: list[tuple[np.ndarray, int, int]] = field(default_factory=list)  # members, onset, end of liking
    like_first: np.ndarray | None = None  # per account: first like (-1: none)
    like_last: np.ndarray | None = None
    like_alert: np.ndarray | None = None  # per account: end of the first day at/over the like alert (-1: none)

    def record_likes(self, n: int, start_ms: int, days: int, acct: np.ndarray, t: np.ndarray, alert: int) -> None:
        """First and last like and first alert per account, from likes sorted by (account, time)."""
        first = np.full(n, -1, dtype=np.int64)
        last = np.full(n, -1, dtype=np.int64)
        alert_at = np.full(n, -1, dtype=np.int64)
        seen = t < start_ms + days * DAY  # what the platform sees by the end of the period
        a, ts = acct[seen], t[seen]
        if a.size:
            starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
            ends = np.r_[starts[1:], a.size] - 1
            first[a[starts]] = ts[starts]
            last[a[ends]] = ts[ends]
            key = a * days + (ts - start_ms) // DAY  # non-decreasing: sorted by account, then time
            runs = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            counts = np.diff(np.r_[runs, key.size])
            over = key[runs][counts >= alert]
            who, at = np.unique(over // days, return_index=True)
            alert_at[who] = start_ms + (over[at] % days + 1) * DAY
        self.like_first, self.like_last, self.like_alert = first, last, alert_at

    def negative_reviews(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.neg_acct:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(self.neg_acct).astype(np.int64), np.concatenate(self.neg_time).astype(np.int64)


@dataclass
class Platform:
    """One chunk as the labelling sees it: populations, signals, the period, its own random stream."""

    cfg: SimConfig
    rng: np.random.Generator
    start_ms: int
    end_ms: int
    n: int
    abusive: dict[str, np.ndarray]  # per risk: whether each account abuses it
    power: np.ndarray  # whether each account is a power liker (a fast human)
    signals: Signals
    group_of: dict[int, np.ndarray] = field(default_factory=dict)  # member -> its crew or bot group
    span_of: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)  # (acct, risk) -> first, last
    first_neg: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        for risk, spans in (("extortion", self.signals.crews), ("fake_engagement", self.signals.bots)):
            for members, first, last in spans:
                for m in map(int, members):
                    self.group_of[m] = members
                    self.span_of[(m, risk)] = (first, last)
        acct, when = self.signals.negative_reviews()
        keep = when < self.end_ms
        first_neg = np.full(self.n, -1, dtype=np.int64)
        if keep.any():
            order = np.lexsort((when[keep], acct[keep]))
            a, t = acct[keep][order], when[keep][order]
            starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
            first_neg[a[starts]] = t[starts]
        self.first_neg = first_neg

    def is_abuser(self, a: int, risk: str) -> bool:
        return bool(self.abusive[risk][a])

    def delay(self) -> int:
        days = float(np.clip(self.rng.lognormal(np.log(self.cfg.complaint_decision_days), 0.6), 1, 30))
        return int(days * DAY)

    def uniform(self, lo: int, hi: int) -> int:
        return lo if hi <= lo else int(self.rng.integers(lo, hi))


# ---------------------------------------------------------------- complaints regime


def complaint_labels(p: Platform) -> tuple[list[Label], dict[tuple[int, str], int]]:
    """Labels decided only for accounts that complaints or alerts put in the queue.

    Returns the labels and, per (account, risk), when the account entered the
    queue (the enforcement history starts there).
    """
    labels: list[Label] = []
    queued: dict[tuple[int, str], int] = {}
    _extortion_queue(p, labels, queued)
    _like_queue(p, labels, queued)
    return labels, queued


def _decide_innocent(p: Platform, labels: list[Label], a: int, risk: str, decided: int) -> None:
    u = p.rng.random()
    if u < p.cfg.appeal_overturn_rate:
        # Sanctioned while the case was open, cleared on appeal later.
        labels.append((a, risk, 0, decided + p.uniform(3 * DAY, 20 * DAY), "appeal_overturned"))
    elif u < p.cfg.appeal_overturn_rate + p.cfg.label_noise:
        labels.append((a, risk, 1, decided, "manual_review"))  # wrongly sanctioned, never appealed
    else:
        labels.append((a, risk, 0, decided, "manual_review"))


def _decide_abuser(
    p: Platform, labels: list[Label], done: set[int], a: int, risk: str, decided: int, confirmed: bool
) -> None:
    if p.rng.random() < p.cfg.label_noise:
        labels.append((a, risk, 0, decided, "manual_review"))  # missed on review
    else:
        labels.append((a, risk, 1, decided, "confirmed_case" if confirmed else "manual_review"))
    done.add(a)
    # The case brings in the accounts it is linked to (shared device, address, payee, lockstep).
    for m in map(int, p.group_of.get(a, np.zeros(0, dtype=np.int64))):
        if m not in done and p.rng.random() < p.cfg.case_expansion_rate:
            done.add(m)
            labels.append((m, risk, 1, decided + p.uniform(0, 2 * DAY), "manual_review"))


def _extortion_queue(p: Platform, labels: list[Label], queued: dict[tuple[int, str], int]) -> None:
    """Merchants' reports (the complaint channel), oldest first."""
    first: dict[int, int] = {}
    extortion_reported: set[int] = set()
    for a, when, reason in p.signals.reports:
        if when >= p.end_ms:
            continue  # not yet filed at the snapshot
        first[a] = min(when, first.get(a, when))
        if reason == "extortion":
            extortion_reported.add(a)
    done: set[int] = set()
    for a, when in sorted(first.items(), key=lambda kv: (kv[1], kv[0])):
        if a in done or p.rng.random() >= p.cfg.complaint_review_rate:
            continue
        decided = when + p.delay()
        if p.is_abuser(a, "extortion"):
            confirmed = a in extortion_reported and p.rng.random() < 0.7
            before = len(labels)
            _decide_abuser(p, labels, done, a, "extortion", decided, confirmed)
            for row in labels[before:]:
                queued[(row[0], "extortion")] = when
        elif 0 <= p.first_neg[a] < decided:
            # The moderator reads the reported (negative) review and finds an unhappy customer.
            done.add(a)
            queued[(a, "extortion")] = when
            _decide_innocent(p, labels, a, "extortion", decided)


def _like_queue(p: Platform, labels: list[Label], queued: dict[tuple[int, str], int]) -> None:
    """The platform's like alert and users' complaints about likes, oldest first."""
    s, rng, cfg = p.signals, p.rng, p.cfg
    assert s.like_alert is not None and s.like_first is not None and s.like_last is not None
    entry: dict[int, int] = {int(a): int(s.like_alert[a]) for a in np.flatnonzero(s.like_alert >= 0)}
    complained: set[int] = set()

    def complain(a: int, t: int) -> None:
        if t < p.end_ms:
            entry[a] = min(t, entry.get(a, t))
            complained.add(a)

    for members, onset, last in s.bots:
        if rng.random() < cfg.like_complaint_rate_bots:
            complain(int(rng.choice(members)), p.uniform(onset, last))
    likers = np.flatnonzero(s.like_first >= 0)
    bot = p.abusive["fake_engagement"]
    rate = np.where(p.power[likers], cfg.like_complaint_rate_power, cfg.like_complaint_rate_other)
    hit = rng.random(likers.size) < rate
    for a in map(int, likers[hit & ~bot[likers]]):
        complain(a, p.uniform(int(s.like_first[a]), int(s.like_last[a]) + 1))
    done: set[int] = set()
    for a, when in sorted(entry.items(), key=lambda kv: (kv[1], kv[0])):
        rate = cfg.complaint_review_rate if a in complained else cfg.alert_review_rate
        if a in done or rng.random() >= rate:
            continue
        decided = when + p.delay()
        if p.is_abuser(a, "fake_engagement"):
            before = len(labels)
            _decide_abuser(p, labels, done, a, "fake_engagement", decided, bool(rng.random() < 0.4))
            for row in labels[before:]:
                queued[(row[0], "fake_engagement")] = when
        else:
            done.add(a)
            queued[(a, "fake_engagement")] = when
            _decide_innocent(p, labels, a, "fake_engagement", decided)


# ---------------------------------------------------------------- enforcement


def first_signal(p: Platform, a: int, risk: str, queued: dict[tuple[int, str], int]) -> int:
    """When the platform could first have acted on (account, risk)."""
    if (a, risk) in queued:
        return queued[(a, risk)]
    if (a, risk) in p.span_of:
        first, _ = p.span_of[(a, risk)]
        return first + (DAY if risk == "fake_engagement" else 0)
    s = p.signals
    assert s.like_alert is not None and s.like_first is not None
    if risk == "extortion" and p.first_neg[a] >= 0:
        return int(p.first_neg[a])
    if risk == "fake_engagement" and s.like_alert[a] >= 0:
        return int(s.like_alert[a])
    if risk == "fake_engagement" and s.like_first[a] >= 0:
        return int(s.like_first[a])
    return p.start_ms


def enforcement_history(p: Platform, labels: list[Label], queued: dict[tuple[int, str], int]) -> list[Enforcement]:
    """The platform's actions over the period, consistent with the labels.

    A remedy that led to a label is applied no later than the label's
    decision; a human action comes at the decision, after a lighter remedy in
    most cases; a sanction overturned on appeal is lifted at the
    ``appeal_overturned`` decision, and no action is overturned without one.
    Only actions applied before the end of the period are in the data; one
    lifted after it is still in force at the snapshot.
    """
    rows: list[Enforcement] = []
    lad = ladders()
    cfg, rng = p.cfg, p.rng
    labelled: set[tuple[int, str]] = set()
    for a, risk, label, decided, source in sorted(labels, key=lambda r: (r[0], r[1], r[3])):
        labelled.add((a, risk))
        ladder = lad[risk]
        if source == "random_audit":
            if label == 1 and rng.random() < cfg.remedy_rate:
                rows.append((a, risk, ladder.remedy, decided, -1, "in_force"))
            continue
        s = min(first_signal(p, a, risk, queued), decided - HOUR)
        s = max(s, p.start_ms)
        if label == 1:
            lit = rng.random() < cfg.remedy_rate
            if lit:
                t = _remedy_time(p, a, risk, s, decided)
                outcome = "upheld_on_appeal" if rng.random() < cfg.appeal_rate else "in_force"
                rows.append((a, risk, ladder.remedy, t, -1, outcome))
            if rng.random() < (cfg.human_action_rate if lit else cfg.human_without_remedy_rate):
                lifted = decided + p.uniform(7 * DAY, 30 * DAY)
                outcome = "upheld_on_appeal" if rng.random() < cfg.appeal_rate else "expired"
                rows.append((a, risk, ladder.human[0], decided, lifted, outcome))
                if rng.random() < cfg.top_action_rate:
                    rows.append((a, risk, ladder.human[1], decided + p.uniform(DAY, 10 * DAY), -1, "in_force"))
        elif source == "appeal_overturned":
            t = p.uniform(s, max(s + 1, decided - DAY))
            rows.append((a, risk, ladder.remedy, t, decided, "overturned_on_appeal"))
            if rng.random() < 0.3:
                t_human = p.uniform(t, max(t + 1, decided - HOUR))
                rows.append((a, risk, ladder.human[0], t_human, decided, "overturned_on_appeal"))
        elif rng.random() < cfg.mistaken_remedy_rate:
            # Held while the case was checked, released when it cleared.
            rows.append((a, risk, ladder.remedy, p.uniform(s, decided), decided, "expired"))
    # The platform's rules also caught abusers no moderator labelled.
    for (a, risk), (first, last) in sorted(p.span_of.items()):
        if (a, risk) in labelled or rng.random() >= cfg.unlabelled_remedy_rate:
            continue
        s = first + (DAY if risk == "fake_engagement" else 0)
        rows.append((a, risk, lad[risk].remedy, _remedy_time(p, a, risk, s, max(s + 1, last)), -1, "in_force"))
    return [_as_seen_at_end(r, p.end_ms) for r in rows if r[3] < p.end_ms]


def _remedy_time(p: Platform, a: int, risk: str, s: int, decided: int) -> int:
    """Mostly while the abuse goes on; for some abusers just before they stopped (the remedy worked)."""
    span = p.span_of.get((a, risk))
    hi = min(decided, p.end_ms)
    if span is not None and span[1] > s and p.rng.random() < p.cfg.remedy_stops_share:
        return max(s, min(span[1] - p.uniform(HOUR, DAY), hi - 1))
    return p.uniform(s, max(s + 1, hi))


def _as_seen_at_end(row: Enforcement, end_ms: int) -> Enforcement:
    a, risk, action, applied, lifted, outcome = row
    if lifted >= end_ms:
        # Lifted (or overturned) after the snapshot: still in force when the data was taken.
        return a, risk, action, applied, -1, "in_force" if outcome != "upheld_on_appeal" else outcome
    return row
