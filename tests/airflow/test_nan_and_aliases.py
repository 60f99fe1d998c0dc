"""NaN metadata is refused with a typed error at parse time or right after rendering (never a raw
ValueError in Airflow's rendered-fields step); an alias with a comma is refused, not taken as one."""

from __future__ import annotations

import math

import pytest

from wandb_provider._compat import AirflowFailException
from wandb_provider._values import InvalidValueError, refuse_non_finite
from wandb_provider.client import InvalidArtifactPathError, WandbClient
from wandb_provider.operators.artifacts import UpdateArtifactAliasesOperator, UpdateArtifactOperator
from wandb_provider.operators.produce import LogArtifactOperator

pytestmark = pytest.mark.wandb_server(seed="demo")


@pytest.mark.parametrize("make", [
    pytest.param(lambda: UpdateArtifactOperator(task_id="u", artifact="a/b/c:v0", metadata={"eval": {"acc": math.nan}}),
                 id="update"),
    pytest.param(lambda: LogArtifactOperator(task_id="l", name="p/c", type="dataset", files="x.csv",
                                             metadata={"acc": math.inf}), id="log"),
])
def test_nan_metadata_written_in_the_dag_file_fails_at_parse_time(make) -> None:
    with pytest.raises(AirflowFailException, match="NaN"):
        make()


def test_the_check_names_where_the_nan_sits() -> None:
    with pytest.raises(InvalidValueError, match=r"metadata\['eval'\]\['acc'\] is NaN"):
        refuse_non_finite("metadata", {"eval": {"acc": math.nan}, "ok": [1.0]})


def test_a_template_rendering_nan_is_a_typed_error_at_rendering() -> None:
    """(Airflow's XComs cannot hold NaN; a macro or a param can.) The render step raises our typed
    error, before Airflow's rendered-fields step would raise a raw ValueError."""
    import pendulum
    from airflow.sdk import DAG

    with DAG("nan_render", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             render_template_as_native_obj=True):
        update = UpdateArtifactOperator(task_id="u", artifact="a/b/c:v0", metadata={"acc": "{{ score }}"})
    with pytest.raises(InvalidValueError, match=r"metadata\['acc'\] is NaN"):
        update.render_template_fields({"score": math.nan})


def test_an_alias_with_a_comma_is_refused_with_the_list_it_meant(wandb_env) -> None:
    with pytest.raises(AirflowFailException, match=r"\['prod', 'staging'\]"):
        UpdateArtifactAliasesOperator(task_id="a", artifact="a/b/c:v0", add="prod,staging")
    with pytest.raises(AirflowFailException, match="comma"):
        LogArtifactOperator(task_id="l", name="p/c", type="dataset", files="x.csv", aliases="prod,staging")
    with WandbClient(wandb_env.base_url, wandb_env.api_key) as client:
        with pytest.raises(InvalidArtifactPathError, match="comma"):
            client.update_aliases("acme/churn/churn-model:v2", add="prod,staging")
        assert "prod,staging" not in client.artifact("acme/churn/churn-model:v2").aliases
