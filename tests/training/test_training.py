"""Training: deterministic, honest about the future, calibrated, graduated policy, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.errors import ContractError, TrainingDataError
from reviewguard.reader import open_dataset
from reviewguard.training.config import load_config
from reviewguard.training.pipeline import train_models
from reviewguard.training.report import report_markdown


def test_retraining_reproduces_model_text_and_metrics(trained, train_dataset, populations) -> None:  # type: ignore[no-untyped-def]
    again = train_models(train_dataset, load_config(), populations=populations)
    for risk, m in trained.bundle.risks.items():
        assert again.bundle.risks[risk].model_text() == m.model_text()
        assert again.reports[risk].metrics == trained.reports[risk].metrics
    assert again.bundle.policy == trained.bundle.policy
    assert again.features_digest == trained.features_digest


def test_one_model_per_risk_with_registry_constraints(trained) -> None:  # type: ignore[no-untyped-def]
    from reviewguard.features import features_for

    assert sorted(trained.bundle.risks) == ["extortion", "fake_engagement"]
    for risk, m in trained.bundle.risks.items():
        names = [f.name for f in features_for(risk)]
        assert m.features == names
        text = m.model_text()
        directions = [str(f.direction) for f in features_for(risk)]
        assert f"\nmonotone_constraints={' '.join(directions)}\n" in text


def test_backtest_judges_every_fold_on_later_decisions_with_groups_whole(trained) -> None:  # type: ignore[no-untyped-def]
    from reviewguard.training.backtest import make_folds
    from reviewguard.training.config import load_config

    cfg = load_config().backtest
    data = trained.label_features
    for risk, r in trained.reports.items():
        rows = data[data.risk == risk].reset_index(drop=True)
        # Every account its own group except pairs that share a fake "device": they must stay together.
        rows["group"] = rows["account_id"].str[-4:]
        folds, _ = make_folds(rows, cfg)
        assert len(folds) >= 2, risk
        gap = pd.Timedelta(days=cfg.gap_days)
        for f in folds:
            assert (rows.decided_at.iloc[f.train] < f.starts - gap).all()
            assert not set(rows.group.iloc[f.train]) & set(rows.group.iloc[f.test])
        assert len(r.backtest["folds"]) >= 2 and r.backtest["chosen_rounds"] >= 1
    oof = trained.test_scores
    assert oof.fold.min() >= 1 and oof.score.between(0, 1, inclusive="neither").all()


def test_lightgbm_beats_the_platform_rules_at_matched_false_positive_rate(trained) -> None:  # type: ignore[no-untyped-def]
    for risk, r in trained.reports.items():
        rules = {k: v for k, v in r.baselines.items() if "rule" in v}
        assert rules, risk
        for name, b in rules.items():
            assert b["our_recall"] >= b["baseline_recall"], (risk, name, b)
        # Unweighted here: on this audit-regime platform a handful of noisy random-audit positives
        # (the simulator's 2% label noise), each standing for 25 accounts, decide the weighted AUC
        # (fake engagement: 0.645, bootstrap interval 0.46-0.99). The weighted floor is asserted on
        # the complaints regime (tests/training/test_complaints_regime.py).
        assert r.metrics["roc_auc_unweighted"] > 0.85, (risk, r.metrics)
    text = report_markdown(trained)
    for risk, r in trained.reports.items():
        verdict = "yes" if r.beats_baselines else "no"
        assert f"never worse): **{verdict}**" in text, risk


def test_scores_are_calibrated_probabilities(trained) -> None:  # type: ignore[no-untyped-def]
    for risk, r in trained.reports.items():
        s = trained.test_scores[trained.test_scores.risk == risk].score
        assert s.between(0, 1).all()
        assert r.metrics["expected_calibration_error"] < 0.1, (risk, r.metrics)
    assert "calibration.png" in " ".join(trained.figures)


def test_policy_is_graduated_and_heavy_actions_need_a_human(trained) -> None:  # type: ignore[no-untyped-def]
    policy = trained.bundle.policy.to_dict()
    assert policy["version"].startswith("policy-") and policy["min_families_for_human"] == 2
    for risk, p in policy["risks"].items():
        actions = p["actions"]
        assert not actions[0]["requires_human"] and actions[-1]["requires_human"]
        thresholds = [a["threshold"] for a in actions if a["threshold"] is not None]
        assert thresholds == sorted(set(thresholds)) and thresholds, (risk, actions)
        for a in actions:
            if a["threshold"] is not None:
                assert a["band_precision_low"] >= a["target_precision"] - 1e-12
                assert a["population_share"] <= a["max_share"]


def test_hard_negatives_are_reported(trained) -> None:  # type: ignore[no-untyped-def]
    assert "unhappy_customer" in trained.reports["extortion"].hard_negatives
    assert "power_liker" in trained.reports["fake_engagement"].hard_negatives
    text = report_markdown(trained)
    assert "Hard negatives" in text and "beats every baseline" in text


# ---------------------------------------------------------------- bad input


def _with_labels(src: Path, dst: Path, labels: pd.DataFrame | None) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("labels.parquet"))
    if labels is not None:
        labels.to_parquet(dst / "labels.parquet", index=False)
    return dst


@pytest.fixture(scope="module")
def labels(small_platform: Path) -> pd.DataFrame:
    return pd.read_parquet(small_platform / "labels.parquet")


def test_no_labels_is_a_clear_error(small_platform: Path, tmp_path: Path) -> None:
    ds = open_dataset(connect(), _with_labels(small_platform, tmp_path / "d", None))
    with pytest.raises(TrainingDataError, match="no labels table"):
        train_models(ds, load_config())


def test_one_class_only_is_a_clear_error(small_platform: Path, tmp_path: Path, labels: pd.DataFrame) -> None:
    ds = open_dataset(connect(), _with_labels(small_platform, tmp_path / "d", labels.assign(label=0)))
    with pytest.raises(TrainingDataError, match=r"0 positive and \d+ negative labels"):
        train_models(ds, load_config())


def test_too_few_positives_to_validate_is_a_clear_error(
    small_platform: Path, tmp_path: Path, labels: pd.DataFrame
) -> None:
    few = labels.copy()
    pos = np.flatnonzero((few.label == 1) & (few.risk == "extortion"))
    few.loc[few.index[pos[8:]], "label"] = 0
    ds = open_dataset(connect(), _with_labels(small_platform, tmp_path / "d", few))
    with pytest.raises(
        TrainingDataError, match=r"risk extortion: [0-9] positive and \d+ negative labels; a backtest needs at least 10"
    ):
        train_models(ds, load_config())


def test_labels_for_unknown_accounts_are_a_clear_error(
    small_platform: Path, tmp_path: Path, labels: pd.DataFrame
) -> None:
    bad = pd.concat([labels, labels.head(1).assign(account_id="ghost")], ignore_index=True)
    with pytest.raises(ContractError, match="table labels, column account_id: unknown account"):
        open_dataset(connect(), _with_labels(small_platform, tmp_path / "d", bad))


def test_config_file_is_merged_and_checked(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("seed = 3\n[lightgbm]\nnum_leaves = 7\n", encoding="utf-8")
    cfg = load_config(p)
    assert cfg.seed == 3 and cfg.lightgbm["num_leaves"] == 7 and cfg.lightgbm["max_depth"] == 5
    p.write_text("sede = 3\n", encoding="utf-8")
    from reviewguard.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown keys"):
        load_config(p)
    for share in ("0", "1.5"):
        p.write_text(f"[backtest]\nloss_fall_share = {share}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"backtest.loss_fall_share must be in \(0, 1\]"):
            load_config(p)
    p.write_text("[backtest]\nloss_fall_share = 1.0\n", encoding="utf-8")
    assert load_config(p).backtest.loss_fall_share == 1.0 and load_config().backtest.loss_fall_share == 0.99
