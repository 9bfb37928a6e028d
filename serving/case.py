"""Moderation case files: one reproducible record and one readable page per decision.

``build_case`` gathers what a decision rests on: the model and policy
versions, the data fingerprint, the as-of moment, the account's feature
values, SHAP contributions, the action and what would lower it, and an
evidence view of the account's own behaviour. Only what the decision needs is
kept: message excerpts tied to the timeline (not whole histories), device ids
hashed, other accounts counted but not named (docs/reliability.md).

``verify_case`` recomputes the decision from the registry and the data and
says whether it reproduces exactly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import datetime
from typing import Any

import ibis
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

import reviewguard
from reviewguard.bundle import Bundle
from reviewguard.features import BY_NAME, CONTEXT_FAMILIES, NIGHT_HOURS_UTC, build_features
from reviewguard.reader import Dataset
from reviewguard.serving.predictor import NO_ACTION, Predictor

CASE_FORMAT_VERSION = 1
EXCERPT_CHARS = 80
MAX_TIMELINE_REVIEWS = 10


def _hash_id(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return "h:" + hashlib.sha256(str(value).encode()).hexdigest()[:10]


def _excerpt(text: Any) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= EXCERPT_CHARS else s[: EXCERPT_CHARS - 1] + "…"


def _ts(v: Any) -> str | None:
    if v is None or pd.isna(v):
        return None
    return pd.Timestamp(v).isoformat()


def account_features(ds: Dataset, account_id: str, as_of: datetime) -> pd.DataFrame:
    cut = ibis.memtable({"account_id": [account_id], "as_of": [pd.Timestamp(as_of)]})
    cut = cut.select(account_id=cut.account_id.cast("string"), as_of=cut.as_of.cast("timestamp"))
    return build_features(ds, cut).to_pandas()


def _like_evidence(ds: Dataset, account_id: str, as_of: datetime, bundle: Bundle) -> dict[str, Any] | None:
    likes = ds.table("likes")
    if likes is None:
        return None
    lit = ibis.literal(pd.Timestamp(as_of), type="timestamp")
    mine = likes.filter(
        (likes.account_id == account_id) & (likes.liked_at < lit) & (likes.liked_at >= lit - ibis.interval(days=30))
    )
    per_hour = (
        mine.group_by(hour=mine.liked_at.truncate("h"))
        .aggregate(likes=mine.count(), without_open=mine.dwell_ms.isnull().cast("int64").sum())
        .order_by("hour")
        .to_pandas()
    )
    ref = None
    for m in bundle.risks.values():
        ref = m.reference.get("likes_per_hour_max") or ref
    return {
        "window_days": 30,
        "hours": [
            {"hour": _ts(r.hour), "likes": int(r.likes), "without_open": int(r.without_open)}
            for r in per_hour.itertuples()
        ],
        "night_hours_utc": list(NIGHT_HOURS_UTC),
        "population_likes_per_hour_max": None
        if ref is None
        else {"p50": ref.quantiles[50], "p90": ref.quantiles[90], "p99": ref.p99},
    }


def _extortion_evidence(ds: Dataset, account_id: str, as_of: datetime) -> dict[str, Any] | None:
    reviews = ds.table("reviews")
    if reviews is None:
        return None
    lit = ibis.literal(pd.Timestamp(as_of), type="timestamp")
    neg = reviews.filter((reviews.account_id == account_id) & (reviews.rating <= 2) & (reviews.created_at < lit))
    negs = neg.order_by(neg.created_at.desc()).limit(MAX_TIMELINE_REVIEWS).to_pandas()
    if negs.empty:
        return {"negative_reviews": []}
    merchants = sorted(set(negs["merchant_id"].astype(str)))

    def frame(name: str, time_col: str) -> pd.DataFrame:
        t = ds.table(name)
        if t is None:
            return pd.DataFrame()
        return t.filter((t.account_id == account_id) & t.merchant_id.isin(merchants) & (t[time_col] < lit)).to_pandas()

    msgs, transfers, reports = (
        frame("messages", "sent_at"),
        frame("transfers", "paid_at"),
        frame("reports", "reported_at"),
    )
    orders = ds.table("orders")
    order_amount: dict[str, float] = {}
    if orders is not None:
        ids = [str(x) for x in negs["order_id"].dropna()]
        if ids:
            o = orders.filter(orders.order_id.isin(ids)).select("order_id", "amount", "delivered_at").to_pandas()
            order_amount = {str(r.order_id): (float(r.amount), _ts(r.delivered_at)) for r in o.itertuples()}  # type: ignore[misc]
    timeline = []
    for r in negs.sort_values("created_at").itertuples():
        start = pd.Timestamp(r.created_at)
        end = start + pd.Timedelta(days=7)
        events: list[dict[str, Any]] = []
        oa = order_amount.get(str(r.order_id)) if r.order_id is not None else None
        if oa and oa[1]:  # type: ignore[index]
            events.append({"at": oa[1], "kind": "delivered", "text": f"order {oa[0]:,.2f} yuan delivered"})  # type: ignore[index]
        events.append({"at": _ts(start), "kind": "negative_review", "text": _excerpt(r.text), "rating": int(r.rating)})
        if not msgs.empty:
            m = msgs[(msgs.merchant_id == r.merchant_id) & (msgs.sent_at >= start) & (msgs.sent_at < end)]
            for x in m.sort_values("sent_at").itertuples():
                events.append({"at": _ts(x.sent_at), "kind": f"message_from_{x.sender}", "text": _excerpt(x.text)})
        if not transfers.empty:
            t = transfers[
                (transfers.merchant_id == r.merchant_id) & (transfers.paid_at >= start) & (transfers.paid_at < end)
            ]
            for x in t.sort_values("paid_at").itertuples():
                events.append(
                    {
                        "at": _ts(x.paid_at),
                        "kind": "transfer",
                        "text": f"{x.kind}: {x.amount:,.2f} yuan from the merchant",
                    }
                )
        if r.deleted_at is not None and not pd.isna(r.deleted_at) and pd.Timestamp(r.deleted_at) < pd.Timestamp(as_of):
            events.append({"at": _ts(r.deleted_at), "kind": "review_deleted", "text": "review deleted"})
        if r.edited_at is not None and not pd.isna(r.edited_at) and pd.Timestamp(r.edited_at) < pd.Timestamp(as_of):
            events.append(
                {
                    "at": _ts(r.edited_at),
                    "kind": "review_edited",
                    "text": f"rating changed to {int(r.edited_rating)}"
                    if not pd.isna(r.edited_rating)
                    else "review edited",
                }
            )
        if not reports.empty:
            p = reports[(reports.merchant_id == r.merchant_id) & (reports.reported_at >= start)]
            for x in p.sort_values("reported_at").itertuples():
                events.append({"at": _ts(x.reported_at), "kind": "merchant_report", "text": f"reason: {x.reason}"})
        events.sort(key=lambda e: e["at"] or "")
        timeline.append({"merchant": _hash_id(r.merchant_id), "review_id": str(r.review_id), "events": events})
    return {"negative_reviews": timeline}


def _lower_action(policy: dict[str, Any], risk: str, action: str, score: float) -> str:
    acts = policy["risks"][risk]["actions"]
    enabled = [a for a in acts if a["threshold"] is not None]
    if action == NO_ACTION:
        nxt = next((a for a in enabled if a["threshold"] > score), None)
        return (
            ("no action; the lightest action, " + nxt["name"] + f", starts at {nxt['threshold']:.4f}")
            if nxt
            else "no action"
        )
    idx = [a["name"] for a in enabled].index(action) if action in [a["name"] for a in enabled] else -1
    if idx <= 0:
        return f"a score below {enabled[0]['threshold']:.4f} would mean no action" if enabled else ""
    below = enabled[idx - 1]
    return (
        f"a score below {enabled[idx]['threshold']:.4f} would lower the action to {below['name']}; "
        f"below {enabled[0]['threshold']:.4f}, no action"
    )


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
        from reviewguard.errors import ReviewguardError

        raise ReviewguardError(f"account {account_id} did not exist at {as_of.isoformat()} in {ds.root}")
    scored = predictor.predict(feats, explain="all", top_k=int(bundle.policy.get("top_k_reasons", 5)))
    decisions = {}
    for row in scored.itertuples():
        risk = str(row.risk)
        m = bundle.risks[risk]
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
            "policy_actions": bundle.policy["risks"][risk]["actions"],
            "what_would_lower_the_action": _lower_action(bundle.policy, risk, row.action, float(row.score)),
            "features": {f: (None if pd.isna(feats.iloc[0][f]) else float(feats.iloc[0][f])) for f in m.features},
        }
    evidence: dict[str, Any] = {}
    if "fake_engagement" in decisions:
        evidence["likes_per_hour"] = _like_evidence(ds, account_id, as_of, bundle)
    if "extortion" in decisions:
        evidence["extortion_timeline"] = _extortion_evidence(ds, account_id, as_of)
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


def verify_case(case: dict[str, Any], ds: Dataset, predictor: Predictor) -> dict[str, Any]:
    """Recompute every decision of a case; exact equality of scores is required."""
    as_of = pd.Timestamp(case["as_of"]).to_pydatetime()
    problems = []
    if ds.fingerprint != case["data"]["fingerprint"]:
        problems.append(f"data fingerprint differs: case {case['data']['fingerprint'][:12]}, now {ds.fingerprint[:12]}")
    if predictor.bundle.fingerprint() != case["model"]["fingerprint"]:
        problems.append("model fingerprint differs from the one recorded in the case")
    feats = account_features(ds, case["account_id"], as_of)
    scored = predictor.predict(feats, explain="all", top_k=int(predictor.bundle.policy.get("top_k_reasons", 5)))
    results = {}
    for row in scored.itertuples():
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


# ------------------------------------------------------------------- HTML


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def waterfall_png(decision: dict[str, Any], max_display: int = 10) -> str:
    import shap

    names = list(decision["contributions"])
    values = np.array([decision["contributions"][n] for n in names])
    data = np.array([np.nan if decision["features"].get(n) is None else decision["features"][n] for n in names])
    expl = shap.Explanation(values=values, base_values=decision["base_value"], data=data, feature_names=names)
    shap.plots.waterfall(expl, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.set_size_inches(8, 5)
    return _png(fig)


def likes_png(ev: dict[str, Any]) -> str | None:
    if not ev or not ev["hours"]:
        return None
    hours = pd.to_datetime([h["hour"] for h in ev["hours"]])
    likes = [h["likes"] for h in ev["hours"]]
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar(hours, likes, width=1 / 24, color="#c0392b", label="this account")
    pop = ev.get("population_likes_per_hour_max") or {}
    for key, style in (("p50", ":"), ("p99", "--")):
        if pop.get(key) is not None:
            ax.axhline(
                pop[key], linestyle=style, color="grey", label=f"population {key} of the busiest hour: {pop[key]:,.0f}"
            )
    ax.set_ylabel("likes per hour")
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    return _png(fig)


_env = Environment(
    loader=PackageLoader("reviewguard.serving", "templates"), autoescape=select_autoescape(["html"], default=True)
)


def render_case_html(case: dict[str, Any]) -> str:
    """A self-contained page: every piece of user text goes through Jinja's escaping."""
    charts = {risk: waterfall_png(d) for risk, d in case["decisions"].items()}
    likes = case["evidence"].get("likes_per_hour")
    return _env.get_template("case.html").render(
        case=case,
        charts=charts,
        likes_chart=likes_png(likes) if likes else None,
        families=lambda fs: ", ".join(fs),
    )
