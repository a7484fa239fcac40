#!/usr/bin/env bash
# Makes sure uv (pinned) is installed and the locked dev environment is synced.
# Prints nothing but errors; safe to run repeatedly.
set -euo pipefail
UV_VERSION="0.13.9"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v uv >/dev/null 2>&1 || [[ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]]; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is required (3.11). Install it, then run this again." >&2
    exit 3
  fi
  echo ">>> Installing uv $UV_VERSION from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
fi
cd "$ROOT"
uv sync --all-packages --frozen --quiet
