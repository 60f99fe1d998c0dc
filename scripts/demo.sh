#!/usr/bin/env bash
# The main job. Builds .venv when needed, then starts the local W&B-compatible server with demo
# data and prints how to point a client at it (Ctrl-C stops it). Later this runs the demo DAG.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
"$VENV/bin/pip" install -q -e ".[testing]" 2> >(grep -v "^WARNING: Location" >&2)
PORT="${WANDB_PROVIDER_PORT:-8765}"
cat >&2 <<MSG
Starting the local W&B server with demo data (team 'acme', project 'churn').
Point a client at it with:
  export WANDB_BASE_URL=http://127.0.0.1:$PORT
  export WANDB_API_KEY=local-0000000000000000000000000000000000000000
  python -c 'import wandb; print(wandb.Api().artifact("acme/churn/churn-model:production").metadata)'
MSG
exec "$VENV/bin/wandb-provider-server" --port "$PORT" --seed demo "$@"
