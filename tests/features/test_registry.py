"""The registry is complete, and docs/features.md is what it generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewguard.features.docs import render_features_markdown
from reviewguard.features.registry import BY_NAME, FAMILIES, FEATURES, features_for, monotone_constraints

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("f", FEATURES, ids=lambda f: f.name)
def test_every_feature_is_fully_described(f) -> None:  # type: ignore[no-untyped-def]
    assert f.description_en.endswith(".") and len(f.description_en) > 20
    assert any("\u4e00" <= ch <= "\u9fff" for ch in f.description_zh)
    assert f.unit and f.direction in (-1, 0, 1) and len(f.direction_reason) > 10
    assert f.family in FAMILIES
    for template in (f.template_en, f.template_zh):
        assert "{value" in template
        text = template.format(value=1234.5, p99=99.0)
        assert "1" in text and "{" not in text


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
