#!/usr/bin/env bash
# A real deployment, end to end, on this machine: PostgreSQL (metadata database), Redis (Celery
# broker), Airflow 3 with CeleryExecutor and two Celery workers standing for two machines (each with
# its own host name, queue, download root and cache), the scheduler, the dag-processor, the
# triggerer, the API server and the local W&B server. It runs the example DAGs through the REST API,
# checks what the README promises (e2e/checks.py), and takes screenshots of the UI with headless
# Chromium (e2e/screenshots.py) into e2e-artifacts/. Everything it starts is stopped on exit.
#
# Debian packages postgresql, redis-server and chromium are installed when missing (as root);
# .venv is built as scripts/test.sh builds it, plus the extra `e2e`.
# `e2e.sh --packages-only` installs the Debian packages and stops (CI does it while the tests run).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
source scripts/_venv.sh
ARTIFACTS="${E2E_ARTIFACTS:-$REPO/e2e-artifacts}"
POLL_SECONDS="${E2E_POLL_SECONDS:-10}"
started_at=$(date +%s)
say() { printf '[e2e %3ss] %s\n' "$(( $(date +%s) - started_at ))" "$*" >&2; }

# --- packages ---------------------------------------------------------------------------------
need=()
command -v redis-server > /dev/null || need+=(redis-server)
command -v chromium > /dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  [ "$(id -u)" = 0 ] || { echo "e2e: needs the Debian packages ${need[*]} (run as root to install them)" >&2; exit 1; }
  apt-get update -q > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" > /dev/null
fi
[ "${1:-}" = "--packages-only" ] && exit 0
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

say "checking .venv has the extras test,e2e"
ensure_venv test,e2e
VENV_BIN="$(cd "$VENV" && pwd)/bin"
PY="$VENV_BIN/python"
AIRFLOW="$VENV_BIN/airflow"

# --- temp data, ports, secrets ----------------------------------------------------------------
WORK="$(mktemp -d -t wandb-provider-e2e.XXXXXX)"
chmod 711 "$WORK"   # the postgres user must reach its data folder below
mkdir -p "$WORK/logs" "$WORK/dags" "$WORK/redis" "$WORK/machine-a" "$WORK/machine-b"
mkdir -p "$ARTIFACTS"
# Only what an earlier run saved here goes; anything else in the folder stays.
rm -rf "$ARTIFACTS/logs" "$ARTIFACTS"/connection-form*.png "$ARTIFACTS"/connection-form-failed.txt \
  "$ARTIFACTS"/task-instance-link*.png "$ARTIFACTS"/task-instance-link-failed.txt "$ARTIFACTS/summary.json"

pids=()
pg_started=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if [ "$status" != 0 ]; then
    say "FAILED (exit $status); service logs copied to $ARTIFACTS/logs"
    mkdir -p "$ARTIFACTS/logs"
    cp "$WORK"/logs/*.log "$ARTIFACTS/logs/" 2> /dev/null
    cp -r "$WORK/airflow-home/logs" "$ARTIFACTS/logs/tasks" 2> /dev/null
    for log in "$WORK"/logs/*.log; do
      echo "----- last lines of $(basename "$log")" >&2
      tail -n 15 "$log" >&2
    done
  fi
  # Each service runs in its own process group (setsid): stop the group, children included.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2> /dev/null; done
  for _ in $(seq 1 50); do
    alive=""
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2> /dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2> /dev/null; done
  if [ -n "$pg_started" ]; then as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop > /dev/null 2>&1; fi
  rm -rf "$WORK"
  say "stopped everything it started"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg() {  # PostgreSQL refuses to run as root: run its tools as the postgres user then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

read -r PG_PORT REDIS_PORT API_PORT TRIGGER_LOG_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
secret() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
PG_PASSWORD="$(secret)"
ADMIN_PASSWORD="$(secret)"

start() {  # start NAME CMD...: a service in its own process group, output in $WORK/logs/NAME.log
  local name="$1"; shift
  setsid "$@" > "$WORK/logs/$name.log" 2>&1 < /dev/null &
  pids+=("$!")
  disown "$!"   # stopped by cleanup, not reported by the shell
}
wait_for() {  # wait_for WHAT SECONDS CMD...: until CMD succeeds
  local what="$1" seconds="$2"; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" > /dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "e2e: $what did not come up within ${seconds}s" >&2; return 1; fi
    sleep 0.3
  done
}

# --- PostgreSQL and Redis ---------------------------------------------------------------------
say "starting PostgreSQL ($PG_BIN) on port $PG_PORT and Redis on port $REDIS_PORT"
mkdir -p "$WORK/pg"
printf '%s\n' "$PG_PASSWORD" > "$WORK/pg/pwfile"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK/pg"
as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U airflow --pwfile="$WORK/pg/pwfile" --auth=scram-sha-256 \
  -E UTF8 --no-sync > "$WORK/logs/initdb.log" 2>&1
rm -f "$WORK/pg/pwfile"
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/postgres.log" -w -o \
  "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start > /dev/null
pg_started=1
PGPASSWORD="$PG_PASSWORD" psql -q -h 127.0.0.1 -p "$PG_PORT" -U airflow -d postgres -c 'CREATE DATABASE airflow' > /dev/null
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/redis"

# --- the local W&B server ---------------------------------------------------------------------
start wandb-server "$VENV_BIN/wandb-provider-server" --port 0 --seed demo
wait_for "the local W&B server" 60 grep -q '^WANDB_BASE_URL=' "$WORK/logs/wandb-server.log"
WANDB_URL="$(sed -n 's/^WANDB_BASE_URL=//p' "$WORK/logs/wandb-server.log" | head -n 1)"
WANDB_KEY="local-0000000000000000000000000000000000000000"   # the local server's well-known demo key
say "local W&B server at $WANDB_URL"

# --- Airflow ----------------------------------------------------------------------------------
cp dags_examples/*.py e2e/dags/*.py "$WORK/dags/"
printf '{"admin": "%s"}\n' "$ADMIN_PASSWORD" > "$WORK/passwords.json"
db_url="postgresql+psycopg2://airflow:$PG_PASSWORD@127.0.0.1:$PG_PORT/airflow"
export AIRFLOW_HOME="$WORK/airflow-home"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$WORK/dags"
export AIRFLOW__CORE__EXECUTOR=airflow.providers.celery.executors.celery_executor.CeleryExecutor
export AIRFLOW__CORE__FERNET_KEY="$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
export AIRFLOW__CORE__TEST_CONNECTION=Enabled
export AIRFLOW__CORE__HOSTNAME_CALLABLE=e2e.machine.hostname
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$WORK/passwords.json"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$db_url"
export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql+psycopg2://airflow:$PG_PASSWORD@127.0.0.1:$PG_PORT/airflow"
export AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER=1
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$API_PORT"
export AIRFLOW__API__SECRET_KEY="$(secret)"
export AIRFLOW__API_AUTH__JWT_SECRET="$(secret)"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$TRIGGER_LOG_PORT"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
export AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT=300
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=60   # a busy 2-core machine answers slowly at times
export WANDB_PROVIDER_WATCH_POLL_SECONDS="$POLL_SECONDS"
unset WANDB_API_KEY WANDB_BASE_URL WANDB_ENTITY WANDB_PROJECT AIRFLOW_CONN_WANDB_DEFAULT

say "migrating the Airflow database"
"$AIRFLOW" db migrate > "$WORK/logs/db-migrate.log" 2>&1

say "starting the API server on port $API_PORT, scheduler, dag-processor, triggerer and two Celery workers"
start api-server "$AIRFLOW" api-server --host 127.0.0.1 --port "$API_PORT" --workers 1
start scheduler "$AIRFLOW" scheduler
start dag-processor "$AIRFLOW" dag-processor
start triggerer "$AIRFLOW" triggerer
for machine in machine-a machine-b; do
  start "worker-$machine" env E2E_MACHINE="$machine" \
    WANDB_PROVIDER_CACHE_DIR="$WORK/$machine/cache" AIRFLOW__WANDB__DOWNLOAD_ROOT="$WORK/$machine/downloads" \
    "$AIRFLOW" celery worker --celery-hostname "$machine@%h" --queues "default,$machine" --concurrency 2 \
    --skip-serve-logs --without-gossip --without-mingle
done
for machine in machine-a machine-b; do
  wait_for "the Celery worker of $machine" 180 grep -q "$machine@.* ready" "$WORK/logs/worker-$machine.log"
done

# --- checks and screenshots -------------------------------------------------------------------
"$PY" -m e2e.checks --api "http://127.0.0.1:$API_PORT" --username admin --password-file "$WORK/passwords.json" \
  --wandb-url "$WANDB_URL" --wandb-key "$WANDB_KEY" --work "$WORK" --artifacts "$ARTIFACTS" \
  --poll-seconds "$POLL_SECONDS"
say "passed in $(( $(date +%s) - started_at ))s; saved:"
printf '%s\n' "$ARTIFACTS/connection-form.png" "$ARTIFACTS/task-instance-link.png" "$ARTIFACTS/summary.json"
if [ -n "${E2E_KEEP_RUNNING:-}" ]; then  # look around: the deployment stays up until Ctrl-C
  say "Airflow at http://127.0.0.1:$API_PORT (user admin, password in $WORK/passwords.json); Ctrl-C stops it"
  while :; do sleep 3600; done
fi
