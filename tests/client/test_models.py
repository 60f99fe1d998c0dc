"""The public models read W&B's timestamps into aware standard-library datetimes (no date library)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from wandb_provider.client import ArtifactVersion, MalformedResponseError

_NODE = {"__typename": "ArtifactSequence", "id": "c1", "name": "c", "project": {"name": "p", "entity": {"name": "e"}}}


def _artifact(created_at: str | None) -> dict[str, object]:
    return {
        "id": "QXJ0aWZhY3Q6MQ==", "versionIndex": 1, "digest": "a" * 32, "state": "COMMITTED", "size": 1,
        "fileCount": 1, "description": None, "metadata": "{}", "createdAt": created_at, "updatedAt": None,
        "artifactType": {"name": "model"}, "tags": [], "artifactSequence": _NODE,
    }


UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-05-01T12:00:00", dt.datetime(2024, 5, 1, 12, tzinfo=UTC), id="no-zone-is-utc"),
        pytest.param("2024-05-01T12:00:00.123Z", dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC), id="z"),
        pytest.param("2024-05-01T12:00:00.123456789Z", dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
                     id="nanoseconds-truncated"),
        pytest.param("2024-05-01T14:00:00+0200", dt.datetime(2024, 5, 1, 12, tzinfo=UTC), id="offset"),
        pytest.param(None, None, id="none"),
    ],
)
def test_timestamps_are_aware_datetimes(text: str | None, expected: dt.datetime | None) -> None:
    version = ArtifactVersion.from_graphql(_artifact(text), base_url="http://x")
    assert version.created_at == expected
    if expected is not None:
        assert type(version.created_at) is dt.datetime and version.created_at.tzinfo is not None
        assert version.to_dict()["created_at"] == version.created_at.isoformat()


def test_a_timestamp_that_is_not_iso_8601_is_a_malformed_answer() -> None:
    with pytest.raises(MalformedResponseError):
        ArtifactVersion.from_graphql(_artifact("yesterday"), base_url="http://x")


def test_reading_a_version_loads_no_date_library() -> None:
    code = ("import sys; from wandb_provider.client.models import ArtifactVersion; "
            f"ArtifactVersion.from_graphql({_artifact('2024-05-01T12:00:00Z')!r}, base_url='http://x'); "
            "print(sorted(m for m in ('pendulum', 'dateutil') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
