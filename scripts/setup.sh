#!/usr/bin/env bash
# Set up decaylab on a fresh machine: a virtual environment in .venv with pinned packages, and (as root
# on Debian/Ubuntu) the offline Fashion-MNIST package. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0  # first, pinned: see requirements.txt
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -e .
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "note: for offline runs install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist)"
  fi
fi
