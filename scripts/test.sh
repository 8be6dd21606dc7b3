#!/usr/bin/env bash
# Install what the tests need into .venv and run them. PyTorch's CPU build goes in first:
# sentence-transformers with an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser test drives Debian's Chromium (no browser download); a CJK font makes its screenshot legible.
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; } \
      || echo "note: could not install chromium: the browser test will be skipped" >&2
  else
    echo "note: chromium not installed and not root: the browser test will be skipped" >&2
  fi
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
# PyTorch's CPU wheel index as an extra index where it can be reached: on plain PyPI, torch==2.13.0 is the
# CUDA build with its nvidia-* packages, and the index's 2.13.0+cpu wins over it. Where that index is
# unreachable (a closed network with its own wheel mirror), pip goes on without it.
torch_index=()
if .venv/bin/python -c 'import urllib.request as u; u.urlopen("https://download.pytorch.org/whl/cpu/torch/", timeout=5)' 2>/dev/null; then
  torch_index=(--extra-index-url https://download.pytorch.org/whl/cpu)
fi
.venv/bin/pip install -q "${torch_index[@]}" torch==2.13.0
.venv/bin/pip install -q -e '.[test]'
# Lint, format, types and the documentation site first: they take seconds.
.venv/bin/ruff check rag scripts tests
.venv/bin/ruff format --check rag scripts tests
.venv/bin/mypy
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest "$@"
