"""Messages from a grammar: demands that vary the way people write, and legitimate messages that sound alike.

Used on the realistic and hard platforms (``Realism.varied_language``); the
easy platform keeps the ten fixed templates of ``texts.py``. A demand is
assembled from parts (who is addressed, the money asked, what the review
trade is, a threat, an emoji), each part drawn from paraphrases, then
roughened: homophone typos (茶评 for 差评), pinyin or mixed script, the
amount written in digits, with separators, with a currency mark or unit, in
Chinese numerals (两千), in shorthand (2k, 2千), or not at all (the amount is
in a screenshot: the text says only "看图").

``HELD_APART_*`` is a second grammar with phrasings the generator never
writes, kept for measuring a lexicon on language it was not written from
(docs/simulator.md gives the figures for ``features/lexicon.py``).
"""

from __future__ import annotations

import numpy as np

# Share of demands still written in the plain words of the fixed templates (blunt extortionists).
BLUNT_SHARE = 0.35

_DIGITS = "零一二三四五六七八九"


def chinese_amount(n: int) -> str:
    """An amount in Chinese numerals as people write it: 两千, 三千五, 八百, 一万二."""
    if n >= 10_000:
        wan, rest = divmod(n, 10_000)
        head = ("两" if wan == 2 else _DIGITS[wan]) + "万"
        return head + (_DIGITS[rest // 1000] if rest and rest % 1000 == 0 else "")
    thousands, rest = divmod(n, 1000)
    hundreds = rest // 100
    out = ""
    if thousands:
        out += ("两" if thousands == 2 else _DIGITS[thousands]) + "千"
        if hundreds:
            out += _DIGITS[hundreds]
        return out
    return ("两" if hundreds == 2 else _DIGITS[hundreds]) + "百"


def amount_text(rng: np.random.Generator, n: int) -> tuple[str, bool]:
    """The amount as written, and whether the text names it at all (False: it is in an image)."""
    k = int(rng.integers(0, 12))
    forms = (
        f"{n}",
        f"{n}元",
        f"{n}块",
        f"¥{n}",
        f"{n:,d}",
        f"{chinese_amount(n)}",
        f"{chinese_amount(n)}块",
        f"{n / 1000:g}k" if n % 100 == 0 else f"{n}",
        f"{n // 1000}千" if n % 1000 == 0 and n >= 1000 else f"{n}元",
        f"{n} yuan",
        f"RMB{n}",
    )
    if k == 11:
        return "", False
    return forms[k], True


# The parts of a demand.
_ADDRESS = ("", "", "老板，", "亲，", "店家，", "掌柜的，", "hi ", "老板 ")
_ASK = (
    "转我{m}",
    "给{m}",
    "发个{m}的红包",
    "意思一下，{m}",
    "V我{m}",
    "打{m}到我支付宝",
    "{m}，私聊",
    "补偿{m}",
    "拿{m}出来",
    "zhuan {m}",
    "pay {m}",
    "send {m}",
)
_TRADE = (
    "差评就删",
    "评价马上改",
    "我把差评撤了",
    "评论我就撤回",
    "好评给你补上",
    "这条评价就当没发过",
    "一星改五星",
    "review gone",
    "I fix the rating",
    "cha ping shan le",
)
_THREAT = (
    "",
    "",
    "不然天天给你差评",
    "不给的话我朋友也来评",
    "否则后面还有",
    "你自己看着办",
    "要不然店就别想开了",
    "or more 1-star coming",
    "bu gei jiu ji xu",
)
_EMOJI = ("", "", "", "😏", "🙂", "💰", "😈", "👌", "[微笑]", "~")
_IMAGE_ONLY = ("看图", "[图片]", "价格在图里", "see pic", "图上写了")
# Homophones and pinyin people type by accident or to dodge filters.
_TYPOS = (("差评", "茶评"), ("差评", "cha评"), ("删", "山"), ("钱", "qian"), ("评价", "平价"), ("好评", "hao评"))


def _roughen(rng: np.random.Generator, text: str) -> str:
    if rng.random() < 0.35:
        a, b = _TYPOS[int(rng.integers(0, len(_TYPOS)))]
        text = text.replace(a, b, 1)
    return text


def _one(rng: np.random.Generator, choices: tuple[str, ...]) -> str:
    return choices[int(rng.integers(0, len(choices)))]


def demand(rng: np.random.Generator, amount: int) -> str:
    """One demand message: money for the review, in words that vary."""
    m, named = amount_text(rng, amount)
    ask = (
        _one(rng, _ASK).format(m=m)
        if named
        else _one(rng, _ASK).format(m="").strip("，, ") + "，" + _one(rng, _IMAGE_ONLY)
    )
    trade, threat = _one(rng, _TRADE), _one(rng, _THREAT)
    parts = [ask, trade] if rng.random() < 0.6 else [trade, ask]
    if threat:
        parts.append(threat)
    sep = "，" if rng.random() < 0.7 else " "
    return _roughen(rng, _one(rng, _ADDRESS) + sep.join(parts) + _one(rng, _EMOJI))


# Legitimate messages that share words with demands (refunds, red packets, reviews, deleting).
_LEGIT = (
    "差评是因为东西坏了，我不要钱，只想换一个",
    "退款{m}收到了，评价我会改",
    "好评返现的{m}什么时候给？",
    "请把运费{m}退给我",
    "我已经把差评删了，谢谢处理",
    "红包收到了，谢谢老板",
    "能便宜{m}吗？我朋友也想买",
    "评价写错了，能帮我改成好评吗",
    "给了差评不好意思，后来发现是快递的问题",
    "转账{m}是货款，请查收",
    "I left a bad review by mistake, how do I delete it?",
    "Please refund {m}, the item never arrived.",
)


def legitimate(rng: np.random.Generator, amount: int) -> str:
    """A customer's message with demand-like words and no demand."""
    m, named = amount_text(rng, amount)
    return _roughen(rng, _one(rng, _LEGIT).format(m=m if named else "") + _one(rng, _EMOJI))


# A second grammar, never used by the generator: for measuring a lexicon on held-apart phrasings.
HELD_APART_DEMANDS = (
    "想让评论消失的话，准备好{m}",
    "五星换{m}，公平交易",
    "My review stays until I get {m}.",
    "{m} or I post it everywhere",
    "不想生意受影响就拿{m}",
    "评价的事可以商量，{m}",
    "这条一星值{m}，你买不买",
    "出{m}，我这边就不追究了，评论也撤",
    "For {m} the complaint goes away.",
    "给个{m}辛苦费，差评的事一笔勾销",
)
HELD_APART_LEGIT = (
    "给差评不是为了钱，东西真的有问题",
    "退我{m}，这是我付的货款",
    "Review deleted by mistake, please help me restore it.",
    "说好的好评返现{m}还没到账",
    "我的评价被删了，为什么？",
    "商品有瑕疵，补偿{m}可以接受",
    "If you refund {m} I am happy, thanks.",
    "不用赔钱，下次注意就好",
)


def held_apart(rng: np.random.Generator, amount: int, *, is_demand: bool) -> str:
    m, named = amount_text(rng, amount)
    pool = HELD_APART_DEMANDS if is_demand else HELD_APART_LEGIT
    return _one(rng, pool).format(m=m if named else "看图")
