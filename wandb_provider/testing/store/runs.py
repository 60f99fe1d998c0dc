"""Runs ("buckets" in W&B's GraphQL): what ``wandb.init`` creates, and artifact lineage."""

from __future__ import annotations

import secrets
import string
from typing import Any

from .. import ids
from ..errors import NotFound
from ._db import Database
from ._util import now
from .accounts import Accounts
from .records import Run, User, Version
from .versions import Versions

_RUN_ID_ALPHABET = string.ascii_lowercase + string.digits


class Runs:
    """The store's part for runs and the versions they used and logged."""

    def __init__(self, db: Database, accounts: Accounts, versions: Versions) -> None:
        self.db = db
        self.accounts = accounts
        self.versions = versions

    def run(self, run_id: int) -> Run:
        return self.db.get(Run, "SELECT * FROM runs WHERE id = ?", (run_id,))

    def run_by_name(self, project_id: int, name: str) -> Run | None:
        return self.db.find(Run, "SELECT * FROM runs WHERE project_id = ? AND name = ?", (project_id, name))

    def upsert_run(self, user: User, spec: dict[str, Any]) -> tuple[Run, bool]:
        """``upsertBucket``: create the run (and its project) or update it; returns (run, inserted)."""
        project = self.accounts.ensure_project(user, spec.get("entityName"), spec.get("modelName") or "uncategorized")
        name = spec.get("name") or spec.get("id")
        existing = self.run_by_name(project.id, name) if name else None
        if existing is None:
            name = name or "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(8))
            run_id = self.db.execute(
                "INSERT INTO runs (project_id, name, display_name, state, config, summary, user_id, created_at, "
                "group_name, job_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (project.id, name, spec.get("displayName") or name, spec.get("state") or "running",
                 spec.get("config"), spec.get("summaryMetrics"), user.id, now(), spec.get("groupName"),
                 spec.get("jobType")),
            )
            return self.run(run_id), True
        for column, key in (("display_name", "displayName"), ("state", "state"), ("config", "config"),
                            ("summary", "summaryMetrics"), ("group_name", "groupName"), ("job_type", "jobType")):
            if spec.get(key) is not None:
                self.db.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (spec[key], existing.id))
        return self.run(existing.id), False

    def use_artifact(self, user: User, entity: str, project_name: str, run_name: str,
                     artifact_id: int, used_as: str | None) -> Version:
        """``useArtifact``: record that a run consumed a version (W&B's lineage)."""
        project = self.accounts.get_project(user, entity, project_name)
        self.accounts.require_write(user, project, "record artifact use")
        run = self.run_by_name(project.id, run_name)
        if run is None:
            raise NotFound(f"run {run_name!r} not found in {entity}/{project_name}")
        version = self.versions.visible_version(user, artifact_id)
        if version is None:
            raise NotFound(f"artifact {ids.encode('Artifact', artifact_id)} not found")
        self.db.execute(
            "INSERT OR IGNORE INTO run_inputs (run_id, artifact_id, used_as) VALUES (?, ?, ?)",
            (run.id, artifact_id, used_as),
        )
        return version

    def runs_using(self, artifact_id: int) -> list[Run]:
        return self.db.find_all(
            Run,
            "SELECT r.* FROM runs r JOIN run_inputs i ON i.run_id = r.id WHERE i.artifact_id = ? ORDER BY r.id",
            (artifact_id,),
        )

    def run_inputs(self, run_id: int) -> list[Version]:
        return self.db.find_all(
            Version,
            "SELECT a.* FROM artifacts a JOIN run_inputs i ON i.artifact_id = a.id "
            "WHERE i.run_id = ? AND a.state != 'DELETED' ORDER BY a.id",
            (run_id,),
        )

    def run_outputs(self, run_id: int) -> list[Version]:
        """Versions the run logged, and existing versions it declared as outputs."""
        return self.db.find_all(
            Version,
            "SELECT * FROM artifacts WHERE (run_id = ? OR id IN "
            "(SELECT artifact_id FROM run_outputs WHERE run_id = ?)) AND state != 'DELETED' ORDER BY id",
            (run_id, run_id),
        )
