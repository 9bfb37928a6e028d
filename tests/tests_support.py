"""Small helpers shared by tests."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from reviewguard.cli import app
from reviewguard.engine import connect
from reviewguard.reader import Dataset, open_dataset

_runner = CliRunner()


def invoke_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``reviewguard ARGS`` in-process: (exit code, output). A Python exception other than the
    command's own exit fails the calling test: the user would have seen a stack trace."""
    r = _runner.invoke(app, args, env=env)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, r.output


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def likes_only_platform(root: Path, likes: pd.DataFrame) -> Dataset:
    """A platform of accounts and likes only, opened on DuckDB: ``likes`` needs account_id and
    liked_at (UTC); the likes columns it lacks get plain values (author "x", one item per like,
    a dwell of 100 ms, no device)."""
    root.mkdir()
    accounts = sorted(set(likes.account_id))
    pd.DataFrame(
        {"account_id": accounts, "created_at": "2025-01-01T00:00:00Z", "level": 3, "phone_verified": True}
    ).to_csv(root / "accounts.csv", index=False)
    plain = {
        "author_id": "x",
        "content_id": [f"item{i}" for i in range(len(likes))],
        "dwell_ms": 100,
        "device_id": None,
    }
    full = likes.assign(**{k: v for k, v in plain.items() if k not in likes.columns})
    full.assign(liked_at=likes.liked_at.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")).to_csv(root / "likes.csv", index=False)
    return open_dataset(connect(), root)
