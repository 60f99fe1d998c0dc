# Sourced by the scripts in this folder: the one way they build the project's virtual environment.
# `ensure_venv EXTRA[,EXTRA...]` makes $VENV (default .venv) when missing and installs the project
# (editable) with those extras, unless they were installed since pyproject.toml last changed: every
# script can ask for what it needs, and CI, asking for everything first, resolves and installs once.
VENV="${VENV:-.venv}"

ensure_venv() {
  local wanted="$1" stamp="$VENV/.airflow-provider-wandb-extras" have="" extra missing=""
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
  fi
  if [ -f "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ]; then
    have="$(cat "$stamp")"
  fi
  for extra in ${wanted//,/ }; do
    [[ ",$have," == *",$extra,"* ]] || missing=1
  done
  [ -z "$missing" ] && return 0
  local all
  all="$(printf '%s\n' ${have//,/ } ${wanted//,/ } | sort -u | paste -sd, -)"
  local pip_log
  pip_log="$(mktemp)"
  # uv resolves and installs Airflow's few hundred packages in a fraction of pip's time.
  if [ -x "$VENV/bin/uv" ] || "$VENV/bin/pip" install -q uv > "$pip_log" 2>&1; then
    "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -e ".[$all]" > "$pip_log" 2>&1 \
      || { cat "$pip_log"; rm -f "$pip_log"; return 1; }
  else
    "$VENV/bin/pip" install -q -e ".[$all]" > "$pip_log" 2>&1 || { cat "$pip_log"; rm -f "$pip_log"; return 1; }
  fi
  rm -f "$pip_log"
  _extras_closure "$all" > "$stamp"
}

# The extras named and those they include (`test` includes `testing` through `airflow-provider-wandb[testing]`).
_extras_closure() {
  python3 - "$1" <<'PY'
import re, sys, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
todo, seen = sys.argv[1].split(","), set()
while todo:
    name = todo.pop()
    if name in seen or name not in extras:
        continue
    seen.add(name)
    for requirement in extras[name]:
        if m := re.match(r"airflow-provider-wandb\[([^\]]+)\]", requirement):
            todo += [e.strip() for e in m.group(1).split(",")]
print(",".join(sorted(seen)))
PY
}

# `mark_venv EXTRA[,EXTRA...]`: $VENV already has the project with these extras (installed another way,
# e.g. from a wheel by scripts/compat.sh), so ensure_venv leaves it as it is.
mark_venv() {
  _extras_closure "$1" > "$VENV/.airflow-provider-wandb-extras"
}
