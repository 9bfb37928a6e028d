"""A moderator's decision on a case comes back as data: a labels row and an enforcement row.

``decide_case`` takes the case record and the decision and returns the rows; ``append_decision``
writes them into a dataset folder's ``labels.parquet`` and ``enforcement.parquet`` together: both
new files are written beside the old ones and swapped in, and if the second swap fails the first
is put back, so a crash leaves either both rows or neither. A case already decided (a moderator's
label for its account and risk decided at or after the case's as-of) is refused, never duplicated.
The next ``reviewguard train`` learns from the label; the escalation features read the remedy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reviewguard.errors import ReviewguardError
from reviewguard.model.policy import NO_ACTION

DECISIONS = ("upheld", "overturned", "dismissed")
# The label source a decision is recorded under (training weighs and reads sources by name).
SOURCE = {"upheld": "manual_review", "dismissed": "manual_review", "overturned": "appeal_overturned"}


@dataclass(frozen=True)
class Decision:
    label: dict[str, Any]
    enforcement: dict[str, Any] | None


def check_decision(decision: str, by: str) -> None:
    """The rules for what a moderator says (``case decide``'s options, which the messages name): a
    decision in ``DECISIONS``, by a moderator named by an id that is not blank. The command line
    checks them before it reads the case."""
    if decision not in DECISIONS:
        raise ReviewguardError(f"--decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not by.strip():
        raise ReviewguardError(f"--by must name the moderator who decided (an id), not {by!r}")


def decide_case(
    case: dict[str, Any], *, decision: str, by: str, note: str = "", risk: str | None = None, at: datetime | None = None
) -> Decision:
    """The rows a moderator's ``decision`` on ``case`` adds (no I/O)."""
    check_decision(decision, by)
    acted = {r: d for r, d in case["decisions"].items() if d["action"] != NO_ACTION}
    if risk is None:
        if len(acted) != 1:
            raise ReviewguardError(
                f"case {case['case_id']} has {len(acted)} risks with an action ({', '.join(acted) or 'none'}); "
                "say which with --risk"
            )
        risk = next(iter(acted))
    if risk not in case["decisions"]:
        raise ReviewguardError(f"case {case['case_id']} has no decision for risk {risk!r}")
    when = pd.Timestamp(at if at is not None else datetime.now(UTC))
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    if when < pd.Timestamp(case["as_of"]).tz_localize(None):
        raise ReviewguardError(f"a decision at {when} would precede the case's as-of {case['as_of']}")
    label = {
        "account_id": str(case["account_id"]),
        "risk": risk,
        "label": 1 if decision == "upheld" else 0,
        "decided_at": when,
        "source": SOURCE[decision],
        "decided_by": by,
        "case_id": str(case["case_id"]),
        "note": note,
    }
    action = str(case["decisions"][risk]["action"])
    enforcement = None
    if decision != "dismissed" and action != NO_ACTION:
        enforcement = {
            "account_id": str(case["account_id"]),
            "risk": risk,
            "action": action,
            "applied_at": when,
            "lifted_at": when if decision == "overturned" else None,
            "outcome": "overturned_on_appeal" if decision == "overturned" else "in_force",
        }
    return Decision(label, enforcement)


def _already_decided(labels: pd.DataFrame, row: dict[str, Any], as_of: pd.Timestamp) -> bool:
    if labels.empty:
        return False
    same = (labels["account_id"] == row["account_id"]) & (labels["risk"] == row["risk"])
    moderated = labels["source"].isin(set(SOURCE.values()))
    later = pd.to_datetime(labels["decided_at"]).dt.tz_localize(None) >= as_of
    return bool((same & moderated & later).any())


def _appended(path: Path, row: dict[str, Any]) -> pa.Table:
    new = pd.DataFrame([row])
    if path.exists():
        old = pd.read_parquet(path)
        for col in old.columns.union(new.columns):
            for frame in (old, new):
                if col not in frame.columns:
                    frame[col] = None
        new = pd.concat([old, new[old.columns.tolist() + [c for c in new.columns if c not in old.columns]]])
    return pa.Table.from_pandas(new.reset_index(drop=True), preserve_index=False)


def append_decision(folder: Path, case: dict[str, Any], decision: Decision) -> list[Path]:
    """Append the rows to ``folder``'s labels and enforcement tables, both or neither."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReviewguardError(f"--labels {folder}: not a folder (give the dataset folder holding labels.parquet)")
    labels_path, enforcement_path = folder / "labels.parquet", folder / "enforcement.parquet"
    labels = pd.read_parquet(labels_path) if labels_path.exists() else pd.DataFrame()
    if _already_decided(labels, decision.label, pd.Timestamp(case["as_of"]).tz_localize(None)):
        raise ReviewguardError(
            f"account {decision.label['account_id']}, {decision.label['risk']}: already decided after this case's "
            f"as-of ({labels_path}); not recorded twice"
        )
    writes = [(labels_path, _appended(labels_path, decision.label))]
    if decision.enforcement is not None:
        writes.append((enforcement_path, _appended(enforcement_path, decision.enforcement)))
    staged = []
    try:
        for path, table in writes:
            tmp = path.with_name(f".{path.name}.decide.tmp")
            pq.write_table(table, tmp)
            staged.append((path, tmp))
        backups = []
        for path, tmp in staged:
            backup = path.with_name(f".{path.name}.decide.bak")
            if path.exists():
                os.replace(path, backup)
                backups.append((path, backup))
            try:
                os.replace(tmp, path)
            except BaseException:
                for p, b in backups:
                    os.replace(b, p)
                raise
        for _, b in backups:
            b.unlink()
    finally:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
    return [p for p, _ in writes]
