"""Training configuration, typed: the embedded defaults (``defaults/train.toml``) merged with a user's file.

The TOML is the one place a default is written; the dataclasses below only
give the values types and names, so nothing in the code restates a default.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from reviewguard.errors import ConfigError

PRESETS = ("yelp",)
_SECTIONS = {"seed", "backtest", "unlabelled", "lightgbm", "calibration", "evaluation", "policy", "baselines", "risks"}
PU_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class BacktestConfig:
    folds: int
    gap_days: float
    early_stopping_share: float
    min_positives: int
    max_accounts_per_link: int


@dataclass(frozen=True)
class UnlabelledConfig:
    mode: str
    per_label: int
    max_rows: int


@dataclass(frozen=True)
class CalibrationConfig:
    method: str
    interval: float


@dataclass(frozen=True)
class EvaluationConfig:
    queue_k: int
    hard_negative_sources: tuple[str, ...]
    # Accounts each label of a source stands for (1 / its sampling rate).
    source_weights: dict[str, float]
    hard_negative_populations: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    target_precision: float
    requires_human: bool
    description: str
    max_share: float
    requires_prior_remedy: bool
    # The calibrated probability an account must have at the threshold itself.
    min_probability: float = 0.5


@dataclass(frozen=True)
class PolicyConfig:
    min_families_for_human: int
    top_k_reasons: int
    max_single_feature_share: float
    confidence: float
    actions: dict[str, tuple[ActionSpec, ...]]


@dataclass(frozen=True)
class RuleBaseline:
    name: str
    feature: str
    min: float


@dataclass(frozen=True)
class TrainConfig:
    seed: int
    backtest: BacktestConfig
    unlabelled: UnlabelledConfig
    # LightGBM's own parameters (its schema, passed through), plus n_estimators (the most trees allowed).
    lightgbm: dict[str, Any]
    calibration: CalibrationConfig
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
    """Defaults, then ``path``, then ``overrides``.

    ``path``: a str that is a preset's bare name (``"yelp"``) is that packaged
    preset, even when a file of that name exists in the working directory;
    any other str, and every ``Path``, is a TOML file (``"./yelp"`` is the file).
    """
    raw = tomllib.loads(default_config_text())
    if path is not None:
        raw = _merge(raw, _read_user_config(path))
    if overrides:
        raw = _merge(raw, overrides)
    return parse_config(raw)


def is_preset(path: str | Path) -> bool:
    """Whether ``path`` names a packaged preset: a str spelt as the bare name, never a ``Path``.

    The spelling decides, not the working directory: a file that happens to be called ``yelp``
    must not silently replace the preset, nor the preset a file someone meant (``./yelp``).
    """
    return isinstance(path, str) and path in PRESETS


def _read_user_config(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if is_preset(path):
        text = resources.files("reviewguard").joinpath(f"defaults/{path}.toml").read_text(encoding="utf-8")
    elif p.is_dir():
        raise ConfigError(f"config file {path}: is a folder, not a TOML file")
    elif p.is_file():
        try:
            text = p.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    else:
        raise ConfigError(f"config file {path} does not exist (packaged presets: {', '.join(PRESETS)})")
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
        bt = raw["backtest"]
        backtest = BacktestConfig(
            folds=int(bt["folds"]),
            gap_days=float(bt["gap_days"]),
            early_stopping_share=float(bt["early_stopping_share"]),
            min_positives=int(bt["min_positives"]),
            max_accounts_per_link=int(bt["max_accounts_per_link"]),
        )
        pu = raw["unlabelled"]
        unlabelled = UnlabelledConfig(str(pu["mode"]), int(pu["per_label"]), int(pu["max_rows"]))
        ev = raw["evaluation"]
        evaluation = EvaluationConfig(
            queue_k=int(ev["queue_k"]),
            hard_negative_sources=tuple(ev["hard_negative_sources"]),
            source_weights={str(k): float(v) for k, v in ev["source_weights"].items()},
            hard_negative_populations={k: tuple(v) for k, v in ev.get("hard_negative_populations", {}).items()},
        )
        pol = raw["policy"]
        policy = PolicyConfig(
            min_families_for_human=int(pol["min_families_for_human"]),
            top_k_reasons=int(pol["top_k_reasons"]),
            max_single_feature_share=float(pol["max_single_feature_share"]),
            confidence=float(pol["confidence"]),
            actions={risk: _actions(risk, acts) for risk, acts in pol.items() if risk not in _POLICY_SCALARS},
        )
        baselines = {
            risk: tuple(RuleBaseline(str(b["name"]), str(b["feature"]), float(b["min"])) for b in rules)
            for risk, rules in raw.get("baselines", {}).items()
        }
        cfg = TrainConfig(
            seed=int(raw["seed"]),
            backtest=backtest,
            unlabelled=unlabelled,
            lightgbm=dict(raw["lightgbm"]),
            calibration=CalibrationConfig(str(raw["calibration"]["method"]), float(raw["calibration"]["interval"])),
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


# The [policy] keys that are settings; every other key is a risk's ladder.
_POLICY_SCALARS = frozenset({"min_families_for_human", "top_k_reasons", "max_single_feature_share", "confidence"})
_ACTION_KEYS = frozenset(
    {
        "name",
        "target_precision",
        "requires_human",
        "description",
        "max_share",
        "requires_prior_remedy",
        "min_probability",
    }
)


def _actions(risk: str, acts: Any) -> tuple[ActionSpec, ...]:
    """A risk's ladder, each action's mistakes named: a ladder that is not a list of actions, a key
    an action lacks or does not know (a typo would silently leave a default in force), a repeated
    name (the fitted policy is keyed by name: one of the two would be lost)."""
    if not isinstance(acts, list) or not acts or not all(isinstance(a, dict) for a in acts):
        raise ConfigError(f"policy.{risk}: must be a non-empty list of actions ([[policy.{risk}]] tables)")
    out = []
    for k, a in enumerate(acts):
        where = f"policy.{risk}.{a.get('name', f'action {k + 1}')}"
        unknown = sorted(set(a) - _ACTION_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(_ACTION_KEYS)}")
        try:
            out.append(_action(a))
        except KeyError as exc:
            raise ConfigError(f"{where}: lacks {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: a value of the wrong type: {exc}") from exc
    names = [a.name for a in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"policy.{risk}: action names must be unique; repeated: {', '.join(repeated)}")
    return tuple(out)


def _action(a: dict[str, Any]) -> ActionSpec:
    return ActionSpec(
        name=str(a["name"]),
        target_precision=float(a["target_precision"]),
        requires_human=bool(a["requires_human"]),
        description=str(a.get("description", "")),
        max_share=float(a["max_share"]),
        # A moderator's action needs a lighter remedy first unless the configuration waives it.
        requires_prior_remedy=bool(a.get("requires_prior_remedy", a["requires_human"])),
        min_probability=float(a.get("min_probability", 0.5)),
    )


def _check(cfg: TrainConfig) -> None:
    bt = cfg.backtest
    if bt.folds < 2:
        raise ConfigError("backtest.folds must be at least 2")
    if not 0 < bt.early_stopping_share < 1:
        raise ConfigError("backtest.early_stopping_share must be in (0, 1)")
    if bt.gap_days < 0 or bt.min_positives < 2 or bt.max_accounts_per_link < 2:
        raise ConfigError("backtest: gap_days >= 0, min_positives >= 2 and max_accounts_per_link >= 2")
    if cfg.unlabelled.mode not in PU_MODES:
        raise ConfigError(f"unlabelled.mode must be one of {', '.join(PU_MODES)}")
    if cfg.calibration.method != "isotonic":
        raise ConfigError("calibration.method must be 'isotonic' (the only method with honest intervals)")
    if not 0.5 <= cfg.calibration.interval < 1 or not 0.5 <= cfg.policy.confidence < 1:
        raise ConfigError("calibration.interval and policy.confidence must be in [0.5, 1)")
    if not 0 < cfg.policy.max_single_feature_share <= 1:
        raise ConfigError("policy.max_single_feature_share must be in (0, 1]")
    for risk, acts in cfg.policy.actions.items():
        targets = [a.target_precision for a in acts]
        if targets != sorted(targets):
            raise ConfigError(f"policy.{risk}: actions must go from least to most intrusive (rising target_precision)")
        for a in acts:
            if not 0 < a.max_share <= 1:
                raise ConfigError(f"policy.{risk}.{a.name}: max_share must be in (0, 1]")
        for lighter, heavier in pairwise(acts):
            # A budget counts every account at or above the action's threshold, heavier actions
            # included: a heavier action allowed as many accounts can take all of the lighter one's
            # and leave it no band, so the ladder skips its milder rung (the 200k reference run:
            # suspension_review at 0.1995% of 0.2%, restrict_liking disabled). 1 means no budget.
            if heavier.max_share >= lighter.max_share and lighter.max_share < 1:
                raise ConfigError(
                    f"policy.{risk}.{heavier.name}: max_share {heavier.max_share:g} must be below the lighter "
                    f"{lighter.name}'s {lighter.max_share:g} (a budget counts every account at or above the "
                    "action's threshold, so an equal budget lets the heavier action leave the lighter one none)"
                )
