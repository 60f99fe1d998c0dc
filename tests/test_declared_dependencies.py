"""Declared = imported: every third-party module the provider imports comes from a distribution that
``pyproject.toml`` declares, in the dependencies or in the extra of the feature that imports it."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wandb_provider"

# Parts of the provider that belong to an extra: what they import may come from that extra. Elsewhere a
# module-level import must be a dependency, and an import inside a function (a feature that an extra
# turns on) a dependency or in some extra.
EXTRA_OF_MODULE = {"testing": "testing", "cli": "cli", "assets.py": "openlineage"}
# Distributions of top-level names whose distribution is not named as they are.
DISTRIBUTION = {"attr": "attrs", "graphql": "graphql-core", "yaml": "pyyaml", "botocore": "botocore"}
# What the provider's modules may import although no extra declares it, and why.
NOT_DECLARED = {
    "pytest": "only wandb_provider.testing.pytest_plugin, which pytest itself loads",
    "botocore": "typing of S3 errors, from the Amazon provider the amazon extra installs",
    "google": "the GCS client, from the Google provider the google extra installs",
    "openlineage": "openlineage-python, from the OpenLineage provider the openlineage extra installs",
}


def _requirements() -> tuple[set[str], dict[str, set[str]]]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}

    extras = {extra: names(reqs) for extra, reqs in project["optional-dependencies"].items()}
    return names(project["dependencies"]), extras


def _distribution(module: str) -> str:
    """The distribution that provides ``module`` (e.g. ``airflow.providers.amazon.aws`` ->
    ``apache-airflow-providers-amazon``)."""
    parts = module.split(".")
    if parts[0] == "airflow":
        if parts[1:2] == ["providers"]:
            name = "-".join(parts[2:4]) if parts[2] == "common" else parts[2]
            return f"apache-airflow-providers-{name}"
        return "apache-airflow"
    return DISTRIBUTION.get(parts[0], parts[0]).lower()


def _imports() -> list[tuple[Path, str, bool]]:
    """``(file, module, inside a function)`` of every runtime import of a third-party module."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
        lazy = {id(node) for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                for node in ast.walk(function)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules = [node.module]
            else:
                continue
            if id(node) in typing_only:
                continue
            found += [(path, module, id(node) in lazy) for module in modules
                      if module.split(".")[0] not in (*sys.stdlib_module_names, "wandb_provider")]
    return found


def _extra_for(path: Path) -> str | None:
    relative = path.relative_to(PACKAGE).as_posix()
    for prefix, extra in EXTRA_OF_MODULE.items():
        if relative == prefix or relative.startswith(prefix + "/"):
            return extra
    return None


def test_every_imported_distribution_is_declared() -> None:
    core, extras = _requirements()
    undeclared = []
    for path, module, lazy in _imports():
        distribution = _distribution(module)
        if module.split(".")[0] in NOT_DECLARED or distribution in core:
            continue
        extra = _extra_for(path)
        wanted = {extra} if extra else set(extras) if lazy else set()
        if not any(distribution in extras.get(name, set()) for name in wanted):
            undeclared.append(f"{path.relative_to(ROOT)}: {module} ({distribution})")
    assert not undeclared, "declare these in pyproject.toml (dependencies or the feature's extra):\n" + "\n".join(
        sorted(set(undeclared)))


def test_the_client_transport_and_retries_are_dependencies() -> None:
    core, _ = _requirements()
    assert {"urllib3", "certifi", "attrs", "tenacity", "requests", "wtforms"} <= core


def test_what_the_readme_and_client_say_the_transport_is() -> None:
    client_doc = (PACKAGE / "client" / "__init__.py").read_text().split('"""')[1]
    assert "urllib3" in client_doc and "requests" not in client_doc
    assert "`requests` + `tenacity`" not in (ROOT / "README.md").read_text()
