"""DuckDB work folders: one per connection, and none left behind by dead processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reviewguard.engine import WORK_PREFIX, connect, remove_orphaned_work_folders


def _folder(parent: Path, name: str, pid: int | None) -> Path:
    folder = parent / f"{WORK_PREFIX}{name}"
    folder.mkdir()
    (folder / "work.duckdb").write_bytes(b"x" * 1024)
    if pid is not None:
        (folder / "owner.pid").write_text(str(pid))
    return folder


def test_folders_of_dead_processes_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    orphan = _folder(tmp_path, "orphan", dead_pid)
    mine = _folder(tmp_path, "mine", os.getpid())
    unknown = _folder(tmp_path, "unknown", None)
    other = tmp_path / "someone-else"
    other.mkdir()
    assert remove_orphaned_work_folders(str(tmp_path)) == [str(orphan)]
    assert not orphan.exists() and mine.exists() and unknown.exists() and other.exists()


def test_a_connection_records_its_owner() -> None:
    con = connect("duckdb")
    work = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0]
    assert Path(work, "owner.pid").read_text() == str(os.getpid())
