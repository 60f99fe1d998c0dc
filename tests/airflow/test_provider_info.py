"""Provider registration: schema-valid info, matching package name, listed by the Airflow CLI."""

from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
import sys
from importlib.metadata import distribution

import jsonschema
import pytest
from packaging.utils import canonicalize_name

from wandb_provider.get_provider_info import get_provider_info


def test_provider_info_matches_airflow_schema() -> None:
    schema = json.loads(importlib.resources.files("airflow").joinpath("provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == canonicalize_name(distribution("airflow-provider-wandb").metadata["name"])


def test_connection_form_is_declared() -> None:
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == "wandb"
    assert conn["ui-field-behaviour"]["relabeling"] == {"host": "W&B base URL", "password": "API key"}
    assert set(conn["conn-fields"]) == {"entity", "project", "timeout", "deadline", "max_retries", "verify_ssl",
                                      "cache_dir", "cache_max_bytes", "allowed_file_reference_roots",
                                      "allowed_reference_hosts", "record_runs", "deployment",
                                      "identity_token_file"}


@pytest.mark.full
def test_airflow_lists_the_provider() -> None:
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    out = subprocess.run([airflow, "providers", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "airflow-provider-wandb" in out.stdout
