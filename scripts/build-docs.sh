#!/usr/bin/env bash
# Build the documentation site into docs/_build/html with one command, math rendered offline.
#   scripts/build-docs.sh            # warnings are errors (as in CI)
#   scripts/build-docs.sh OUTDIR     # build somewhere else
# Installs what it needs: the docs extra into the project venv, and MathJax 3 from the npm registry into
# docs/.mathjax (git-ignored), copied next to the pages, so no page loads anything from a CDN.
source "$(dirname "$0")/venv.sh"
cd "$ROOT"
OUT="${1:-$ROOT/docs/_build/html}"
MATHJAX_VERSION="3.2.2"
python -c "import sphinx, myst_parser" 2>/dev/null || python -m pip install --quiet -e "$ROOT[docs]"
if [ ! -f "$ROOT/docs/.mathjax/node_modules/mathjax/es5/tex-chtml.js" ]; then
    command -v npm >/dev/null || { echo "build-docs: npm is needed to install MathJax (apt-get install npm)" >&2; exit 1; }
    mkdir -p "$ROOT/docs/.mathjax"
    npm install --silent --no-audit --no-fund --prefix "$ROOT/docs/.mathjax" "mathjax@$MATHJAX_VERSION" >&2
fi
rm -rf "$ROOT/docs/_static/mathjax"
mkdir -p "$ROOT/docs/_static"
cp -r "$ROOT/docs/.mathjax/node_modules/mathjax/es5" "$ROOT/docs/_static/mathjax"
python -m sphinx -W --keep-going -q -b html "$ROOT/docs" "$OUT"
echo "build-docs: wrote $OUT/index.html" >&2
