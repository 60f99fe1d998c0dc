"""PromoteArtifactOperator and RollbackArtifactOperator in real DAG runs (dag.test()), observed through
the official wandb SDK: relative gates both ways, run-summary gates, first promotion, audit record,
rollback, and retention keeping the previous holder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import sdk

pytestmark = pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])
MODEL = "acme/churn/churn-model"


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_relative_and_run_gate_promotes_records_audit_and_is_idempotent(wandb_env, run_dag, out: Path) -> None:
    assert run_dag("promote_step").state == "success"
    report = json.loads(out.read_text())["promote"]
    assert report["decision"] == "promoted" and report["changed"] is True
    assert report["candidate"]["version"] == "v2" and report["holder"]["version"] == "v1"
    terms = {(t["key"], t["op"]): t for t in report["gate"]["terms"]}
    accuracy = terms[("accuracy", ">=")]
    assert accuracy["candidate"] == 0.9 and accuracy["holder"]["value"] == 0.8 and accuracy["passed"]
    assert accuracy["threshold"] == pytest.approx(0.85)
    loss = terms[("run.summary.val_loss", "<=")]
    assert loss["candidate"] == 0.3 and loss["holder"]["value"] == 0.4 and loss["passed"]
    assert terms[("run.config.lr", "<")]["candidate"] == 0.03

    api = sdk(wandb_env)
    promoted = api.artifact(f"{MODEL}:production")
    assert promoted.version == "v2"
    assert "previous-production" in api.artifact(f"{MODEL}:v1").aliases
    audit = promoted.metadata["promotion"]
    assert audit["action"] == "promote" and audit["alias"] == "production"
    assert audit["by"]["dag_id"] == "promote_step" and audit["by"]["task_id"] == "promote"
    assert audit["by"]["run_id"] and audit["by"]["try_number"] == 1 and audit["at"]
    assert audit["previous"]["version"] == "v1" and audit["previous_alias"] == "previous-production"
    assert promoted.metadata["accuracy"] == 0.9  # one merge write: the rest of the metadata is kept

    assert run_dag("promote_step").state == "success"  # a re-run: same end state, says so
    again = json.loads(out.read_text())["promote"]
    assert again["decision"] == "already_promoted" and again["changed"] is False
    assert sdk(wandb_env).artifact(f"{MODEL}:production").version == "v2"


def test_relative_gate_refuses_a_candidate_not_enough_better(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("promote_step", run_conf={"margin": "+0.2"})
    assert _states(run)["promote"] == "failed"
    report = json.loads(out.read_text())["promote.report"]
    assert report["decision"] == "refused"
    failed = [t for t in report["gate"]["terms"] if not t["passed"]]
    assert [t["key"] for t in failed] == ["accuracy"]
    assert "production v1 has 0.8" in failed[0]["note"]
    assert sdk(wandb_env).artifact(f"{MODEL}:production").version == "v1"


def test_first_promotion_applies_only_absolute_terms_unless_told_otherwise(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("promote_staging_first")
    assert _states(run) == {"first": "success", "strict": "skipped", "record": "success"}
    result = json.loads(out.read_text())
    first = result["first"]
    assert first["decision"] == "promoted" and first["holder"] is None and first["previous_alias"] is None
    assert any("relative terms ['accuracy'] were not applied" in note for note in first["notes"])
    assert [t["applied"] for t in first["gate"]["terms"]] == [False, True]
    strict = result["strict.report"]
    assert strict["decision"] == "refused" and "if_no_holder='fail'" in strict["gate"]["terms"][0]["note"]
    api = sdk(wandb_env)
    assert api.artifact(f"{MODEL}:staging").version == "v2"
    assert api.artifact(f"{MODEL}:staging").metadata["promotion"]["previous"] is None


def test_run_term_on_a_version_without_a_run_is_a_clear_error(wandb_env, run_dag) -> None:
    run = run_dag("promote_no_run")
    assert _states(run)["promote"] == "failed"
    assert sdk(wandb_env).artifact("acme/churn/churn-dataset:training").aliases.count("production") == 0


def test_rollback_restores_the_previous_holder_and_retention_keeps_it(wandb_env, run_dag, out: Path) -> None:
    assert run_dag("promote_step").state == "success"
    assert run_dag("retention_after_promotion").state == "success"
    kept = json.loads(out.read_text())["retention"]
    assert "v1" in kept["kept"] and "v1" not in kept.get("deleted", [])
    api = sdk(wandb_env)
    assert sorted(a.version for a in api.artifacts("model", MODEL)) == ["v1", "v2"]

    assert run_dag("rollback_step").state == "success"
    result = json.loads(out.read_text())["rollback"]
    assert result["decision"] == "rolled_back" and result["restored"]["version"] == "v1"
    api = sdk(wandb_env)
    restored = api.artifact(f"{MODEL}:production")
    assert restored.version == "v1"
    assert "previous-production" in api.artifact(f"{MODEL}:v2").aliases
    assert restored.metadata["promotion"]["action"] == "rollback"
    assert restored.metadata["promotion"]["previous"]["version"] == "v2"

    assert run_dag("rollback_step").state == "success"  # a second rollback (another DAG run) undoes the first
    assert sdk(wandb_env).artifact(f"{MODEL}:production").version == "v2"
    assert run_dag("rollback_step").state == "success"
    assert sdk(wandb_env).artifact(f"{MODEL}:production").version == "v1"

    run = run_dag("promote_step")  # the next nightly run: the version rolled back from is not promoted again
    assert _states(run)["promote"] == "failed"
    report = json.loads(out.read_text())["promote.report"]
    assert any("was rolled back from acme/churn/churn-model:v2" in note for note in report["notes"])
    assert sdk(wandb_env).artifact(f"{MODEL}:production").version == "v1"


def test_run_summary_gate_on_an_sdk_logged_model(wandb_env, run_dag, out: Path, tmp_path: Path) -> None:
    import wandb

    weights = tmp_path / "model.json"
    weights.write_text('{"weights": [1, 2]}')
    for loss, alias in ((0.2, "candidate"),):
        run = wandb.init(entity="acme", project="churn", config={"lr": 0.003}, mode="online", dir=str(tmp_path),
                         settings=wandb.Settings(api_key=wandb_env.api_key, base_url=wandb_env.base_url,
                                                 silent=True, x_disable_stats=True, console="off"))
        run.summary["val_loss"] = loss
        artifact = wandb.Artifact("sdk-model", type="model")
        artifact.add_file(str(weights))
        run.log_artifact(artifact, aliases=[alias])
        run.finish()
    assert run_dag("promote_sdk_run").state == "success"
    report = json.loads(out.read_text())["promote"]
    terms = {t["key"]: t for t in report["gate"]["terms"]}
    assert terms["run.summary.val_loss"]["candidate"] == 0.2 and terms["run.config.lr"]["candidate"] == 0.003
    assert sdk(wandb_env).artifact("acme/churn/sdk-model:production").metadata["promotion"]["action"] == "promote"


def test_approval_on_an_airflow_without_hitl_fails_at_parse_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider import _compat
    from wandb_provider._compat import AirflowFailException
    from wandb_provider.operators.promote import PromoteArtifactOperator, promote_with_approval

    monkeypatch.setattr(_compat, "airflow_version", lambda: (3, 0))
    with pytest.raises(AirflowFailException, match="Airflow 3.1"):
        PromoteArtifactOperator(task_id="p", artifact=f"{MODEL}:candidate", approval=True)
    with pytest.raises(Exception, match="Airflow 3.1"):
        promote_with_approval("g", artifact=f"{MODEL}:candidate")


def test_gate_terms_are_checked_when_the_dag_is_parsed() -> None:
    from wandb_provider._compat import AirflowFailException
    from wandb_provider.operators.promote import PromoteArtifactOperator

    with pytest.raises(AirflowFailException, match="offset"):
        PromoteArtifactOperator(task_id="p", artifact=f"{MODEL}:candidate",
                                require={"accuracy": {">=": {"production": "a lot"}}})
    with pytest.raises(AirflowFailException, match="one alias"):
        PromoteArtifactOperator(task_id="p", artifact=f"{MODEL}:candidate",
                                require={"accuracy": {">=": {"production": 0, "staging": 0}}})


def test_the_same_gate_language_in_the_sensor_verify_and_alias_operators(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("gate_language_everywhere")
    assert _states(run) == {"wait": "success", "verify": "success", "refuse": "skipped", "move": "success",
                            "record": "success"}
    result = json.loads(out.read_text())
    assert result["move"]["after"] == {"production": "v2"}
    assert sdk(wandb_env).artifact(f"{MODEL}:production").version == "v2"


def test_the_event_trigger_refuses_terms_it_cannot_decide_on_its_poll() -> None:
    from wandb_provider._compat import AirflowFailException
    from wandb_provider.triggers.events import ArtifactEventTrigger

    with pytest.raises(AirflowFailException, match="run.. and relative terms"):
        ArtifactEventTrigger(collection=MODEL, require={"run.summary.val_loss": {"<": 0.3}})
    ArtifactEventTrigger(collection=MODEL, require={"accuracy": {">=": 0.9}})  # metadata terms are fine
