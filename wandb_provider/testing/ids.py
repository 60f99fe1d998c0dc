"""Opaque global ids in W&B's shape: standard base64 of ``"<Type>:<n>"``.

The SDK base64-decodes artifact ids to build ``wandb-artifact://`` references, so every id must be
valid, padded, standard base64.
"""

from __future__ import annotations

import base64
import binascii


def encode(kind: str, number: int) -> str:
    """Return the global id of row ``number`` of type ``kind``."""
    return base64.b64encode(f"{kind}:{number}".encode()).decode("ascii")


def decode(global_id: str, *kinds: str) -> int | None:
    """Return the row number of ``global_id`` if it is one of ``kinds``, else ``None``."""
    try:
        text = base64.b64decode(global_id.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    kind, _, number = text.partition(":")
    if kind not in kinds or not number.isdigit():
        return None
    return int(number)
