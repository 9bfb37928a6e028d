"""The registry is complete and consistent with its code, and docs/features.md is what it generates."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.features import cutoffs_at
from reviewguard.features.docs import render_features_markdown, risks_in_registry
from reviewguard.features.registry import (
    BY_NAME,
    EVIDENCE_FAMILIES,
    FAMILIES,
    FEATURES,
    GROUPS,
    features_for,
    monotone_constraints,
)
from reviewguard.reader import open_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("f", FEATURES, ids=lambda f: f.name)
def test_every_feature_is_fully_described(f) -> None:  # type: ignore[no-untyped-def]
    assert f.description_en.endswith(".") and len(f.description_en) > 20
    assert any("\u4e00" <= ch <= "\u9fff" for ch in f.description_zh)
    assert f.unit and f.direction in (-1, 0, 1) and len(f.direction_reason) > 10
    assert f.evidence in EVIDENCE_FAMILIES and f.family == f.evidence
    assert f.tables and all(t in ("accounts", *_contract_tables()) for t in f.tables)
    for template in (f.template_en, f.template_zh):
        assert "{value" in template
        text = template.format(value=1234.5, p99=99.0)
        assert "1" in text and "{" not in text


def _contract_tables() -> tuple[str, ...]:
    from reviewguard.contract import TABLES

    return tuple(TABLES)


def test_declarations_are_keyword_only_and_one_per_feature() -> None:
    """Each feature is one ``Feature(...)`` call with keyword arguments only, in its family's module."""
    names: list[str] = []
    for path in sorted((ROOT / "features").glob("*.py")):
        module = path.stem
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Feature":
                assert not node.args, f"{module}.py: positional arguments in a Feature declaration"
                kw = {k.arg: k.value for k in node.keywords}
                assert isinstance(kw["name"], ast.Constant)
                names.append(str(kw["name"].value))
    assert sorted(names) == sorted(BY_NAME), "every registered feature is declared exactly once"
    with pytest.raises(TypeError):
        type(FEATURES[0])("x", ("extortion",))  # type: ignore[misc]


def test_evidence_families_and_compute_groups_are_different_things() -> None:
    assert FAMILIES is EVIDENCE_FAMILIES
    timing = [f for f in FEATURES if f.group == "like_timing"]
    assert {f.evidence for f in timing} == {"timing", "opening"}
    assert {g.name for g in GROUPS}.isdisjoint(EVIDENCE_FAMILIES)


def test_each_compute_group_computes_exactly_its_declared_features(small_platform: Path) -> None:
    ds = open_dataset(connect(), small_platform)
    cut = cutoffs_at(ds, pd.Timestamp("2026-04-10").to_pydatetime())
    for group in GROUPS:
        computed = set(group.compute(ds, cut).columns) - {"account_id", "as_of"}
        assert computed == {f.name for f in FEATURES if f.group == group.name}, group.name


def test_an_unknown_or_repeated_feature_name_is_refused_naming_it(small_platform: Path) -> None:
    from reviewguard.features import build_features

    ds = open_dataset(connect(), small_platform)
    cut = cutoffs_at(ds, pd.Timestamp("2026-04-10").to_pydatetime())
    with pytest.raises(KeyError, match=r"unknown features: \['nope_feature'\]"):
        build_features(ds, cut, ["like_gap_cv", "nope_feature"])
    # Not the engine's "Duplicate column name" from deep inside the query.
    with pytest.raises(KeyError, match=r"named more than once: \['like_gap_cv'\]"):
        build_features(ds, cut, ["like_gap_cv", "likes_1d", "like_gap_cv"])


def test_feature_lists_and_constraints_come_from_the_registry() -> None:
    fe = features_for("fake_engagement")
    assert "likes_per_day_max" in [f.name for f in fe]
    assert "money_demand_messages" not in [f.name for f in fe]
    assert monotone_constraints(fe) == [BY_NAME[f.name].direction for f in fe]
    custom = features_for("review_spam", {"review_spam": ("negative_review_share",)})
    assert [f.name for f in custom] == ["negative_review_share"]
    with pytest.raises(KeyError, match="no features declared"):
        features_for("unknown_risk")


def test_docs_features_md_is_current() -> None:
    committed = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert committed == render_features_markdown(), "docs/features.md is stale: run `reviewguard features docs`"


def test_docs_features_md_documents_every_feature_of_every_risk() -> None:
    """Completeness, not only freshness: every registered feature of every risk has its entry."""
    text = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    documented = re.findall(r"^### `([a-z0-9_]+)`$", text, flags=re.M)
    assert sorted(documented) == sorted(BY_NAME), "each feature documented exactly once"
    risks = {f for r in FEATURES for f in r.risks}
    assert set(risks_in_registry()) == risks >= {"fake_engagement", "extortion", "review_spam"}
    for f in FEATURES:
        (section,) = [s for s in sections if f"### `{f.name}`" in s]
        heading = section.splitlines()[0]
        assert all(r in heading for r in f.risks), (f.name, heading)
        entry = section.split(f"### `{f.name}`", 1)[1].split("\n### ", 1)[0]
        for fact in (f.description_en, f.description_zh, f.unit, f.evidence, f.group, *f.tables):
            assert fact in entry, (f.name, fact)
