"""Batch scoring: features for every account at one as-of, scored and explained in chunks.

Crash safety: each chunk is written as its own Parquet part (temporary name,
then an atomic rename) and recorded in a manifest. A killed run restarted
with ``resume=True`` keeps the parts the manifest lists and computes the rest;
the final file appears (by rename) only when every part is there. Without
``resume`` an existing output is never touched until the new one is complete.

Drift: per-feature population stability (PSI) against the training
reference, accumulated chunk by chunk.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from reviewguard.engine import materialize
from reviewguard.errors import ReviewguardError
from reviewguard.features import build_features, cutoffs_at
from reviewguard.files import write_text_atomic, writer_lock
from reviewguard.model.policy import action_rates
from reviewguard.model.predictor import SCORE_SCHEMA, Explain, Predictor, to_arrow
from reviewguard.reader import Dataset

PSI_WARN = 0.25
MANIFEST = "manifest.json"


@dataclass
class DriftAccumulator:
    """Histogram counts per feature over the reference deciles, for PSI."""

    edges: dict[str, np.ndarray]
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    expected: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_predictor(cls, predictor: Predictor) -> DriftAccumulator:
        edges: dict[str, np.ndarray] = {}
        expected: dict[str, np.ndarray] = {}
        for m in predictor.bundle.risks.values():
            for name, ref in m.reference.items():
                if name in edges:
                    continue
                qs = np.array([q for q in ref.quantiles if q is not None], dtype=np.float64)
                if qs.size == 0:
                    continue
                e = np.unique(qs[::10])
                edges[name] = e
                # Bins: below e[1], [e[j], e[j+1]), at or above e[-1] (as ``add`` assigns
                # them), with shares read off the reference quantiles; plus a null bin.
                below = np.searchsorted(qs, e[1:], side="left") / qs.size
                inner = np.diff(np.r_[0.0, below, 1.0])
                expected[name] = np.r_[inner * (1 - ref.null_share), ref.null_share]
        return cls(edges, {k: np.zeros(len(v)) for k, v in expected.items()}, expected)

    def add(self, features: pd.DataFrame) -> None:
        for name, e in self.edges.items():
            if name not in features.columns:
                continue
            v = features[name].to_numpy(dtype=np.float64, na_value=np.nan)
            finite = np.isfinite(v)
            idx = np.clip(np.searchsorted(e, v[finite], side="right") - 1, 0, max(len(e) - 1, 0))
            binned = np.bincount(idx, minlength=len(self.expected[name]) - 1)[: len(self.expected[name]) - 1]
            self.counts[name][:-1] += binned
            self.counts[name][-1] += (~finite).sum()

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"threshold": PSI_WARN, "features": {}}
        for name, c in self.counts.items():
            total = c.sum()
            if total == 0:
                continue
            actual = c / total
            exp = self.expected[name]
            eps = 1e-4
            a = np.clip(actual, eps, None)
            x = np.clip(exp, eps, None)
            psi = float(np.sum((a - x) * np.log(a / x)))
            out["features"][name] = {"psi": round(psi, 6), "warn": psi > PSI_WARN}
        out["warnings"] = sorted(n for n, v in out["features"].items() if v["warn"])
        return out


# What a run writes in its parts folder: parts, the manifest, and their temporary names.
OWN_FILE = re.compile(r"\.?(part-\d{5}\.parquet|manifest\.json)(\.tmp)?")


def foreign_files(parts: Path) -> list[str]:
    """Names in a parts folder that no scoring run wrote (a user's files: never deleted)."""
    return sorted(p.name for p in parts.iterdir() if not OWN_FILE.fullmatch(p.name))


def run_key(predictor: Predictor, ds: Dataset, as_of: datetime, explain: str, top_k: int, chunk_size: int) -> str:
    """What a resumed run must share with the interrupted one to reuse its parts."""
    h = hashlib.sha256()
    for part in (
        predictor.bundle.fingerprint(),
        ds.fingerprint,
        as_of.isoformat(),
        explain,
        str(top_k),
        str(chunk_size),
        predictor.model_uri,
        predictor.model_version,
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def score_dataset(
    ds: Dataset,
    predictor: Predictor,
    out: str | Path,
    *,
    as_of: datetime,
    explain: Explain = "flagged",
    top_k: int = 5,
    chunk_size: int = 100_000,
    resume: bool = False,
    scored_at: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score every account that existed at ``as_of``; write ``out`` (Parquet). Returns a summary.

    One run at a time per output: a second run on the same ``out`` fails at once (``writer_lock``).
    """
    out = Path(out)
    if out.is_dir():
        raise ReviewguardError(f"{out} is a folder: --out takes the name of the scores file to write")
    if chunk_size < 1:
        raise ReviewguardError(f"chunk_size must be at least 1 account, not {chunk_size}")
    with writer_lock(out, "reviewguard score"):
        return _score_locked(
            ds,
            predictor,
            out,
            as_of=as_of,
            explain=explain,
            top_k=top_k,
            chunk_size=chunk_size,
            resume=resume,
            scored_at=scored_at,
            progress=progress,
            on_chunk=on_chunk,
        )


def _score_locked(
    ds: Dataset,
    predictor: Predictor,
    out: Path,
    *,
    as_of: datetime,
    explain: Explain,
    top_k: int,
    chunk_size: int,
    resume: bool,
    scored_at: datetime | None,
    progress: Callable[[int, int], None] | None,
    on_chunk: Callable[[int], None] | None,
) -> dict[str, Any]:
    parts = out.with_name(out.name + ".parts")
    key = run_key(predictor, ds, as_of, explain, top_k, chunk_size)
    manifest: dict[str, Any] = {}
    if parts.exists():
        foreign = foreign_files(parts)
        if foreign:
            raise ReviewguardError(
                f"{parts} holds files no scoring run wrote ({', '.join(foreign[:3])}); move them and rerun"
            )
        if not (parts / MANIFEST).is_file():
            # Stopped before its manifest was written (before or just after its first part):
            # no part can be checked against it, so nothing is reused.
            shutil.rmtree(parts)
    if parts.exists():
        # A folder without a manifest was removed above.
        old = json.loads((parts / MANIFEST).read_text())
        fingerprint = predictor.bundle.fingerprint()
        if resume and old.get("model_fingerprint") not in (None, fingerprint):
            raise ReviewguardError(
                f"--resume: the model changed since {parts} was started (model fingerprint "
                f"{str(old['model_fingerprint'])[:12]} then, {fingerprint[:12]} now); its scores and reasons would "
                "mix two models: remove that folder or rerun without --resume"
            )
        if resume and old.get("run_key") == key:
            manifest = old
            # A part deleted since is computed again (the others are checked at the end).
            for name in [n for n in manifest["parts"] if not (parts / n).is_file()]:
                del manifest["parts"][name]
        elif resume:
            raise ReviewguardError(
                f"--resume: {parts} belongs to a different run (model, data, as-of or options differ); "
                "remove it or rerun without --resume"
            )
        else:
            shutil.rmtree(parts)
    elif resume and out.exists():
        raise ReviewguardError(f"--resume: {out} is already complete; nothing to resume")
    if not manifest:
        manifest = {
            "run_key": key,
            "model_fingerprint": predictor.bundle.fingerprint(),
            "scored_at": (scored_at or datetime.utcnow()).isoformat(),
            "chunk_size": chunk_size,
            "parts": {},
        }
    stamp = pd.Timestamp(manifest["scored_at"])

    cut = cutoffs_at(ds, as_of)
    feats = build_features(ds, cut)
    w = ibis.window(order_by=[feats.account_id])
    numbered = materialize(ds.con, "_rg_score_features", feats.mutate(__row=ibis.row_number().over(w)))
    total = int(numbered.count().execute())
    n_chunks = max(1, math.ceil(total / chunk_size))
    drift = DriftAccumulator.from_predictor(predictor)
    summary: dict[str, Any] = {"accounts": total, "chunks": n_chunks, "actions": {}}
    done_rows = 0
    for i in range(n_chunks):
        name = f"part-{i:05d}.parquet"
        chunk = numbered.filter((numbered.__row >= i * chunk_size) & (numbered.__row < (i + 1) * chunk_size))
        features = chunk.drop("__row").order_by("account_id").to_pandas()
        drift.add(features)
        if name not in manifest["parts"]:
            scores = predictor.predict(features, explain=explain, top_k=top_k, as_of=as_of, scored_at=stamp)
            table = to_arrow(scores)
            # Made with the first part, not before the features: a run that stops earlier leaves nothing.
            parts.mkdir(parents=True, exist_ok=True)
            tmp = parts / f".{name}.tmp"
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(parts / name)
            manifest["parts"][name] = {"rows": table.num_rows, "sha256": _sha(parts / name)}
            _write_json(parts / MANIFEST, manifest)
            if on_chunk:
                on_chunk(i)
        done_rows += len(features)
        if progress:
            progress(done_rows, total)

    names = [f"part-{i:05d}.parquet" for i in range(n_chunks)]
    for name in names:
        if _sha(parts / name) != manifest["parts"][name]["sha256"]:
            raise ReviewguardError(f"{parts / name} changed since it was written; rerun without --resume")
    by_risk: dict[str, dict[str, int]] = {}
    tmp_out = out.with_name(f".{out.name}.tmp")
    with pq.ParquetWriter(tmp_out, SCORE_SCHEMA, compression="zstd") as writer:
        for name in names:
            table = pq.read_table(parts / name)
            writer.write_table(table)
            add_action_counts(by_risk, table.select(["risk", "action"]).to_pandas())
    for counts in by_risk.values():
        for action, n in counts.items():
            summary["actions"][action] = summary["actions"].get(action, 0) + n
    summary["actions_by_risk"] = by_risk
    summary["rates"] = action_rates(predictor.policy, by_risk, total)
    summary["as_of"] = as_of.isoformat()
    summary["scored_at"] = manifest["scored_at"]
    # The drift file goes first, stamped with the run: killed between the two renames, a
    # run leaves its parts folder (``--resume`` finishes it), never scores without drift.
    # Stamped as the scores' columns read (UTC; the manifest keeps scored_at naive).
    summary["drift"] = {"scored_at": _utc_text(stamp), "as_of": _utc_text(as_of), **drift.report()}
    summary["drift_file"] = str(write_text_atomic(drift_path(out), json.dumps(summary["drift"], indent=2)))
    tmp_out.replace(out)
    shutil.rmtree(parts)
    return summary


def _utc_text(t: datetime | pd.Timestamp) -> str:
    """``t`` in ISO form with its UTC offset (a naive time is UTC, as everywhere in reviewguard)."""
    ts = pd.Timestamp(t)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).isoformat()


def add_action_counts(by_risk: dict[str, dict[str, int]], frame: pd.DataFrame) -> None:
    """Add ``frame``'s rows (its two columns: ``risk``, ``action``) to ``by_risk``: risk -> action -> accounts."""
    for key, n in frame.value_counts().items():
        risk, action = (str(v) for v in cast(tuple[str, str], key))
        counts = by_risk.setdefault(risk, {})
        counts[action] = counts.get(action, 0) + int(n)


def drift_path(out: Path) -> Path:
    """Where a scoring run's drift report goes: beside the scores, ``<stem>.drift.json``."""
    return out.with_name(out.stem + ".drift.json")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    tmp.replace(path)
