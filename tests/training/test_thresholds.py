"""Fitting the ladder: bands, lower confidence bounds, budgets, the probability floor; PU helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reviewguard.training.config import PRESETS, ActionSpec, load_config
from reviewguard.training.learner import best_rounds, fit_calibrator
from reviewguard.training.thresholds import fit_risk_policy, precision_bounds
from reviewguard.training.unlabelled import (
    UNLABELLED_SOURCE,
    presumed_labels,
    sample_unlabelled,
    weighted_to_population,
)

SPECS = (
    ActionSpec("monitor", 0.5, False, "", 0.05, False, min_probability=0.0),
    ActionSpec("remedy", 0.8, False, "", 0.01, False),
    ActionSpec("human", 0.9, True, "", 0.002, True),
)


def _labels(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    # Labels enriched in abuse (as labelled sets are): most ordinary, a quarter from the abusive mode.
    rng = np.random.default_rng(seed)
    margin = np.r_[rng.normal(0, 2, n), rng.normal(6, 1, n // 4)]
    y = (rng.random(len(margin)) < 1 / (1 + np.exp(-3 * (margin - 4)))).astype(int)
    return y, margin


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_enabled_band_reaches_its_target_at_the_lower_bound_within_budget(seed: int) -> None:
    y, margin = _labels(seed)
    w = np.ones(len(y))
    rng = np.random.default_rng(seed + 10)
    population = np.r_[rng.normal(0, 2, 50_000), rng.normal(6, 1, 80)]
    cal = fit_calibrator(margin, y, w, 0.9)
    policy = fit_risk_policy("r", y, margin, w, SPECS, population_scores=population, confidence=0.95, calibrator=cal)
    enabled = [a for a in policy.actions if a.threshold is not None]
    assert len(enabled) >= 2, policy
    thresholds = [a.threshold for a in enabled]
    assert thresholds == sorted(set(thresholds))  # strictly increasing up the ladder
    uppers = [*thresholds[1:], np.inf]
    for a, upper in zip(enabled, uppers, strict=True):
        band = (margin >= a.threshold) & (margin < upper)
        p, low = precision_bounds(float(band.sum()), float(y[band].sum()), float(band.sum()), 0.95)
        assert low >= a.target_precision and a.band_precision == pytest.approx(p)
        assert (population >= a.threshold).mean() <= a.max_share
        assert a.population_share == pytest.approx((population >= a.threshold).mean())
        spec = next(s for s in SPECS if s.name == a.name)
        assert a.threshold_score is not None and a.threshold_score >= spec.min_probability - 1e-9


def test_an_action_no_band_can_justify_is_disabled_with_the_reason() -> None:
    y, margin = _labels(4)
    w = np.ones(len(y))
    # A budget of 0.01% of a population that scores high everywhere: nothing fits.
    strict = (SPECS[0], SPECS[1], ActionSpec("human", 0.9, True, "", 0.0001, True))
    policy = fit_risk_policy("r", y, margin, w, strict, population_scores=margin + 5, confidence=0.95)
    human = policy.action("human")
    assert human.threshold is None and "budget of 0.0% of accounts" in human.note


def test_the_probability_floor_keeps_a_remedy_off_accounts_more_likely_innocent() -> None:
    # A pure top (every label positive) above a long mixed tail: the band's average stays high far
    # below the point where single accounts are more likely innocent than not.
    rng = np.random.default_rng(5)
    margin = np.r_[rng.uniform(3, 4, 200), rng.uniform(-3, 3, 2000)]
    y = np.r_[np.ones(200, int), (rng.random(2000) < 0.1).astype(int)]
    w = np.ones(len(y))
    cal = fit_calibrator(margin, y, w, 0.9)
    spec = (ActionSpec("remedy", 0.6, False, "", 1.0, False),)
    loose = fit_risk_policy("r", y, margin, w, spec, population_scores=margin, confidence=0.95)
    floored = fit_risk_policy("r", y, margin, w, spec, population_scores=margin, confidence=0.95, calibrator=cal)
    assert loose.actions[0].threshold is not None and floored.actions[0].threshold is not None
    assert float(cal.apply(np.array([loose.actions[0].threshold]))[0]) < 0.5
    assert floored.actions[0].threshold > loose.actions[0].threshold
    assert floored.actions[0].threshold_score is not None and floored.actions[0].threshold_score >= 0.5


def test_weighted_precision_bound_is_as_uncertain_as_its_effective_sample() -> None:
    # 37 positives of weight 1 and one row of weight 25: the bound is that of ~6 rows, not 38.
    p, low = precision_bounds(62.0, 62.0, 37.0 + 625.0, 0.95)
    _, low_38 = precision_bounds(38.0, 38.0, 38.0, 0.95)
    assert p == 1.0 and low < 0.8 < low_38


def test_best_rounds_reaches_most_of_the_fall_in_loss_with_fewest_trees() -> None:
    trees = np.arange(1, 601)
    curve = 0.2 + 0.5 * np.exp(-trees / 40)
    chosen = best_rounds([curve, curve + 0.01])
    fall = curve[0] - curve
    assert fall[chosen - 1] >= 0.99 * fall.max() and fall[chosen - 2] < 0.99 * fall.max()
    assert best_rounds([np.full(50, 0.3)]) == 1  # nothing learned: one tree, not fifty
    # Share 1 (backtest.loss_fall_share = 1.0): the trees at the lowest loss, before overfitting sets in.
    u_shaped = curve + 2e-4 * trees
    assert best_rounds([u_shaped], share=1.0) == int(np.argmin(u_shaped)) + 1 > chosen // 2
    assert best_rounds([u_shaped], share=1.0) > best_rounds([u_shaped])


def test_presumed_labels_count_likely_uncaught_abusers_and_keep_labels() -> None:
    y = np.array([1, 0, 0, 0])
    score = np.array([0.9, 0.9, 0.5, 0.01])
    unlabelled = np.array([False, False, True, True])
    out = presumed_labels(y, score, unlabelled, c=0.5)
    assert out[0] == 1 and out[1] == 0  # labelled rows keep their labels
    assert out[2] == 1.0 and 0 < out[3] < 0.02  # (1-c)/c * g/(1-g), clipped to [0, 1]
    np.testing.assert_array_equal(presumed_labels(y, score, unlabelled, float("nan")), y)


def test_unlabelled_sample_draws_only_unlabelled_accounts_that_existed() -> None:
    accounts = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(100)],
            "created_at": pd.date_range("2026-01-01", periods=100, freq="D"),
        }
    )
    labels = pd.DataFrame(
        {"account_id": ["a1", "a2"], "decided_at": pd.to_datetime(["2026-02-01", "2026-03-01"]), "label": [1, 0]}
    )
    cfg = load_config()
    drawn = sample_unlabelled(labels, accounts, cfg, risk="r", seed=1)
    again = sample_unlabelled(labels, accounts, cfg, risk="r", seed=1)
    pd.testing.assert_frame_equal(drawn, again)
    assert not drawn["account_id"].isin(["a1", "a2"]).any() and (drawn["label"] == 0).all()
    created = drawn.merge(accounts, on="account_id")
    assert (created["created_at"] < created["decided_at"]).all()
    assert drawn["weight"].iloc[0] == pytest.approx(98 / len(drawn))


def test_later_decisions_are_weighted_to_the_population_they_stand_for() -> None:
    """What promote judges on: each label at its source's weight; without a random audit, accounts
    nobody ever labelled for the risk join as presumed negatives standing for the rest."""
    accounts = pd.DataFrame(
        {"account_id": [f"a{i}" for i in range(400)], "created_at": pd.date_range("2025-01-01", periods=400, freq="h")}
    )
    later = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3"],
            "risk": "r",
            "label": [1, 0, 1],
            "decided_at": pd.to_datetime(["2026-02-01", "2026-02-02", "2026-02-03"]),
            "source": ["confirmed_case", "manual_review", "confirmed_case"],
        }
    )
    ever = {"a1", "a2", "a3", "a7"}  # a7 was labelled earlier: never a presumed negative
    complaints = weighted_to_population(later, ever, accounts, load_config(), risk="r", seed=1, rows=200)
    presumed = complaints[complaints["source"] == UNLABELLED_SOURCE]
    assert len(presumed) > 150 and (presumed["label"] == 0).all()
    assert not presumed["account_id"].isin(ever).any()
    assert presumed["weight"].iloc[0] == pytest.approx(396 / len(presumed))
    assert (complaints.loc[complaints["source"] != UNLABELLED_SOURCE, "weight"] == 1.0).all()
    audit = later.assign(source=["random_audit", "random_audit", "confirmed_case"])
    weighted = weighted_to_population(audit, ever, accounts, load_config(), risk="r", seed=1)
    # A source that samples everyone (the default's random audit, weight 25): no presumed rows.
    assert list(weighted["weight"]) == [25.0, 25.0, 1.0]


def test_no_judged_rows_disables_every_action_instead_of_crashing() -> None:
    empty = np.empty(0)
    policy = fit_risk_policy("r", empty, empty, empty, SPECS, population_scores=np.zeros(10), confidence=0.95)
    assert all(a.threshold is None for a in policy.actions)


def _human_ladder(heavy_share: float) -> tuple[ActionSpec, ...]:
    return (
        *SPECS[:2],
        ActionSpec("restrict", 0.9, True, "", 0.002, True),
        ActionSpec("suspend", 0.97, True, "", heavy_share, True),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_heavier_budget_below_the_lighter_one_leaves_the_milder_human_rung_a_band(seed: int) -> None:
    """Budgets count every account at or above a threshold. With equal budgets the heaviest action,
    fitted first, takes the lighter one's whole budget and the ladder skips its milder rung (the 200k
    reference run's fake-engagement ladder); with the heavier budget below the lighter one, as the
    configuration now requires, both rungs get a band and the heavy one stays the rarer."""
    rng = np.random.default_rng(seed)
    # A clean abusive mode larger than the human budgets: both could fill theirs with precision to spare.
    margin = np.r_[rng.normal(0, 2, 4000), rng.normal(8, 1, 1500)]
    y = (margin > 5).astype(int)
    w = np.ones(len(y))
    population = np.r_[rng.normal(0, 2, 100_000), rng.normal(8, 1, 1500)]
    equal = fit_risk_policy("r", y, margin, w, _human_ladder(0.002), population_scores=population, confidence=0.95)
    assert equal.action("suspend").threshold is not None and equal.action("restrict").threshold is None, equal
    graded = fit_risk_policy("r", y, margin, w, _human_ladder(0.001), population_scores=population, confidence=0.95)
    restrict, suspend = graded.action("restrict"), graded.action("suspend")
    assert restrict.threshold is not None and suspend.threshold is not None, graded
    assert restrict.threshold < suspend.threshold
    assert suspend.population_share is not None and restrict.population_share is not None
    assert suspend.population_share <= 0.001 < restrict.population_share <= 0.002


def test_the_config_refuses_a_heavier_action_with_the_budget_of_a_lighter_one() -> None:
    from reviewguard.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"policy\.fake_engagement\.suspension_review: max_share 0\.002 must be below"
    ):
        load_config(overrides={"policy": {"fake_engagement": _actions_with_suspension_share(0.002)}})
    # The defaults hold the rule: each heavier action's budget is below the lighter one's.
    for risk, acts in load_config().policy.actions.items():
        shares = [a.max_share for a in acts]
        assert shares == sorted(shares, reverse=True) and len(set(shares)) == len(shares), (risk, shares)


def _actions_with_suspension_share(share: float) -> list[dict[str, object]]:
    import tomllib
    from importlib.resources import files

    cfg = tomllib.loads(files("reviewguard").joinpath("defaults/train.toml").read_text())
    acts = cfg["policy"]["fake_engagement"]
    return [{**a, "max_share": share} if a["name"] == "suspension_review" else a for a in acts]


@pytest.mark.parametrize(
    ("ladder", "message"),
    [
        ([], r"policy\.fake_engagement: must be a non-empty list of actions"),
        ("none", r"policy\.fake_engagement: must be a non-empty list of actions"),
        (
            [{"name": "monitor", "target_precision": 0.5, "requires_human": False}],
            r"policy\.fake_engagement\.monitor: lacks 'max_share'",
        ),
        (
            [
                {
                    "name": "monitor",
                    "target_precision": 0.5,
                    "requires_human": False,
                    "max_share": 0.05,
                    "min_probabilty": 0,
                }
            ],
            r"policy\.fake_engagement\.monitor: unknown keys \['min_probabilty'\]",
        ),
        (
            [
                {"name": "monitor", "target_precision": 0.5, "requires_human": False, "max_share": 0.05},
                {"name": "monitor", "target_precision": 0.8, "requires_human": False, "max_share": 0.01},
            ],
            r"policy\.fake_engagement: action names must be unique; repeated: monitor",
        ),
    ],
)
def test_a_ladder_that_would_lose_or_ignore_an_action_is_refused_naming_it(ladder: object, message: str) -> None:
    """Found by a hostile user: a repeated name lost one action in the fitted policy, a typo left a
    default in force, and an empty ladder failed only after the other risk had trained."""
    from reviewguard.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config(overrides={"policy": {"fake_engagement": ladder}})


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_every_packaged_ladder_lets_monitoring_and_only_monitoring_below_the_probability_floor(
    preset: str | None,
) -> None:
    """Found by a hostile user: the yelp preset's monitor lacked `min_probability = 0.0`, so watching
    an account, which has no effect on it, was held to the 0.5 floor meant for remedies."""
    for risk, acts in load_config(preset).policy.actions.items():
        floors = {a.name: a.min_probability for a in acts}
        assert floors.pop("monitor") == 0.0, (preset, risk)
        assert set(floors.values()) == {0.5}, (preset, risk, floors)


_MONITOR = {"name": "monitor", "target_precision": 0.5, "requires_human": False, "max_share": 0.05}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"evaluation": {"source_weights": 5}},
            r"^evaluation\.source_weights must be a table of label source = weight .*, not an integer \(5\)$",
        ),
        (
            {"policy": {"fake_engagement": [{**_MONITOR, "max_share": True}]}},
            r"^policy\.fake_engagement\.monitor\.max_share must be a finite number, not a boolean \(true\)$",
        ),
        ({"policy": {"confidence": True}}, r"^policy\.confidence must be a finite number, not a boolean"),
        (
            {"evaluation": {"source_weights": {"random_audit": True}}},
            r"^evaluation\.source_weights\.random_audit must be a finite number",
        ),
        ({"backtest": {"folds": True}}, r"^backtest\.folds must be a whole number, not a boolean"),
        ({"backtest": {"folds": 2.5}}, r"^backtest\.folds must be a whole number, not a decimal \(2\.5\)"),
        (
            {"policy": {"fake_engagement": [{**_MONITOR, "requires_human": "false"}]}},
            r"^policy\.fake_engagement\.monitor\.requires_human must be true or false, not a string",
        ),
        (
            {"evaluation": {"hard_negative_sources": "appeal"}},
            r"^evaluation\.hard_negative_sources must be a list of strings",
        ),
        ({"risks": {"review_spam": {"features": "abc"}}}, r"^risks\.review_spam\.features must be a list of strings"),
        ({"baselines": {"extortion": 5}}, r"^baselines\.extortion must be a list of rules"),
        ({"backtest": 5}, r"^backtest must be a table, not an integer \(5\)$"),
        (
            {"backtest": {"gap_days": float("nan")}},
            r"^backtest\.gap_days must be a finite number, not a decimal \(NaN\)",
        ),
    ],
    ids=[
        "source_weights-5",
        "max_share-true",
        "confidence-true",
        "weight-true",
        "folds-true",
        "folds-2.5",
        "requires_human-string",
        "sources-string",
        "features-string",
        "baselines-5",
        "section-5",
        "gap_days-nan",
    ],
)
def test_a_config_value_of_the_wrong_type_is_refused_naming_key_and_type(override: dict, message: str) -> None:  # type: ignore[type-arg]
    """Found by a hostile user: `source_weights = 5` failed as "unexpected AttributeError", and
    `max_share = true` was read as 1 (a bool is an int in Python); nothing is converted now."""
    from reviewguard.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config(overrides=override)


def test_positives_are_not_up_weighted_against_the_unlabelled_sample() -> None:
    """Under positive-unlabelled learning 'auto' is 1 (counting every presumed negative weighed a
    positive ~20x and stopped the boosting early); other label sets and explicit values unchanged."""
    from reviewguard.training.pipeline import _lightgbm_for
    from reviewguard.training.unlabelled import UNLABELLED_SOURCE

    lgb_cfg = load_config().lightgbm
    assert lgb_cfg["scale_pos_weight"] == "auto"
    queue = pd.DataFrame({"label": [1, 0, 0], "source": ["confirmed_case", "manual_review", "manual_review"]})
    sampled = pd.concat([queue, pd.DataFrame({"label": [0] * 12, "source": [UNLABELLED_SOURCE] * 12})])
    assert _lightgbm_for(lgb_cfg, queue)["scale_pos_weight"] == "auto"
    assert _lightgbm_for(lgb_cfg, sampled)["scale_pos_weight"] == 1.0
    assert _lightgbm_for({**lgb_cfg, "scale_pos_weight": 2.5}, sampled)["scale_pos_weight"] == 2.5
    assert lgb_cfg["scale_pos_weight"] == "auto"  # the configuration itself is not changed
