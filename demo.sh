#!/usr/bin/env bash
# Quick start, command 1: the end-to-end demo on built-in defaults.
source "$(dirname "$0")/scripts/venv.sh"
cd "$ROOT"
exec bnsym explain -o "${BNSYM_REPORT_DIR:-bnsym-report}" "$@"
