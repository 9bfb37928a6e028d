"""Training configuration, typed: the embedded defaults (``defaults/train.toml``) merged with a user's file.

The TOML is the one place a default is written; the dataclasses below only
give the values types and names, so nothing in the code restates a default.
"""

from __future__ import annotations

import copy
import json
import math
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
    loss_fall_share: float
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
    bt = _table(raw, "backtest")
    backtest = BacktestConfig(
        folds=_integer(bt, "folds", "backtest"),
        gap_days=_number(bt, "gap_days", "backtest"),
        early_stopping_share=_number(bt, "early_stopping_share", "backtest"),
        loss_fall_share=_number(bt, "loss_fall_share", "backtest"),
        min_positives=_integer(bt, "min_positives", "backtest"),
        max_accounts_per_link=_integer(bt, "max_accounts_per_link", "backtest"),
    )
    pu = _table(raw, "unlabelled")
    unlabelled = UnlabelledConfig(
        _string(pu, "mode", "unlabelled"),
        _integer(pu, "per_label", "unlabelled"),
        _integer(pu, "max_rows", "unlabelled"),
    )
    ev = _table(raw, "evaluation")
    weights = _table(
        ev, "source_weights", "evaluation", what="a table of label source = weight ({ random_audit = 25.0 })"
    )
    populations = _table(ev, "hard_negative_populations", "evaluation", {}, what="a table of risk = [populations]")
    evaluation = EvaluationConfig(
        queue_k=_integer(ev, "queue_k", "evaluation"),
        hard_negative_sources=_strings(ev, "hard_negative_sources", "evaluation"),
        source_weights={k: _number(weights, k, "evaluation.source_weights") for k in weights},
        hard_negative_populations={
            k: _strings(populations, k, "evaluation.hard_negative_populations") for k in populations
        },
    )
    pol = _table(raw, "policy")
    policy = PolicyConfig(
        min_families_for_human=_integer(pol, "min_families_for_human", "policy"),
        top_k_reasons=_integer(pol, "top_k_reasons", "policy"),
        max_single_feature_share=_number(pol, "max_single_feature_share", "policy"),
        confidence=_number(pol, "confidence", "policy"),
        actions={risk: _actions(risk, acts) for risk, acts in pol.items() if risk not in _POLICY_SCALARS},
    )
    baselines = _table(raw, "baselines", "", {}, what="a table of risk = [[rules]]")
    risks = _table(raw, "risks", "", {}, what="a table of [risks.NAME] tables")
    cal = _table(raw, "calibration")
    cfg = TrainConfig(
        seed=_integer(raw, "seed", ""),
        backtest=backtest,
        unlabelled=unlabelled,
        lightgbm=dict(_table(raw, "lightgbm")),
        calibration=CalibrationConfig(_string(cal, "method", "calibration"), _number(cal, "interval", "calibration")),
        evaluation=evaluation,
        policy=policy,
        rule_baselines={risk: _baselines(risk, rules) for risk, rules in baselines.items()},
        risk_features={k: _strings(_table(risks, k, "risks"), "features", f"risks.{k}") for k in risks},
        raw=raw,
    )
    _check(cfg)
    return cfg


# Typed reads: TOML already gives each value a type, so a value of another type is a mistake
# to name, not to convert (`max_share = true` read as 1, `requires_human = "false"` as True,
# `folds = 2.5` as 2, `source_weights = 5` failing later as an AttributeError).
_REQUIRED: Any = object()


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _shown(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string", list: "a list", dict: "a table"}
    text = json.dumps(value, default=str, ensure_ascii=False)
    return f"{kind.get(type(value), type(value).__name__)} ({text[:80]})"


def _get(table: dict[str, Any], key: str, where: str, default: Any) -> Any:
    if key in table:
        return table[key]
    if default is _REQUIRED:
        if where:
            raise ConfigError(f"{where}: lacks {key!r} (see `reviewguard config` for every key)")
        raise ConfigError(f"configuration lacks {key!r} (see `reviewguard config` for every key)")
    return default


def _table(
    table: dict[str, Any], key: str, where: str = "", default: Any = _REQUIRED, *, what: str = "a table"
) -> dict[str, Any]:
    value = _get(table, key, where, default)
    if not isinstance(value, dict):
        raise ConfigError(f"{_name(where, key)} must be {what}, not {_shown(value)}")
    return value


def _number(table: dict[str, Any], key: str, where: str, default: Any = _REQUIRED) -> float:
    value = _get(table, key, where, default)
    # bool is an int in Python: refused by name, or `true` would be 1. TOML's nan passes every
    # range check written as a negated comparison (`gap_days < 0`).
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{_name(where, key)} must be a finite number, not {_shown(value)}")
    return float(value)


def _integer(table: dict[str, Any], key: str, where: str) -> int:
    value = _get(table, key, where, _REQUIRED)
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise ConfigError(f"{_name(where, key)} must be a whole number, not {_shown(value)}")
    return int(value)


def _boolean(table: dict[str, Any], key: str, where: str, default: Any = _REQUIRED) -> bool:
    value = _get(table, key, where, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{_name(where, key)} must be true or false, not {_shown(value)}")
    return value


def _string(table: dict[str, Any], key: str, where: str, default: Any = _REQUIRED) -> str:
    value = _get(table, key, where, default)
    if not isinstance(value, str):
        raise ConfigError(f"{_name(where, key)} must be a string, not {_shown(value)}")
    return value


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = _get(table, key, where, _REQUIRED)
    # A bare string is a list of its letters to tuple(): "appeal" would name six sources.
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{_name(where, key)} must be a list of strings, not {_shown(value)}")
    return tuple(value)


def _baselines(risk: str, rules: Any) -> tuple[RuleBaseline, ...]:
    where = f"baselines.{risk}"
    if not isinstance(rules, list) or not all(isinstance(b, dict) for b in rules):
        raise ConfigError(f"{where} must be a list of rules ([[{where}]] tables), not {_shown(rules)}")
    out = []
    for b in rules:
        name = _string(b, "name", where)
        out.append(RuleBaseline(name, _string(b, "feature", f"{where}.{name}"), _number(b, "min", f"{where}.{name}")))
    return tuple(out)


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
    an action lacks or does not know (a typo would silently leave a default in force), a value of
    the wrong type, a repeated name (the fitted policy is keyed by name: one of the two would be lost)."""
    if not isinstance(acts, list) or not acts or not all(isinstance(a, dict) for a in acts):
        raise ConfigError(f"policy.{risk}: must be a non-empty list of actions ([[policy.{risk}]] tables)")
    out = []
    for k, a in enumerate(acts):
        where = f"policy.{risk}.{a.get('name', f'action {k + 1}')}"
        unknown = sorted(set(a) - _ACTION_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(_ACTION_KEYS)}")
        out.append(_action(a, where))
    names = [a.name for a in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"policy.{risk}: action names must be unique; repeated: {', '.join(repeated)}")
    return tuple(out)


def _action(a: dict[str, Any], where: str) -> ActionSpec:
    requires_human = _boolean(a, "requires_human", where)
    return ActionSpec(
        name=_string(a, "name", where),
        target_precision=_number(a, "target_precision", where),
        requires_human=requires_human,
        description=_string(a, "description", where, ""),
        max_share=_number(a, "max_share", where),
        # A moderator's action needs a lighter remedy first unless the configuration waives it.
        requires_prior_remedy=_boolean(a, "requires_prior_remedy", where, requires_human),
        min_probability=_number(a, "min_probability", where, 0.5),
    )


def _check(cfg: TrainConfig) -> None:
    bt = cfg.backtest
    if bt.folds < 2:
        raise ConfigError("backtest.folds must be at least 2")
    if not 0 < bt.early_stopping_share < 1:
        raise ConfigError("backtest.early_stopping_share must be in (0, 1)")
    if not 0 < bt.loss_fall_share <= 1:
        raise ConfigError("backtest.loss_fall_share must be in (0, 1]")
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
