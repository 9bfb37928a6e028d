"""Explanations built column-wise (issue 18) are, frame by frame, the ones built row by row.

The reference below is the predictor's per-row code as it was before: sentences with
``reason_text``, percentiles with ``Reference.percentile`` and the contributions JSON with
``json.dumps``, one explained row at a time. Both score the same feature rows (two simulated
platforms, the labelled decision rows, and hostile values), in every explain mode and for several
numbers of reasons shown, and must agree exactly: every column, dtype and value, the type and text
of every object (a float or None, the key order of every reason, every JSON character).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from reviewguard.engine import connect
from reviewguard.features import BY_NAME, CONTEXT_FAMILIES, build_features, cutoffs_at, default_as_of
from reviewguard.model.bundle import Reference, RiskModel, load_bundle
from reviewguard.model.explain import TreeModel, _resolved_arrays
from reviewguard.model.policy import NO_ACTION, Evidence
from reviewguard.model.predictor import (
    _NO_REASONS,
    Explain,
    Predictor,
    _constant_text,
    _prior_remedy,
    _text,
    reason_text,
    to_arrow,
)
from reviewguard.reader import open_dataset
from reviewguard.simulator import SimConfig, simulate

SEEDS = (5, 23)


class PerRowPredictor(Predictor):
    """The predictor with its explanations built one row at a time, as before issue 18."""

    def _predict_risk(self, risk: str, features: pd.DataFrame, explain: Explain, top_k: int) -> pd.DataFrame:
        m = self.bundle.risks[risk]
        tree = self.trees[risk]
        x = self.matrix(m, features)
        raw = tree.raw_score(tree.fill(x))
        score = m.calibrator.apply(raw)
        low, high = m.calibrator.interval(raw)
        ladder = self.policy[risk]
        flagged = raw >= ladder.lowest_threshold
        need = raw >= ladder.lowest_human_threshold
        if explain == "all":
            need[:] = True
        elif explain == "flagged":
            need |= flagged
        n = len(x)
        contrib = tree.contributions(x[need]) if need.any() else np.empty((0, len(m.features) + 1))
        position = np.cumsum(need) - 1
        rule_top = _top_per_row(contrib, self.policy.top_k_reasons)
        shown_top = rule_top if top_k == self.policy.top_k_reasons else _top_per_row(contrib, top_k)
        family = np.array([BY_NAME[f].family for f in m.features], dtype=object)
        prior_remedy = _prior_remedy(risk, features)
        action_names = [NO_ACTION, *(a.name for a in ladder.actions)]
        action_code = {a.name: k for k, a in enumerate(ladder.actions, start=1)}
        action = np.zeros(n, dtype=np.int8)
        human = np.zeros(n, dtype=bool)
        notes = np.empty(n, dtype=object)
        notes.fill("")
        base = np.full(n, np.nan)
        contributions = np.empty(n, dtype=object)
        reasons = np.empty(n, dtype=object)
        reasons.fill(_NO_REASONS)
        for i in np.flatnonzero(need | flagged):
            k = int(position[i]) if need[i] else -1
            evidence = (
                _evidence_of_row(m.features, contrib[k], rule_top[k], family, bool(prior_remedy[i])) if k >= 0 else None
            )
            act, note = self.policy.choose(risk, float(raw[i]), evidence or Evidence(None, prior_remedy=False))
            notes[i] = note
            if act is not None:
                action[i] = action_code[act.name]
                human[i] = act.requires_human
            if k >= 0 and (explain == "all" or (explain == "flagged" and act is not None)):
                base[i] = float(contrib[k, -1])
                contributions[i] = json.dumps(
                    {f: float(c) for f, c in zip(m.features, contrib[k, :-1], strict=True)}, sort_keys=True
                )
                reasons[i] = _reasons_of_row(m, x[i], contrib[k], shown_top[k])
        return pd.DataFrame(
            {
                "account_id": features["account_id"].astype("str").array,
                "risk": _constant_text(risk, n),
                "score": score,
                "score_low": low,
                "score_high": high,
                "raw_score": raw,
                "action": _text(pa.DictionaryArray.from_arrays(pa.array(action), pa.array(action_names))),
                "requires_human": human,
                "action_note": _text(pa.array(notes, type=pa.string())),
                "base_value": pd.arrays.FloatingArray(base, np.isnan(base)),
                "contributions": contributions,
                "reasons": reasons,
            }
        )


def _reasons_of_row(m: RiskModel, row: np.ndarray, contrib: np.ndarray, top: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for j in top:
        c = float(contrib[j])
        name = m.features[j]
        v = float(row[j]) if np.isfinite(row[j]) else None
        ref = m.reference.get(name)
        out.append(
            {
                "feature": name,
                "value": v,
                "contribution": c,
                "percentile": ref.percentile(v) if ref is not None else None,
                "text_en": reason_text(name, v, ref, "en"),
                "text_zh": reason_text(name, v, ref, "zh"),
            }
        )
    return out


def _evidence_of_row(
    features: list[str], contrib: np.ndarray, top: np.ndarray, family: np.ndarray, prior_remedy: bool
) -> Evidence:
    positive = np.clip(contrib[:-1], 0.0, None)
    total = float(positive.sum())
    j = int(np.argmax(positive))
    return Evidence(
        families=frozenset(set(family[top]) - CONTEXT_FAMILIES),
        top_feature=features[j] if total > 0 else None,
        top_share=float(positive[j] / total) if total > 0 else None,
        prior_remedy=prior_remedy,
    )


def _top_per_row(contrib: np.ndarray, top_k: int) -> list[np.ndarray]:
    if not len(contrib):
        return []
    order = np.argsort(-contrib[:, :-1], axis=1, kind="stable")[:, :top_k]
    positive = np.take_along_axis(contrib[:, :-1], order, axis=1) > 0
    return [o[p] for o, p in zip(order, positive, strict=True)]


def assert_same_scores(new: pd.DataFrame, old: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert list(new.dtypes) == list(old.dtypes)
    # Object columns to the last character: a float is a float and None is None, every key in its place.
    for col in ("contributions", "reasons", "action_note"):
        for a, b in zip(new[col].tolist(), old[col].tolist(), strict=True):
            assert type(a) is type(b) and repr(a) == repr(b), (col, a, b)
    assert to_arrow(new).equals(to_arrow(old))


@pytest.fixture(scope="module")
def feature_sets(tmp_path_factory: pytest.TempPathFactory, trained: Any) -> dict[str, pd.DataFrame]:
    """Features of two simulated platforms at their latest event, and the labelled decision rows."""
    out: dict[str, pd.DataFrame] = {}
    for seed in SEEDS:
        root = tmp_path_factory.mktemp(f"columnwise-{seed}") / "data"
        simulate(SimConfig(accounts=3000, days=60, seed=seed), root)
        ds = open_dataset(connect(), root)
        out[f"seed{seed}"] = build_features(ds, cutoffs_at(ds, default_as_of(ds))).to_pandas()
    out["decisions"] = trained.label_features.rename(columns={"decided_at": "as_of"}).reset_index(drop=True)
    return out


def _hostile(features: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Rows with infinite, negative-zero and missing values where the real ones were."""
    rows = features.head(60).copy().reset_index(drop=True)
    rows[names] = rows[names].astype("float64")
    rng = np.random.default_rng(7)
    for i in range(len(rows)):
        for f in rng.choice(names, size=4, replace=False):
            rows.loc[i, f] = rng.choice([np.inf, -np.inf, -0.0, np.nan, 1e17, 3e-7])
    rows.loc[0, names] = np.nan
    rows["account_id"] = [f"h{i}" for i in range(len(rows))]
    return rows


@pytest.mark.parametrize("explain", ["all", "flagged", "none"])
def test_columnwise_explanations_equal_the_per_row_ones(
    bundle_dir: Path, feature_sets: dict[str, pd.DataFrame], explain: Explain
) -> None:
    bundle = load_bundle(bundle_dir)
    new, old = (
        Predictor(bundle, model_uri="m", model_version="1"),
        PerRowPredictor(bundle, model_uri="m", model_version="1"),
    )
    default = bundle.policy.top_k_reasons
    explained = 0
    for features in feature_sets.values():
        for top_k in (default, 1, 3, 8, 100):
            kw: dict[str, Any] = {"explain": explain, "top_k": top_k, "scored_at": "2026-01-01T00:00:00Z"}
            a = new.predict(features, **kw)
            assert_same_scores(a, old.predict(features, **kw))
            explained += int(a.reasons.map(len).gt(0).sum())
    assert explained == 0 if explain == "none" else explained > 50
    # The default explanations of a platform cite many features, with words, numbers and percentiles.
    every = new.predict(feature_sets[f"seed{SEEDS[0]}"], explain="all")
    cited = pd.DataFrame([r for rs in every.reasons for r in rs])
    assert cited.feature.nunique() > 10 and cited.percentile.notna().all() and cited.value.notna().all()


def test_columnwise_explanations_of_hostile_values_and_odd_references(
    bundle_dir: Path, feature_sets: dict[str, pd.DataFrame]
) -> None:
    bundle = load_bundle(bundle_dir)
    names = sorted({f for m in bundle.risks.values() for f in m.features})
    rows = _hostile(feature_sets[f"seed{SEEDS[1]}"], names)
    # References without a 99th percentile (its clause drops out of the sentence), without any
    # valued account, and missing altogether.
    for m in bundle.risks.values():
        first, second, third = m.features[:3]
        m.reference[first] = Reference(m.reference[first].quantiles, m.reference[first].null_share, None)
        m.reference[second] = Reference([None] * 101, 1.0, None)
        m.reference.pop(third)
    new, old = Predictor(bundle), PerRowPredictor(bundle)
    for explain in ("flagged", "all"):
        for top_k in (bundle.policy.top_k_reasons, 28):
            a = new.predict(rows, explain=explain, top_k=top_k)
            assert_same_scores(a, old.predict(rows, explain=explain, top_k=top_k))
    cited = pd.DataFrame([r for rs in a.reasons for r in rs])  # every positive contribution of every row
    # Infinite values are cited as "not recorded", with no value and no percentile; NaN never.
    assert cited.value.isna().any() and cited.text_en.str.startswith("not recorded").any()
    assert cited.percentile.isna().any()
    assert (a.loc[a.account_id == "h0", "reasons"].map(len) == 0).all()
    # Nothing explained at all: the empty frame keeps its columns and types.
    empty = rows.head(0)
    assert_same_scores(new.predict(empty, explain="all"), old.predict(empty, explain="all"))


def test_every_registered_template_takes_the_columnwise_path() -> None:
    """A template the column-wise path cannot render would fall back to formatting value by value."""
    from reviewguard.model.predictor import _P99_CLAUSE, _template_pieces

    for f in BY_NAME.values():
        for template in (f.template_en, f.template_zh):
            assert _template_pieces(template) is not None, (f.name, template)
            assert _template_pieces(_P99_CLAUSE.sub("", template)) is not None, (f.name, template)


def _fill_before(tree: TreeModel, x: np.ndarray) -> np.ndarray:
    """``TreeModel.fill`` as it was: missing patterns grouped by ``np.unique(axis=0)``."""
    x = np.array(x, dtype=np.float64, copy=True)
    missing = np.isnan(x)
    for f in np.flatnonzero(missing.any(axis=0)):
        if tree.directions[f] != 0:
            x[missing[:, f], f] = -np.inf if tree.directions[f] > 0 else np.inf
    undirected = missing & (tree.directions == 0)[None, :]
    if undirected.any():
        patterns, inverse = np.unique(undirected, axis=0, return_inverse=True)
        for k, pattern in enumerate(patterns):
            cols = np.flatnonzero(pattern)
            if cols.size:
                tree._fill_jointly(x, np.flatnonzero(inverse.reshape(-1) == k), cols)
    return x


def _contributions_before(tree: TreeModel, x: np.ndarray) -> np.ndarray:
    """``TreeModel.contributions`` as it was: its own fill, ``np.unique(axis=0)`` groups, every
    group's model resolved afresh."""
    import shap

    missing = np.isnan(x)
    filled = _fill_before(tree, x)
    out = np.zeros((len(x), tree.n_features + 1), dtype=np.float64)
    complete = ~missing.any(axis=1)
    if complete.any():
        out[complete] = np.asarray(tree.booster.predict(filled[complete], pred_contrib=True), dtype=np.float64)
    rest = np.flatnonzero(~complete)
    if rest.size == 0:
        return out
    keys = np.concatenate([missing[rest], np.where(missing[rest], filled[rest], 0.0)], axis=1)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    for g in np.unique(group):
        rows = rest[group.ravel() == g]
        fixed = {int(f): float(filled[rows[0], f]) for f in np.flatnonzero(missing[rows[0]])}
        trees = [_resolved_arrays(t, fixed) for t in tree.trees]
        model = {"trees": trees, "input_dtype": np.float64, "internal_dtype": np.float64, "base_offset": 0.0}
        explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
        values = np.asarray(explainer.shap_values(filled[rows], check_additivity=False), dtype=np.float64)
        values[:, list(fixed)] = 0.0
        base = np.full((len(rows), 1), float(np.ravel(explainer.expected_value)[0]))
        out[rows] = np.concatenate([values, base], axis=1)
    return out


def test_contributions_from_the_callers_fill_and_kept_models_equal_the_ones_computed_afresh(
    bundle_dir: Path, feature_sets: dict[str, pd.DataFrame]
) -> None:
    """The predictor fills once and explains a subset of the filled rows; resolved models are kept
    across calls. Bit for bit, that is what filling the subset and resolving every model again gave."""
    bundle = load_bundle(bundle_dir)
    names = sorted({f for m in bundle.risks.values() for f in m.features})
    frames = [*feature_sets.values(), _hostile(feature_sets[f"seed{SEEDS[0]}"], names)]
    rng = np.random.default_rng(3)
    for m in bundle.risks.values():
        tree = TreeModel(m.booster, [BY_NAME[f].direction for f in m.features])
        for features in frames:
            x = Predictor.matrix(m, features)
            filled = tree.fill(x)
            assert filled.tobytes() == _fill_before(tree, x).tobytes()
            subset = np.sort(rng.choice(len(x), size=min(len(x), 700), replace=False))
            expected = _contributions_before(tree, x[subset]).tobytes()
            assert np.isnan(x[subset]).any()  # the resolved models are exercised
            for _ in range(2):  # resolved models built, then kept
                assert tree.contributions(x[subset], filled[subset]).tobytes() == expected
            assert tree.contributions(x[subset]).tobytes() == expected
        assert tree._resolved  # kept


def test_contributions_json_is_json_dumps_for_every_kind_of_float() -> None:
    """One repr per distinct bit pattern: -0.0 is not 0.0, NaN and infinities as json writes them."""
    from reviewguard.model.predictor import _contributions_json

    rng = np.random.default_rng(1)
    contrib = rng.standard_normal((400, 6)) * 10.0 ** rng.integers(-20, 20, (400, 6))
    contrib[::7, 2] = 0.0
    contrib[::5, 3] = -0.0
    contrib[1, 1], contrib[2, 4], contrib[3, 5], contrib[4, 0], contrib[5, 0] = np.nan, np.inf, -np.inf, 1e16, 1e-5
    contrib[6:60] = contrib[60:114]  # repeated rows, as rows missing the same features give
    features = ["b", "a", "zz", "a2", "c", "b"]  # a repeated name keeps its last value, as a dict does
    expected = [
        json.dumps({f: float(c) for f, c in zip(features, row, strict=True)}, sort_keys=True) for row in contrib
    ]
    assert _contributions_json(features, contrib).tolist() == expected
    assert _contributions_json(features, contrib[:0]).tolist() == []
    assert _contributions_json([], contrib[:2, :0]).tolist() == ["{}", "{}"]
