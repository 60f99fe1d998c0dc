#!/usr/bin/env bash
# Builds the documentation (docs/) into docs/_build/html with Sphinx, warnings as errors. Installs the
# project's `docs` extra into $VENV (default .venv, the test venv: only Sphinx is added to it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
if ! "$VENV/bin/python" -c 'import sphinx, wandb_provider, graphql' 2>/dev/null \
    || [ pyproject.toml -nt "$VENV/.airflow-provider-wandb-docs" ]; then
  pip_log="$(mktemp)"
  "$VENV/bin/pip" install -q -e ".[docs]" > "$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
  rm -f "$pip_log"
  touch "$VENV/.airflow-provider-wandb-docs"
fi
# autodoc imports Airflow: give it a throw-away home, never ~/airflow.
AIRFLOW_HOME="$(mktemp -d)"
export AIRFLOW_HOME AIRFLOW__CORE__LOAD_EXAMPLES=False
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
rm -rf docs/_build/html docs/_build/doctrees
"$VENV/bin/python" -m sphinx -W --keep-going -n -q -b html -d docs/_build/doctrees docs docs/_build/html "$@"
echo "docs built: docs/_build/html/index.html"
