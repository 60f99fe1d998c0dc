"""OpenLineage: datasets carry the W&B version a task read or wrote (custom facet ``wandb_artifactVersion``
and the standard ``version`` facet); the sensor and retention report what they read, retention what it deleted."""

from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openlineage.client.serde import Serde

from tests.airflow._fakes import RecordingTI, sdk
from wandb_provider.assets import create_asset, event_extra
from wandb_provider.hooks.wandb import WandbHook
from wandb_provider.operators.artifacts import UpdateArtifactAliasesOperator, UseArtifactOperator
from wandb_provider.operators.resolve import ResolveArtifactOperator
from wandb_provider.operators.retention import DeleteArtifactVersionsOperator
from wandb_provider.sensors.artifacts import ArtifactVersionSensor

pytestmark = pytest.mark.wandb_server(seed="demo")

SCHEMA = json.loads(importlib.resources.files("wandb_provider").joinpath("openlineage-facets.json").read_text())


def _facets(dataset: Any) -> dict[str, Any]:
    """A dataset's facets as OpenLineage sends them (JSON)."""
    return json.loads(Serde.to_json(dataset))["facets"]


def _check_custom_facet(facet: dict[str, Any]) -> None:
    """OpenLineage's custom facet rules: a producer, and a schema URL pointing into the shipped schema,
    whose definition the facet meets."""
    assert facet["_producer"].startswith("https://") and "airflow-provider-wandb" in facet["_producer"]
    url, _, pointer = facet["_schemaURL"].partition("#")
    assert url == SCHEMA["$id"] and pointer.startswith("/$defs/")
    definition = SCHEMA["$defs"][pointer.removeprefix("/$defs/")]
    own = [part for part in definition["allOf"] if "$ref" not in part]
    jsonschema.validate(facet, own[0])


def _version_of(dataset: Any) -> dict[str, Any]:
    facets = _facets(dataset)
    _check_custom_facet(facets["wandb_artifactVersion"])
    assert facets["version"]["datasetVersion"] == facets["wandb_artifactVersion"]["version"]
    return facets["wandb_artifactVersion"]


def test_a_download_reports_the_version_it_read(wandb_env, tmp_path: Path) -> None:
    use = UseArtifactOperator(task_id="use", artifact="acme/churn/churn-dataset:training", root=str(tmp_path))
    use.execute({"ti": RecordingTI()})
    lineage = use.get_openlineage_facets_on_complete(None)
    [dataset] = lineage.inputs
    assert (dataset.namespace, dataset.name) == ("wandb://acme", "churn/churn-dataset")
    observed = sdk(wandb_env).artifact("acme/churn/churn-dataset:training")
    facet = _version_of(dataset)
    assert (facet["version"], facet["digest"], facet["id"]) == ("v2", observed.digest, observed.id)
    assert facet["qualifiedName"] == "acme/churn/churn-dataset:v2" and facet["type"] == "dataset"
    assert set(facet["aliases"]) == {"latest", "training"}


def test_a_resolve_reports_its_input_and_a_writer_its_output(wandb_env) -> None:
    resolve = ResolveArtifactOperator(task_id="resolve", artifact="acme/churn/churn-model:candidate")
    resolve.execute({"ti": RecordingTI()})
    [read] = resolve.get_openlineage_facets_on_complete(None).inputs
    assert _version_of(read)["version"] == "v2"

    promote = UpdateArtifactAliasesOperator(task_id="promote", artifact="acme/churn/churn-model:v2", add=["staging"])
    promote.execute({"ti": RecordingTI()})
    lineage = promote.get_openlineage_facets_on_complete(None)
    [written] = lineage.outputs
    facet = _version_of(written)
    assert facet["version"] == "v2" and "staging" in facet["aliases"]  # as written, the new alias included


def test_the_sensor_reports_the_version_it_waited_for(wandb_env) -> None:
    sensor = ArtifactVersionSensor(task_id="wait", artifact="acme/churn/churn-model:production", poke_interval=0.1,
                                   timeout=10)
    assert sensor.get_openlineage_facets_on_complete(None).inputs == []  # nothing found yet, nothing read
    sensor.execute({"ti": RecordingTI()})
    [read] = sensor.get_openlineage_facets_on_complete(None).inputs
    assert (read.namespace, read.name) == ("wandb://acme", "churn/churn-model")
    assert _version_of(read)["version"] == "v1"


def test_the_deferred_sensor_reports_the_version_from_the_trigger_event(wandb_env) -> None:
    version = WandbHook().resolve("acme/churn/churn-model:candidate")
    sensor = ArtifactVersionSensor(task_id="wait", artifact="acme/churn/churn-model:candidate", deferrable=True)
    event = {"status": "success", "message": "ready", "version": {**version.to_dict()}}
    sensor.execute_complete({"ti": RecordingTI()}, event)  # a fresh operator object, as after a deferral
    [read] = sensor.get_openlineage_facets_on_complete(None).inputs
    assert _version_of(read)["digest"] == version.digest


def test_retention_reports_what_it_read_and_what_it_deleted(wandb_env) -> None:
    before = {a.version: a for a in sdk(wandb_env).artifacts("model", "acme/churn/churn-model")}
    dry = DeleteArtifactVersionsOperator(task_id="dry", collection="acme/churn/churn-model", keep_last=1)
    dry.execute({"ti": RecordingTI()})
    lineage = dry.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("wandb://acme", "churn/churn-model")]
    assert lineage.outputs == []  # a dry run changes nothing

    prune = DeleteArtifactVersionsOperator(task_id="prune", collection="acme/churn/churn-model", keep_last=1,
                                           dry_run=False, wandb_conn_id="wandb_default")
    result = prune.execute({"ti": RecordingTI()})
    assert result["deleted"] == ["v0"]  # v1 holds production, v2 is the newest
    lineage = prune.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("wandb://acme", "churn/churn-model")]
    [changed] = lineage.outputs
    assert (changed.namespace, changed.name) == ("wandb://acme", "churn/churn-model")
    facet = _facets(changed)["wandb_deletedVersions"]
    _check_custom_facet(facet)
    assert facet["versions"] == [{"version": "v0", "digest": before["v0"].digest, "id": before["v0"].id}]
    assert "v0" not in {a.version for a in sdk(wandb_env).artifacts("model", "acme/churn/churn-model")}


def test_a_wandb_asset_whose_extra_names_a_version_carries_it(wandb_env) -> None:
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    version = WandbHook().resolve("acme/churn/churn-model:production")
    plain = translate_airflow_asset(create_asset(entity="acme", project="churn", collection="churn-model"), None)
    assert (plain.namespace, plain.name, plain.facets) == ("wandb://acme", "churn/churn-model", {})
    pinned = translate_airflow_asset(create_asset(entity="acme", project="churn", collection="churn-model",
                                                  extra=event_extra(version, "aliases")), None)
    assert _version_of(pinned)["id"] == version.id


def test_the_facet_schema_names_the_url_the_facets_point_to() -> None:
    from wandb_provider import __version__
    from wandb_provider._openlineage import SCHEMA_URL

    assert SCHEMA["$id"] == SCHEMA_URL and f"v{__version__}/" in SCHEMA_URL
    assert set(SCHEMA["properties"]) == {"wandb_artifactVersion", "wandb_deletedVersions"}


def _complete_events(path: Path) -> dict[str, dict[str, Any]]:
    """task_id -> the COMPLETE run event the listener wrote for it."""
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {e["job"]["name"].rpartition(".")[2]: e for e in events if e["eventType"] == "COMPLETE"
            and "." in e["job"]["name"]}


@pytest.mark.full
@pytest.mark.slow
def test_the_openlineage_listener_sends_the_versions(wandb_env, airflow_db: None, out: Path, tmp_path: Path) -> None:
    """Airflow's own OpenLineage listener, under ``airflow dags test`` with a file transport."""
    events_file = tmp_path / "openlineage.jsonl"
    env = {**os.environ, "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
        {"type": "file", "log_file_path": str(events_file), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "wandb-provider-tests"}
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    done = subprocess.run([airflow, "dags", "test", "openlineage_events"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    events = _complete_events(events_file)
    dataset = sdk(wandb_env).artifact("acme/churn/churn-dataset:training")
    for task_id in ("wait", "use"):
        [read] = events[task_id]["inputs"]
        assert (read["namespace"], read["name"]) == ("wandb://acme", "churn/churn-dataset")
        facet = read["facets"]["wandb_artifactVersion"]
        _check_custom_facet(facet)
        assert (facet["version"], facet["digest"], facet["id"]) == ("v2", dataset.digest, dataset.id)
        assert read["facets"]["version"]["datasetVersion"] == "v2"
    [promoted] = events["promote"]["outputs"]
    assert "staging" in promoted["facets"]["wandb_artifactVersion"]["aliases"]
    [pruned] = events["prune"]["outputs"]
    assert [v["version"] for v in pruned["facets"]["wandb_deletedVersions"]["versions"]] == ["v0"]


def test_a_logged_version_names_its_inputs_in_w_and_b_and_openlineage(wandb_env, tmp_path: Path) -> None:
    from wandb_provider.operators.produce import LogArtifactOperator

    raw = WandbHook().resolve("acme/churn/churn-dataset:training").to_dict()
    (tmp_path / "features.csv").write_text("a,b\n1,2\n")
    log = LogArtifactOperator(task_id="log", name="acme/churn/features", type="dataset", files=str(tmp_path),
                              inputs=[raw, "acme/churn/churn-model:production"])
    result = log.execute({"ti": RecordingTI(), "run_id": "r"})
    lineage = log.get_openlineage_facets_on_complete(None)
    assert [_version_of(d)["id"] for d in lineage.inputs] == [
        raw["id"], WandbHook().resolve("acme/churn/churn-model:production").id]
    [written] = lineage.outputs
    assert _version_of(written)["digest"] == result["digest"]
    producer = sdk(wandb_env).artifact(result["qualified_name"]).logged_by()
    assert raw["id"] in [a.id for a in producer.used_artifacts()]


def test_an_input_whose_digest_changed_fails_before_logging(wandb_env, tmp_path: Path) -> None:
    from wandb_provider._compat import AirflowFailException
    from wandb_provider.operators.produce import LogArtifactOperator

    stale = {**WandbHook().resolve("acme/churn/churn-dataset:training").to_dict(), "digest": "0" * 32}
    (tmp_path / "features.csv").write_text("a,b\n1,2\n")
    log = LogArtifactOperator(task_id="log", name="acme/churn/features", type="dataset", files=str(tmp_path),
                              inputs=[stale])
    with pytest.raises(AirflowFailException, match="pinned"):
        log.execute({"ti": RecordingTI(), "run_id": "r"})
    with pytest.raises(Exception, match="features"):
        sdk(wandb_env).artifact("acme/churn/features:latest")
