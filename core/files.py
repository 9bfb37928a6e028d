"""Writing outputs so that a reader never sees half of one: a temporary name, then a rename.

A killed run leaves either the previous file or the new one, never a mix.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_parquet_atomic(table: pa.Table, path: str | Path, *, compression: str = "zstd") -> Path:
    path = Path(path)
    tmp = _temporary(path)
    try:
        pq.write_table(table, tmp, compression=compression)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    path = Path(path)
    tmp = _temporary(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
