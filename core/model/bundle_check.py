"""Check a bundle folder's files before LightGBM or the bundle classes see them.

LightGBM aborts the whole process (``terminate called``, exit 134) on a
truncated or edited model text, and a ``bundle.json`` or ``policy.json``
missing a key would surface as a ``KeyError`` traceback. ``check_bundle_folder``
reads every file the loader will read and raises :class:`ModelLoadError` with
one line naming the file and what is wrong: invalid JSON or UTF-8, a missing or
mistyped field, a booster whose text is cut short, whose tree sizes do not add
up, or whose feature names are not the bundle's list for that risk (a swapped
booster, or the same names in another order). It does not decide whether a
valid model is the right one: that is the fingerprint's business
(``reviewguard.model.bundle.check_fingerprint``, run by ``load_bundle`` after this).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from reviewguard.errors import ModelLoadError

# The one definition of the bundle format (reviewguard.model.bundle imports it from here).
BUNDLE_FORMAT = "reviewguard-model"
BUNDLE_FORMAT_VERSION = 2
CALIBRATION_METHODS = ("isotonic-beta",)
_TREE_ARRAYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot be read ({exc.strerror})") from exc


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object; one-line error naming the file otherwise."""
    text = _read_text(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ModelLoadError(f"{path} is not valid JSON: nested too deeply") from exc
    if not isinstance(value, dict):
        raise ModelLoadError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _need(cond: bool, path: Path, where: str, what: str) -> None:
    if not cond:
        raise ModelLoadError(f"{path}: {where} {what}")


def check_bundle_folder(folder: str | Path) -> None:
    """Raise :class:`ModelLoadError` unless every file of the bundle can be loaded safely."""
    folder = Path(folder)
    meta_path = folder / "bundle.json"
    meta = read_json_object(meta_path)
    if meta.get("format") != BUNDLE_FORMAT or meta.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise ModelLoadError(
            f"{folder}: unsupported bundle format {meta.get('format')!r} v{meta.get('format_version')!r}"
            + (
                f"; this reviewguard reads v{BUNDLE_FORMAT_VERSION} (v1 models let a missing value raise a score: "
                "retrain with this version)"
                if meta.get("format_version") == 1
                else ""
            )
        )
    for key in ("feature_set_version", "package_version"):
        _need(isinstance(meta.get(key), str), meta_path, key, "is missing or not a string")
    risks = meta.get("risks")
    _need(isinstance(risks, dict) and bool(risks), meta_path, "risks", "is missing, empty or not an object")
    assert isinstance(risks, dict)
    for risk, r in risks.items():
        _check_risk(folder, meta_path, str(risk), r)
    policy_path = folder / "policy.json"
    policy = read_json_object(policy_path)
    from reviewguard.model.policy import Policy

    try:
        parsed = Policy.from_dict(policy)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0][:200]
        raise ModelLoadError(f"{policy_path}: not a valid policy ({detail})") from exc
    missing = sorted(set(risks) - set(parsed.risks))
    _need(not missing, policy_path, "risks", f"lack a ladder for {', '.join(missing)}")
    _need(parsed.top_k_reasons >= 1, policy_path, "top_k_reasons", "must be at least 1")


def _check_risk(folder: Path, meta_path: Path, risk: str, r: Any) -> None:
    where = f"risks.{risk}"
    _need(isinstance(r, dict), meta_path, where, "is not an object")
    features = r.get("features")
    _need(
        isinstance(features, list) and bool(features) and all(isinstance(f, str) and f for f in features),
        meta_path,
        f"{where}.features",
        "is missing or not a non-empty list of names",
    )
    _need(len(set(features)) == len(features), meta_path, f"{where}.features", "repeats a name")
    best = r.get("best_iteration")
    _need(
        isinstance(best, int) and not isinstance(best, bool) and best >= 0,
        meta_path,
        f"{where}.best_iteration",
        "is not a count",
    )
    _check_calibrator(meta_path, f"{where}.calibrator", r.get("calibrator"))
    reference = r.get("reference")
    _need(isinstance(reference, dict), meta_path, f"{where}.reference", "is missing or not an object")
    for name, ref in reference.items():
        w = f"{where}.reference.{name}"
        _need(isinstance(ref, dict), meta_path, w, "is not an object")
        qs = ref.get("quantiles")
        _need(
            isinstance(qs, list) and all(q is None or _is_number(q) for q in qs),
            meta_path,
            f"{w}.quantiles",
            "is not a list of numbers",
        )
        _need(_is_number(ref.get("null_share")), meta_path, f"{w}.null_share", "is not a number")
        _need(ref.get("p99") is None or _is_number(ref.get("p99")), meta_path, f"{w}.p99", "is not a number")
    _need(isinstance(r.get("metrics", {}), dict), meta_path, f"{where}.metrics", "is not an object")
    booster = r.get("booster")
    _need(isinstance(booster, str) and bool(booster), meta_path, f"{where}.booster", "is missing or not a path")
    path = (folder / booster).resolve()
    if folder.resolve() not in path.parents:
        raise ModelLoadError(f"{folder}: booster path {booster!r} leaves the bundle")
    check_booster_text(path, _read_text(path), features)


def _check_calibrator(path: Path, where: str, c: Any) -> None:
    _need(isinstance(c, dict), path, where, "is missing or not an object")
    method = c.get("method")
    _need(method in CALIBRATION_METHODS, path, f"{where}.method", f"must be one of {', '.join(CALIBRATION_METHODS)}")
    curves = [c.get(k) for k in ("x", "y", "low", "high")]
    ok = all(isinstance(v, list) for v in curves) and len({len(v) for v in curves}) == 1 and len(curves[0]) >= 1
    _need(
        ok and all(_is_number(v) for curve in curves for v in curve),
        path,
        where,
        "needs equal, non-empty lists x, y, low, high of numbers",
    )
    level = c.get("level")
    _need(_is_number(level) and 0 < float(level) < 1, path, f"{where}.level", "must be a number between 0 and 1")
    _need(all(0 < float(v) < 1 for v in c["y"]), path, f"{where}.y", "must lie strictly between 0 and 1")
    _need(
        all(float(a) <= float(b) for a, b in zip(c["x"], c["x"][1:], strict=False)),
        path,
        f"{where}.x",
        "must not decrease",
    )


def check_booster_text(path: Path, text: str, features: list[str]) -> None:
    """The LightGBM model text is whole and is the model for ``features`` (in that order)."""

    def bad(what: str) -> ModelLoadError:
        return ModelLoadError(f"{path}: not a usable LightGBM model ({what})")

    if not text.startswith("tree\n"):
        raise bad("it does not start with the 'tree' header")
    header_end = text.find("\nTree=0\n")
    end = text.find("\nend of trees")
    if header_end < 0 or end < 0 or end < header_end:
        raise bad("the text is cut short: no complete list of trees")
    header = dict(line.split("=", 1) for line in text[:header_end].splitlines()[1:] if "=" in line)
    for key in ("version", "num_class", "max_feature_idx", "feature_names", "tree_sizes"):
        if key not in header:
            raise bad(f"the header lacks {key}")
    names = header["feature_names"].split()
    if names != features and sorted(names) == sorted(features):
        first = next(i for i, (a, b) in enumerate(zip(names, features, strict=True)) if a != b)
        raise bad(
            f"the feature order differs from the bundle's list for this risk (position {first}: {names[first]!r} "
            f"in the booster, {features[first]!r} in bundle.json): the trees would read the wrong columns"
        )
    if names != features:
        raise bad(
            f"its features ({len(names)}, first {names[:3]}) are not the bundle's list for this risk "
            f"({len(features)}, first {features[:3]}): a booster of another model or risk"
        )
    try:
        max_idx = int(header["max_feature_idx"])
        sizes = [int(s) for s in header["tree_sizes"].split()]
    except ValueError as exc:
        raise bad("max_feature_idx or tree_sizes is not a number") from exc
    if max_idx != len(names) - 1:
        raise bad("max_feature_idx does not match the feature names")
    body = text[header_end + 1 : end + 1]
    starts = [m.start() for m in re.finditer(r"^Tree=\d+$", body, re.M)]
    if len(starts) != len(sizes) or not sizes:
        raise bad(f"tree_sizes lists {len(sizes)} trees, the text holds {len(starts)}")
    for i, (a, b) in enumerate(zip(starts, [*starts[1:], len(body)], strict=True)):
        block = body[a:b]
        if len(block.encode("utf-8")) != sizes[i]:
            raise bad(f"tree {i} is {len(block)} bytes, tree_sizes says {sizes[i]}")
        _check_tree(block, i, max_idx, bad)


def _check_tree(block: str, i: int, max_idx: int, bad: Any) -> None:
    fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
    try:
        leaves = int(fields["num_leaves"])
        values = [float(v) for v in fields["leaf_value"].split()]
        if leaves < 1 or len(values) != leaves:
            raise ValueError("leaf_value")
        if leaves > 1:
            arrays = {k: fields[k].split() for k in _TREE_ARRAYS}
            if any(len(v) != leaves - 1 for v in arrays.values()):
                raise ValueError("array lengths")
            if not all(0 <= int(f) <= max_idx for f in arrays["split_feature"]):
                raise ValueError("split_feature")
            for k in ("left_child", "right_child"):
                if not all(-leaves <= int(c) < leaves - 1 for c in arrays[k]):
                    raise ValueError(k)
            [float(t) for t in arrays["threshold"]]
    except (KeyError, ValueError) as exc:
        raise bad(f"tree {i} is malformed ({exc})") from exc
