"""Airflow 3.1 to 3.3 from one module: moved names, features by release, and the connection form on every
release (these tests also run in the CI legs on the older releases)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from wandb_provider import _compat
from wandb_provider._compat_data import compatibility, release
from wandb_provider.get_provider_info import get_provider_info
from wandb_provider.hooks._extras import EXTRAS
from wandb_provider.hooks.wandb import WandbHook

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "wandb_provider"
MOVED = {"BaseHook", "conf", *(name for name in _compat.__all__ if name.startswith(("Airflow", "Task")))}
MOVED.discard("AirflowVersionError")


def _imports(path: Path) -> list[ast.ImportFrom]:
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)]


def test_names_that_moved_between_releases_come_only_from_the_compat_module() -> None:
    """Outside ``_compat`` no provider module takes a moved name from one release's home."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_compat.py" or "testing" in path.relative_to(PACKAGE).parts:
            continue  # the testing package drives core Airflow (database, connections) on purpose
        for node in _imports(path):
            module = node.module or ""
            if node.level or not module.startswith("airflow"):
                continue
            moved = {alias.name for alias in node.names} & MOVED
            if module in ("airflow.sdk.exceptions", "airflow.exceptions", "airflow.hooks.base",
                          "airflow.configuration") or moved:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} from {module} import ...")
    assert not offenders, "import these from wandb_provider._compat:\n" + "\n".join(offenders)


def test_the_outcome_exceptions_are_the_ones_airflow_handles() -> None:
    assert issubclass(_compat.AirflowFailException, _compat.AirflowException)
    assert issubclass(_compat.AirflowSkipException, _compat.AirflowException)
    assert issubclass(_compat.AirflowNotFoundException, _compat.AirflowException)
    from airflow import exceptions

    assert _compat.AirflowFailException is exceptions.AirflowFailException  # what the task runner catches
    assert _compat.conf.get("core", "dags_folder")


def test_a_feature_of_a_newer_release_is_refused_at_parse_time_naming_the_release(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compat, "airflow_version", lambda: (3, 2))
    assert not _compat.feature_available("shared-streams") and _compat.feature_available("hitl")
    with pytest.raises(_compat.AirflowVersionError) as caught:
        _compat.require_airflow("shared-streams", "ArtifactEventTrigger")
    assert "ArtifactEventTrigger needs the triggerer's shared streams" in str(caught.value)
    assert "Airflow 3.3 added; this is Airflow 3.2" in str(caught.value)
    assert "apache-airflow>=3.3" in str(caught.value)
    monkeypatch.setattr(_compat, "airflow_version", lambda: (3, 3))
    _compat.require_airflow("shared-streams", "ArtifactEventTrigger")
    with pytest.raises(KeyError):
        _compat.feature_available("time-travel")


def test_the_running_release_is_one_we_support() -> None:
    supported = [release(entry["release"]) for entry in compatibility()["airflow"]]
    assert _compat.airflow_version() in supported
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    entry = next(e for e in compatibility()["airflow"] if release(e["release"]) == _compat.airflow_version())
    assert python in entry["python"]


def test_openlineage_facets_import_with_or_without_openlineage() -> None:
    from wandb_provider._openlineage import WandbArtifactVersionDatasetFacet

    assert issubclass(WandbArtifactVersionDatasetFacet, _compat.DatasetFacet)
    with pytest.raises(AttributeError):
        _compat.__getattr__("NoSuchName")


# --- the connection form on every release ---------------------------------------------------------------

def test_the_hook_form_and_provider_info_come_from_the_same_declaration() -> None:
    """Airflow 3.1 reads the hook's classmethods, 3.2+ provider info: both say the same."""
    pytest.importorskip("wtforms")
    (connection,) = get_provider_info()["connection-types"]
    widgets = WandbHook.get_connection_form_widgets()
    assert list(widgets) == list(connection["conn-fields"]) == [extra.name for extra in EXTRAS]
    for extra in EXTRAS:
        widget = widgets[extra.name]
        assert widget.args[0] == extra.label and widget.kwargs["description"] == extra.help
        kind = {"boolean": "BooleanField", "integer": "IntegerField"}.get(extra.schema_type[0], "StringField")
        assert widget.field_class.__name__ == kind
    behaviour = WandbHook.get_ui_field_behaviour()
    assert {key.replace("_", "-"): value for key, value in behaviour.items()} == connection["ui-field-behaviour"]
    assert behaviour["hidden_fields"] == ["schema", "port", "login"]
    assert behaviour["relabeling"] == {"host": "W&B base URL", "password": "API key"}
    assert behaviour["placeholders"]["host"] == "https://api.wandb.ai"


def test_the_hook_behaviour_passes_airflows_own_schema() -> None:
    import json
    from importlib import resources

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("airflow").joinpath("customized_form_field_behaviours.schema.json").read_text())
    jsonschema.validate(WandbHook.get_ui_field_behaviour(), schema)


def test_airflow_lists_the_form_on_this_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Airflow itself makes of the form: the hook's methods before 3.2, provider info from 3.2."""
    pytest.importorskip("wtforms")
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    manager._cleanup()  # a fresh discovery, in this process
    manager.initialize_providers_list()
    # Only our provider's hooks: importing every installed provider's (Google's above all) takes seconds.
    manager._provider_dict = {name: info for name, info in manager._provider_dict.items()
                              if name == "airflow-provider-wandb"}
    try:
        manager.initialize_providers_hooks()
        assert manager.hooks["wandb"] is not None and manager.hooks["wandb"].hook_name == "Weights & Biases"
        fields = {key for key in manager.connection_form_widgets if key.startswith("extra__wandb__")}
        assert fields == {f"extra__wandb__{extra.name}" for extra in EXTRAS}
        behaviour = manager.field_behaviours["wandb"]
        assert behaviour["hidden_fields"] == ["schema", "port", "login"]
        assert behaviour["relabeling"]["password"] == "API key"
    finally:
        manager._cleanup()  # the next user of the manager discovers every provider again
