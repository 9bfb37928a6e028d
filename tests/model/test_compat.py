"""Models logged before the model layer existed still load and score the same."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from reviewguard.model.bundle import load_bundle
from reviewguard.model.predictor import Predictor, portable_frame
from reviewguard.model.store import connect_tracking, download_bundle

OLD_PYFUNC = Path(__file__).resolve().parents[1] / "fixtures" / "pyfunc_model_0_1.py"


def test_a_model_logged_with_the_0_1_pyfunc_code_loads_and_scores_the_same(
    bundle_dir: Path, trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # The 0.1 code imports reviewguard.bundle and reviewguard.serving.predictor, paths that moved.
    text = OLD_PYFUNC.read_text(encoding="utf-8")
    assert "from reviewguard.bundle import load_bundle" in text
    assert "from reviewguard.serving.predictor import Predictor" in text
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    connect_tracking(uri)
    mlflow.set_experiment("compat")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(OLD_PYFUNC), artifacts={"bundle": str(bundle_dir)}
        )

    rows = trained.label_features.rename(columns={"decided_at": "as_of"}).head(300)
    cols = ["account_id", "as_of", *sorted({f for m in trained.bundle.risks.values() for f in m.features})]
    want = portable_frame(Predictor(load_bundle(bundle_dir)).predict(rows[cols], explain="flagged"))
    served = mlflow.pyfunc.load_model(info.model_uri).predict(rows[cols])
    assert (want.action != "none").any()  # flagged rows with reasons are part of the comparison
    pd.testing.assert_frame_equal(served.reset_index(drop=True), want.reset_index(drop=True), check_exact=True)

    # The scoring path reads the same model through the store.
    bundle, _ = download_bundle(info.model_uri, tmp_path / "download")
    assert bundle.fingerprint() == trained.bundle.fingerprint()
