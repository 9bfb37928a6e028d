"""The model fingerprint: one tampered field per test, each refused on load with one line naming it.

A bundle trained on a 12,000-account platform with a tiny configuration (about
30 s) stands for the real thing: the checks do not depend on model quality.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reviewguard.engine import connect
from reviewguard.errors import ModelLoadError, ReviewguardError
from reviewguard.model.bundle import Bundle, load_bundle, save_bundle
from reviewguard.reader import open_dataset, read_simulator_truth
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


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """(platform, saved bundle folder, training result)."""
    from reviewguard.training.config import load_config
    from reviewguard.training.pipeline import train_models

    root = tmp_path_factory.mktemp("tiny")
    data = root / "data"
    simulate(SimConfig(accounts=12_000, days=90, seed=11, difficulty="easy"), data)
    cfg = root / "tiny.toml"
    cfg.write_text(TINY_CONFIG)
    result = train_models(open_dataset(connect(), data), load_config(cfg), populations=read_simulator_truth(data))
    return data, save_bundle(result.bundle, root / "bundle"), result


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_json(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d, indent=2, sort_keys=True))


def _bump_a_threshold(b: Path) -> None:
    """One split threshold of the first tree changed, the text otherwise whole (same length, same sizes)."""
    p = b / "boosters" / "extortion.txt"
    lines = p.read_text().split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith("threshold="))
    values = lines[i].removeprefix("threshold=").split()
    j = next(j for j, v in enumerate(values) if v[0] in "12345678")
    values[j] = str(int(values[j][0]) + 1) + values[j][1:]
    lines[i] = "threshold=" + " ".join(values)
    p.write_text("\n".join(lines))


def _swap_two_features(names: list[str]) -> None:
    names[0], names[1] = names[1], names[0]


def _swap_features_in_both(b: Path) -> None:
    """The list in bundle.json and the booster's own feature_names reordered alike (a careful forger)."""
    _edit_json(b / "bundle.json", lambda d: _swap_two_features(d["risks"]["extortion"]["features"]))
    p = b / "boosters" / "extortion.txt"
    lines = p.read_text().split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith("feature_names="))
    names = lines[i].removeprefix("feature_names=").split()
    _swap_two_features(names)
    lines[i] = "feature_names=" + " ".join(names)
    p.write_text("\n".join(lines))


def _move_a_calibrator_knot(d: dict[str, Any]) -> None:
    y = d["risks"]["extortion"]["calibrator"]["y"]
    y[-1] = min(0.999, y[-1] * 0.5 + 0.5)


def _move_a_reference_quantile(d: dict[str, Any]) -> None:
    ref = d["risks"]["fake_engagement"]["reference"]
    name = next(n for n, r in sorted(ref.items()) if r["quantiles"][50] is not None)
    ref[name]["quantiles"][50] = ref[name]["quantiles"][50] * 1.5 + 1.0


def _lower_a_policy_threshold(d: dict[str, Any]) -> None:
    d["risks"]["extortion"]["actions"][0]["threshold"] -= 0.5


TAMPERS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # case: (tamper, file the message names, field the message names)
    "booster threshold": (_bump_a_threshold, "boosters/extortion.txt", "risks.extortion.booster"),
    "feature order in bundle.json": (
        lambda b: _edit_json(b / "bundle.json", lambda d: _swap_two_features(d["risks"]["extortion"]["features"])),
        "boosters/extortion.txt",
        "feature order differs",
    ),
    "feature order in bundle.json and the booster": (
        _swap_features_in_both,
        "boosters/extortion.txt",
        "risks.extortion.booster (and risks.extortion.features)",
    ),
    "calibrator knot": (
        lambda b: _edit_json(b / "bundle.json", _move_a_calibrator_knot),
        "bundle.json",
        "risks.extortion.calibrator",
    ),
    "policy threshold": (
        lambda b: _edit_json(b / "policy.json", _lower_a_policy_threshold),
        "policy.json",
        "policy",
    ),
    "reference quantile": (
        lambda b: _edit_json(b / "bundle.json", _move_a_reference_quantile),
        "bundle.json",
        "risks.fake_engagement.reference",
    ),
    "feature-set version": (
        lambda b: _edit_json(b / "bundle.json", lambda d: d.update(feature_set_version="fs-forged")),
        "bundle.json",
        "feature_set_version",
    ),
}


def test_an_untouched_bundle_loads_with_its_recorded_fingerprint(tiny: tuple[Path, Path, Any]) -> None:
    _, folder, result = tiny
    record = json.loads((folder / "bundle.json").read_text())["fingerprint"]
    assert record["sha256"] == result.bundle.fingerprint() == load_bundle(folder).fingerprint()
    assert set(record["parts"]) == {
        "feature_set_version",
        "policy",
        *(f"risks.{r}.{p}" for r in result.bundle.risks for p in ("booster", "features", "calibrator", "reference")),
    }


@pytest.mark.parametrize("case", list(TAMPERS))
def test_a_tampered_field_is_refused_on_load_naming_file_and_field(
    case: str, tiny: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    tamper, file, field = TAMPERS[case]
    b = _copy(tiny[1], tmp_path / "b")
    tamper(b)
    with pytest.raises(ModelLoadError) as err:
        load_bundle(b)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(b / file)), message
    assert field in message, message


def test_a_tampered_bundle_is_refused_by_score_in_one_line(tiny: tuple[Path, Path, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reviewguard.cli import app

    data = tiny[0]
    b = _copy(tiny[1], tmp_path / "b")
    _edit_json(b / "bundle.json", _move_a_reference_quantile)
    out = tmp_path / "s.parquet"
    r = CliRunner().invoke(app, ["score", "--model", str(b), "--data", str(data), "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert "risks.fake_engagement.reference changed" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_a_missing_or_edited_fingerprint_record_is_refused(tiny: tuple[Path, Path, Any], tmp_path: Path) -> None:
    b = _copy(tiny[1], tmp_path / "gone")
    _edit_json(b / "bundle.json", lambda d: d.pop("fingerprint"))
    with pytest.raises(ModelLoadError, match="fingerprint is missing"):
        load_bundle(b)
    b = _copy(tiny[1], tmp_path / "edited")
    _edit_json(b / "bundle.json", lambda d: d["fingerprint"].update(sha256="0" * 64))
    with pytest.raises(ModelLoadError, match="does not match its own parts"):
        load_bundle(b)


def _forge(src: Bundle, folder: Path) -> Bundle:
    """A changed model saved with a fresh, self-consistent record: only the registry can tell."""
    from dataclasses import replace

    risk = "fake_engagement"
    m = src.risks[risk]
    name = next(n for n, r in sorted(m.reference.items()) if r.quantiles[50] is not None)
    ref = m.reference[name]
    qs = list(ref.quantiles)
    qs[50] = float(qs[50] or 0) * 1.5 + 1.0  # type: ignore[operator]
    forged = replace(
        src, risks={**src.risks, risk: replace(m, reference={**m.reference, name: replace(ref, quantiles=qs)})}
    )
    save_bundle(forged, folder)
    return forged


def test_a_bundle_that_differs_from_the_registry_tag_is_refused(
    tiny: tuple[Path, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reviewguard.model.store import connect_tracking, download_bundle
    from reviewguard.training.config import load_config
    from reviewguard.training.tracking import log_training

    result = tiny[2]
    monkeypatch.chdir(tmp_path)  # the SQLite store keeps artifacts under ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = connect_tracking(uri)
    log_training(result, load_config().raw, experiment="t", register_as="rg", data_path="x", client=client)
    tag = client.get_model_version("rg", "1").tags["model_fingerprint"]
    assert tag == result.bundle.fingerprint()
    assert download_bundle("models:/rg/1", tmp_path / "ok")[0].fingerprint() == tag

    # Replace the stored artifact with a changed model carrying its own consistent record.
    stored = [p.parent for p in (tmp_path / "mlruns").rglob("bundle.json")]
    assert stored
    for s in stored:
        shutil.rmtree(s)
        _forge(result.bundle, s)
        load_bundle(s)  # consistent with itself
    for uri_ in ("models:/rg/1", "models:/rg@champion"):
        with pytest.raises(ModelLoadError, match="differs from the registry's model_fingerprint"):
            download_bundle(uri_, tmp_path / f"dl-{uri_[-1]}")

    # A registry version without the tag is refused too.
    client.delete_model_version_tag("rg", "1", "model_fingerprint")
    with pytest.raises(ModelLoadError, match="no model_fingerprint tag"):
        download_bundle("models:/rg/1", tmp_path / "dl-untagged")
    # Reached through an alias, the message names the alias typed and the version it resolved to.
    with pytest.raises(
        ModelLoadError, match=r"models:/rg@champion \(models:/rg/1\) \(version 1\) has no model_fingerprint"
    ):
        download_bundle("models:/rg@champion", tmp_path / "dl-untagged-alias")


def test_resume_refuses_a_model_whose_fingerprint_changed(tiny: tuple[Path, Path, Any], tmp_path: Path) -> None:
    from reviewguard.features import default_as_of
    from reviewguard.model.predictor import Predictor
    from reviewguard.serving.batch import score_dataset

    data, folder, result = tiny
    ds = open_dataset(connect(), data)
    as_of = default_as_of(ds)
    out = tmp_path / "s.parquet"

    class Killed(Exception):
        pass

    def die(i: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        score_dataset(
            ds, Predictor(load_bundle(folder)), out, as_of=as_of, chunk_size=3000, explain="none", on_chunk=die
        )
    assert (tmp_path / "s.parquet.parts").is_dir() and not out.exists()
    forged = _forge(result.bundle, tmp_path / "forged")  # only the reference distributions differ
    with pytest.raises(ReviewguardError, match="the model changed since") as err:
        score_dataset(
            ds,
            Predictor(load_bundle(tmp_path / "forged")),
            out,
            as_of=as_of,
            chunk_size=3000,
            explain="none",
            resume=True,
        )
    assert forged.fingerprint()[:12] in str(err.value) and result.bundle.fingerprint()[:12] in str(err.value)
    assert not out.exists()
    # The original model resumes.
    score_dataset(ds, Predictor(load_bundle(folder)), out, as_of=as_of, chunk_size=3000, explain="none", resume=True)
    assert out.exists()
