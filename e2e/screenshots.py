"""Screenshots of the Airflow UI with the system's headless Chromium (Playwright drives it; it never
downloads a browser): the ``wandb`` connection form with its W&B fields, and a task instance with its
W&B link. The UI is a React app: each shot waits for the text it must show before it is taken, and a
shot that does not show it fails the check (the page is saved as ``<name>-failed.png`` / ``.txt``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .api import CheckFailed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Labels of the W&B connection form (provider info's conn-fields), as the new-connection form shows them.
FORM_TEXTS = ("Entity", "Project", "Timeout (s)", "Max retries", "Cache directory", "Allowed private reference hosts")
LINK_NAME = "W&B Artifact"


def _connection_form(page: Any, base_url: str, path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/connections", wait_until="domcontentloaded")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox").first.click()
    page.keyboard.type("Weights")
    page.get_by_role("option", name="Weights & Biases").first.click()
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    for text in FORM_TEXTS:
        expect(dialog.get_by_text(text, exact=True).first).to_be_visible()
    page.screenshot(path=str(path))


def _task_instance(page: Any, base_url: str, path: Path, dag_id: str, run_id: str, task_id: str, link: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}", wait_until="domcontentloaded")
    page.get_by_text("Details", exact=True).first.click()  # the tab that lists the task's extra links
    button = page.get_by_role("link", name=LINK_NAME).first
    expect(button).to_be_visible()
    href = button.get_attribute("href")
    if href != link:
        raise CheckFailed(f"the task page's {LINK_NAME} link is {href!r}, expected {link!r}")
    expect(page.get_by_text(task_id).first).to_be_visible()
    page.screenshot(path=str(path))


def take_screenshots(base_url: str, token: str, out: Path, dag_id: str, run_id: str, task_id: str,
                     link: str) -> dict[str, Path]:
    """Save ``connection-form.png`` and ``task-instance-link.png`` into ``out``; return their paths."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=90_000)  # a busy machine answers the UI's API calls slowly

    shots = {"connection_form": out / "connection-form.png", "task_instance_link": out / "task-instance-link.png"}
    profile = tempfile.mkdtemp(prefix="e2e-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 1900}, timeout=120_000)
            context.set_default_timeout(90_000)
            context.add_cookies([{"name": "_token", "value": token, "url": base_url}])
            page = context.new_page()

            def connection_form() -> None:
                _connection_form(page, base_url, shots["connection_form"])

            def task_instance_link() -> None:
                _task_instance(page, base_url, shots["task_instance_link"], dag_id, run_id, task_id, link)

            steps: list[tuple[str, Callable[[], None]]] = [
                ("connection_form", connection_form), ("task_instance_link", task_instance_link)]
            for name, step in steps:
                try:
                    step()
                except (AssertionError, PlaywrightError) as exc:
                    failed = out / f"{shots[name].stem}-failed"
                    page.screenshot(path=f"{failed}.png")
                    Path(f"{failed}.txt").write_text(f"{page.url}\n\n{page.inner_text('body')}\n")
                    reason = str(exc).splitlines()[0]
                    raise CheckFailed(f"screenshot {name}: {reason} (page saved as {failed}.png)") from None
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return shots
