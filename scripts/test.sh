#!/usr/bin/env bash
# Install, lint and run the default test suite (tests marked `slow` are left out; run them with -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check routelab tests benchmarks
.venv/bin/python -m pytest -q "$@"
