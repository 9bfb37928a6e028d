"""What makes the realistic platform hard: behaviour shared across populations (issue 15).

Each function adds one overlap to a chunk, drawing from the chunk's own
``xrng`` stream and reading its rates from ``cfg.realism`` (all zero on the
easy platform, where these functions change nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewguard.simulator import texts
from reviewguard.simulator.population import Pop
from reviewguard.simulator.timing import DAY, HOUR, MIN, session_times

if TYPE_CHECKING:
    from reviewguard.simulator.generate import Chunk

PEOPLE = (Pop.ORDINARY, Pop.UNHAPPY_CUSTOMER, Pop.POWER_LIKER, Pop.HEAVY_LIKER)


def shared_devices(ch: Chunk) -> None:
    """Families, dormitories, internet cafés, second-hand phones: people who share a device or address."""
    r, x = ch.cfg.realism, ch.xrng
    people = np.flatnonzero(np.isin(ch.pop, PEOPLE))
    if people.size < 2:
        return
    for share, column in ((r.shared_device_share, ch.devices), (r.shared_address_share, ch.addresses)):
        sharers = people[x.random(people.size) < share]
        partner = x.choice(people, size=sharers.size)
        column[sharers] = column[partner]


def crews_sharing_nothing(ch: Chunk) -> None:
    r, x = ch.cfg.realism, ch.xrng
    for crew in ch.crews:
        if x.random() < r.crew_share_nothing:
            ch.devices[crew] = ch.idx[crew] * 2
            ch.addresses[crew] = ch.idx[crew]


def farm_devices(ch: Chunk, group: np.ndarray, disguised: bool) -> None:
    """Some farms give every account its own device (rotated phones, behind many addresses)."""
    if ch.xrng.random() < ch.cfg.realism.farm_own_device_share or disguised:
        ch.devices[group] = ch.idx[group] * 2


def levels(ch: Chunk, level: np.ndarray) -> None:
    """More farms run bought high-level accounts; some power likers are mid-level members."""
    r, x = ch.cfg.realism, ch.xrng
    bots = np.isin(ch.pop, [Pop.AUTOMATED_LIKER, Pop.AUTOMATED_LIKER_EVASIVE]) & (
        x.random(ch.n) < r.bot_high_level_share
    )
    level[bots] = x.choice([5, 6, 7, 8], size=int(bots.sum()))
    mid = (ch.pop == Pop.POWER_LIKER) & (x.random(ch.n) < r.mid_level_power_share)
    level[mid] = x.choice([2, 3, 4], size=int(mid.sum()))


def fans(
    ch: Chunk, people: np.ndarray, pi: np.ndarray, sess_size: np.ndarray, n_sessions: np.ndarray, content: np.ndarray
) -> np.ndarray:
    """Fans: power likers who like much of what a few favourite writers post (as farms do for customers)."""
    share, x, w = ch.cfg.realism.fan_share, ch.xrng, ch.w
    if share <= 0 or content.size == 0:
        return content
    owner = np.repeat(np.repeat(people[pi], n_sessions), sess_size)
    content = content.copy()
    for a in map(int, people[x.random(people.size) < share]):
        mine = np.flatnonzero(owner == a)
        favourites = x.choice(w.content_author, size=int(x.integers(2, 8)))
        items = np.flatnonzero(np.isin(w.content_author, favourites))
        take = mine[x.random(mine.size) < x.uniform(0.2, 0.5)]
        content[take] = x.choice(items, size=take.size)
    return content


def fan_clubs(ch: Chunk, people: np.ndarray) -> dict[str, np.ndarray] | None:
    """Fan clubs: groups of 5-25 power likers who like their idol's releases together, within minutes.

    On a release day (a third to a half of the days) the idol posts 3-5 items within an hour; each
    member who takes part likes them within minutes of posting (lockstep, as a farm does), then
    "does data" (做数据): 50-300 likes from the feed. Lockstep and volume are signals, not proof.
    """
    share, x, w = ch.cfg.realism.fan_club_share, ch.xrng, ch.w
    members = people[x.random(people.size) < share] if share > 0 else people[:0]
    if members.size < 5:
        return None
    members = x.permutation(members)
    sizes = []
    left = members.size
    while left >= 5:
        sizes.append(min(left, int(x.integers(5, 26))))
        left -= sizes[-1]
    acct, content, t, dwell = [], [], [], []
    start = 0
    for size in sizes:
        club = members[start : start + size]
        start += size
        days = x.choice(ch.days, size=int(x.integers(ch.days // 3, ch.days // 2 + 1)), replace=False)
        posted_at = w.start_ms + days * DAY + w.human_time_of_day(x, days.size)
        per_day = x.integers(3, 6, days.size)
        item_day = np.repeat(np.arange(days.size), per_day)
        item_at = posted_at[item_day] + x.integers(0, HOUR, item_day.size)
        item = w.any_content(x, item_day.size)
        takes_part = x.random((club.size, days.size)) < 0.85
        who, which = np.nonzero(takes_part[:, item_day] & (x.random((club.size, item_day.size)) < 0.9))
        delay = np.minimum(x.lognormal(np.log(2 * MIN), 0.7, who.size), 9 * MIN).astype(np.int64)
        acct.append(club[who])
        content.append(item[which])
        t.append(item_at[which] + delay)
        dwell.append(np.where(x.random(who.size) < 0.7, x.lognormal(np.log(4000), 0.6, who.size), -1).astype(np.int64))
        # Doing data: a quick session from the feed after each release day's posts.
        m, d = np.nonzero(takes_part)
        n = x.integers(50, 301, m.size)
        gaps = x.lognormal(np.log(3500), 0.5, int(n.sum())).astype(np.int64)
        acct.append(np.repeat(club[m], n))
        content.append(w.any_content(x, int(n.sum())))
        t.append(session_times(posted_at[d] + HOUR + 10 * MIN, n, gaps))
        dwell.append(
            np.where(x.random(int(n.sum())) < 0.5, x.lognormal(np.log(2500), 0.6, int(n.sum())), -1).astype(np.int64)
        )
    return {
        "acct": np.concatenate(acct),
        "content": np.concatenate(content),
        "t": np.concatenate(t),
        "dwell": np.concatenate(dwell),
    }


def honest_reports(
    ch: Chunk, acct: np.ndarray, merchant: np.ndarray, rid: np.ndarray, rating: np.ndarray, created: np.ndarray
) -> None:
    """Merchants report honest negative reviews too: the complaint channel is noisy."""
    rate = ch.cfg.realism.honest_review_report_rate
    x = ch.xrng
    hit = np.flatnonzero((rating <= 2) & (x.random(rating.size) < rate))
    for i in map(int, hit):
        reason = str(x.choice(["fake_review", "abuse", "extortion", "other"], p=[0.4, 0.3, 0.15, 0.15]))
        ch.report(int(merchant[i]), int(acct[i]), int(rid[i]), reason, int(created[i]) + int(x.integers(HOUR, 3 * DAY)))


def fast_humans_write_negative_reviews(ch: Chunk) -> None:
    """Power likers are people: some of them write honest negative reviews (and get reported for them)."""
    r, x, w = ch.cfg.realism, ch.xrng, ch.w
    if r.power_negative_review_share <= 0:
        return
    for a in map(int, np.flatnonzero(np.isin(ch.pop, [Pop.POWER_LIKER, Pop.HEAVY_LIKER]))):
        if x.random() >= r.power_negative_review_share:
            continue
        for _ in range(int(x.integers(1, 4))):
            merchant = int(x.choice(w.n_merchants, p=w.merchant_weight))
            amount = round(float(w.merchant_price[merchant] * x.lognormal(0, 0.4)), 2)
            ordered = w.start_ms + int(x.integers(0, ch.days - 7)) * DAY + int(w.human_time_of_day(x, 1)[0])
            delivered = ordered + int(x.integers(DAY // 2, 5 * DAY))
            oid = ch.order(a, merchant, amount, ordered, delivered, -1)
            review_at = delivered + int(x.integers(HOUR, 4 * DAY))
            rid = ch.review(a, merchant, oid, int(x.choice([1, 2])), review_at)
            if x.random() < 0.2:
                reason = str(x.choice(["fake_review", "extortion", "abuse"], p=[0.5, 0.2, 0.3]))
                ch.report(merchant, a, int(rid[0]), reason, review_at + int(x.integers(HOUR, 3 * DAY)))


def big_claim(ch: Chunk, a: int, merchant: int, price: float, complaint_at: int) -> tuple[int, int]:
    """An unhappy customer asks for large compensation in words close to a demand; the shop may pay.

    Returns (paid_at, reported_at) with -1 for what did not happen.
    """
    r, x = ch.cfg.realism, ch.xrng
    if x.random() >= r.unhappy_big_claim_share:
        return -1, -1
    claim = int(np.clip(round(price * x.uniform(5, 40), -1), 200, 5000))
    amount_text = f"{claim:,d}" if x.random() < 0.2 else str(claim)
    said = complaint_at + int(x.integers(10 * MIN, 12 * HOUR))
    ch.message(
        a,
        merchant,
        "account",
        [texts.BIG_CLAIMS[int(x.integers(0, len(texts.BIG_CLAIMS)))].format(amount=amount_text)],
        said,
    )
    reply = said + int(x.integers(10 * MIN, 8 * HOUR))
    replies = texts.MERCHANT_REPLIES_TO_CLAIM
    ch.message(a, merchant, "merchant", [replies[int(x.integers(0, len(replies)))]], reply)
    paid_at = -1
    if x.random() < 0.5:
        paid_at = reply + int(x.integers(HOUR, 3 * DAY))
        ch.transfer(merchant, a, round(claim * float(x.uniform(0.3, 1.0)), -1), "compensation", paid_at)
    reported = reply + int(x.integers(HOUR, 3 * DAY)) if x.random() < 0.25 else -1
    return paid_at, reported


def fault_compensation(ch: Chunk, a: int, merchant: int, price: float, after: int) -> None:
    """A merchant pays compensation for a real fault (beyond the refund)."""
    x = ch.xrng
    if x.random() < ch.cfg.realism.merchant_compensation_share:
        amount = round(float(np.clip(price * x.uniform(0.5, 6), 20, 1500)), -1)
        ch.transfer(merchant, a, amount, "compensation", after + int(x.integers(HOUR, 2 * DAY)))
