"""The model bundle: the narrow contract between training and serving.

A bundle is a folder of plain files, no pickles:

    bundle.json            format, versions, per-risk feature lists, reference
                           distributions, calibrators, metrics summary
    boosters/<risk>.txt    LightGBM model text
    policy.json            the resolved graduated policy

Loading accepts exactly these files and refuses a folder that holds anything
executable (pickles, joblib), so a model cannot run code when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from reviewguard.errors import ModelLoadError
from reviewguard.model.bundle_check import BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, check_bundle_folder
from reviewguard.model.policy import Policy

# 2: missing values scored as their least-risky value (reviewguard.model.explain), calibrators with
# intervals, action budgets and escalation rules in the policy. A version-1 model scored missing
# values through LightGBM's learned missing branch and cannot keep that promise: it must be retrained.
_REFUSED_SUFFIXES = (".pkl", ".pickle", ".joblib", ".cloudpickle", ".dill", ".npy", ".npz")


@dataclass
class Calibrator:
    """Isotonic steps from a raw margin (log-odds) to a probability, with an interval per step.

    Each step's probability is the mean of a Beta posterior (Jeffreys prior) on
    the step's weighted counts, taken at their effective sample size, so no
    score is exactly 0 or 1 and a step fitted on few labels has a wide interval.
    Between knots the three curves are interpolated linearly.
    """

    x: list[float]
    y: list[float]
    low: list[float]
    high: list[float]
    level: float

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(raw, dtype=np.float64), self.x, self.y)

    def interval(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = np.asarray(raw, dtype=np.float64)
        return np.interp(raw, self.x, self.low), np.interp(raw, self.x, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "isotonic-beta",
            "level": self.level,
            "x": self.x,
            "y": self.y,
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        if d.get("method") != "isotonic-beta":
            raise ModelLoadError(f"unknown calibration method {d.get('method')!r}")
        return cls(
            [float(v) for v in d["x"]],
            [float(v) for v in d["y"]],
            [float(v) for v in d["low"]],
            [float(v) for v in d["high"]],
            float(d["level"]),
        )


@dataclass
class Reference:
    """A feature's distribution in the reference population, for percentiles and drift."""

    quantiles: list[float | None]  # 0th..100th percentile of the accounts that have a value
    null_share: float  # share of accounts with no value
    p99: float | None

    def percentile(self, value: float | None) -> float | None:
        """Share of **all** accounts (in percent) with a value at or below ``value``; None for no value.

        Accounts with no value are in the denominator and never "at or below":
        a value that nearly half of the platform cannot have (no reviews, no
        likes) is not the 100th percentile. ``null_share`` says how many those are.
        """
        if value is None or not np.isfinite(value):
            return None
        qs = np.array([q for q in self.quantiles if q is not None], dtype=np.float64)
        if qs.size == 0:
            return None
        among_valued = np.searchsorted(qs, value, side="right") / qs.size
        return float(among_valued * (1.0 - self.null_share) * 100.0)

    @property
    def median(self) -> float | None:
        """The value of the middle account of the whole population: None when most have no value."""
        if self.null_share >= 0.5 or self.quantiles[50] is None:
            return None
        # The middle account overall sits at this quantile of the accounts that have a value.
        q = 0.5 / (1.0 - self.null_share)
        valued = [v for v in self.quantiles if v is not None]
        return float(np.interp(q, np.linspace(0, 1, len(valued)), valued))

    def to_dict(self) -> dict[str, Any]:
        return {"quantiles": self.quantiles, "null_share": self.null_share, "p99": self.p99}

    @classmethod
    def from_values(cls, values: np.ndarray) -> Reference:
        values = np.asarray(values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        null_share = float(1 - finite.size / values.size) if values.size else 1.0
        if finite.size == 0:
            return cls([None] * 101, null_share, None)
        qs = np.quantile(finite, np.linspace(0, 1, 101))
        return cls([float(q) for q in qs], null_share, float(np.quantile(finite, 0.99)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reference:
        return cls(d["quantiles"], d["null_share"], d["p99"])


@dataclass
class RiskModel:
    risk: str
    features: list[str]
    booster: lgb.Booster
    calibrator: Calibrator
    reference: dict[str, Reference]
    best_iteration: int
    metrics: dict[str, Any] = field(default_factory=dict)

    def model_text(self) -> str:
        return self.booster.model_to_string(num_iteration=self.best_iteration)


@dataclass
class Bundle:
    risks: dict[str, RiskModel]
    policy: Policy
    feature_set_version: str
    package_version: str
    created_from: dict[str, Any] = field(default_factory=dict)

    @property
    def policy_version(self) -> str:
        return self.policy.version

    def fingerprint_parts(self) -> dict[str, str]:
        """SHA-256 of each thing that decides a score, by the bundle field that holds it.

        Per risk: the booster text (its trees, thresholds and feature names), the
        feature list **in order** (the columns handed to the booster), the
        calibrator (x, y, low, high, level) and the reference distributions
        (percentiles, drift, missing values); then the whole policy and the
        feature-set version. Naming the parts lets a mismatch say what changed.
        """

        def sha(value: Any) -> str:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
            return hashlib.sha256(text.encode()).hexdigest()

        parts = {"feature_set_version": sha(self.feature_set_version), "policy": sha(self.policy.to_dict())}
        for risk in sorted(self.risks):
            m = self.risks[risk]
            parts[f"risks.{risk}.booster"] = sha(m.model_text())
            parts[f"risks.{risk}.features"] = sha(list(m.features))
            parts[f"risks.{risk}.calibrator"] = sha(m.calibrator.to_dict())
            parts[f"risks.{risk}.reference"] = sha({k: v.to_dict() for k, v in m.reference.items()})
        return parts

    def fingerprint(self) -> str:
        """The model fingerprint: one hash of :meth:`fingerprint_parts` (everything that decides a score)."""
        return fingerprint_of(self.fingerprint_parts())


def fingerprint_of(parts: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(parts):
        h.update(f"{name}={parts[name]}\n".encode())
    return h.hexdigest()


def check_fingerprint(bundle: Bundle, folder: Path, meta: dict[str, Any], expected: str | None = None) -> str:
    """The bundle's fingerprint, after comparing it with the one ``bundle.json`` recorded at save.

    A difference is one line naming the file and the field that changed.
    ``expected`` (a registry tag, say) must match as well.
    """
    meta_path = folder / "bundle.json"
    record = meta.get("fingerprint")
    if not (
        isinstance(record, dict)
        and isinstance(record.get("sha256"), str)
        and isinstance(record.get("parts"), dict)
        and all(isinstance(v, str) for v in record["parts"].values())
    ):
        raise ModelLoadError(
            f"{meta_path}: fingerprint is missing or malformed, so nothing proves this is the model that was "
            "trained; retrain it (reviewguard train records it)"
        )
    recorded: dict[str, str] = record["parts"]
    actual = bundle.fingerprint_parts()
    changed = sorted(k for k in {*recorded, *actual} if recorded.get(k) != actual.get(k))
    if changed:
        field_name = changed[0]
        risk = field_name.split(".")[1] if field_name.startswith("risks.") else ""
        if field_name.endswith(".booster") and isinstance(meta["risks"].get(risk), dict):
            where = folder / meta["risks"][risk]["booster"]
        elif field_name == "policy":
            where = folder / "policy.json"
        else:
            where = meta_path
        also = f" (and {', '.join(changed[1:])})" if len(changed) > 1 else ""
        raise ModelLoadError(
            f"{where}: {field_name}{also} changed since the model was saved (its fingerprint differs from the one "
            "recorded in bundle.json); refusing a model that is not the one trained"
        )
    total = fingerprint_of(actual)
    if record["sha256"] != total:
        raise ModelLoadError(f"{meta_path}: fingerprint.sha256 does not match its own parts (the record was edited)")
    if expected is not None and expected != total:
        raise ModelLoadError(
            f"{folder}: model fingerprint {total[:12]} differs from the registry's model_fingerprint {expected[:12]}; "
            "the downloaded model is not the one registered"
        )
    return total


def save_bundle(bundle: Bundle, folder: str | Path) -> Path:
    folder = Path(folder)
    (folder / "boosters").mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "feature_set_version": bundle.feature_set_version,
        "package_version": bundle.package_version,
        "policy_version": bundle.policy_version,
        "created_from": bundle.created_from,
        "risks": {},
        "fingerprint": {"sha256": bundle.fingerprint(), "parts": bundle.fingerprint_parts()},
    }
    for risk, m in sorted(bundle.risks.items()):
        (folder / "boosters" / f"{risk}.txt").write_text(m.model_text())
        meta["risks"][risk] = {
            "features": m.features,
            "booster": f"boosters/{risk}.txt",
            "best_iteration": m.best_iteration,
            "calibrator": m.calibrator.to_dict(),
            "reference": {k: v.to_dict() for k, v in m.reference.items()},
            "metrics": m.metrics,
        }
    (folder / "policy.json").write_text(
        json.dumps(bundle.policy.to_dict(), indent=2, sort_keys=True, ensure_ascii=False)
    )
    (folder / "bundle.json").write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False))
    return folder


def load_bundle(folder: str | Path, *, expected_fingerprint: str | None = None) -> Bundle:
    """The bundle in ``folder``, checked file by file and against its recorded fingerprint.

    ``expected_fingerprint`` (the registry's ``model_fingerprint`` tag) must match too.
    """
    folder = Path(folder)
    meta_path = folder / "bundle.json"
    if not meta_path.is_file():
        raise ModelLoadError(f"{folder} is not a reviewguard model bundle (no bundle.json)")
    refused = [p.name for p in folder.rglob("*") if p.suffix.lower() in _REFUSED_SUFFIXES]
    if refused:
        raise ModelLoadError(
            f"refusing to load {folder}: it contains {', '.join(sorted(refused))}; "
            "reviewguard models hold only LightGBM text and JSON"
        )
    check_bundle_folder(folder)  # every file, before LightGBM (which aborts on a cut text) sees it
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{meta_path} is not valid JSON: {exc}") from exc
    if meta.get("format") != BUNDLE_FORMAT:
        raise ModelLoadError(f"{folder}: not a reviewguard model (format {meta.get('format')!r})")
    if meta.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise ModelLoadError(
            f"{folder}: model format v{meta.get('format_version')!r}, this reviewguard reads v{BUNDLE_FORMAT_VERSION}"
            + (
                " (v1 models let a missing value raise a score; retrain it with this version)"
                if meta.get("format_version") == 1
                else ""
            )
        )
    risks = {}
    for risk, r in meta["risks"].items():
        booster_path = (folder / r["booster"]).resolve()
        if folder.resolve() not in booster_path.parents:
            raise ModelLoadError(f"{folder}: booster path {r['booster']!r} leaves the bundle")
        booster = lgb.Booster(model_str=booster_path.read_text())
        risks[risk] = RiskModel(
            risk=risk,
            features=list(r["features"]),
            booster=booster,
            calibrator=Calibrator.from_dict(r["calibrator"]),
            reference={k: Reference.from_dict(v) for k, v in r["reference"].items()},
            best_iteration=int(r["best_iteration"]),
            metrics=r.get("metrics", {}),
        )
    policy = Policy.from_dict(json.loads((folder / "policy.json").read_text()))
    bundle = Bundle(risks, policy, meta["feature_set_version"], meta["package_version"], meta.get("created_from", {}))
    check_fingerprint(bundle, folder, meta, expected_fingerprint)
    return bundle


def bundle_files(bundle: Bundle) -> dict[str, str]:
    """The bundle as {relative path: text}, to ship to Spark executors (no shared filesystem needed)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = save_bundle(bundle, Path(tmp) / "bundle")
        return {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}


def bundle_from_files(files: dict[str, str], folder: str | Path) -> Bundle:
    folder = Path(folder)
    for rel, text in files.items():
        target = (folder / rel).resolve()
        if folder.resolve() not in target.parents:
            raise ModelLoadError(f"bundle file {rel!r} leaves the bundle folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return load_bundle(folder)
