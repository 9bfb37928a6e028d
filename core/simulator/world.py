"""What every chunk shares: merchants, content, the period, people's hours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reviewguard.simulator.config import SimConfig
from reviewguard.simulator.timing import DAY, HOUR, HUMAN_HOUR_UTC


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
