"""Approval through Airflow's own human-in-the-loop operators (Airflow 3.1+): ``promote_with_approval``
in ``dag.test()``, answered the way Airflow's REST API answers it (its ``update_hitl_detail`` route,
called in process on the same metadata DB), and observed through the official wandb SDK."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import sdk
from wandb_provider._compat import feature_available

pytestmark = [pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"]),
              pytest.mark.skipif(not feature_available("hitl"), reason="human-in-the-loop operators need Airflow 3.1+")]
MODEL = "acme/churn/churn-model"
TASK = "promotion.approve"
PATIENCE = 300.0  # an upper bound for a loaded machine; the test waits for a state, not a time


class Approver:
    """Stands in for the user the API authenticated (what the auth manager hands the route)."""

    def get_id(self) -> str:
        return "7"

    def get_name(self) -> str:
        return "ada"


def _answer_when_asked(dag_id: str, option: str, seen: dict[str, Any]) -> None:
    """Wait until the approval task is parked for input, read what it shows, then answer it."""
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = session.scalars(select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.task_id == TASK,
                TaskInstance.state == TaskInstanceState.AWAITING_INPUT)).first()
            if ti is not None:
                detail = session.scalars(select(HITLDetail).where(HITLDetail.ti_id == ti.id)).one()
                seen.update(subject=detail.subject, body=detail.body, run_id=ti.run_id)
                break
        time.sleep(0.2)
    else:
        seen["error"] = "the approval task never asked"
        return
    with create_session() as session:
        update_hitl_detail(dag_id=dag_id, dag_run_id=seen["run_id"], task_id=TASK, session=session,
                           update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[option]),
                           user=Approver())


def _run_and_answer(run_dag: Any, option: str) -> tuple[Any, dict[str, Any]]:
    seen: dict[str, Any] = {}
    answer = threading.Thread(target=_answer_when_asked, args=("promote_approval", option, seen), daemon=True)
    answer.start()
    run = run_dag("promote_approval")
    answer.join(timeout=PATIENCE)
    assert "error" not in seen, seen
    return run, seen


def test_approval_granted_promotes_and_names_the_approver(wandb_env, run_dag, out: Path) -> None:
    run, seen = _run_and_answer(run_dag, "Approve")
    assert "churn-model:candidate" in seen["subject"]
    assert "accuracy" in seen["body"] and "production v1" in seen["body"]  # the approver sees the report
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["promotion.promote"] == "success", states
    report = json.loads(out.read_text())["promotion.promote"]
    assert report["decision"] == "promoted"
    promoted = sdk(wandb_env).artifact(f"{MODEL}:production")
    assert promoted.version == "v2"
    assert promoted.metadata["promotion"]["by"]["approver"] == {"id": "7", "name": "ada"}


def test_approval_rejected_moves_nothing(wandb_env, run_dag, out: Path) -> None:
    run, _ = _run_and_answer(run_dag, "Reject")
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["promotion.promote"] == "skipped", states
    assert json.loads(out.read_text())["promotion.promote"] is None
    api = sdk(wandb_env)
    assert api.artifact(f"{MODEL}:production").version == "v1"
    assert "promotion" not in api.artifact(f"{MODEL}:v2").metadata
