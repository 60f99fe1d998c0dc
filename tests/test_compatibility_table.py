"""The compatibility table of the README and docs is generated from compatibility.json, which also
names the CI legs; pyproject.toml states exactly the Airflow and Python ranges it lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wandb_provider._compat_data import compatibility, markdown_table, release

ROOT = Path(__file__).resolve().parents[1]


def test_readme_table_is_the_generated_one() -> None:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- compatibility:start[^>]*-->\n(.*?)\n<!-- compatibility:end -->", text, re.S)
    assert block, "README has no compatibility block"
    assert block.group(1) == markdown_table(), "README table is stale: paste _compat_data.markdown_table()"


def test_docs_generate_the_table_from_the_same_data() -> None:
    assert ".. wandb-compatibility::" in (ROOT / "docs" / "compatibility.rst").read_text()
    assert "compatibility" in (ROOT / "docs" / "index.rst").read_text()


def test_pyproject_states_exactly_the_tested_ranges() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    data = compatibility()
    oldest, newest = data["airflow"][0], data["airflow"][-1]
    major, minor = release(newest["release"])
    assert f"apache-airflow>={oldest['tested']},<{major}.{minor + 1}" in project["dependencies"]
    pythons = sorted({p for entry in data["airflow"] for p in entry["python"]}, key=lambda p: release(p))
    low, high = release(pythons[0]), release(pythons[-1])
    assert project["requires-python"] == f">={pythons[0]},<{high[0]}.{high[1] + 1}"
    classified = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if re.search(r"Python :: 3\.\d+$", c)]
    assert classified == pythons and low <= release("3.10")
    legs = {(leg["airflow"], leg["python"]) for leg in data["legs"]}
    assert (oldest["tested"], oldest["python"][0]) in legs, "CI must run the oldest release on its lowest Python"
    for leg in data["legs"]:
        entry = next(e for e in data["airflow"] if release(e["release"]) == release(leg["airflow"]))
        assert leg["airflow"] == entry["tested"] and leg["python"] in entry["python"]
