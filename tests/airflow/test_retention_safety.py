"""Retention never deletes what is claimed at the moment of deletion: real DAG runs (dag.test()),
W&B state checked through the official SDK; arguments checked at parse time or right after rendering."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import sdk
from wandb_provider._values import duration
from wandb_provider.client import InvalidArtifactPathError, InvalidValueError, WandbClient
from wandb_provider.operators.retention import DeleteArtifactVersionsOperator

pytestmark = pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])

REGISTRY = "acme-corp-org/wandb-registry-model/churn"


def versions(server, type_name: str, collection: str) -> list[str]:
    return sorted(a.version for a in sdk(server).artifacts(type_name, collection))


def states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _race(server, run_dag, dag_id: str, collection: str, alias: str) -> Any:
    """Run ``dag_id`` while another writer moves ``alias`` onto ``collection``'s v0 after the listing:
    the server holds the retention's first re-check until the alias has moved."""
    server.set_faults([{"route": "graphql", "kind": "hold", "operation": "ArtifactClaims", "times": 1,
                        "seconds": 120}])
    other = WandbClient(server.base_url, server.api_key, entity="acme", project="churn")

    def move_while_held() -> None:
        try:
            if server.faults.wait_held(timeout=120):
                other.update_aliases(f"{collection}:v0", add=[alias])
        finally:
            server.faults.release()

    mover = threading.Thread(target=move_while_held)
    mover.start()
    try:
        return run_dag(dag_id)
    finally:
        server.faults.release()
        mover.join()
        other.close()


def test_version_that_gains_an_alias_after_the_listing_is_kept(wandb_env, run_dag, out: Path) -> None:
    assert _race(wandb_env, run_dag, "retention_race_rollback", "churn-model", "production").state == "success"
    rollback = json.loads(out.read_text())["rollback"]
    assert _race(wandb_env, run_dag, "retention_race_gained", "churn-dataset", "staging").state == "success"
    gained = json.loads(out.read_text())["gained"]
    assert rollback["deleted"] == [] and "production" in rollback["kept"]["v0"]
    assert gained["deleted"] == ["v1"] and "staging" in gained["kept"]["v0"]
    api = sdk(wandb_env)
    assert api.artifact("acme/churn/churn-model:production").version == "v0"
    assert versions(wandb_env, "model", "acme/churn/churn-model") == ["v0", "v1", "v2"]
    assert api.artifact("acme/churn/churn-dataset:staging").version == "v0"
    assert versions(wandb_env, "dataset", "acme/churn/churn-dataset") == ["v0", "v2"]


def test_version_linked_into_a_registry_is_kept_there(wandb_env, run_dag, out: Path) -> None:
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity="acme", project="churn")
    client.link("churn-model:v0", "acme-corp/wandb-registry-model/churn")
    assert run_dag("retention_linked").state == "success"
    sweep = json.loads(out.read_text())["sweep"]
    assert sweep["deleted"] == [] and REGISTRY in sweep["kept"]["v0"]
    api = sdk(wandb_env)
    assert api.artifact(f"{REGISTRY}:v0").source_version == "v0"
    assert versions(wandb_env, "model", REGISTRY) == ["v0"]
    assert versions(wandb_env, "model", "acme/churn/churn-model") == ["v0", "v1", "v2"]


def test_admin_key_without_keep_aliased_keeps_protected_versions(wandb_env, run_dag, out: Path) -> None:
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, entity="acme", project="churn")
    client.link("churn-model:v0", "acme-corp/wandb-registry-model/churn", aliases=["golden"])
    client.link("churn-model:v2", "acme-corp/wandb-registry-model/churn")
    client.link("churn-model:v1", "acme-corp/wandb-registry-model/churn")
    wandb_env.store.accounts.set_protected_aliases("acme-corp-org", "wandb-registry-model", ["golden"])
    wandb_env.store.accounts.set_protected_aliases("acme", "churn", ["production"])
    assert run_dag("retention_admin_protected").state == "success"  # demo is an admin of both
    result = json.loads(out.read_text())
    assert result["registry"]["deleted"] == ["v1"] and "golden" in result["registry"]["kept"]["v0"]
    assert result["source"]["deleted"] == []
    api = sdk(wandb_env)
    assert api.artifact(f"{REGISTRY}:golden").source_version == "v0"
    assert versions(wandb_env, "model", REGISTRY) == ["v0", "v2"]
    assert api.artifact("acme/churn/churn-model:production").version == "v1"
    assert versions(wandb_env, "model", "acme/churn/churn-model") == ["v0", "v1", "v2"]


def test_templated_arguments_are_checked_after_rendering(wandb_env, run_dag, out: Path) -> None:
    run = run_dag("retention_templated")
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["bad_age"].state == "failed" and tis["bad_age"].try_number == 1  # no retries for bad input
    assert tis["no_age"].state == "success" and tis["numeric_age"].state == "success"
    result = json.loads(out.read_text())
    assert result["no_age"]["would_delete"] == ["v1", "v0"]
    assert result["numeric_age"]["would_delete"] == [] and len(result["numeric_age"]["kept"]) == 3
    assert versions(wandb_env, "model", "acme/churn/churn-model") == ["v0", "v1", "v2"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        pytest.param({"keep_last": 0, "keep_aliased": False, "dry_run": False}, "every version", id="delete-all"),
        pytest.param({"keep_last": -1}, "keep_last", id="negative"),
        pytest.param({"keep_last": "3"}, "keep_last", id="text"),
        pytest.param({"keep_last": True}, "keep_last", id="bool"),
        pytest.param({"keep_aliased": "False"}, "keep_aliased", id="keep-aliased-text"),
        pytest.param({"dry_run": "no"}, "dry_run", id="dry-run-text"),
        pytest.param({"protected_aliases": ["latest"]}, "latest", id="protect-latest"),
        pytest.param({"protected_aliases": ["a/b"]}, "alias", id="protect-bad-alias"),
        pytest.param({"older_than": dt.timedelta(days=-1)}, "negative", id="negative-age"),
        pytest.param({"older_than": math.nan}, "older_than", id="nan-age"),
        pytest.param({"older_than": True}, "older_than", id="bool-age"),
        pytest.param({"collection": ""}, "collection", id="empty-collection"),
        pytest.param({"wandb_conn_id": ""}, "wandb_conn_id", id="empty-conn"),
    ],
)
def test_non_templated_arguments_are_checked_at_parse_time(options, match: str) -> None:
    arguments = {"task_id": "sweep", "collection": "acme/churn/churn-model", "keep_last": 1, **options}
    with pytest.raises((InvalidValueError, InvalidArtifactPathError), match=match):
        DeleteArtifactVersionsOperator(**arguments)


def test_delete_everything_is_allowed_as_a_dry_run() -> None:
    operator = DeleteArtifactVersionsOperator(task_id="sweep", collection="p/c", keep_last=0, keep_aliased=False)
    assert operator.report_only


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("P30D", dt.timedelta(days=30), id="iso"),
        pytest.param("86400", dt.timedelta(days=1), id="seconds-as-text"),
        pytest.param(" 3600.5 ", dt.timedelta(seconds=3600.5), id="float-text"),
        pytest.param(60, dt.timedelta(minutes=1), id="int"),
        pytest.param(dt.timedelta(hours=2), dt.timedelta(hours=2), id="timedelta"),
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("None", None, id="rendered-none"),
    ],
)
def test_age_limits_as_users_write_them(value, expected) -> None:
    assert duration("older_than", value) == expected


@pytest.mark.parametrize("value", ["thirty days", "2024-01-01", "P", "inf", "1e400", "-5", [1]])
def test_bad_age_limits_are_typed_errors(value) -> None:
    with pytest.raises(InvalidValueError, match="older_than"):
        duration("older_than", value)
