"""``log_artifact`` takes typed values (issue: one reader of user values): text that a template would
render is read by the Airflow layer or the command line, never parsed again by the client. Each bad
value is refused before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient
from wandb_provider.client.errors import InvalidArtifactPathError, InvalidValueError

pytestmark = pytest.mark.wandb_server(seed="demo")


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"metadata": '{"rows": 2}'}, InvalidValueError, "metadata must be a dict, not str"),
    ({"multipart_threshold": "5242880"}, InvalidValueError, "multipart_threshold must be a whole number"),
    ({"max_workers": "4"}, InvalidValueError, "max_workers must be a whole number"),
    ({"digest_algorithm": "sha256"}, InvalidValueError, "digest_algorithm must be 'MD5' or 'XXH128'"),
    ({"aliases": "qa,eu"}, InvalidArtifactPathError, "holds a comma"),
    ({"aliases": ["v3"]}, InvalidArtifactPathError, "looks like a version"),
], ids=["metadata-text", "threshold-text", "workers-text", "digest", "comma-alias", "version-alias"])
def test_text_and_bad_values_are_refused_before_any_request(wandb_env: Any, tmp_path: Path, options: dict[str, Any],
                                                             error: type[Exception], match: str) -> None:
    (tmp_path / "a.txt").write_text("a")
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, max_retries=1)
    wandb_env.reset_stats()
    with pytest.raises(error, match=match):
        client.log_artifact("acme/churn/typed", "dataset", tmp_path / "a.txt", **options)
    assert wandb_env.stats()["graphql"]["total"] == 0


def test_the_same_values_typed_log_a_version(wandb_env: Any, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    client = WandbClient(wandb_env.base_url, wandb_env.api_key, max_retries=1)
    version = client.log_artifact("acme/churn/typed", "dataset", tmp_path / "a.txt", metadata={"rows": 2},
                                  multipart_threshold=5242880, max_workers=4, digest_algorithm="md5",
                                  aliases=["qa", "eu"])
    assert version.metadata == {"rows": 2}
    assert {"qa", "eu", "latest"} <= set(version.aliases)
