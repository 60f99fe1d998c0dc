"""The ``wandb`` connection: one declaration of its extras drives parsing, the form and the README;
values that cannot be used fail with a message naming the field."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import ClientConfig
from wandb_provider.get_provider_info import get_provider_info
from wandb_provider.hooks._extras import EXTRAS, markdown_table
from wandb_provider.hooks.wandb import ConnectionConfigError, WandbHook

KEY = "SECRETKEYMARKER-" + "k" * 40
README = Path(__file__).resolve().parents[2] / "README.md"


def _connect(monkeypatch: pytest.MonkeyPatch, conn_id: str = "wandb_default", **fields: Any) -> WandbHook:
    conn = {"conn_type": "wandb", "password": KEY, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return WandbHook(wandb_conn_id=conn_id)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timeout", "nan"),
        ("timeout", "inf"),
        ("timeout", "-1"),
        ("timeout", "abc"),
        ("timeout", 0),
        ("timeout", True),
        ("deadline", "NaN"),
        ("deadline", "-Infinity"),
        ("max_retries", "3.5"),
        ("max_retries", -1),
        ("max_retries", "lots"),
        ("max_retries", 10_000),
        ("cache_max_bytes", "1e9"),
        ("cache_max_bytes", 0),
        ("verify_ssl", "Flase"),
        ("verify_ssl", "/no/such/ca-bundle.pem"),
        ("verify_ssl", "relative/ca.pem"),
        ("entity", "not an entity"),
        ("project", "a/b"),
        ("cache_dir", "relative/cache"),
        ("allowed_file_reference_roots", "data/relative"),
        ("allowed_file_reference_roots", 7),
        ("allowed_reference_hosts", "http://10.0.0.1/"),
        ("allowed_reference_hosts", "10.0.0.0/99"),
    ],
)
def test_bad_extras_fail_naming_the_extra(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    hook = _connect(monkeypatch, host="https://wandb.example.com", extra={name: value})
    with pytest.raises(ConnectionConfigError, match=f"extra '{name}'") as info:
        hook.get_config()
    assert not info.value.transient and KEY not in str(info.value)
    ok, message = hook.test_connection()
    assert not ok and name in message and KEY not in message


def test_a_key_pasted_into_an_extra_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConnectionConfigError, match="extra 'entity'") as info:
        _connect(monkeypatch, extra={"entity": f"acme {KEY}"}).get_config()
    assert KEY not in str(info.value)


def test_good_extras_are_typed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    extra = {"timeout": "12.5", "deadline": 30, "max_retries": "2", "verify_ssl": str(bundle),
             "cache_max_bytes": "1000", "entity": "acme", "project": "churn", "cache_dir": str(tmp_path / "c"),
             "allowed_file_reference_roots": f"{tmp_path}/data, {tmp_path}/more",
             "allowed_reference_hosts": '["10.0.0.0/8", "Minio.internal"]'}
    config = _connect(monkeypatch, host="https://wandb.example.com", extra=extra).get_config()
    assert (config.timeout, config.deadline, config.max_retries, config.cache_max_bytes) == (12.5, 30.0, 2, 1000)
    assert config.verify == str(bundle) and config.entity == "acme" and config.project == "churn"
    assert config.allowed_file_reference_roots == (f"{tmp_path}/data", f"{tmp_path}/more")
    assert config.allowed_reference_hosts == ("10.0.0.0/8", "minio.internal")


@pytest.mark.parametrize(("text", "verify"), [("false", False), ("No", False), ("0", False), (" TRUE ", True),
                                              (False, False), ("", True)])
def test_verify_ssl_booleans(monkeypatch: pytest.MonkeyPatch, text: Any, verify: bool) -> None:
    assert _connect(monkeypatch, extra={"verify_ssl": text}).get_config().verify is verify


def test_empty_extras_mean_defaults_and_old_form_keys_work(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _connect(monkeypatch, extra={"timeout": "", "max_retries": None,
                                          "extra__wandb__deadline": "45"}).get_config()
    assert config.timeout == ClientConfig().timeout and config.max_retries == ClientConfig().max_retries
    assert config.deadline == 45.0


def test_unknown_extras_are_named_but_not_shown(monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    _connect(monkeypatch, extra={"api_key": KEY, "timout": 5}).get_config()
    text = " ".join(record.getMessage() for record in caplog.records)
    assert "api_key" in text and "timout" in text and KEY not in text


@pytest.mark.newer_airflow  # Airflow 3.0 itself refuses such a connection first ("isn't defined")
def test_extra_that_is_not_a_json_object_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConnectionConfigError, match="extra field is not a JSON object"):
        _connect(monkeypatch, extra="timeout=5").get_config()


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"host": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
        ({"host": "http://127.0.0.1:8080", "port": 8080}, "http://127.0.0.1:8080"),
        ({"host": "http://127.0.0.1", "port": 8080}, "http://127.0.0.1:8080"),
        ({"host": "127.0.0.1", "port": 8080, "schema": "http"}, "http://127.0.0.1:8080"),
        ({"host": "wandb.example.com/"}, "https://wandb.example.com"),
        ({"host": "https://wandb.example.com/api/"}, "https://wandb.example.com/api"),
        ({}, "https://api.wandb.ai"),
    ],
)
def test_base_url_from_host_schema_and_port(monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any],
                                            url: str) -> None:
    assert _connect(monkeypatch, **fields).get_config().base_url == url


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"host": "http://127.0.0.1:8080", "port": 9090}, "port"),
        ({"host": "http://127.0.0.1:99999"}, "port"),
        ({"port": 8080}, "host is empty"),
        ({"host": "ftp://files.example.com"}, "host"),
        ({"host": "wandb.example.com", "schema": "postgres"}, "schema"),
        ({"host": "https://user:pw@wandb.example.com"}, "credentials"),
        ({"host": "https://wandb.example.com/?token=abc"}, "query"),
    ],
)
def test_bad_host_or_port_fails_naming_it(monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any],
                                          field: str) -> None:
    with pytest.raises(ConnectionConfigError, match=field) as info:
        _connect(monkeypatch, **fields).get_config()
    assert "pw" not in str(info.value) and "token=abc" not in str(info.value)


def test_uri_connection_with_port_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_URI", f"wandb://:{KEY}@127.0.0.1:8080/http?timeout=nan")
    with pytest.raises(ConnectionConfigError, match="extra 'timeout'"):
        WandbHook(wandb_conn_id="wandb_uri").get_config()


def test_declared_defaults_are_the_clients() -> None:
    fields = {f.name: f for f in dataclasses.fields(ClientConfig)}
    for extra in EXTRAS:
        if extra.field in ("record_runs", "deployment"):  # the hook's own settings (the client never names Airflow)
            assert extra.default is getattr(WandbHook, extra.field)
            continue
        assert extra.field in fields, extra.name
        assert extra.default == fields[extra.field].default, extra.name


def test_form_and_readme_come_from_the_declaration() -> None:
    (conn,) = get_provider_info()["connection-types"]
    assert list(conn["conn-fields"]) == [extra.name for extra in EXTRAS]
    for extra in EXTRAS:
        field = conn["conn-fields"][extra.name]
        assert field["description"] == extra.help and field["label"] == extra.label
    block = re.search(r"<!-- connection-extras:start[^>]*-->\n(.*?)\n<!-- connection-extras:end -->",
                      README.read_text(), re.S)
    assert block is not None, "the README lost its connection table markers"
    assert block.group(1) == markdown_table(), "README table is stale: paste hooks._extras.markdown_table()"


def test_download_root_config_is_declared_and_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from wandb_provider._airflow import download_base, translate_errors
    from wandb_provider._compat import AirflowFailException

    option = get_provider_info()["config"]["wandb"]["options"]["download_root"]
    assert option["type"] == "string"
    monkeypatch.setenv("AIRFLOW__WANDB__DOWNLOAD_ROOT", str(tmp_path / "from-config"))
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(tmp_path / "from-env"))
    assert download_base() == tmp_path / "from-config"
    monkeypatch.setenv("AIRFLOW__WANDB__DOWNLOAD_ROOT", "relative/folder")
    with pytest.raises(AirflowFailException, match=r"\[wandb\] download_root"), translate_errors():
        download_base()


@pytest.mark.wandb_server(seed="demo")
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        pytest.param({"extra": {"timeout": "nan"}}, "extra 'timeout'", id="timeout-nan"),
        pytest.param({"extra": {"verify_ssl": "Flase"}}, "extra 'verify_ssl'", id="verify-flase"),
        pytest.param({"port": 1}, "port 1 disagrees", id="port-twice"),
    ],
)
def test_bad_connection_fails_the_task_once_without_requests(
        wandb_env: Any, run_dag: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        tmp_path: Path, fields: dict[str, Any], named: str) -> None:
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(tmp_path / "downloads"))
    conn = {"conn_type": "wandb", "host": wandb_env.base_url, "password": wandb_env.api_key, **fields}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_BAD", json.dumps(conn))
    wandb_env.reset_stats()
    run = run_dag("values_bad_connection")
    (ti,) = run.get_task_instances()
    assert run.state == "failed" and ti.try_number == 1  # retries=2, but a retry cannot help
    assert wandb_env.stats()["graphql"]["total"] == 0
    assert named in capfd.readouterr().out
