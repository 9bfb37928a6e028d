"""Awkward and hostile input at the reader (issue 16): no silent acceptance, no silent loss, whole reasons.

Each test reproduces one failure that was found by hand and now has a
documented outcome: an error naming table, column and rule (or file and
cause), a counted quarantine, or correct reading.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviewguard.engine import connect
from reviewguard.errors import ContractError
from reviewguard.reader import fingerprint_files, open_dataset

ACCOUNTS = "account_id,created_at,level,phone_verified\na1,2026-01-01T00:00:00Z,1,true\na2,2026-01-01T00:00:00Z,,\n"
LIKE_HEADER = "account_id,content_id,author_id,liked_at,dwell_ms,device_id\n"


def folder(tmp_path: Path) -> Path:
    d = tmp_path / "d"
    d.mkdir()
    (d / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    return d


def transfers(amounts: list[float]) -> pa.Table:
    n = len(amounts)
    return pa.table(
        {
            "transfer_id": [f"t{i}" for i in range(n)],
            "merchant_id": ["m"] * n,
            "account_id": ["a1"] * n,
            "amount": pa.array(amounts, pa.float64()),
            "kind": ["refund"] * n,
            "paid_at": ["2026-02-01T00:00:00Z"] * n,
        }
    )


def orders(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "order_id": [f"o{i}" for i in range(start, start + n)],
            "account_id": ["a1"] * n,
            "merchant_id": ["m"] * n,
            "amount": [1.0] * n,
            "ordered_at": pa.array([1_770_000_000_000] * n, pa.timestamp("ms")),
        }
    )


# ------------------------------------------------------------------ non-finite numbers


def test_infinite_and_nan_amounts_are_refused_or_quarantined_with_a_count(tmp_path: Path) -> None:
    d = folder(tmp_path)
    pq.write_table(transfers([5.0, float("inf"), float("-inf"), float("nan")]), d / "transfers.parquet")
    with pytest.raises(ContractError) as err:
        open_dataset(connect(), d)
    assert "table transfers, column amount: must be finite (not NaN or ±inf) (3 rows)" in str(err.value)
    ds = open_dataset(connect(), d, bad_rows="quarantine")
    assert ds.report.quarantined == {"transfers": 3}
    kept = ds.tables["transfers"].to_pandas()
    assert kept.amount.tolist() == [5.0]


def test_an_infinite_float_in_an_int_column_is_a_rule_not_a_crash(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    pq.write_table(
        pa.table(
            {
                "account_id": ["a1", "a2", "a3", "a4"],
                "created_at": pa.array([1_700_000_000_000] * 4, pa.timestamp("ms")),
                "level": pa.array([3.0, float("inf"), float("nan"), 1e30], pa.float64()),
            }
        ),
        d / "accounts.parquet",
    )
    with pytest.raises(ContractError, match=r"table accounts, column level: not a valid int \(3 rows\)"):
        open_dataset(connect(), d)


# ------------------------------------------------------------------ file names


def test_upper_case_parquet_parts_in_a_table_folder_are_read(tmp_path: Path) -> None:
    d = folder(tmp_path)
    (d / "orders").mkdir()
    pq.write_table(orders(3), d / "orders" / "part-0.parquet")
    pq.write_table(orders(4, start=3), d / "orders" / "part-1.PARQUET")
    before = fingerprint_files(d)
    ds = open_dataset(connect(), d)
    assert int(ds.tables["orders"].count().execute()) == 7
    # the upper-case part is part of the data fingerprint too
    pq.write_table(orders(5, start=3), d / "orders" / "part-1.PARQUET")
    assert fingerprint_files(d) != before


def test_a_capitalised_table_file_is_the_table(tmp_path: Path) -> None:
    d = folder(tmp_path)
    pq.write_table(orders(2), d / "Orders.parquet")
    ds = open_dataset(connect(), d)
    assert int(ds.tables["orders"].count().execute()) == 2
    assert ds.report.tables["orders"].source == str(d / "Orders.parquet")


def test_two_spellings_of_one_table_are_refused(tmp_path: Path) -> None:
    d = folder(tmp_path)
    pq.write_table(orders(2), d / "Orders.parquet")
    (d / "ORDERS.csv").write_text("order_id\n", encoding="utf-8")
    with pytest.raises(ContractError, match="table orders: found 2 layouts"):
        open_dataset(connect(), d)


def test_unknown_files_are_listed_as_warnings(tmp_path: Path) -> None:
    d = folder(tmp_path)
    (d / "order.parquet").write_bytes(b"not read")  # a typo of a table name
    (d / "notes.txt").write_text("x")
    (d / ".DS_Store").write_text("x")  # hidden: not data by convention, not listed
    (d / "likes").mkdir()
    (d / "x.tmp").write_bytes(b"")
    (d / "likes" / "part-0.csv").write_text(LIKE_HEADER)
    (d / "likes" / "_SUCCESS").write_text("")
    with pytest.raises(ContractError, match=r"holds no \.parquet files"):
        open_dataset(connect(), d)
    (d / "likes" / "part-0.csv").unlink()
    pq.write_table(
        pa.table({c: pa.array([], pa.string()) for c in LIKE_HEADER.strip().split(",")}), d / "likes" / "p.parquet"
    )
    (d / "likes" / "readme.md").write_text("x")
    ds = open_dataset(connect(), d)
    warnings = "\n".join(ds.report.warnings)
    for name in ("order.parquet", "notes.txt", "x.tmp", "readme.md"):
        assert name in warnings
    assert ".DS_Store" not in warnings and "_SUCCESS" not in warnings
    assert "order.parquet in the dataset folder is not a contract table and was not read" in warnings


# ------------------------------------------------------------------ null-typed columns


def test_all_null_columns_of_arrow_type_null_are_read_as_the_contract_type(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    import pandas as pd

    pd.DataFrame(
        {
            "account_id": ["a1", "a2"],
            "created_at": pd.to_datetime(["2026-01-01", "2026-01-02"]),
            "level": [None, None],
            "phone_verified": [None, None],
        }
    ).to_parquet(d / "accounts.parquet")
    assert pq.read_schema(d / "accounts.parquet").field("level").type == pa.null()
    ds = open_dataset(connect(), d)
    acc = ds.tables["accounts"].to_pandas()
    assert acc.level.isna().all() and acc.phone_verified.isna().all()
    assert str(ds.tables["accounts"].schema()["level"]) == "int64"


def test_an_all_null_required_column_is_counted_not_unusable(tmp_path: Path) -> None:
    d = folder(tmp_path)
    t = transfers([1.0, 2.0]).set_column(1, "merchant_id", pa.array([None, None], pa.null()))
    pq.write_table(t, d / "transfers.parquet")
    with pytest.raises(ContractError, match=r"table transfers, column merchant_id: must not be null \(2 rows\)"):
        open_dataset(connect(), d)


# ------------------------------------------------------------------ unreadable files: the whole reason


def test_a_bad_byte_deep_in_a_csv_keeps_duckdbs_reason(tmp_path: Path) -> None:
    d = folder(tmp_path)
    rows = "".join(f"a1,c{i},a2,2026-02-01T00:00:00Z,,d\n" for i in range(5000))
    (d / "likes.csv").write_bytes((LIKE_HEADER + rows).encode() + b"a1,caf\xe9,a2,2026-02-01T00:00:00Z,,d\n")
    with pytest.raises(ContractError) as err:
        open_dataset(connect(), d, bad_rows="quarantine")
    msg = str(err.value)
    assert "\n" not in msg
    assert f"table likes: cannot read {d / 'likes.csv'} (csv)" in msg
    assert "Line: 5002" in msg and "not utf-8 encoded" in msg
    assert "ignore_errors" not in msg  # DuckDB's options are not ours to offer


def test_a_ragged_row_deep_in_a_csv_keeps_duckdbs_reason(tmp_path: Path) -> None:
    d = folder(tmp_path)
    rows = "".join(f"a1,c{i},a2,2026-02-01T00:00:00Z,,d\n" for i in range(5000))
    (d / "likes.csv").write_text(LIKE_HEADER + rows + "a1,c,a2,2026-02-01T00:00:00Z,,d,extra,more\n")
    with pytest.raises(ContractError) as err:
        open_dataset(connect(), d)
    msg = str(err.value)
    assert "\n" not in msg and "likes.csv" in msg
    assert "Line: 5002" in msg and "Expected Number of Columns: 6" in msg


def corrupt_pages(path: Path) -> None:
    """Flip bytes in the data pages and keep the footer intact (the file still opens)."""
    data = bytearray(path.read_bytes())
    for i in range(64, len(data) // 2, 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_corrupted_parquet_page_names_the_file(tmp_path: Path) -> None:
    d = folder(tmp_path)
    pq.write_table(transfers([float(i) for i in range(20_000)]), d / "transfers.parquet", compression="zstd")
    corrupt_pages(d / "transfers.parquet")
    pq.read_schema(d / "transfers.parquet")  # footer intact
    with pytest.raises(ContractError) as err:
        open_dataset(connect(), d, bad_rows="quarantine")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"table transfers: cannot read {d / 'transfers.parquet'} (parquet): ")
