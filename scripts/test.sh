#!/usr/bin/env bash
# The test command: builds .venv from scratch when needed, installs the project with its test
# extras, then runs ruff, mypy and pytest. Extra arguments go to pytest. Tests run in parallel
# (pytest-xdist, one worker per core, a file per worker at a time; PYTEST_WORKERS=0 runs them in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
pip_log="$(mktemp)"
"$VENV/bin/pip" install -q -e ".[test]" > "$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
rm -f "$pip_log"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
"$VENV/bin/ruff" check wandb_provider tests bench dags_examples
"$VENV/bin/mypy"
workers="${PYTEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}"
# --no-loadscope-reorder keeps collection order, which runs the SDK compatibility suite first in its worker.
"$VENV/bin/python" -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
