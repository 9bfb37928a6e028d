"""Writing outputs so that a reader never sees half of one: a temporary name, then a rename.

A killed run leaves either the previous file or the new one, never a mix; and one run at a time
writes an output (``writer_lock``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from reviewguard.errors import ReviewguardError


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


@contextmanager
def writer_lock(path: str | Path, command: str) -> Iterator[Path]:
    """Hold ``<path>.lock`` while one run writes ``path``: a second run on the same output fails
    at once, naming the first, instead of both removing each other's unfinished files.

    The lock holds the writer's host and process id. A lock whose process is gone (same host,
    no such process: a run killed with SIGKILL) is stale and taken over. Two runs that find the
    same stale lock at the same instant could both take it; a lock file cannot close that window,
    and a killed run followed by two restarts within milliseconds is not how scoring is run.
    """
    path = Path(path)
    lock = path.with_name(path.name + ".lock")
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(lock)
            if holder is not None and _is_gone(holder):
                lock.unlink(missing_ok=True)
                continue
            raise ReviewguardError(
                f"{path} is being written by another {command} run ({_describe(holder)}): wait for it to end; "
                f"if no such run is alive, remove {lock}"
            ) from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    else:
        raise ReviewguardError(f"{lock} keeps coming back: another {command} run is starting on {path}")
    try:
        yield lock
    finally:
        if _read_lock(lock) == me:
            lock.unlink(missing_ok=True)


def _read_lock(lock: Path) -> str | None:
    try:
        return lock.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _describe(holder: str | None) -> str:
    if holder is None:
        return "its lock cannot be read"
    host, _, pid = holder.rpartition(" ")
    return f"process {pid} on {host}" if host else holder


def _is_gone(holder: str) -> bool:
    """The lock's process no longer exists (only knowable for this host)."""
    host, _, pid = holder.rpartition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
