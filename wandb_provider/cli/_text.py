"""Text from W&B made safe to print on a terminal."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with control and invisible format characters (terminal escapes, bidi overrides) shown
    as ``\\x1b``-style escapes: names and messages from W&B must not drive the user's terminal."""
    import unicodedata

    return "".join(c if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf") else repr(c)[1:-1]
                   for c in text)
