"""Adapters from public datasets to the data contract.

Yelp filtered-review metadata (YelpChi, YelpNYC; Rayana & Akoglu, KDD 2015):
one review per line, ``user_id product_id rating label date``, label -1 when
Yelp's filter marked the review as spam. The adapter writes ``accounts``
(created at the user's first review), ``reviews`` (merchant = product) and
``labels`` for the risk ``review_spam`` at account level: 1 when any of the
account's reviews was filtered.

When was the label decided? Yelp's filter decisions in these files were
observed once, when the data was collected, not as each review was written, so
by default (``decided_at="end_of_data"``) every label is decided at the
collection moment: the day after the file's last review, or ``collected_on``
when it is known. Features are then computed at that moment, which is also the
moment a model scores accounts, so training and scoring see the product context
(popularity, consensus, rank) the same way. ``decided_at="last_review"`` dates
each label the day after the account's own last review, as the adapter did
before: it gives the training pipeline's time backtest spread decision times,
but computes features at a moment at which the label did not exist yet, and
costs 0.03 AUC in cross-validation (docs/benchmarks.md). One decision moment
for every label leaves the pipeline's rolling-origin backtest nothing to
order: train on a ``last_review`` dataset, or judge by cross-validation or by
snapshots (benchmarks/yelp.py).

The ids in these files are assigned in file order and the file is
grouped by product and label, so an id carries information about the label:
no id ever becomes a feature (tests/test_datasets.py relabels every id and
checks that no feature changes), and review ids are drawn from a seeded
permutation rather than line numbers.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa

from reviewguard.contract import YELP_RISK
from reviewguard.errors import ContractError

YELP_COLUMNS = ["user_id", "product_id", "rating", "label", "date"]
# When a Yelp label counts as decided (see the module's docstring).
DecidedAt = Literal["end_of_data", "last_review"]
DECIDED_AT: tuple[str, ...] = get_args(DecidedAt)


def read_yelp_metadata(path: str | Path) -> pd.DataFrame:
    """Read and check a YelpChi/YelpNYC metadata file (``.gz`` or plain text)."""
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"{path} does not exist")
    import csv
    import zlib

    try:
        raw = pd.read_csv(path, sep=r"\s+", header=None, names=YELP_COLUMNS, dtype=str)
    except (ValueError, OSError, UnicodeDecodeError, EOFError, zlib.error, csv.Error) as exc:
        # One line: a truncated .gz, a bad byte or a ragged line, with the parser's reason.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ContractError(f"{path}: cannot read as Yelp metadata: {reason}") from exc
    return parse_yelp_metadata(raw, str(path))


def parse_yelp_metadata(frame: pd.DataFrame, source: str = "yelp") -> pd.DataFrame:
    """Check and type a raw Yelp metadata frame (five whitespace-separated columns)."""
    if list(frame.columns) != YELP_COLUMNS:
        raise ContractError(f"{source}: expected the columns {YELP_COLUMNS}, got {list(frame.columns)}")
    out = pd.DataFrame(
        {
            "user_id": frame["user_id"].astype(str),
            "product_id": frame["product_id"].astype(str),
            "rating": pd.to_numeric(frame["rating"], errors="coerce"),
            "label": pd.to_numeric(frame["label"], errors="coerce"),
            "date": pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce"),
        }
    )
    problems = {
        "rating is not 1-5": ~out["rating"].between(1, 5),
        "label is not -1 or 1": ~out["label"].isin([-1, 1]),
        "date is not YYYY-MM-DD": out["date"].isna(),
    }
    for rule, bad in problems.items():
        if bad.any():
            rows = frame[bad].head(3).to_dict("records")
            raise ContractError(f"{source}: {int(bad.sum()):,} lines where {rule}, e.g. {rows}")
    return out


def yelp_to_contract(
    reviews: pd.DataFrame,
    *,
    seed: int = 0,
    decided_at: DecidedAt = "end_of_data",
    collected_on: date | None = None,
) -> dict[str, pa.Table]:
    """Contract tables for parsed Yelp metadata (see ``parse_yelp_metadata``).

    ``decided_at``: ``end_of_data`` dates every label at the collection moment
    (midnight UTC starting ``collected_on``, by default the day after the last
    review); ``last_review`` the day after each account's last review.
    """
    if decided_at not in DECIDED_AT:
        raise ContractError(f"decided_at must be one of {list(DECIDED_AT)}, not {decided_at!r}")
    r = reviews.reset_index(drop=True)
    last_day = r["date"].max()
    if collected_on is not None and pd.Timestamp(collected_on) <= last_day:
        # A label decided before one of the account's reviews would make that review's
        # features look into the label's future; the collection is after every review.
        raise ContractError(f"collected_on {collected_on} is not after the last review ({last_day.date()})")
    created = r["date"].dt.tz_localize("UTC")
    review_id = np.random.default_rng(seed).permutation(len(r))
    ts = pa.timestamp("ms", tz="UTC")
    reviews_t = pa.table(
        {
            "review_id": pa.array([f"y{i}" for i in review_id]),
            "account_id": pa.array("u" + r["user_id"]),
            "merchant_id": pa.array("p" + r["product_id"]),
            "order_id": pa.nulls(len(r), pa.string()),
            "rating": pa.array(r["rating"].round().astype("int64")),
            "text": pa.nulls(len(r), pa.string()),
            "created_at": pa.array(created, type=ts),
            "edited_at": pa.nulls(len(r), ts),
            "edited_rating": pa.nulls(len(r), pa.int64()),
            "deleted_at": pa.nulls(len(r), ts),
            "device_id": pa.nulls(len(r), pa.string()),
        }
    )
    per_user = (
        r.assign(created=created, filtered=r["label"] == -1)
        .groupby("user_id", sort=True)
        .agg(first=("created", "min"), last=("created", "max"), spam=("filtered", "any"))
    )
    accounts = pa.table(
        {
            "account_id": pa.array("u" + per_user.index.astype(str)),
            "created_at": pa.array(per_user["first"], type=ts),
            "level": pa.nulls(len(per_user), pa.int64()),
            "phone_verified": pa.nulls(len(per_user), pa.bool_()),
        }
    )
    if decided_at == "last_review":
        decision = per_user["last"] + pd.Timedelta(days=1)
    else:
        collected = pd.Timestamp(collected_on) if collected_on is not None else last_day + pd.Timedelta(days=1)
        decision = pd.Series(collected.tz_localize("UTC"), index=per_user.index)
    labels = pa.table(
        {
            "account_id": pa.array("u" + per_user.index.astype(str)),
            "risk": pa.array([YELP_RISK] * len(per_user)),
            "label": pa.array(per_user["spam"].astype("int64")),
            "decided_at": pa.array(decision, type=ts),
            "source": pa.array(["yelp_filter"] * len(per_user)),
        }
    )
    return {"accounts": accounts, "reviews": reviews_t, "labels": labels}
