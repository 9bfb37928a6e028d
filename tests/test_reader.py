"""The contract reader: every layout, type normalisation, every rule, quarantine counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from reviewguard.cli import app
from reviewguard.engine import connect
from reviewguard.errors import ContractError
from reviewguard.reader import STORED_WHEN_VALID, open_dataset

ACCOUNTS_CSV = """account_id,created_at,level,phone_verified
007,2026-01-01T00:00:00Z,3,true
008,2026-01-02T08:00:00+08:00,8,false
009,2026-01-03 12:00:00,,
"""


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_csv_keeps_leading_zeros_and_normalises_time_zones_to_utc(tmp_path: Path) -> None:
    write(tmp_path, "accounts.csv", ACCOUNTS_CSV)
    ds = open_dataset(connect(), tmp_path)
    acc = ds.tables["accounts"].order_by("account_id").to_pandas()
    assert acc["account_id"].tolist() == ["007", "008", "009"]
    # +08:00 08:00 is 00:00 UTC; a naive time is read as UTC.
    assert acc["created_at"].tolist() == [
        pd.Timestamp("2026-01-01"),
        pd.Timestamp("2026-01-02"),
        pd.Timestamp("2026-01-03 12:00"),
    ]
    assert acc["phone_verified"].tolist()[:2] == [True, False]
    assert pd.isna(acc["level"].iloc[2])
    assert ds.report.ok


def test_three_layouts_read_the_same(tmp_path: Path) -> None:
    table = pa.table(
        {
            "account_id": ["a1", "a2"],
            "created_at": pa.array([1_700_000_000_000, 1_700_000_100_000], type=pa.timestamp("ms", tz="UTC")),
            "level": pa.array([1, None], type=pa.int32()),
            "phone_verified": [True, None],
        }
    )
    (tmp_path / "file").mkdir()
    pq.write_table(table, tmp_path / "file" / "accounts.parquet")
    (tmp_path / "dir" / "accounts").mkdir(parents=True)
    pq.write_table(table.slice(0, 1), tmp_path / "dir" / "accounts" / "part-0.parquet")
    pq.write_table(table.slice(1, 1), tmp_path / "dir" / "accounts" / "part-1.parquet")
    write(
        tmp_path / "csv",
        "accounts.csv",
        "account_id,created_at,level,phone_verified\na1,2023-11-14T22:13:20Z,1,true\na2,2023-11-14T22:15:00Z,,\n",
    )
    frames = []
    for layout in ("file", "dir", "csv"):
        ds = open_dataset(connect(), tmp_path / layout)
        frames.append(ds.tables["accounts"].order_by("account_id").to_pandas())
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], f)


def test_two_layouts_for_one_table_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "accounts.csv", ACCOUNTS_CSV)
    (tmp_path / "accounts").mkdir()
    with pytest.raises(ContractError, match="accounts: found 2 layouts"):
        open_dataset(connect(), tmp_path)


BAD_ORDERS = """order_id,account_id,merchant_id,item_id,amount,ordered_at,delivered_at,refunded_at,device_id,address_id
o1,007,m1,,12.5,2026-02-01T10:00:00Z,,,d1,h1
o2,007,m1,,-3,2026-02-01T10:00:00Z,,,d1,h1
o3,999,m2,,10,2026-02-01T10:00:00Z,,,d1,h1
o4,008,m2,,10,yesterday,,,d1,h1
o4,008,m2,,10,2026-02-01T10:00:00Z,,,d1,h1
"""
BAD_REVIEWS = """review_id,account_id,merchant_id,order_id,rating,text,created_at,edited_at,edited_rating,deleted_at,device_id
r1,007,m1,o1,9,"<script>alert(1)</script>",2026-02-02T10:00:00Z,,,,
r2,007,m1,o1,1,"差评 😡 mixed 文字",2026-02-02T10:00:00Z,,,,
"""
BAD_MESSAGES = """message_id,account_id,merchant_id,sender,text,sent_at
g1,007,m1,bot,hi,2026-02-02T10:00:00Z
g2,007,m1,account,,2026-02-02T10:00:00Z
"""


def corrupted(tmp_path: Path) -> Path:
    write(tmp_path, "accounts.csv", ACCOUNTS_CSV)
    write(tmp_path, "orders.csv", BAD_ORDERS)
    write(tmp_path, "reviews.csv", BAD_REVIEWS)
    write(tmp_path, "messages.csv", BAD_MESSAGES)
    return tmp_path


def test_every_broken_rule_is_named_with_table_column_and_count(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as err:
        open_dataset(connect(), corrupted(tmp_path))
    found = {(v.table, v.column, v.rule, v.count) for v in err.value.report.violations}  # type: ignore[union-attr]
    assert ("orders", "amount", "must be >= 0", 1) in found
    assert ("orders", "account_id", "unknown account (not in accounts)", 1) in found
    assert ("orders", "ordered_at", "unparseable timestamp", 1) in found
    assert ("orders", "order_id", "duplicate value (must be unique)", 2) in found
    assert ("reviews", "rating", "must be <= 5", 1) in found
    assert ("messages", "sender", "must be one of account, merchant", 1) in found
    text = str(err.value)
    assert "table orders, column amount: must be >= 0" in text
    assert "order_id=o2" in text  # an offending row is shown
    assert "--quarantine" in text


def test_quarantine_counts_every_bad_row_and_keeps_every_good_one(tmp_path: Path) -> None:
    ds = open_dataset(connect(), corrupted(tmp_path), bad_rows="quarantine")
    assert ds.report.quarantined == {"orders": 4, "reviews": 1, "messages": 1}
    for name, t in ds.report.tables.items():
        kept = int(ds.tables[name].count().execute())
        bad = int(ds.quarantine[name].count().execute()) if name in ds.quarantine else 0
        assert kept == t.valid_rows and kept + bad == t.rows
    assert ds.tables["orders"].order_id.to_pandas().tolist() == ["o1"]
    # An empty CSV text is an empty message, which the contract allows.
    msgs = ds.tables["messages"].to_pandas()
    assert msgs["text"].tolist() == [""]
    bad = ds.quarantine["orders"].to_pandas().set_index("order_id")
    assert bad.loc["o2", "amount"] == "-3"  # original value kept as read
    o4 = bad.loc[["o4"]]
    assert sorted(o4["ordered_at"]) == ["2026-02-01T10:00:00Z", "yesterday"]
    assert all("order_id: duplicate value" in v for v in o4["_violations"])
    assert o4.set_index("ordered_at").loc["yesterday", "_violations"].startswith("ordered_at: unparseable timestamp")


def test_missing_required_column_always_stops(tmp_path: Path) -> None:
    write(tmp_path, "accounts.csv", ACCOUNTS_CSV)
    write(tmp_path, "messages.csv", "message_id,account_id,merchant_id,sender,sent_at\ng1,007,m1,account,2026-02-02\n")
    for mode in ("error", "quarantine"):
        with pytest.raises(ContractError, match="table messages, column text: required column is missing"):
            open_dataset(connect(), tmp_path, bad_rows=mode)  # type: ignore[arg-type]


def test_missing_accounts_table_stops_and_missing_optional_tables_are_fine(tmp_path: Path) -> None:
    write(tmp_path, "likes.csv", "account_id,content_id,author_id,liked_at,dwell_ms,device_id\n")
    with pytest.raises(ContractError, match="accounts"):
        open_dataset(connect(), tmp_path)
    write(tmp_path, "accounts.csv", ACCOUNTS_CSV)
    ds = open_dataset(connect(), tmp_path)
    assert set(ds.tables) == {"accounts", "likes"}
    assert int(ds.tables["likes"].count().execute()) == 0


def test_unconvertible_column_type_stops(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({"account_id": ["a"], "created_at": [1.5], "level": [1], "phone_verified": [True]}),
        tmp_path / "accounts.parquet",
    )
    with pytest.raises(ContractError, match="created_at: wrong type"):
        open_dataset(connect(), tmp_path, bad_rows="quarantine")


def test_validate_cli_exit_codes_and_quarantine_files(tmp_path: Path) -> None:
    runner = CliRunner()
    data = corrupted(tmp_path / "data")
    r = runner.invoke(app, ["validate", str(data)])
    assert r.exit_code == 1
    assert "orders.amount: must be >= 0" in r.output
    q = tmp_path / "q"
    r = runner.invoke(app, ["validate", str(data), "--quarantine", str(q)])
    assert r.exit_code == 0, r.output
    assert len(pd.read_parquet(q / "orders.parquet")) == 4
    (data / "messages.csv").write_text("message_id,account_id\n", encoding="utf-8")
    r = runner.invoke(app, ["validate", str(data)])
    assert r.exit_code == 2
    assert "required column is missing" in r.output
    assert "Traceback" not in r.output


# ------------------------------------------------------------ no second copy of a valid table


def _likes_platform(folder: Path, *, dwell: list[int | None] | None = None) -> Path:
    """accounts and likes as Parquet (aware UTC timestamps, dictionary strings, zstd), as the simulator writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    ms = pa.timestamp("ms", tz="UTC")
    pq.write_table(
        pa.table(
            {
                "account_id": ["a1", "a2"],
                "created_at": pa.array([1_700_000_000_000, 1_700_000_100_000], type=ms),
                "level": pa.array([1, 2], type=pa.int64()),
                "phone_verified": [True, False],
            }
        ),
        folder / "accounts.parquet",
    )
    n = 3000
    pq.write_table(
        pa.table(
            {
                "account_id": pa.array(["a1", "a2"] * (n // 2)).dictionary_encode(),
                "content_id": pa.array([f"c{i}" for i in range(n)]).dictionary_encode(),
                "author_id": pa.array([f"u{i % 7}" for i in range(n)]).dictionary_encode(),
                "liked_at": pa.array([1_700_000_200_000 + 1_001 * i for i in range(n)], type=ms),
                "dwell_ms": pa.array(dwell or [i % 500 for i in range(n)], type=pa.int64()),
                "device_id": pa.array([f"d{i}" for i in range(n)]).dictionary_encode(),
            }
        ),
        folder / "likes.parquet",
        compression="zstd",
        row_group_size=1000,
    )
    return folder


def _stored_tables(con) -> set[str]:  # type: ignore[no-untyped-def]
    """Tables DuckDB holds rows of (its own storage), not views."""
    rows = con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()
    return {r[0] for r in rows}


def _plan(con, table) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(r[-1]) for r in con.raw_sql(f"EXPLAIN {con.compile(table)}").fetchall())


def test_valid_parquet_table_on_duckdb_is_a_view_over_the_file_not_a_copy(tmp_path: Path) -> None:
    data = _likes_platform(tmp_path / "data")
    frames = []
    for stored in ((), ("likes",)):
        con = connect()
        ds = open_dataset(con, data, stored_when_valid=stored)
        assert ds.report.ok
        # Nothing of the dataset copied into DuckDB's storage but the tables asked for.
        assert _stored_tables(con) == set(stored)
        assert "READ_PARQUET" in _plan(con, ds.tables["accounts"]).upper()
        assert ("READ_PARQUET" in _plan(con, ds.tables["likes"]).upper()) == (not stored)
        likes = ds.tables["likes"].order_by("content_id").to_pandas()
        assert len(likes) == 3000
        # Aware timestamps read as naive UTC, to the millisecond, as the stored copy held them.
        assert likes.set_index("content_id").loc["c1", "liked_at"] == pd.Timestamp("2023-11-14 22:16:41.001")
        assert str(ds.tables["likes"].schema()["liked_at"]) == "timestamp(6)"
        frames.append(likes)
    pd.testing.assert_frame_equal(frames[0], frames[1])
    con = connect()
    open_dataset(con, data)
    assert _stored_tables(con) == set(STORED_WHEN_VALID)


def test_quarantined_and_csv_tables_are_still_stored(tmp_path: Path) -> None:
    dwell: list[int | None] = [i % 500 for i in range(3000)]
    dwell[10] = -1
    data = _likes_platform(tmp_path / "data", dwell=dwell)
    con = connect()
    ds = open_dataset(con, data, bad_rows="quarantine", stored_when_valid=())
    assert ds.report.quarantined == {"likes": 1}
    # The clean likes (the bad row left out) are stored whatever stored_when_valid says; valid
    # accounts are still a view.
    assert _stored_tables(con) == {"likes"}
    assert int(ds.tables["likes"].count().execute()) == 2999
    assert int(ds.tables["likes"].filter(ds.tables["likes"].dwell_ms < 0).count().execute()) == 0
    # CSV would be parsed again by every query over a view: stored.
    write(tmp_path / "csv", "accounts.csv", ACCOUNTS_CSV)
    con = connect()
    open_dataset(con, tmp_path / "csv")
    assert _stored_tables(con) == {"accounts"}


def _flip_column_pages(path: Path, column: str) -> None:
    """Flip bytes in every page of one column (the footer and the other columns intact)."""
    meta = pq.ParquetFile(path).metadata
    index = meta.schema.to_arrow_schema().get_field_index(column)
    data = bytearray(path.read_bytes())
    for g in range(meta.num_row_groups):
        chunk = meta.row_group(g).column(index)
        start = chunk.dictionary_page_offset or chunk.data_page_offset
        for i in range(start + 8, start + chunk.total_compressed_size, 3):
            data[i] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("stored", [(), ("likes",)])
@pytest.mark.parametrize("column", ["device_id", "content_id", "liked_at"])
def test_corrupt_page_in_a_valid_looking_parquet_file_fails_at_open_naming_the_file(
    tmp_path: Path, column: str, stored: tuple[str, ...]
) -> None:
    """device_id has no rule that reads it: a view would expose it, so the checks read it at open time."""
    data = _likes_platform(tmp_path / "data")
    _flip_column_pages(data / "likes.parquet", column)
    assert pq.ParquetFile(data / "likes.parquet").metadata.num_rows == 3000  # the footer is intact
    with pytest.raises(ContractError) as err:
        open_dataset(connect(), data, stored_when_valid=stored)
    text = str(err.value)
    assert len(text.splitlines()) == 1, text
    assert text.startswith("table likes: cannot read ") and str(data / "likes.parquet") in text, text
