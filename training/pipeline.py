"""Train every risk present in the labels: backtest the recipe, then refit on every label.

For each risk: the labels (plus, when the labels come only from complaints and reviews,
unlabelled accounts sampled as presumed negatives), their features at each decision time,
connected accounts grouped; a rolling-origin backtest gives every judged label an out-of-fold
margin; the calibrator, the policy thresholds and every reported figure come from those; the
registered model is refit on every label with the number of trees the backtest chose.

No I/O: the dataset comes in, a :class:`TrainResult` (bundle, report, figures) goes out;
``reviewguard.training.tracking`` writes it to MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import reviewguard
from reviewguard.features import FEATURE_SET_VERSION, FEATURES, Feature, features_for
from reviewguard.model.bundle import Bundle, Reference, RiskModel
from reviewguard.model.explain import TreeModel
from reviewguard.model.policy import RiskPolicy
from reviewguard.model.predictor import Predictor
from reviewguard.reader import Dataset
from reviewguard.training import plots
from reviewguard.training.backtest import Backtest, run_backtest
from reviewguard.training.config import TrainConfig
from reviewguard.training.decisions import (
    action_precision,
    actions_out_of_fold,
    cross_calibrate,
    falling_short_out_of_fold,
    hard_negative_rates,
    judged_rows,
)
from reviewguard.training.evaluate import evaluate_out_of_fold, missing_value_cost
from reviewguard.training.groups import account_groups, account_links, cut_links
from reviewguard.training.labels import (
    accounts_frame,
    check_positives,
    features_at,
    label_table,
    mark_weights_and_hard_negatives,
    population_features,
    reference_time,
)
from reviewguard.training.learner import fit_booster, fit_calibrator
from reviewguard.training.report import RiskReport, TrainResult, frame_digest
from reviewguard.training.thresholds import assemble_policy, fit_risk_policy
from reviewguard.training.unlabelled import (
    UNLABELLED_SOURCE,
    label_coverage,
    presumed_labels,
    pu_applies,
    sample_unlabelled,
)


@dataclass
class _Fitted:
    model: RiskModel
    rows: pd.DataFrame
    backtest: Backtest
    oof_score: np.ndarray
    policy: RiskPolicy
    report: RiskReport


def train_models(ds: Dataset, cfg: TrainConfig, *, populations: pd.DataFrame | None = None) -> TrainResult:
    """Train one model per risk in the labels. ``populations`` (account_id, population) marks hard negatives."""
    lab = label_table(ds)
    risks = sorted(lab["risk"].unique())
    for risk in risks:
        check_positives(risk, lab[lab["risk"] == risk], cfg.backtest.min_positives)
    accounts = accounts_frame(ds)
    rows = [lab[lab["risk"] == r] for r in risks]
    sampled = [
        sample_unlabelled(r, accounts, cfg, risk=risk, seed=cfg.seed)
        for risk, r in zip(risks, rows, strict=True)
        if pu_applies(r, cfg)
    ]
    data = features_at(ds, pd.concat([*rows, *sampled], ignore_index=True))
    data = mark_weights_and_hard_negatives(data, cfg, populations)
    reference_as_of = reference_time(ds, lab)
    population, population_weight = population_features(ds, reference_as_of, [f.name for f in FEATURES])
    links = account_links(ds, max_accounts=cfg.backtest.max_accounts_per_link)

    fitted = {
        risk: _train_risk(
            risk, data[data["risk"] == risk].reset_index(drop=True), population, population_weight, links, cfg
        )
        for risk in risks
    }
    policy = assemble_policy(
        {risk: f.policy for risk, f in fitted.items()},
        min_families_for_human=cfg.policy.min_families_for_human,
        top_k=cfg.policy.top_k_reasons,
        max_single_feature_share=cfg.policy.max_single_feature_share,
    )
    bundle = Bundle(
        {risk: f.model for risk, f in fitted.items()},
        policy,
        FEATURE_SET_VERSION,
        reviewguard.__version__,
        {
            "data_fingerprint": ds.fingerprint,
            "reference_as_of": str(reference_as_of),
            # Labels decided after this were seen by no part of the model.
            "trained_until": {risk: str(f.rows["decided_at"].max()) for risk, f in fitted.items()},
        },
    )
    figures: dict[str, Figure] = {}
    predictor = Predictor(bundle)
    for risk, f in fitted.items():
        figures.update(_figures(predictor, risk, f))
    oof = pd.concat(
        [
            f.rows.loc[
                f.backtest.scored, ["account_id", "risk", "label", "decided_at", "source", "hard_negative"]
            ].assign(
                fold=f.backtest.fold_of[f.backtest.scored],
                score=f.oof_score[f.backtest.scored],
                raw_score=f.backtest.margin[f.backtest.scored],
                logistic_score=f.report.evaluation.logistic_scores[f.backtest.scored],
            )
            for f in fitted.values()
        ],
        ignore_index=True,
    )
    label_features = data.drop(columns=["as_of"])
    return TrainResult(
        bundle=bundle,
        reports={risk: f.report for risk, f in fitted.items()},
        label_features=label_features,
        test_scores=oof,
        figures=figures,
        data_fingerprint=ds.fingerprint,
        features_digest=frame_digest(label_features[[c for c in label_features.columns if c != "hard_negative"]]),
    )


def _lightgbm_for(lgb_cfg: dict[str, Any], rows: pd.DataFrame) -> dict[str, Any]:
    """LightGBM's parameters for one risk's training rows.

    With the positive-unlabelled sample, ``scale_pos_weight = "auto"`` is 1: Elkan & Noto's
    classifier of labelled against unlabelled is fitted unweighted (its scores are calibrated
    afterwards). Up-weighting positives by every presumed negative (about 20x) stopped the
    boosting after ~22 trees and cost extortion average precision on the population at realistic
    difficulty (docs/benchmarks.md: 0.32-0.53 with it, 0.74-0.85 without, seeds 3/11/17).
    """
    if lgb_cfg.get("scale_pos_weight") != "auto" or not (rows["source"] == UNLABELLED_SOURCE).any():
        return lgb_cfg
    return {**lgb_cfg, "scale_pos_weight": 1.0}


def _train_risk(
    risk: str,
    rows: pd.DataFrame,
    population: pd.DataFrame,
    population_weight: float,
    links: pd.DataFrame,
    cfg: TrainConfig,
) -> _Fitted:
    features = features_for(risk, cfg.risk_features)
    names = [f.name for f in features]
    group_of = account_groups(rows["account_id"], links)
    rows = rows.assign(group=group_of.reindex(rows["account_id"].astype(str)).to_numpy())
    x = rows[names].to_numpy(dtype=np.float64, na_value=np.nan)
    y = rows["label"].to_numpy()
    w = rows["weight"].to_numpy(dtype=np.float64)

    lgb_cfg = _lightgbm_for(cfg.lightgbm, rows)
    bt = run_backtest(rows, x, features=features, lgb_cfg=lgb_cfg, cfg=cfg.backtest, seed=cfg.seed)
    if not bt.folds:
        from reviewguard.errors import TrainingDataError

        if rows["decided_at"].nunique() == 1:
            # Labels observed at one collection (Yelp's default, reviewguard.datasets): a time
            # backtest has no earlier labels to train on, whatever the number of folds.
            raise TrainingDataError(
                f"risk {risk}: every label was decided at one moment ({rows['decided_at'].iloc[0]}), so a "
                "time backtest has nothing earlier to train on; judge such labels by cross-validation, or "
                "date them apart (Yelp: reviewguard datasets yelp --decided-at last_review)"
            )
        raise TrainingDataError(
            f"risk {risk}: no backtest fold has labels of both classes to train on and to judge "
            f"({int(y.sum())} positives); add labels or lower backtest.folds"
        )
    booster, rounds = fit_booster(x, y, features=features, lgb_cfg=lgb_cfg, seed=cfg.seed, rounds=bt.chosen_rounds)
    s = bt.scored
    level = cfg.calibration.interval
    groups = rows["group"].to_numpy()[s]
    unlabelled = rows["source"].to_numpy() == UNLABELLED_SOURCE
    oof = np.full(len(rows), np.nan)
    oof[s] = cross_calibrate(bt.margin[s], y[s], w[s], groups, level)
    pu: dict[str, Any] = {"applied": bool(unlabelled.any()), "unlabelled_rows": int(unlabelled.sum())}
    # Calibrated on the labels, an unlabelled row as innocent at its weight: without a random audit
    # the score is the probability that the labels would call the account an abuser, a lower
    # bound. Elkan & Noto's presumed labels (an unlabelled row an abuser with a probability from
    # the model's own score) are only reported: calibrated on them, ordinary accounts whose one
    # reason was a recorded dwell time scored 0.98 (complaints seed 43, c = 0.27).
    if unlabelled.any():
        pu.update(label_coverage(oof[s], y[s], w[s], unlabelled[s]))
        presumed = presumed_labels(y[s], oof[s], unlabelled[s], pu["label_coverage_c"])
        pu["presumed_abusers_among_unlabelled"] = float((presumed * w[s])[unlabelled[s]].sum())
    calibrator = fit_calibrator(bt.margin[s], y[s].astype(np.float64), w[s], level)
    pop_margins = _population_margins(booster, features, population)
    judged = judged_rows(
        rows, s, bt.fold_of, bt.margin, pop_margins, population, population_weight, pu_sample=unlabelled.any()
    )
    if unlabelled.any():
        pu["band_precision"] = (
            "a lower bound, shown twice: the labels out of fold against every unlabelled account of the reference "
            "population, and the reference population alone, an account without a positive label counted as innocent"
        )
    actions = cfg.actions(risk)
    confidence = cfg.policy.confidence
    # Thresholds on out-of-fold margins (the ranking at full resolution); the calibrator only
    # names the probability at each threshold, so it never chooses one.
    fit = {
        "population_scores": pop_margins,
        "confidence": confidence,
        "calibrator": calibrator,
        "labelled_in_population": judged.labelled_in_population,
        "latest_label_in_population": judged.latest_label_in_population,
    }
    policy = fit_risk_policy(risk, judged.y, judged.score, judged.weight, actions, **fit)
    judged_action = actions_out_of_fold(judged.y, judged.score, judged.weight, judged.fold, actions, risk=risk, **fit)
    labelled = judged.row >= 0
    out_of_fold = action_precision(judged.y, judged.weight, judged_action, actions, confidence, labelled=labelled)
    off = {} if unlabelled.any() else falling_short_out_of_fold(policy, out_of_fold)
    if off:
        # Once: the ladder refitted without them is judged again out of fold and reported as it is.
        policy = fit_risk_policy(risk, judged.y, judged.score, judged.weight, actions, off=off, **fit)
        judged_action = actions_out_of_fold(
            judged.y, judged.score, judged.weight, judged.fold, actions, risk=risk, off=off, **fit
        )
        out_of_fold = action_precision(judged.y, judged.weight, judged_action, actions, confidence, labelled=labelled)
    train_of = {f.index: f.train for f in bt.folds}
    evaluation = evaluate_out_of_fold(
        rows,
        x,
        scored=s,
        fold_of=bt.fold_of,
        train_of=train_of,
        margin=bt.margin,
        score=np.nan_to_num(oof),
        rules=cfg.baselines(risk),
        queue_k=cfg.evaluation.queue_k,
        seed=cfg.seed,
    )
    block_of = rows.assign(block=bt.fold_of).groupby("account_id")["block"].max()
    report = RiskReport(
        risk=risk,
        backtest=bt.info(),
        evaluation=evaluation,
        actions=out_of_fold,
        # Cleared accounts: a review said no (the unlabelled sample was cleared by nobody).
        hard_negatives=hard_negative_rates(
            rows.iloc[judged.row[labelled]].reset_index(drop=True), judged_action[labelled]
        ),
        policy=policy,
        unlabelled=pu,
        groups={
            "groups": int(rows["group"].nunique()),
            "linked_accounts": int(rows["account_id"].isin(links["account_id"]).sum()),
            "links_cut": cut_links(block_of[block_of >= 0], links),
        },
        missing_values=missing_value_cost(
            x[s],
            y[s],
            w[s],
            as_scored=bt.margin[s],
            as_learned=bt.margin_as_learned[s],
            names=names,
            directions=[f.direction for f in features],
        ),
        labels={
            "rows": len(rows),
            "positives": int(y.sum()),
            "by_source": {str(k): int(v) for k, v in rows["source"].value_counts().sort_index().items()},
        },
    )
    reference = {n: Reference.from_values(population[n].to_numpy(dtype=np.float64, na_value=np.nan)) for n in names}
    model = RiskModel(risk, names, booster, calibrator, reference, best_iteration=rounds)
    model.metrics = {k: v for k, v in evaluation.metrics.items() if isinstance(v, (int, float))}
    return _Fitted(model, rows, bt, oof, policy, report)


def _population_margins(booster: Any, features: list[Feature], population: pd.DataFrame) -> np.ndarray:
    """The refit model's margins on the reference population (the action budget's denominator)."""
    tree = TreeModel(booster, [f.direction for f in features])
    x = population[[f.name for f in features]].to_numpy(dtype=np.float64, na_value=np.nan)
    return tree.raw_score(tree.fill(x))


def _figures(predictor: Predictor, risk: str, f: _Fitted) -> dict[str, Figure]:
    s = f.backtest.scored
    rows = f.rows.loc[s]
    y = rows["label"].to_numpy()
    margin = f.backtest.margin[s]
    model = f.model
    x = rows[model.features].to_numpy(dtype=np.float64, na_value=np.nan)
    title = risk.replace("_", " ")
    contrib = predictor.explain_rows(model, x)
    shown = np.where(np.isnan(x), np.nan, x)
    return {
        f"{risk}/pr_curve.png": plots.pr_curve_figure(
            y,
            {"LightGBM": margin, "logistic regression": f.report.evaluation.logistic_scores[s]},
            f"{title}: precision-recall (out of fold)",
        ),
        f"{risk}/calibration.png": plots.reliability_figure(y, f.oof_score[s], f"{title}: reliability (out of fold)"),
        f"{risk}/importance.png": plots.importance_figure(
            model.features, model.booster.feature_importance("gain"), f"{title}: importance"
        ),
        f"{risk}/shap_summary.png": plots.shap_summary_figure(
            contrib[:, :-1], shown, model.features, f"{title}: SHAP (refit model, judged labels)"
        ),
    }
