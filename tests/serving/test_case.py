"""Case files: they reproduce exactly, and user text renders as text in a real browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from reviewguard.engine import connect
from reviewguard.features import default_as_of
from reviewguard.model.bundle import load_bundle
from reviewguard.model.predictor import Predictor
from reviewguard.reader import open_dataset
from reviewguard.serving.case import build_case, verify_case
from reviewguard.serving.case_page import render_case_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ATTACK = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">差评"


@pytest.fixture(scope="module")
def predictor(bundle_dir: Path) -> Predictor:
    return Predictor(load_bundle(bundle_dir), model_uri=str(bundle_dir), model_version="test")


def _pick(populations: pd.DataFrame, predictor: Predictor, ds, population: str, risk: str) -> str:  # type: ignore[no-untyped-def]
    from reviewguard.features import build_features, cutoffs_at

    ids = populations.loc[populations.population == population, "account_id"]
    cut = cutoffs_at(ds, default_as_of(ds))
    feats = build_features(ds, cut.filter(cut.account_id.isin(list(ids)))).to_pandas()
    s = predictor.predict(feats, explain="none")
    s = s[(s.risk == risk) & (s.action != "none")].sort_values("score", ascending=False)
    assert len(s), f"no flagged {population}"
    return str(s.account_id.iloc[0])


def test_cases_for_a_bot_and_a_crew_member_reproduce(train_dataset, predictor: Predictor, populations) -> None:  # type: ignore[no-untyped-def]
    as_of = default_as_of(train_dataset)
    for population, risk in (("automated_liker", "fake_engagement"), ("extortion_crew", "extortion")):
        acc = _pick(populations, predictor, train_dataset, population, risk)
        case = build_case(train_dataset, predictor, acc, as_of, model_uri="m", model_version="1")
        d = case["decisions"][risk]
        assert d["action"] != "none" and d["reasons"]
        assert abs(d["base_value"] + sum(d["contributions"].values()) - d["raw_score"]) < 1e-6
        text = json.dumps(case, default=str)
        # Reloaded from JSON, in a fresh dataset connection, the decision reproduces bit for bit.
        again = json.loads(text)
        result = verify_case(again, open_dataset(connect(), train_dataset.root), predictor)
        assert result["reproduced"], result
        if risk == "fake_engagement":
            assert case["evidence"]["likes_per_hour"]["hours"]
        else:
            kinds = {e["kind"] for t in case["evidence"]["extortion_timeline"]["negative_reviews"] for e in t["events"]}
            assert {"negative_review", "message_from_account"} <= kinds


def test_verify_notices_changed_data(train_dataset, predictor: Predictor, populations, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    acc = _pick(populations, predictor, train_dataset, "extortion_crew", "extortion")
    case = build_case(train_dataset, predictor, acc, default_as_of(train_dataset), model_uri="m", model_version="1")
    changed = tmp_path / "d"
    shutil.copytree(train_dataset.root, changed)
    msgs = pd.read_parquet(changed / "messages.parquet")
    msgs = msgs[msgs.account_id != acc]
    msgs.to_parquet(changed / "messages.parquet", index=False)
    result = verify_case(case, open_dataset(connect(), changed), predictor)
    assert not result["reproduced"] and any("data fingerprint differs" in p for p in result["problems"])


def test_user_text_renders_as_text_in_a_real_browser(
    train_dataset, predictor: Predictor, populations, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert CHROMIUM, "chromium is required: run scripts/browser.sh"
    acc = _pick(populations, predictor, train_dataset, "extortion_crew", "extortion")
    data = tmp_path / "d"
    shutil.copytree(train_dataset.root, data)
    for name, col in (("reviews", "text"), ("messages", "text")):
        t = pd.read_parquet(data / f"{name}.parquet")
        t.loc[t.account_id == acc, col] = ATTACK
        t.to_parquet(data / f"{name}.parquet", index=False)
    ds = open_dataset(connect(), data)
    case = build_case(ds, predictor, acc, default_as_of(ds), model_uri="m<b>x</b>", model_version="1")
    html = tmp_path / "case.html"
    html.write_text(render_case_html(case), encoding="utf-8")
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<title>Case " in dom and "pwned" not in dom.split("</title>")[0]
    assert "<script" not in dom and '<img src="x"' not in dom.replace("'", '"')
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom  # shown to the moderator, as text
    assert "m&lt;b&gt;x&lt;/b&gt;" in dom
    shot = tmp_path / "case.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--window-size=1000,1400",
            f"--screenshot={shot}",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 20_000
