#!/usr/bin/env bash
# The main job end to end on embedded defaults:
# simulate a platform -> validate -> train (MLflow, local SQLite) -> score with reasons -> case files.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
W=${REVIEWGUARD_DEMO_DIR:-work/demo}
ACCOUNTS=${REVIEWGUARD_DEMO_ACCOUNTS:-50000}
rm -rf "$W" && mkdir -p "$W"
W=$(cd "$W" && pwd)  # absolute, so the SQLite URI is right whether the folder was given relative or absolute
export MLFLOW_TRACKING_URI="sqlite:///$W/mlflow.db"
# train keeps each result in a local folder before logging it (reviewguard log-run)
export REVIEWGUARD_RUNS_DIR="$W/runs"
rg=.venv/bin/reviewguard
echo "== 1/6 simulate $ACCOUNTS accounts"
$rg simulate --out "$W/data" --accounts "$ACCOUNTS" --seed 7
echo "== 2/6 validate"
$rg validate "$W/data"
echo "== 3/6 train (MLflow store: $MLFLOW_TRACKING_URI)"
$rg train --data "$W/data" --experiment reviewguard-demo --register-as reviewguard-demo | tee "$W/train.log"
MODEL=$(tail -n 1 "$W/train.log")
echo "== 4/6 score with $MODEL"
$rg score --model "$MODEL" --data "$W/data" --out "$W/scores.parquet"
echo "== 5/6 case files for the two highest-scored flagged accounts per risk"
$rg case build --scores "$W/scores.parquet" --data "$W/data" --top-flagged 2 --out "$W/cases"
echo "== 6/6 verify that every case reproduces"
for c in "$W"/cases/*/case.json; do $rg case verify "$c" | tail -n 1; done
echo "done: scores in $W/scores.parquet, case pages in $W/cases/*/case.html, MLflow UI: .venv/bin/mlflow ui --backend-store-uri $MLFLOW_TRACKING_URI"
