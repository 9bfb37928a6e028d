#!/usr/bin/env bash
# Packaging guard: build the wheel, install it into a fresh virtual environment
# outside the repository, and run the CLI from there. A subpackage missing from
# the wheel, or a generic top-level name leaking into it, fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m build --wheel --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
wheel=$(ls "$tmp"/dist/reviewguard-*.whl)
echo "built $(basename "$wheel")"
.venv/bin/python - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
assert tops == {"reviewguard"}, f"wheel installs top-level names other than reviewguard: {sorted(tops)}"
for sub in ("cli", "model", "features", "training", "serving", "simulator", "simulator/populations"):
    assert f"reviewguard/{sub}/__init__.py" in names, f"reviewguard.{sub.replace('/', '.')} is missing from the wheel"
for f in ("reviewguard/defaults/train.toml", "reviewguard/serving/templates/case.html", "reviewguard/py.typed"):
    assert f in names, f"{f} is missing from the wheel"
print(f"wheel holds {len(names)} files under reviewguard/ only")
PY
python3 -m venv "$tmp/venv" 2>/dev/null || .venv/bin/python -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements/lock-runtime.txt 2> >(grep -v "is ignored: it is neither" >&2)
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$wheel"
cd "$tmp"
"$tmp/venv/bin/reviewguard" --help >/dev/null
"$tmp/venv/bin/reviewguard" simulate --out "$tmp/sim" --accounts 2000 --days 30 --seed 3
"$tmp/venv/bin/reviewguard" validate "$tmp/sim" >/dev/null
"$tmp/venv/bin/python" -c "import reviewguard.features, reviewguard.model.store, reviewguard.training.pipeline, reviewguard.serving.case"
echo "wheel OK: installed outside the repo, CLI ran simulate and validate"
