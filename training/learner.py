"""Fit one risk's booster (registry monotone constraints) and its calibrator.

fklearn-style: takes data and explicit keyword arguments, returns what it fitted and a log of
what it did; no I/O.

Missing values never reach the trees as NaN: a feature with a direction takes, in training,
the least-risky value seen among the training rows (the lowest for +1, the highest for -1),
which lies on the low-risk side of every split LightGBM can make on them; at scoring the
predictor uses -inf/+inf, which fall on the same side (``reviewguard.model.explain``). So the
trees cannot learn "no value means abuse" (a complaint queue holds only accounts with
negative reviews; the model must not read the absence of a review as evidence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.stats import beta
from sklearn.isotonic import IsotonicRegression

from reviewguard.features import Feature, monotone_constraints
from reviewguard.model.bundle import Calibrator


def lightgbm_params(lgb_cfg: dict[str, Any], *, features: list[Feature], y: np.ndarray, seed: int) -> dict[str, Any]:
    params = {k: v for k, v in lgb_cfg.items() if k not in ("n_estimators", "early_stopping_rounds")}
    if params.get("scale_pos_weight") == "auto":
        pos = max(1, int(y.sum()))
        params["scale_pos_weight"] = float((len(y) - pos) / pos)
    params.update(
        objective="binary",
        metric=["binary_logloss"],
        first_metric_only=True,
        monotone_constraints=monotone_constraints(features),
        monotone_constraints_method="advanced",
        seed=seed,
        deterministic=True,
        force_row_wise=True,
        verbosity=-1,
    )
    return params


def fill_for_training(x: np.ndarray, directions: list[int]) -> np.ndarray:
    """Missing values of directed features at the least-risky value among these rows."""
    x = np.array(x, dtype=np.float64, copy=True)
    for j, d in enumerate(directions):
        col = x[:, j]
        missing = np.isnan(col)
        if d == 0 or not missing.any():
            continue
        seen = col[~missing]
        # A column with no value at all gets 0: every row then sits on one side of nothing.
        col[missing] = 0.0 if seen.size == 0 else (seen.min() if d > 0 else seen.max())
    return x


def fit_booster(
    x: np.ndarray,
    y: np.ndarray,
    *,
    features: list[Feature],
    lgb_cfg: dict[str, Any],
    seed: int,
    rounds: int | None = None,
) -> tuple[lgb.Booster, int]:
    """Train on ``x``/``y`` (raw, with NaN) for ``rounds`` trees (default: ``n_estimators``).

    Returns the booster (round-tripped through its text: exactly what is saved and loaded) and its
    number of trees.
    """
    names = [f.name for f in features]
    directions = [f.direction for f in features]
    params = lightgbm_params(lgb_cfg, features=features, y=y, seed=seed)
    dtrain = lgb.Dataset(fill_for_training(x, directions), y, feature_name=names, free_raw_data=True)
    n = int(rounds or lgb_cfg["n_estimators"])
    booster = lgb.train(params, dtrain, num_boost_round=n)
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=n)), n


def loss_curve(
    x: np.ndarray,
    y: np.ndarray,
    held_out: tuple[np.ndarray, np.ndarray],
    *,
    features: list[Feature],
    lgb_cfg: dict[str, Any],
    seed: int,
) -> np.ndarray:
    """Held-out log loss after each of ``n_estimators`` trees, positives weighted as in training.

    The held-out positives carry the training's ``scale_pos_weight``: unweighted, the log loss of
    a model trained with up-weighted positives rises from the first trees on (its probabilities
    are too high by design) and stopped the boosting after a handful of trees.
    """
    names = [f.name for f in features]
    directions = [f.direction for f in features]
    params = lightgbm_params(lgb_cfg, features=features, y=y, seed=seed)
    xv, yv = held_out
    wv = np.where(yv == 1, float(params.get("scale_pos_weight", 1.0)), 1.0)
    dtrain = lgb.Dataset(fill_for_training(x, directions), y, feature_name=names, free_raw_data=True)
    dvalid = lgb.Dataset(fill_for_training(xv, directions), yv, weight=wv, reference=dtrain)
    record: dict[str, Any] = {}
    lgb.train(
        params,
        dtrain,
        num_boost_round=int(lgb_cfg["n_estimators"]),
        valid_sets=[dvalid],
        valid_names=["held_out"],
        callbacks=[lgb.record_evaluation(record)],
    )
    return np.asarray(record["held_out"]["binary_logloss"], dtype=np.float64)


def best_rounds(curves: list[np.ndarray], *, share: float = 0.99) -> int:
    """Trees for the folds' mean held-out loss (``curves``): the fewest that reach ``share`` of
    the largest fall in loss from the first tree (fewer trees, same fit, cheaper explanations)."""
    n = min(len(c) for c in curves)
    mean = np.mean([c[:n] for c in curves], axis=0)
    fall = mean[0] - mean
    if fall.max() <= 0:
        return 1
    return int(np.flatnonzero(fall >= share * fall.max())[0]) + 1


def fit_calibrator(raw: np.ndarray, y: np.ndarray, weight: np.ndarray, level: float) -> Calibrator:
    """Isotonic steps on margins, each step a Beta posterior on its weighted counts.

    ``weight`` (accounts each row stands for) makes the probabilities hold for the population.
    A step's counts are taken at their effective sample size (Kish), so a step made of a few
    heavily weighted rows is as uncertain as those few rows, whatever their weight.
    """
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    fitted = iso.fit(raw, y, sample_weight=weight).predict(raw)
    order = np.argsort(raw, kind="stable")
    raw, y, weight, fitted = raw[order], y[order], weight[order], fitted[order]
    # A step: a maximal run of rows (by margin) that the isotonic fit gives one value.
    starts = np.flatnonzero(np.r_[True, fitted[1:] != fitted[:-1]])
    ends = np.r_[starts[1:], len(raw)]
    steps = [_Step.of(raw[a:b], y[a:b], weight[a:b]) for a, b in zip(starts, ends, strict=True)]
    # The posterior shrinks a small step towards 1/2, which can put it above a larger step to its
    # right; such neighbours are pooled (pool-adjacent-violators on the posterior means).
    pooled: list[_Step] = []
    for step in steps:
        pooled.append(step)
        while len(pooled) > 1 and pooled[-2].mean > pooled[-1].mean:
            right = pooled.pop()
            pooled[-1] = pooled[-1].merged(right)
    tail = (1.0 - level) / 2.0
    xs: list[float] = []
    ys: list[float] = []
    lows: list[float] = []
    highs: list[float] = []
    for step in pooled:
        post = step.posterior
        for knot in (step.first, step.last) if step.last > step.first else (step.first,):
            xs.append(knot)
            ys.append(float(post.mean()))
            lows.append(float(post.ppf(tail)))
            highs.append(float(post.ppf(1.0 - tail)))
    return Calibrator(xs, ys, lows, highs, level)


@dataclass(frozen=True)
class _Step:
    """One calibration step: its margin range and weighted counts."""

    first: float
    last: float
    sum_w: float
    sum_wy: float
    sum_w2: float

    @classmethod
    def of(cls, raw: np.ndarray, y: np.ndarray, w: np.ndarray) -> _Step:
        return cls(float(raw[0]), float(raw[-1]), float(w.sum()), float((w * y).sum()), float(np.square(w).sum()))

    def merged(self, right: _Step) -> _Step:
        return _Step(
            self.first, right.last, self.sum_w + right.sum_w, self.sum_wy + right.sum_wy, self.sum_w2 + right.sum_w2
        )

    @property
    def posterior(self) -> Any:
        n_eff = self.sum_w**2 / self.sum_w2
        p = self.sum_wy / self.sum_w
        # Jeffreys prior, Beta(1/2, 1/2), on the counts at their effective sample size (Kish).
        return beta(p * n_eff + 0.5, (1.0 - p) * n_eff + 0.5)

    @property
    def mean(self) -> float:
        return float(self.posterior.mean())
