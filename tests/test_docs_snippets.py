"""The documentation quotes only code that the test suite runs, and its markers and citations resolve.

Every ``literalinclude`` in ``docs/`` must name a file of this repository and ``[START x]``/``[END x]``
markers found there once each, in order, around some code; the file must be a test module or an
example DAG that a named test runs. Code comments that cite a page (``docs/<page>.rst``) must cite
one that exists. The Sphinx build itself (``scripts/docs.sh``, warnings as errors) checks the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Example DAG -> (the test that runs it, text in that test that shows it runs this DAG).
RUN_BY = {
    "dags_examples/model_promotion.py": ("tests/test_main_job.py", "model_promotion succeeded"),
    "dags_examples/operators_tour.py": ("tests/test_operators_tour.py", 'get_dag("operators_tour").test()'),
    "dags_examples/evaluate_on_candidate.py": ("tests/test_operators_tour.py",
                                               'get_dag("evaluate_on_candidate").test()'),
    "dags_examples/data_pipeline.py": ("tests/test_data_pipeline.py", '"dags", "test", "data_pipeline"'),
}
_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. literalinclude::[ \t]*(?P<path>\S+)[ \t]*\n"
                        r"(?P<options>(?:(?P=indent)[ \t]+:[\w-]+:.*\n?)*)", re.MULTILINE)
_OPTION = re.compile(r"^[ \t]+:(?P<name>[\w-]+):[ \t]*(?P<value>.*?)[ \t]*$", re.MULTILINE)
_CITATION = re.compile(r"docs/[\w./-]+\.rst")


def _includes() -> list[tuple[Path, Path, dict[str, str]]]:
    found = []
    for page in sorted(DOCS.rglob("*.rst")):
        if "_build" in page.parts:
            continue
        for match in _DIRECTIVE.finditer(page.read_text()):
            options = {m["name"]: m["value"] for m in _OPTION.finditer(match["options"])}
            found.append((page, (page.parent / match["path"]).resolve(), options))
    return found


INCLUDES = _includes()


def _id(include: tuple[Path, Path, dict[str, str]]) -> str:
    page, target, options = include
    return f"{page.relative_to(DOCS)}:{options.get('start-after', target.name)}"


def test_the_docs_include_code() -> None:
    assert len(INCLUDES) >= 15  # a page per operator, sensor and trigger, and the guides


@pytest.mark.parametrize("include", INCLUDES, ids=_id)
def test_each_snippet_is_marked_code_from_a_file_that_a_test_runs(include: tuple[Path, Path, dict[str, str]]) -> None:
    page, target, options = include
    assert target.is_relative_to(ROOT) and target.is_file(), f"{page.name} includes {target}, not a file of the repo"
    relative = target.relative_to(ROOT).as_posix()
    if relative.startswith("tests/"):
        assert target.name.startswith("test_"), f"{relative} is not a test module that pytest runs"
    else:
        assert relative in RUN_BY, f"{page.name} quotes {relative}, which no test is known to run (see RUN_BY)"
        runner, evidence = RUN_BY[relative]
        assert evidence in (ROOT / runner).read_text(), f"{runner} no longer runs {relative}"

    start, end = options.get("start-after", ""), options.get("end-before", "")
    assert start.startswith("[START ") and end == start.replace("[START ", "[END ", 1), (
        f"{page.name}: quote {relative} between [START x] and [END x] markers, not {start!r}/{end!r}")
    text = target.read_text()
    assert text.count(start) == 1 and text.count(end) == 1, f"{relative}: {start} and {end} must occur once each"
    quoted = text[text.index(start) + len(start):text.index(end)]
    code = [line for line in quoted.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert code, f"{relative}: nothing but comments between {start} and {end}"


def test_markers_in_examples_and_tests_are_balanced() -> None:
    for path in [*sorted((ROOT / "dags_examples").glob("*.py")), *sorted((ROOT / "tests").rglob("*.py"))]:
        if path.name == Path(__file__).name:
            continue
        text = path.read_text()
        starts = re.findall(r"#\s*\[START (\w+)\]", text)
        ends = re.findall(r"#\s*\[END (\w+)\]", text)
        assert sorted(starts) == sorted(ends), f"{path.relative_to(ROOT)}: unmatched markers"
        assert len(set(starts)) == len(starts), f"{path.relative_to(ROOT)}: a marker is used twice"


def test_the_connection_page_generates_its_table_of_extras() -> None:
    """Not a copy: the page uses the directive that reads ``hooks/_extras.py``."""
    assert ".. wandb-connection-extras::" in (DOCS / "connection.rst").read_text()


def test_pages_cited_in_code_exist() -> None:
    cited = set()
    for folder in ("wandb_provider", "tests", "dags_examples", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".sh", ".md"} and path.is_file():
                cited.update(_CITATION.findall(path.read_text(errors="replace")))
    for text in (ROOT / "README.md", ROOT / "CHANGELOG.md"):
        if text.exists():
            cited.update(_CITATION.findall(text.read_text()))
    missing = sorted(page for page in cited if not (ROOT / page).is_file())
    assert not missing, f"cited but not in docs/: {missing}"
