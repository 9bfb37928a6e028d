"""Every parameter of the platform simulator, with its default and why.

docs/simulator.md explains the populations; numbers here are the one place
they are set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from reviewguard.simulator.difficulty import DIFFICULTIES, PRESETS, Difficulty, Realism

LabelRegime = Literal["audit", "complaints"]
LABEL_REGIMES: tuple[str, ...] = ("audit", "complaints")
# The smallest platform the simulator writes: 50 accounts (the world draws 50 distinct writers of
# content from them; fewer failed inside NumPy), two weeks.
MIN_ACCOUNTS = 50
MIN_DAYS = 14


def check_size(accounts: int, days: int, seed: int, *, prefix: str = "") -> None:
    """The simulator's bounds: at least ``MIN_ACCOUNTS`` accounts and ``MIN_DAYS`` days, a seed of 0
    or more (NumPy refuses a negative one). ``prefix`` spells the parameters as the caller's user
    does (``"--"``: the command line's ``--accounts``, ``--days``, ``--seed``), so one rule has one
    message; a ``ReviewguardError`` names the first parameter out of bounds."""
    from reviewguard.errors import ReviewguardError

    for name, value, least in (("accounts", accounts, MIN_ACCOUNTS), ("days", days, MIN_DAYS), ("seed", seed, 0)):
        if value < least:
            raise ReviewguardError(f"{prefix}{name} must be at least {least}, not {value}")


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
    # Who gets labelled: "audit" (abusers found at detect_rate, hard negatives
    # reviewed, plus a random audit of everyone) or "complaints" (only what
    # merchants' reports, users' complaints and the platform's like alerts put
    # in a moderator's queue: a selected sample, no random audit).
    label_regime: LabelRegime = "audit"
    # How much the populations overlap (difficulty.py): "realistic" (the default:
    # no single feature separates either risk above 0.90 AUC on the reviewed
    # labels) and "hard" add the overlaps of issue 15; "easy" is the first
    # simulator, byte-identical, where every population has a tell-tale.
    difficulty: Difficulty = "realistic"
    # Overlaps of your own instead of the difficulty's preset (None: the preset).
    overlaps: Realism | None = None
    # Complaints regime: share of queued accounts a moderator decides on, days
    # from the complaint to the decision (lognormal median, capped), and the
    # chance that a confirmed case pulls in each other member of its crew or
    # bot group.
    complaint_review_rate: float = 0.8
    complaint_decision_days: float = 6.0
    case_expansion_rate: float = 0.5
    # The platform's like alert: an account's day at or above this many likes;
    # alerts are many, so moderators take up fewer of them than of complaints.
    like_alert_per_day: int = 1000
    alert_review_rate: float = 0.6
    # Users' complaints about likes (per bot group, per power liker, per other liker).
    like_complaint_rate_bots: float = 0.3
    like_complaint_rate_power: float = 0.1
    like_complaint_rate_other: float = 0.002
    # Enforcement history: a lighter remedy before a labelled abuser's decision,
    # a human action after it, remedies for unlabelled abusers the platform's
    # rules caught, and mistaken remedies on accounts later cleared.
    remedy_rate: float = 0.85
    remedy_stops_share: float = 0.25
    human_action_rate: float = 0.75
    human_without_remedy_rate: float = 0.15
    top_action_rate: float = 0.3
    unlabelled_remedy_rate: float = 0.3
    mistaken_remedy_rate: float = 0.25
    appeal_rate: float = 0.2

    def __post_init__(self) -> None:
        if self.label_regime not in LABEL_REGIMES:
            raise ValueError(f"label_regime must be one of {LABEL_REGIMES}, not {self.label_regime!r}")
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, not {self.difficulty!r}")

    @property
    def realism(self) -> Realism:
        """The overlaps: ``overlaps`` when given, else the difficulty's preset."""
        return self.overlaps if self.overlaps is not None else PRESETS[self.difficulty]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        d["realism"] = self.realism.to_dict()
        return d
