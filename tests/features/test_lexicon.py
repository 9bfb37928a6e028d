"""The money-demand lexicon on real phrasings, run through the same Ibis expressions as the features."""

from __future__ import annotations

import ibis
import pytest

from reviewguard.engine import connect
from reviewguard.features.lexicon import is_money_demand, named_amount

# Phrasings from the press reports behind domain.md, and ones like them.
DEMANDS = [
    ("不给钱就继续差评，3000元花钱消灾", 3000.0),
    ("要么花钱消灾，要么等着更多人来给你差评", None),
    ("给我800块，我就把差评删了", 800.0),
    ("转8,800元，差评马上改成好评", 8800.0),
    ("私了吧，¥1200", 1200.0),
    ("Pay 600 yuan and I will delete the review.", 600.0),
    ("Send me RMB 2,500 or more bad reviews are coming.", 2500.0),
    ("1500 yuan and the 1-star review disappears.", 1500.0),
]
# Unhappy customers talk about money too; that is not extortion.
NOT_DEMANDS = [
    ("收到的商品是坏的，请退款", None),
    ("请赔偿10元运费，谢谢", 10.0),
    ("Please refund the 12 yuan shipping fee.", 12.0),
    ("退款收到了，评价我改一下", None),
    ("Thanks for the refund, problem solved.", None),
    ("请问有货吗？", None),
]


@pytest.fixture(scope="module")
def evaluated():  # type: ignore[no-untyped-def]
    con = connect()
    texts = [t for t, _ in DEMANDS + NOT_DEMANDS]
    t = ibis.memtable({"text": texts})
    out = con.execute(t.select("text", demand=is_money_demand(t.text), amount=named_amount(t.text)))
    return out.set_index("text")


@pytest.mark.parametrize("text,amount", DEMANDS)
def test_demands_are_recognised_with_their_amount(evaluated, text: str, amount: float | None) -> None:  # type: ignore[no-untyped-def]
    assert bool(evaluated.loc[text, "demand"])
    got = evaluated.loc[text, "amount"]
    assert (amount is None and got != got) or got == amount


@pytest.mark.parametrize("text,amount", NOT_DEMANDS)
def test_complaints_and_refund_requests_are_not_demands(evaluated, text: str, amount: float | None) -> None:  # type: ignore[no-untyped-def]
    assert not bool(evaluated.loc[text, "demand"])
    got = evaluated.loc[text, "amount"]
    assert (amount is None and got != got) or got == amount
