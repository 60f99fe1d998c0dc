"""The emulator's state and W&B's rules, persisted in SQLite plus a blob folder. Never sees HTTP.

``Store`` owns the database, the blob folder and the multipart uploads under way, and composes
one part per concern; each part is handed the shared database and the parts it builds on, so the
dependencies run one way: accounts, collections, aliases, memberships, versions, uploads, runs.
"""

from __future__ import annotations

from pathlib import Path

from ..blobs import BlobStore
from ..multipart import MultipartUploads
from ._db import Database
from .accounts import Accounts
from .aliases import Aliases
from .collections import Collections
from .memberships import Memberships
from .runs import Runs
from .seeding import Seeder, SeedFile
from .uploads import Uploads
from .versions import Versions

__all__ = ["SeedFile", "Store"]


class Store:
    """All state of one emulated W&B deployment, reached through its parts."""

    def __init__(self, db_path: str, blob_root: Path) -> None:
        self.db = Database(db_path)
        self.blobs = BlobStore(blob_root)
        self.multipart = MultipartUploads(self.blobs)
        self.accounts = Accounts(self.db)
        self.collections = Collections(self.db, self.accounts)
        self.aliases = Aliases(self.db, self.accounts)
        self.memberships = Memberships(self.db, self.accounts, self.collections, self.aliases)
        self.versions = Versions(self.db, self.accounts, self.collections, self.aliases, self.memberships)
        self.uploads = Uploads(self.db, self.blobs, self.multipart, self.accounts, self.collections,
                               self.aliases, self.memberships, self.versions)
        self.runs = Runs(self.db, self.accounts, self.versions)
        self.seeder = Seeder(self.db, self.blobs, self.uploads)

    def close(self) -> None:
        self.db.close()
