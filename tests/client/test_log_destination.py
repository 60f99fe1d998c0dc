"""``log_artifact``'s name is a path, ``[entity/][project/]name``, read as every other verb reads one:
the parts it names are where the version goes, the parts it leaves out come from ``project=``/``entity=``
(then the run, then the config), and a part named both ways must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient
from wandb_provider.client.errors import InvalidArtifactPathError, InvalidValueError, NotFoundError

pytestmark = pytest.mark.wandb_server(teams=["acme:demo:admin"])


@pytest.fixture
def client(wandb_env: Any) -> WandbClient:
    return WandbClient(wandb_env.base_url, wandb_env.api_key, entity=wandb_env.entity, project="p", max_retries=1)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("a")
    return tmp_path / "a.txt"


def test_entity_project_name_logs_into_that_entity_and_project(client: WandbClient, data: Path) -> None:
    version = client.log_artifact("acme/churn/dest-full", "dataset", data)
    assert version.qualified_name == "acme/churn/dest-full:v0"
    assert client.artifact("acme/churn/dest-full:latest").id == version.id
    with pytest.raises(NotFoundError):  # nothing went to the client's default entity and project
        client.artifact(f"{client.config.entity}/p/dest-full")


def test_project_name_takes_the_entity_from_the_arguments_then_the_config(client: WandbClient, data: Path) -> None:
    assert client.log_artifact("q2/dest-two", "dataset", data).qualified_name == \
        f"{client.config.entity}/q2/dest-two:v0"
    assert client.log_artifact("q2/dest-two", "dataset", data, entity="acme").qualified_name == \
        "acme/q2/dest-two:v0"
    same = client.log_artifact("acme/q2/dest-two", "dataset", data, project="q2", entity="acme")
    assert same.qualified_name == "acme/q2/dest-two:v0"  # the same place named twice: the same version


@pytest.mark.parametrize(("name", "options", "problem"), [
    ("acme/churn/x", {"project": "other"}, "project='other' but the artifact name 'acme/churn/x' names project"),
    ("churn/x", {"project": "other"}, "names project 'churn'"),
    ("acme/churn/x", {"entity": "someone"}, "entity='someone' but the artifact name 'acme/churn/x' names entity"),
])
def test_a_part_named_twice_differently_is_refused_before_any_request(
        client: WandbClient, wandb_env: Any, data: Path, name: str, options: dict[str, Any], problem: str) -> None:
    wandb_env.reset_stats()
    with pytest.raises(InvalidValueError, match=problem):
        client.log_artifact(name, "dataset", data, **options)
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_an_alias_in_the_name_is_refused(client: WandbClient, data: Path) -> None:
    with pytest.raises(InvalidArtifactPathError, match="names an alias"):
        client.log_artifact("acme/churn/x:prod", "dataset", data)
