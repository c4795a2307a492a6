#!/usr/bin/env bash
# Quick start, command 2: the whole test suite (doctests included).
source "$(dirname "$0")/scripts/venv.sh"
cd "$ROOT"
exec python -m pytest "$@"
