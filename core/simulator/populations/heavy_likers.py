"""The Dianping profile (domain.md, difficulty realistic and hard): long-standing Lv7-8 members liking 20,000+ a day."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewguard.simulator.population import Pop
from reviewguard.simulator.timing import DAY, HOUR, HUMAN_HOUR_UTC, MIN, session_times

if TYPE_CHECKING:
    from reviewguard.simulator.generate import Chunk


def assign(ch: Chunk) -> None:
    """Turn a few ordinary accounts into the Dianping profile; some of them run a tool."""
    r = ch.cfg.realism
    if r.heavy_liker_share <= 0:
        return
    x = ch.xrng
    heavy = (ch.pop == Pop.ORDINARY) & (x.random(ch.n) < r.heavy_liker_share)
    tool = heavy & (x.random(ch.n) < r.heavy_tool_share)
    ch.pop[heavy] = Pop.HEAVY_LIKER
    ch.pop[tool] = Pop.HEAVY_LIKER_TOOL


def old_high_level(ch: Chunk, created: np.ndarray, level: np.ndarray) -> None:
    """The Dianping profile: long-standing Lv7-8 members."""
    heavy = np.flatnonzero(np.isin(ch.pop, [Pop.HEAVY_LIKER, Pop.HEAVY_LIKER_TOOL]))
    if heavy.size:
        age = ch.xrng.uniform(700, 2500, heavy.size)
        created[heavy] = ch.w.start_ms - (age * DAY).astype(np.int64)
        level[heavy] = ch.xrng.choice([7, 8], size=heavy.size, p=[0.4, 0.6])


def likes(ch: Chunk) -> dict[str, np.ndarray]:
    """The Dianping profile: two spells of 8,000-30,000 likes a day, in human-looking sessions.

    Sessions start at distinct waking hours and last under an hour; gaps are
    lognormal around a second, content is rarely opened. Tool-operated accounts
    (abusers) like 20,000-30,000 a day in their spells with slightly more
    regular gaps; human heavy likers 8,000-25,000. Outside the spells both
    like a few hundred to a few thousand a day on half the days. Their items are
    the long tail of the newest feed (ids after the shared content).
    """
    x, w = ch.xrng, ch.w
    out: dict[str, list[np.ndarray]] = {"acct": [], "content": [], "t": [], "dwell": []}
    for a in map(int, np.flatnonzero(np.isin(ch.pop, [Pop.HEAVY_LIKER, Pop.HEAVY_LIKER_TOOL]))):
        tool = ch.pop[a] == Pop.HEAVY_LIKER_TOOL
        first = int(x.integers(0, max(1, ch.days - 30)))
        end1 = first + int(x.integers(8, 16))
        start2 = end1 + int(x.integers(5, 16))
        end2 = start2 + int(x.integers(8, 19))
        busy_end = w.start_ms + min(ch.days, end2) * DAY
        for day in range(first, ch.days):
            if first <= day < end1 or start2 <= day < end2:
                volume = int(x.integers(20_000, 30_001) if tool else x.integers(8_000, 25_001))
            elif x.random() < 0.5:
                volume = int(x.integers(300, 3_000))
            else:
                continue
            k = int(min(16, max(1, volume // 1500)))
            hours = np.sort(x.choice(24, size=k, replace=False, p=HUMAN_HOUR_UTC))
            starts = w.start_ms + day * DAY + hours * HOUR + x.integers(0, 20 * MIN, k)
            sizes = np.full(k, volume // k)
            sizes[: volume - int(sizes.sum())] += 1
            if tool:
                gaps = np.maximum(x.lognormal(np.log(850), 0.3, volume), 350)
            else:
                gaps = np.maximum(x.lognormal(np.log(1000), 0.45, volume), 300)
            opened = x.random(volume) < (0.08 if tool else 0.12)
            dwell = np.where(opened, x.lognormal(np.log(1500), 0.5, volume), -1)
            out["acct"].append(np.full(volume, a, dtype=np.int64))
            out["content"].append(w.n_content + ch.next_ids("feed_content", volume))
            out["t"].append(session_times(starts, sizes, gaps.astype(np.int64)))
            out["dwell"].append(dwell.astype(np.int64))
        last = w.start_ms + min(ch.days, end2) * DAY
        if tool:
            ch.signals.bots.append((np.array([a]), w.start_ms + first * DAY, last))
            ch.label_abuser(a, "fake_engagement", busy_end, confirmed=bool(ch.rng.random() < 0.3))
        else:
            decided = w.start_ms + min(ch.days, end1) * DAY + int(ch.rng.integers(3, 20)) * DAY
            ch.label_hard_negative(a, "fake_engagement", min(decided, w.end_ms))
    if not out["acct"]:
        return {k: np.zeros(0, dtype=np.int64) for k in out}
    return {k: np.concatenate(v) for k, v in out.items()}
