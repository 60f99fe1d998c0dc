#!/usr/bin/env bash
# One CI leg of wandb_provider/compatibility.json (`compat.sh LEG`, e.g. `compat.sh oldest`; `compat.sh`
# lists the legs .ci/run runs, `compat.sh --all` every leg): the provider installed as a user installs it, into a fresh venv from the registries
# with that leg's Airflow and Python (no constraints file and no pins: what pip resolves for
# `pip install airflow-provider-wandb "apache-airflow==X"`), and checked there:
#   1. every module and class provider info names imports (from the wheel);
#   2. `airflow providers list` lists the provider; the connection form, as this Airflow reads it;
#   3. both example DAGs and a deferred ArtifactVersionSensor under `airflow dags test` against the
#      local W&B server (a task that failed fails the leg, whatever the run's state);
#   4. the client and operator tests that need no newer Airflow (-m "not newer_airflow and not sdk"; the
#      wandb SDK is installed as the tests' reference client, not as a dependency).
# Everything goes under .venv-compat/LEG (git-ignored), made anew each time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
DATA=wandb_provider/compatibility.json
leg="${1:-}"
if [ -z "$leg" ] || [ "$leg" = --all ]; then
  python3 -c 'import json, sys; print("\n".join(l["name"] for l in json.load(open(sys.argv[1]))["legs"]
                                               if l["ci"] or sys.argv[2] == "--all"))' "$DATA" "$leg"
  exit 0
fi
read -r airflow python < <(python3 - "$DATA" "$leg" <<'PY'
import json, sys
legs = {leg["name"]: leg for leg in json.load(open(sys.argv[1]))["legs"]}
if sys.argv[2] not in legs:
    sys.exit(f"compat.sh: no leg {sys.argv[2]!r} in {sys.argv[1]} (legs: {', '.join(legs)})")
leg = legs[sys.argv[2]]
print(leg["airflow"], leg["python"])
PY
)
started=$SECONDS
say() { echo "compat[$leg] $* ($((SECONDS - started)) s)"; }

# The leg's Python: on PATH, else one of pyenv's; never downloaded.
find_python() {
  local candidate
  for candidate in "python$1" "$(command -v pyenv > /dev/null && pyenv root)/versions/$1"*/bin/"python$1"; do
    if command -v "$candidate" > /dev/null 2>&1 && "$candidate" -c 'import sys' > /dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "compat.sh: no Python $1 on this machine (PATH or pyenv); the leg needs it" >&2
  return 1
}
interpreter="$(find_python "$python")"

[ -x "$VENV/bin/uv" ] || ensure_venv packaging  # uv builds the wheel and the leg's venv
work="$PWD/.venv-compat/$leg"
rm -rf "$work"
mkdir -p "$work"
"$VENV/bin/uv" build -q --wheel --out-dir "$work/dist" . > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel="$(ls "$work"/dist/*.whl)"
"$VENV/bin/uv" venv -q --python "$interpreter" "$work/venv"
"$VENV/bin/uv" pip install -q --python "$work/venv/bin/python" "airflow-provider-wandb[testing] @ file://$wheel" \
  "apache-airflow==$airflow" pytest pytest-timeout jsonschema "wandb==0.31.0" > "$work/install.log" 2>&1 \
  || { cat "$work/install.log"; exit 1; }
VENV="$work/venv" mark_venv testing  # scripts/demo.sh and friends use it as it is
py="$work/venv/bin/python"
resolved="$("$VENV/bin/uv" pip freeze --python "$py" 2>/dev/null | grep -iE '^(fastapi|cadwyn|starlette|pydantic|cryptography)==' | tr '\n' ' ')"
say "Airflow $airflow on Python $python installed from the registries with the wheel (${resolved% })"

export AIRFLOW_HOME="$work/airflow-home"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags_examples"
export WANDB_PROVIDER_DOWNLOAD_ROOT="$work/downloads" WANDB_PROVIDER_CACHE_DIR="$work/cache"
unset WANDB_API_KEY WANDB_BASE_URL
"$work/venv/bin/airflow" db migrate > "$work/db-migrate.log" 2>&1 || { cat "$work/db-migrate.log"; exit 1; }

# 1. Imports, from outside the work tree (the wheel's modules, not the sources).
(cd "$work" && "$py" - <<'PY'
import importlib, importlib.metadata as md
from wandb_provider.get_provider_info import get_provider_info

info = get_provider_info()
modules = {m for kind in ("hooks", "operators", "sensors", "triggers") for entry in info[kind]
           for m in entry["python-modules"]}
classes = [c["hook-class-name"] for c in info["connection-types"]] + info["extra-links"]
classes += [uri[key] for uri in info["asset-uris"] for key in ("handler", "factory", "to_openlineage_converter")]
for name in sorted(modules):
    importlib.import_module(name)
for path in classes:
    module, _, attr = path.rpartition(".")
    getattr(importlib.import_module(module), attr)
import wandb_provider
assert wandb_provider.__file__.startswith(md.distribution("airflow-provider-wandb").locate_file("").__str__())
for module in ("wandb_provider._openlineage", "wandb_provider.links", "wandb_provider.pins", "wandb_provider.cli"):
    importlib.import_module(module)
print(f"imported {len(modules)} modules and {len(classes)} classes from {wandb_provider.__file__}")
PY
) > "$work/imports.log" 2>&1 || { cat "$work/imports.log"; exit 1; }
say "$(tail -n 1 "$work/imports.log")"

# 2. What Airflow makes of the provider: listed, and its connection form.
"$work/venv/bin/airflow" providers list -o plain > "$work/providers.log" 2>&1 || { cat "$work/providers.log"; exit 1; }
grep -q "airflow-provider-wandb" "$work/providers.log" || { cat "$work/providers.log"; echo "provider not listed"; exit 1; }
"$py" scripts/compat_check.py form > "$work/form.log" 2>&1 || { cat "$work/form.log"; exit 1; }
say "providers list and $(tail -n 1 "$work/form.log")"

# 3. The DAGs, against one local W&B server with the demo data.
"$work/venv/bin/wandb-provider-server" --port 0 --seed demo > "$work/server.out" 2> "$work/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 400); do grep -q '^WANDB_BASE_URL=' "$work/server.out" && break; sleep 0.05; done
base_url="$(sed -n 's/^WANDB_BASE_URL=//p' "$work/server.out")"
[ -n "$base_url" ] || { echo "the local W&B server did not start:"; cat "$work/server.log"; exit 1; }
connection() {  # the wandb_default connection to the local server, with extra $1 (JSON)
  "$py" -c 'import json, sys; print(json.dumps({"conn_type": "wandb", "host": sys.argv[1],
    "password": "local-0000000000000000000000000000000000000000", "extra": json.loads(sys.argv[2])}))' "$base_url" "$1"
}
dags_test() {  # dags_test DAG_ID FOLDER: `airflow dags test`, then every task of the run must have succeeded or skipped
  local log="$work/dags-test-$1.log"
  AIRFLOW__CORE__DAGS_FOLDER="$2" "$work/venv/bin/airflow" dags test "$1" > "$log" 2>&1 \
    || { tail -n 60 "$log"; echo "compat[$leg]: airflow dags test $1 failed; log: $log"; exit 1; }
  "$py" scripts/compat_check.py run-states "$1" >> "$log" 2>&1 \
    || { tail -n 80 "$log"; echo "compat[$leg]: a task of $1 did not succeed; log: $log"; exit 1; }
}
export AIRFLOW_CONN_WANDB_DEFAULT WANDB_PROVIDER_DEMO_SUMMARY="$work/summary.txt" WANDB_PROVIDER_DEMO_WORKDIR="$work/demo"
AIRFLOW_CONN_WANDB_DEFAULT="$(connection '{}')"
dags_test model_promotion "$PWD/dags_examples"
say "dags test model_promotion"
dags_test data_pipeline "$PWD/dags_examples"
say "dags test data_pipeline"
# The sensor's first poke meets one 503 (no client retries on this connection), so it defers; the
# trigger's first poll then finds the version and the task resumes in execute_complete.
AIRFLOW_CONN_WANDB_DEFAULT="$(connection '{"max_retries": 0}')"
"$py" - "$base_url" <<'PY'
import json, sys, urllib.request
rules = {"rules": [{"route": "graphql", "kind": "status", "status": 503, "times": 1}]}
request = urllib.request.Request(sys.argv[1] + "/_admin/faults", data=json.dumps(rules).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(request, timeout=30).read()
PY
dags_test compat_deferred_sensor "$PWD/tests/compat_dags"
grep -qiE "DeferTask|deferred" "$work/dags-test-compat_deferred_sensor.log" \
  || { tail -n 60 "$work/dags-test-compat_deferred_sensor.log"; echo "compat[$leg]: the sensor did not defer"; exit 1; }
say "dags test of the deferred sensor"
kill "$server" 2>/dev/null || true

# 4. The client and operator tests that need no newer Airflow (the wandb SDK is their reference client).
# AIRFLOW_HOME unset: the pytest plugin gives the session a temporary one (it migrates only a database there).
env -u AIRFLOW_HOME "$py" -m pytest -q -p no:cacheprovider -m "not newer_airflow and not sdk" \
  tests/client/test_transport.py tests/client/test_retry.py tests/client/test_download.py \
  tests/client/test_upload.py tests/client/test_paths.py \
  tests/airflow/test_compat.py tests/airflow/test_hook.py tests/airflow/test_connection_extras.py \
  tests/airflow/test_provider_info.py tests/airflow/test_sensor.py tests/airflow/test_errors.py \
  tests/airflow/test_use_artifact.py tests/airflow/test_verbs.py tests/airflow/test_event_trigger.py \
  > "$work/pytest.log" 2>&1 || { tail -n 80 "$work/pytest.log"; echo "compat[$leg]: tests failed"; exit 1; }
say "pytest: $(tail -n 1 "$work/pytest.log")"
say "passed: Airflow $airflow, Python $python"
