"""Checks of scripts/compat.sh (run with a leg's Python: its Airflow, the provider's wheel) and demo.sh.

``compat_check.py form``: the ``wandb`` connection form as this Airflow's UI gets it (3.1 from the
hook's methods through wtforms, 3.2+ from provider info).
``compat_check.py run-states DAG_ID``: every task of the DAG's last run succeeded or was skipped
(``airflow dags test`` exits 0 when a failed task is followed by an ``all_done`` one).
"""

from __future__ import annotations

import sys


def form() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    from wandb_provider.hooks._extras import EXTRAS, HOST_PLACEHOLDER, RELABELING

    (meta,) = [hook for hook in HookMetaService.hook_meta_data() if hook.connection_type == "wandb"]
    assert meta.hook_name == "Weights & Biases", meta
    fields = sorted(meta.extra_fields or {})
    assert fields == sorted(extra.name for extra in EXTRAS), f"extra fields {fields}"
    standard = meta.standard_fields
    assert standard is not None and standard.password is not None and standard.host is not None, meta
    assert standard.password.title == RELABELING["password"] and standard.host.title == RELABELING["host"], standard
    assert standard.host.placeholder == HOST_PLACEHOLDER, standard.host
    assert standard.login is not None and standard.login.hidden, standard.login
    print(f"connection form: {len(fields)} extra fields, host and password relabelled, login/schema/port hidden")


def run_states(dag_id: str) -> None:
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
        assert run is not None, f"no run of {dag_id}"
        states = dict(session.query(TaskInstance.task_id, TaskInstance.state)
                      .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id).all())
    bad = {task: str(state) for task, state in states.items() if str(state) not in ("success", "skipped")}
    print(f"{dag_id} {run.run_id}: {states}")
    if bad:
        sys.exit(f"tasks of {dag_id} that did not succeed: {bad}")


if __name__ == "__main__":
    if sys.argv[1:] == ["form"]:
        form()
    elif len(sys.argv) == 3 and sys.argv[1] == "run-states":
        run_states(sys.argv[2])
    else:
        sys.exit(__doc__)
