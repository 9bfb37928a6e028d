"""Read a ``case.json`` from disk: the fields ``case verify`` and ``case decide`` rely on, present and typed,
or one clear error.

A case file is user input by the time it is verified (it may have been edited,
truncated or written by hand). This checks its shape only; whether its
content reproduces is ``reviewguard.serving.case.verify_case``'s business.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from reviewguard.errors import ReviewguardError


class CaseFileError(ReviewguardError):
    """A case file is unreadable or lacks what verification needs."""


def _need(cond: bool, path: Path, where: str, what: str) -> None:
    if not cond:
        raise CaseFileError(f"{path}: {where} {what}")


def read_case(path: Path) -> dict[str, Any]:
    """The case record at ``path``, checked for the fields verification and a decision read."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise CaseFileError(f"{path}: no such case file") from exc
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        case = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CaseFileError(f"{path} is not valid JSON: {exc}") from exc
    _need(isinstance(case, dict), path, "the file", "does not hold a JSON object")
    _need(isinstance(case.get("account_id"), str), path, "account_id", "is missing or not a string")
    # `case decide` records it with the label (verification compares it with the rest)
    _need(isinstance(case.get("case_id"), str), path, "case_id", "is missing or not a string")
    as_of = case.get("as_of")
    _need(isinstance(as_of, str), path, "as_of", "is missing or not a string")
    try:
        moment = pd.Timestamp(as_of)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CaseFileError(f"{path}: as_of {as_of!r} is not a time") from exc
    # pandas reads "", "nan" and "NaT" as NaT without raising: no moment, so no decision to verify
    # (and every comparison with it false: `case decide` recorded a label on such a case).
    _need(moment is not pd.NaT, path, "as_of", f"{as_of!r} is not a time")
    for section, keys in (("model", ("uri", "fingerprint")), ("data", ("root", "fingerprint"))):
        block = case.get(section)
        _need(isinstance(block, dict), path, section, "is missing or not an object")
        for key in keys:
            _need(isinstance(block.get(key), str), path, f"{section}.{key}", "is missing or not a string")
    decisions = case.get("decisions")
    _need(isinstance(decisions, dict), path, "decisions", "is missing or not an object")
    for risk, d in decisions.items():
        where = f"decisions.{risk}"
        _need(isinstance(d, dict), path, where, "is not an object")
        for key in ("score", "raw_score"):
            v = d.get(key)
            _need(isinstance(v, int | float) and not isinstance(v, bool), path, f"{where}.{key}", "is not a number")
        _need(isinstance(d.get("action"), str), path, f"{where}.action", "is missing or not a string")
    return case
