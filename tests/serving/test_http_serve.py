"""`mlflow models serve` on a registered model answers a real HTTP request with scores and reasons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from tests_support import free_port

from reviewguard.model.predictor import Predictor
from reviewguard.model.store import connect_tracking
from reviewguard.training.config import load_config
from reviewguard.training.tracking import log_training

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


@pytest.mark.server
def test_served_model_answers_with_scores_and_reasons(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = connect_tracking(uri)
    logged = log_training(
        trained, load_config().raw, experiment="s", register_as="served", data_path="x", client=client
    )
    port = free_port()
    # mlflow starts uvicorn by name: the environment's bin folder must be on PATH.
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [
            MLFLOW,
            "models",
            "serve",
            "-m",
            logged["registered_uri"],
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
            if time.time() > deadline:
                raise AssertionError("mlflow models serve did not answer within 180 s")
            time.sleep(1)

        rows = trained.label_features.rename(columns={"decided_at": "as_of"})
        names = sorted({f for m in trained.bundle.risks.values() for f in m.features})
        sample = rows[rows.label == 1].head(3)
        sample = sample[["account_id", "as_of", *names]].assign(as_of=sample["as_of"].astype(str))
        body = {
            "dataframe_split": json.loads(sample.to_json(orient="split", index=False)),
            "params": {"explain": "all", "top_k": 3},
        }
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            predictions = json.loads(r.read())["predictions"]
        assert len(predictions) == 3 * len(trained.bundle.risks)
        want = Predictor(trained.bundle).predict(
            rows[rows.label == 1].head(3)[["account_id", "as_of", *names]], explain="all", top_k=3
        )
        got = {(p["account_id"], p["risk"]): p for p in predictions}
        for w in want.itertuples():
            p = got[(w.account_id, w.risk)]
            assert np.isclose(p["score"], w.score, rtol=0, atol=1e-12)
            reasons = json.loads(p["reasons"])
            assert [r["feature"] for r in reasons] == [r["feature"] for r in w.reasons]
            assert all(r["text_en"] and r["text_zh"] for r in reasons)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
