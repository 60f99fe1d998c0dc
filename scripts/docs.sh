#!/usr/bin/env bash
# Builds the documentation (docs/) into docs/_build/html with Sphinx, warnings as errors. Installs the
# project's `docs` extra into $VENV (default .venv, the test venv: only Sphinx is added to it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv docs
# autodoc imports Airflow: give it a throw-away home, never ~/airflow.
AIRFLOW_HOME="$(mktemp -d)"
export AIRFLOW_HOME AIRFLOW__CORE__LOAD_EXAMPLES=False
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
rm -rf docs/_build/html docs/_build/doctrees
"$VENV/bin/python" -m sphinx -W --keep-going -n -q -b html -d docs/_build/doctrees docs docs/_build/html "$@"
echo "docs built: docs/_build/html/index.html"
