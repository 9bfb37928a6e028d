"""The graduated policy as a typed value: the ladder of actions per risk and how a score climbs it.

One place for the ladder: training fits the thresholds (``reviewguard.training.thresholds``),
the predictor chooses an action with :meth:`RiskPolicy.choose`, and a case file says what would
lower the action with :meth:`RiskPolicy.what_would_lower`. The JSON form (``policy.json`` in a
bundle) is :meth:`Policy.to_dict`; its content hash is the policy version every score row names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

NO_ACTION = "none"


@dataclass(frozen=True)
class ActionRule:
    """One rung of a risk's ladder, with the threshold training fitted for it (None: disabled)."""

    name: str
    description: str
    requires_human: bool
    target_precision: float
    threshold: float | None
    validation_precision: float | None = None
    validation_true_positives: int = 0
    note: str = ""

    @property
    def enabled(self) -> bool:
        return self.threshold is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "requires_human": self.requires_human,
            "target_precision": self.target_precision,
            "threshold": self.threshold,
            "validation_precision": self.validation_precision,
            "validation_true_positives": self.validation_true_positives,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActionRule:
        return cls(
            name=str(d["name"]),
            description=str(d.get("description", "")),
            requires_human=bool(d["requires_human"]),
            target_precision=float(d["target_precision"]),
            threshold=None if d["threshold"] is None else float(d["threshold"]),
            validation_precision=None if d.get("validation_precision") is None else float(d["validation_precision"]),
            validation_true_positives=int(d.get("validation_true_positives", 0)),
            note=str(d.get("note", "")),
        )


@dataclass(frozen=True)
class RiskPolicy:
    """The actions of one risk, from least to most intrusive."""

    risk: str
    actions: tuple[ActionRule, ...]

    @property
    def enabled(self) -> tuple[ActionRule, ...]:
        return tuple(a for a in self.actions if a.enabled)

    def action(self, name: str) -> ActionRule:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(f"risk {self.risk} has no action {name!r}")

    @property
    def lowest_threshold(self) -> float:
        """The score from which some action applies (inf when every action is disabled)."""
        return min((a.threshold for a in self.enabled if a.threshold is not None), default=float("inf"))

    @property
    def lowest_human_threshold(self) -> float:
        """The score from which an action that needs a human can apply."""
        return min(
            (a.threshold for a in self.enabled if a.requires_human and a.threshold is not None), default=float("inf")
        )

    def choose(self, score: float, evidence: set[str] | None, min_families: int) -> ActionRule | None:
        """The heaviest action whose threshold the score reaches.

        An action that needs a human also needs ``min_families`` independent
        evidence families among the top reasons; without them the account gets
        the heaviest data-level remedy it reaches instead (speed alone is not proof).
        ``evidence`` None means the families were not looked at: no human action.
        """
        reached = [a for a in self.enabled if a.threshold is not None and score >= a.threshold]
        for a in reversed(reached):
            if not a.requires_human:
                return a
            if evidence is not None and len(evidence) >= min_families:
                return a
        return None

    def what_would_lower(self, action: str, score: float) -> str:
        """In words: the score below which the action would be lighter, down to no action."""
        enabled = [a for a in self.enabled if a.threshold is not None]
        if action == NO_ACTION:
            nxt = next((a for a in enabled if a.threshold is not None and a.threshold > score), None)
            if nxt is None:
                return "no action"
            return f"no action; the lightest action, {nxt.name}, starts at {nxt.threshold:.4f}"
        names = [a.name for a in enabled]
        idx = names.index(action) if action in names else -1
        if idx <= 0:
            return f"a score below {enabled[0].threshold:.4f} would mean no action" if enabled else ""
        below = enabled[idx - 1]
        return (
            f"a score below {enabled[idx].threshold:.4f} would lower the action to {below.name}; "
            f"below {enabled[0].threshold:.4f}, no action"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"risk": self.risk, "actions": [a.to_dict() for a in self.actions]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RiskPolicy:
        return cls(str(d["risk"]), tuple(ActionRule.from_dict(a) for a in d["actions"]))


@dataclass(frozen=True)
class Policy:
    """Every risk's ladder plus the rules that hold across them."""

    risks: dict[str, RiskPolicy]
    # An action that needs a human also needs this many evidence families among the
    # policy's top reasons (``top_k_reasons``: a fact of the policy, never a display option).
    min_families_for_human: int
    top_k_reasons: int
    version: str = field(default="")

    def __post_init__(self) -> None:
        if not self.version:
            object.__setattr__(self, "version", self._digest())

    def _body(self) -> dict[str, Any]:
        return {
            "min_families_for_human": self.min_families_for_human,
            "top_k_reasons": self.top_k_reasons,
            "risks": {risk: p.to_dict() for risk, p in self.risks.items()},
        }

    def _digest(self) -> str:
        return "policy-" + hashlib.sha256(json.dumps(self._body(), sort_keys=True).encode()).hexdigest()[:12]

    def __getitem__(self, risk: str) -> RiskPolicy:
        return self.risks[risk]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, **self._body()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        return cls(
            risks={risk: RiskPolicy.from_dict(p) for risk, p in d["risks"].items()},
            min_families_for_human=int(d["min_families_for_human"]),
            top_k_reasons=int(d["top_k_reasons"]),
            version=str(d["version"]),
        )
