#!/usr/bin/env bash
# Create .venv at the repo root and install RouteLab into it (editable, with the test tools).
# torch goes first, pinned, so that pip takes the CPU build that lies on disk instead of resolving a
# multi-GB CUDA build as a dependency of the package.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
