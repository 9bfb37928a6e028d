"""Varied language: demands from a grammar on the realistic platform, fixed templates on the easy one."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reviewguard.simulator import SimConfig, simulate, texts
from reviewguard.simulator.language import (
    HELD_APART_DEMANDS,
    HELD_APART_LEGIT,
    amount_text,
    chinese_amount,
    demand,
    legitimate,
)


@pytest.mark.parametrize(
    ("n", "words"),
    [(2000, "两千"), (3500, "三千五"), (800, "八百"), (200, "两百"), (12000, "一万二"), (8800, "八千八")],
)
def test_amounts_in_chinese_numerals(n: int, words: str) -> None:
    assert chinese_amount(n) == words


def test_some_amounts_are_not_in_the_text_at_all() -> None:
    rng = np.random.default_rng(1)
    named = [amount_text(rng, 1800)[1] for _ in range(2000)]
    assert 0.03 < 1 - np.mean(named) < 0.2


def test_the_held_apart_grammar_is_never_generated() -> None:
    rng = np.random.default_rng(2)
    out = [demand(rng, 1800) for _ in range(3000)] + [legitimate(rng, 60) for _ in range(3000)]
    text = "\n".join(out)
    for template in (*HELD_APART_DEMANDS, *HELD_APART_LEGIT):
        longest = max(template.split("{m}"), key=len).strip("，,. ")
        assert longest not in text, template


def _crew_demands(folder: Path) -> pd.Series:
    truth = pd.read_parquet(folder / "_truth" / "populations.parquet").set_index("account_id").population
    msgs = pd.read_parquet(folder / "messages.parquet")
    crew = msgs[(msgs.sender == "account") & msgs.account_id.map(truth).eq("extortion_crew")]
    follow_ups = set(texts.EXTORTION_FOLLOW_UPS)
    return crew.text[~crew.text.isin(follow_ups)]


def test_demands_vary_on_the_realistic_platform_and_not_on_the_easy_one(small_platform: Path, tmp_path: Path) -> None:
    easy = _crew_demands(small_platform)
    templates = [re.escape(t).replace(re.escape("{amount}"), r"[0-9,]+") for t in texts.EXTORTION_DEMANDS]
    assert easy.str.fullmatch("|".join(templates)).all()
    simulate(SimConfig(accounts=3000, days=60, seed=5, difficulty="realistic"), tmp_path / "r")
    real = _crew_demands(tmp_path / "r")
    assert len(real) > 20
    assert real.nunique() > 0.8 * len(real)
    assert (~real.str.contains(r"[0-9]")).mean() > 0.05  # amounts in words or in an image
    assert real.str.contains("[a-z]{3,}").mean() > 0.1  # pinyin and mixed script
    # Legitimate messages share the words of demands.
    msgs = pd.read_parquet(tmp_path / "r" / "messages.parquet")
    truth = pd.read_parquet(tmp_path / "r" / "_truth" / "populations.parquet").set_index("account_id").population
    others = msgs[(msgs.sender == "account") & ~msgs.account_id.map(truth).eq("extortion_crew")]
    assert others.text.str.contains("差评|好评|红包|删").sum() > 20
