"""Earlier versions of entries: a replaced or deleted entry is kept in `journal/.versions/` for a while.

Each kept copy is `day-NN.<UTC time>.replaced.md` or `day-NN.<UTC time>.deleted.md`, written atomically;
only the newest `KEEP_PER_DAY` copies of each day are kept. The journal loader never reads this folder.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from core.atomic import write_bytes

VERSIONS_DIR = ".versions"
KEEP_PER_DAY = 10
REPLACED, DELETED = "replaced", "deleted"
_STAMP = "%Y%m%dT%H%M%S.%fZ"
_NAME = re.compile(r"day-(\d{2,3})\.(\d{8}T\d{6}\.\d{6}Z)\.(replaced|deleted)\.md")


@dataclass(frozen=True)
class Version:
    """A kept copy of day `day`'s entry as it was before being replaced or deleted."""

    day: int
    saved_at: dt.datetime  # UTC
    kind: str  # REPLACED or DELETED
    path: Path

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="replace")


def versions_dir(directory: Path) -> Path:
    return directory / VERSIONS_DIR


def list_versions(directory: Path, *, day: int | None = None, kind: str | None = None) -> list[Version]:
    """Kept copies in `directory`'s versions folder, newest first; files with other names are ignored."""
    folder = versions_dir(directory)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.fullmatch(path.name)
        if not match or not path.is_file() or path.is_symlink():
            continue
        saved_at = dt.datetime.strptime(match.group(2), _STAMP).replace(tzinfo=dt.UTC)
        version = Version(day=int(match.group(1)), saved_at=saved_at, kind=match.group(3), path=path)
        if (day is None or version.day == day) and (kind is None or version.kind == kind):
            found.append(version)
    return sorted(found, key=lambda v: v.saved_at, reverse=True)


def keep_version(directory: Path, day: int, data: bytes, kind: str) -> Version:
    """Keep `data` (an entry file's bytes, as they are) as a copy of day `day`, then prune that day's copies."""
    folder = versions_dir(directory)
    folder.mkdir(exist_ok=True)
    saved_at = dt.datetime.now(dt.UTC)
    for _ in range(100):  # two copies within the same microsecond: take the next one
        path = folder / f"day-{day:02d}.{saved_at.strftime(_STAMP)}.{kind}.md"
        try:
            write_bytes(path, data, overwrite=False)
            break
        except FileExistsError:
            saved_at += dt.timedelta(microseconds=1)
    else:
        raise FileExistsError(path)
    for old in list_versions(directory, day=day)[KEEP_PER_DAY:]:
        old.path.unlink(missing_ok=True)
    return Version(day=day, saved_at=saved_at, kind=kind, path=path)
