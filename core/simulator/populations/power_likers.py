"""Power likers: enthusiastic humans, big volumes, human gaps (the hard negative for fake engagement)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewguard.simulator import overlaps
from reviewguard.simulator.population import Pop
from reviewguard.simulator.timing import DAY, HOUR, session_times

if TYPE_CHECKING:
    from reviewguard.simulator.generate import Chunk


def likes(ch: Chunk) -> dict[str, np.ndarray]:
    """Enthusiastic humans: big volumes, human gaps, they open content and sleep."""
    rng, w = ch.rng, ch.w
    people = np.flatnonzero(ch.pop == Pop.POWER_LIKER)
    pi, day = np.nonzero(rng.random((people.size, ch.days)) < 0.35)
    volume = np.clip(rng.lognormal(np.log(150), 0.8, pi.size), 20, 3000).astype(np.int64)
    # Feed likers (realistic and hard): bigger days, mostly liked from the feed without opening.
    feed = (ch.xrng.random(people.size) < ch.cfg.realism.power_feed_liker_share)[pi]
    volume = np.where(feed, np.minimum(volume * 4, 6000), volume)
    # Sessions of about 60 likes, each starting at a waking hour.
    n_sessions = np.maximum(1, volume // 60)
    sess_acct = np.repeat(people[pi], n_sessions)
    sess_size = np.repeat(volume // n_sessions, n_sessions)
    sess_start = w.start_ms + np.repeat(day, n_sessions) * DAY + w.human_time_of_day(rng, sess_acct.size)
    # Night owls (realistic and hard): sessions six hours later, into the night.
    owl = (ch.xrng.random(people.size) < ch.cfg.realism.night_owl_share)[pi]
    sess_start = sess_start + np.repeat(np.where(owl, 6 * HOUR, 0), n_sessions)
    careful = (ch.xrng.random(people.size) < ch.cfg.realism.careful_power_share)[pi]
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
    out = {
        "acct": np.repeat(sess_acct, sess_size),
        "content": overlaps.fans(ch, people, pi, sess_size, n_sessions, w.popular_content(rng, total)),
        "t": session_times(sess_start, sess_size, gaps),
        "dwell": dwell,
    }
    club = overlaps.fan_clubs(ch, people)
    if club is None:
        return out
    return {k: np.concatenate([out[k], club[k]]) for k in out}
