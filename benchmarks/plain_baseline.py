"""Benchmark: `reviewguard train` defaults against a plain pandas + LightGBM script (issue 13).

    .venv/bin/python benchmarks/plain_baseline.py --accounts 20000 --days 60 --seeds 3 11 17

What a new user with a complaint queue would try first: fifteen features written by hand in
pandas at each label's decision time, one LightGBM with default parameters, trained on every label
decided before a cut. reviewguard: `train_models` with its defaults on the same labels (the
dataset copied with the later labels removed). Both are judged on the labels decided after the
cut (average precision and ROC-AUC, unweighted: every judged label is a real decision), each
account's features at its own decision time; on the population at the cut (every account not
labelled by then, against the simulator's truth: what the model would act on); and on the later
decisions weighted to the population (the later labels plus unlabelled accounts sampled at their
decision times as presumed negatives, each standing for its share of the unlabelled population:
no simulator truth, so a real platform can compute it; an abuser nobody caught counts as a
negative, so its precision is a lower bound).

Platforms: the simulator with labels only from complaint queues and moderators' reviews (the
random audit dropped). Prints three markdown tables and writes benchmarks/results/plain_baseline.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from reviewguard.engine import connect
from reviewguard.model.predictor import Predictor
from reviewguard.reader import Dataset, open_dataset
from reviewguard.simulator import DIFFICULTIES, SimConfig, simulate
from reviewguard.training.config import load_config
from reviewguard.training.labels import accounts_frame, features_at, label_table
from reviewguard.training.pipeline import train_models
from reviewguard.training.unlabelled import JUDGING_ROWS, UNLABELLED_SOURCE, weighted_to_population

CUT_QUANTILE = 0.7  # labels decided after this quantile of decision times are judged
# Unlabelled accounts drawn per risk for the weighted evaluation (the library's, which `promote` uses).
PRESUMED_ROWS = JUDGING_ROWS
HOUR = pd.Timedelta(hours=1)


def hand_features(root: Path, labels: pd.DataFrame) -> pd.DataFrame:
    """Fifteen features a fraud analyst writes in an afternoon, at each label's decision time."""
    t = {
        n: pd.read_parquet(root / f"{n}.parquet")
        for n in ("likes", "reviews", "messages", "transfers", "reports", "orders", "accounts")
    }
    cut = labels[["account_id", "decided_at"]].drop_duplicates().reset_index(drop=True)

    def before(name: str, time_col: str) -> pd.DataFrame:
        frame = t[name].merge(cut, on="account_id")
        return frame[frame[time_col] < frame["decided_at"]]

    key = ["account_id", "decided_at"]
    out = cut.copy()
    likes = before("likes", "liked_at")
    likes["day"] = likes["liked_at"].dt.floor("D")
    likes["hour"] = likes["liked_at"].dt.floor("h")
    g = likes.groupby(key)
    out = out.merge(g.size().rename("likes").reset_index(), on=key, how="left")
    out = out.merge(
        likes.groupby([*key, "day"]).size().groupby(key).max().rename("likes_day_max").reset_index(), on=key, how="left"
    )
    out = out.merge(
        likes.groupby([*key, "hour"]).size().groupby(key).max().rename("likes_hour_max").reset_index(),
        on=key,
        how="left",
    )
    likes["night"] = likes["liked_at"].dt.hour.isin([1, 2, 3, 4, 5])
    out = out.merge(g["night"].mean().rename("likes_night_share").reset_index(), on=key, how="left")
    out = out.merge(
        g["dwell_ms"].apply(lambda s: s.isna().mean()).rename("likes_unopened_share").reset_index(), on=key, how="left"
    )
    reviews = before("reviews", "created_at")
    reviews["negative"] = reviews["rating"] <= 2
    g = reviews.groupby(key)
    out = out.merge(g.size().rename("reviews").reset_index(), on=key, how="left")
    out = out.merge(g["negative"].sum().rename("negative_reviews").reset_index(), on=key, how="left")
    out = out.merge(
        g["deleted_at"].apply(lambda s: s.notna().sum()).rename("deleted_reviews").reset_index(), on=key, how="left"
    )
    msgs = before("messages", "sent_at")
    msgs = msgs[msgs["sender"] == "account"] if "sender" in msgs else msgs
    out = out.merge(msgs.groupby(key).size().rename("messages_sent").reset_index(), on=key, how="left")
    money = msgs["text"].fillna("").str.contains(r"\d{3,}|元|refund|compensat|删", regex=True)
    out = out.merge(msgs[money].groupby(key).size().rename("money_messages").reset_index(), on=key, how="left")
    transfers = before("transfers", "paid_at")
    g = transfers.groupby(key)
    out = out.merge(g.size().rename("transfers_received").reset_index(), on=key, how="left")
    out = out.merge(g["amount"].sum().rename("transfer_amount").reset_index(), on=key, how="left")
    reports = before("reports", "reported_at")
    out = out.merge(reports.groupby(key).size().rename("reports_received").reset_index(), on=key, how="left")
    orders = before("orders", "ordered_at")
    out = out.merge(orders.groupby(key).size().rename("orders").reset_index(), on=key, how="left")
    acc = t["accounts"][["account_id", "created_at"]]
    out = out.merge(acc, on="account_id", how="left")
    age = (out["decided_at"] - out["created_at"]).to_numpy()
    out["account_age_days"] = age / np.timedelta64(1, "D")  # as pandas divides: NaT is NaN
    out = out.drop(columns="created_at")
    counts = [
        c for c in out.columns if c not in (*key, "likes_night_share", "likes_unopened_share", "account_age_days")
    ]
    out[counts] = out[counts].fillna(0)  # a count with no events is 0
    return labels.merge(out, on=key, how="left")


HAND = [
    "likes", "likes_day_max", "likes_hour_max", "likes_night_share", "likes_unopened_share", "reviews",
    "negative_reviews", "deleted_reviews", "messages_sent", "money_messages", "transfers_received",
    "transfer_amount", "reports_received", "orders", "account_age_days",
]  # fmt: skip


def complaints_platform(
    accounts: int, days: int, seed: int, work: Path, difficulty: str
) -> tuple[Path, pd.DataFrame, pd.Timestamp]:
    """A simulated platform whose labels come from complaint queues and moderators' reviews only (the
    random audit dropped): its folder, its labels, and the cut between earlier and judged decisions."""
    root = work / f"p{seed}"
    simulate(SimConfig(accounts=accounts, days=days, seed=seed, difficulty=difficulty), root, overwrite=True)
    labels = pd.read_parquet(root / "labels.parquet")
    labels = labels[labels["source"] != "random_audit"].reset_index(drop=True)
    labels.to_parquet(root / "labels.parquet", index=False)
    # A quantile of a datetime column is a Timestamp (pandas-stubs type it as a float).
    return root, labels, cast(pd.Timestamp, labels["decided_at"].quantile(CUT_QUANTILE))


def run_seed(
    accounts: int,
    days: int,
    seed: int,
    work: Path,
    difficulty: str,
    config: Path | None = None,
    presumed_rows: int = PRESUMED_ROWS,
) -> dict[str, dict[str, dict[str, float]]]:
    root, labels, cut = complaints_platform(accounts, days, seed, work, difficulty)
    early = work / f"p{seed}_early"
    shutil.copytree(root, early, dirs_exist_ok=True)
    labels[labels["decided_at"] <= cut].to_parquet(early / "labels.parquet", index=False)
    result: dict[str, dict[str, dict[str, float]]] = {}

    t0 = time.perf_counter()
    hand = hand_features(root, labels)
    t_hand = time.perf_counter() - t0
    ds_early = open_dataset(connect(), early)
    t0 = time.perf_counter()
    trained = train_models(ds_early, load_config(config))
    t_rg = time.perf_counter() - t0
    predictor = Predictor(trained.bundle)
    ds = open_dataset(connect(), root)
    lab = label_table(ds)  # the labels as training reads them (UTC, naive)
    naive_cut = cut.tz_convert("UTC").tz_localize(None) if cut.tzinfo is not None else cut
    later_rg = features_at(ds, lab[lab["decided_at"] > naive_cut])
    everyone = accounts_frame(ds)
    for risk in sorted(labels["risk"].unique()):
        train = hand[(hand["risk"] == risk) & (hand["decided_at"] <= cut)]
        test = hand[(hand["risk"] == risk) & (hand["decided_at"] > cut)]
        if test["label"].nunique() < 2:
            continue
        model = lgb.LGBMClassifier(random_state=seed, verbose=-1).fit(train[HAND], train["label"])
        plain = _proba(model, test)
        rg_rows = later_rg[later_rg["risk"] == risk]
        ours = predictor.raw_scores(risk, rg_rows)
        y_plain, y_ours = test["label"].to_numpy(), rg_rows["label"].to_numpy()
        result[risk] = {
            "plain": {"ap": average_precision_score(y_plain, plain), "auc": roc_auc_score(y_plain, plain)},
            "reviewguard": {"ap": average_precision_score(y_ours, ours), "auc": roc_auc_score(y_ours, ours)},
            "judged": {"labels": float(len(y_ours)), "positives": float(y_ours.sum())},
            "seconds": {"hand_features_all_risks": t_hand, "reviewguard_train": t_rg},
        }
        result[risk]["population"] = _on_the_population(
            root, ds, hand_model=model, predictor=predictor, risk=risk, cut=cut, naive_cut=naive_cut, labels=labels
        )
        weighted = later_weighted_rows(lab, everyone, risk=risk, naive_cut=naive_cut, rows=presumed_rows, seed=seed)
        result[risk]["weighted_later"] = _on_weighted_later(
            root, ds, weighted, hand_model=model, predictor=predictor, risk=risk, cut=cut
        )
    return result


def _proba(model: lgb.LGBMClassifier, rows: pd.DataFrame) -> np.ndarray:
    """The script's probability of abuse for each row of its hand features."""
    return np.asarray(model.predict_proba(rows[HAND]))[:, 1]


# The simulator's abusers of each risk (its truth file; a real platform has none).
ABUSERS = {"extortion": {"extortion_crew"}, "fake_engagement": {"automated_liker", "automated_liker_evasive"}}


def population_at_cut(root: Path, labels: pd.DataFrame, cut: pd.Timestamp, risk: str) -> pd.DataFrame:
    """Every account registered by ``cut`` and not labelled by then (``account_id``, ``risk``, ``label``):
    the population a model trained at the cut acts on, labelled by the simulator's truth."""
    truth = pd.read_parquet(root / "_truth" / "populations.parquet")
    accounts = pd.read_parquet(root / "accounts.parquet", columns=["account_id", "created_at"])
    seen = set(labels.loc[labels["decided_at"] <= cut, "account_id"])
    born = set(accounts.loc[accounts["created_at"] <= cut, "account_id"])
    pop = truth[truth["account_id"].isin(born) & ~truth["account_id"].isin(seen)].reset_index(drop=True)
    y = pop["population"].isin(ABUSERS[risk]).to_numpy().astype(int)
    return pop[["account_id"]].assign(risk=risk, label=y)


def _on_the_population(
    root: Path,
    ds: Dataset,
    *,
    hand_model: lgb.LGBMClassifier,
    predictor: Predictor,
    risk: str,
    cut: pd.Timestamp,
    naive_cut: pd.Timestamp,
    labels: pd.DataFrame,
) -> dict[str, float]:
    """Both models judged on the population they would act on: every account registered by the cut
    and not labelled by then (the abusers the queue has not caught yet, and everybody else), scored
    at the cut, against the simulator's truth. The judged labels above were picked by complaints;
    a model can rank them well and still act on many ordinary accounts."""
    rows = population_at_cut(root, labels, cut, risk)
    y = rows["label"].to_numpy()
    plain = _proba(hand_model, hand_features(root, rows.assign(decided_at=cut)))
    ours_rows = features_at(ds, rows.assign(decided_at=naive_cut))
    ours = predictor.raw_scores(risk, ours_rows)
    y_ours = ours_rows["label"].to_numpy()
    out = {"accounts": float(len(y)), "abusers": float(y.sum())}
    for name, yy, score in (("plain", y, plain), ("reviewguard", y_ours, ours)):
        out[f"{name}_ap"] = float(average_precision_score(yy, score))
        # Recall when at most 1% of the non-abusers are flagged (strictly above: tied scores are not
        # split, and a model with few trees ties many accounts).
        negatives = np.sort(score[yy == 0])[::-1]
        threshold = negatives[int(0.01 * len(negatives))]
        out[f"{name}_recall_at_1pct"] = float((score[yy == 1] > threshold).mean())
    return out


def later_weighted_rows(
    lab: pd.DataFrame, accounts: pd.DataFrame, *, risk: str, naive_cut: pd.Timestamp, rows: int, seed: int
) -> pd.DataFrame:
    """One risk's later labels and ``rows`` accounts never labelled for it, drawn at their decision
    times as presumed negatives: ``weighted_to_population``, what `promote` judges on.

    ``lab``: every label (label_table's times, UTC and naive); ``accounts``: accounts_frame's.
    """
    later = lab[(lab["risk"] == risk) & (lab["decided_at"] > naive_cut)]
    ever = set(lab.loc[lab["risk"] == risk, "account_id"])
    return weighted_to_population(later, ever, accounts, load_config(), risk=risk, seed=seed, rows=rows)


def _on_weighted_later(
    root: Path,
    ds: Dataset,
    rows: pd.DataFrame,
    *,
    hand_model: lgb.LGBMClassifier,
    predictor: Predictor,
    risk: str,
    cut: pd.Timestamp,
) -> dict[str, float]:
    """Both models judged on the later decisions weighted to the population (``later_weighted_rows``),
    each row scored with the account's features at its decision time. No simulator truth: this is
    what a real platform can compute. A presumed negative may be an abuser nobody caught, so the
    weighted AP is a lower bound on the AP against the truth."""
    # hand_features reads the raw Parquet times; the rows carry label_table's (UTC, naive).
    raw = rows.assign(decided_at=rows["decided_at"].dt.tz_localize("UTC").dt.tz_convert(cut.tz)) if cut.tz else rows
    hand = hand_features(root, raw)
    ours_rows = features_at(ds, rows)
    presumed = rows["source"] == UNLABELLED_SOURCE
    out = {
        "rows": float(len(rows)),
        "positives": float(rows["label"].sum()),
        "presumed_negatives": float(presumed.sum()),
        "presumed_weight": float(rows.loc[presumed, "weight"].mean()) if presumed.any() else float("nan"),
    }
    scored = (
        ("plain", hand, _proba(hand_model, hand)),
        ("reviewguard", ours_rows, predictor.raw_scores(risk, ours_rows)),
    )
    for name, frame, score in scored:
        y, w = frame["label"].to_numpy(), frame["weight"].to_numpy(dtype=np.float64)
        out[f"{name}_ap"] = float(average_precision_score(y, score, sample_weight=w))
        out[f"{name}_auc"] = float(roc_auc_score(y, score, sample_weight=w))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 11, 17])
    p.add_argument("--config", type=Path, help="reviewguard's training config (default: the packaged defaults)")
    p.add_argument("--difficulty", choices=DIFFICULTIES, default="realistic", help="the simulator's difficulty preset")
    p.add_argument(
        "--presumed-rows",
        type=int,
        default=PRESUMED_ROWS,
        help="unlabelled accounts drawn per risk for the evaluation weighted to the population",
    )
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "plain_baseline.json")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            seed: run_seed(args.accounts, args.days, seed, Path(tmp), args.difficulty, args.config, args.presumed_rows)
            for seed in args.seeds
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "accounts": args.accounts,
                "days": args.days,
                "difficulty": args.difficulty,
                "presumed_rows": args.presumed_rows,
                "runs": runs,
            },
            indent=2,
        )
    )
    print("| seed | risk | judged (positive) | plain AP | reviewguard AP | plain AUC | reviewguard AUC |")
    print("|---|---|---|---|---|---|---|")
    for seed, risks in runs.items():
        for risk, r in risks.items():
            print(
                f"| {seed} | {risk} | {r['judged']['labels']:.0f} ({r['judged']['positives']:.0f}) | "
                f"{r['plain']['ap']:.3f} | {r['reviewguard']['ap']:.3f} | {r['plain']['auc']:.3f} | "
                f"{r['reviewguard']['auc']:.3f} |"
            )
    print()
    print("On the population at the cut (accounts not labelled by then, simulator truth):")
    print("| seed | risk | accounts (abusers) | plain AP | reviewguard AP | plain recall | reviewguard recall |")
    print("|---|---|---|---|---|---|---|")
    for seed, risks in runs.items():
        for risk, r in risks.items():
            q = r["population"]
            print(
                f"| {seed} | {risk} | {q['accounts']:,.0f} ({q['abusers']:.0f}) | {q['plain_ap']:.3f} | "
                f"{q['reviewguard_ap']:.3f} | {q['plain_recall_at_1pct']:.3f} | "
                f"{q['reviewguard_recall_at_1pct']:.3f} |"
            )
    print()
    print("On the later decisions weighted to the population (presumed negatives; no simulator truth):")
    print(
        "| seed | risk | rows (positive) | presumed negatives x weight | plain AP | reviewguard AP | "
        "difference | plain AUC | reviewguard AUC |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for seed, risks in runs.items():
        for risk, r in risks.items():
            v = r["weighted_later"]
            print(
                f"| {seed} | {risk} | {v['rows']:,.0f} ({v['positives']:.0f}) | "
                f"{v['presumed_negatives']:,.0f} x {v['presumed_weight']:.2f} | {v['plain_ap']:.3f} | "
                f"{v['reviewguard_ap']:.3f} | {v['reviewguard_ap'] - v['plain_ap']:+.3f} | {v['plain_auc']:.3f} | "
                f"{v['reviewguard_auc']:.3f} |"
            )
    for risk in sorted({r for risks in runs.values() for r in risks}):
        d = [risks[risk]["reviewguard"]["ap"] - risks[risk]["plain"]["ap"] for risks in runs.values() if risk in risks]
        print(f"{risk}: reviewguard AP minus plain AP, mean {np.mean(d):+.3f}, min {np.min(d):+.3f}", file=sys.stderr)
        d = [
            risks[risk]["weighted_later"]["reviewguard_ap"] - risks[risk]["weighted_later"]["plain_ap"]
            for risks in runs.values()
            if risk in risks
        ]
        print(
            f"{risk}: weighted to the population, reviewguard AP minus plain AP, mean {np.mean(d):+.3f}, "
            f"min {np.min(d):+.3f}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
