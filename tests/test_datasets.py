"""The Yelp adapter: contract tables, account-level labels, and no id ever becomes a feature."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from reviewguard.datasets import (
    YELP_COLUMNS,
    check_collected_on,
    check_decided_at,
    parse_yelp_metadata,
    read_yelp_metadata,
    yelp_to_contract,
)
from reviewguard.engine import connect
from reviewguard.errors import ContractError, TrainingDataError
from reviewguard.features import build_features, cutoffs_at, features_for
from reviewguard.reader import open_dataset
from reviewguard.training.config import load_config
from reviewguard.training.labels import features_at_labels, label_table
from reviewguard.training.pipeline import train_models

LINES = """201 0 5.0 1 2011-06-08
202 0 1.0 -1 2011-08-30
202 1 1.0 1 2011-08-30
203 0 4.0 1 2009-06-26
203 1 5.0 1 2010-02-05
204 1 2.0 -1 2012-01-01
"""


def parsed(text: str = LINES) -> pd.DataFrame:
    raw = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, names=YELP_COLUMNS, dtype=str)
    return parse_yelp_metadata(raw)


def write(tables: dict, folder: Path) -> Path:  # type: ignore[type-arg]
    folder.mkdir(parents=True)
    for name, t in tables.items():
        pq.write_table(t, folder / f"{name}.parquet")
    return folder


def test_adapter_writes_the_contract_with_account_level_labels(tmp_path: Path) -> None:
    tables = yelp_to_contract(parsed(), decided_at="last_review")
    ds = open_dataset(connect(), write(tables, tmp_path / "d"), risks=("review_spam",))
    assert ds.report.ok
    lab = ds.tables["labels"].to_pandas().set_index("account_id")
    assert lab["label"].to_dict() == {"u201": 0, "u202": 1, "u203": 0, "u204": 1}
    assert (lab["risk"] == "review_spam").all()
    assert lab.loc["u203", "decided_at"] == pd.Timestamp("2010-02-06")
    acc = ds.tables["accounts"].to_pandas().set_index("account_id")
    assert acc.loc["u203", "created_at"] == pd.Timestamp("2009-06-26")
    rev = ds.tables["reviews"].to_pandas()
    assert set(rev.merchant_id) == {"p0", "p1"} and len(rev) == 6


def test_bad_lines_are_a_clear_error() -> None:
    with pytest.raises(
        ContractError, match=r"line 1, column rating: '7\.0' must be a whole number of stars from 1 to 5"
    ):
        parsed("201 0 7.0 1 2011-06-08\n")
    with pytest.raises(ContractError, match=r"line 2, column label: '0' must be -1 \(filtered\) or 1"):
        parsed("201 0 5.0 1 2011-06-08\n201 0 5.0 0 2011-06-08\n")
    with pytest.raises(ContractError, match="line 1, column date: '2011-13-08' must be a calendar date YYYY-MM-DD"):
        parsed("201 0 5.0 1 2011-13-08\n")


@pytest.mark.parametrize("rating", ["4.5", "0.5", "5.01", "nan", "inf", "five"])
def test_a_fractional_rating_is_refused_naming_file_line_column_and_rule(rating: str, tmp_path: Path) -> None:
    """Found by a hostile user: 4.5 was stored as 4, a rating nobody gave."""
    f = tmp_path / "y.txt"
    f.write_text(f"201 0 5.0 1 2011-06-08\n202 0 {rating} 1 2011-06-08\n")
    with pytest.raises(ContractError) as err:
        read_yelp_metadata(f)
    assert str(err.value) == f"{f}: line 2, column rating: '{rating}' must be a whole number of stars from 1 to 5"
    f.write_text("201 0 5.0 1 2011-06-08\n202 0 3 1 2011-06-08\n")
    assert read_yelp_metadata(f)["rating"].tolist() == [5, 3]


def test_a_review_dated_after_today_is_refused_not_wrapped_into_1972() -> None:
    """Found by a hostile user: a review dated 9999-12-31 made every label's decision time, the day
    after the last review, overflow into 1972-01-01."""
    with pytest.raises(ContractError, match=r"yelp: line 5, column date: '9999-12-31' must not be after today \("):
        parsed(LINES.replace("2010-02-05", "9999-12-31"))
    raw = pd.read_csv(io.StringIO(LINES), sep=r"\s+", header=None, names=YELP_COLUMNS, dtype=str)
    assert len(parse_yelp_metadata(raw, today=date(2012, 1, 1))) == 6  # the last review is dated that day
    with pytest.raises(
        ContractError, match=r"line 6, column date: '2012-01-01' must not be after today \(2011-12-31\)"
    ):
        parse_yelp_metadata(raw, today=date(2011, 12, 31))
    labels = yelp_to_contract(parsed())["labels"].to_pandas()
    assert (labels["decided_at"] == pd.Timestamp("2012-01-02", tz="UTC")).all()


def test_a_ragged_line_is_refused_with_its_number_and_field_counts(tmp_path: Path) -> None:
    """Found by a hostile user: a line with a field missing was read with the next field in its
    place and refused for a rule on the wrong column ("label is not -1 or 1", no line number)."""
    f = tmp_path / "y.txt"
    f.write_text("201 0 5.0 1 2011-06-08\n\n202 0 5.0 1\n203 0 4.0 1 2011-06-08 late\n")
    with pytest.raises(ContractError) as err:
        read_yelp_metadata(f)
    assert str(err.value) == (
        f"{f}: line 3: expected 5 fields (user_id product_id rating label date), found 4: '202 0 5.0 1' "
        "(2 such lines in all)"
    )
    f.write_text("201 0 5.0 1 2011-06-08\n\n202 0 4.5 1 2011-06-08\n")  # blank lines still count
    with pytest.raises(ContractError, match=rf"^{f}: line 3, column rating: '4.5' must be"):
        read_yelp_metadata(f)
    with pytest.raises(ContractError, match=r"line 2, column date is missing \(the line has fewer than 5 fields\)"):
        parsed("201 0 5.0 1 2011-06-08\n202 0 5.0 1\n")


def _random_reviews(rng: np.random.Generator, n: int, *, users: int, products: int, spam_share: float) -> pd.DataFrame:
    """``n`` parsed Yelp reviews over two years, ``spam_share`` of them filtered (label -1)."""
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, users, n).astype(str),
            "product_id": rng.integers(0, products, n).astype(str),
            "rating": rng.integers(1, 6, n).astype(float),
            "label": rng.choice([-1, 1], n, p=[spam_share, 1 - spam_share]),
            "date": pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        }
    )


def test_no_id_ever_becomes_a_feature(tmp_path: Path) -> None:
    """Ids in these files leak the label (file order); relabelling every id must change no feature."""
    rng = np.random.default_rng(1)
    base = _random_reviews(rng, 400, users=150, products=12, spam_share=0.5)
    users = {
        u: str(v)
        for u, v in zip(sorted(base.user_id.unique()), rng.permutation(10_000)[: base.user_id.nunique()], strict=True)
    }
    prods = {
        p: str(v)
        for p, v in zip(
            sorted(base.product_id.unique()), rng.permutation(500)[: base.product_id.nunique()], strict=True
        )
    }
    shuffled = base.assign(user_id=base.user_id.map(users), product_id=base.product_id.map(prods))
    shuffled = shuffled.sample(frac=1, random_state=3)  # file order changes too
    cfg = load_config("yelp")
    names = [f.name for f in features_for("review_spam", cfg.risk_features)]
    frames = []
    for i, frame in enumerate((base, shuffled)):
        ds = open_dataset(connect(), write(yelp_to_contract(frame, seed=i), tmp_path / f"d{i}"), risks=("review_spam",))
        f = features_at_labels(ds, label_table(ds))
        frames.append(f)
    a, b = frames
    b = b.assign(account_id=b.account_id.map({f"u{v}": f"u{k}" for k, v in users.items()}))
    a = a.sort_values("account_id").reset_index(drop=True)
    b = b.sort_values("account_id").reset_index(drop=True)
    assert (a.account_id == b.account_id).all()
    pd.testing.assert_frame_equal(a[names], b[names], check_exact=True)
    assert a[names].notna().any().all()


def test_labels_are_decided_at_collection_unless_asked_for_the_last_review(tmp_path: Path) -> None:
    """Yelp's filter was observed when the file was collected: by default every label is decided
    then (the day after the file's last review, or the collection date given)."""
    at_end = yelp_to_contract(parsed())["labels"].to_pandas()
    assert (at_end["decided_at"] == pd.Timestamp("2012-01-02", tz="UTC")).all()
    given = yelp_to_contract(parsed(), collected_on=date(2013, 5, 1))["labels"].to_pandas()
    assert (given["decided_at"] == pd.Timestamp("2013-05-01", tz="UTC")).all()
    per_account = yelp_to_contract(parsed(), decided_at="last_review")["labels"].to_pandas().set_index("account_id")
    assert per_account["decided_at"].dt.strftime("%Y-%m-%d").to_dict() == {
        "u201": "2011-06-09",
        "u202": "2011-08-31",
        "u203": "2010-02-06",
        "u204": "2012-01-02",
    }
    with pytest.raises(ContractError, match="not after the last review"):
        yelp_to_contract(parsed(), collected_on=date(2012, 1, 1))
    with pytest.raises(ContractError, match="decided_at must be one of"):
        yelp_to_contract(parsed(), decided_at="first_review")  # type: ignore[arg-type]


def test_a_collection_date_after_today_is_refused_by_the_library() -> None:
    """Found in review: only the command line refused --collected-on after today; the library took
    collected_on=9999-12-31 and decided every label in the year 9999. The rule is the library's now."""
    with pytest.raises(
        ContractError, match=r"^collected_on '9999-12-31' must not be after today \(\d{4}-\d\d-\d\d, UTC\)$"
    ):
        yelp_to_contract(parsed(), collected_on=date(9999, 12, 31))
    with pytest.raises(ContractError, match=r"^collected_on '2013-05-02' must not be after today \(2013-05-01, UTC\)$"):
        yelp_to_contract(parsed(), collected_on=date(2013, 5, 2), today=date(2013, 5, 1))
    with pytest.raises(ContractError, match=r"^collected_on '2013-05-02T00:00:00' must not be after today"):
        yelp_to_contract(parsed(), collected_on=datetime(2013, 5, 2), today=date(2013, 5, 1))
    today = yelp_to_contract(parsed(), collected_on=date(2013, 5, 1), today=date(2013, 5, 1))  # today is not after
    assert (today["labels"]["decided_at"].to_pandas() == pd.Timestamp("2013-05-01", tz="UTC")).all()
    # The command line's option keeps the same rule, through the same function, under its own name.
    with pytest.raises(
        ContractError, match=r"^--collected-on '2013-05-02' must not be after today \(2013-05-01, UTC\)$"
    ):
        check_collected_on(date(2013, 5, 2), today=date(2013, 5, 1), name="--collected-on")


PRODUCT_CONTEXT = [
    "reviewed_product_rating_mean",
    "reviewed_product_popularity_at_as_of",
    "rating_deviation_at_as_of",
    "earliest_review_rank_share",
]


def test_product_context_is_what_was_known_at_the_decision_moment(tmp_path: Path) -> None:
    """u203 reviewed p0 (4 stars, 2009) and p1 (5 stars, 2010); each product later got two more
    reviews (p0: 5 and 1 stars, p1: 1 and 2). Decided at collection, the product context is each
    product's whole history; decided at its last review, only what existed then."""
    frames = {}
    for when in ("end_of_data", "last_review"):
        ds = open_dataset(
            connect(), write(yelp_to_contract(parsed(), decided_at=when), tmp_path / when), risks=("review_spam",)
        )
        frames[when] = features_at_labels(ds, label_table(ds)).set_index("account_id")
    end, last = frames["end_of_data"].loc["u203"], frames["last_review"].loc["u203"]
    # p0: 4, 5, 1 -> mean 10/3; p1: 5, 1, 2 -> mean 8/3; u203 was first on both.
    np.testing.assert_allclose(end[PRODUCT_CONTEXT].to_numpy(float), [3.0, 3.0, (2 / 3 + 7 / 3) / 2, 1 / 3], rtol=1e-8)
    # On 2010-02-06 each product had only u203's review: its own rating is the consensus.
    np.testing.assert_allclose(last[PRODUCT_CONTEXT].to_numpy(float), [4.5, 1.0, 0.0, 1.0], rtol=1e-8)
    # Neighbours: on p0 every review came on its author's first day; on p1 u203's own came on its
    # second (after p0), the other two on their authors' first.
    neighbours = ["product_first_timer_share_mean", "product_first_timer_share_max", "product_reviewer_history_mean"]
    np.testing.assert_allclose(end[neighbours].to_numpy(float), [5 / 6, 1.0, np.log(2) / 6], rtol=1e-8)
    np.testing.assert_allclose(last[neighbours].to_numpy(float), [0.5, 1.0, np.log(2) / 2], rtol=1e-8)
    # The account-only figures do not depend on when the label was decided.
    assert end["rating_mean"] == last["rating_mean"] == 4.5
    assert end["review_span_days"] == last["review_span_days"] == 224


def test_training_rows_are_the_features_scoring_computes_at_the_same_moment(tmp_path: Path) -> None:
    """Labels decided at collection: the training rows equal a batch scoring run at that moment
    (one code path), and a review written after it changes neither."""
    later = LINES + "205 0 1.0 1 2012-03-01\n"
    ds = open_dataset(connect(), write(yelp_to_contract(parsed()), tmp_path / "d"), risks=("review_spam",))
    names = [f.name for f in features_for("review_spam", load_config("yelp").risk_features)]
    train = features_at_labels(ds, label_table(ds)).set_index("account_id")[names].sort_index()
    moment = pd.Timestamp("2012-01-02").to_pydatetime()
    for frame, folder in ((parsed(), "same"), (parsed(later), "later")):
        scored_ds = open_dataset(connect(), write(yelp_to_contract(frame), tmp_path / folder), risks=("review_spam",))
        scored = build_features(scored_ds, cutoffs_at(scored_ds, moment)).to_pandas()
        scored = scored.set_index("account_id")[names].sort_index()
        pd.testing.assert_frame_equal(train, scored, check_exact=True)


def test_training_on_labels_decided_at_one_moment_says_why_it_cannot_backtest(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frame = _random_reviews(rng, 3000, users=800, products=30, spam_share=0.3).drop_duplicates(
        ["user_id", "product_id"]
    )
    ds = open_dataset(connect(), write(yelp_to_contract(frame), tmp_path / "d"), risks=("review_spam",))
    with pytest.raises(TrainingDataError, match="decided at one moment"):
        train_models(ds, load_config("yelp"))


def test_a_collection_date_with_labels_decided_at_the_last_review_is_refused_by_the_library() -> None:
    """Found in review: only the command line refused the combination; yelp_to_contract dated each
    label by its account's last review and silently ignored collected_on. One rule, one function
    (check_decided_at), which `datasets yelp` calls under its options' names."""
    with pytest.raises(
        ContractError,
        match=r"^collected_on dates labels decided at the end of the data: use it with decided_at end_of_data$",
    ):
        yelp_to_contract(parsed(), decided_at="last_review", collected_on=date(2013, 5, 1))
    with pytest.raises(ContractError, match=r"^decided_at must be one of end_of_data, last_review, not 'first'$"):
        yelp_to_contract(parsed(), decided_at="first")  # type: ignore[arg-type]
    # The command line's options keep the same rule, through the same function, under their own names.
    with pytest.raises(
        ContractError,
        match=r"^--collected-on dates labels decided at the end of the data: use it with --decided-at end_of_data$",
    ):
        check_decided_at("last_review", "2013-05-01", names=("--decided-at", "--collected-on"))
    check_decided_at("end_of_data", date(2013, 5, 1))  # the combination that dates labels at collection
    check_decided_at("last_review")
