"""Benchmark: the money-demand lexicon on phrasings it was and was not written from.

    .venv/bin/python benchmarks/lexicon_heldapart.py [--n 4000] [--seed 0]

Three sets of demand messages (amounts lognormal around 1,800 yuan, 600-8,800)
and as many legitimate messages that talk about money and reviews: the ten
fixed templates of the easy platform (``texts.py``), the generator's grammar of
the realistic platform, and the held-apart grammar the generator never writes
(``language.HELD_APART_*``). For ``features/lexicon.py`` it prints demand
recall, the share of legitimate messages flagged, precision on a 1:1 mix, and
how often the demanded amount is read from the text (docs/simulator.md,
"Language").
"""

from __future__ import annotations

import argparse
import re

import numpy as np

from reviewguard.features.lexicon import AMOUNT_AFTER, AMOUNT_BEFORE, DEMAND_PATTERN
from reviewguard.simulator import language, texts

DEMAND = re.compile(DEMAND_PATTERN)
AMOUNTS = (re.compile(AMOUNT_BEFORE), re.compile(AMOUNT_AFTER))


def reads_amount(text: str, amount: int) -> bool:
    for pattern in AMOUNTS:
        for found in pattern.findall(text):
            try:
                if float(found.replace(",", "")) == amount:
                    return True
            except ValueError:
                continue
    return False


def row(name: str, demands: list[str], legit: list[str], amounts: list[int]) -> str:
    hit_d = np.array([bool(DEMAND.search(t)) for t in demands])
    hit_l = np.array([bool(DEMAND.search(t)) for t in legit])
    tp, fp = int(hit_d.sum()), int(hit_l.sum())
    precision = f"{tp / (tp + fp):.3f}" if tp + fp else "-"
    read = np.mean([reads_amount(t, a) for t, a in zip(demands, amounts, strict=True)])
    return f"| {name} | {hit_d.mean():.3f} | {hit_l.mean():.3f} | {precision} | {read:.3f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    def amounts() -> list[int]:
        return [int(np.clip(round(rng.lognormal(np.log(1800), 0.6), -2), 600, 8800)) for _ in range(args.n)]

    print("| phrasings | demand recall | flagged legitimate messages | precision at 1:1 | amount read |")
    print("|---|---|---|---|---|")
    a = amounts()
    fixed = [texts.EXTORTION_DEMANDS[i % len(texts.EXTORTION_DEMANDS)].format(amount=x) for i, x in enumerate(a)]
    complaints = [texts.COMPLAINTS[i % len(texts.COMPLAINTS)].format(amount=10) for i in range(args.n)]
    print(row("the ten fixed templates (easy)", fixed, complaints, a))
    a = amounts()
    grammar = [language.demand(rng, x) for x in a]
    print(row("the generator's grammar (realistic)", grammar, [language.legitimate(rng, x // 10) for x in a], a))
    a = amounts()
    held = [language.held_apart(rng, x, is_demand=True) for x in a]
    print(row("held apart (never generated)", held, [language.held_apart(rng, x // 10, is_demand=False) for x in a], a))


if __name__ == "__main__":
    main()
