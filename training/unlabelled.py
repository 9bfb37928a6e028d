"""Positive-unlabelled learning: the accounts nobody labelled, sampled as presumed negatives.

Labels from complaint queues and moderators' reviews are not a sample of the platform: every
labelled negative had a complaint, so a model trained on them alone never sees the ordinary
account it will mostly score. Following Elkan & Noto (2008), unlabelled accounts are drawn at
the labels' decision times and trained on as negatives, each standing for its share of the
unlabelled population; from the out-of-fold scores, ``c`` (the share of true positives that get
a positive label) and the class prior are estimated and logged. No I/O.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from reviewguard.training.config import TrainConfig

UNLABELLED_SOURCE = "unlabelled_sample"
# Accounts drawn per risk when later decisions are weighted to the population for judging: each
# stands for about (unlabelled accounts) / 10,000, so a few of them ranked above a positive do not
# swing its precision (training's 4 per label would make each stand for 28-230 accounts at 20,000).
JUDGING_ROWS = 10_000


def unbiased_sources(cfg: TrainConfig) -> set[str]:
    """Sources that sample everyone (a random audit): listed with a weight in ``source_weights``."""
    return {src for src, w in cfg.evaluation.source_weights.items() if w > 0}


def weight_by_source(sources: pd.Series, cfg: TrainConfig) -> pd.Series:
    """How many accounts a label of each source stands for (``source_weights``; 1 when unlisted)."""
    return sources.map(lambda src: float(cfg.evaluation.source_weights.get(src, 1.0)))


def pu_applies(rows: pd.DataFrame, cfg: TrainConfig) -> bool:
    """Whether one risk's labels are trained positive-unlabelled (``unlabelled.mode``)."""
    mode = cfg.unlabelled.mode
    if mode != "auto":
        return mode == "on"
    return not rows["source"].isin(unbiased_sources(cfg)).any()


def sample_unlabelled(
    rows: pd.DataFrame, accounts: pd.DataFrame, cfg: TrainConfig, *, risk: str, seed: int
) -> pd.DataFrame:
    """Unlabelled accounts at the labels' decision times, as label-0 rows with their weight.

    ``rows``: the risk's labels (``account_id``, ``decided_at``); ``accounts``: every account
    (``account_id``, ``created_at``). An account is drawn only at a time when it existed, and never
    when it carries any label of the risk. Each drawn row stands for
    (unlabelled accounts) / (rows drawn) accounts.
    """
    labelled = set(rows["account_id"])
    pool = accounts[~accounts["account_id"].isin(labelled)].sort_values("created_at", kind="stable")
    columns = ["account_id", "risk", "label", "decided_at", "source", "weight"]
    if pool.empty:
        return pd.DataFrame(columns=columns)
    created = pool["created_at"].to_numpy()
    ids = pool["account_id"].to_numpy()
    # A stable stream per risk: the same data, config and seed draw the same accounts.
    rng = np.random.default_rng([seed, sum(risk.encode())])
    times = np.sort(rows["decided_at"].to_numpy())
    n = min(len(times) * cfg.unlabelled.per_label, cfg.unlabelled.max_rows)
    at = times[rng.integers(0, len(times), n)]
    # Accounts created before each time are a prefix of the pool (sorted by creation).
    alive = np.searchsorted(created, at, side="left")
    keep = alive > 0
    at, alive = at[keep], alive[keep]
    drawn = ids[(rng.random(len(at)) * alive).astype(np.int64)]
    out = pd.DataFrame({"account_id": drawn, "decided_at": at})
    # One row per account and time: a repeated draw adds nothing.
    out = out.drop_duplicates().sort_values(["decided_at", "account_id"], kind="stable").reset_index(drop=True)
    weight = len(pool) / max(len(out), 1)
    return out.assign(risk=risk, label=0, source=UNLABELLED_SOURCE, weight=weight)[columns]


def label_coverage(score: np.ndarray, y: np.ndarray, weight: np.ndarray, is_unlabelled: np.ndarray) -> dict[str, float]:
    """Elkan & Noto's ``c`` and the class prior it implies, from out-of-fold probabilities.

    ``score`` estimates P(labelled positive | x) in the population; ``c`` is its mean over the
    labelled positives (the share of positives that get caught and labelled, if the scores are
    calibrated), and the prior is the population's labelled-positive rate divided by ``c``.
    """
    pos = y == 1
    if not pos.any():
        return {"label_coverage_c": float("nan"), "class_prior": float("nan"), "unlabelled_weight": float("nan")}
    c = float(np.clip(score[pos].mean(), 1e-6, 1.0))
    labelled_rate = float((weight * y).sum() / weight.sum())
    return {
        "label_coverage_c": c,
        "class_prior": float(min(1.0, labelled_rate / c)),
        "unlabelled_weight": float(weight[is_unlabelled].mean()) if is_unlabelled.any() else float("nan"),
    }


def presumed_labels(y: np.ndarray, score: np.ndarray, is_unlabelled: np.ndarray, c: float) -> np.ndarray:
    """Labels for judging decisions: an unlabelled row counts as abuse with the probability that
    an unlabelled account with its score is an uncaught abuser (Elkan & Noto's weighting,
    ``(1 - c) / c * g / (1 - g)`` with ``g`` its calibrated probability of being labelled).

    Without it, the uncaught abusers the sample happens to draw count as false positives at full
    weight, and no band near the top could ever show the precision it has.
    """
    out = np.asarray(y, dtype=np.float64).copy()
    if not is_unlabelled.any() or not np.isfinite(c) or c <= 0:
        return out
    g = np.clip(np.asarray(score, dtype=np.float64)[is_unlabelled], 0.0, 1.0 - 1e-9)
    out[is_unlabelled] = np.clip((1.0 - c) / c * g / (1.0 - g), 0.0, 1.0)
    return out


def weighted_to_population(
    later: pd.DataFrame,
    labelled: set[str],
    accounts: pd.DataFrame,
    cfg: TrainConfig,
    *,
    risk: str,
    seed: int,
    rows: int = JUDGING_ROWS,
) -> pd.DataFrame:
    """One risk's later decisions weighted to the population they stand for, to judge models on.

    Each label keeps its source's weight (``source_weights``; 1 otherwise). When the labels hold no
    source that samples everyone, ``rows`` accounts never labelled for the risk (not in
    ``labelled``) are drawn at the later labels' decision times as presumed negatives, each
    standing for its share of the unlabelled accounts: without them a model that ranks the
    complaint queue well and the platform badly looks best. An abuser nobody caught counts as a
    miss, so the figure is a lower bound (docs/benchmarks.md).
    """
    out = later.assign(weight=weight_by_source(later["source"], cfg).to_numpy())
    if later.empty or not pu_applies(later, cfg):
        return out.reset_index(drop=True)
    pool = accounts[~accounts["account_id"].isin(labelled)]
    per_label = -(-rows // len(later))  # enough draws per label to reach ``rows``
    drawing = replace(cfg, unlabelled=replace(cfg.unlabelled, per_label=per_label, max_rows=rows))
    presumed = sample_unlabelled(later, pool, drawing, risk=risk, seed=seed)
    return pd.concat([out, presumed], ignore_index=True)
