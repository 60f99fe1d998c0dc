#!/usr/bin/env bash
# Packaging check: builds the wheel and the sdist, checks their metadata and contents, installs the
# wheel alone (no extras, no source tree) in a fresh virtual environment, imports the provider there,
# and checks that `airflow providers list` lists it and that `wandb-artifacts --help` and
# `wandb-provider-server --help` run;
# then adds the `testing` extra and starts the local server once.
# The tools (the `packaging` extra of pyproject.toml: build, twine, uv) live in $TOOLS_VENV; uv makes
# the fresh environment, which needs all of Airflow, in seconds rather than minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_VENV="$(realpath -m "${TOOLS_VENV:-.venv-packaging}")"
started=$SECONDS
step_started=$SECONDS
step() {
  echo "package-check: $1 ($((SECONDS - step_started))s)"
  step_started=$SECONDS
}

if [ ! -x "$TOOLS_VENV/bin/python" ]; then
  python3 -m venv "$TOOLS_VENV"
fi
mapfile -t tools < <(python3 -c 'import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["packaging"]))')
pip_log="$(mktemp)"
"$TOOLS_VENV/bin/pip" install -q "${tools[@]}" > "$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
rm -f "$pip_log"
step "tools ready: ${tools[*]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
PATH="$TOOLS_VENV/bin:$PATH" "$TOOLS_VENV/bin/python" -m build --installer uv --outdir "$work/dist" . \
  > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel="$(echo "$work"/dist/*.whl)"
sdist="$(echo "$work"/dist/*.tar.gz)"
[ -f "$wheel" ] && [ -f "$sdist" ] || { echo "expected one wheel and one sdist in $work/dist"; ls -l "$work/dist"; exit 1; }
step "built $(basename "$wheel") and $(basename "$sdist")"

"$TOOLS_VENV/bin/twine" check --strict "$wheel" "$sdist"
"$TOOLS_VENV/bin/python" - "$wheel" "$sdist" <<'EOF'
"""What must be in the distributions: package data, entry points, runtime requirements."""
import re
import sys
import tarfile
import zipfile

wheel, sdist = sys.argv[1:3]
problems = []
with zipfile.ZipFile(wheel) as archive:
    names = set(archive.namelist())
    for needed in ("wandb_provider/py.typed", "wandb_provider/openlineage-facets.json",
                   "wandb_provider/compatibility.json", "wandb_provider/get_provider_info.py", "wandb_provider/testing/py.typed",
                   "wandb_provider/testing/schema.graphql"):
        if needed not in names:
            problems.append(f"wheel lacks {needed}")
    strays = sorted(n for n in names if n.split("/")[0] in ("tests", "bench", "dags_examples", "docs", "scripts"))
    if strays:
        problems.append(f"wheel holds files outside the package: {strays[:5]}")
    info = next(n.rsplit("/", 1)[0] for n in names if n.endswith(".dist-info/METADATA"))
    entry_points = archive.read(f"{info}/entry_points.txt").decode()
    metadata = archive.read(f"{info}/METADATA").decode()
for section, entry in (("apache_airflow_provider", "provider_info = wandb_provider.get_provider_info:get_provider_info"),
                       ("console_scripts", "wandb-provider-server = wandb_provider.testing.cli:main"),
                       ("console_scripts", "wandb-artifacts = wandb_provider.cli:main")):
    block = re.search(rf"^\[{section}\]\n(.*?)(?:^\[|\Z)", entry_points, re.M | re.S)
    if block is None or entry not in block.group(1):
        problems.append(f"entry point [{section}] {entry} missing")
if re.search(r"^\[pytest11\]", entry_points, re.M):
    problems.append("the wheel registers a pytest11 plugin: the plugin is opt-in (docs/testing.rst)")
requires = re.findall(r"^Requires-Dist: (.*)$", metadata, re.M)
runtime = [r for r in requires if "extra ==" not in r]
if not any(re.match(r"apache-airflow[<>=]", r) and ">=3." in r for r in runtime):
    problems.append(f"apache-airflow>=3.x (the supported range) is not a runtime requirement: {runtime}")
if any(re.match(r"wandb\b", r) for r in runtime):
    problems.append(f"wandb must not be a runtime requirement: {runtime}")
with tarfile.open(sdist) as archive:
    members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
for needed in ("pyproject.toml", "README.md", "wandb_provider/testing/schema.graphql", "wandb_provider/py.typed"):
    if needed not in members:
        problems.append(f"sdist lacks {needed}")
if problems:
    sys.exit("package-check: " + "\n  ".join(["distribution problems:", *problems]))
print(f"package-check: contents and metadata ok ({len(names)} files in the wheel; runtime requires {runtime})")
EOF
step "metadata checked (twine check --strict, contents, entry points, requirements)"

"$TOOLS_VENV/bin/uv" venv -q --python python3 "$work/venv"
"$TOOLS_VENV/bin/uv" pip install -q --python "$work/venv/bin/python" "$wheel" > "$work/install.log" 2>&1 \
  || { cat "$work/install.log"; exit 1; }
step "installed the wheel alone in a fresh virtual environment ($("$TOOLS_VENV/bin/uv" pip list -q \
  --python "$work/venv/bin/python" 2>/dev/null | tail -n +3 | wc -l) packages)"

# Everything below runs outside the source tree, so only the installed wheel can be imported.
cd "$work"
export AIRFLOW_HOME="$work/airflow-home" AIRFLOW__CORE__LOAD_EXAMPLES=False
unset PYTHONPATH
"$work/venv/bin/python" - <<'EOF'
import importlib
import os
import sys

import wandb_provider

assert os.path.realpath(wandb_provider.__file__).startswith(os.path.realpath(sys.prefix)), wandb_provider.__file__
for module in ("wandb_provider.get_provider_info", "wandb_provider.hooks.wandb", "wandb_provider.operators.artifacts",
               "wandb_provider.operators.collections", "wandb_provider.operators.lifecycle",
               "wandb_provider.operators.retention", "wandb_provider.operators.verify",
               "wandb_provider.sensors.artifacts", "wandb_provider.triggers.artifacts",
               "wandb_provider.triggers.events", "wandb_provider.assets", "wandb_provider.client"):
    importlib.import_module(module)
from wandb_provider.get_provider_info import get_provider_info

info = get_provider_info()
for group in ("hooks", "operators", "sensors", "triggers"):
    for entry in info.get(group, []):
        for module in entry["python-modules"]:
            importlib.import_module(module)
print(f"package-check: imported wandb_provider {wandb_provider.__version__} and every module provider info names")
EOF
"$work/venv/bin/airflow" providers list -o json > "$work/providers.json" 2> "$work/providers.log" \
  || { cat "$work/providers.log"; exit 1; }
"$work/venv/bin/python" - "$work/providers.json" <<'EOF'
import json
import sys

listed = {p["package_name"]: p["version"] for p in json.load(open(sys.argv[1]))}
if "airflow-provider-wandb" not in listed:
    sys.exit(f"package-check: airflow providers list does not list airflow-provider-wandb: {sorted(listed)}")
print(f"package-check: airflow providers list: airflow-provider-wandb {listed['airflow-provider-wandb']}")
EOF
"$work/venv/bin/wandb-provider-server" --help > "$work/server-help.txt"
grep -q -- "--seed" "$work/server-help.txt" || { echo "wandb-provider-server --help printed:"; cat "$work/server-help.txt"; exit 1; }
status=0
"$work/venv/bin/wandb-provider-server" --port 0 > /dev/null 2> "$work/server.err" || status=$?
[ "$status" = 2 ] && grep -q "airflow-provider-wandb\[testing\]" "$work/server.err" || {
  echo "without the testing extra, wandb-provider-server should exit 2 naming the extra; it exited $status:"
  cat "$work/server.err"; exit 1; }
"$work/venv/bin/wandb-artifacts" --help > "$work/cli-help.txt"
grep -q "exit codes" "$work/cli-help.txt" || { echo "wandb-artifacts --help printed:"; cat "$work/cli-help.txt"; exit 1; }
step "provider imported and listed by airflow providers list; wandb-artifacts --help runs; wandb-provider-server --help runs, and names the extra it needs"

"$TOOLS_VENV/bin/uv" pip install -q --python "$work/venv/bin/python" "$wheel[testing]" > "$work/install.log" 2>&1 \
  || { cat "$work/install.log"; exit 1; }
"$work/venv/bin/wandb-provider-server" --port 0 --seed demo > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do grep -q '^WANDB_BASE_URL=' "$work/server.out" && break; sleep 0.1; done
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
grep -q '^WANDB_BASE_URL=http://127.0.0.1:' "$work/server.out" || {
  echo "wandb-provider-server (with the testing extra) did not start:"; cat "$work/server.err"; exit 1; }
step "with the testing extra, wandb-provider-server starts and prints $(head -n 1 "$work/server.out")"
echo "package-check: passed in $((SECONDS - started))s"
