"""Absence of data is never evidence: how a model scores and explains a row with missing features.

A feature with no value (an account that never liked has no like rhythm; one
without negative reviews has no delay before one) is scored as its
**least-risky value**:

- along its registered direction: +1 features take -inf and -1 features take
  +inf, so they fall on the low-risk side of every split. The trees are
  monotone in those features (LightGBM monotone constraints from the registry),
  so this is the lowest score any value of the feature could give;
- without a direction (0): the value, among one per interval between the
  model's split thresholds on that feature, that gives the row its lowest
  score (exact: a tree ensemble is constant between its thresholds).

So a missing value can never raise a score. In the explanation a missing
feature is **not a player**: the SHAP values are those of the model with the
missing features fixed at those values (every split on them resolved, the
covers below rescaled to the resolved node's), computed by the same
path-dependent Tree SHAP algorithm LightGBM's ``pred_contrib`` runs. A missing
feature's contribution is therefore exactly 0, never cited as a reason, never
counted as evidence, and ``base_value + sum(contributions) == raw_score``
still holds for every row; the base value is then the expected score of an
account with the same features missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np


@dataclass(frozen=True)
class _Node:
    feature: int
    threshold: float
    left: Any
    right: Any
    count: float


@dataclass(frozen=True)
class _Leaf:
    value: float
    count: float


def _node(d: dict[str, Any]) -> _Node | _Leaf:
    if "leaf_index" in d or "leaf_value" in d:
        return _Leaf(float(d["leaf_value"]), float(d.get("leaf_count", 0)))
    if d.get("decision_type", "<=") != "<=" or d.get("missing_type") == "Zero":
        raise ValueError("only numeric '<=' splits without zero-as-missing are supported")
    return _Node(
        int(d["split_feature"]),
        float(d["threshold"]),
        _node(d["left_child"]),
        _node(d["right_child"]),
        float(d["internal_count"]),
    )


class TreeModel:
    """A LightGBM binary booster's trees, to score rows with missing features and explain them."""

    def __init__(self, booster: lgb.Booster, directions: list[int]) -> None:
        dump = booster.dump_model()
        self.booster = booster
        self.directions = np.asarray(directions, dtype=np.int8)
        self.trees = [_node(t["tree_structure"]) for t in dump["tree_info"]]
        self.n_features = int(dump["max_feature_idx"]) + 1
        thresholds: dict[int, set[float]] = {}
        for tree in self.trees:
            _collect_thresholds(tree, thresholds)
        # One value per interval between a feature's thresholds: every distinct way a row can go.
        self.candidates = {
            f: np.array([*sorted(ts), np.inf]) for f, ts in thresholds.items() if self.directions[f] == 0
        }
        # The resolved models (see contributions) by the values their missing features are fixed at.
        self._resolved: dict[tuple[tuple[int, float], ...], Any] = {}

    # ---------------------------------------------------------------- scoring

    def fill(self, x: np.ndarray, *, undirected: bool = True) -> np.ndarray:
        """``x`` with every missing value replaced by its least-risky value (see the module docstring).

        ``undirected=False`` leaves the missing values of features without a direction as they are
        (NaN: the branch the trees learned for them), only to measure what the fill changes.
        """
        x = np.array(x, dtype=np.float64, copy=True)
        missing = np.isnan(x)
        for f in np.flatnonzero(missing.any(axis=0)):
            rows = missing[:, f]
            if self.directions[f] > 0:
                x[rows, f] = -np.inf
            elif self.directions[f] < 0:
                x[rows, f] = np.inf
        if not undirected:
            return x
        # Undirected features last: jointly, at the lowest-scoring combination of their intervals for
        # the row (one at a time could leave a combination where moving one feature alone lowers the
        # score, which would make "no value" score above some value).
        undirected_missing = missing & (self.directions == 0)[None, :]
        if undirected_missing.any():
            for rows in _groups(undirected_missing):
                cols = np.flatnonzero(undirected_missing[rows[0]])
                if cols.size:
                    self._fill_jointly(x, rows, cols)
        return x

    # Above this many combinations per row, coordinate descent instead of a full search.
    MAX_JOINT_CANDIDATES = 4096

    def _fill_jointly(self, x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
        values = [self.candidates.get(int(f), np.array([0.0])) for f in cols]
        if int(np.prod([len(v) for v in values])) <= self.MAX_JOINT_CANDIDATES:
            grid = np.array(np.meshgrid(*values, indexing="ij")).reshape(len(cols), -1).T
            trial = np.repeat(x[rows], len(grid), axis=0)
            trial[:, cols] = np.tile(grid, (len(rows), 1))
            raw = np.asarray(self.booster.predict(trial, raw_score=True), dtype=np.float64).reshape(len(rows), -1)
            x[np.ix_(rows, cols)] = grid[np.argmin(raw, axis=1)]
            return
        # Coordinate descent from the first interval of each, until no single feature lowers a row.
        x[np.ix_(rows, cols)] = np.array([v[0] for v in values])[None, :]
        for _ in range(50):
            changed = False
            for f, vals in zip(cols, values, strict=True):
                trial = np.repeat(x[rows], len(vals), axis=0)
                trial[:, f] = np.tile(vals, len(rows))
                raw = np.asarray(self.booster.predict(trial, raw_score=True), dtype=np.float64).reshape(len(rows), -1)
                best = vals[np.argmin(raw, axis=1)]
                changed |= bool((best != x[rows, f]).any())
                x[rows, f] = best
            if not changed:
                break

    def raw_score(self, x_filled: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(x_filled, raw_score=True), dtype=np.float64)

    # ------------------------------------------------------------ explaining

    def contributions(self, x: np.ndarray, filled: np.ndarray | None = None) -> np.ndarray:
        """Exact path-dependent SHAP values, missing features not players; last column the base value.

        ``x`` holds the raw rows (NaN where a value is missing); ``filled``, when the caller has it,
        is ``fill(x)`` (a row's fill depends on that row alone, so the caller's rows may be a subset
        of the rows it filled).
        """
        missing = np.isnan(x)
        filled = self.fill(x) if filled is None else filled
        out = np.zeros((len(x), self.n_features + 1), dtype=np.float64)
        complete = ~missing.any(axis=1)
        if complete.any():
            out[complete] = np.asarray(self.booster.predict(filled[complete], pred_contrib=True), dtype=np.float64)
        rest = np.flatnonzero(~complete)
        if rest.size == 0:
            return out
        # Rows sharing which features are missing, and the values those take, share one resolved model
        # (+ 0.0: -0.0 and 0.0 are one value, as they are to a split).
        keys = np.concatenate([missing[rest], np.where(missing[rest], filled[rest], 0.0) + 0.0], axis=1)
        for group in _groups(keys):
            rows = rest[group]
            fixed = {int(f): float(filled[rows[0], f]) for f in np.flatnonzero(missing[rows[0]])}
            out[rows] = self._shap_with_fixed(filled[rows], fixed)
        return out

    # Resolved models kept, across calls: chunks of a batch and requests to a served model meet the
    # same few combinations of missing features and fill values again, and resolving one (every tree
    # in Python, then shap's loading) costs more than explaining a few hundred rows with it. About
    # 0.7 KB per tree each (the 20k-account platform's models meet 21 and 34 combinations).
    MAX_RESOLVED = 64

    def _resolved_explainer(self, fixed: dict[int, float]) -> Any:
        key = tuple(sorted(fixed.items()))
        explainer = self._resolved.get(key)
        if explainer is None:
            import shap

            trees = [_resolved_arrays(t, fixed) for t in self.trees]
            model = {"trees": trees, "input_dtype": np.float64, "internal_dtype": np.float64, "base_offset": 0.0}
            explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
            if len(self._resolved) >= self.MAX_RESOLVED:
                self._resolved.clear()
            self._resolved[key] = explainer
        return explainer

    def clear_resolved(self) -> None:
        """Forget the resolved models (the next rows with missing values resolve theirs again)."""
        self._resolved.clear()

    def _shap_with_fixed(self, x: np.ndarray, fixed: dict[int, float]) -> np.ndarray:
        explainer = self._resolved_explainer(fixed)
        values = np.asarray(explainer.shap_values(x, check_additivity=False), dtype=np.float64)
        base = np.full((len(x), 1), float(np.ravel(explainer.expected_value)[0]))
        values[:, list(fixed)] = 0.0
        return np.concatenate([values, base], axis=1)


def _groups(keys: np.ndarray) -> list[np.ndarray]:
    """The rows of ``keys`` (2-d, no NaN, no -0.0) with equal bytes, group by group (each group's
    rows in order). One sort of a byte view: ``np.unique(axis=0)`` sorts column by column, ten
    times slower at 40,000 rows."""
    keys = np.ascontiguousarray(keys)
    row = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).ravel()
    _, inverse = np.unique(row, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def _collect_thresholds(node: _Node | _Leaf, out: dict[int, set[float]]) -> None:
    if isinstance(node, _Node):
        out.setdefault(node.feature, set()).add(node.threshold)
        _collect_thresholds(node.left, out)
        _collect_thresholds(node.right, out)


def _resolved_arrays(root: _Node | _Leaf, fixed: dict[int, float]) -> dict[str, np.ndarray]:
    """One tree as shap's array form, with splits on ``fixed`` features resolved.

    A resolved split is replaced by the branch its fixed value takes, and that
    branch's covers are scaled to the split's own cover, so the expectations
    above it see the same weight as before: the feature is known, not averaged over.
    """
    left: list[int] = []
    right: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    value: list[float] = []
    weight: list[float] = []

    def add(node: _Node | _Leaf, scale: float) -> int:
        while isinstance(node, _Node) and node.feature in fixed:
            taken = node.left if fixed[node.feature] <= node.threshold else node.right
            scale *= node.count / max(taken.count, 1e-12)
            node = taken
        i = len(left)
        left.append(-1)
        right.append(-1)
        feature.append(-2)
        threshold.append(0.0)
        value.append(0.0)
        weight.append(node.count * scale)
        if isinstance(node, _Leaf):
            value[i] = node.value
            return i
        feature[i] = node.feature
        threshold[i] = node.threshold
        left[i] = add(node.left, scale)
        right[i] = add(node.right, scale)
        return i

    add(root, 1.0)
    children_left = np.array(left, dtype=np.int32)
    return {
        "children_left": children_left,
        "children_right": np.array(right, dtype=np.int32),
        # Never used: rows reaching a resolved model hold no NaN.
        "children_default": children_left.copy(),
        "features": np.array(feature, dtype=np.int32),
        "thresholds": np.array(threshold, dtype=np.float64),
        "values": np.array(value, dtype=np.float64).reshape(-1, 1),
        "node_sample_weight": np.array(weight, dtype=np.float64),
    }
