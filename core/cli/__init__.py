"""The ``reviewguard`` command line: the only place that turns the user's paths into data.

Each command parses its options, calls one library function, and prints.
Errors the package raises on purpose are printed as a message and a non-zero
exit code, never as a traceback.

``common`` holds the one ``app`` and what every command shares; ``data``,
``models``, ``scoring`` and ``cases`` register their commands on it when
imported. ``--help`` lists commands in the order they are registered, so the
imports below keep that order.
"""

from __future__ import annotations

import sys

# isort: off
from reviewguard.cli.common import app, console, friendly_errors, out, say_error
from reviewguard.cli import data, models, scoring, cases

# isort: on

app.command("config")(models.show_config)

__all__ = ["app", "cases", "console", "data", "friendly_errors", "main", "models", "out", "say_error", "scoring"]


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
