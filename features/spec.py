"""What a feature declaration holds, and the vocabulary it uses.

Two words that used to share the name "family" are kept apart here:

- the **evidence family** (``Feature.evidence``, one of :data:`EVIDENCE_FAMILIES`):
  which independent kind of evidence a feature is. The policy's two-families
  rule counts these; ``Feature.family`` is an alias kept for callers outside
  this package;
- the **compute group** (``Feature.group``, a :class:`Group`): which Ibis query
  computes it. One query gives several features, possibly of several evidence
  families (the like-timing query also gives the "opening" features).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis

    from reviewguard.reader import Dataset

# Evidence families: signals from different families are independent kinds of
# evidence. A heavy sanction needs at least two families among the top reasons
# (a fast human trips "volume" alone; a bot trips volume, timing and opening).
EVIDENCE_FAMILIES = {
    "volume": "how many likes, and how fast",
    "timing": "when likes happen and how regular the gaps are",
    "opening": "whether content was opened before the like",
    "coordination": "acting together with other accounts (same items, devices, addresses)",
    "audience": "whom the likes go to",
    "reviews": "negative reviews and their timing",
    "messages": "what the account writes to merchants",
    "money": "money merchants paid outside orders",
    "review_fix": "reviews deleted or raised after a payment",
    "reports": "merchants' complaints about the account",
    "account": "the account's own standing (age, level, verification, orders)",
    "review_context": "how the account's reviews sit among the product's other reviews "
    "(deviation, earliness, popularity)",
    "enforcement": "what the platform already did to the account for the risk, and whether the behaviour "
    "went on after it (policy input, never a model feature)",
}
# Context, not behaviour: it informs the score (or the policy) but never counts
# as one of the independent kinds of evidence a human-reviewed action needs.
CONTEXT_FAMILIES = frozenset({"account", "enforcement"})

FE = ("fake_engagement",)
EX = ("extortion",)
BOTH = ("fake_engagement", "extortion")
RS = ("review_spam",)

# A compute group's query: the dataset and the cutoffs in, one row per cutoff out
# (``account_id``, ``as_of`` and some of the group's features; accounts without
# events may be absent).
Compute = Callable[["Dataset", "ibis.Table"], "ibis.Table"]
# The same for a group whose features cost apart: it is told which of them are asked for and
# computes those (and may leave the others out of its result).
ComputeSome = Callable[["Dataset", "ibis.Table", frozenset[str]], "ibis.Table"]


@dataclass(frozen=True)
class Group:
    """One query that computes several features."""

    name: str
    compute: Compute
    # Set when asking for some of the group's features costs less than asking for all.
    compute_some: ComputeSome | None = None

    def compute_for(self, ds: Dataset, cutoffs: ibis.Table, wanted: frozenset[str]) -> ibis.Table:
        """The group's result with at least the ``wanted`` features among its columns."""
        if self.compute_some is None:
            return self.compute(ds, cutoffs)
        return self.compute_some(ds, cutoffs, wanted)


@dataclass(frozen=True, kw_only=True)
class Feature:
    """Every fact about one feature, in one place."""

    name: str
    # The risks whose models (or policies, when ``in_model`` is false) use it.
    risks: tuple[str, ...]
    evidence: str
    group: str
    unit: str
    description_en: str
    description_zh: str
    # ``str.format`` strings with ``{value}`` (the account's number) and ``{p99}``
    # (the 99th percentile of the training population).
    template_en: str
    template_zh: str
    # The LightGBM monotone constraint. +1: higher means more risk; -1: higher
    # means less risk; 0: no constraint.
    direction: int
    direction_reason: str
    # The tables the feature is computed from: all of them, or with ``any_table``
    # at least one. When they are missing the feature is ``when_table_missing``
    # (null unless declared otherwise).
    tables: tuple[str, ...]
    any_table: bool = False
    when_table_missing: float | None = None
    # A count: 0 (not null) when the tables exist but the account has no events in them.
    zero_fill: bool = False
    # False: an input of the policy, computed and returned, never a model feature.
    in_model: bool = True
    # Not point in time: the value is read as the data holds it today, whatever the
    # cutoff (why, in words). None: only events before the cutoff count.
    snapshot: str | None = None

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"{self.name}: direction must be -1, 0 or +1")
        if self.evidence not in EVIDENCE_FAMILIES:
            raise ValueError(f"{self.name}: unknown evidence family {self.evidence!r}")
        if not self.tables or not self.risks:
            raise ValueError(f"{self.name}: declare its tables and risks")

    @property
    def family(self) -> str:
        """The evidence family (the name callers outside the package used)."""
        return self.evidence

    def computable(self, present: set[str]) -> bool:
        """Whether the tables it needs are among ``present``."""
        have = [t in present for t in self.tables]
        return any(have) if self.any_table else all(have)
