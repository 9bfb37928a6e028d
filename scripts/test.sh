#!/usr/bin/env bash
# The test suite, with its own set-up: locked install, packaging guard, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/browser.sh
echo "== packaging"
bash scripts/check-wheel.sh
echo "== ruff"
.venv/bin/ruff check core features training serving tests benchmarks
.venv/bin/ruff format --check core features training serving tests benchmarks
echo "== mypy"
.venv/bin/mypy core features training serving
echo "== pytest"
export SPARK_LOCAL_IP=127.0.0.1
.venv/bin/pytest --nbmake tests notebooks "$@"
