"""Automated likers: groups on device farms liking in lockstep; evasive and (realistic) disguised ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewguard.simulator import overlaps
from reviewguard.simulator.population import Pop
from reviewguard.simulator.timing import DAY, HOUR, MIN, session_times

if TYPE_CHECKING:
    from reviewguard.simulator.generate import Chunk


def form(ch: Chunk) -> None:
    """Bot groups of 2-12 on a device farm, and (realistic) solo operators."""
    rng = ch.rng
    bots = np.flatnonzero(ch.pop == Pop.AUTOMATED_LIKER)
    # Solo operators: one account each, no lockstep group (realistic and hard only).
    solo = bots[ch.xrng.random(bots.size) < ch.cfg.realism.solo_bot_share]
    for b in solo:
        _group(ch, np.array([b]))
    rest = list(np.setdiff1d(bots, solo))
    while rest:
        size = min(len(rest), int(rng.integers(2, 13)))
        group = np.array(rest[:size])
        rest = rest[size:]
        _group(ch, group)


def _group(ch: Chunk, group: np.ndarray) -> None:
    """A bot group on its device farm, from an onset day; evasive or not."""
    rng, cfg, size = ch.rng, ch.cfg, group.size
    ch.group[group] = ch.next_ids("group", 1)[0]
    farm = ch.devices[group[: max(1, size // 4)]]
    ch.devices[group] = rng.choice(farm, size=size)
    disguised = bool(ch.xrng.random() < cfg.realism.disguised_farm_share)
    if disguised:
        ch.disguised.add(int(group[0]))
    overlaps.farm_devices(ch, group, disguised)
    onset = int(rng.integers(0, max(1, ch.days - 10)))
    frac = onset / max(1, ch.days)
    evasive = bool(rng.random() < cfg.evasive_share_start + (cfg.evasive_share_end - cfg.evasive_share_start) * frac)
    evasive = evasive or disguised or bool(ch.xrng.random() < cfg.realism.evasive_share_extra)
    if evasive:
        ch.pop[group] = Pop.AUTOMATED_LIKER_EVASIVE
    ch.bot_groups.append((group, evasive, onset))


def likes(ch: Chunk) -> dict[str, np.ndarray]:
    """Automated likers: groups like the same items in lockstep, from shared devices."""
    rng, w = ch.rng, ch.w
    out: dict[str, list[np.ndarray]] = {"acct": [], "content": [], "t": [], "dwell": []}
    for group, evasive, onset in ch.bot_groups:
        customers = rng.choice(w.content_author, size=int(rng.integers(2, 10)))
        customer_content = np.flatnonzero(np.isin(w.content_author, customers))
        end_day = min(ch.days, onset + int(rng.integers(3, 13)))
        real = ch.cfg.realism
        disguised = int(group[0]) in ch.disguised
        opener = disguised or bool(ch.xrng.random() < real.evasive_opens_share)
        # Realistic farms: a human timing model (lognormal gaps) and a night's sleep.
        human_gaps = disguised or bool(ch.xrng.random() < real.bot_human_gaps_share)
        daytime = disguised or bool(ch.xrng.random() < real.bot_daytime_share)
        for day in range(onset, end_day):
            if evasive:
                # Rate-limited with random jitter; sleeps a few hours.
                volume = int(np.clip(rng.lognormal(np.log(500), 0.5), 100, 4000))
                if disguised:
                    volume = int(np.clip(ch.xrng.lognormal(np.log(200), 0.8), 30, 3000))  # a human's day
                gaps = rng.uniform(4000, 40000, volume).astype(np.int64)
                if human_gaps:
                    gaps = np.maximum(ch.xrng.lognormal(np.log(2500), 0.8, volume), 300).astype(np.int64)
            else:
                volume = int(np.clip(rng.lognormal(np.log(1500), 0.9), 300, 30000))
                cadence = min(float(rng.uniform(800, 3000)), DAY * 0.95 / volume)
                gaps = (cadence + rng.normal(0, 15, volume)).astype(np.int64)
                if human_gaps:
                    median = min(1300.0, cadence)
                    gaps = np.maximum(ch.xrng.lognormal(np.log(median), 0.8, volume), 250).astype(np.int64)
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
                hours = np.setdiff1d(np.arange(24), (16 + np.arange(int(ch.xrng.integers(6, 10)))) % 24)
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
                    t = t + int(ch.xrng.integers(0, 8)) * HOUR + ch.xrng.integers(0, 20 * MIN, t.size)
                if opens:
                    # Opens most items for a human-looking while.
                    dwell = np.where(rng.random(t.size) < 0.75, rng.lognormal(np.log(3500), 0.7, t.size), -1)
                elif evasive:
                    dwell = np.where(rng.random(t.size) < 0.4, rng.lognormal(np.log(1500), 0.5, t.size), -1)
                else:
                    dwell = np.where(rng.random(t.size) < 0.05, rng.normal(200, 10, t.size), -1)
                    if human_gaps:
                        # A human timing model opens some items too.
                        shown = ch.xrng.random(t.size) < 0.35
                        dwell = np.where(shown, ch.xrng.lognormal(np.log(2200), 0.7, t.size), -1)
                out["acct"].append(np.full(t.size, member, dtype=np.int64))
                out["content"].append(job[keep])
                out["t"].append(t.astype(np.int64))
                out["dwell"].append(np.maximum(dwell, -1).astype(np.int64))
        last_ms = w.start_ms + end_day * DAY
        ch.signals.bots.append((group, w.start_ms + onset * DAY, last_ms))
        for a in group:
            ch.label_abuser(int(a), "fake_engagement", last_ms, confirmed=bool(rng.random() < 0.3))
    if not out["acct"]:
        return {k: np.zeros(0, dtype=np.int64) for k in out}
    return {k: np.concatenate(v) for k, v in out.items()}
