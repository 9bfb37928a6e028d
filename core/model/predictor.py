"""The predictor: a score, the action the policy recommends, and the reasons, together.

Library code, no I/O: it takes a feature table and returns one row per
account and risk, in the one score schema (:data:`SCORE_SCHEMA`) that batch
scoring writes, the served model returns and Spark produces. Explanations are
exact SHAP values of the LightGBM trees (``pred_contrib``, the algorithm
``shap.TreeExplainer`` runs for LightGBM), so ``base_value +
sum(contributions) == raw_score`` for every explained row.

The action depends only on the data, the model and the policy: the
two-families rule reads the policy's own ``top_k_reasons`` contributions,
whatever number of reasons a caller asks to be shown (``top_k``).
"""

from __future__ import annotations

import json
import math
import re
import string
from functools import cache
from itertools import repeat
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from reviewguard.errors import ContractError, ModelLoadError
from reviewguard.features import BY_NAME, CONTEXT_FAMILIES, FEATURE_SET_VERSION
from reviewguard.model.bundle import Bundle, Reference, RiskModel
from reviewguard.model.explain import TreeModel
from reviewguard.model.policy import NO_ACTION, Evidence

Explain = Literal["flagged", "all", "none"]

REASON_TYPE = pa.struct(
    [
        ("feature", pa.string()),
        ("value", pa.float64()),
        ("contribution", pa.float64()),
        ("percentile", pa.float64()),
        ("text_en", pa.string()),
        ("text_zh", pa.string()),
    ]
)
# The one score schema: every score row, wherever it is written, has these columns in this order.
SCORE_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("risk", pa.string()),
        ("score", pa.float64()),
        ("score_low", pa.float64()),
        ("score_high", pa.float64()),
        ("raw_score", pa.float64()),
        ("action", pa.string()),
        ("requires_human", pa.bool_()),
        ("action_note", pa.string()),
        ("base_value", pa.float64()),
        ("contributions", pa.string()),
        ("reasons", pa.list_(REASON_TYPE)),
        ("model_uri", pa.string()),
        ("model_version", pa.string()),
        ("feature_set_version", pa.string()),
        ("policy_version", pa.string()),
        ("as_of", pa.timestamp("us", tz="UTC")),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)
SCORE_COLUMNS = SCORE_SCHEMA.names

# Shared by every unexplained row; never mutated.
_NO_REASONS: list[dict[str, Any]] = []

_P99_CLAUSE = re.compile(r"\s*[（(][^()（）]*\{p99[^}]*\}[^()（）]*[)）]")


def reason_text(feature: str, value: float | None, reference: Reference | None, lang: str) -> str:
    """The registry's sentence for a feature value, in English ("en") or Chinese ("zh")."""
    f = BY_NAME[feature]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        desc = f.description_en if lang == "en" else f.description_zh
        return ("not recorded for this account: " if lang == "en" else "该账号无此数据：") + desc
    template = f.template_en if lang == "en" else f.template_zh
    p99 = reference.p99 if reference is not None else None
    if p99 is None:
        template = _P99_CLAUSE.sub("", template)
    return template.format(value=value, p99=p99 if p99 is not None else 0.0)


class Predictor:
    """Scores feature rows with a bundle; optionally explains them."""

    def __init__(self, bundle: Bundle, *, model_uri: str = "", model_version: str = "") -> None:
        if bundle.feature_set_version != FEATURE_SET_VERSION:
            raise ModelLoadError(
                f"model was trained on feature set {bundle.feature_set_version}; "
                f"this package computes {FEATURE_SET_VERSION}"
            )
        self.bundle = bundle
        self.model_uri = model_uri
        self.model_version = model_version
        self.policy = bundle.policy
        # Missing values are scored at their least-risky value and are no player in the explanation.
        self.trees = {
            risk: TreeModel(m.booster, [BY_NAME[f].direction for f in m.features]) for risk, m in bundle.risks.items()
        }

    @property
    def risks(self) -> list[str]:
        return sorted(self.bundle.risks)

    def raw_scores(self, risk: str, features: pd.DataFrame) -> np.ndarray:
        tree = self.trees[risk]
        return tree.raw_score(tree.fill(self.matrix(self.bundle.risks[risk], features)))

    @staticmethod
    def matrix(m: RiskModel, features: pd.DataFrame) -> np.ndarray:
        missing = [f for f in m.features if f not in features.columns]
        if missing:
            raise ContractError(f"feature table lacks {missing} needed by the {m.risk} model")
        return features[m.features].to_numpy(dtype=np.float64, na_value=np.nan)

    def explain_rows(self, m: RiskModel, x: np.ndarray) -> np.ndarray:
        """Exact tree SHAP values of raw rows (missing features get exactly 0); the last column is the base."""
        return self.trees[m.risk].contributions(x)

    def predict(
        self,
        features: pd.DataFrame,
        *,
        explain: Explain = "flagged",
        top_k: int = 5,
        as_of: Any = None,
        scored_at: Any = None,
    ) -> pd.DataFrame:
        """One row per account and risk, with the columns of ``SCORE_COLUMNS``.

        ``top_k``: how many reasons an explained row shows (display only; the action never depends on it).
        """
        frames = []
        for risk in self.risks:
            frames.append(self._predict_risk(risk, features, explain, top_k))
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS)
        n = len(out)
        out["model_uri"] = _constant_text(self.model_uri, n)
        out["model_version"] = _constant_text(self.model_version, n)
        out["feature_set_version"] = _constant_text(self.bundle.feature_set_version, n)
        out["policy_version"] = _constant_text(self.bundle.policy_version, n)
        if as_of is not None:
            out["as_of"] = pd.Timestamp(as_of)
        elif "as_of" in features.columns:
            out["as_of"] = np.tile(pd.to_datetime(features["as_of"]).to_numpy(), len(self.risks))
        else:
            out["as_of"] = pd.NaT
        out["scored_at"] = pd.Timestamp(scored_at) if scored_at is not None else pd.NaT
        return out[SCORE_COLUMNS]

    def _predict_risk(self, risk: str, features: pd.DataFrame, explain: Explain, top_k: int) -> pd.DataFrame:
        m = self.bundle.risks[risk]
        tree = self.trees[risk]
        x = self.matrix(m, features)
        filled = tree.fill(x)
        raw = tree.raw_score(filled)
        score = m.calibrator.apply(raw)
        low, high = m.calibrator.interval(raw)
        ladder = self.policy[risk]
        # Explained: rows the human gates must check (they reach an action that needs a
        # human), and the rows the caller wants to read.
        flagged = raw >= ladder.lowest_threshold
        need = raw >= ladder.lowest_human_threshold
        if explain == "all":
            need[:] = True
        elif explain == "flagged":
            need |= flagged
        n = len(x)
        # Only the explained rows get contributions; ``position`` maps a row to
        # its line in ``contrib`` (a full n x features matrix cost more than the
        # prediction itself at a million rows).
        contrib = tree.contributions(x[need], filled[need]) if need.any() else np.empty((0, len(m.features) + 1))
        position = np.cumsum(need) - 1
        # The evidence families come from the policy's top reasons; the shown reasons
        # from the caller's ``top_k``. One ranking serves both when they are equal.
        rule_top = _top_contributions(contrib, self.policy.top_k_reasons)
        shown_top = rule_top if top_k == self.policy.top_k_reasons else _top_contributions(contrib, top_k)
        prior_remedy = _prior_remedy(risk, features)

        # Rows below every threshold (nearly all of them) reach no action, whatever their
        # evidence; only the flagged rows go through the policy one by one.
        action_names = [NO_ACTION, *(a.name for a in ladder.actions)]
        action_code = {a.name: k for k, a in enumerate(ladder.actions, start=1)}
        action = np.zeros(n, dtype=np.int8)
        human = np.zeros(n, dtype=bool)
        notes = np.empty(n, dtype=object)
        notes.fill("")
        judged = np.flatnonzero(flagged)
        evidence = _evidence(m.features, contrib, rule_top, position[judged], need[judged], prior_remedy[judged])
        for i, ev in zip(judged.tolist(), evidence, strict=True):
            act, note = self.policy.choose(risk, float(raw[i]), ev)
            notes[i] = note
            if act is not None:
                action[i] = action_code[act.name]
                human[i] = act.requires_human

        # The explanations, column-wise for all shown rows at once.
        if explain == "all":
            shown = need
        elif explain == "flagged":
            shown = need & (action > 0)
        else:
            shown = np.zeros(n, dtype=bool)
        lines = position[shown]
        base = np.full(n, np.nan)
        base[shown] = contrib[lines, -1]
        contributions = np.empty(n, dtype=object)
        contributions[shown] = _contributions_json(m.features, contrib[lines, :-1])
        reasons = np.empty(n, dtype=object)
        reasons.fill(_NO_REASONS)
        reasons[shown] = _reasons(m, x[shown], contrib[lines], shown_top[0][lines], shown_top[1][lines])
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


def _text(values: pa.Array) -> pd.api.extensions.ExtensionArray:
    """A pandas ``str`` column built in Arrow (a million Python strings cost more than the prediction)."""
    return pd.array(values.cast(pa.string()), dtype="str")


def _constant_text(value: str, n: int) -> pd.api.extensions.ExtensionArray:
    return _text(pa.repeat(pa.scalar(value, pa.string()), n))


def _evidence(
    features: list[str],
    contrib: np.ndarray,
    top: tuple[np.ndarray, np.ndarray],
    lines: np.ndarray,
    explained: np.ndarray,
    prior_remedy: np.ndarray,
) -> list[Evidence]:
    """What the human gates read from each judged row: its line in ``contrib`` (``lines``) when
    ``explained``; an unexplained row shows no evidence, so it passes no gate."""
    lines = lines[explained]
    positive = np.clip(contrib[lines, :-1], 0.0, None)
    total = positive.sum(axis=1)
    j = np.argmax(positive, axis=1) if len(lines) else np.zeros(0, dtype=np.intp)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = positive[np.arange(len(lines)), j] / total
    order, keep = top
    family = np.array([BY_NAME[f].family for f in features], dtype=object)
    found = (
        Evidence(
            families=frozenset(set(family[o[k]]) - CONTEXT_FAMILIES),
            top_feature=features[jj] if t > 0 else None,
            top_share=sh if t > 0 else None,
            prior_remedy=remedy,
        )
        for o, k, t, jj, sh, remedy in zip(
            order[lines],
            keep[lines],
            total.tolist(),
            j.tolist(),
            share.tolist(),
            prior_remedy[explained].tolist(),
            strict=True,
        )
    )
    unexplained = Evidence(None, prior_remedy=False)
    return [next(found) if e else unexplained for e in explained.tolist()]


def _prior_remedy(risk: str, features: pd.DataFrame) -> np.ndarray:
    """Per row: a lighter remedy for ``risk`` was applied before and the behaviour went on after it.

    Read from the escalation features of the registry when the table carries them; a table
    without them (no enforcement history known) never lets an action that needs one through.
    """
    from reviewguard.features import ESCALATION_FEATURES

    names = ESCALATION_FEATURES.get(risk)
    if names is None or any(n not in features.columns for n in names):
        return np.zeros(len(features), dtype=bool)
    remedies, behaviour_after = (features[n].to_numpy(dtype=np.float64, na_value=0.0) for n in names)
    return (remedies > 0) & (behaviour_after > 0)


def _top_contributions(contrib: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``contrib`` (features, then the base), the columns of its ``top_k`` largest
    contributions, largest first (ties in feature order), and which of them are positive:
    row ``i``'s reasons are ``order[i][positive[i]]``."""
    order = np.argsort(-contrib[:, :-1], axis=1, kind="stable")[:, :top_k]
    positive = np.take_along_axis(contrib[:, :-1], order, axis=1) > 0
    return order, positive


# Explanations are built one feature (a column) at a time for every explained row. What stays
# per value is Python's own float formatting (``float.__repr__`` for the JSON, ``format`` for a
# sentence): nothing else rounds exactly as it does; it is mapped over whole columns in C.


def _object_array(values: list[Any]) -> np.ndarray:
    """A 1-d object array holding ``values`` as they are (``np.array`` would unpack lists)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _json_floats(values: np.ndarray) -> np.ndarray:
    """``values`` (any shape) as ``json.dumps`` writes floats (``float.__repr__``; ``NaN``,
    ``Infinity``): one ``repr`` per distinct bit pattern (half of all contributions are 0, and rows
    that miss the same features share many more), so -0.0 stays "-0.0"."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64).ravel()
    distinct, inverse = np.unique(bits, return_inverse=True)
    floats = distinct.view(np.float64)
    text = _object_array(list(map(float.__repr__, floats.tolist())))
    for k in np.flatnonzero(~np.isfinite(floats)).tolist():
        v = float(floats[k])
        text[k] = "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return text[inverse.ravel()].reshape(values.shape)


def _contributions_json(features: list[str], contrib: np.ndarray) -> np.ndarray:
    """Per row of ``contrib`` (the features' columns), ``json.dumps({feature: contribution},
    sort_keys=True)``."""
    n = len(contrib)
    last = {f: j for j, f in enumerate(features)}  # a dict keeps a repeated key's last value
    if not last:
        return _object_array(["{}"] * n)
    keys = sorted(last)
    text = _json_floats(contrib[:, [last[name] for name in keys]])
    parts: list[Any] = []
    for k, name in enumerate(keys):
        parts.append(repeat(("{" if k == 0 else ", ") + json.dumps(name) + ": ", n))
        parts.append(text[:, k].tolist())
    parts.append(repeat("}", n))
    return _object_array(list(map("".join, zip(*parts, strict=True))))


def _reasons(m: RiskModel, x: np.ndarray, contrib: np.ndarray, order: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per explained row (``x`` its raw values, ``contrib`` its contributions), its reasons
    ``order[i][keep[i]]`` (largest first) as words with the account's own number: a list of
    dicts per row."""
    counts = keep.sum(axis=1)
    cols = order[keep]  # row by row, each row's reasons in order
    at = np.repeat(np.arange(len(x)), counts)
    values = x[at, cols]
    value = values.astype(object)
    value[~np.isfinite(values)] = None
    percentile = np.empty(len(cols), dtype=object)
    text_en = np.empty(len(cols), dtype=object)
    text_zh = np.empty(len(cols), dtype=object)
    for j in np.unique(cols).tolist():
        name = m.features[j]
        here = cols == j
        ref = m.reference.get(name)
        percentile[here] = _percentiles(ref, values[here])
        text_en[here] = _sentences(name, values[here], ref, "en")
        text_zh[here] = _sentences(name, values[here], ref, "zh")
    names = np.array(m.features, dtype=object)[cols]
    columns = (names, value, contrib[at, cols], percentile, text_en, text_zh)
    # A dict display (the keys in the order a reason's JSON has always had them): twice as fast as
    # dict(zip(keys, values)) per reason.
    flat = [
        {"feature": f, "value": v, "contribution": c, "percentile": p, "text_en": en, "text_zh": zh}
        for f, v, c, p, en, zh in zip(*(c.tolist() for c in columns), strict=True)
    ]
    ends = np.cumsum(counts).tolist()
    return _object_array(list(map(flat.__getitem__, map(slice, [0, *ends[:-1]], ends))))


def _percentiles(reference: Reference | None, values: np.ndarray) -> np.ndarray:
    """:meth:`Reference.percentile` of each value (None for no value), in one ``searchsorted``."""
    out = np.empty(len(values), dtype=object)
    if reference is None:
        return out
    qs = np.array([q for q in reference.quantiles if q is not None], dtype=np.float64)
    known = np.isfinite(values)
    if qs.size == 0 or not known.any():
        return out
    among_valued = np.searchsorted(qs, values[known], side="right") / qs.size
    out[known] = (among_valued * (1.0 - reference.null_share) * 100.0).astype(object)
    return out


def _sentences(feature: str, values: np.ndarray, reference: Reference | None, lang: str) -> np.ndarray:
    """:func:`reason_text` of each value of one feature: the template's pieces joined column-wise."""
    out = np.empty(len(values), dtype=object)
    known = np.isfinite(values)
    if not known.all():
        out[~known] = reason_text(feature, None, reference, lang)
    if not known.any():
        return out
    f = BY_NAME[feature]
    template = f.template_en if lang == "en" else f.template_zh
    p99 = reference.p99 if reference is not None else None
    if p99 is None:
        template = _P99_CLAUSE.sub("", template)
    given = values[known].tolist()
    n = len(given)
    pieces = _template_pieces(template)
    if pieces is None:  # beyond plain {value:spec} and {p99:spec} fields: as reason_text does, value by value
        out[known] = [template.format(value=v, p99=p99 if p99 is not None else 0.0) for v in given]
        return out
    parts: list[Any] = [repeat("", n)]
    for literal, field, spec in pieces:
        if literal:
            parts.append(repeat(literal, n))
        if field == "value":
            parts.append(map(format, given, repeat(spec)))
        elif field == "p99":
            parts.append(repeat(format(p99 if p99 is not None else 0.0, spec), n))
    out[known] = _object_array(list(map("".join, zip(*parts, strict=True))))
    return out


@cache
def _template_pieces(template: str) -> tuple[tuple[str, str | None, str], ...] | None:
    """A template as (literal, field, format spec) pieces; None when it has a field beyond a plain
    ``value`` or ``p99`` with a format spec (a conversion, an index, a nested spec)."""
    pieces = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        if field is not None and (field not in ("value", "p99") or conversion or "{" in (spec or "")):
            return None
        pieces.append((literal, field, spec or ""))
    return tuple(pieces)


def to_arrow(scores: pd.DataFrame) -> pa.Table:
    """Scores as an Arrow table of :data:`SCORE_SCHEMA` (times in UTC)."""
    frame = scores.copy()
    frame["base_value"] = frame["base_value"].astype("float64")
    for col in ("as_of", "scored_at"):
        t = pd.to_datetime(frame[col])
        frame[col] = t.dt.tz_localize("UTC") if t.dt.tz is None else t
    return pa.Table.from_pandas(frame, schema=SCORE_SCHEMA, preserve_index=False)


def portable_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores as plain columns for MLflow serving and Spark UDFs: reasons as JSON text."""
    out = scores.copy()
    out["reasons"] = [json.dumps(r, ensure_ascii=False) for r in out["reasons"]]
    out["base_value"] = out["base_value"].astype("float64")
    out["as_of"] = out["as_of"].astype(str)
    return out.drop(columns=["model_uri", "model_version", "scored_at"])
