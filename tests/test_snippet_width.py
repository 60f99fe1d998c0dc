"""The docs build's width check (docs/_ext/snippet_width.py) finds code lines too long for a 1280-pixel window."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))

import snippet_width


def test_long_code_lines_are_found_and_short_ones_and_prose_are_not() -> None:
    long = "x" * (snippet_width.MAX_SNIPPET_CHARS + 1)
    page = (f"<p>{long}</p><pre><span>short</span>\n<span>{long}</span></pre>"
            f"<pre>{'y' * snippet_width.MAX_SNIPPET_CHARS}</pre>")
    assert snippet_width.long_lines(page) == [(len(long), long)]
    assert snippet_width.long_lines("<pre>a &lt;= b</pre>") == []


def test_the_stylesheet_makes_code_blocks_wrap() -> None:
    css = Path(__file__).resolve().parents[1] / "docs" / snippet_width.STYLESHEET
    assert snippet_width.WRAP_RULE in css.read_text()
