"""Every parameter of the platform simulator, with its default and why.

docs/simulator.md explains the populations; numbers here are the one place
they are set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class PopulationShares:
    """Share of accounts in each behavioural population (the rest are ordinary)."""

    unhappy_customer: float = 0.04
    extortion_crew: float = 0.006
    power_liker: float = 0.012
    automated_liker: float = 0.006


@dataclass(frozen=True)
class SimConfig:
    accounts: int = 20_000
    days: int = 90
    seed: int = 7
    # Fixed start so a seed gives the same files on every machine and day.
    start: datetime = datetime(2026, 3, 1, tzinfo=UTC)
    # Accounts generated and written per chunk; bounds memory at any size.
    chunk_accounts: int = 50_000
    shares: PopulationShares = field(default_factory=PopulationShares)
    # Merchants: lognormal sizes, so a few big shops and a long tail of small ones.
    accounts_per_merchant: int = 40
    merchant_size_sigma: float = 1.6
    # Content that can be liked: this many items per account, Zipf popularity.
    # An account likes an item at most once, as on a real platform.
    content_per_account: int = 3
    content_zipf: float = 0.7
    # Ordinary behaviour.
    orders_per_account_90d: float = 3.0
    review_rate: float = 0.35
    ordinary_liker_share: float = 0.5
    # Automated likers: share that evade detection (jitter, some opening of
    # content); grows linearly over the period (drift).
    evasive_share_start: float = 0.2
    evasive_share_end: float = 0.55
    # Labelling: who the platform looked at, with what delay and noise.
    detect_rate: float = 0.72
    hard_negative_review_rate: float = 0.5
    random_audit_rate: float = 0.04
    appeal_overturn_rate: float = 0.12
    label_noise: float = 0.02

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        return d
