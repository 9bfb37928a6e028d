"""Training configuration: the embedded defaults (``defaults/train.toml``) merged with a user's file."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reviewguard.errors import ConfigError

_TOP_KEYS = {"seed", "split", "lightgbm", "calibration", "evaluation", "policy", "baselines", "risks"}


def default_config_text() -> str:
    return resources.files("reviewguard").joinpath("defaults/train.toml").read_text(encoding="utf-8")


def _merge(base: dict[str, Any], override: dict[str, Any], path: str = "") -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in override.items():
        # An empty table means "none" (e.g. no audit weights), not "keep the defaults".
        if isinstance(v, dict) and v and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, f"{path}{k}.")
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class TrainConfig:
    raw: dict[str, Any]

    @property
    def seed(self) -> int:
        return int(self.raw["seed"])

    @property
    def split(self) -> dict[str, Any]:
        return dict(self.raw["split"])

    @property
    def lightgbm(self) -> dict[str, Any]:
        return dict(self.raw["lightgbm"])

    @property
    def calibration_method(self) -> str:
        return str(self.raw["calibration"]["method"])

    @property
    def evaluation(self) -> dict[str, Any]:
        return dict(self.raw["evaluation"])

    @property
    def policy(self) -> dict[str, Any]:
        return dict(self.raw["policy"])

    def actions(self, risk: str) -> list[dict[str, Any]]:
        acts = self.raw["policy"].get(risk)
        if not acts:
            raise ConfigError(f"no policy actions for risk {risk!r}: add [[policy.{risk}]] entries to the config")
        return list(acts)

    def baselines(self, risk: str) -> list[dict[str, Any]]:
        return list(self.raw.get("baselines", {}).get(risk, []))

    @property
    def risk_features(self) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v["features"]) for k, v in self.raw.get("risks", {}).items()}


PRESETS = ("yelp",)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the file at ``path`` (or a packaged preset: ``yelp``), then ``overrides``."""
    raw = tomllib.loads(default_config_text())
    if path is not None:
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
        unknown = set(user) - _TOP_KEYS
        if unknown:
            raise ConfigError(f"{p}: unknown keys {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
        raw = _merge(raw, user)
    if overrides:
        raw = _merge(raw, overrides)
    _check(raw)
    return TrainConfig(raw)


def _check(raw: dict[str, Any]) -> None:
    s = raw["split"]
    if not (
        0 < s["train_share"] < 1 and 0 < s["validation_share"] < 1 and s["train_share"] + s["validation_share"] < 1
    ):
        raise ConfigError("split: train_share and validation_share must be in (0, 1) and sum below 1")
    if raw["calibration"]["method"] not in ("platt", "isotonic"):
        raise ConfigError("calibration.method must be 'platt' or 'isotonic'")
    for risk, acts in raw["policy"].items():
        if not isinstance(acts, list):
            continue
        targets = [a["target_precision"] for a in acts]
        if targets != sorted(targets):
            raise ConfigError(f"policy.{risk}: actions must go from least to most intrusive (rising target_precision)")
