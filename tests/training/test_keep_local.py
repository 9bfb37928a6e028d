"""Training keeps its result when logging to MLflow fails, and `log-run` logs it later (issue 16, item 4).

The tracking server answers `train`'s first check and then is gone: the
logging goes to a real loopback port where nothing listens. The run folder
is then logged to a real SQLite store with `log-run`, and the registered
model scores exactly like the kept bundle.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reviewguard.cli import app
from reviewguard.simulator import SimConfig, simulate

TINY_CONFIG = """
[backtest]
folds = 2
min_positives = 3
[lightgbm]
n_estimators = 60
[unlabelled]
max_rows = 3000
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: nothing listens there


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("keep")
    simulate(SimConfig(accounts=12_000, days=90, seed=11, difficulty="easy"), root / "data")
    (root / "tiny.toml").write_text(TINY_CONFIG)
    return root / "data", root / "tiny.toml"


def test_train_keeps_the_result_when_logging_fails_and_log_run_registers_it(
    platform: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    import reviewguard.model.store as store
    from reviewguard.model.bundle import load_bundle

    data, config = platform
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")

    def answered_then_died(uri: str | None = None) -> MlflowClient:
        """The first check passed; by the time training is done, the server is gone."""
        mlflow.set_tracking_uri(dead)
        mlflow.set_registry_uri(dead)
        return MlflowClient(dead, dead)

    runs = tmp_path / "runs"
    runner = CliRunner()
    args = ["train", "--data", str(data), "--config", str(config), "--register-as", "demo"]
    with monkeypatch.context() as m:
        m.setattr(store, "connect_tracking", answered_then_died)
        r = runner.invoke(app, [*args, "--keep-local", str(runs)], env={"MLFLOW_TRACKING_URI": dead})
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    kept = sorted(runs.iterdir())
    assert len(kept) == 1 and not kept[0].name.endswith(".partial"), kept
    folder = kept[0]
    error = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1, r.output
    assert f"logging to MLflow at {dead} failed" in error[0]
    assert f"kept in {folder}" in error[0] and f"reviewguard log-run {folder}" in error[0]
    assert "--register-as demo" in error[0]
    bundle = load_bundle(folder / "bundle")
    assert folder.name.endswith(bundle.fingerprint()[:12])
    for name in ("report.md", "metrics.json", "run.json", "label_features.parquet"):
        assert (folder / name).is_file(), name

    # The store is still down: log-run says so and the folder stays as it was.
    r = runner.invoke(app, ["log-run", str(folder)], env={"MLFLOW_TRACKING_URI": dead})
    assert r.exit_code == 1 and "cannot be reached" in r.output, r.output

    # Later, to a real SQLite store.
    monkeypatch.chdir(tmp_path)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    r = runner.invoke(app, ["log-run", str(folder), "--experiment", "later", "--register-as", "demo"], env=env)
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1] == "models:/demo/1"
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    assert client.get_model_version("demo", "1").tags["model_fingerprint"] == bundle.fingerprint()
    run = client.get_run(client.get_model_version("demo", "1").run_id)
    assert client.get_experiment(run.info.experiment_id).name == "later"
    assert run.data.tags["model_fingerprint"] == bundle.fingerprint() and run.data.metrics

    # Logged once: a second log-run is refused unless asked.
    r = runner.invoke(app, ["log-run", str(folder), "--register-as", "demo"], env=env)
    assert r.exit_code == 1 and "already logged as models:/demo/1" in r.output, r.output

    # The registered model scores exactly like the kept bundle.
    scores = {}
    for label, model in (("registry", "models:/demo/1"), ("local", str(folder / "bundle"))):
        out = tmp_path / f"{label}.parquet"
        args = ["score", "--model", model, "--data", str(data), "--out", str(out), "--as-of", "2026-03-01T00:00:00"]
        r = runner.invoke(app, args, env=env)
        assert r.exit_code in (0, 3), r.output
        scores[label] = pd.read_parquet(out).drop(columns=["scored_at", "model_uri", "model_version"], errors="ignore")
    assert len(scores["local"]) > 0
    pd.testing.assert_frame_equal(scores["registry"], scores["local"], check_exact=True)
