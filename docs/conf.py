"""Sphinx configuration of the airflow-provider-wandb documentation (built by ``scripts/docs.sh``)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

# autodoc imports the provider and so Airflow, which reads AIRFLOW_HOME when first imported:
# never let a docs build create or read ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="wandb-provider-docs-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import wandb_provider  # noqa: E402

project = "airflow-provider-wandb"
author = "airflow-provider-wandb contributors"
copyright = "the airflow-provider-wandb contributors"
version = release = wandb_provider.__version__

extensions = ["sphinx.ext.autodoc", "wandb_docs", "snippet_width"]
exclude_patterns = ["_build"]
templates_path: list[str] = []
root_doc = "index"

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_class_signature = "separated"
autodoc_default_options = {"exclude-members": "__init__, __new__"}

html_theme = "alabaster"
html_title = f"airflow-provider-wandb {release}"
html_theme_options = {
    "description": "Apache Airflow provider for Weights & Biases Artifacts",
    "fixed_sidebar": True,
    "page_width": "1240px",  # a 1280-pixel window shows code lines of 80 characters unwrapped
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_static_path = ["_static"]
html_css_files = ["snippets.css"]  # code blocks wrap: every snippet is read whole (snippet_width checks)

# Names in docstrings that are Airflow's, not ours: there is no Airflow inventory to link them to.
nitpick_ignore_regex = [(r"py:.*", r"Airflow\w*")]
