"""Where a case file goes, derived so that no account id can choose the path.

An account id comes from the data (``--top-flagged`` picks ids out of the
scores file), so it is untrusted text: ``../../x``, ``/etc``, a NUL byte, 10,000
characters or any script. The folder name is a filesystem-safe slug of the id
(ASCII letters, digits, ``.``, ``_``, ``-``; at most 48 characters; never a
leading dot) plus 10 hex digits of the id's SHA-256, so two ids that slug alike
never share a folder. The id itself is kept, unchanged, inside ``case.json``.
Whatever the name, the resolved folder must lie inside the output folder, or
the write is refused.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from reviewguard.errors import ReviewguardError

SLUG_MAX = 48
HASH_HEX = 10
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UnsafePathError(ReviewguardError):
    """An output path would land outside the folder the user named."""


def slug(account_id: str) -> str:
    """A short, filesystem-safe rendering of ``account_id`` (readable, not unique on its own)."""
    text = unicodedata.normalize("NFKD", account_id).encode("ascii", "ignore").decode("ascii")
    text = _UNSAFE.sub("_", text).strip("._-")[:SLUG_MAX].strip("._-")
    return text or "account"


def case_folder_name(account_id: str) -> str:
    """``<slug>-<10 hex of sha256(id)>``: the same id always gives the same name."""
    digest = hashlib.sha256(account_id.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_HEX]
    return f"{slug(account_id)}-{digest}"


def inside(out_dir: Path, name: str) -> Path:
    """``out_dir / name`` resolved; refused when it is not strictly inside ``out_dir``."""
    root = Path(out_dir).resolve()
    if "\x00" in name:
        raise UnsafePathError(f"refusing output name {name!r} under {out_dir}: it holds a NUL byte")
    target = (root / name).resolve()
    if target == root or root not in target.parents:
        raise UnsafePathError(f"refusing to write {name!r}: it resolves to {target}, outside {root}")
    return target


def case_folder(out_dir: Path, account_id: str) -> Path:
    """The folder for one account's ``case.json`` and ``case.html`` under ``out_dir`` (not created)."""
    return inside(out_dir, case_folder_name(account_id))
