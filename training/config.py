"""Training configuration, typed: the embedded defaults (``defaults/train.toml``) merged with a user's file.

The TOML is the one place a default is written; the dataclasses below only
give the values types and names, so nothing in the code restates a default.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reviewguard.errors import ConfigError

PRESETS = ("yelp",)
_SECTIONS = {"seed", "split", "lightgbm", "calibration", "evaluation", "policy", "baselines", "risks"}


@dataclass(frozen=True)
class SplitConfig:
    train_share: float
    validation_share: float
    gap_days: float


@dataclass(frozen=True)
class EvaluationConfig:
    queue_k: int
    hard_negative_sources: tuple[str, ...]
    # Accounts each label of a source stands for (1 / its sampling rate).
    source_weights: dict[str, float]
    min_positives: int
    hard_negative_populations: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    target_precision: float
    requires_human: bool
    description: str


@dataclass(frozen=True)
class PolicyConfig:
    min_families_for_human: int
    top_k_reasons: int
    min_support: int
    actions: dict[str, tuple[ActionSpec, ...]]


@dataclass(frozen=True)
class RuleBaseline:
    name: str
    feature: str
    min: float


@dataclass(frozen=True)
class TrainConfig:
    seed: int
    split: SplitConfig
    # LightGBM's own parameters (its schema, passed through), plus n_estimators and early_stopping_rounds.
    lightgbm: dict[str, Any]
    calibration_method: str
    evaluation: EvaluationConfig
    policy: PolicyConfig
    rule_baselines: dict[str, tuple[RuleBaseline, ...]]
    # Features of risks declared by configuration (a new risk is configuration).
    risk_features: dict[str, tuple[str, ...]]
    # The merged TOML, logged to MLflow as the run's parameters.
    raw: dict[str, Any]

    def actions(self, risk: str) -> tuple[ActionSpec, ...]:
        acts = self.policy.actions.get(risk)
        if not acts:
            raise ConfigError(f"no policy actions for risk {risk!r}: add [[policy.{risk}]] entries to the config")
        return acts

    def baselines(self, risk: str) -> tuple[RuleBaseline, ...]:
        return self.rule_baselines.get(risk, ())


def default_config_text() -> str:
    return resources.files("reviewguard").joinpath("defaults/train.toml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the file at ``path`` (or a packaged preset: ``yelp``), then ``overrides``."""
    raw = tomllib.loads(default_config_text())
    if path is not None:
        raw = _merge(raw, _read_user_config(path))
    if overrides:
        raw = _merge(raw, overrides)
    return parse_config(raw)


def _read_user_config(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if str(path) in PRESETS:
        text = resources.files("reviewguard").joinpath(f"defaults/{path}.toml").read_text(encoding="utf-8")
    elif p.is_file():
        text = p.read_text(encoding="utf-8")
    else:
        raise ConfigError(f"config file {p} does not exist (packaged presets: {', '.join(PRESETS)})")
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    unknown = set(user) - _SECTIONS
    if unknown:
        raise ConfigError(f"{p}: unknown keys {sorted(unknown)}; known: {sorted(_SECTIONS)}")
    return user


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in override.items():
        # An empty table means "none" (e.g. no audit weights), not "keep the defaults".
        if isinstance(v, dict) and v and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_config(raw: dict[str, Any]) -> TrainConfig:
    """Type and check a merged configuration; a missing or wrong value is a ConfigError naming it."""
    try:
        split = SplitConfig(
            float(raw["split"]["train_share"]), float(raw["split"]["validation_share"]), float(raw["split"]["gap_days"])
        )
        ev = raw["evaluation"]
        evaluation = EvaluationConfig(
            queue_k=int(ev["queue_k"]),
            hard_negative_sources=tuple(ev["hard_negative_sources"]),
            source_weights={str(k): float(v) for k, v in ev["source_weights"].items()},
            min_positives=int(ev["min_positives"]),
            hard_negative_populations={k: tuple(v) for k, v in ev.get("hard_negative_populations", {}).items()},
        )
        pol = raw["policy"]
        policy = PolicyConfig(
            min_families_for_human=int(pol["min_families_for_human"]),
            top_k_reasons=int(pol["top_k_reasons"]),
            min_support=int(pol["min_support"]),
            actions={
                risk: tuple(
                    ActionSpec(
                        str(a["name"]),
                        float(a["target_precision"]),
                        bool(a["requires_human"]),
                        a.get("description", ""),
                    )
                    for a in acts
                )
                for risk, acts in pol.items()
                if isinstance(acts, list)
            },
        )
        baselines = {
            risk: tuple(RuleBaseline(str(b["name"]), str(b["feature"]), float(b["min"])) for b in rules)
            for risk, rules in raw.get("baselines", {}).items()
        }
        cfg = TrainConfig(
            seed=int(raw["seed"]),
            split=split,
            lightgbm=dict(raw["lightgbm"]),
            calibration_method=str(raw["calibration"]["method"]),
            evaluation=evaluation,
            policy=policy,
            rule_baselines=baselines,
            risk_features={k: tuple(v["features"]) for k, v in raw.get("risks", {}).items()},
            raw=raw,
        )
    except KeyError as exc:
        raise ConfigError(f"configuration lacks {exc.args[0]!r} (see `reviewguard config` for every key)") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"configuration has a value of the wrong type: {exc}") from exc
    _check(cfg)
    return cfg


def _check(cfg: TrainConfig) -> None:
    s = cfg.split
    if not (0 < s.train_share < 1 and 0 < s.validation_share < 1 and s.train_share + s.validation_share < 1):
        raise ConfigError("split: train_share and validation_share must be in (0, 1) and sum below 1")
    if cfg.calibration_method not in ("platt", "isotonic"):
        raise ConfigError("calibration.method must be 'platt' or 'isotonic'")
    for risk, acts in cfg.policy.actions.items():
        targets = [a.target_precision for a in acts]
        if targets != sorted(targets):
            raise ConfigError(f"policy.{risk}: actions must go from least to most intrusive (rising target_precision)")
