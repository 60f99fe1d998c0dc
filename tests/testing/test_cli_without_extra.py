"""``wandb-provider-server`` is installed with the provider, but its server needs the ``testing`` extra:
without graphql-core, ``--help`` still works and starting the server says which extra to install."""

from __future__ import annotations

import subprocess
import sys

# graphql-core stands for the whole extra: an entry of None in sys.modules makes its import fail.
WITHOUT_EXTRA = "import sys; sys.modules['graphql'] = None; from wandb_provider.testing.cli import main; "


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRA + f"sys.exit(main({argv!r}))"],
                          capture_output=True, text=True, timeout=120)


def test_help_needs_no_extra() -> None:
    done = _run(["--help"])
    assert done.returncode == 0, done.stderr
    assert "--seed" in done.stdout


def test_starting_without_the_extra_names_it() -> None:
    for argv in (["--port", "0"], ["--port", "0", "--faults", '{"rules": []}']):
        done = _run(argv)
        assert done.returncode == 2, done.stderr
        assert "pip install 'airflow-provider-wandb[testing]'" in done.stderr
        assert "Traceback" not in done.stderr and not done.stdout
