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
import pandas as pd

import reviewguard
from reviewguard.errors import ReviewguardError
from reviewguard.features import BY_NAME, CONTEXT_FAMILIES, build_features
from reviewguard.files import write_text_atomic
from reviewguard.model.policy import NO_ACTION
from reviewguard.model.predictor import Predictor
from reviewguard.reader import Dataset
from reviewguard.serving.evidence import extortion_evidence, like_evidence

CASE_FORMAT_VERSION = 1


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
            "raw_score": float(row.raw_score),
            "action": row.action,
            "requires_human": bool(row.requires_human),
            "base_value": float(row.base_value),
            "contributions": json.loads(row.contributions),
            "reasons": row.reasons,
            "evidence_families": families,
            "policy_actions": [a.to_dict() for a in ladder.actions],
            "what_would_lower_the_action": ladder.what_would_lower(str(row.action), float(row.score)),
            "features": {f: (None if pd.isna(feats.iloc[0][f]) else float(feats.iloc[0][f])) for f in m.features},
        }
    evidence: dict[str, Any] = {}
    if "fake_engagement" in decisions:
        evidence["likes_per_hour"] = like_evidence(ds, account_id, as_of, bundle)
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
        "data": {"root": ds.root, "fingerprint": ds.fingerprint},
        "built_with_reviewguard": reviewguard.__version__,
        "decisions": decisions,
        "evidence": evidence,
        "privacy": "message excerpts only for the reviewed shops' timelines; merchant ids hashed; "
        "no other account named",
    }


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


def select_cases(scores: pd.DataFrame, accounts: list[str], top_flagged: int) -> list[str]:
    """The named accounts, then the ``top_flagged`` highest-scored flagged accounts of each risk."""
    chosen = list(dict.fromkeys(accounts))
    if top_flagged:
        flagged = scores[scores["action"] != NO_ACTION].sort_values(
            ["risk", "score", "account_id"], ascending=[True, False, True], kind="stable"
        )
        for _, g in flagged.groupby("risk"):
            chosen += [a for a in g["account_id"].head(top_flagged) if a not in chosen]
    missing = [a for a in chosen if not (scores["account_id"] == a).any()]
    if missing:
        raise ReviewguardError(f"account {missing[0]} is not in the scores file")
    if not chosen:
        raise ReviewguardError("name accounts with --account, or use --top-flagged N (no account is flagged)")
    return chosen


def verify_case(case: dict[str, Any], ds: Dataset, predictor: Predictor) -> dict[str, Any]:
    """Recompute every decision of a case; exact equality of scores is required."""
    as_of = pd.Timestamp(case["as_of"]).to_pydatetime()
    problems = []
    if ds.fingerprint != case["data"]["fingerprint"]:
        problems.append(f"data fingerprint differs: case {case['data']['fingerprint'][:12]}, now {ds.fingerprint[:12]}")
    if predictor.bundle.fingerprint() != case["model"]["fingerprint"]:
        problems.append("model fingerprint differs from the one recorded in the case")
    feats = account_features(ds, case["account_id"], as_of)
    results = {}
    for row in _score_account(predictor, feats).itertuples():
        want = case["decisions"].get(row.risk)
        if want is None:
            continue
        same = (
            float(row.score) == want["score"]
            and float(row.raw_score) == want["raw_score"]
            and row.action == want["action"]
        )
        results[row.risk] = {
            "recorded_score": want["score"],
            "recomputed_score": float(row.score),
            "recorded_action": want["action"],
            "recomputed_action": row.action,
            "exact": same,
        }
        if not same:
            problems.append(
                f"{row.risk}: recorded {want['score']!r} ({want['action']}), "
                f"recomputed {float(row.score)!r} ({row.action})"
            )
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
