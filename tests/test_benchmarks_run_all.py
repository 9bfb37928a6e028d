"""``benchmarks/run_all.py --accounts 20000``: every speed ratio holds at least half its documented value.

The suite's one timed assertion. Each figure is a ratio of two throughputs measured in the same
process on one core, alternating, best of three (reviewguard against a plain baseline: pandas, a
bare ``Booster.predict``, ``pred_contrib``, an unchecked DuckDB load, a plain Parquet write), so a
busy machine slows both sides alike; the 2x margin is for what noise remains. The documented values are
the generated table in docs/benchmarks.md, which ``run_all.py --check`` reads (one place for them).

The same run carries the frame-by-frame checks of ``benchmarks/scoring.py``: explaining changes no
score or action, keeping resolved models across calls changes no output, and the margins are
LightGBM's where no value is missing.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIGURES = {"simulate", "read_validate", "features_five", "predict", "explain_warm", "explain_cold"}


@pytest.mark.slow
def test_run_all_ratios_hold_half_their_documented_values(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    docs = (REPO / "docs" / "benchmarks.md").read_text()
    command = [sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--accounts", "20000", "--check"]
    proc = subprocess.run(
        [*command, "--out", str(summary_path), "--work", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        # Two to three minutes on two shared cores; a hang must fail here, before pytest's own timeout.
        timeout=900,
    )
    # --check exits 1 and names each figure below half its documented value (or missing on one side).
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "every ratio is at least half its documented value" in proc.stdout
    # A test run never edits the docs (only --write-docs does).
    assert (REPO / "docs" / "benchmarks.md").read_text() == docs

    summary = json.loads(summary_path.read_text())
    assert set(summary) == {"schema", "run", "git", "machine", "figures", "checks", "absolute"}
    assert summary["schema"] == 1
    assert summary["run"]["accounts"] == 20_000
    assert {"days", "seed", "rounds", "started_at", "load_average_start"} <= set(summary["run"])
    assert {"commit", "dirty"} <= set(summary["git"])
    assert {"cpus", "memory_gib", "packages"} <= set(summary["machine"])
    assert set(summary["figures"]) == FIGURES
    for key, fig in summary["figures"].items():
        assert {"what", "unit", "value", "baseline", "ratio"} <= set(fig), key
        assert fig["value"] > 0 and fig["baseline"]["value"] > 0 and fig["baseline"]["what"], key
        assert math.isclose(fig["ratio"], fig["value"] / fig["baseline"]["value"]), key
    assert set(summary["absolute"]) == {"simulate", "features", "train", "scoring", "score_end_to_end"}
    assert summary["absolute"]["score_end_to_end"]["accounts"] == 20_000

    checks = summary["checks"]
    assert checks["explain_cold_equals_warm"] is True
    assert checks["explain_all_equals_none_but_explanations"] is True
    assert checks["complete_rows"] > 0
    assert checks["predictor_vs_booster_raw_max_abs_diff_complete_rows"] == 0.0
    assert checks["tree_explainer_vs_pred_contrib_max_abs_diff"] == 0.0
