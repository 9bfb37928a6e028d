"""Case output paths: an account id from the data never chooses where files land."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewguard.serving.paths import UnsafePathError, case_folder, case_folder_name, inside, slug

HOSTILE = [
    "../../escape_x",
    "..",
    ".",
    "/etc/passwd",
    "/tmp/abs",
    "C:\\Windows\\system32",
    "a/../../b",
    "nul\x00byte",
    "x" * 5000,
    "差评账号😡",
    "ａｂｃ",  # full-width letters
    "",
    " ",
    ".hidden",
    "a\nb",
    "con",
]


@pytest.mark.parametrize("account_id", HOSTILE, ids=lambda s: repr(s)[:30])
def test_a_hostile_id_lands_inside_out(account_id: str, tmp_path: Path) -> None:
    out = tmp_path / "cases"
    folder = case_folder(out, account_id)
    assert folder.parent == out.resolve()
    name = folder.name
    assert len(name) <= 48 + 1 + 10
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name), name
    assert not name.startswith(".")
    # it can really be created there, and nowhere else
    folder.mkdir(parents=True)
    (folder / "case.json").write_text("{}")
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("case.json")] == [Path("cases") / name / "case.json"]


def test_same_id_same_folder_and_ids_that_slug_alike_differ(tmp_path: Path) -> None:
    assert case_folder_name("a00000031") == case_folder_name("a00000031")
    assert case_folder_name("a00000031").startswith("a00000031-")
    assert slug("a/b") == slug("a\\b") == slug("a b") == "a_b"
    names = {case_folder_name(i) for i in ("a/b", "a\\b", "a b", "a_b", "差评a_b")}
    assert len(names) == 5


def test_a_name_that_resolves_outside_is_refused(tmp_path: Path) -> None:
    for name in ("../x", "/abs/x", "a/../../x", ".", "nul\x00"):
        with pytest.raises(UnsafePathError, match="refusing"):
            inside(tmp_path / "out", name)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    name = case_folder_name("a1")
    (out / name).symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="outside"):
        case_folder(out, "a1")
