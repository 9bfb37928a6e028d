"""Small helpers shared by tests."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from reviewguard.cli import app

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
