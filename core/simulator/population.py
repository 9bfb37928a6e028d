"""The behavioural populations of the simulator, by name."""

from __future__ import annotations

from enum import IntEnum


class Pop(IntEnum):
    """An account's population; the value is its code in the chunk's ``pop`` array."""

    ORDINARY = 0
    UNHAPPY_CUSTOMER = 1
    EXTORTION_CREW = 2
    POWER_LIKER = 3
    AUTOMATED_LIKER = 4
    AUTOMATED_LIKER_EVASIVE = 5
    # The Dianping profile (difficulty realistic and hard only).
    HEAVY_LIKER = 6
    HEAVY_LIKER_TOOL = 7

    @property
    def label(self) -> str:
        """The name written to ``_truth/populations.parquet``."""
        return self.name.lower()


# Names by code, as written to the truth file.
POPULATIONS: tuple[str, ...] = tuple(p.label for p in Pop)

# Who abuses each risk; the fast humans that are the hard negatives of fake engagement.
ABUSIVE: dict[str, tuple[Pop, ...]] = {
    "extortion": (Pop.EXTORTION_CREW,),
    "fake_engagement": (Pop.AUTOMATED_LIKER, Pop.AUTOMATED_LIKER_EVASIVE, Pop.HEAVY_LIKER_TOOL),
}
FAST_HUMANS: tuple[Pop, ...] = (Pop.POWER_LIKER, Pop.HEAVY_LIKER)
