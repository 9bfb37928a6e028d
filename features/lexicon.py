"""The money-demand lexicon: which messages trade a review for money, and what amount they name.

Patterns use only syntax that both DuckDB (RE2) and Spark (Java regex) read
the same way: no look-behind, no named groups, no Unicode classes. Matching is
case-insensitive through ``(?i)``.

A message counts as a demand when it names a review action a merchant would
pay for (delete it, raise it, stop more bad reviews) or an extortion idiom
(花钱消灾, 私了, 不给钱). Talking about money alone is not enough: unhappy
customers ask for refunds and shipping fees, which is why those phrasings are
the lexicon's hard negatives in tests/features/test_lexicon.py.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

# Review actions offered or threatened, and extortion idioms.
DEMAND_PATTERN = (
    r"(?i)("
    r"花钱消灾|私了|不给钱|给钱就|"
    r"删(除|掉|了)?(差)?评|把差评删|差评.{0,6}(删|改)|改成?好评|"
    r"更多(的)?人.{0,6}差评|还(会)?有(人.{0,4})?差评|继续差评|"
    r"delete (the|my|this) review|remove (the|my|this) review|review disappears|"
    r"change it to 5 stars|more (bad )?reviews (are )?coming|my friends will review"
    r")"
)

# An amount: a currency mark before the number, or a unit after it.
AMOUNT_BEFORE = r"(?i)(?:¥|￥|rmb ?|cny ?)([0-9][0-9,]*(?:\.[0-9]+)?)"
AMOUNT_AFTER = r"(?i)([0-9][0-9,]*(?:\.[0-9]+)?) ?(?:元|块|yuan|rmb|cny)"


def is_money_demand(text: ibis.StringValue) -> ibis.BooleanValue:
    """The message trades a review for money."""
    return text.re_search(DEMAND_PATTERN)


def named_amount(text: ibis.StringValue) -> ibis.FloatingValue:
    """The amount of money a message names (¥8,800 / 8800元 / 600 yuan), or null."""
    return (
        ibis.coalesce(text.re_extract(AMOUNT_BEFORE, 1).nullif(""), text.re_extract(AMOUNT_AFTER, 1).nullif(""))
        .replace(",", "")
        .try_cast(dt.float64)
    )
