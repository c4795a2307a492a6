# Sourced by demo.sh and test.sh: make sure .venv exists and holds bnsym with its test extras.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.bnsym-installed"
if [ ! -x "$VENV/bin/python" ]; then
    echo "bnsym: creating virtual environment in $VENV" >&2
    python3 -m venv "$VENV"
fi
# pyproject.toml gives ranges; constraints/ci.txt the exact versions installed here (and in CI).
CONSTRAINTS="$ROOT/constraints/ci.txt"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ] || [ "$CONSTRAINTS" -nt "$STAMP" ]; then
    echo "bnsym: installing bnsym and its test extras into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" -e "$ROOT[test,docs,plots,lint]"
    touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
