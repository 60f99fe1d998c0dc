"""VerifyArtifactOperator in real DAG runs (dag.test()): a faithful folder passes; every kind of drift
fails at once (no retries) with a message naming it; a pin from an upstream task catches a moved alias."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow._fakes import RecordingTI, sdk
from wandb_provider._compat import AirflowFailException
from wandb_provider.operators.verify import VerifyArtifactOperator

pytestmark = pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])


def test_faithful_folder_and_version_pass(wandb_env, run_dag, out: Path) -> None:
    assert run_dag("verify_faithful").state == "success"
    report = json.loads(out.read_text())["verify"]
    assert report["ok"] is True and report["problems"] == []
    assert report["artifact"]["qualified_name"] == "acme/churn/churn-model:v2"
    assert report["artifact"]["digest"] == sdk(wandb_env).artifact("acme/churn/churn-model:candidate").digest
    files = report["files"]
    assert files["checked"] == 2 and files["missing"] == files["changed"] == files["extra"] == []
    assert report["references"]["checked"] is False and report["references"]["count"] == 0
    json.dumps(report)  # JSON-safe


def test_each_kind_of_drift_fails_once_with_a_message_naming_it(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("verify_drift")
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    for task_id in ("verify_missing", "verify_changed", "verify_extra", "verify_nowhere", "verify_version",
                    "verify_unpinned"):
        assert tis[task_id].state == "failed", task_id
        assert tis[task_id].try_number == 1, f"{task_id} was retried"
    assert tis["verify_extra_allowed"].state == "success"
    assert tis["verify_skip"].state == "skipped"
    result = json.loads(out.read_text())

    missing = result["verify_missing.report"]
    assert missing["ok"] is False and missing["files"]["missing"] == ["training/config.json"]
    assert missing["problems"] == ["1 missing file: 'training/config.json'"]
    changed = result["verify_changed.report"]
    assert changed["files"]["changed"] == ["model.json"] and changed["files"]["missing"] == []
    assert "1 changed file: 'model.json'" in changed["problems"][0]
    extra = result["verify_extra.report"]
    assert extra["files"]["extra"] == ["notes.txt"] and "allow_extra_files" in extra["problems"][0]
    allowed = result["verify_extra_allowed"]
    assert allowed["ok"] is True and allowed["files"]["extra"] == ["notes.txt"]
    assert "does not exist on this worker" in result["verify_nowhere.report"]["problems"][0]

    problems = result["verify_version.report"]["problems"]  # every problem of the version, in one report
    assert len(problems) == 3, problems
    assert "type is 'model', not 'dataset'" in problems[0]
    assert "it is v2, not the pinned v0" in problems[1]
    assert "accuracy = 0.9 does not satisfy >= 0.99" in problems[2]
    assert result["verify_skip"] is None and "not the pinned v1" in result["verify_skip.report"]["problems"][0]
    assert result["verify_unpinned"] is None and result["verify_unpinned.report"] is None  # refused before any check


def test_pin_from_upstream_task_catches_an_alias_moved_in_between(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("verify_pin_moved")
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["move"].state == "success"
    assert tis["verify"].state == "failed" and tis["verify"].try_number == 1
    result = json.loads(out.read_text())
    pinned = result["download"]
    problems = result["verify.report"]["problems"]
    assert f"not the pinned {pinned['digest']} (of acme/churn/churn-model:v2)" in problems[0]
    assert f"not the pinned {pinned['id']}" in problems[1]
    assert result["verify.report"]["artifact"]["version"] == "v0"
    assert sdk(wandb_env).artifact("acme/churn/churn-model:candidate").version == "v0"


def test_version_checks_cost_one_graphql_request(wandb_env, run_dag) -> None:
    wandb_env.reset_stats()
    assert run_dag("verify_version_only").state == "success"
    assert wandb_env.stats()["graphql"]["total"] == 1 + 2  # the version; the task's W&B run (UpsertBucket, UseArtifact)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        pytest.param({"pin": "production"}, "neither a digest", id="alias-pin"),
        pytest.param({"pin": {"path": "/x"}}, "without 'digest' or 'id'", id="pin-dict-without-identity"),
        pytest.param({"pin": {"digest": "abc"}}, "not a W&B digest", id="bad-digest"),
        pytest.param({"path": "relative/folder"}, "not an absolute path", id="relative-path"),
        pytest.param({"on_failure": "retry"}, "on_failure", id="outcome"),
        pytest.param({"allow_extra_files": "yes"}, "allow_extra_files", id="flag"),
        pytest.param({"require": {"accuracy": {"~": 1}}}, "unknown operator", id="gate"),
        pytest.param({"artifact": ""}, "artifact is empty", id="empty-artifact"),
    ],
)
def test_arguments_are_checked_at_parse_time(options, problem: str) -> None:
    with pytest.raises(AirflowFailException, match=problem):
        VerifyArtifactOperator(**{"task_id": "v", "artifact": "a/b/c:v1", **options})


def test_templated_pin_waits_for_rendering() -> None:
    VerifyArtifactOperator(task_id="v", artifact="a/b/c:v1", pin="{{ ti.xcom_pull(task_ids='d') }}",
                           path="{{ ti.xcom_pull(task_ids='d')['path'] }}")


def test_a_version_still_uploading_fails_verification_and_its_folder_is_not_read(wandb_env, tmp_path: Path) -> None:
    from tests.testing._http import begin_upload

    begin_upload(wandb_env, "acme", "churn", "half-logged", {"a.txt": b"never uploaded"})
    ti = RecordingTI()
    operator = VerifyArtifactOperator(task_id="verify", artifact="acme/churn/half-logged:v0", path=str(tmp_path))
    with pytest.raises(AirflowFailException, match="the version is PENDING, not COMMITTED"):
        operator.execute({"ti": ti})
    report = ti.pushed["verify_report"]
    assert report["ok"] is False and report["files"]["checked"] is False


def test_references_no_checksum_covers_fail_unless_allowed_and_are_never_fetched(wandb_env, tmp_path: Path) -> None:
    from wandb_provider.testing.store import SeedFile

    etag = '"' + "a" * 32 + '"'
    wandb_env.seed_artifact("with-ref", {
        "a.txt": "stored\n",
        "remote/data.bin": SeedFile("remote/data.bin", ref="https://data.example.invalid/data.bin", digest="a" * 32,
                                    size=10, extra={"etag": etag}),
    }, project="churn", entity="acme")
    (tmp_path / "remote").mkdir()
    (tmp_path / "a.txt").write_text("stored\n")
    (tmp_path / "remote" / "data.bin").write_bytes(b"0123456789")
    ti = RecordingTI()
    operator = VerifyArtifactOperator(task_id="verify", artifact="acme/churn/with-ref:v0", path=str(tmp_path))
    with pytest.raises(AirflowFailException, match="1 unverifiable file: 'remote/data.bin'"):
        operator.execute({"ti": ti})  # a folder the provider did not fill: its size alone proves nothing
    assert ti.pushed["verify_report"]["references"]["unverified"] == ["remote/data.bin"]
    allowed = VerifyArtifactOperator(task_id="verify", artifact="acme/churn/with-ref:v0", path=str(tmp_path),
                                     allow_unverified_references=True)
    report = allowed.execute({"ti": RecordingTI()})
    assert report["ok"] is True and report["files"]["checked"] == 2
    assert report["references"]["checked"] is False and report["references"]["entries"] == ["remote/data.bin"]
    assert "not checked" in report["references"]["reason"]


def test_the_failure_message_names_every_problem_and_lineage_names_the_input(wandb_env) -> None:
    ti = RecordingTI()
    operator = VerifyArtifactOperator(task_id="verify", artifact="acme/churn/churn-model:candidate", pin="v0",
                                      expected_type="dataset", require={"accuracy": {">=": 0.99}})
    with pytest.raises(AirflowFailException) as info:
        operator.execute({"ti": ti})
    message = str(info.value)
    assert message.startswith("acme/churn/churn-model:v2 failed verification (3 problems): (1) its type is 'model'")
    assert "(2) it is v2, not the pinned v0" in message and "(3) metadata: accuracy = 0.9" in message
    assert ti.pushed["verify_report"]["problems"] == [p.split(") ", 1)[1] for p in message.rstrip(".").split("; (")]
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("wandb://acme", "churn/churn-model")]
