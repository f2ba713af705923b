"""Short user text shown literally in markdown."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: str) -> str:
    """`text` escaped so markdown shows it literally (titles, topics and other short user text)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
