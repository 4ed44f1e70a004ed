"""Student ids that are safe as folder names, and unique within a class."""

from __future__ import annotations

import re
import unicodedata


def safe_id(text: str) -> str:
    """``"Kim Min-jun"`` → ``"Kim_Min-jun"``: letters (any script), digits, ``_ . -``; never empty."""
    text = unicodedata.normalize("NFC", text).strip()
    text = re.sub(r"[^\w.-]+", "_", text).strip("._")
    return text[:80] or "student"


def unique(ids: list[str]) -> list[str]:
    """Appends ``-2``, ``-3`` … to repeated ids, keeping the first as is."""
    seen: dict[str, int] = {}
    out = []
    for name in ids:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}-{count}")
    return out
