"""Time units and human rhythms shared by every population (integer milliseconds, UTC)."""

from __future__ import annotations

import numpy as np

DAY = 86_400_000
HOUR = 3_600_000
MIN = 60_000
SEC = 1_000


# Hour-of-day (UTC) activity of people in China (UTC+8): awake roughly 07-24 local.
_LOCAL_WAKING = np.array(
    [3, 1.5, 0.8, 0.5, 0.4, 0.5, 1, 2.5, 4, 5, 5.5, 6, 7, 6, 5.5, 5.5, 5.5, 6, 7, 8, 9, 9.5, 8, 5.5]
)
HUMAN_HOUR_UTC = np.roll(_LOCAL_WAKING, -8) / np.roll(_LOCAL_WAKING, -8).sum()


def session_times(starts: np.ndarray, sizes: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Times of events in sessions: each session begins at its start, then adds its gaps."""
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    gaps = np.asarray(gaps[:total], dtype=np.int64).copy()
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    first = first[sizes > 0]
    gaps[first] = 0
    csum = np.cumsum(gaps)
    base = np.repeat(csum[first], sizes[sizes > 0])
    return np.repeat(np.asarray(starts, dtype=np.int64)[sizes > 0], sizes[sizes > 0]) + csum - base
