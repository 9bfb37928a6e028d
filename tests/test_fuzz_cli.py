"""Every command, fed broken files: one clear line naming the file, exit 1 or 2, never a traceback or an abort.

The real command line runs (Typer's CliRunner in-process; a subprocess where
LightGBM could abort the process). The inputs are a simulated platform with
corrupted Parquet pages, truncated and garbage files; model bundles with
broken JSON, missing keys, cut, garbage, missing or swapped boosters; broken
scores, cutoffs, case and Yelp files. The check: exit code 1 or 2, no
"Traceback", no "unexpected" (the last-resort handler for bugs), and exactly
one ``error:`` line that names the broken file.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests_support import invoke_cli as run_cli


def assert_clean_failure(code: int, output: str, names: str) -> None:
    assert code in (1, 2), (code, output)
    assert "Traceback" not in output, output
    assert "unexpected" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert names in errors[0], (names, output)


# ------------------------------------------------------------------ fixtures


def corrupt_pages(path: Path) -> None:
    """Flip bytes in the data pages, footer intact (the file still opens)."""
    data = bytearray(path.read_bytes())
    for i in range(64, len(data) - 4096, 5):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


DATA_BREAKS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "corrupt pages": ("likes.parquet", corrupt_pages),
    "truncated": ("orders.parquet", truncate),
    "garbage": ("reviews.parquet", garbage),
    "empty accounts": ("accounts.parquet", lambda p: p.write_bytes(b"")),
}


@pytest.fixture(scope="module", params=list(DATA_BREAKS))
def broken_data(request: pytest.FixtureRequest, small_platform: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    name, breaker = DATA_BREAKS[request.param]
    d = tmp_path_factory.mktemp("broken") / "data"
    shutil.copytree(small_platform, d)
    breaker(d / name)
    return d, name


# ------------------------------------------------------------------ broken data, every command


def test_validate(broken_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, name = broken_data
    code, output = run_cli(["validate", str(d)])
    assert_clean_failure(code, output, name)
    assert code == 2


def test_features_build(broken_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, name = broken_data
    out = tmp_path / "f.parquet"
    assert_clean_failure(*run_cli(["features", "build", "--data", str(d), "--out", str(out)]), name)
    assert not out.exists()


def test_score(broken_data, bundle_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, name = broken_data
    out = tmp_path / "s.parquet"
    assert_clean_failure(*run_cli(["score", "--model", str(bundle_dir), "--data", str(d), "--out", str(out)]), name)
    assert not out.exists() and not list(tmp_path.glob("*.parts"))


def test_train(broken_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, name = broken_data
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    assert_clean_failure(*run_cli(["train", "--data", str(d), "--register-as", "x"], env=env), name)


def test_case_build_and_verify(broken_data, small_scores: Path, small_case: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, name = broken_data
    out = tmp_path / "cases"
    args = ["case", "build", "--scores", str(small_scores), "--data", str(d), "--out", str(out), "--top-flagged", "1"]
    assert_clean_failure(*run_cli(args), name)
    assert not out.exists() or not list(out.rglob("case.*"))
    assert_clean_failure(*run_cli(["case", "verify", str(small_case), "--data", str(d)]), name)


def test_promote(broken_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, name = broken_data
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    assert_clean_failure(*run_cli(["promote", "x", "--data", str(d)], env=env), name)
    assert not (tmp_path / "mlflow.db").exists()  # the data is read before the store is opened


# ------------------------------------------------------------------ broken bundles


def _json(path: Path, edit: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))


def _swap_boosters(b: Path) -> None:
    e, f = b / "boosters" / "extortion.txt", b / "boosters" / "fake_engagement.txt"
    te, tf = e.read_text(), f.read_text()
    e.write_text(tf)
    f.write_text(te)


def _edit_tree_size(b: Path) -> None:
    p = b / "boosters" / "extortion.txt"
    lines = p.read_text().split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith("tree_sizes="))
    sizes = lines[i].removeprefix("tree_sizes=").split()
    sizes[0] = str(int(sizes[0]) + 40)
    lines[i] = "tree_sizes=" + " ".join(sizes)
    p.write_text("\n".join(lines))


BUNDLE_BREAKS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "bundle.json invalid": ("bundle.json", lambda b: (b / "bundle.json").write_text('{"format": ')),
    "bundle.json without risks": ("bundle.json", lambda b: _json(b / "bundle.json", lambda d: d.pop("risks"))),
    "bundle.json a list": ("bundle.json", lambda b: (b / "bundle.json").write_text("[1, 2]")),
    "calibrator missing": (
        "bundle.json",
        lambda b: _json(b / "bundle.json", lambda d: d["risks"]["extortion"].pop("calibrator")),
    ),
    "features not a list": (
        "bundle.json",
        lambda b: _json(b / "bundle.json", lambda d: d["risks"]["extortion"].update(features="abc")),
    ),
    "policy.json invalid": ("policy.json", lambda b: (b / "policy.json").write_text("{nope")),
    "policy.json empty object": ("policy.json", lambda b: (b / "policy.json").write_text("{}")),
    "policy.json missing": ("policy.json", lambda b: (b / "policy.json").unlink()),
    "booster truncated": ("extortion.txt", lambda b: truncate(b / "boosters" / "extortion.txt")),
    "booster cut inside a tree": (
        "extortion.txt",
        lambda b: (b / "boosters" / "extortion.txt").write_text((b / "boosters" / "extortion.txt").read_text()[:3000]),
    ),
    "booster garbage": ("extortion.txt", lambda b: garbage(b / "boosters" / "extortion.txt")),
    "booster missing": ("extortion.txt", lambda b: (b / "boosters" / "extortion.txt").unlink()),
    "boosters swapped": ("extortion.txt", _swap_boosters),
    "tree size edited": ("extortion.txt", _edit_tree_size),
}


@pytest.fixture(scope="module")
def broken_bundles(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("bundles")
    made = {}
    for i, (case, (name, breaker)) in enumerate(BUNDLE_BREAKS.items()):
        b = root / f"b{i}"
        shutil.copytree(bundle_dir, b)
        breaker(b)
        made[case] = (b, name)
    return made


def test_score_with_broken_bundles_in_a_real_process(
    broken_bundles: dict[str, tuple[Path, str]], small_platform: Path, tmp_path: Path
) -> None:
    """A subprocess each: a LightGBM abort (exit 134) would show here and not kill the test run."""
    for case, (b, name) in broken_bundles.items():
        out = tmp_path / f"{b.name}.parquet"
        cli = str(Path(sys.executable).parent / "reviewguard")
        p = subprocess.run(
            [cli, "score", "--model", str(b), "--data", str(small_platform), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "80"},
        )
        assert_clean_failure(p.returncode, p.stdout + p.stderr, name)
        assert not out.exists(), case


def test_case_build_and_verify_with_broken_bundles(
    broken_bundles: dict[str, tuple[Path, str]],
    small_scores: Path,
    small_case: Path,
    small_platform: Path,
    tmp_path: Path,
) -> None:
    for case, (b, name) in broken_bundles.items():
        scores = tmp_path / f"{b.name}.parquet"
        frame = pq.read_table(small_scores).to_pandas()
        frame["model_uri"] = str(b)
        frame.to_parquet(scores)
        out = tmp_path / f"cases-{b.name}"
        args = ["case", "build", "--scores", str(scores), "--data", str(small_platform), "--out", str(out)]
        assert_clean_failure(*run_cli([*args, "--top-flagged", "1"]), name)
        assert not out.exists(), case
        record = json.loads(small_case.read_text())
        record["model"]["uri"] = str(b)
        forged = tmp_path / f"{b.name}.json"
        forged.write_text(json.dumps(record))
        assert_clean_failure(*run_cli(["case", "verify", str(forged)]), name)


def test_resume_with_a_cut_manifest(bundle_dir: Path, small_platform: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    parts = tmp_path / "s.parquet.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text('{"run_key": "ab')  # a run killed while its manifest was written
    args = ["score", "--model", str(bundle_dir), "--data", str(small_platform), "--out", str(out), "--resume"]
    assert_clean_failure(*run_cli(args), "s.parquet.parts cannot be read")
    assert not out.exists()


# ------------------------------------------------------------------ broken scores, cutoffs, case and Yelp files


def test_broken_scores_file(small_scores: Path, small_platform: Path, tmp_path: Path) -> None:
    for label, breaker in (("truncated", truncate), ("garbage", garbage), ("corrupt", corrupt_pages)):
        s = tmp_path / f"{label}-scores.parquet"
        shutil.copy(small_scores, s)
        breaker(s)
        args = ["case", "build", "--scores", str(s), "--data", str(small_platform), "--out", str(tmp_path / "c")]
        code, output = run_cli([*args, "--top-flagged", "1"])
        assert_clean_failure(code, output, s.name)
    s = tmp_path / "other.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(s)
    args = ["case", "build", "--scores", str(s), "--data", str(small_platform), "--out", str(tmp_path / "c")]
    assert_clean_failure(*run_cli([*args, "--top-flagged", "1"]), "other.parquet: missing column(s)")


def test_broken_cutoffs_file(small_platform: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.parquet"
    accounts = pd.read_parquet(small_platform / "accounts.parquet", columns=["account_id"])
    accounts.assign(as_of=pd.Timestamp("2026-03-01", tz="UTC")).to_parquet(cut)
    truncate(cut)
    out = tmp_path / "f.parquet"
    args = ["features", "build", "--data", str(small_platform), "--out", str(out), "--cutoffs", str(cut)]
    assert_clean_failure(*run_cli(args), "cut.parquet")
    assert not out.exists()


CASE_BREAKS: dict[str, Callable[[dict], object]] = {  # type: ignore[type-arg]
    "without model": lambda c: c.pop("model"),
    "without case_id": lambda c: c.pop("case_id"),
    "model without uri": lambda c: c["model"].pop("uri"),
    "decisions a list": lambda c: c.update(decisions=[]),
    "score a string": lambda c: next(iter(c["decisions"].values())).update(score="0.9"),
    "as_of not a time": lambda c: c.update(as_of="yesterday"),
    # pandas reads these as NaT without raising
    "as_of empty": lambda c: c.update(as_of=""),
    "as_of nan": lambda c: c.update(as_of="nan"),
    "as_of NaT": lambda c: c.update(as_of="NaT"),
}


def test_broken_case_files(small_case: Path, tmp_path: Path) -> None:
    bad = tmp_path / "invalid.json"
    bad.write_text(small_case.read_text()[:200])
    assert_clean_failure(*run_cli(["case", "verify", str(bad)]), "invalid.json is not valid JSON")
    (tmp_path / "binary.json").write_bytes(os.urandom(100))
    assert_clean_failure(*run_cli(["case", "verify", str(tmp_path / "binary.json")]), "binary.json")
    assert_clean_failure(*run_cli(["case", "verify", str(tmp_path / "absent.json")]), "absent.json")
    for label, edit in CASE_BREAKS.items():
        record = json.loads(small_case.read_text())
        edit(record)
        p = tmp_path / f"{label.replace(' ', '_')}.json"
        p.write_text(json.dumps(record))
        assert_clean_failure(*run_cli(["case", "verify", str(p)]), p.name)


def test_truncated_and_garbage_yelp_files(tmp_path: Path) -> None:
    lines = "".join(
        f"{i % 50} {i % 7} {1 + i % 5}.0 {1 if i % 3 else -1} 2011-0{1 + i % 9}-1{i % 10}\n" for i in range(20_000)
    )
    whole = tmp_path / "y.gz"
    with gzip.open(whole, "wt") as fh:
        fh.write(lines)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    bad = tmp_path / "garbage.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(2000))
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("1 2 3.0 1 2011-01-01\n1 2 3.0 1 2011-01-01 extra\n")
    for f in (cut, bad, ragged):
        assert_clean_failure(*run_cli(["datasets", "yelp", "--input", str(f), "--out", str(tmp_path / "o")]), f.name)
    # A collection date with labels dated by each account's last review would be ignored: refused.
    args = ["datasets", "yelp", "--input", str(whole), "--out", str(tmp_path / "o2"), "--decided-at", "last_review"]
    code, output = run_cli([*args, "--collected-on", "2013-01-01"])
    assert_clean_failure(code, output, "--collected-on dates labels decided at the end of the data")
    assert code == 2  # a usage error, like Click's own
    assert not (tmp_path / "o2").exists()


def test_broken_config_and_a_file_for_a_folder(small_platform: Path, tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    for name, content in (("syntax.toml", b"[[["), ("binary.toml", b"\xff\xfe\x00garbage")):
        (tmp_path / name).write_bytes(content)
        args = ["train", "--data", str(small_platform), "--config", str(tmp_path / name)]
        assert_clean_failure(*run_cli(args, env=env), name)
    code, output = run_cli(["validate", str(small_platform / "accounts.parquet")])
    assert_clean_failure(code, output, "accounts.parquet is a file, not a dataset folder")


@pytest.mark.parametrize("value", ["20130101", "2013-W01-1", "2013-001", "2013-1-1", "2013-02-30", "２０１３-01-01"])
def test_yelp_collected_on_is_an_iso_calendar_date_or_refused_naming_the_option(value: str, tmp_path: Path) -> None:
    """Found by a hostile user: 20130101 and the week date 2013-W01-1 were read as dates."""
    (tmp_path / "y.txt").write_text("1 2 3.0 1 2011-01-01\n")
    args = ["datasets", "yelp", "--input", str(tmp_path / "y.txt"), "--out", str(tmp_path / "o")]
    code, output = run_cli([*args, "--collected-on", value])
    assert_clean_failure(code, output, f"--collected-on {value!r} is not an ISO calendar date YYYY-MM-DD")
    assert not (tmp_path / "o").exists()
    code, output = run_cli([*args, "--collected-on", "2013-01-01"])
    assert code == 0, output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("9 1 3.0 1 9999-12-31", "line 2, column date: '9999-12-31' must not be after today"),
        ("9 1 4.5 1 2011-01-01", "line 2, column rating: '4.5' must be a whole number of stars from 1 to 5"),
        ("9 1 4.0 2011-01-01", "line 2: expected 5 fields (user_id product_id rating label date), found 4"),
        ("9 1 4.0 1 2011-01-01 x", "line 2: expected 5 fields (user_id product_id rating label date), found 6"),
    ],
    ids=["far-date", "fractional-rating", "short-line", "long-line"],
)
def test_a_yelp_line_breaking_a_rule_is_refused_naming_file_line_and_rule(
    line: str, message: str, tmp_path: Path
) -> None:
    """Found by a hostile user: a far date wrapped the labels' time to 1972, 4.5 stars became 4,
    and a short line was blamed on the wrong column, with no line number."""
    f = tmp_path / "y.txt"
    f.write_text(f"1 2 3.0 1 2011-01-01\n{line}\n")
    code, output = run_cli(["datasets", "yelp", "--input", str(f), "--out", str(tmp_path / "o")])
    assert_clean_failure(code, output, f"y.txt: {message}")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ("[evaluation]\nsource_weights = 5\n", "evaluation.source_weights must be a table"),
        ("[policy]\nmax_single_feature_share = true\n", "policy.max_single_feature_share must be a finite number"),
    ],
    ids=["source_weights-5", "share-true"],
)
def test_a_config_value_of_the_wrong_type_is_one_line_naming_the_key(
    toml: str, names: str, small_platform: Path, tmp_path: Path
) -> None:
    """Found by a hostile user: `source_weights = 5` gave "unexpected AttributeError"."""
    (tmp_path / "c.toml").write_text(toml)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    code, output = run_cli(["train", "--data", str(small_platform), "--config", str(tmp_path / "c.toml")], env=env)
    assert_clean_failure(code, output, names)
