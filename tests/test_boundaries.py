"""The layers' boundaries (README "Layout"), read from the source:

* only ``wandb_provider/client/`` imports the client's private modules (``wandb_provider.client._x``):
  the Airflow layer, the command line, the local server and the examples use its public API;
  nor names one in a string (``importlib.import_module``, ``mock.patch`` targets);
* the client never names Airflow: no import of it, and no ``airflow`` in its code (names and strings;
  docstrings and comments may say what its callers are). The distribution's own name,
  ``airflow-provider-wandb`` (user agent, cache folder, ``pip install`` hints), is not Airflow. Nor
  does a name in its code use Airflow's vocabulary: connection ids (``aws_conn_id``), DAGs, XComs,
  task instances, recording tasks as runs (``record_runs``): those settings belong to the hooks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wandb_provider"
CLIENT = PACKAGE / "client"
# Code that ships or that users copy: everything but the client itself, and the tests.
OUTSIDE = [PACKAGE, ROOT / "dags_examples", ROOT / "bench", ROOT / "e2e"]
_AIRFLOW = re.compile(r"airflow(?!-provider-wandb)", re.IGNORECASE)
# Airflow's vocabulary in a name (not in text: an error message may tell a DAG author what to check).
_AIRFLOW_NAME = re.compile(r"conn_id|(^|_)(dags?|xcoms?|task_instance|ti)(_|$)|record_runs?", re.IGNORECASE)
_PRIVATE_IN_TEXT = re.compile(r"\bwandb_provider\.client\._(?!_)\w+")


def _sources(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from sorted(p for p in root.rglob("*.py") if ".venv" not in p.parts)


def _module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imported(path: Path, tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``tree`` (relative imports resolved), and of
    every ``from package import _name`` as ``package._name``."""
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            yield node.lineno, base
            for alias in node.names:  # ``from package import _module``
                if alias.name.startswith("_"):
                    yield node.lineno, f"{base}.{alias.name}"


def _private_client_module(module: str) -> bool:
    parts = module.split(".")
    return parts[:2] == ["wandb_provider", "client"] and len(parts) > 2 and parts[2].startswith("_") \
        and not parts[2].startswith("__")


def test_only_the_client_imports_its_private_modules() -> None:
    offenders = []
    for path in _sources(*OUTSIDE):
        if path.is_relative_to(CLIENT):
            continue
        tree = ast.parse(path.read_text(), str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line}: {module}" for line, module in _imported(path, tree)
                      if _private_client_module(module)]
        offenders += [f"{path.relative_to(ROOT)}:{line}: {text!r}" for line, text in _private_in_strings(tree)]
    assert offenders == [], "outside wandb_provider/client/, use the client's public API:\n" + "\n".join(offenders)


def _private_in_strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """String constants that name a private client module (an import or a patch by name)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _PRIVATE_IN_TEXT.search(node.value):
            yield node.lineno, node.value


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                   ast.ClassDef)))]
    found = set()
    for node in nodes:
        body = getattr(node, "body", [])
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            found.add(id(body[0].value))
    return found


def _airflow_in_code(tree: ast.AST) -> Iterator[tuple[int, str]]:
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        texts: list[str] = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            texts.append(node.value)
        elif isinstance(node, ast.Name):
            texts.append(node.id)
        elif isinstance(node, ast.Attribute):
            texts.append(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            texts.append(node.name)
        elif isinstance(node, ast.arg) or (isinstance(node, ast.keyword) and node.arg):
            texts.append(node.arg)
        for text in texts:
            if _AIRFLOW.search(text):
                yield getattr(node, "lineno", 0), text
        if isinstance(node, ast.Name | ast.Attribute | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                      | ast.arg | ast.keyword):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) \
                else node.arg if isinstance(node, ast.arg | ast.keyword) else node.name
            if name and _AIRFLOW_NAME.search(name) and not _AIRFLOW.search(name):
                yield getattr(node, "lineno", 0), name


def test_the_client_never_names_airflow() -> None:
    offenders = []
    for path in _sources(CLIENT):
        tree = ast.parse(path.read_text(), str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line}: imports {module}" for line, module in _imported(path, tree)
                      if module.split(".")[0] == "airflow"]
        offenders += [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}" for line, text in _airflow_in_code(tree)]
    assert offenders == [], "the client is framework-free (README 'Layout'):\n" + "\n".join(offenders)


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    """The two checks above would catch an offender (so that an empty list means something)."""
    sample = PACKAGE / "hooks" / "sample.py"
    tree = ast.parse("from ..client._redact import scrub\nfrom ..client import errors\n")
    assert [m for _, m in _imported(sample, tree) if _private_client_module(m)] == ["wandb_provider.client._redact"]
    tree = ast.parse('importlib.import_module("wandb_provider.client._reads")\nx = "wandb_provider.client.errors"\n')
    assert [t for _, t in _private_in_strings(tree)] == ["wandb_provider.client._reads"]
    tree = ast.parse('"""Called by Airflow."""\nhook = "aws_conn_id of apache-airflow-providers-amazon"\n'
                     'agent = "airflow-provider-wandb/1"\n')
    assert [t for _, t in _airflow_in_code(tree)] == ["aws_conn_id of apache-airflow-providers-amazon"]
    tree = ast.parse('def store(aws_conn_id: str, record_runs: bool = True) -> None:\n'
                     '    config.record_runs = ti.xcom_pull(dag_id="d")\n'
                     'message = "an xcom_pull of a task that does not exist?"\nconnect_timeout = 1\n')
    assert sorted(t for _, t in _airflow_in_code(tree)) == ["aws_conn_id", "dag_id", "record_runs", "record_runs",
                                                            "ti", "xcom_pull"]
