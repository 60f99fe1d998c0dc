"""LogArtifactOperator in real DAG runs against the local server, read back through the official SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pendulum
import pytest

from tests.airflow._fakes import sdk
from tests.airflow.test_asset_events import _events
from wandb_provider._compat import AirflowFailException
from wandb_provider.operators.produce import LogArtifactOperator

pytestmark = pytest.mark.wandb_server(seed="demo")


def test_logs_a_folder_with_metadata_aliases_tags_and_provenance(wandb_env: Any, run_dag: Any, out: Path) -> None:
    run = run_dag("log_then_use")
    assert run.state == "success"
    result = json.loads(out.read_text())
    logged = result["log"]
    assert logged["qualified_name"] == "acme/churn/features:v0" and logged["created"] is True
    assert result["log.link"] == logged["url"]
    uri, extra = _events(run.run_id)["log"]
    assert uri == "wandb://acme/churn/features" and extra["reason"] == "log" and extra["changed"] is True
    assert extra["digest"] == logged["digest"]
    assert logged["file_count"] == 2 and logged["type"] == "dataset"
    seen = sdk(wandb_env).artifact("acme/churn/features:v0")
    assert seen.digest == logged["digest"] and seen.description == "derived features"
    assert sorted(seen.aliases) == ["candidate", "eu", "latest", "qa"] and seen.tags == ["nightly"]
    assert seen.metadata["rows"] == 3 and seen.metadata["source"] == "unit"  # a rendered number stays a number
    airflow = seen.metadata["airflow"]
    assert (airflow["dag_id"], airflow["task_id"], airflow["run_id"], airflow["map_index"]) == \
        ("log_then_use", "log", run.run_id, -1)
    folder = Path(seen.download(root=str(out.parent / "sdk")))
    assert (folder / "train.csv").read_text() == "a,b\n1,2\n3,4\n"
    assert (folder / "part" / "test.csv").read_text() == "a,b\n5,6\n"
    seen.verify(root=str(folder))


def test_rerun_with_same_files_gives_the_same_version(wandb_env: Any, run_dag: Any, out: Path) -> None:
    assert run_dag("log_then_use").state == "success"
    wandb_env.reset_stats()
    second = run_dag("log_then_use", logical_date=pendulum.datetime(2026, 2, 1, tz="UTC"))
    assert second.state == "success"
    again = json.loads(out.read_text())["log"]
    assert again["qualified_name"] == "acme/churn/features:v0" and again["created"] is False
    assert _events(second.run_id)["log"][1]["changed"] is False
    assert [v.version for v in sdk(wandb_env).artifacts("dataset", "acme/churn/features")] == ["v0"]
    assert wandb_env.stats()["upload_bytes"] == 0


def test_mapping_glob_and_json_metadata_text(wandb_env: Any, run_dag: Any, out: Path) -> None:
    assert run_dag("log_mapping_and_glob").state == "success"
    logged = json.loads(out.read_text())["log"]
    seen = sdk(wandb_env).artifact(logged["qualified_name"])
    assert sorted(f.name for f in seen.files()) == ["more/test.csv", "tables/train.csv"]
    assert seen.metadata["split"] == {"train": 0.8}


def test_rendered_bad_input_fails_before_any_request(wandb_env: Any, run_dag: Any, out: Path) -> None:
    wandb_env.reset_stats()
    run = run_dag("log_bad_rendered")
    states = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert states == {"bad_metadata": ("failed", 1), "missing_files": ("failed", 1)}  # no retries
    assert wandb_env.stats()["graphql"]["total"] == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metadata": {"x": float("nan")}}, "NaN"),
        ({"metadata": '{"x": NaN}'}, "metadata"),
        ({"metadata": {"airflow": 1}}, "airflow"),
        ({"name": "acme/churn/features:v1"}, "alias"),
        ({"name": "wandb-registry-model/features"}, "registry"),
        ({"name": "a/b/c/d"}, "collection"),
        ({"type": "wandb-history"}, "reserved"),
        ({"files": None}, "nothing to log"),
        ({"files": []}, "nothing to log"),
        ({"aliases": ["latest"]}, "latest"),
        ({"aliases": "['ok', 'bad alias/']"}, "alias"),
        ({"tags": ["no\ttabs"]}, "tag"),
        ({"files": {"x": 3}}, "files"),
        ({"record_run": "no"}, "record_run"),
        ({"max_workers": 0}, "max_workers"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(arguments: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"task_id": "log", "name": "acme/churn/features", "type": "dataset", "files": "data"}
    with pytest.raises(AirflowFailException, match=message):
        LogArtifactOperator(**{**base, **arguments})


def test_templates_are_not_checked_before_rendering() -> None:
    LogArtifactOperator(task_id="log", name="{{ params.name }}", type="{{ params.type }}",
                        files="{{ ti.xcom_pull(task_ids='x') }}", metadata="{{ params.meta }}",
                        aliases="{{ params.aliases }}")


def test_reports_its_output_to_openlineage(wandb_env: Any, tmp_path: Path) -> None:
    from tests.airflow._fakes import RecordingTI
    from wandb_provider._runs import TaskCoordinates, deployment_identity

    (tmp_path / "a.txt").write_text("x\n")
    operator = LogArtifactOperator(task_id="log", name="acme/churn/direct", type="dataset",
                                   files=tmp_path / "a.txt")
    ti = RecordingTI()
    result = operator.execute({"ti": ti})
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == []
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("wandb://acme", "churn/direct")]
    assert result["run"]["run_id"] == TaskCoordinates("d", "r", "t", deployment=deployment_identity()).wandb_run_id
    assert ti.pushed["wandb_artifact_url"] == result["url"]
