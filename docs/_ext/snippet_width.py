"""Checks, after an HTML build, that every code block is read whole at a 1280-pixel-wide window.

* Every page with a code block links ``_static/snippets.css``, whose rule makes code blocks wrap
  instead of clipping a long ``require=`` or ``only_if_current=`` value at the right edge; a page
  without it, or a stylesheet without the rule, is a build warning (an error under ``-W``).
* On the pages in ``STRICT_PAGES`` no code line is longer than ``MAX_SNIPPET_CHARS`` characters
  (what fits the text column at 1280 pixels without wrapping), so those snippets read as written.
  Elsewhere long lines are counted in the build log: they wrap.
* When a headless Chromium is installed, ``SCREENSHOT_PAGES`` are shot at 1280 pixels into
  ``_build/html/_screenshots/`` for a person to look at; without one that step is skipped and
  says so (the checks above still run).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

MAX_SNIPPET_CHARS = 80  # measured: what a 1280-pixel window shows unwrapped (conf.py's page_width)
STRICT_PAGES = ("operators/promote.html",)
STYLESHEET = "_static/snippets.css"
WRAP_RULE = "white-space: pre-wrap"
WINDOW = "1280,2400"
SCREENSHOT_PAGES = ("index.html", "operators/promote.html")
_PRE = re.compile(r"<pre[^>]*>(.*?)</pre>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
log = logging.getLogger(__name__)


def long_lines(page: str) -> list[tuple[int, str]]:
    """``(length, line)`` of each code-block line of an HTML page longer than ``MAX_SNIPPET_CHARS``."""
    found = []
    for block in _PRE.findall(page):
        for line in html.unescape(_TAG.sub("", block)).splitlines():
            if len(line.rstrip()) > MAX_SNIPPET_CHARS:
                found.append((len(line.rstrip()), line.rstrip()))
    return found


def check_widths(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    root = Path(app.outdir)
    css = root / STYLESHEET
    if not css.is_file() or WRAP_RULE not in css.read_text(encoding="utf-8"):
        log.warning("snippet_width: %s is missing or lacks %r: code blocks would be clipped", STYLESHEET, WRAP_RULE)
    wrapped = 0
    for page in sorted(root.rglob("*.html")):
        if "_modules" in page.parts or "_static" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(root).as_posix()
        if "<pre" in text and STYLESHEET.split("/")[-1] not in text:
            log.warning("snippet_width: %s has code blocks but does not link %s", name, STYLESHEET)
        for length, line in long_lines(text):
            if name in STRICT_PAGES:
                log.warning("%s: a code line of %d characters (at most %d fit a 1280-pixel window): %s",
                            name, length, MAX_SNIPPET_CHARS, line.strip()[:80])
            wrapped += 1
    log.info("snippet_width: %d code lines longer than %d characters wrap", wrapped, MAX_SNIPPET_CHARS)
    screenshot(root)


def screenshot(root: Path) -> None:
    """Shoot the pages with code at 1280 pixels with a headless Chromium, if there is one."""
    browser = next((path for name in _BROWSERS if (path := shutil.which(name))), None)
    if browser is None:
        log.info("snippet_width: no headless Chromium found; screenshots skipped (the width check ran)")
        return
    shots = root / "_screenshots"
    shots.mkdir(exist_ok=True)
    for page in SCREENSHOT_PAGES:
        target = shots / (page.replace("/", "_").removesuffix(".html") + ".png")
        done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                               f"--window-size={WINDOW}", f"--screenshot={target}", (root / page).as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0 or not target.exists():
            log.warning("snippet_width: Chromium could not shoot %s: %s", page, done.stderr.strip()[-300:])


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", check_widths)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
