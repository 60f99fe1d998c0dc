"""The example DAGs the documentation quotes run green against the local server with the demo data:
``dags_examples/operators_tour.py`` (every operator and the sensor) and ``evaluate_on_candidate.py``
(a manual run of the event-driven DAG). W&B state is read back through the official SDK."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.wandb_server(seed="demo")]

EXAMPLES = Path(__file__).resolve().parents[1] / "dags_examples"
TOUR_TASKS = ("resolve_production", "wait_for_candidate", "download_candidate", "verify_candidate", "record_review",
              "stage", "write_review", "log_review", "link_to_registry", "unlink_from_registry", "curate_models",
              "expire_first_snapshot", "delete_first_model", "retention")


@pytest.fixture
def examples(wandb_airflow: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The DAGs of ``dags_examples/`` (parsed with no import error), serialized into Airflow's database
    as the DAG processor would (``dag.test()`` runs serialized DAGs and only parses the configured
    dags folder itself); downloads and cache in the test's folder. The examples take their entity
    from ``WANDB_ENTITY`` (the demo data's is ``acme``), so the fixture's user entity is unset."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    monkeypatch.delenv("WANDB_ENTITY")
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(tmp_path / "downloads"))
    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "cache"))
    bag = DagBag(dag_folder=str(EXAMPLES))
    assert not bag.import_errors, bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    return bag


def _xcoms(run: Any) -> dict[str, Any]:
    """Each task's return value in ``run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, key="return_value")).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


# [START howto_testing_dag_test]
@pytest.mark.wandb_server(seed="demo")
def test_the_operators_tour_runs_and_each_step_is_seen_in_w_and_b(wandb_airflow, examples) -> None:
    run = examples.get_dag("operators_tour").test()
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == dict.fromkeys(TOUR_TASKS, "success")
    result = _xcoms(run)

    import wandb

    api = wandb.Api(api_key=wandb_airflow.api_key, overrides={"base_url": wandb_airflow.base_url})
    candidate = api.artifact("acme/churn/churn-model:candidate")
    assert candidate.version == "v2" and result["wait_for_candidate"]["version"] == "v2"
    assert sorted(p.relative_to(result["download_candidate"]["path"]).as_posix()
                  for p in Path(result["download_candidate"]["path"]).rglob("*")
                  if p.is_file() and ".wandb-provider" not in p.parts) == ["model.json", "training/config.json"]
    assert result["verify_candidate"]["ok"] is True
    assert candidate.metadata["review"] == {"status": "approved", "accuracy": 0.9}  # a number, not text
    assert "reviewed" in candidate.tags
    assert "staging" in candidate.aliases
    assert result["resolve_production"]["version"] == "v1"
    review = api.artifact("acme/churn/churn-model-review:approved")
    assert result["log_review"]["created"] is True and review.type == "review"
    assert review.metadata["accuracy"] == 0.9 and review.metadata["model"] == "acme/churn/churn-model:v2"
    assert review.logged_by() is not None  # the logging task is the version's W&B run
    assert result["link_to_registry"]["linked"]["qualified_name"] == "acme-corp-org/wandb-registry-model/churn:v0"
    assert result["unlink_from_registry"]["changed"] is True
    assert [v.version for v in api.artifacts("model", "acme-corp-org/wandb-registry-model/churn")] == []

    models = api.artifact_collection("model", "acme/churn/churn-model")
    assert models.description.startswith("Churn models") and {"churn", "reviewed"} <= set(models.tags)
    assert api.artifact("acme/churn/churn-dataset:v0").ttl == dt.timedelta(days=90)

    # The deleting steps are dry runs: they say what they would do and W&B keeps every version.
    assert result["delete_first_model"]["action"] == "would_delete"
    assert sorted(result["retention"]["would_delete"]) == ["v0", "v1"]
    assert sorted(a.version for a in api.artifacts("model", "acme/churn/churn-model")) == ["v0", "v1", "v2"]
    assert sorted(a.version for a in api.artifacts("dataset", "acme/churn/churn-dataset")) == ["v0", "v1", "v2"]
# [END howto_testing_dag_test]

    # Run again: the same end state, and the writers say they changed nothing.
    again = _xcoms(examples.get_dag("operators_tour").test())
    assert set(again) >= set(TOUR_TASKS)
    assert again["stage"]["changed"] is False and again["record_review"]["changed"] is False
    assert again["log_review"]["created"] is False and again["log_review"]["version"] == "v0"
    assert again["curate_models"]["changed"] is False and again["expire_first_snapshot"]["changed"] is False
    api = wandb.Api(api_key=wandb_airflow.api_key, overrides={"base_url": wandb_airflow.base_url})
    assert sorted(a.version for a in api.artifacts("model", "acme/churn/churn-model")) == ["v0", "v1", "v2"]
    assert api.artifact("acme/churn/churn-model:staging").version == "v2"


@pytest.mark.parametrize("profile", [
    pytest.param("latest", marks=pytest.mark.wandb_server(seed="demo")),
    pytest.param("legacy", marks=pytest.mark.wandb_server(seed="demo", profile="legacy")),
])
def test_a_manual_run_of_the_event_driven_example_reads_the_candidate(wandb_airflow, examples, profile) -> None:
    run = examples.get_dag("evaluate_on_candidate").test()
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == {"describe_candidate": "success"}
    described = _xcoms(run)["describe_candidate"]
    assert described["qualified_name"] == "acme/churn/churn-model:v2"
    assert described["model"]["weights"] == [1.0, 0.45]


# [START howto_testing_seed_and_faults]
def test_a_download_survives_one_failed_file_request(wandb_env, tmp_path: Path) -> None:
    from wandb_provider.hooks.wandb import WandbHook

    wandb_env.seed_artifact("features", {"part-0.csv": "id,x\n1,2\n"}, project="p", aliases=["prod"])
    wandb_env.set_faults({"rules": [{"route": "files", "kind": "status", "status": 503, "times": 1}]})
    with WandbHook().get_client() as client:  # the wandb_default connection points at the local server
        version = client.artifact(f"{wandb_env.entity}/p/features:prod")
        client.download(version, tmp_path / "features", cache=False)
    assert (tmp_path / "features" / "part-0.csv").read_text() == "id,x\n1,2\n"
    assert wandb_env.stats()["files"] >= 3  # the manifest, the file, and the request that got the 503
# [END howto_testing_seed_and_faults]


@pytest.mark.wandb_server(seed="demo", profile="legacy")
def test_the_operators_tour_runs_on_the_oldest_w_and_b_server_the_sdk_supports(wandb_airflow, examples) -> None:
    """``--server-profile legacy``: W&B Server without ARTIFACT_DIGEST_ALGORITHM and without the
    membership in linkArtifact's answer. The client negotiates both, so every step still succeeds."""
    run = examples.get_dag("operators_tour").test()
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == dict.fromkeys(TOUR_TASKS, "success")
