"""Moderation case files: one reproducible record per decision, and its verification.

``build_case`` gathers what a decision rests on: the model and policy
versions, the data fingerprint, the as-of moment, the account's feature
values, SHAP contributions, the action and what would lower it, and an
evidence view of the account's own behaviour (``reviewguard.serving.evidence``).
``verify_case`` recomputes the decision from the model and the data and says
whether it reproduces exactly; ``select_cases`` picks the accounts a run
should open cases for. The page is ``reviewguard.serving.case_page``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

import reviewguard
from reviewguard.errors import ReviewguardError
from reviewguard.features import BY_NAME, CONTEXT_FAMILIES, build_features
from reviewguard.files import write_text_atomic
from reviewguard.model.policy import NO_ACTION
from reviewguard.model.predictor import Predictor, reason_text
from reviewguard.reader import Dataset, behaviour_fingerprint
from reviewguard.serving.evidence import extortion_evidence, human_capacity, like_evidence

CASE_FORMAT_VERSION = 2


def account_features(ds: Dataset, account_id: str, as_of: datetime) -> pd.DataFrame:
    cut = ibis.memtable({"account_id": [account_id], "as_of": [pd.Timestamp(as_of)]})
    cut = cut.select(account_id=cut.account_id.cast("string"), as_of=cut.as_of.cast("timestamp"))
    return build_features(ds, cut).to_pandas()


def _score_account(predictor: Predictor, feats: pd.DataFrame) -> Any:
    """Every risk of one account, explained with the policy's own number of reasons."""
    return predictor.predict(feats, explain="all", top_k=predictor.policy.top_k_reasons)


def build_case(
    ds: Dataset,
    predictor: Predictor,
    account_id: str,
    as_of: datetime,
    *,
    model_uri: str,
    model_version: str,
) -> dict[str, Any]:
    """Everything needed to read, defend and reproduce the decisions about one account."""
    bundle = predictor.bundle
    feats = account_features(ds, account_id, as_of)
    if feats.empty:
        raise ReviewguardError(f"account {account_id} did not exist at {as_of.isoformat()} in {ds.root}")
    decisions = {}
    for row in _score_account(predictor, feats).itertuples():
        risk = str(row.risk)
        m = bundle.risks[risk]
        ladder = bundle.policy[risk]
        families = sorted({BY_NAME[r["feature"]].family for r in row.reasons} - CONTEXT_FAMILIES)
        decisions[risk] = {
            "score": float(row.score),
            "score_low": float(row.score_low),
            "score_high": float(row.score_high),
            "raw_score": float(row.raw_score),
            "action": row.action,
            "requires_human": bool(row.requires_human),
            "action_note": str(row.action_note),
            "base_value": float(row.base_value),
            "contributions": json.loads(row.contributions),
            "reasons": row.reasons,
            "evidence_families": families,
            "policy_actions": [a.to_dict() for a in ladder.actions],
            "what_would_lower_the_action": ladder.what_would_lower(str(row.action), float(row.raw_score)),
            "features": {f: (None if pd.isna(feats.iloc[0][f]) else float(feats.iloc[0][f])) for f in m.features},
            "counterfactuals": counterfactuals(predictor, feats, risk, row),
            "in_favour": in_favour(predictor, feats, risk, json.loads(row.contributions)),
        }
    evidence: dict[str, Any] = {}
    if "fake_engagement" in decisions:
        evidence["likes_per_hour"] = like_evidence(ds, account_id, as_of, bundle)
        evidence["human_capacity"] = human_capacity(ds, account_id, as_of)
    if "extortion" in decisions:
        evidence["extortion_timeline"] = extortion_evidence(ds, account_id, as_of)
    key = hashlib.sha256(f"{account_id}|{as_of.isoformat()}|{bundle.fingerprint()}".encode()).hexdigest()[:16]
    return {
        "case_format_version": CASE_FORMAT_VERSION,
        "case_id": f"case-{key}",
        "account_id": account_id,
        "as_of": pd.Timestamp(as_of).isoformat(),
        "model": {
            "uri": model_uri,
            "version": model_version,
            "fingerprint": bundle.fingerprint(),
            "feature_set_version": bundle.feature_set_version,
            "policy_version": bundle.policy_version,
            "trained_with_reviewguard": bundle.package_version,
        },
        # The behaviour tables only: a later label or appeal leaves the case valid (its effect on the
        # decision, through the escalation features, is in the recorded features).
        "data": {"root": ds.root, "fingerprint": behaviour_fingerprint(ds.root)},
        "built_with_reviewguard": reviewguard.__version__,
        "decisions": decisions,
        "evidence": evidence,
        "privacy": "message excerpts only for the reviewed shops' timelines; merchant ids hashed; "
        "no other account named",
    }


def _variant_rows(feats: pd.DataFrame, changes: list[dict[str, float | None]]) -> pd.DataFrame:
    rows = pd.concat([feats.iloc[[0]]] * len(changes), ignore_index=True)
    for i, change in enumerate(changes):
        for f, v in change.items():
            rows.loc[i, f] = np.nan if v is None else v
    return rows


def _outcome(row: Any) -> dict[str, Any]:
    return {
        "score": float(row.score),
        "score_low": float(row.score_low),
        "score_high": float(row.score_high),
        "action": str(row.action),
        "requires_human": bool(row.requires_human),
    }


def counterfactuals(predictor: Predictor, feats: pd.DataFrame, risk: str, row: Any) -> dict[str, Any]:
    """In the account's own terms: the decision with each top reason at the population median, and
    the fewest top reasons (largest first) whose removal lowers the action.

    "At the median" means the middle account of the whole population; where most accounts have no
    value (a feature of a rare behaviour), the reason is removed as "no value", which is never
    evidence. Each variant is scored like the account itself (every gate applied).
    """
    m = predictor.bundle.risks[risk]
    reasons = [r["feature"] for r in row.reasons]
    if not reasons:
        return {"each_reason_at_median": [], "fewest_reasons_to_lower": None}
    median = {f: m.reference[f].median if f in m.reference else None for f in reasons}
    singles = [{f: median[f]} for f in reasons]
    cumulative = [{f: median[f] for f in reasons[: k + 1]} for k in range(len(reasons))]
    scored = predictor.predict(_variant_rows(feats, singles + cumulative), explain="none")
    scored = scored[scored["risk"] == risk].reset_index(drop=True)
    each = []
    for k, f in enumerate(reasons):
        out = _outcome(scored.iloc[k])
        value = feats.iloc[0][f]
        was = None if pd.isna(value) else float(value)
        med = median[f]
        desc = BY_NAME[f]
        # The description is a sentence of its own; the variant follows it. Where most accounts have
        # no value the reason is taken away, not set to a value nobody has.
        at_en = f"At the population median ({med:,.4g})" if med is not None else "Without it (most accounts have none)"
        at_zh = f"取总体中位数（{med:,.4g}）时" if med is not None else "不计此项（多数账号无此数据）时"
        each.append(
            {
                "feature": f,
                "value": was,
                "set_to": med,
                **out,
                "text_en": f"{desc.description_en.rstrip('.')}: {was:,.4g}. {at_en}: "
                f"score {out['score']:.2f} ({out['score_low']:.2f}-{out['score_high']:.2f}), {out['action']}.",
                "text_zh": f"{desc.description_zh.rstrip('。')}：{was:,.4g}。{at_zh}："
                f"分数 {out['score']:.2f}（{out['score_low']:.2f}–{out['score_high']:.2f}），处置 {out['action']}。",
            }
        )
    ladder = predictor.policy[risk]
    order = [NO_ACTION, *(a.name for a in ladder.actions)]
    current = order.index(str(row.action))
    fewest = None
    for k in range(len(reasons)):
        out = _outcome(scored.iloc[len(reasons) + k])
        lowered = order.index(out["action"]) < current or (bool(row.requires_human) and not out["requires_human"])
        if lowered:
            names = reasons[: k + 1]
            fewest = {
                "features": names,
                **out,
                "text_en": f"Without the {k + 1} largest reason{'s' if k else ''} ({', '.join(names)}) at the "
                f"population median: {out['action']} (score {out['score']:.2f}).",
                "text_zh": f"若最大的 {k + 1} 条理由（{', '.join(names)}）取总体中位数：处置 {out['action']}"
                f"（分数 {out['score']:.2f}）。",
            }
            break
    return {"each_reason_at_median": each, "fewest_reasons_to_lower": fewest}


def in_favour(predictor: Predictor, feats: pd.DataFrame, risk: str, contributions: dict[str, float]) -> list[dict]:
    """The features that lower the score, largest first, with the account's own numbers."""
    m = predictor.bundle.risks[risk]
    lowering = sorted((c, f) for f, c in contributions.items() if c < 0)[: predictor.policy.top_k_reasons]
    out = []
    for c, f in lowering:
        v = feats.iloc[0][f]
        value = None if pd.isna(v) else float(v)
        ref = m.reference.get(f)
        out.append(
            {
                "feature": f,
                "value": value,
                "contribution": float(c),
                "percentile": ref.percentile(value) if ref is not None else None,
                "text_en": reason_text(f, value, ref, "en"),
                "text_zh": reason_text(f, value, ref, "zh"),
            }
        )
    return out


def check_against_scores(case: dict[str, Any], scores: pd.DataFrame) -> None:
    """Stop when a case no longer gives what the scores file says for its account (data or model changed)."""
    rows = scores[scores["account_id"] == case["account_id"]]
    for r in rows.itertuples():
        d = case["decisions"].get(r.risk)
        if d is not None and (d["score"] != r.score or d["action"] != r.action):
            raise ReviewguardError(
                f"account {case['account_id']}, {r.risk}: the scores file says {r.score!r} ({r.action}) but "
                f"recomputing gives {d['score']!r} ({d['action']}); the data or model changed since scoring"
            )


def check_top_flagged(top_flagged: int, *, name: str = "top_flagged") -> None:
    """The rule for how many flagged accounts per risk get a case: 0 or more. A negative count
    would pass to ``head`` as "all but the last N": every flagged account but a few, silently.
    ``name`` is the parameter as the caller's user spells it (the command line's ``--top-flagged``)."""
    if top_flagged < 0:
        raise ReviewguardError(
            f"{name} must be 0 or more (the number of flagged accounts per risk to open cases for), not {top_flagged}"
        )


def select_cases(scores: pd.DataFrame, accounts: list[str], top_flagged: int) -> list[str]:
    """The named accounts, then the ``top_flagged`` highest-scored flagged accounts of each risk."""
    check_top_flagged(top_flagged)
    chosen = list(dict.fromkeys(accounts))
    if top_flagged:
        # By the model's margin: the calibrated score is a step function, and many accounts share
        # a step (a power liker came before twelve bots of the same score but higher margin).
        order = (
            ["risk", "raw_score", "score", "account_id"] if "raw_score" in scores else ["risk", "score", "account_id"]
        )
        flagged = scores[scores["action"] != NO_ACTION].sort_values(
            order, ascending=[True] + [False] * (len(order) - 2) + [True], kind="stable"
        )
        for _, g in flagged.groupby("risk"):
            chosen += [a for a in g["account_id"].head(top_flagged) if a not in chosen]
    missing = [a for a in chosen if not (scores["account_id"] == a).any()]
    if missing:
        raise ReviewguardError(f"account {missing[0]} is not in the scores file")
    if not chosen:
        raise ReviewguardError("name accounts with --account, or use --top-flagged N (no account is flagged)")
    return chosen


# Parts of a case that say where it was built, not what was decided: not compared.
_NOT_COMPARED = {("data", "root"), ("model", "uri"), ("model", "version")}


def _differences(recorded: Any, recomputed: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Every path at which two JSON values differ (exact: floats must be equal)."""
    if path in _NOT_COMPARED:
        return []
    if isinstance(recorded, dict) and isinstance(recomputed, dict):
        out = []
        for k in sorted(set(recorded) | set(recomputed), key=str):
            if k not in recorded:
                out.append(f"{'.'.join((*path, str(k)))}: missing from the case")
            elif k not in recomputed:
                out.append(f"{'.'.join((*path, str(k)))}: in the case but not recomputed")
            else:
                out += _differences(recorded[k], recomputed[k], (*path, str(k)))
        return out
    if isinstance(recorded, list) and isinstance(recomputed, list):
        if len(recorded) != len(recomputed):
            return [f"{'.'.join(path)}: {len(recorded)} items recorded, {len(recomputed)} recomputed"]
        return [
            d
            for i, (a, b) in enumerate(zip(recorded, recomputed, strict=True))
            for d in _differences(a, b, (*path, str(i)))
        ]
    if recorded != recomputed:
        return [f"{'.'.join(path)}: recorded {recorded!r}, recomputed {recomputed!r}"]
    return []


def verify_case(case: dict[str, Any], ds: Dataset, predictor: Predictor) -> dict[str, Any]:
    """Rebuild the case from the model and the data and compare every part of every decision.

    Exact equality is required everywhere (scores, intervals, actions, contributions, reasons and
    their texts and percentiles, evidence families, counterfactuals, what speaks in the account's
    favour, the evidence, the versions); the data fingerprint covers the behaviour tables only.
    A risk missing from the case, or one the model no longer scores, is a failure.
    """
    as_of = pd.Timestamp(case["as_of"]).to_pydatetime()
    recomputed = build_case(
        ds,
        predictor,
        str(case["account_id"]),
        as_of,
        model_uri=str(case.get("model", {}).get("uri", "")),
        model_version=str(case.get("model", {}).get("version", "")),
    )
    # Through JSON, as the case was written: tuples become lists, numpy scalars plain numbers.
    recomputed = json.loads(json.dumps(recomputed, ensure_ascii=False, default=str))
    problems = _differences(case, recomputed)
    results = {}
    for risk, want in recomputed["decisions"].items():
        got = case.get("decisions", {}).get(risk)
        results[risk] = {
            "recorded_score": None if got is None else got.get("score"),
            "recomputed_score": want["score"],
            "recorded_action": None if got is None else got.get("action"),
            "recomputed_action": want["action"],
            "exact": got is not None and not _differences(got, want),
        }
    return {"reproduced": not problems, "problems": problems, "risks": results}


def write_case(case: dict[str, Any], out_dir: Path) -> Path:
    """``<out_dir>/<slug>-<hash>/case.json`` (the record) and ``case.html`` (the page); returns the folder.

    The folder name is derived from the account id, never the id itself
    (``reviewguard.serving.paths``); the id stays in ``case.json``.
    """
    from reviewguard.serving.case_page import render_case_html
    from reviewguard.serving.paths import case_folder

    folder = case_folder(Path(out_dir), str(case["account_id"]))
    record, page = json.dumps(case, indent=2, ensure_ascii=False, default=str), render_case_html(case)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "case.json", record)
    write_text_atomic(folder / "case.html", page)
    return folder
