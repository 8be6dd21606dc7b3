#!/usr/bin/env bash
# Install what the tests need into .venv and run them. PyTorch's CPU build goes in first:
# sentence-transformers with an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[test]'
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest "$@"
