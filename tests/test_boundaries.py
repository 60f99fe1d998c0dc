"""The layers' boundaries (README "Layout"), read from the source:

* only ``wandb_provider/client/`` imports the client's private modules (``wandb_provider.client._x``):
  the Airflow layer, the command line, the local server and the examples use its public API;
* the client never names Airflow: no import of it, and no ``airflow`` in its code (names and strings;
  docstrings and comments may say what its callers are). The distribution's own name,
  ``airflow-provider-wandb`` (user agent, cache folder, ``pip install`` hints), is not Airflow.
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
    assert offenders == [], "outside wandb_provider/client/, use the client's public API:\n" + "\n".join(offenders)


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
    tree = ast.parse('"""Called by Airflow."""\nhook = "aws_conn_id of apache-airflow-providers-amazon"\n'
                     'agent = "airflow-provider-wandb/1"\n')
    assert [t for _, t in _airflow_in_code(tree)] == ["aws_conn_id of apache-airflow-providers-amazon"]
