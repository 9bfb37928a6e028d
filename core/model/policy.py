"""The graduated policy as a typed value: the ladder of actions per risk and how a score climbs it.

One place for the ladder: training fits the thresholds (``reviewguard.training.thresholds``),
the predictor chooses an action with :meth:`RiskPolicy.choose`, and a case file says what would
lower the action with :meth:`RiskPolicy.what_would_lower`. The JSON form (``policy.json`` in a
bundle) is :meth:`Policy.to_dict`; its content hash is the policy version every score row names.

How a score becomes an action (docs/policy.md):

- thresholds are on the model's margin (``raw_score``, the log-odds the trees add up), not on
  the calibrated probability: the calibrator's isotonic steps give many accounts one probability,
  and a threshold inside a step could not tell them apart (the old ladders collapsed onto one
  step). Each threshold also records the calibrated probability at it (``threshold_score``);
- each enabled action owns a band of margins, from its threshold up to the next
  heavier enabled action's; thresholds strictly increase up the ladder;
- a data-level remedy without a band of its own (its band could not reach its
  target) still applies above the next heavier enabled threshold: precision
  there is at least the heavier action's target, which is above its own;
- an action that needs a human is proposed only when the evidence passes every
  gate: enough independent evidence families among the policy's top reasons,
  no single feature carrying most of the evidence, and (unless the action
  waives it) a lighter remedy for the same risk applied earlier with the
  behaviour going on after it. Otherwise the account gets the heaviest
  data-level remedy it reaches, and the note says why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

NO_ACTION = "none"


@dataclass(frozen=True)
class Evidence:
    """What the human gates look at for one account and risk."""

    # Evidence families among the policy's top reasons; None when they were not looked at.
    families: frozenset[str] | None
    # The largest single feature's share of the positive evidence (sum of positive contributions).
    top_feature: str | None = None
    top_share: float | None = None
    # A lighter remedy for this risk was applied before, and the behaviour went on after it.
    prior_remedy: bool = False


@dataclass(frozen=True)
class ActionRule:
    """One rung of a risk's ladder, with the threshold training fitted for it (None: no band of its own)."""

    name: str
    description: str
    requires_human: bool
    target_precision: float
    # On the model's margin (raw score); ``threshold_score`` is the calibrated probability there.
    threshold: float | None
    threshold_score: float | None = None
    # The largest share of all accounts at or above the threshold (the action budget).
    max_share: float = 1.0
    requires_prior_remedy: bool = False
    # Measured when fitted: the band's out-of-fold precision, its lower confidence bound, its labels,
    # and the share of the reference population at or above the threshold.
    band_precision: float | None = None
    band_precision_low: float | None = None
    band_labels: int = 0
    population_share: float | None = None
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
            "threshold_score": self.threshold_score,
            "max_share": self.max_share,
            "requires_prior_remedy": self.requires_prior_remedy,
            "band_precision": self.band_precision,
            "band_precision_low": self.band_precision_low,
            "band_labels": self.band_labels,
            "population_share": self.population_share,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActionRule:
        def opt(key: str) -> float | None:
            return None if d.get(key) is None else float(d[key])

        return cls(
            name=str(d["name"]),
            description=str(d.get("description", "")),
            requires_human=bool(d["requires_human"]),
            target_precision=float(d["target_precision"]),
            threshold=opt("threshold"),
            threshold_score=opt("threshold_score"),
            max_share=float(d.get("max_share", 1.0)),
            requires_prior_remedy=bool(d.get("requires_prior_remedy", False)),
            band_precision=opt("band_precision"),
            band_precision_low=opt("band_precision_low"),
            band_labels=int(d.get("band_labels", 0)),
            population_share=opt("population_share"),
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

    def reach(self, action: ActionRule) -> float | None:
        """The margin from which ``action`` can apply: its threshold, or for a data-level remedy
        without a band of its own, the next heavier enabled threshold."""
        if action.threshold is not None:
            return action.threshold
        if action.requires_human:
            return None
        i = self.actions.index(action)
        return next((a.threshold for a in self.actions[i + 1 :] if a.threshold is not None), None)

    @property
    def lowest_threshold(self) -> float:
        """The margin from which some action applies (inf when every action is disabled)."""
        return min((a.threshold for a in self.enabled if a.threshold is not None), default=float("inf"))

    @property
    def lowest_human_threshold(self) -> float:
        """The margin from which an action that needs a human can apply."""
        return min(
            (a.threshold for a in self.enabled if a.requires_human and a.threshold is not None), default=float("inf")
        )

    def choose(
        self, margin: float, evidence: Evidence, *, min_families: int, max_single_feature_share: float
    ) -> tuple[ActionRule | None, str]:
        """The heaviest action the margin reaches whose gates the evidence passes, and a note
        saying why a heavier one was not proposed ("" when none was held back)."""
        reached = [a for a in self.actions if (t := self.reach(a)) is not None and margin >= t]
        note = ""
        for a in reversed(reached):
            if not a.requires_human:
                return a, note
            held = self._held_back(a, evidence, min_families, max_single_feature_share)
            if held is None:
                return a, note
            note = note or f"{a.name} not proposed: {held}"
        return None, note

    def _held_back(
        self, action: ActionRule, evidence: Evidence, min_families: int, max_single_feature_share: float
    ) -> str | None:
        if evidence.families is None or len(evidence.families) < min_families:
            fams = sorted(evidence.families or ())
            return (
                f"{len(fams)} evidence famil{'y' if len(fams) == 1 else 'ies'} among the top reasons"
                + (f" ({', '.join(fams)})" if fams else "")
                + f", {min_families} needed"
            )
        if evidence.top_share is not None and evidence.top_share > max_single_feature_share:
            return (
                f"one feature ({evidence.top_feature}) carries {evidence.top_share:.0%} of the evidence, "
                f"more than {max_single_feature_share:.0%}: one fact is not a case"
            )
        if action.requires_prior_remedy and not evidence.prior_remedy:
            return f"no lighter remedy for {self.risk} was applied before with the behaviour going on after it"
        return None

    def what_would_lower(self, action: str, margin: float) -> str:
        """In words: the margin (and calibrated score) below which the action would be lighter."""
        enabled = [a for a in self.enabled if a.threshold is not None]

        def at(a: ActionRule) -> str:
            score = f", score {a.threshold_score:.2f}" if a.threshold_score is not None else ""
            return f"{a.threshold:.3f}{score}"

        if action == NO_ACTION:
            nxt = next((a for a in enabled if a.threshold is not None and a.threshold > margin), None)
            if nxt is None:
                return "no action"
            return f"no action; the lightest action, {nxt.name}, starts at a margin of {at(nxt)}"
        names = [a.name for a in enabled]
        idx = names.index(action) if action in names else -1
        if idx <= 0:
            return f"a margin below {at(enabled[0])} would mean no action" if enabled else ""
        below = enabled[idx - 1]
        return (
            f"a margin below {at(enabled[idx])} would lower the action to {below.name}; "
            f"below {at(enabled[0])}, no action"
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
    # An action that needs a human also needs this many evidence families among the policy's
    # top reasons (``top_k_reasons``: a fact of the policy, never a display option), and no
    # single feature above ``max_single_feature_share`` of the evidence.
    min_families_for_human: int
    top_k_reasons: int
    max_single_feature_share: float = 1.0
    version: str = field(default="")

    def __post_init__(self) -> None:
        if not self.version:
            object.__setattr__(self, "version", self._digest())

    def _body(self) -> dict[str, Any]:
        return {
            "min_families_for_human": self.min_families_for_human,
            "top_k_reasons": self.top_k_reasons,
            "max_single_feature_share": self.max_single_feature_share,
            "risks": {risk: p.to_dict() for risk, p in self.risks.items()},
        }

    def _digest(self) -> str:
        return "policy-" + hashlib.sha256(json.dumps(self._body(), sort_keys=True).encode()).hexdigest()[:12]

    def __getitem__(self, risk: str) -> RiskPolicy:
        return self.risks[risk]

    def choose(self, risk: str, margin: float, evidence: Evidence) -> tuple[ActionRule | None, str]:
        return self.risks[risk].choose(
            margin,
            evidence,
            min_families=self.min_families_for_human,
            max_single_feature_share=self.max_single_feature_share,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, **self._body()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        return cls(
            risks={risk: RiskPolicy.from_dict(p) for risk, p in d["risks"].items()},
            min_families_for_human=int(d["min_families_for_human"]),
            top_k_reasons=int(d["top_k_reasons"]),
            max_single_feature_share=float(d.get("max_single_feature_share", 1.0)),
            version=str(d["version"]),
        )


@dataclass(frozen=True)
class ActionRate:
    """One action's share of the scored accounts (that action or a heavier one) against its budget."""

    risk: str
    action: str
    accounts: int
    share: float
    max_share: float

    @property
    def over_budget(self) -> bool:
        """More than twice the budget: a model or data gone wrong, not a busy day."""
        return self.share > 2 * self.max_share


def action_rates(policy: Policy, counts: dict[str, dict[str, int]], total: int) -> list[ActionRate]:
    """Per risk and action, the share of ``total`` accounts given that action or a heavier one.

    ``counts``: risk -> action -> accounts (as scored). The budget (``max_share``) bounds the share
    at or above an action's threshold, so heavier actions count towards a lighter one's share.
    """
    out: list[ActionRate] = []
    for risk, ladder in sorted(policy.risks.items()):
        got = counts.get(risk, {})
        heavier = 0
        for a in reversed(ladder.actions):
            heavier += int(got.get(a.name, 0))
            out.append(ActionRate(risk, a.name, heavier, heavier / total if total else 0.0, a.max_share))
    return out
