#!/usr/bin/env bash
# The test command: builds .venv from scratch when needed, installs the project with its test
# extras, then runs ruff, mypy and pytest. Extra arguments go to pytest. Tests run in parallel
# (pytest-xdist, two workers per core, a file per worker at a time; PYTEST_WORKERS=0 runs them in one process).
#
#   ./scripts/test.sh          # every test but the full stage
#   ./scripts/test.sh --all    # also the full stage: tests that start Airflow or other slow interpreters
#                              # in subprocesses (airflow dags test, the demo, the data pipeline,
#                              # a second materialize worker, child pytest-xdist sessions); CI runs this
set -euo pipefail
cd "$(dirname "$0")/.."
stage=(-m "not full")
args=()
for arg in "$@"; do
  if [ "$arg" = "--all" ]; then stage=(); else args+=("$arg"); fi
done
source scripts/_venv.sh
# The S3 and GCS reference tests run against local emulators (moto, gcp-storage-emulator).
ensure_venv test,test-amazon,test-google
export AIRFLOW__CORE__LOAD_EXAMPLES=False
"$VENV/bin/ruff" check wandb_provider tests bench dags_examples e2e docs/_ext
"$VENV/bin/mypy"
# Two workers per core: many tests wait (a write's read-back pause, a child process, a held request),
# so a second worker per core runs while the first waits (2 cores: 200 s with 2 workers, 153 s with 4).
workers="${PYTEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 1) * 2 ))}"
# --no-loadscope-reorder keeps collection order (tests/conftest.py), which runs the SDK compatibility suite
# first in its worker and hands out the files with slow tests before the others.
# A -m of the caller's, after ours, replaces it.
"$VENV/bin/python" -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder "${stage[@]}" "${args[@]}"
