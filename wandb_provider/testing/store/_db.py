"""SQLite persistence for the emulator: the tables, one transaction per request, rows as records.

Every GraphQL request runs inside ``Database.transaction()``; a request whose execution reports
any error is rolled back, so a failed mutation changes nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, TypeVar

R = TypeVar("R")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, api_key TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organizations (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, entity_id INTEGER);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    user_id INTEGER, org_id INTEGER);
CREATE TABLE IF NOT EXISTS entity_members (
    entity_id INTEGER NOT NULL, user_id INTEGER NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (entity_id, user_id));
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY, entity_id INTEGER NOT NULL, name TEXT NOT NULL,
    created_at TEXT NOT NULL, read_only INTEGER NOT NULL DEFAULT 0, UNIQUE (entity_id, name));
CREATE TABLE IF NOT EXISTS protected_aliases (
    project_id INTEGER NOT NULL, alias TEXT NOT NULL, PRIMARY KEY (project_id, alias));
CREATE TABLE IF NOT EXISTS artifact_types (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT, created_at TEXT NOT NULL, UNIQUE (project_id, name));
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, type_id INTEGER NOT NULL,
    name TEXT NOT NULL, kind TEXT NOT NULL, description TEXT, state TEXT NOT NULL DEFAULT 'READY',
    digest_algorithm TEXT, next_index INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS collections_by_name ON collections (project_id, name);
CREATE TABLE IF NOT EXISTS collection_tags (
    collection_id INTEGER NOT NULL, name TEXT NOT NULL, id INTEGER PRIMARY KEY,
    UNIQUE (collection_id, name));
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY, sequence_id INTEGER NOT NULL, version_index INTEGER NOT NULL,
    digest TEXT NOT NULL, digest_algorithm TEXT NOT NULL, state TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0, file_count INTEGER NOT NULL DEFAULT 0,
    description TEXT, metadata TEXT, ttl_seconds INTEGER NOT NULL DEFAULT -1,
    history_step INTEGER, commit_hash TEXT, storage_region TEXT,
    manifest_md5 TEXT, manifest_expected TEXT, manifest_type TEXT NOT NULL DEFAULT 'FULL',
    pending_aliases TEXT NOT NULL DEFAULT '[]', client_id TEXT, sequence_client_id TEXT,
    run_id INTEGER, user_id INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS artifacts_by_sequence ON artifacts (sequence_id, version_index);
CREATE INDEX IF NOT EXISTS artifacts_by_client_id ON artifacts (client_id);
CREATE TABLE IF NOT EXISTS artifact_tags (
    artifact_id INTEGER NOT NULL, name TEXT NOT NULL, id INTEGER PRIMARY KEY,
    UNIQUE (artifact_id, name));
CREATE TABLE IF NOT EXISTS memberships (
    id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL,
    version_index INTEGER NOT NULL, created_at TEXT NOT NULL, UNIQUE (collection_id, artifact_id));
CREATE TABLE IF NOT EXISTS aliases (
    id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL, alias TEXT NOT NULL,
    artifact_id INTEGER NOT NULL, UNIQUE (collection_id, alias));
CREATE INDEX IF NOT EXISTS aliases_by_artifact ON aliases (artifact_id);
CREATE TABLE IF NOT EXISTS artifact_files (
    id INTEGER PRIMARY KEY, artifact_id INTEGER NOT NULL, name TEXT NOT NULL,
    md5 TEXT, digest TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, ref TEXT,
    birth_artifact_id INTEGER, UNIQUE (artifact_id, name));
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
    display_name TEXT, state TEXT, config TEXT, summary TEXT, user_id INTEGER,
    created_at TEXT NOT NULL, group_name TEXT, job_type TEXT, UNIQUE (project_id, name));
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL, used_as TEXT,
    PRIMARY KEY (run_id, artifact_id));
CREATE TABLE IF NOT EXISTS run_outputs (
    run_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL, PRIMARY KEY (run_id, artifact_id));
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def from_row(cls: type[R], row: sqlite3.Row) -> R:
    """Build record ``cls`` (a dataclass of ``records.py``) from the columns of ``row`` that it declares."""
    keys = set(row.keys())
    return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in keys})  # type: ignore[arg-type]


class Database:
    """A single SQLite connection shared by the server's threads, guarded by one lock."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
            self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a ``--data-dir`` was created (its tables exist already)."""
        present = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
        for column in ("group_name", "job_type"):
            if column not in present:
                self._conn.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block atomically; nested blocks join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def rollback_current(self) -> None:
        """Undo everything the current (outermost) transaction wrote, and start it again."""
        with self._lock:
            self._conn.execute("ROLLBACK")
            self._conn.execute("BEGIN IMMEDIATE")

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def find(self, cls: type[R], sql: str, params: Sequence[Any] = ()) -> R | None:
        """The first row as record ``cls``, or None."""
        row = self.one(sql, params)
        return None if row is None else from_row(cls, row)

    def get(self, cls: type[R], sql: str, params: Sequence[Any] = ()) -> R:
        """The first row as record ``cls``; it must exist (its id came from the store)."""
        record = self.find(cls, sql, params)
        assert record is not None
        return record

    def find_all(self, cls: type[R], sql: str, params: Sequence[Any] = ()) -> list[R]:
        """Every row as record ``cls``."""
        return [from_row(cls, row) for row in self.all(sql, params)]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a write and return the new row id (for INSERTs)."""
        with self._lock:
            cursor = self._conn.execute(sql, params)
            return int(cursor.lastrowid or 0)

    def copy_into(self, other: Database) -> None:
        """Make ``other`` an exact copy of this database (SQLite's online backup, all pages)."""
        with self._lock, other._lock:
            self._conn.backup(other._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
