#!/usr/bin/env bash
# The main job on built-in data: install, then solve generated instances of every routing kind with
# OR-Tools and PyVRP (and the nearest-neighbour floor), every result rescored by the independent scorer,
# and print the comparison table. No servers, no outside data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p runs
rm -f runs/demo.csv
.venv/bin/routelab bench run leaderboards/demo.toml --results runs/demo.csv --instances
.venv/bin/routelab bench report runs/demo.csv -o runs/demo.md > /dev/null
echo "leaderboard: runs/demo.md (per-instance table included)"
