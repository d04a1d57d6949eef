#!/usr/bin/env bash
# Train the shipped RRNCO checkpoints (and the MatNet ATSP baseline) on CPU with a curriculum n = 20 -> 50.
# Usage: bash scripts/train_rrnco.sh [EPOCHS_20] [EPOCHS_50]    (defaults: 40 and 15; about 20 min per problem
# on one core of the project's 2-core machine). Two problems train at once, one torch thread each.
# Exported checkpoints go to routelab/neural/checkpoints/, Lightning runs to runs/train-<model>-<problem>-n<size>/.
set -euo pipefail
cd "$(dirname "$0")/.."
E20=${1:-40}
E50=${2:-15}
RL=.venv/bin/routelab
CK=routelab/neural/checkpoints

stage() {  # model problem size epochs batch [init]
  local model=$1 problem=$2 size=$3 epochs=$4 batch=$5 init=${6:-}
  local args=(train rrnco --model "$model" --problem "$problem" --size "$size" --epochs "$epochs" --steps 25
              --batch-size "$batch" --threads 1 --run-dir "runs/train-$model-$problem-n$size" -o "$CK/$model-$problem.pt")
  if [[ -n "$init" ]]; then args+=(--init "$init"); fi
  echo "+ routelab ${args[*]}"
  "$RL" "${args[@]}"
}

curriculum() {  # model problem
  stage "$1" "$2" 20 "$E20" 64
  stage "$1" "$2" 50 "$E50" 32 "$CK/$1-$2.pt"
}

mkdir -p runs
curriculum rrnco atsp > runs/train-rrnco-atsp.log 2>&1 &
curriculum rrnco acvrp > runs/train-rrnco-acvrp.log 2>&1 &
wait
curriculum rrnco acvrptw > runs/train-rrnco-acvrptw.log 2>&1 &
stage matnet atsp 20 "$E20" 64 > runs/train-matnet-atsp.log 2>&1 &
wait
ls -l "$CK"
