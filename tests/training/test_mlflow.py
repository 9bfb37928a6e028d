"""MLflow: a real tracking server on loopback, the registry, aliases, and failures of the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from tests_support import free_port
from typer.testing import CliRunner

from reviewguard.cli import app
from reviewguard.model.predictor import Predictor
from reviewguard.model.store import (
    CHALLENGER,
    CHAMPION,
    TrackingError,
    connect_tracking,
    download_bundle,
    load_predictor,
)
from reviewguard.training.config import load_config
from reviewguard.training.tracking import log_training

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


class Server:
    """A real `mlflow server` on loopback, with a SQLite store, that a test can restart."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = subprocess.Popen(
            [
                MLFLOW,
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination",
                str(self.root / "artifacts"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
        self.stop()
        raise RuntimeError("mlflow server did not start within 120 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    srv.start()
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = srv.uri
    try:
        yield srv
    finally:
        srv.stop()
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.mark.server
def test_train_register_load_by_alias_against_a_real_server(  # type: ignore[no-untyped-def]
    server: Server, trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect_tracking(server.uri)
    logged = log_training(trained, load_config().raw, experiment="t", register_as="rg", data_path="x", client=client)
    assert logged["registered_uri"] == "models:/rg/1"
    assert client.get_model_version_by_alias("rg", CHALLENGER).version == "1"
    assert str(client.get_model_version_by_alias("rg", CHAMPION).version) == "1"
    run = client.get_run(logged["run_id"])
    assert run.data.tags["feature_set_version"] == trained.bundle.feature_set_version
    assert run.data.tags["data_fingerprint"] == trained.data_fingerprint
    assert "extortion/oof_roc_auc" in run.data.metrics
    arts = {a.path for a in client.list_artifacts(logged["run_id"], "plots/extortion")}
    assert {
        "plots/extortion/pr_curve.png",
        "plots/extortion/calibration.png",
        "plots/extortion/shap_summary.png",
        "plots/extortion/importance.png",
    } <= arts

    # The registered model predicts exactly what the trained object predicted.
    test = trained.label_features.rename(columns={"decided_at": "as_of"}).head(500)
    want = Predictor(trained.bundle).predict(test, explain="none")
    bundle, meta = download_bundle("models:/rg@champion", tmp_path / "dl")
    assert meta == {"model_uri": "models:/rg/1", "model_version": "1"}
    assert bundle.fingerprint() == trained.bundle.fingerprint()
    got = Predictor(bundle).predict(test, explain="none")
    np.testing.assert_array_equal(got.score.to_numpy(), want.score.to_numpy())
    # Loading for scoring (no download folder named) leaves no copy of the model behind:
    # a daily job would otherwise fill the temporary directory, one model per run.
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    with monkeypatch.context() as patched:
        patched.setattr(tempfile, "tempdir", str(scratch))
        loaded = load_predictor("models:/rg@champion")
    assert loaded.model_version == "1" and loaded.bundle.fingerprint() == trained.bundle.fingerprint()
    assert list(scratch.iterdir()) == []
    np.testing.assert_array_equal(loaded.predict(test, explain="none").score.to_numpy(), want.score.to_numpy())
    # And through MLflow's own pyfunc loader (the model logged as code, no pickle).
    pyfunc = mlflow.pyfunc.load_model("models:/rg@challenger")
    feats = test.assign(as_of=test["as_of"].astype(str))
    cols = ["account_id", "as_of", *sorted({f for m in bundle.risks.values() for f in m.features})]
    served = pyfunc.predict(feats[cols], params={"explain": "none"})
    np.testing.assert_array_equal(served.score.to_numpy(), want.score.to_numpy())

    # A second registration is challenger only; champion stays until promoted.
    log_training(trained, load_config().raw, experiment="t", register_as="rg", data_path="x", client=client)
    assert client.get_model_version_by_alias("rg", CHALLENGER).version == "2"
    assert str(client.get_model_version_by_alias("rg", CHAMPION).version) == "1"

    # After a restart of the server the model is still there and reproduces.
    server.stop()
    server.start()
    again, _ = download_bundle("models:/rg/1", tmp_path / "dl2")
    assert again.fingerprint() == trained.bundle.fingerprint()
    # With the server down, scoring says so plainly.
    server.stop()
    with pytest.raises(TrackingError, match="cannot be reached"):
        download_bundle("models:/rg/1", tmp_path / "dl3")


def test_training_with_an_unreachable_server_fails_fast_and_registers_nothing(
    small_platform: Path, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here
    env = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    t0 = time.time()
    r = CliRunner().invoke(app, ["train", "--data", str(small_platform)], env=env)
    assert time.time() - t0 < 60
    assert r.exit_code == 1 and "cannot be reached" in r.output and "Traceback" not in r.output


def test_cli_end_to_end_on_a_local_sqlite_store(train_platform: Path, tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    runner = CliRunner()
    r = runner.invoke(app, ["train", "--data", str(train_platform), "--register-as", "demo"], env=env)
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1] == "models:/demo/1"
    out = tmp_path / "scores.parquet"
    r = runner.invoke(
        app, ["score", "--model", "models:/demo@champion", "--data", str(train_platform), "--out", str(out)], env=env
    )
    assert r.exit_code == 0, r.output
    assert out.exists()
    scores = pd.read_parquet(out, columns=["model_uri", "model_version", "as_of", "scored_at"])
    # Scored through an alias, the rows name the version it pointed at: the alias may move.
    assert set(scores["model_uri"]) == {"models:/demo/1"} and set(scores["model_version"]) == {"1"}
    drift = json.loads((tmp_path / "scores.drift.json").read_text())
    assert {pd.Timestamp(drift["scored_at"])} == set(scores["scored_at"])
    assert {pd.Timestamp(drift["as_of"])} == set(scores["as_of"])
    r = runner.invoke(
        app,
        [
            "case",
            "build",
            "--scores",
            str(out),
            "--data",
            str(train_platform),
            "--top-flagged",
            "1",
            "--out",
            str(tmp_path / "cases"),
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    cases = sorted((tmp_path / "cases").glob("*/case.json"))
    assert cases
    assert json.loads(cases[0].read_text())["model"]["uri"] == "models:/demo/1"
    r = runner.invoke(app, ["case", "verify", str(cases[0])], env=env)
    assert r.exit_code == 0 and "REPRODUCED" in r.output, r.output
    r = runner.invoke(
        app,
        ["score", "--model", "models:/demo/9", "--data", str(train_platform), "--out", str(tmp_path / "x.parquet")],
        env=env,
    )
    assert r.exit_code == 1 and "not found in the registry" in r.output
    assert not (tmp_path / "x.parquet").exists()


def test_promote_moves_champion_only_when_no_risk_gets_worse(
    trained, train_dataset, populations, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from reviewguard.engine import connect
    from reviewguard.reader import open_dataset
    from reviewguard.training.pipeline import train_models

    # Models trained on the labels decided before a date, judged on the decisions after it.
    early = tmp_path / "early"
    shutil.copytree(train_dataset.root, early)
    labels = pd.read_parquet(early / "labels.parquet")
    cut = labels["decided_at"].quantile(0.7)
    labels[labels["decided_at"] <= cut].to_parquet(early / "labels.parquet", index=False)
    early_ds = open_dataset(connect(), early)
    strong = train_models(early_ds, load_config(), populations=populations)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri}
    client = connect_tracking(uri)
    log_training(strong, load_config().raw, experiment="p", register_as="rg", data_path="x", client=client)
    weak_cfg = load_config(overrides={"lightgbm": {"num_leaves": 2, "n_estimators": 1, "feature_fraction": 0.2}})
    weak = train_models(early_ds, weak_cfg, populations=populations)
    log_training(weak, weak_cfg.raw, experiment="p", register_as="rg", data_path="x", client=client)
    runner = CliRunner()
    r = runner.invoke(app, ["promote", "rg", "--data", str(train_dataset.root)], env=env)
    assert r.exit_code == 1, r.output
    assert "not promoted" in r.output and "worse beyond the tolerance" in r.output
    assert str(client.get_model_version_by_alias("rg", CHAMPION).version) == "1"
    log_training(strong, load_config().raw, experiment="p", register_as="rg", data_path="x", client=client)
    r = runner.invoke(app, ["promote", "rg", "--data", str(train_dataset.root)], env=env)
    assert r.exit_code == 0, r.output
    assert "promoted: rg champion is now version 3" in r.output
    assert str(client.get_model_version_by_alias("rg", CHAMPION).version) == "3"
