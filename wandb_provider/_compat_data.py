"""``compatibility.json`` read, and the README/docs compatibility table rendered from it.

The same file names the CI legs (``scripts/compat.sh``) and the releases features need
(``wandb_provider._compat``), so the table says what CI runs. Standard library only.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def compatibility() -> dict[str, Any]:
    """Supported Airflow releases with their Python versions, features by release, and the CI legs."""
    data: dict[str, Any] = json.loads(resources.files(__package__).joinpath("compatibility.json").read_text())
    return data


def release(text: str) -> tuple[int, int]:
    """``"3.1.8"`` or ``"3.1"`` -> ``(3, 1)``."""
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _ci(airflow: dict[str, Any]) -> str:
    data = compatibility()
    runs = []
    if release(data["main"]["airflow"]) == release(airflow["release"]):
        runs.append(f"{data['main']['runs']} on {data['main']['airflow']}, Python {data['main']['python']}")
    for leg in data["legs"]:
        if release(leg["airflow"]) == release(airflow["release"]):
            when = "" if leg["ci"] else " (on demand)"
            runs.append(f"leg `{leg['name']}`{when} on {leg['airflow']}, Python {leg['python']}")
    return "; ".join(runs) or "—"


def table_rows() -> tuple[list[str], list[list[str]]]:
    """The table's header and rows: one row per Airflow release."""
    data = compatibility()
    header = ["Airflow", "Python", *(feature["column"] for feature in data["features"]), "CI"]
    rows = []
    for airflow in data["airflow"]:
        pythons = airflow["python"]
        row = [f"{airflow['release']} (tested {airflow['tested']})", f"{pythons[0]} to {pythons[-1]}"]
        for feature in data["features"]:
            row.append("yes" if release(airflow["release"]) >= release(feature["since"])
                       else f"no (needs {feature['since']})")
        rows.append([*row, _ci(airflow)])
    return header, rows


def markdown_table() -> str:
    """The README's compatibility table."""
    header, rows = table_rows()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
