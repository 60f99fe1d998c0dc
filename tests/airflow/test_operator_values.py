"""Operators in real DAG runs (dag.test()) with values as users write them; effects seen through the SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import sdk
from wandb_provider._compat import AirflowFailException
from wandb_provider.operators.artifacts import (
    LinkArtifactOperator,
    UpdateArtifactAliasesOperator,
    UpdateArtifactOperator,
    UseArtifactOperator,
)
from wandb_provider.sensors.artifacts import ArtifactVersionSensor

pytestmark = pytest.mark.wandb_server(seed="demo", orgs=["acme-corp:acme"], teams=["acme:demo:admin"])



def states(run: Any) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}


def test_rendered_list_literal_adds_each_alias(wandb_env: Any, run_dag: Any, out: Path) -> None:
    assert run_dag("values_alias_list").state == "success"
    assert sorted(json.loads(out.read_text())["promote"]["added"]) == ["eu", "qa"]
    aliases = sdk(wandb_env).artifact("acme/churn/churn-model:v0").aliases
    assert {"qa", "eu"} <= set(aliases) and not any("[" in alias for alias in aliases)


@pytest.mark.parametrize(
    ("dag_id", "problem"),
    [
        pytest.param("values_alias_latest", "'latest' is managed by W&B", id="latest"),
        pytest.param("values_include_empty", "include is empty", id="include-renders-empty"),
        pytest.param("values_bare_link_target", "names no project or registry", id="bare-target"),
        pytest.param("values_created_after_garbage", "is not a date and time", id="created-after-garbage"),
    ],
)
def test_rendered_values_that_cannot_be_meant_fail_once_before_any_request(
        wandb_env: Any, run_dag: Any, out: Path, capfd: pytest.CaptureFixture[str], dag_id: str,
        problem: str) -> None:
    wandb_env.reset_stats()
    run = run_dag(dag_id)
    assert run.state == "failed"
    assert [try_number for _, try_number in states(run).values()] == [1]  # retries=2: a retry cannot help
    assert wandb_env.stats()["graphql"]["total"] == 0
    assert problem in capfd.readouterr().out
    api = sdk(wandb_env)
    assert "latest" in api.artifact("acme/churn/churn-model:v2").aliases
    assert not (out.parent / "downloads").exists()


def test_include_matching_no_file_fails_unless_allowed(wandb_env: Any, run_dag: Any, out: Path) -> None:
    run = run_dag("values_include_matches_nothing")
    assert run.state == "failed" and states(run)["use"] == ("failed", 1)
    assert run_dag("values_include_matches_nothing_allowed").state == "success"
    assert json.loads(out.read_text())["use"]["bytes_downloaded"] == 0


def test_created_after_none_means_no_condition(wandb_env: Any, run_dag: Any, out: Path) -> None:
    run = run_dag("values_created_after_none")
    assert run.state == "success", states(run)
    result = json.loads(out.read_text())
    assert result["manual"]["qualified_name"] == result["text"]["qualified_name"] == "acme/churn/churn-model:v1"


def test_mapped_download_gives_each_version_its_own_folder(wandb_env: Any, run_dag: Any, out: Path) -> None:
    assert run_dag("values_mapped_download").state == "success"
    results = json.loads(out.read_text())["use"]
    assert [r["version"] for r in results] == ["v0", "v2"]
    paths = [Path(r["path"]) for r in results]
    assert paths[0] != paths[1] and not paths[0].is_relative_to(paths[1]) and not paths[1].is_relative_to(paths[0])
    api = sdk(wandb_env)
    for result, path in zip(results, paths, strict=True):
        expected = Path(api.artifact(result["qualified_name"]).download(root=str(out.parent / result["version"])))
        for name in ("README.md", "train.csv", "test.csv"):
            assert (path / name).read_bytes() == (expected / name).read_bytes(), (result["version"], name)
        assert path.parts[-5:] == (str(results.index(result)), "acme", "churn", "churn-dataset", result["version"])
    assert (paths[0] / "README.md").read_text() == "Churn dataset, snapshot 0.\n"
    assert (paths[1] / "README.md").read_text() == "Churn dataset, snapshot 2.\n"


def test_numbers_from_jinja_are_stored_and_gated_as_numbers(wandb_env: Any, run_dag: Any, out: Path) -> None:
    run = run_dag("values_jinja_numbers")
    assert states(run)["write"][0] == "success"
    assert states(run)["gate"][0] == "skipped"  # 200 >= 1000 is false; as text '200' >= '1000' would pass
    api = sdk(wandb_env)
    metadata = api.artifact("acme/churn/churn-model:candidate").metadata
    assert metadata["eval"]["latency_ms"] == 200 and isinstance(metadata["eval"]["latency_ms"], int)
    assert metadata["eval"]["accuracy"] == 0.895
    assert metadata["note"] == "0.5"  # written as text, stays text
    assert metadata["reviewer"] == "values_jinja_numbers"
    assert api.artifact("acme/churn/churn-model:production").version == "v1"


def test_number_like_text_is_never_compared_as_text(wandb_env: Any, run_dag: Any, out: Path) -> None:
    wandb_env.seed_artifact("text-metrics", {"m.txt": "m"}, type="model", project="churn", entity="acme",
                            metadata={"latency_ms": "200"})
    run = run_dag("values_text_number_gate")
    assert states(run)["gate"][0] == "skipped"  # '200' >= '1000' as text would pass
    assert "production" not in sdk(wandb_env).artifact("acme/churn/text-metrics:v0").aliases


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        pytest.param(lambda: UpdateArtifactAliasesOperator(task_id="t", artifact="a/b/c", add=["latest"]),
                     "'latest' is managed", id="add-latest"),
        pytest.param(lambda: UpdateArtifactAliasesOperator(task_id="t", artifact="a/b/c", remove="latest"),
                     "'latest' is managed", id="remove-latest"),
        pytest.param(lambda: UpdateArtifactAliasesOperator(task_id="t", artifact="a/b/c", add=["v3"]),
                     "looks like a version", id="add-version"),
        pytest.param(lambda: UpdateArtifactAliasesOperator(task_id="t", artifact="a/b/c", add=["p"],
                                                           on_gate_failure="ignore"),
                     "on_gate_failure", id="gate-outcome"),
        pytest.param(lambda: UpdateArtifactAliasesOperator(task_id="t", artifact="a/b/c", add=["p"],
                                                           only_if_current={"p": "11"}),
                     "only_if_current", id="guard-value"),
        pytest.param(lambda: UpdateArtifactAliasesOperator(task_id="t", artifact="a/b/c", add=["p"],
                                                           require={"acc": {"~": 1}}),
                     "unknown operator", id="gate-shape"),
        pytest.param(lambda: UseArtifactOperator(task_id="t", artifact="a/b/c", mode="chekout"),
                     "mode", id="mode"),
        pytest.param(lambda: UseArtifactOperator(task_id="t", artifact="a/b/c", max_workers=0),
                     "max_workers", id="max-workers"),
        pytest.param(lambda: UseArtifactOperator(task_id="t", artifact="a/b/c", verify="no"),
                     "verify", id="verify-type"),
        pytest.param(lambda: UseArtifactOperator(task_id="t", artifact="", include="*.csv"),
                     "artifact is empty", id="empty-artifact"),
        pytest.param(lambda: UseArtifactOperator(task_id="t", artifact="a/b/c", include=["*.csv", 3]),
                     "item 2 is int", id="include-item"),
        pytest.param(lambda: UpdateArtifactOperator(task_id="t", artifact="a/b/c", metadata_mode="deep"),
                     "metadata_mode", id="metadata-mode"),
        pytest.param(lambda: UpdateArtifactOperator(task_id="t", artifact="a/b/c", metadata=["x"]),
                     "metadata must be a dict", id="metadata-type"),
        pytest.param(lambda: LinkArtifactOperator(task_id="t", artifact="a/b/c", target="churn"),
                     "names no project or registry", id="bare-target"),
        pytest.param(lambda: LinkArtifactOperator(task_id="t", artifact="a/b/c", target="p/churn",
                                                  aliases=["latest"]),
                     "'latest' is managed", id="link-latest"),
        pytest.param(lambda: ArtifactVersionSensor(task_id="t", artifact="a/b/c", created_after="soon"),
                     "created_after", id="sensor-created-after"),
    ],
)
def test_arguments_written_in_the_dag_file_are_checked_at_parse_time(build: Any, problem: str) -> None:
    with pytest.raises(AirflowFailException, match=problem):
        build()


def test_templated_arguments_wait_for_rendering() -> None:
    UpdateArtifactAliasesOperator(task_id="t", artifact="{{ params.a }}", add="{{ params.aliases }}",
                                  only_if_current={"production": "{{ params.v }}"}, require="{{ params.gate }}")
    LinkArtifactOperator(task_id="l", artifact="a/b/c", target="{{ params.target }}")
    ArtifactVersionSensor(task_id="s", artifact="a/b/c", created_after="{{ data_interval_start }}")
